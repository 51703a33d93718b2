# fed_net.sh - two federated networks for the federation tests: sn (host
# country: authority $T/A1, broker $T/B1, nodes agency and clinic) and gn
# (origin country: authority $T/A2, broker $T/B2, nodes gagency and gcp of
# sector child-protection), on 127.0.0.1 at free ports. The anchor of sn
# carries gn's federation endpoint (sn's broker connects); gn's broker
# listens. Every daemon runs under `setpriv --pdeathsig KILL` and is
# stopped by its PID (fed_stop, from the EXIT trap).
#   fed_setup                 homes, certificates, anchors
#   fed_start_broker 1|2 [ARGS...]  broker of sn (1) or gn (2), log B<n>.log
#   fed_start_node NAME       node NAME of either network (waits for its
#                             control socket, 20 s at most)
#   fed_stop_pid KEY          SIGCONT, SIGTERM, SIGKILL after 10 s
#   fed_stop                  every daemon started here
#   fed_until N CMD...        CMD every 0.1 s until it succeeds, N times
declare -A FED_PID=()
FED_EP1= FED_EP2= FED_FP2=
declare -A FED_BROKER=()

fed_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# fed_node A B NAME SECTOR COUNTRY: enrol $T/NAME with authority $T/A at
# broker $T/B
fed_node() {
    local a=$1 b=$2 n=$3 sector=$4 country=$5 name=${6:-$3}
    passerelle init --home "$T/$n" >/dev/null
    passerelle authority enroll --home "$T/$a" --node "$T/$n" --name "$name" \
        --sector "$sector" --country "$country" --region capital >/dev/null
    cp "$T/$n/node.cert" "$T/$b/certs/$n.cert"
    cp "$T/$b/node.cert" "$T/$n/broker.cert"
    FED_BROKER[$n]=$b
}

fed_setup() {
    passerelle authority init --home "$T/A1" --network sn >/dev/null
    passerelle authority init --home "$T/A2" --network gn >/dev/null
    passerelle authority enroll --home "$T/A1" --node "$T/B1" --name broker \
        --sector broker --country SN --region dakar >/dev/null 2>&1
    passerelle authority enroll --home "$T/A2" --node "$T/B2" --name broker \
        --sector broker --country GN --region conakry >/dev/null 2>&1
    mkdir -p "$T/B1/certs" "$T/B2/certs" "$T/B1/federation" "$T/B2/federation"
    fed_node A1 B1 agency agency SN
    fed_node A1 B1 clinic health SN
    fed_node A2 B2 gagency agency GN agency
    fed_node A2 B2 gcp child-protection GN cp
    FED_EP1=tcp://127.0.0.1:$(fed_port)
    FED_EP2=tcp://127.0.0.1:$(fed_port)
    FED_FP2=tcp://127.0.0.1:$(fed_port)
    local exp
    exp=$(date -u -d '+30 days' +%F)
    passerelle authority federate --home "$T/A1" --network gn \
        --authority "$T/A2/authority.pub" --broker-cert "$T/B2/node.cert" \
        --endpoint "${FED_FP_VIA:-$FED_FP2}" --expires "$exp" \
        --out "$T/B1/federation/gn.anchor" >/dev/null 2>&1
    passerelle authority federate --home "$T/A2" --network sn \
        --authority "$T/A1/authority.pub" --broker-cert "$T/B1/node.cert" \
        --expires "$exp" --out "$T/B2/federation/sn.anchor" >/dev/null 2>&1
}

fed_start_broker() {
    local i=$1
    shift
    if [ "$i" = 1 ]; then
        setpriv --pdeathsig KILL passerelle-broker --home "$T/B1" \
            --listen "$FED_EP1" "$@" 2>>"$T/B1.log" &
    else
        setpriv --pdeathsig KILL passerelle-broker --home "$T/B2" \
            --listen "$FED_EP2" --federation-listen "$FED_FP2" "$@" \
            2>>"$T/B2.log" &
    fi
    FED_PID[B$i]=$!
}

fed_start_node() {
    local n=$1 i ep
    [ "${FED_BROKER[$n]}" = B1 ] && ep=$FED_EP1 || ep=$FED_EP2
    rm -f "$T/$n/control"
    setpriv --pdeathsig KILL passerelle-node --home "$T/$n" --broker "$ep" \
        --heartbeat-ms 500 2>>"$T/$n.log" &
    FED_PID[$n]=$!
    for i in $(seq 1 200); do
        [ -S "$T/$n/control" ] && return 0
        kill -0 "${FED_PID[$n]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "node $n did not start" >&2
    cat "$T/$n.log" >&2
    return 1
}

fed_stop_pid() {
    local k=$1 p=${FED_PID[$1]:-} i
    [ -n "$p" ] || return 0
    kill -CONT "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 200); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "FED_PID[$k]"
}

fed_stop() {
    local k
    for k in "${!FED_PID[@]}"; do fed_stop_pid "$k"; done
}

fed_until() {
    local n=$1 i
    shift
    for i in $(seq 1 "$n"); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
