#!/usr/bin/env bash
# bench_rabbitmq - broker throughput next to RabbitMQ, in the same run
# (issue 20 item 4). Rounds alternate, so that the load of a shared machine
# hits all alike:
#   - RabbitMQ quorum queue, then classic durable queue: tests/bench/
#     amqp_peer.c (librabbitmq): 1 KiB persistent messages, publisher
#     confirms with at most WINDOW unconfirmed, the consumer acks each one
#     (prefetch WINDOW), publisher and consumer on their own connections;
#   - Passerelle and the bare CURVE ROUTER: build/bench_broker --e2e, one
#     round each: 1 KiB payloads in 4 KiB buckets (4,315-byte CURVE
#     packets), fdatasync before `accepted`, accepted -> delivered -> taken.
# Prints each round, then the medians, ranges, p50/p99 latency (publish or
# send -> arrival at the consumer) and the ratios.
# RabbitMQ runs on 127.0.0.1 only, as its own node name, on free ports,
# with its state, logs, cookie and config in a temp folder; it and its own
# epmd are stopped by PID at the end. rabbitmq-server and librabbitmq-dev
# are installed from Debian here, for the benchmark only (not in
# scripts/deps.sh); without root or a package mirror the RabbitMQ part is
# skipped and said so.
# Usage: bench_rabbitmq.sh [ROUNDS] [RABBIT_MSGS] [PASSERELLE_ENVS]
#        (defaults 5, 20000, 10000). Three runs by default, each with
#        its summary: both at window 1000 (the issue's figure for
#        RabbitMQ), Passerelle's sender at 256 (the broker's delivery
#        window) against RabbitMQ at 1000, both at 256; BENCH_PAIRS
#        ("1000:1000 256:1000 256:256") sets the pairs, BENCH_WINDOW (Passerelle's
#        sender window) and RABBIT_WINDOW (RabbitMQ's unconfirmed
#        publishes and prefetch) one pair; BENCH_BEFORE_BROKER=PATH adds
#        a round of that older passerelle-broker binary to each round, for
#        a before/after in the same run).
set -euo pipefail
if [ "${1:-}" = --help ]; then sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
HERE=$(cd "$(dirname "$0")" && pwd)
BIN="${PL_BIN_DIR:-$HERE/../../build}"
ROUNDS=${1:-5}; RN=${2:-20000}; PN=${3:-10000}
# window pairs (Passerelle's sender : RabbitMQ's), each a whole run with
# its own summary: the issue's 1,000 for both, Passerelle at 256 (the
# broker's delivery window) against RabbitMQ at 1,000, both at 256;
# BENCH_WINDOW / RABBIT_WINDOW alone: one
if [ -n "${BENCH_WINDOW:-}${RABBIT_WINDOW:-}" ]; then
    PAIRS="${BENCH_WINDOW:-1000}:${RABBIT_WINDOW:-1000}"
else
    PAIRS="${BENCH_PAIRS:-1000:1000 256:1000 256:256}"
fi
T=$(mktemp -d /tmp/pl-rabbit-XXXXXX)
PIDS=()
BEAM=
cleanup() {
    # the Erlang VM first (SIGTERM: a clean shutdown), then its wrapper and epmd
    if [ -n "$BEAM" ]; then
        kill -TERM "$BEAM" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$BEAM" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BEAM" 2>/dev/null || true
    fi
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -x "$BIN/bench_broker" ] || { echo "bench_rabbitmq: $BIN/bench_broker not built (make build)"; exit 1; }

