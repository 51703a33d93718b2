# scripts/demo-web.sh - sourced by demo.sh: the staff web application
# (passerelle-web, issue 14) for the agency and the clinic, with demo
# accounts (password on stdin, never in argv), and their addresses.
say "13. The staff web application (passerelle-web)"
DEMO_PASS=demo-password-123
WEB_OK=1
while read -r node name role lang; do
    printf '%s\n' "$DEMO_PASS" | passerelle --home "$DEMO/$node" staff add "$name" \
        --role "$role" --lang "$lang" >/dev/null || WEB_OK=0
done <<'ACCOUNTS'
agency amina case-manager en
agency awa case-manager fr
agency moussa supervisor en
agency admin admin en
clinic fatou provider en
clinic khady provider fr
ACCOUNTS
[ "$WEB_OK" = 1 ] || { echo "demo: could not create the staff accounts" >&2; exit 1; }
declare -A WEB_AT=()
for node in agency clinic; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    passerelle-web --home "$DEMO/$node" --listen "127.0.0.1:$port" 2>"$DEMO/web-$node.log" &
    PIDS+=($!)
    WEB_AT[$node]="http://127.0.0.1:$port"
    for _ in $(seq 1 400); do
        curl -s -o /dev/null "${WEB_AT[$node]}/login" && break; sleep 0.1
    done
    curl -s -o /dev/null -f "${WEB_AT[$node]}/login" \
        || { echo "demo: passerelle-web for $node did not answer" >&2; exit 1; }
done
cat <<TXT
  agency  ${WEB_AT[agency]}   amina, awa (case managers; awa in French),
                              moussa (supervisor), admin (staff accounts)
  clinic  ${WEB_AT[clinic]}   fatou, khady (providers; khady in French)
  password for every demo account: $DEMO_PASS
  (logs without personal data: $DEMO/web-agency.log, $DEMO/web-clinic.log)
TXT
