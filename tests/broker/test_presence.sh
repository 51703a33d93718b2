#!/usr/bin/env bash
# test_presence - the operator's presence figure (issue 20): a node that
# talks is "active"; one that falls silent (SIGSTOP: its TCP connection
# stays up, nothing more comes) is "lost" once --session-ms has passed,
# not "offline"; back (SIGCONT) it is "active" again. Real processes on
# 127.0.0.1, short intervals (--session-ms 3000, node pings after 1 s).
set -euo pipefail
command -v passerelle >/dev/null || { echo "passerelle not on PATH" >&2; exit 1; }
T=$(mktemp -d /tmp/pl-presence-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    [ -n "${PL_TEST_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$T"/*.log >&2; exit 1; }
until_ok() { local n=$1; shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done; return 1; }

A=$T/auth; B=$T/broker
passerelle authority init --home "$A" --network sn >/dev/null
passerelle authority enroll --home "$A" --node "$B" --name broker --sector broker --country SN >/dev/null 2>&1
mkdir -p "$B/certs"
passerelle init --home "$T/clinic" >/dev/null
passerelle authority enroll --home "$A" --node "$T/clinic" --name clinic --sector health --country SN >/dev/null
cp "$T/clinic/node.cert" "$B/certs/clinic.cert"; cp "$B/node.cert" "$T/clinic/broker.cert"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP=tcp://127.0.0.1:$PORT
passerelle-broker --home "$B" --listen "$EP" --session-ms 3000 2>>"$T/broker.log" &
PIDS+=($!)
passerelle-node --home "$T/clinic" --broker "$EP" --heartbeat-ms 1000 2>>"$T/clinic.log" &
NODE=$!; PIDS+=($NODE)

presence() {
    passerelle broker status --home "$B" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n["presence"] for n in d["nodes"] if n["address"] == "sn/clinic"][0], d["session_timeout_s"])'
}
is() { [ "$(presence | cut -d" " -f1)" = "$1" ]; }

until_ok 100 is active || fail "clinic not active: $(presence)"
[ "$(presence | cut -d' ' -f2)" = 3 ] || fail "session_timeout_s: $(presence)"
# the human form names the column and the state
passerelle broker status --home "$B" | grep -q "PRESENCE" || fail "no PRESENCE column"
passerelle broker status --home "$B" | grep "sn/clinic" | grep -q active || fail "human form: not active"
kill -STOP "$NODE"
until_ok 100 is lost || fail "silent clinic not lost: $(presence)"
kill -CONT "$NODE"
until_ok 100 is active || fail "clinic back, not active: $(presence)"
echo "test_presence: ok"
