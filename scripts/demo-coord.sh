# scripts/demo-coord.sh - sourced by demo.sh, last (issue 15): every node
# sends its aggregate report now (the daemons also do it each
# --report-hours), the coordination node keeps them, and its
# passerelle-web shows the coordination dashboard to a coordinator: the
# demo's referrals, mostly as <5 (a family of four: as it should be).
say "17. What the coordination body sees: aggregate reports, no person"
run passerelle --home "$DEMO/agency" report show
for spec in "${NODES[@]}"; do
    read -r name _ <<<"$spec"
    [ "$name" = coord ] && continue
    passerelle --home "$DEMO/$name" report send | sed "s/^/  $name: /"
done
want=$(( (${#NODES[@]} - 1) * 2 ))
for _ in $(seq 1 100); do
    got=$(passerelle --home "$DEMO/coord" coordination --json 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["reports"])' 2>/dev/null || echo 0)
    [ "$got" -ge "$want" ] && break
    sleep 0.2
done
run passerelle --home "$DEMO/coord" coordination
printf '%s\n' "$DEMO_PASS" | passerelle --home "$DEMO/coord" staff add cora \
    --role coordinator --lang en >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
passerelle-web --home "$DEMO/coord" --listen "127.0.0.1:$port" 2>"$DEMO/web-coord.log" &
PIDS+=($!)
COORD_AT="http://127.0.0.1:$port"
for _ in $(seq 1 400); do curl -s -o /dev/null "$COORD_AT/login" && break; sleep 0.1; done
curl -s -o /dev/null -f "$COORD_AT/login" \
    || { echo "demo: passerelle-web for the coordination node did not answer" >&2; exit 1; }
if [ "$ONCE" = 1 ]; then
    [ "$got" -ge "$want" ] || { echo "demo: ONLY $got OF $want REPORTS AT THE COORDINATION NODE" >&2; exit 1; }
    echo "demo: $got reports at the coordination node"
fi
cat <<TXT
  coordination dashboard  $COORD_AT/coordination
                          cora (coordinator), password $DEMO_PASS
  metrics (transport figures only)  $COORD_AT/metrics
TXT
