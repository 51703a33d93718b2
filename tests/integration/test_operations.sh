#!/usr/bin/env bash
# test_operations - running a broker (issue 5) with real processes on
# 127.0.0.1: presence as seen by the operator and by a node agree (clean
# stop and kill -9), queue figures rise and fall, revocation reaches the
# broker and the nodes, an older list never wins.
set -euo pipefail
command -v passerelle >/dev/null || { echo "passerelle not on PATH" >&2; exit 1; }
T=$(mktemp -d /tmp/pl-ops-XXXXXX)
PIDS=()
declare -A NODE_PID
cleanup() {
    for p in "${PIDS[@]}" "${NODE_PID[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}" "${NODE_PID[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    [ -n "${PL_TEST_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }
# waits (bounded) until a command succeeds; use eval '...' for a
# condition that must be re-evaluated each time
until_ok() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done; return 1; }
jq_py() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

A=$T/auth; B=$T/broker
passerelle authority init --home "$A" --network sn >/dev/null
passerelle authority enroll --home "$A" --node "$B" --name broker --sector broker --country SN >/dev/null 2>&1
mkdir -p "$B/certs"
declare -A SERIAL
for n in agency clinic school; do
    passerelle init --home "$T/$n" >/dev/null
    SERIAL[$n]=$(passerelle authority enroll --home "$A" --node "$T/$n" --name "$n" --sector health --country SN)
    cp "$T/$n/node.cert" "$B/certs/$n.cert"; cp "$B/node.cert" "$T/$n/broker.cert"
done
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP=tcp://127.0.0.1:$PORT
passerelle-broker --home "$B" --listen "$EP" --session-ms 3000 2>>"$T/broker.log" &
PIDS+=($!)
start_node() {
    rm -f "$T/$1/control"
    passerelle-node --home "$T/$1" --broker "$EP" --heartbeat-ms 500 2>>"$T/$1.log" &
    NODE_PID[$1]=$!
    until_ok 100 test -S "$T/$1/control" || fail "node $1 did not start"
}
for n in agency clinic school; do start_node $n; done

# the set of online nodes, as the operator and as a node see it
online_broker() { passerelle broker status --home "$B" --json | jq_py 'print(",".join(sorted(n["address"] for n in d["nodes"] if n["online"])))'; }
online_node() { passerelle --home "$T/agency" network --json | jq_py 'print(",".join(sorted(n["address"] for n in d["nodes"] if n["online"])))'; }
agree() { local want=$1 b n; b=$(online_broker) && n=$(online_node) && [ "$b" = "$want" ] && [ "$n" = "$want" ]; }
until_ok 100 agree "sn/agency,sn/clinic,sn/school" || fail "all three online: broker=$(online_broker) node=$(online_node)"

# clean stop, then kill -9: both views agree after the heartbeat timeout
kill -TERM "${NODE_PID[school]}"; wait "${NODE_PID[school]}" || true; unset 'NODE_PID[school]'
until_ok 100 agree "sn/agency,sn/clinic" || fail "school offline after stop: broker=$(online_broker) node=$(online_node)"
kill -KILL "${NODE_PID[clinic]}"; wait "${NODE_PID[clinic]}" 2>/dev/null || true; unset 'NODE_PID[clinic]'
until_ok 100 agree "sn/agency" || fail "clinic offline after kill -9: broker=$(online_broker) node=$(online_node)"

# queued count and oldest age rise while the clinic is offline...
pl-testmsg --home "$T/agency" send --to sn/clinic --payload ops --count 5 >/dev/null || fail "send"
queued() { passerelle broker status --home "$B" --json | jq_py "print([n for n in d['nodes'] if n['address']=='sn/clinic'][0]['$1'])"; }
until_ok 100 eval '[ "$(queued queued)" = 5 ]' || fail "5 queued for the clinic, got $(queued queued)"
until_ok 100 eval '[ "$(queued oldest_queued_age)" -ge 1 ]' || { passerelle broker status --home "$B" --json >&2; fail "oldest age rises"; }
# ...and fall to zero once it reconnects
start_node clinic
until_ok 150 eval '[ "$(queued queued)" = 0 ]' || fail "queue drained, got $(queued queued)"
until_ok 50 eval '[ "$(queued oldest_queued_age)" = 0 ]' || fail "oldest age back to 0"

# revoke the school: list 1 at the broker; the agency and the clinic get it
passerelle authority revoke --home "$A" --serial "${SERIAL[school]}" >/dev/null 2>&1
cp "$A/revoked" "$T/revoked.1"
cp "$A/revoked" "$B/revoked"
passerelle broker reload --home "$B" >/dev/null
[ "$(passerelle broker status --home "$B" --json | jq_py 'print(d["revocation_number"])')" = 1 ] || fail "revocation 1 loaded"
in_dir() { passerelle --home "$T/$1" directory --json | jq_py "print(any(c['address']=='$2' for c in d))"; }
until_ok 100 eval '[ "$(in_dir agency sn/school)" = False ]' || fail "agency still lists the revoked school"
until_ok 100 eval '[ "$(in_dir clinic sn/school)" = False ]' || fail "clinic still lists the revoked school"
# the agency now refuses to seal to it
if pl-testmsg --home "$T/agency" send --to sn/school --payload x >/dev/null 2>&1; then fail "sent to a revoked node"; fi
# its reconnect is refused at the door
start_node school
until_ok 100 grep -q 'door_refused .*reason="revoked"' "$T/broker.log" || fail "school's reconnect refused"

# an older list copied afterwards is ignored
passerelle authority revoke --home "$A" --serial "${SERIAL[clinic]}" >/dev/null 2>&1
cp "$A/revoked" "$B/revoked"; passerelle broker reload --home "$B" >/dev/null
cp "$T/revoked.1" "$B/revoked"; passerelle broker reload --home "$B" >/dev/null
[ "$(passerelle broker status --home "$B" --json | jq_py 'print(d["revocation_number"])')" = 2 ] || fail "older list ignored"
grep -q 'revocation_list_ignored' "$T/broker.log" || fail "older list logged as ignored"
echo "test_operations: all checks passed"
