#!/usr/bin/env bash
# test_web_handover - a case handed over in passerelle-web (DESIGN.md §7.2,
# §12: a case manager's work on both sides), on a real network: broker,
# sn/agency (the host) and sn/origin (the receiving agency, region thies)
# on 127.0.0.1 with real keys and stores, passerelle-web for each. The
# host's case manager sends the case from the case page (refused without
# the consent to transfer, nothing sent); the origin's case manager (in
# French) sees it at /handovers with what was sent, a step out of order is
# refused in the daemon's words, ack then accept open the new case; the
# arrival is recorded through the JSON API (session cookie, CSRF token) and
# the host sees it; the screens pass axe-core in chromium (phone and desk
# widths); a provider may not see /handovers; a child's handover
# is refused without the best-interests determination, and accepted only
# after the child-protection node of the origin's region acknowledged it
# from its notifications page (no name there); the host withdraws a third
# one (a reason needed) and may send the case again; no personal data in
# the web logs, and the web processes exit cleanly.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker passerelle-web curl python3 setpriv node; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_web_handover: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -x "${PL_CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$HERE/node_modules/axe-core" ] || {
    echo "test_web_handover: FAIL: no chromium or tests/web/node_modules (scripts/deps.sh installs them)" >&2
    exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-webho.XXXXXX")
