# cli_net.sh - a small real network for the CLI's shell tests: an
# authority, a broker and two nodes (sn/agency, sn/clinic of sector
# health) in $T, on 127.0.0.1 at a free port. Source it after setting T
# and TEST_NAME (and cli_assert.sh). Every daemon is started under
# `setpriv --pdeathsig KILL` (it dies with this shell) and stopped by its
# PID in net_stop (call it from the EXIT trap).
#   net_setup            homes and certificates (no daemon yet)
#   net_start_broker     passerelle-broker, log in $T/broker.log
#   net_start_node NAME  passerelle-node for $T/NAME, log in $T/NAME.log;
#                        waits (bounded, 20 s) for its control socket
#   net_stop_node NAME   SIGTERM, then SIGKILL after 10 s
#   net_stop             every daemon started here
declare -A NET_PID=()
NET_EP=

net_setup() {
    passerelle authority init --home "$T/A" --network sn >/dev/null
    passerelle authority enroll --home "$T/A" --node "$T/B" --name broker \
        --sector broker --country SN --region dakar >/dev/null 2>&1
    mkdir -p "$T/B/certs"
    passerelle init --home "$T/agency" >/dev/null
    passerelle authority enroll --home "$T/A" --node "$T/agency" --name agency \
        --sector agency --country SN --region dakar >/dev/null
    passerelle init --home "$T/clinic" >/dev/null
    passerelle authority enroll --home "$T/A" --node "$T/clinic" --name clinic \
        --sector health --country SN --region dakar >/dev/null
    local n
    for n in agency clinic; do
        cp "$T/$n/node.cert" "$T/B/certs/$n.cert"
        cp "$T/B/node.cert" "$T/$n/broker.cert"
    done
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    NET_EP=tcp://127.0.0.1:$port
}

net_start_broker() {
    setpriv --pdeathsig KILL passerelle-broker --home "$T/B" --listen "$NET_EP" \
        2>>"$T/broker.log" &
    NET_PID[broker]=$!
}

net_start_node() {
    local n=$1 i
    rm -f "$T/$n/control"
    setpriv --pdeathsig KILL passerelle-node --home "$T/$n" --broker "$NET_EP" \
        --heartbeat-ms 500 2>>"$T/$n.log" &
    NET_PID[$n]=$!
    for i in $(seq 1 200); do
        [ -S "$T/$n/control" ] && return 0
        kill -0 "${NET_PID[$n]}" 2>/dev/null || break
        sleep 0.1
    done
    FAIL_LOG=$T/$n.log fail "node $n did not start"
}

net_stop_node() {
    local n=$1 p=${NET_PID[$1]:-} i
    [ -n "$p" ] || return 0
    kill -CONT "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 200); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "NET_PID[$n]"
}

net_stop() {
    local n
    for n in "${!NET_PID[@]}"; do net_stop_node "$n"; done
}

# net_until N CMD...: runs CMD every 0.1 s until it succeeds, at most N times.
net_until() {
    local n=$1 i
    shift
    for i in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
