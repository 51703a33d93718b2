# scripts/demo-federation.sh - the second network of `make demo` (issue 13):
# an origin country, Guinea (network gn), with its own authority, broker,
# agency and child-protection nodes, federated with the host network sn set
# up by scripts/demo.sh (docs/federation.md tells the same steps). Sourced
# by demo.sh; uses its DEMO, B, EP, PIDS, say and run. Sets GN_DIR,
# GN_BROKER, GN_AGENCY and GN_CP for what follows (the handover story).
demo_federation() {
    GN_DIR="$DEMO/gn"
    local a2="$GN_DIR/authority" exp port fport name sector display
    GN_BROKER="$GN_DIR/broker"
    GN_AGENCY="$GN_DIR/agency"
    GN_CP="$GN_DIR/cp"
    mkdir -p "$GN_DIR"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    exp=$(date -u -d '+1 year' +%F)

    say "F1. A second network: Guinea (gn), the country of origin"
    run passerelle authority init --home "$a2" --network gn >/dev/null
    passerelle authority enroll --home "$a2" --node "$GN_BROKER" --name broker \
        --sector broker --country GN --region conakry >/dev/null 2>&1
    mkdir -p "$GN_BROKER/certs" "$GN_BROKER/federation" "$B/federation"
    for spec in "agency agency Agence-de-reintegration-Conakry" \
        "cp child-protection Protection-de-l-enfance-Conakry"; do
        read -r name sector display <<<"$spec"
        passerelle init --home "$GN_DIR/$name" >/dev/null
        passerelle authority enroll --home "$a2" --node "$GN_DIR/$name" \
            --name "$name" --sector "$sector" --country GN --region conakry \
            --display-name "${display//-/ }" >/dev/null
        cp "$GN_DIR/$name/node.cert" "$GN_BROKER/certs/$name.cert"
        cp "$GN_BROKER/node.cert" "$GN_DIR/$name/broker.cert"
        printf '  %-10s sector=%s\n' "gn/$name" "$sector"
    done

    say "F2. Each authority signs an anchor for the other network"
    run passerelle authority federate --home "$DEMO/authority" --network gn \
        --authority "$a2/authority.pub" --broker-cert "$GN_BROKER/node.cert" \
        --endpoint "tcp://127.0.0.1:$fport" --expires "$exp" \
        --out "$B/federation/gn.anchor"
    run passerelle authority federate --home "$a2" --network sn \
        --authority "$DEMO/authority/authority.pub" --broker-cert "$B/node.cert" \
        --expires "$exp" --out "$GN_BROKER/federation/sn.anchor"

    say "F3. Start gn's broker (federation port) and nodes; sn's broker reloads"
    passerelle-broker --home "$GN_BROKER" --listen "tcp://127.0.0.1:$port" \
        --federation-listen "tcp://127.0.0.1:$fport" 2>"$DEMO/gn-broker.log" &
    PIDS+=($!)
    for name in agency cp; do
        passerelle-node --home "$GN_DIR/$name" --broker "tcp://127.0.0.1:$port" \
            2>"$DEMO/gn-$name.log" &
        PIDS+=($!)
    done
    for name in agency cp; do
        for _ in $(seq 1 400); do [ -S "$GN_DIR/$name/control" ] && break; sleep 0.1; done
    done
    run passerelle broker reload --home "$B"
    for _ in $(seq 1 400); do
        passerelle --home "$DEMO/agency" directory --json 2>/dev/null \
            | grep -q '"gn/agency"' && break
        sleep 0.1
    done
    run passerelle broker federation --home "$B"
    run passerelle --home "$DEMO/agency" directory --sector agency
    if [ -x "$BIN/pl-testmsg" ]; then
        say "F4. An envelope across the border, receipted back"
        run pl-testmsg --home "$DEMO/agency" send --to gn/agency \
            --payload "demo: bonjour Conakry"
        for _ in $(seq 1 400); do
            pl-testmsg --home "$DEMO/agency" outbox --kind test --state receipted \
                | grep -q gn/agency && break
            sleep 0.1
        done
        run pl-testmsg --home "$GN_AGENCY" list
        run pl-testmsg --home "$DEMO/agency" outbox --kind test
    fi
}
