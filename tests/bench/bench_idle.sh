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
# gap is longer than the kernel's RTO, 200 ms at least): the bytes and
# segments of one exchange (pings counted in the node's debug log) times
# the exchanges a day at the setting.
# Settings: the defaults (160 s), --heartbeat-ms 60000 and 600000; for
# comparison the old 5 s heartbeat (measured directly) and TCP keepalive
# alone (kernel probes; no application ping: it cannot see a hung broker),
# one probe a minute. Also printed: a session's start (CURVE handshake,
# hello, welcome, directory), paid once per connection and, for the
# directory, once a day.
# Usage: bench_idle.sh [SECONDS per setting] (default 30);
#        bench_idle.sh --long MINUTES: the defaults measured directly.
set -euo pipefail
BIN="${PL_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
export PATH="$BIN:$PATH"
LONG=
if [ "${1:-}" = --long ]; then LONG=${2:-12}; SECS=$((LONG * 60)); else SECS=${1:-30}; fi
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

# run BROKER_ARGS -- NODE_ARGS: starts both, waits for the session, reads
# the counters (START: from connect to settled), waits SECS, reads them
# again; sets D (payload bytes, segments) over the window, PINGS (pings
# sent in it) and START (bytes with headers until settled)
run() {
    local bargs=() nargs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do bargs+=("$1"); shift; done
    shift
    nargs=("$@")
    rm -f "$B/control" "$T/n/control" "$T/node.log"
    passerelle-broker --home "$B" --listen "$EP" "${bargs[@]}" 2>>"$T/broker.log" &
    local bpid=$!; PIDS+=($bpid)
    for _ in $(seq 1 100); do [ -S "$B/control" ] && break; sleep 0.05; done
    passerelle-node --home "$T/n" --broker "$EP" --log-level debug "${nargs[@]}" 2>"$T/node.log" &
    local npid=$!; PIDS+=($npid)
    for _ in $(seq 1 100); do grep -q directory_updated "$T/node.log" 2>/dev/null && break; sleep 0.1; done
    sleep 1 # settled: the welcome, the directory, the first resends
    local a b p0 p1
    a=($(counters)); p0=$(grep -c ping_sent "$T/node.log" || true)
    START=$(( a[0] + a[1] + (a[2] + a[3]) * HDR ))
    sleep "$SECS"
    b=($(counters)); p1=$(grep -c ping_sent "$T/node.log" || true)
    kill -TERM "$npid" "$bpid"; wait "$npid" "$bpid" 2>/dev/null || true
    D=($(( b[0] + b[1] - a[0] - a[1] )) $(( b[2] + b[3] - a[2] - a[3] )))
    PINGS=$((p1 - p0))
}

# report LABEL PER_DAY_FACTOR HOW: D x factor, with headers
report() {
    python3 - "$1" "$2" "$3" "$HDR" "${D[0]}" "${D[1]}" <<'EOF2'
import sys
label, k, how, hdr, pay, segs = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
total = (pay + segs * hdr) * k
flag = "  <= 150 KB" if total <= 150000 else "  > 150 KB"
print("%-44s %8.1f KB/day %7.0f segments/day%s  (%s)" % (label, total / 1000, segs * k, flag, how))
EOF2
}

# per exchange, from a run at a short interval: factor = 1/pings x day/N
scaled() {
    local label=$1 n_ms=$2; shift 2
    run "$@" -- --heartbeat-ms 2000 --heartbeat-timeout-ms 2000
    [ "$PINGS" -gt 0 ] || { echo "$label: no ping measured" >&2; return 1; }
    report "$label" "$(python3 -c "print(86400000.0 / $n_ms / $PINGS)")" \
        "$PINGS exchanges at 2 s, each $(python3 -c "print('%.0f B payload, %.1f segments' % (${D[0]} / $PINGS, ${D[1]} / $PINGS))")"
}

echo "idle node on 127.0.0.1, both directions, IP+TCP headers counted ($HDR bytes a segment):"
if [ -n "$LONG" ]; then
    run --
    report "defaults (ping after 160 s), measured" "$(python3 -c "print(86400.0 / $SECS)")" \
        "$SECS s: ${D[0]} B payload, ${D[1]} segments, $PINGS pings"
    exit 0
fi
scaled "defaults: ping after 160 s quiet, wait 15 s" 160000
echo "  a dead link is noticed within 160 + 15 + 1 = 176 s"
scaled "--heartbeat-ms 60000 (dead link: <= 76 s)" 60000
scaled "--heartbeat-ms 600000 (dead link: <= 616 s; broker --session-ms 1500000)" 600000
run -- --heartbeat-ms 5000
report "before: heartbeat every 5 s, measured" "$(python3 -c "print(86400.0 / $SECS)")" \
    "$SECS s: ${D[0]} B payload, ${D[1]} segments"
echo "  session start (handshake, hello, welcome, directory of 1 node): $START B"
# keepalive alone: no application ping in the window (600 s), the
# broker's kernel probes after 2 s idle (its keepalive idle is
# --session-ms / 1000); each probe and its ACK are 2 bare segments
run --session-ms 2000 -- --heartbeat-ms 600000
PROBES=$(( D[1] / 2 ))
if [ "$PROBES" -gt 0 ]; then
    report "TCP keepalive alone, a probe a minute" "$(python3 -c "print(1440.0 / $PROBES)")" \
        "$PROBES probes at 2 s: ${D[0]} B payload, ${D[1]} segments"
fi
