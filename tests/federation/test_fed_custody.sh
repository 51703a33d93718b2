#!/usr/bin/env bash
# test_fed_custody - custody hop by hop across a federation link that is cut
# and restored (issue 13, DESIGN.md §7.1): sn/agency sends N (default 500)
# test envelopes to gn/agency while gn's broker is cut 10 times at random
# moments (SIGKILL and a restart on the same store, or SIGSTOP ... SIGCONT);
# then every envelope accepted by sn's broker is in gn/agency's inbox exactly
# once and receipted at the sender, nothing is left queued on either side,
# and local traffic (sn/agency -> sn/clinic) went through during a cut.
# PL_FAULTS_LONG=1: 2000 envelopes and 20 cuts.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker passerelle-node pl-testmsg python3 \
    setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fed_custody: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-fcust.XXXXXX")
TEST_NAME=test_fed_custody
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fed_net.sh"
cleanup() {
    fed_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
N=500
CUTS=10
if [ -n "${PL_FAULTS_LONG:-}" ]; then
    N=2000
    CUTS=20
fi
SEED=${PL_TEST_SEED:-$(date +%s)}
echo "test_fed_custody: seed $SEED (PL_TEST_SEED to replay)"
RANDOM=$SEED

fed_setup
fed_start_broker 2
fed_start_broker 1
for n in agency clinic gagency; do fed_start_node "$n"; done
FAIL_LOG=$T/B1.log
fed_until 100 grep -q "link_up network=gn" "$T/B1.log" || fail "no link"
ok
has_gn() {
    passerelle --home "$T/agency" directory --json 2>/dev/null \
        | grep -q '"gn/agency"'
}
fed_until 100 has_gn || fail "sn/agency never saw gn/agency"
ok

# the sender commits N envelopes to its outbox in batches, while gn's
# broker is cut and restored CUTS times at random moments
(
    for _ in $(seq 1 10); do
        pl-testmsg --home "$T/agency" send --to gn/agency --payload x \
            --count $((N / 10)) >/dev/null
        sleep 0.$((RANDOM % 8 + 1))
    done
) &
SENDER=$!
local_ok=0
for c in $(seq 1 "$CUTS"); do
    sleep 0.$((RANDOM % 9 + 1))
    if [ $((RANDOM % 2)) -eq 0 ] && [ "$c" -ne 3 ] && [ "$c" -ne 5 ]; then
        kill -KILL "${FED_PID[B2]}"
        wait "${FED_PID[B2]}" 2>/dev/null || true
        unset "FED_PID[B2]"
        sleep 0.$((RANDOM % 9 + 1))
        fed_start_broker 2
        echo "cut $c: SIGKILL + restart" >>"$T/cuts"
    else
        kill -STOP "${FED_PID[B2]}"
        if [ "$c" -eq 3 ]; then
            # local traffic during a cut: sn/agency -> sn/clinic
            pl-testmsg --home "$T/agency" send --to sn/clinic --payload l \
                --count 5 >/dev/null
            got_local() {
                [ "$(pl-testmsg --home "$T/clinic" list --json \
                    | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -ge 5 ]
            }
            fed_until 100 got_local && local_ok=1
        fi
        if [ "$c" -eq 5 ]; then
            # one cut long enough for the link to be declared down
            fed_until 100 grep -q "link_down network=gn" "$T/B1.log" \
                || fail "a 10 s silence did not take the link down"
            ok
        fi
        sleep 1.$((RANDOM % 9))
        kill -CONT "${FED_PID[B2]}"
        echo "cut $c: SIGSTOP 1-2 s" >>"$T/cuts"
    fi
done
wait "$SENDER" || fail "pl-testmsg send failed"
[ "$local_ok" = 1 ] || fail "local traffic did not get through during a cut"
ok

# everything arrives and is receipted (bounded: 120 s)
all_done() {
    pl-testmsg --home "$T/agency" outbox --kind test --json >"$T/outbox.json"
    python3 - "$T/outbox.json" "$N" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["to"] == "gn/agency"]
sys.exit(0 if len(rows) == int(sys.argv[2])
         and all(r["state"] == "receipted" for r in rows) else 1)
PY
}
done_wait() { # every 0.5 s, 180 s at most
    local i
    for i in $(seq 1 360); do
        all_done && return 0
        sleep 0.5
    done
    return 1
}
done_wait || {
    python3 -c 'import json,sys,collections; print(collections.Counter(r["state"] for r in json.load(open(sys.argv[1]))))' "$T/outbox.json" >&2
    fail "not every envelope was receipted at the sender"
}
ok
pl-testmsg --home "$T/gagency" list --json >"$T/inbox.json"
python3 - "$T/inbox.json" "$T/outbox.json" "$N" <<'PY' || fail "inbox check"
import json, sys, collections
inbox = json.load(open(sys.argv[1]))
out = [r for r in json.load(open(sys.argv[2])) if r["to"] == "gn/agency"]
ids = collections.Counter(r["id"] for r in inbox if r["from"] == "sn/agency")
sent = {r["id"] for r in out}
assert len(sent) == int(sys.argv[3]), len(sent)
assert set(ids) == sent, (len(set(ids)), len(sent))
assert all(v == 1 for v in ids.values()), "an envelope stored twice"
PY
ok
# gn's broker drops what gn/agency refuses: a refusal of a sender it could
# not verify yet (no directory of sn after a restart) is a lost envelope
if grep -q "envelope_refused.*from=sn/agency" "$T/gagency.log"; then
    fail "gn/agency refused an envelope of sn/agency"
fi
ok
fed_until 100 bash -c "passerelle broker federation --home '$T/B1' --json \
    | grep -q '\"queued\": 0'" || fail "sn's federation queue not drained"
ok
grep -c "link_up network=gn" "$T/B1.log" >"$T/ups"
echo "test_fed_custody: ok ($CHECKS checks, $N envelopes, $CUTS cuts," \
    "link up $(cat "$T/ups") times)"
