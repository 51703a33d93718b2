#!/usr/bin/env bash
# test_fed_dir_restart - envelopes from a foreign sender reach their
# recipient when its broker restarted and has no foreign directory yet
# (issue 13, DESIGN.md §7.1; the failure of test_fed_custody under load):
# gn's broker holds 5 envelopes from sn/agency for gn/agency, is restarted
# while sn's broker is stopped (so its link, and the foreign directory with
# it, cannot come back), and gn/agency then receives them from a sender it
# cannot verify yet. It must park them, not refuse them for good (the
# broker drops what a recipient refuses): once the link is back every one
# is in gn/agency's inbox and receipted at sn/agency.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker passerelle-node pl-testmsg python3 \
    setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fed_dir_restart: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-fdirr.XXXXXX")
TEST_NAME=test_fed_dir_restart
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fed_net.sh"
cleanup() {
    fed_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
N=5

fed_setup
fed_start_broker 2
fed_start_broker 1
for n in agency gagency; do fed_start_node "$n"; done
FAIL_LOG=$T/gagency.log
knows() { # knows HOME ADDRESS
    passerelle --home "$T/$1" directory --json 2>/dev/null | grep -q "\"$2\""
}
fed_until 300 knows agency gn/agency || fail "sn/agency never saw gn/agency"
fed_until 300 knows gagency sn/agency || fail "gn/agency never saw sn/agency"
ok

# the envelopes wait in gn's broker while their recipient is stopped
fed_stop_pid gagency
pl-testmsg --home "$T/agency" send --to gn/agency --payload x --count $N \
    >/dev/null
drained() {
    passerelle broker federation --home "$T/B1" --json | grep -q '"queued": 0'
}
fed_until 600 drained || fail "sn's broker did not hand the envelopes over"
ok

# sn's broker stopped, gn's restarted: no link, no foreign directory
restart_b2() {
    kill -KILL "${FED_PID[B2]}"
    wait "${FED_PID[B2]}" 2>/dev/null || true
    unset "FED_PID[B2]"
    fed_start_broker 2
}
kill -STOP "${FED_PID[B1]}"
restart_b2
fed_start_node gagency
fed_until 600 grep -q "envelope_deferred.*from=sn/" \
    "$T/gagency.log" || fail "the envelopes did not reach gn/agency"
ok
# a second restart: gn/agency gets the directory again, still without
# sn's nodes, while the envelopes are parked (told "unchanged": it holds
# the same one; either way the parked envelopes are tried again)
sleep 1
restart_b2
DIRS="directory_updated|directory_unchanged"
n0=$(grep -cE "$DIRS" "$T/gagency.log")
more_dirs() { [ "$(grep -cE "$DIRS" "$T/gagency.log")" -gt "$n0" ]; }
fed_until 600 more_dirs || fail "gn/agency got no second directory"
sleep 2
ok
kill -CONT "${FED_PID[B1]}"

# everything arrives and is receipted: bounded by the broker's redelivery
# (30 s) and the node's park (60 s), 240 s at most
all_done() {
    pl-testmsg --home "$T/agency" outbox --kind test --json >"$T/outbox.json"
    python3 - "$T/outbox.json" "$N" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["to"] == "gn/agency"]
sys.exit(0 if len(rows) == int(sys.argv[2])
         and all(r["state"] == "receipted" for r in rows) else 1)
PY
}
done_wait() { # every second, 240 s at most
    local i
    for i in $(seq 1 240); do
        all_done && return 0
        sleep 1
    done
    return 1
}
done_wait || {
    python3 -c 'import json,sys,collections; print(collections.Counter(r["state"] for r in json.load(open(sys.argv[1]))))' "$T/outbox.json" >&2
    fail "not every envelope was receipted at the sender"
}
ok
pl-testmsg --home "$T/gagency" list --json >"$T/inbox.json"
python3 - "$T/inbox.json" "$N" <<'PY' || fail "inbox check"
import json, sys, collections
ids = collections.Counter(r["id"] for r in json.load(open(sys.argv[1]))
                          if r["from"] == "sn/agency")
assert len(ids) == int(sys.argv[2]), len(ids)
assert all(v == 1 for v in ids.values()), "an envelope stored twice"
PY
ok
if grep -q "envelope_refused.*from=sn/agency" "$T/gagency.log"; then
    fail "gn/agency refused an envelope of a sender it could not verify yet"
fi
ok
echo "test_fed_dir_restart: ok ($CHECKS checks)"
