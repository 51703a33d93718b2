#!/usr/bin/env bash
# scripts/demo.sh - a local Passerelle network on 127.0.0.1, set up exactly
# as DESIGN.md §9 does it by hand, with a sample scenario.
#   make demo          run the scenario, then leave the network running
#   make demo ONCE=1   run the scenario and stop everything (CI)
set -euo pipefail

ONCE=0
[ "${1:-}" = "--once" ] && ONCE=1
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${PL_BIN_DIR:-$ROOT_DIR/build}"
export PATH="$BIN:$PATH"
DEMO="$(mktemp -d /tmp/passerelle-demo-XXXXXX)"
PIDS=()

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_all
    if [ "$ONCE" = 1 ] && [ -z "${PL_DEMO_KEEP:-}" ]; then rm -rf "$DEMO"; fi
}
trap cleanup EXIT
trap 'echo; echo "stopping the demo network..."; exit 0' INT TERM

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run()  { printf '$ %s\n' "$*"; "$@"; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
EP="tcp://127.0.0.1:$PORT"
A="$DEMO/authority"; B="$DEMO/broker"

# name sector region display-name
NODES=(
  "agency agency dakar Reintegration-agency-case-management"
  "clinic health dakar Hopital-Fann-clinic"
  "school education dakar Ecole-Liberte-6"
  "housing housing dakar Housing-office-Dakar"
  "housing2 housing dakar Housing-office-Pikine"
  "cpu child-protection dakar Child-protection-unit-Dakar"
  "coord coordination dakar Coordination-body"
)

say "1. The network authority (kept offline in real life)"
run passerelle authority init --home "$A" --network sn >/dev/null
echo "authority created in $A"

say "2. Keys made on each machine, certificates signed by the authority"
passerelle authority enroll --home "$A" --node "$B" --name broker --sector broker \
    --country SN --region dakar >/dev/null 2>&1
mkdir -p "$B/certs"
for spec in "${NODES[@]}"; do
    read -r name sector region display <<<"$spec"
    passerelle init --home "$DEMO/$name" >/dev/null
    serial=$(passerelle authority enroll --home "$A" --node "$DEMO/$name" --name "$name" \
        --sector "$sector" --country SN --region "$region" \
        --display-name "${display//-/ }")
    cp "$DEMO/$name/node.cert" "$B/certs/$name.cert"
    cp "$B/node.cert" "$DEMO/$name/broker.cert"
    printf '  %-10s sector=%-16s serial=%s\n' "sn/$name" "$sector" "$serial"
done

say "3. Start the broker and the nodes (logs in $DEMO/*.log)"
passerelle-broker --home "$B" --listen "$EP" 2>"$DEMO/broker.log" &
PIDS+=($!)
for spec in "${NODES[@]}"; do
    read -r name _ <<<"$spec"
    passerelle-node --home "$DEMO/$name" --broker "$EP" 2>"$DEMO/$name.log" &
    PIDS+=($!)
done
for spec in "${NODES[@]}"; do
    read -r name _ <<<"$spec"
    for _ in $(seq 1 400); do [ -S "$DEMO/$name/control" ] && break; sleep 0.1; done
done
# the agency refers as soon as it knows every node: wait for its directory
# (bounded, ~60 s on a loaded machine), not a fixed second
for _ in $(seq 1 600); do
    n=$(passerelle --home "$DEMO/agency" --json directory 2>/dev/null \
        | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || true)
    [ "${n:-0}" -ge "${#NODES[@]}" ] && break
    sleep 0.1
done
run passerelle --home "$DEMO/agency" whoami
say "4. What the agency's node sees of the network"
run passerelle --home "$DEMO/agency" directory
run passerelle --home "$DEMO/agency" network

if [ -x "$BIN/pl-testmsg" ] && ! passerelle --help 2>&1 | grep -q '^  *refer'; then
    say "5. Delivery check (referrals arrive with their own issue)"
    run pl-testmsg --home "$DEMO/agency" send --to sn/clinic --payload "demo: hello clinic"
    for _ in $(seq 1 50); do
        pl-testmsg --home "$DEMO/clinic" list | grep -q "hello clinic" && break; sleep 0.2
    done
    run pl-testmsg --home "$DEMO/clinic" list
fi

if [ -f "$ROOT_DIR/scripts/demo-scenario.sh" ]; then
    # shellcheck source=/dev/null
    . "$ROOT_DIR/scripts/demo-scenario.sh"
fi
# shellcheck source=demo-web.sh
[ -f "$ROOT_DIR/scripts/demo-web.sh" ] && . "$ROOT_DIR/scripts/demo-web.sh"

# issue 13: the origin country's network, federated with this one
. "$ROOT_DIR/scripts/demo-federation.sh"
demo_federation
# issue 13: a handover across the border (scripts/demo-scenario.sh)
if declare -F handover_demo >/dev/null; then handover_demo; fi
# issue 15: aggregate reports and the coordination dashboard, last
[ -f "$ROOT_DIR/scripts/demo-coord.sh" ] && . "$ROOT_DIR/scripts/demo-coord.sh"

if [ "$ONCE" = 1 ]; then
    say "done: stopping every process"
    exit 0
fi
say "The network is running. Try, in another terminal:"
cat <<TXT
  export PATH="$BIN:\$PATH"
  passerelle --home $DEMO/agency whoami
  passerelle --home $DEMO/agency directory --sector health
  passerelle --home $DEMO/clinic network
  passerelle broker status --home $B
  passerelle --home $DEMO/coord coordination
The coordination dashboard: ${COORD_AT:-?}/coordination (cora / ${DEMO_PASS:-?})
Press Ctrl-C here to stop everything.
TXT
while true; do sleep 3600 & wait $!; done