# ---- RabbitMQ and librabbitmq, for this benchmark only
have_rabbit() { [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && [ -f /usr/include/amqp.h ]; }
if ! have_rabbit && [ "$(id -u)" = 0 ]; then
    echo "bench_rabbitmq: installing rabbitmq-server and librabbitmq-dev (Debian, for this benchmark only)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        rabbitmq-server librabbitmq-dev >"$T/apt.log" 2>&1 || true
fi
RABBIT=1
have_rabbit || { echo "bench_rabbitmq: RabbitMQ not installed and cannot be (not root, or no mirror): its figures are skipped"; RABBIT=0; }

if [ $RABBIT = 1 ]; then
    PEER=$BIN/amqp_peer
    [ -x "$PEER" ] || { PEER=$T/amqp_peer; cc -O2 -Wall -Wextra -Werror -o "$PEER" "$HERE/amqp_peer.c" -lrabbitmq -lpthread; }
    R=$T/rabbit; mkdir -p "$R/mnesia" "$R/log"
    AMQP=$(free_port); DIST=$(free_port); EPMD=$(free_port)
    echo "[]." >"$R/enabled_plugins"
    cat >"$R/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$AMQP
disk_free_limit.absolute = 50MB
EOF
    : >"$R/rabbitmq-env.conf"
    export HOME=$R # the Erlang cookie
    export RABBITMQ_NODENAME=plbench$$@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT=$AMQP RABBITMQ_DIST_PORT=$DIST \
        ERL_EPMD_PORT=$EPMD ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_MNESIA_BASE=$R/mnesia RABBITMQ_LOG_BASE=$R/log \
        RABBITMQ_PID_FILE=$R/beam.pid RABBITMQ_ENABLED_PLUGINS_FILE=$R/enabled_plugins \
        RABBITMQ_CONFIG_FILE=$R/rabbitmq.conf RABBITMQ_CONF_ENV_FILE=$R/rabbitmq-env.conf \
        RABBITMQ_ADVANCED_CONFIG_FILE=$R/advanced.config \
        RABBITMQ_FEATURE_FLAGS_FILE=$R/feature_flags
    # our own epmd on its own port, so that we can stop it by PID
    epmd -port "$EPMD" -address 127.0.0.1 >"$R/epmd.log" 2>&1 &
    PIDS+=($!)
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$R/server.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 300); do [ -s "$R/beam.pid" ] && break; sleep 0.1; done
    BEAM=$(cat "$R/beam.pid" 2>/dev/null || true)
    # ready when it answers AMQP: a connection that logs in (bounded)
    up=0
    for _ in $(seq 1 120); do
        if "$PEER" "$AMQP" classic 10 1 >/dev/null 2>&1; then up=1; break; fi
        sleep 0.5
    done
    if [ $up = 0 ]; then
        echo "bench_rabbitmq: RabbitMQ did not start; its log:"; tail -20 "$R/server.log"; exit 1
    fi
    VER=$(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '?')
fi

# the broker's delivery window as measured in docs/performance.md: 256,
# its default (kept explicit so that the figures do not move with it)
export BENCH_BROKER_ARGS="${BENCH_BROKER_ARGS:---window 256}"

BEFORE=${BENCH_BEFORE_BROKER:-}
if [ -n "$BEFORE" ]; then
    # the same programs, with the older broker in their place
    mkdir -p "$T/before"
    for f in "$BIN"/*; do [ -f "$f" ] && [ -x "$f" ] && ln -s "$f" "$T/before/"; done
    rm -f "$T/before/passerelle-broker"; ln -s "$(readlink -f "$BEFORE")" "$T/before/passerelle-broker"
fi
# one window pair: rounds alternating, then the medians and ratios
s_run() {
export BENCH_WINDOW=$1
RABBIT_WINDOW=$2
echo "bench_rabbitmq: $ROUNDS rounds alternating; RabbitMQ $RN msgs a round, Passerelle $PN envelopes a round, window $BENCH_WINDOW (RabbitMQ $RABBIT_WINDOW)"
echo "  machine: $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at start; $(date -u '+%Y-%m-%d %H:%M UTC')"
: >"$T/res"
for i in $(seq 1 "$ROUNDS"); do
    if [ $RABBIT = 1 ]; then
        for q in quorum classic; do
            "$PEER" "$AMQP" $q "$RN" 1 1024 "$RABBIT_WINDOW" >"$T/out" || { echo "amqp_peer failed"; exit 1; }
            sed "s/^round 1/round $i/" "$T/out" | grep '^round'
            grep '^RESULT' "$T/out" >>"$T/res"
        done
    fi
    if [ -n "$BEFORE" ]; then
        PL_BIN_DIR=$T/before "$BIN/bench_broker" --e2e --rounds 1 "$PN" >"$T/out" 2>"$T/err" || { echo "bench_broker (before) failed:"; cat "$T/err"; exit 1; }
        sed "s/^round 1: passerelle/round $i: before    /" "$T/out" | grep '^round' | sed 's/   bare ROUTER.*//'
        grep '^RESULT' "$T/out" | sed 's/ \([a-z_0-9]*\)=/ before_\1=/g' >>"$T/res"
    fi
    "$BIN/bench_broker" --e2e --rounds 1 "$PN" >"$T/out" 2>"$T/err" || { echo "bench_broker failed:"; cat "$T/err"; exit 1; }
    sed "s/^round 1/round $i/" "$T/out" | grep '^round'
    grep '^NOTE' "$T/out" || true
    grep '^RESULT' "$T/out" >>"$T/res"
