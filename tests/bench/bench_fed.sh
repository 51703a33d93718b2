#!/usr/bin/env bash
# bench_fed - federation figures (issue 13), real processes on 127.0.0.1,
# all in one run so the figures compare:
#   1. N test envelopes sn/agency -> sn/clinic through one broker, and the
#      same N sn/agency -> gn/agency through two federated brokers (wrap,
#      link, unwrap): envelopes/s from the first send to the last receipt;
#   2. Q envelopes queued at sn's broker while gn's broker is stopped
#      (SIGSTOP): the time from SIGCONT until sn's federation queue is
#      drained (every wrap accepted, i.e. committed, by gn's broker).
# Usage: bench_fed.sh [N] [Q]   (defaults 2000 and 10000). make bench.
set -euo pipefail
BIN="${PL_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
export PATH="$BIN:$PATH"
N=${1:-2000}
Q=${2:-10000}
T=$(mktemp -d /tmp/pl-bfed-XXXXXX)
. "$(dirname "$0")/../federation/fed_net.sh"
cleanup() {
    fed_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
receipted() { # receipted TO: receipted test envelopes to TO
    pl-testmsg --home "$T/agency" outbox --kind test --state receipted --json \
        | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["to"] == sys.argv[1]))' "$1"
}
wait_receipted() { # wait_receipted TO COUNT (bounded: 600 s)
    local i
    for i in $(seq 1 1200); do
        [ "$(receipted "$1")" -ge "$2" ] && return 0
        sleep 0.5
    done
    echo "bench_fed: timed out waiting for $2 receipts from $1" >&2
    exit 1
}
fed_queued() {
    passerelle broker federation --home "$T/B1" --json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["peers"][0]["queued"])'
}

fed_setup
fed_start_broker 2 --map-size 2048
fed_start_broker 1 --map-size 2048
for n in agency clinic gagency; do fed_start_node "$n"; done
for _ in $(seq 1 200); do
    passerelle --home "$T/agency" directory --json 2>/dev/null \
        | grep -q '"gn/agency"' && break
    sleep 0.1
done

t0=$(now_ms)
pl-testmsg --home "$T/agency" send --to sn/clinic --payload b --count "$N" \
    >/dev/null
wait_receipted sn/clinic "$N"
t1=$(now_ms)
local_rate=$(python3 -c "print(round($N * 1000 / ($t1 - $t0), 1))")

t0=$(now_ms)
pl-testmsg --home "$T/agency" send --to gn/agency --payload b --count "$N" \
    >/dev/null
wait_receipted gn/agency "$N"
t1=$(now_ms)
fed_rate=$(python3 -c "print(round($N * 1000 / ($t1 - $t0), 1))")

echo "envelopes sent and receipted, $N each (the sending node's rate bounds both):"
echo "  one broker (sn/agency -> sn/clinic):        $local_rate envelopes/s"
echo "  two brokers (sn/agency -> gn/agency, wrap): $fed_rate envelopes/s"
echo "  ratio two/one: $(python3 -c "print(round($fed_rate / $local_rate, 2))")"

# the drain: Q queued at sn while gn's broker is stopped
kill -STOP "${FED_PID[B2]}"
fed_stop_pid gagency # its inbox would be the bottleneck otherwise
pl-testmsg --home "$T/agency" send --to gn/agency --payload q --count "$Q" \
    >/dev/null
for _ in $(seq 1 2400); do
    [ "$(fed_queued)" -ge "$Q" ] && break
    sleep 0.5
done
echo "queued at sn's broker for gn: $(fed_queued) envelopes"
t0=$(now_ms)
kill -CONT "${FED_PID[B2]}"
for _ in $(seq 1 12000); do
    [ "$(fed_queued)" -eq 0 ] && break
    sleep 0.05
done
t1=$(now_ms)
echo "link restore -> federation queue drained ($Q envelopes): $((t1 - t0)) ms" \
    "($(python3 -c "print(round($Q * 1000 / max(1, $t1 - $t0)))") envelopes/s)"
