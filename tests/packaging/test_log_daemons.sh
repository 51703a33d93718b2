#!/usr/bin/env bash
# test_log_daemons - `--log-format json` on the real daemons: a broker
# configured by a file (log-format = json) and a node with --log-format
# json write nothing but JSON objects (ts, level, component, event) to
# stderr, one a line; SIGHUP makes each log what it reloaded (event
# "reloaded"), and the node's text form of that line has the same fields.
set -euo pipefail
TEST_NAME=test_log_daemons
if [ -n "${PL_BIN_DIR:-}" ]; then PATH="$PL_BIN_DIR:$PATH"; fi
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-logj.XXXXXX")
source "$SRC/tests/lib/cli_assert.sh"
source "$SRC/tests/adapters/cli_net.sh"
trap 'net_stop; rm -rf "$T"' EXIT
net_setup

# the broker from a config file, the node with the flag
printf 'home = %s\nlisten = %s\nlog-format = json\n' "$T/B" "$NET_EP" >"$T/b.conf"
setpriv --pdeathsig KILL passerelle-broker --config "$T/b.conf" 2>>"$T/broker.log" &
NET_PID[broker]=$!
setpriv --pdeathsig KILL passerelle-node --home "$T/agency" --broker "$NET_EP" \
    --heartbeat-ms 500 --log-format json 2>>"$T/agency.log" &
NET_PID[agency]=$!
net_until 200 test -S "$T/agency/control" || FAIL_LOG=$T/agency.log fail "node did not start"
# the broker takes signals once its control socket is there
net_until 200 test -S "$T/B/control" || FAIL_LOG=$T/broker.log fail "broker did not start"
kill -HUP "${NET_PID[broker]}" "${NET_PID[agency]}"
net_until 100 grep -q '"event":"reloaded"' "$T/broker.log" || FAIL_LOG=$T/broker.log fail "broker: no reloaded event on SIGHUP"
ok
net_until 100 grep -q '"event":"reloaded".*"what":"revoked"' "$T/agency.log" || FAIL_LOG=$T/agency.log fail "node: no reloaded event on SIGHUP"
ok
net_stop
for f in broker agency; do
    python3 - "$T/$f.log" <<'PY' || FAIL_LOG=$T/$f.log fail "$f: a log line is not a JSON object with ts/level/component/event"
import json, sys
n = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert isinstance(o, dict), line
    for k in ("ts", "level", "component", "event"):
        assert isinstance(o.get(k), str) and o[k], (k, line)
    n += 1
assert n >= 3, n
PY
    ok
done
grep '"event":"reloaded"' "$T/agency.log" | head -1 >"$T/reload.json"

# the same node in text form: the same events
: >"$T/agency.log"
net_start_broker
net_start_node agency
kill -HUP "${NET_PID[agency]}"
net_until 100 grep -q ' reloaded what=revoked' "$T/agency.log" || FAIL_LOG=$T/agency.log fail "text form: no reloaded line"
net_stop
# the reloaded line: the same fields in both forms
grep ' reloaded what=revoked' "$T/agency.log" | head -1 >"$T/reload.text"
python3 - "$T/reload.json" "$T/reload.text" <<'PY' || fail "the JSON and text forms of 'reloaded' differ"
import json, sys
j = json.loads(open(sys.argv[1]).read())
w = open(sys.argv[2]).read().split()
t = {"ts": w[0], "level": w[1], "component": w[2], "event": w[3]}
t.update(kv.split("=", 1) for kv in w[4:])
del j["ts"], t["ts"]
assert j == t, (j, t)
PY
ok
echo "test_log_daemons: ok ($CHECKS checks)"
