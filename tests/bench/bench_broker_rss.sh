#!/usr/bin/env bash
# bench_broker_rss - the broker's resident memory: idle with a few
# certificates, with 1,000 enrolled certificates, and with 50 connected
# nodes (real passerelle-node processes on 127.0.0.1). Prints figures; run
# by hand (make bench). Reference: Mosquitto idles at about 8 MiB.
set -euo pipefail
BIN="${PL_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
export PATH="$BIN:$PATH"
CERTS=${1:-1000}; NODES=${2:-50}
T=$(mktemp -d /tmp/pl-rss-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
A=$T/a; B=$T/b
passerelle authority init --home "$A" --network sn >/dev/null
passerelle authority enroll --home "$A" --node "$B" --name broker --sector broker --country SN >/dev/null 2>&1
mkdir -p "$B/certs"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP=tcp://127.0.0.1:$PORT
start_broker() {
    passerelle-broker --home "$B" --listen "$EP" 2>>"$T/broker.log" &
    BPID=$!; PIDS+=($BPID)
    for _ in $(seq 1 100); do [ -S "$B/control" ] && break; sleep 0.05; done
    sleep 1
}
start_broker
echo "broker idle, 0 certificates:              $(rss $BPID)"
kill -TERM "$BPID"; wait "$BPID" || true
echo "enrolling $CERTS certificates..." >&2
for i in $(seq 1 "$CERTS"); do
    passerelle authority enroll --home "$A" --node "$T/n$i" --name "n$i" --sector health \
        --country SN >/dev/null 2>&1
    cp "$T/n$i/node.cert" "$B/certs/n$i.cert"; cp "$B/node.cert" "$T/n$i/broker.cert"
done
start_broker
echo "broker idle, $CERTS certificates:           $(rss $BPID)"
for i in $(seq 1 "$NODES"); do
    passerelle-node --home "$T/n$i" --broker "$EP" 2>>"$T/n$i.log" &
    PIDS+=($!)
done
for _ in $(seq 1 200); do
    n=$(passerelle broker status --home "$B" --json | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin)["nodes"] if x["online"]))')
    [ "$n" -ge "$NODES" ] && break; sleep 0.2
done
echo "online nodes: $n" >&2
sleep 2
echo "broker, $CERTS certificates, $NODES nodes online: $(rss $BPID)"
