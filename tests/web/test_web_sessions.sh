#!/usr/bin/env bash
# test_web_sessions - accounts and sessions through passerelle-web (issue
# 14), against real processes: an expired session (the daemon's test clock
# moved past the 15-minute idle timeout) sends the user back to the login
# and its cookie stays useless; a locked account (5 wrong passwords) is
# refused even with the right one, in words; an admin adds and disables
# an account through the pages (CSRF token included) and the disabled
# account can no longer log in; an account with lang fr gets French
# screens, and a casework form's refusals in French beside the form with
# the text typed kept (issue 20); the supervisor's audit page shows the chain verified; four
# eyes: an override requested by a case manager is approved by a
# supervisor, one a supervisor requested is refused to that supervisor.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for exe in passerelle passerelle-node passerelle-broker passerelle-web \
    pl-ctlraw python3 setpriv curl; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_web_sessions: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-websess.XXXXXX")
TEST_NAME=test_web_sessions
# shellcheck source=../lib/cli_assert.sh
. "$HERE/../lib/cli_assert.sh"
# shellcheck source=web_net.sh
. "$HERE/web_net.sh"
cleanup() {
    web_stop_all
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
export PASSERELLE_TEST_HOOKS=1 # test.session-clock

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
web_accounts
web_start agency agency
web_start clinic clinic
AU=${WEB_URL[agency]}
CU=${WEB_URL[clinic]}
FORM=(-H 'Content-Type: application/x-www-form-urlencoded')
code() {
    local m=$1 u=$2
    shift 2
    curl -s -o "$T/page" -w '%{http_code}' -X "$m" "$@" "$u"
}
is() { [ "$1" = "$2" ] || fail "$3: got $1, wanted $2"; ok; }
has() { grep -qF -- "$1" "$T/page" || fail "$2: the page lacks '$1'"; ok; }

# ---- French screens for an account with lang fr
web_login agency awa "$T/jar-fr"
is "$(code GET "$AU/cases" -b "$T/jar-fr")" 200 "awa's cases"
has 'Ouvrir un dossier' "French screen"
has 'lang="fr"' "French page language"
# a casework form refused by the daemon, in French (issue 20): the
# refusal beside the form, the notes typed kept (escaped)
FCSRF=$CSRF
expect 0 --home "$T/agency" case add --given Awa --family Form --birth 1980-02-02
CF=$(cat "$T/out")
is "$(code POST "$AU/case/$CF/timeline" -b "$T/jar-fr" "${FORM[@]}" --data-binary \
    "do=assess&type=risk&notes=mes+notes+%3Cb%3E&csrf=$FCSRF")" 400 "a risk assessment without level"
has 'Non enregistré : une évaluation du risque demande un niveau' "the refusal in French"
has 'mes notes &lt;b&gt;</textarea>' "the notes typed kept"
is "$(code POST "$AU/case/$CF/timeline" -b "$T/jar-fr" "${FORM[@]}" --data-binary \
    "do=followup&mode=phone&contact_made=yes&csrf=$FCSRF")" 400 "a follow-up with no schedule"
has 'le dossier n&#39;a pas de calendrier de suivi' "the state refusal in French"

# ---- an expired session: the daemon's clock past the idle timeout
web_login agency amina "$T/jar"
is "$(code GET "$AU/cases" -b "$T/jar")" 200 "a fresh session"
printf '%s' '{"cmd":"test.session-clock","args":{"advance_s":901}}' \
    | pl-ctlraw --home "$T/agency" >"$T/out" 2>"$T/err" || fail "test.session-clock"
ok
is "$(code GET "$AU/out" -b "$T/jar")" 401 "an expired session"
has 'log in again' "expiry message"
is "$(code GET "$AU/cases" -b "$T/jar")" 401 "the expired cookie afterwards"

# ---- four eyes: a referral the consent does not cover is refused in
# plain words; an override requested by amina is approved by a supervisor;
# one a supervisor requested himself he may not approve
web_login agency amina "$T/jar"
ACSRF=$CSRF
expect 0 --home "$T/agency" case add --given Four --family Eyes --birth 1980-02-02
C4=$(cat "$T/out")
is "$(code POST "$AU/case/$C4" -b "$T/jar" "${FORM[@]}" \
    --data-binary "do=refer&to=sn/clinic&service=urgent-care&csrf=$CSRF")" 403 \
    "a referral without consent"
has "consent does not cover this referral" "the consent refusal in plain words"
is "$(code POST "$AU/case/$C4" -b "$T/jar" "${FORM[@]}" \
    --data-binary "do=refer&to=sn/clinic&service=urgent-care&override_justification=vital+interest&csrf=$CSRF")" \
    200 "an override request"
has "Override requested" "the override notice"
expect 0 --home "$T/agency" referrals --json
json_is 'len(d)' 0
# moussa asks for one himself (through his own daemon session)
rid() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
printf '{"cmd":"session.login","args":{"name":"moussa","password":"%s"}}' "$WEB_PASS" \
    | pl-ctlraw --home "$T/agency" >"$T/out" 2>"$T/err" || fail "moussa's login"
TOK=$(json 'd["result"]["token"]')
printf '{"req":"%s","cmd":"override.request","session":"%s","args":{"case":"%s","to":"sn/clinic","service":"self-approved","override_justification":"vital"}}' \
    "$(rid)" "$TOK" "$C4" | pl-ctlraw --home "$T/agency" >"$T/out" 2>"$T/err" \
    || fail "moussa's override request"
OWN=$(json 'd["result"]["id"]')
web_login agency moussa "$T/jar-m"
is "$(code GET "$AU/overrides" -b "$T/jar-m")" 200 "the supervisor's overrides"
has "vital interest" "the pending request's justification"
has "self-approved" "moussa's own request listed"
is "$(code POST "$AU/overrides" -b "$T/jar-m" "${FORM[@]}" \
    --data-binary "do=approve&id=$OWN&csrf=$CSRF")" 403 "approving one's own override"
has "another account" "the four-eyes refusal"
is "$(code GET "$AU/overrides" -b "$T/jar-m")" 200 "the overrides again"
ids=$(grep -o 'name="id" value="[0-9a-f]*"' "$T/page" | sed 's/.*value="//; s/"//' | sort -u)
[ "$(echo "$ids" | wc -w)" = 2 ] || fail "wanted 2 pending overrides, got: $ids"
ok
for id in $ids; do
    [ "$id" = "$OWN" ] && continue
    is "$(code POST "$AU/overrides" -b "$T/jar-m" "${FORM[@]}" \
        --data-binary "do=approve&id=$id&csrf=$CSRF")" 303 "approving amina's override"
done
expect 0 --home "$T/agency" referrals --json
json_is 'len(d)' 1
json_is 'd[0]["service"]' urgent-care
is "$(code GET "$AU/overrides" -b "$T/jar")" 403 "a case manager on the overrides"

# ---- consent withdrawal and erasure through the case page: a case with
# consent and a referral to the clinic, all through the pages
expect 0 --home "$T/agency" case add --given With --family Drawal --birth 1985-03-03
C5=$(cat "$T/out")
is "$(code POST "$AU/case/$C5" -b "$T/jar" "${FORM[@]}" --data-binary \
    "do=consent&sectors=health&sectors=housing&purpose=services&given_by=returnee&expires=2031-01-01&csrf=$ACSRF")" \
    303 "consent through the page"
is "$(code POST "$AU/case/$C5" -b "$T/jar" "${FORM[@]}" \
    --data-binary "do=refer&to=sn/clinic&service=dental&csrf=$ACSRF")" 303 "refer"
for i in $(seq 1 100); do
    passerelle --home "$T/clinic" referrals --json >"$T/out"
    [ "$(json 'len([r for r in d if r["service"] == "dental"])')" = 1 ] && break
    sleep 0.2
done
is "$(code POST "$AU/case/$C5" -b "$T/jar" "${FORM[@]}" \
    --data-binary "do=erase&csrf=$ACSRF")" 400 "erase without the confirmation box"
is "$(code POST "$AU/case/$C5" -b "$T/jar" "${FORM[@]}" \
    --data-binary "do=withdraw&csrf=$ACSRF")" 303 "consent withdrawal"
is "$(code GET "$AU/case/$C5" -b "$T/jar")" 200 "the case after withdrawal"
has "Consent withdrawn" "the withdrawal on the case page"
grep -q "sn/clinic: \(erasure confirmed\|waiting for confirmation\)" "$T/page" \
    || fail "the clinic is not listed as a holder"
ok
for i in $(seq 1 100); do
    code GET "$AU/case/$C5" -b "$T/jar" >/dev/null
    grep -q "sn/clinic: erasure confirmed" "$T/page" && break
    sleep 0.2
done
has "sn/clinic: erasure confirmed" "the clinic's erasure confirmation"
is "$(code POST "$AU/case/$C5" -b "$T/jar" "${FORM[@]}" \
    --data-binary "do=erase&confirm=yes&csrf=$ACSRF")" 303 "erase"
is "$(code GET "$AU/case/$C5" -b "$T/jar")" 200 "the erased case"
has "This case was erased." "the erased case page"

# ---- a locked account: 5 wrong passwords, then even the right one fails
curl -s -c "$T/jar-l" -b "$T/jar-l" "$AU/login" >"$T/page"
pre=$(web_form_token "$T/page")
for i in 1 2 3 4 5; do
    is "$(code POST "$AU/login" -b "$T/jar-l" "${FORM[@]}" \
        --data-binary "name=moussa&password=wrong-$i&csrf=$pre")" 401 "wrong password $i"
done
printf 'name=moussa&password=%s&csrf=%s' "$WEB_PASS" "$pre" >"$T/body"
is "$(code POST "$AU/login" -b "$T/jar-l" "${FORM[@]}" --data-binary @"$T/body")" 401 \
    "a locked account with the right password"
has 'locked' "lockout message"
! grep -q "$WEB_PASS\|wrong-1" "$T/web-agency.log" "$T/agency.log" || fail "a password in a log"
ok

# ---- admin: add an account and disable another through the pages
web_login agency root-admin "$T/jar-adm"
is "$(code GET "$AU/staff" -b "$T/jar-adm")" 200 "the staff page"
has 'amina' "staff list"
printf 'do=add&name=binta&role=provider&lang=en&password=%s&csrf=%s' \
    "another-long-password" "$CSRF" >"$T/body"
is "$(code POST "$AU/staff" -b "$T/jar-adm" "${FORM[@]}" --data-binary @"$T/body")" 303 \
    "add an account"
expect 0 --home "$T/agency" staff list --json
json_is '[a["role"] for a in d if a["name"] == "binta"][0]' provider
is "$(code POST "$AU/staff" -b "$T/jar-adm" "${FORM[@]}" \
    --data-binary "do=disable&name=awa&csrf=$CSRF")" 303 "disable awa"
is "$(code GET "$AU/cases" -b "$T/jar-fr")" 401 "awa's session after disabling"
curl -s -c "$T/jar-d" -b "$T/jar-d" "$AU/login" >"$T/page"
pre=$(web_form_token "$T/page")
printf 'name=awa&password=%s&csrf=%s' "$WEB_PASS" "$pre" >"$T/body"
is "$(code POST "$AU/login" -b "$T/jar-d" "${FORM[@]}" --data-binary @"$T/body")" 401 \
    "a disabled account logging in"
is "$(code POST "$AU/staff" -b "$T/jar-adm" "${FORM[@]}" \
    --data-binary "do=disable&name=awa")" 403 "admin POST without the token"

# ---- supervisor: the audit chain's status
web_login clinic fatou "$T/jar-c"
is "$(code GET "$CU/audit" -b "$T/jar-c")" 403 "a provider on the audit page"
staff_add agency sophie2 supervisor
web_login agency sophie2 "$T/jar-s"
is "$(code GET "$AU/audit" -b "$T/jar-s")" 200 "the supervisor's audit page"
grep -qi 'ok\|entries\|verified' "$T/page" || fail "the audit page shows no status"
ok
web_stop_checked
echo "$TEST_NAME: ok ($CHECKS checks)"