done

python3 - "$T/res" "${VER:-}" "$RABBIT_WINDOW" <<'EOF'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    kv = dict(w.split("=") for w in line.split()[1:])
    for k, v in kv.items():
        rows.setdefault(k, []).append(float(v))
def med(k):
    return st.median(rows[k]) if k in rows else None
def line(label, k, unit):
    if k not in rows:
        return
    v = rows[k]
    lat = ""
    print(f"  {label:<64} {med(k):8.0f} {unit}  range {min(v):.0f}-{max(v):.0f}")
print("\nmedians (n rounds: %d)" % len(rows.get("passerelle", [])))
line("passerelle end to end (CURVE, 4 KiB buckets, fdatasync, taken)", "passerelle", "env/s")
line("  the same, before (BENCH_BEFORE_BROKER)", "before_passerelle", "env/s")
line("bare CURVE ROUTER (same frames, forward + ack, no store)", "raw", "msg/s")
line("RabbitMQ %s quorum queue (1 KiB, confirms, window %s)" % (sys.argv[2], sys.argv[3]), "quorum", "msg/s")
line("RabbitMQ %s classic durable queue (same)" % sys.argv[2], "classic", "msg/s")
# latency medians: RESULT lines of each kind carry p50_ms/p99_ms in order
lat = {"passerelle": [], "before": [], "quorum": [], "classic": []}
for line_ in open(sys.argv[1]):
    kv = dict(w.split("=") for w in line_.split()[1:])
    for kind in lat:
        if kind in kv:
            lat[kind].append((float(kv["p50_ms"]), float(kv["p99_ms"])))
    if "before_p50_ms" in kv:
        lat["before"].append((float(kv["before_p50_ms"]), float(kv["before_p99_ms"])))
    if "raw_p50_ms" in kv:
        lat.setdefault("raw", []).append((float(kv["raw_p50_ms"]), float(kv["raw_p99_ms"])))
print("  latency at saturation (send -> arrival), median of the rounds' p50 / p99:")
for kind, v in lat.items():
    if v:
        print(f"    {kind:<12} p50 {st.median(a for a, _ in v):7.2f} ms   p99 {st.median(b for _, b in v):7.2f} ms")
p, r, q = med("passerelle"), med("raw"), med("quorum")
if p and q:
    print(f"  ratio passerelle / RabbitMQ quorum   {p / q:5.2f}   (goal >= 1)")
if p and med("classic"):
    print(f"  ratio passerelle / RabbitMQ classic  {p / med('classic'):5.2f}")
if p and r:
    print(f"  ratio passerelle / bare ROUTER       {p / r:5.2f}   (goal >= 0.6)")
b = med("before_passerelle")
if p and b:
    print(f"  after / before                       {p / b:5.2f}")
# the whole machine's busy CPU per message (every process: clients,
# broker, kernel) and how busy the 2 CPUs were: a CPU-bound rate is at
# most (CPUs x 1 s) / (CPU per message)
mc = [(k, label) for k, label in (("passerelle", "passerelle"), ("before_passerelle", "before"),
                                  ("raw", "bare ROUTER"), ("quorum", "quorum"), ("classic", "classic"))
      if med(k + "_machine_us")]
if mc:
    import os
    ncpu = os.cpu_count() or 1
    print(f"  machine CPU per message (every process, median) and busy share of {ncpu} CPUs:")
    for k, label in mc:
        us, busy = med(k + "_machine_us"), med(k + "_busy")
        print(f"    {label:<12} {us:6.1f} us   {100 * busy:3.0f} % busy   "
              f"CPU-bound ceiling {ncpu * 1e6 / us:7.0f}/s")
if "cpu_main_us" in rows:
    print(f"  broker CPU per envelope (median): main thread {med('cpu_main_us'):.1f} us, "
          f"ZeroMQ I/O thread {med('cpu_io_us'):.1f} us")
if "before_cpu_main_us" in rows:
    print(f"    before: main thread {med('before_cpu_main_us'):.1f} us, "
          f"ZeroMQ I/O thread {med('before_cpu_io_us'):.1f} us")
EOF
}

for pair in $PAIRS; do
    s_run "${pair%%:*}" "${pair##*:}"
done
