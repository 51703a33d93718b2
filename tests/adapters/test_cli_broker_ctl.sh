#!/usr/bin/env bash
# test_cli_broker_ctl - `passerelle broker ...` through the CLI's one
# control-socket client (cli_control_request, issue 12 item 5), against a
# real passerelle-broker on 127.0.0.1: an answer is printed; a frozen
# broker is given up after the 10 s limit with its message (and no
# --request-id advice: the broker's control socket keeps no replay
# record); a broker that dies while the CLI waits is noticed from its
# daemon.lock, as for a node, instead of waiting out the 10 s.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_cli_broker_ctl: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-bctl.XXXXXX")
TEST_NAME=test_cli_broker_ctl
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_net.sh"
BG=
cleanup() {
    [ -n "$BG" ] && kill "$BG" 2>/dev/null
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

net_setup
net_start_broker
FAIL_LOG=$T/broker.log
# the broker answers once its control socket is up (bounded: 20 s)
broker_up() { passerelle broker status --home "$T/B" --json >/dev/null 2>&1; }
net_until 200 broker_up || fail "the broker's control socket did not answer"
ok

# ---- an answer: the broker's result, human and JSON
expect 0 broker status --home "$T/B"
out_has "uptime"
expect 0 broker nodes --home "$T/B" --json
json_is "sorted(n['address'] for n in d)" '["sn/agency", "sn/broker", "sn/clinic"]'

# ---- a frozen broker: given up after 10 s, no request-id advice
kill -STOP "${NET_PID[broker]}"
t0=$(date +%s)
expect 1 broker status --home "$T/B"
el=$(($(date +%s) - t0))
if [ "$el" -lt 9 ] || [ "$el" -gt 40 ]; then
    fail "the CLI gave up after $el s, wanted about 10"
fi
ok
err_has "the broker did not answer within 10 s"
grep -q -- "--request-id" "$T/err" && fail "a broker timeout advised --request-id"
ok

# ---- a broker that dies while the CLI waits: noticed from daemon.lock
passerelle broker status --home "$T/B" >"$T/out" 2>"$T/err" &
BG=$!
sleep 2
kill -KILL "${NET_PID[broker]}"
wait "${NET_PID[broker]}" 2>/dev/null || true
unset "NET_PID[broker]"
RC=0
wait "$BG" || RC=$?
BG=
[ "$RC" -eq 1 ] || fail "broker status exited $RC when the broker died, wanted 1"
ok
err_has "the broker stopped before answering"

# ---- and afterwards: not running
expect 1 broker status --home "$T/B"
err_has "the broker is not running"
echo "test_cli_broker_ctl: $CHECKS checks passed"