TEST_NAME=test_web_handover
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=web_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/web_net.sh"
cleanup() {
    web_stop_all
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

net_setup
# the receiving agency: a third node of the network
passerelle init --home "$T/origin" >/dev/null
passerelle authority enroll --home "$T/A" --node "$T/origin" --name origin \
    --sector agency --country SN --region thies >/dev/null
cp "$T/origin/node.cert" "$T/B/certs/origin.cert"
cp "$T/B/node.cert" "$T/origin/broker.cert"
# and the child-protection authority of its region
passerelle init --home "$T/cpt" >/dev/null
passerelle authority enroll --home "$T/A" --node "$T/cpt" --name cpt \
    --sector child-protection --country SN --region thies >/dev/null
cp "$T/cpt/node.cert" "$T/B/certs/cpt.cert"
cp "$T/B/node.cert" "$T/cpt/broker.cert"
net_start_broker
net_start_node agency
net_start_node origin
net_start_node cpt
FAIL_LOG=$T/agency.log

staff_add agency amina case-manager
staff_add agency fatou provider
staff_add origin omar case-manager fr
staff_add cpt khady case-manager
CASE=$(printf '%s' '{"given":"Aminata","family":"Kqzv","birth":"1990-02-03","language":"wo"}' \
    | passerelle --home "$T/agency" case add --stdin)
[ ${#CASE} = 32 ] || fail "case add printed '$CASE'"

web_start ag agency
web_start or origin
web_start cp cpt
page() { curl -s -b "$1" "$2" >"$T/page" || fail "GET $2"; }
page_has() { grep -qF -- "$1" "$T/page" || FAIL_LOG=$T/page fail "the page lacks '$1'"; ok; }
# post JAR URL BODY: the status in CODE, the redirect in LOC
post() {
    local out
    out=$(curl -s -o "$T/page" -w '%{http_code} %{redirect_url}' -b "$1" \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary "$3" "$2") || fail "POST $2"
    CODE=${out%% *}
    LOC=${out#* }
}

# page_until JAR URL TEXT: GET until the page holds TEXT (20 s at most)
page_until() {
    local i
    for i in $(seq 1 100); do
        page "$1" "$2"
        grep -qF -- "$3" "$T/page" && return 0
        sleep 0.2
    done
    return 1
}
# post_until JAR URL BODY: POST until it answers 303 (20 s at most)
post_until() {
    local i
    for i in $(seq 1 100); do
        post "$1" "$2" "$3"
        [ "$CODE" = 303 ] && return 0
        sleep 0.2
    done
    return 1
}

# ---- the host sends it from the case page
web_login ag amina "$T/jar-ag"
CSRF_AG=$CSRF
page "$T/jar-ag" "${WEB_URL[ag]}/case/$CASE"
page_has 'name="consent_transfer"'
page_has 'Hand the case over'
base="csrf=$CSRF&do=handover&to=sn%2Forigin&arrival=2099-06-01&escort=IOM"
post "$T/jar-ag" "${WEB_URL[ag]}/case/$CASE" "$base"
# the daemon's PL_EINVAL (a missing argument): 400, as the API answers it
[ "$CODE" = 400 ] || fail "a handover without consent answered $CODE"
page_has "consent-transfer yes"
expect 0 --home "$T/agency" --json handovers
json_is 'len(d)' 0
post "$T/jar-ag" "${WEB_URL[ag]}/case/$CASE" "$base&consent_transfer=yes"
[ "$CODE" = 303 ] || fail "the handover answered $CODE"
H=${LOC##*/handover/}
[ ${#H} = 32 ] || fail "redirected to '$LOC'"
ok
page "$T/jar-ag" "${WEB_URL[ag]}/case/$CASE"
page_has "href=\"/handover/$H\""
! grep -q 'name="consent_transfer"' "$T/page" || fail "the handover form shows while one is under way"
ok
page "$T/jar-ag" "${WEB_URL[ag]}/handover/$H"
page_has "Withdraw the handover"
page_has "sn/origin"

# ---- the receiving agency, in French
web_login or omar "$T/jar-or"
CSRF_OR=$CSRF
page_until "$T/jar-or" "${WEB_URL[or]}/handovers" "/handover/$H" \
    || FAIL_LOG=$T/origin.log fail "the handover never reached /handovers at the origin"
page_has "Transferts de dossier"
page "$T/jar-or" "${WEB_URL[or]}/cases"       # where a case manager lands
page_has "1 transfert(s) reçu(s) en attente"
page "$T/jar-or" "${WEB_URL[or]}/handover/$H"
page_has "Kqzv"            # what was sent, before deciding
page_has "Accuser réception"
page_has "IOM"
# the screens a case manager reads, in a real browser: no serious or
# critical accessibility violation, at a phone's width and a desk's
a11y() { # a11y JAR OUT URL...
    local jar=$1 out=$2 c
    shift 2
    c=$(awk '$6 ~ /pl_session$/ {print $6 "=" $7; exit}' "$jar")
    node "$HERE/a11y.js" "$c" "$out" "$@" >"$T/a11y.out" 2>&1 \
        || FAIL_LOG=$T/a11y.out fail "accessibility of $*"
    ok
}
ART=${PL_BIN_DIR:-$T}/web-artifacts/handover
a11y "$T/jar-or" "$ART/origin" "${WEB_URL[or]}/handovers" "${WEB_URL[or]}/handover/$H"
a11y "$T/jar-ag" "$ART/host" "${WEB_URL[ag]}/case/$CASE" "${WEB_URL[ag]}/handover/$H"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H" "csrf=$CSRF&event=accept"
[ "$CODE" = 409 ] || fail "accept before ack answered $CODE"
page_has "cannot accept a handover that is sent"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H" "csrf=$CSRF&event=fly"
[ "$CODE" = 400 ] || fail "an unknown step answered $CODE"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H" "csrf=$CSRF&event=reject"
[ "$CODE" = 400 ] || fail "a refusal without its reason answered $CODE"
page_has "reason"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H" "event=ack"
[ "$CODE" = 403 ] || fail "a step without the CSRF token answered $CODE"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H" "csrf=$CSRF&event=ack"
[ "$CODE" = 303 ] || fail "ack answered $CODE"
page "$T/jar-or" "${WEB_URL[or]}/handover/$H"
page_has "Accepter le dossier"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H" "csrf=$CSRF&event=accept"
[ "$CODE" = 303 ] || fail "accept answered $CODE"
page "$T/jar-or" "${WEB_URL[or]}/handover/$H"
NEW=$(sed -n 's/.*href="\/case\/\([0-9a-f]\{32\}\)".*/\1/p' "$T/page" | head -n 1)
[ -n "$NEW" ] && [ "$NEW" != "$CASE" ] || FAIL_LOG=$T/page fail "no new case linked after accept"
ok
page "$T/jar-or" "${WEB_URL[or]}/cases"
! grep -q "en attente de votre" "$T/page" || fail "a decided handover still waits on /cases"
ok
page "$T/jar-or" "${WEB_URL[or]}/case/$NEW"
page_has "Kqzv"
page_has "href=\"/handover/$H\""   # the case says where it came from
expect 0 --home "$T/origin" --json handover show "$H"
json_is 'd["status"]' accepted
json_is '[e["by"] for e in d["history"] if e["status"] == "accepted"][0]' omar

# ---- the same through the JSON API (the session cookie and its token)
COOKIE=$(awk '$6 == "pl_session" {print "pl_session=" $7}' "$T/jar-or")
[ -n "$COOKIE" ] || fail "no session cookie in the jar"
curl -s -H "Cookie: $COOKIE" "${WEB_URL[or]}/api/v1/handovers?direction=in" >"$T/out" \
    || fail "GET /api/v1/handovers"
json_is "[h['status'] for h in d if h['id'] == '$H']" '["accepted"]'
code=$(curl -s -o "$T/out" -w '%{http_code}' -H "Cookie: $COOKIE" -X POST \
    "${WEB_URL[or]}/api/v1/handovers/$H/arrived")
[ "$code" = 403 ] || fail "a cookie POST without X-CSRF-Token answered $code"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H "Cookie: $COOKIE" \
    -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
    --data-binary '{}' "${WEB_URL[or]}/api/v1/handovers/$H/arrived")
[ "$code" = 200 ] || fail "POST /api/v1/handovers/H/arrived answered $code: $(cat "$T/out")"
ok
expect 0 --home "$T/origin" --json handover show "$H"
json_is 'd["status"]' arrived

# ---- the host learns it
net_until 100 sh -c "passerelle --home '$T/agency' --json handover show $H | grep -q '\"status\": *\"arrived\"'" \
    || fail "the host never saw the arrival"
ok

# ---- a provider has no handover screens
web_login ag fatou "$T/jar-pr"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$T/jar-pr" "${WEB_URL[ag]}/handovers")
[ "$code" = 403 ] || fail "a provider got $code for /handovers"
ok

# ---- a child: the determination, then child protection's cp-ack
CHILD=$(printf '%s' '{"given":"Moussa","family":"Wqxr","birth":"2014-05-06","uasc":"unaccompanied"}' \
    | passerelle --home "$T/agency" case add --stdin)
net_until 100 sh -c "passerelle --home '$T/origin' --json directory | grep -q sn/cpt" \
    || fail "the origin's directory never listed sn/cpt"
cbase="csrf=$CSRF_AG&do=handover&to=sn%2Forigin&arrival=2099-07-01&consent_transfer=yes"
post "$T/jar-ag" "${WEB_URL[ag]}/case/$CHILD" "$cbase"
[ "$CODE" = 400 ] || fail "a child's handover without the determination answered $CODE"
page_has "best-interests determination"
post "$T/jar-ag" "${WEB_URL[ag]}/case/$CHILD" \
    "$cbase&bid_ref=BID-77&bid_date=2026-11-02&bid_outcome=reunification"
[ "$CODE" = 303 ] || fail "the child's handover answered $CODE"
H2=${LOC##*/handover/}
post_until "$T/jar-or" "${WEB_URL[or]}/handover/$H2" "csrf=$CSRF_OR&event=ack" \
    || fail "the child's handover could not be acknowledged ($CODE)"
page "$T/jar-or" "${WEB_URL[or]}/handover/$H2"
page_has "nœud de protection de"
page_has "BID-77"
post "$T/jar-or" "${WEB_URL[or]}/handover/$H2" "csrf=$CSRF_OR&event=accept"
[ "$CODE" = 409 ] || fail "accept before the cp-ack answered $CODE"
page_has "cp-ack"
web_login cp khady "$T/jar-cp"
page_until "$T/jar-cp" "${WEB_URL[cp]}/notifications" "action=\"/handover/$H2\"" \
    || FAIL_LOG=$T/cpt.log fail "no cp-ack button on the child-protection node's notifications"
page_has "Acknowledge the child"
! grep -q "Wqxr\|Moussa" "$T/page" || fail "the child's name on the child-protection notifications"
ok
post "$T/jar-cp" "${WEB_URL[cp]}/handover/$H2" "csrf=$CSRF&event=cp-ack"
[ "$CODE" = 303 ] || fail "cp-ack answered $CODE"
post "$T/jar-cp" "${WEB_URL[cp]}/handover/$H2" "csrf=$CSRF&event=cp-ack"
[ "$CODE" = 409 ] || fail "a second cp-ack answered $CODE"
page_has "already acknowledged"
post_until "$T/jar-or" "${WEB_URL[or]}/handover/$H2" "csrf=$CSRF_OR&event=accept" \
    || FAIL_LOG=$T/origin.log fail "the child's handover was never accepted after the cp-ack ($CODE)"
ok

# ---- the host withdraws one before arrival; the case is its own again
C3=$(printf '%s' '{"given":"Awa","family":"Pqzt","birth":"1988-01-01"}' \
    | passerelle --home "$T/agency" case add --stdin)
post "$T/jar-ag" "${WEB_URL[ag]}/case/$C3" \
    "csrf=$CSRF_AG&do=handover&to=sn%2Forigin&arrival=2099-08-01&consent_transfer=yes"
[ "$CODE" = 303 ] || fail "the third handover answered $CODE"
H3=${LOC##*/handover/}
post "$T/jar-ag" "${WEB_URL[ag]}/handover/$H3" "csrf=$CSRF_AG&event=withdraw"
[ "$CODE" = 400 ] || fail "a withdrawal without its reason answered $CODE"
post "$T/jar-ag" "${WEB_URL[ag]}/handover/$H3" \
    "csrf=$CSRF_AG&event=withdraw&reason=plans-changed&note=the+family+stays"
[ "$CODE" = 303 ] || fail "the withdrawal answered $CODE"
page "$T/jar-ag" "${WEB_URL[ag]}/handover/$H3"
page_has "plans-changed"
page_has "the family stays"
! grep -q "Withdraw the handover" "$T/page" || fail "a withdrawn handover still offers steps"
ok
page "$T/jar-ag" "${WEB_URL[ag]}/case/$C3"
page_has 'name="consent_transfer"'      # the case may be handed over again
net_until 100 sh -c "passerelle --home '$T/origin' --json handover show $H3 2>/dev/null | grep -q '\"status\": *\"withdrawn\"'" \
    || fail "the origin never saw the withdrawal"
ok

web_stop_checked
for f in "$T"/web-*.log; do
    ! grep -q "Kqzv\|Aminata\|Wqxr\|Moussa\|Pqzt" "$f" || FAIL_LOG=$f fail "personal data in $f"
done
ok
echo "test_web_handover: $CHECKS checks passed"
