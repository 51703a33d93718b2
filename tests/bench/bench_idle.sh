#!/usr/bin/env bash
# bench_idle - what an idle node costs on the wire (issue 20 item 1): a
# real broker and node on 127.0.0.1, connected and doing nothing; the
# kernel's per-socket counters of the node's TCP connection (`ss -tin`:
# bytes_sent/bytes_received are TCP payload, segs_out/segs_in segments)
# are read after the session is up and again after a measured period;
# IP and TCP headers are added per segment (20 + 20 bytes, + 12 with TCP
# timestamps, read from net.ipv4.tcp_timestamps). The figure per day is
# the measured rate x 86,400 s; a setting whose interval is longer than
# the period is measured at a shorter interval of the same kind (the
# pattern of one idle exchange does not depend on its interval once the
# gap is longer than the kernel's RTO, 200 ms at least) and scaled by the
# number of exchanges per day: both figures are printed.
# Settings: the defaults, --heartbeat-ms 60000, --heartbeat-ms 600000, and
# for comparison the old 5 s heartbeat and a TCP keepalive-only link (the
# same DEALER pair, kernel probes every 60 s).
# Usage: bench_idle.sh [SECONDS per setting] (default 40).
set -euo pipefail
BIN="${PL_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
export PATH="$BIN:$PATH"
SECS=${1:-40}
T=$(mktemp -d /tmp/pl-idle-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
HDR=40
[ "$(cat /proc/sys/net/ipv4/tcp_timestamps 2>/dev/null || echo 0)" = 0 ] || HDR=52

A=$T/a; B=$T/b
passerelle authority init --home "$A" --network sn >/dev/null
passerelle authority enroll --home "$A" --node "$B" --name broker --sector broker --country SN >/dev/null 2>&1
mkdir -p "$B/certs"
passerelle init --home "$T/n" >/dev/null
passerelle authority enroll --home "$A" --node "$T/n" --name clinic --sector health --country SN >/dev/null
cp "$T/n/node.cert" "$B/certs/clinic.cert"; cp "$B/node.cert" "$T/n/broker.cert"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP=tcp://127.0.0.1:$PORT

# counters of the node's side of its connection to the broker:
# "bytes_sent bytes_received segs_out segs_in"
counters() {
    ss -tinH state established "( dport = :$PORT )" 2>/dev/null | python3 -c '
import re, sys
t = sys.stdin.read()
def f(k):
    m = re.search(r"\b" + k + r":(\d+)", t)
    return int(m.group(1)) if m else 0
print(f("bytes_sent"), f("bytes_received"), f("segs_out"), f("segs_in"))'
}

online() {
    passerelle --home "$T/n" network --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d.get("session") or any(n.get("online") for n in d.get("nodes", [])) else 1)' 2>/dev/null
}

# measure LABEL EXCHANGES_PER_DAY_SCALE BROKER_ARGS -- NODE_ARGS
# EXCHANGES_PER_DAY_SCALE: empty for a direct measurement, else the ratio
# (exchanges per day at the setting) / (exchanges per day measured)
measure() {
    local label=$1 scale=$2; shift 2
    local bargs=() nargs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do bargs+=("$1"); shift; done
    shift
    nargs=("$@")
    rm -f "$B/control" "$T/n/control"
    passerelle-broker --home "$B" --listen "$EP" "${bargs[@]}" 2>>"$T/broker.log" &
    local bpid=$!; PIDS+=($bpid)
    for _ in $(seq 1 100); do [ -S "$B/control" ] && break; sleep 0.05; done
    passerelle-node --home "$T/n" --broker "$EP" "${nargs[@]}" 2>>"$T/node.log" &
    local npid=$!; PIDS+=($npid)
    for _ in $(seq 1 100); do [ -S "$T/n/control" ] && break; sleep 0.05; done
    # settle: the welcome, the directory, the first resends
    sleep 3
    local a b
    a=($(counters))
    sleep "$SECS"
    b=($(counters))
    kill -TERM "$npid" "$bpid"; wait "$npid" "$bpid" 2>/dev/null || true
    python3 - "$label" "$SECS" "$HDR" "$scale" "${a[@]}" "${b[@]}" <<'EOF'
import sys
label, secs, hdr, scale = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
a = list(map(int, sys.argv[5:9])); b = list(map(int, sys.argv[9:13]))
tx, rx, so, si = (b[i] - a[i] for i in range(4))
k = 86400.0 / secs * (float(scale) if scale else 1.0)
total = (tx + rx + (so + si) * hdr) * k
how = "scaled x%s from a shorter interval" % scale if scale else "measured"
print("%-34s %9.1f KB/day  payload %7.1f KB/day  segments %7.0f/day  (%s: %d B + %d segs in %.0f s)"
      % (label, total / 1000, (tx + rx) * k / 1000, (so + si) * k, how, tx + rx, so + si, secs))
EOF
}

echo "idle node, TCP/IP headers counted ($HDR bytes a segment), both directions, per day:"
measure "defaults" "" --
