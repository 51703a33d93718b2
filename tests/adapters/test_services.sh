#!/usr/bin/env bash
# test_services - issue 18 on a real network (broker, sn/agency, sn/clinic
# on 127.0.0.1, real keys and stores): the clinic publishes a signed
# catalogue with capacity; the agency imports it, and a changed catalogue
# is refused with the agency's store left as it was; the agency lists and
# matches a case to services; a referral to a full service is refused
# without --confirm-full; the slip: PNG decoded by zbarimg (an independent
# decoder) gives the code, QR version <= 7 at level M, the token bytes
# hold nothing of the person; the clinic checks it offline: valid and for
# it; one changed character refused; after the agency cancels, the
# clinic reports the slip's referral cancelled; moved clock: expired.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker passerelle-web curl python3 setpriv zbarimg node; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_services: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
WEBT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../web" && pwd)
[ -x "${PL_CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$WEBT/node_modules/axe-core" ] || {
    echo "test_services: FAIL: no chromium or tests/web/node_modules (scripts/deps.sh installs them)" >&2
    exit 1
}
if [ "${PL_TEST_BUILD:-ON}" != "ON" ]; then
    echo "test_services: skipped (needs a test build: moved clock)"
    exit 0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-svc.XXXXXX")
TEST_NAME=test_services
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=../web/web_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../web/web_net.sh"
GRID="$(dirname "${BASH_SOURCE[0]}")/../../packaging/data/feasibility-grid.json"
cleanup() {
    web_stop_all
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
AG=(--home "$T/agency")
CL=(--home "$T/clinic")
FAIL_LOG=$T/clinic.log

# ---- the clinic's catalogue
expect 0 "${CL[@]}" service add --code primary-care --sector health \
    --name-fr "Soins de santé primaires" --name-en "Primary health care" \
    --languages fr,wo --region dakar --cost free --hours "Mon-Fri 8-16" \
    --reach "Bus 7, stop Fann" --lat 14.69 --lon -17.46
expect 0 "${CL[@]}" service add --code counselling --sector mhpss \
    --name-en "Counselling" --min-age 18 --languages fr --region thies
expect 0 "${CL[@]}" service add --code child-counselling --sector mhpss \
    --name-en "Counselling for children" --max-age 17 --region dakar
usage "${CL[@]}" service add --code x --sector health --name-en X --lat north --lon 2
expect 1 "${CL[@]}" service add --code x --sector nowhere --name-en X
err_has "sector"
expect 1 "${CL[@]}" service add --code bad --sector health
err_has "name"
expect 0 "${CL[@]}" service capacity primary-care full --free 0
expect 0 "${CL[@]}" service capacity counselling open --free 12
expect 1 "${CL[@]}" service capacity nothing open
err_has "no service"
expect 0 "${CL[@]}" service export --out "$T/clinic.cat"

# ---- it travels with the broker's directory; a changed copy is refused
# and leaves the agency's as it was; the same version again: not newer
n_clinic() {
    passerelle "${AG[@]}" --json service list --address sn/clinic \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), *sorted(str(e["entry"].get("capacity",{}).get("state")) for e in d))'
}
has_clinic() { [ "$(n_clinic)" = "$1" ]; }
net_until 100 has_clinic "3 None full open" \
    || fail "the clinic's catalogue did not reach the agency: $(n_clinic)"
ok
python3 - "$T/clinic.cat" "$T/changed.cat" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["doc"] = s["doc"].replace('"full"', '"open"')
json.dump(s, open(sys.argv[2], "w"))
PY
expect 1 "${AG[@]}" service import "$T/changed.cat"
err_has "signature"
expect 1 "${AG[@]}" service import "$T/clinic.cat"
err_has "not newer"
expect 0 "${AG[@]}" --json service list --address sn/clinic
json_is 'len(d)' 3
json_is '[e["entry"]["capacity"]["state"] for e in d if e["entry"]["code"]=="primary-care"][0]' full
json_is '[e["capacity_age_s"] < 600 for e in d if e["entry"]["code"]=="primary-care"][0]' true
expect 0 "${AG[@]}" --json service list --dimension psychosocial
json_is 'sorted(e["entry"]["code"] for e in d)' '["child-counselling", "counselling"]'
# a new capacity signal travels too
expect 0 "${CL[@]}" service capacity child-counselling limited
net_until 100 has_clinic "3 full limited open" \
    || fail "the new capacity did not reach the agency: $(n_clinic)"
ok

# ---- matching: an adult in dakar who speaks wo, social and psychosocial needs
expect 0 "${AG[@]}" --json case add --given Awa --family Diop --birth 1990-04-01 \
    --sex female --language wo --needs social,psychosocial
CASE=$(json 'd["id"]')
expect 0 "${AG[@]}" --json service match --case "$CASE" --grid "$GRID"
# primary care: +40 social +25 grid +20 region +10 wo -30 full = 65;
# counselling: +40 psychosocial +25 grid +0 thies -10 no wo +15 open = 70
json_is '[s["code"] for s in d["suggestions"]]' '["counselling", "primary-care"]'
json_is '[s["score"] for s in d["suggestions"]]' '[70, 65]'
json_is '"-30 capacity full" in d["suggestions"][1]["reasons"]' true
json_is '[e["code"] for e in d["excluded"]]' '["child-counselling"]'
expect 0 "${AG[@]}" service match --case "$CASE" --grid "$GRID" --lowest psychosocial
out_has "lowest survey dimension"

# ---- refer to a full service: a warning, then confirmed
expect 0 "${AG[@]}" consent add --case "$CASE" --sectors health,mhpss \
    --given-by returnee --expires 2099-01-01
expect 1 "${AG[@]}" refer --case "$CASE" --to clinic --service primary-care
err_has "full"
err_has "confirm-full"
expect 0 "${AG[@]}" --json refer --case "$CASE" --to clinic --service primary-care --confirm-full
REF=$(json 'd["id"]')

# ---- the slip: PNG, an independent decoder, QR version, no personal data
expect 0 "${AG[@]}" --json slip "$REF" --png "$T/slip.png" --days 10
CODE=$(json 'd["code"]')
json_is 'd["qr_version"] <= 7 and d["qr_level"] == "M"' true
json_is 'len(d["code"])' 158
DECODED=$(zbarimg --quiet --raw "$T/slip.png")
[ "$DECODED" = "$CODE" ] || fail "zbarimg read '$DECODED', wanted '$CODE'"
ok
python3 - "$CODE" "$REF" <<'PY' || fail "the token holds something personal"
import sys
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
t, out = sys.argv[1], bytearray()
for i in range(0, len(t), 3):
    c = [A.index(x) for x in t[i:i + 3]]
    n = sum(v * 45 ** k for k, v in enumerate(c))
    out += n.to_bytes(2 if len(c) == 3 else 1, "big")
assert len(out) == 105 and out[0] == 1, len(out)
assert out[1:17].hex() == sys.argv[2]
for word in (b"Awa", b"Diop", b"1990", b"female", b"wo", b"sn/", b"clinic"):
    assert word not in out, word
PY
ok
expect 0 "${AG[@]}" slip "$REF" --svg "$T/slip.svg"
grep -q "<svg" "$T/slip.svg" || fail "no SVG written"
ok

# ---- the staff application: the directory with capacity, suggestions on
# the refer screen, the slip page, a provider's "check a slip" form
staff_add agency amina case-manager
staff_add clinic fatou provider
web_start ag agency
web_start cl clinic
web_login ag amina "$T/jar-ag"
page() { curl -s -b "$1" "$2" >"$T/page" || fail "GET $2"; }
page_has() { grep -qF -- "$1" "$T/page" || FAIL_LOG=$T/page fail "the page lacks '$1'"; ok; }
page "$T/jar-ag" "${WEB_URL[ag]}/services?region=dakar"
page_has "primary-care"
page_has "cap-full"
page "$T/jar-ag" "${WEB_URL[ag]}/case/$CASE"
page_has "Suggested services"
page_has "+40 meets the psychosocial need"
page "$T/jar-ag" "${WEB_URL[ag]}/slip/$REF"
page_has "<svg"
page_has "slip-code"
web_login cl fatou "$T/jar-cl"
body=$(python3 -c 'import sys, urllib.parse as u; print("csrf=%s&code=%s" % (sys.argv[1], u.quote(sys.argv[2], safe="")))' "$CSRF" "$CODE")
curl -s -b "$T/jar-cl" -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "$body" "${WEB_URL[cl]}/slip" >"$T/page" || fail "POST /slip"
page_has "Valid slip"
page_has "sn/agency"
# the provider sets its capacity on the services page
page "$T/jar-cl" "${WEB_URL[cl]}/services"
page_has 'name="state"'
code=$(curl -s -o "$T/page" -w '%{http_code}' -b "$T/jar-cl" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "csrf=$CSRF&code=child-counselling&state=full&free=0" \
    "${WEB_URL[cl]}/services")
[ "$code" = 303 ] || fail "POST /services answered $code"
ok
expect 0 "${CL[@]}" --json service list --code child-counselling
json_is 'd[0]["entry"]["capacity"]["state"]' full
CSRF_PRV=$CSRF

# ---- a supervisor keeps the clinic's catalogue from the staff application
staff_add clinic moussa supervisor
web_login cl moussa "$T/jar-sup"
CSRF_SUP=$CSRF
# post JAR PATH BODY: the status code; the page in $T/page
post() {
    curl -s -o "$T/page" -w '%{http_code}' -b "$1" \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary "$3" "${WEB_URL[cl]}$2"
}
svc_version() {
    passerelle "${CL[@]}" service export >"$T/cat.json" || fail "service export"
    python3 -c 'import json,sys; print(json.loads(json.load(open(sys.argv[1]))["doc"])["version"])' "$T/cat.json"
}
page "$T/jar-sup" "${WEB_URL[cl]}/services"
page_has 'href="/services/new"'
page_has 'href="/services/edit/primary-care"'
page "$T/jar-sup" "${WEB_URL[cl]}/services/new"
page_has 'name="code" required'
page_has '<option value="legal">'
code=$(post "$T/jar-sup" /services/save "csrf=$CSRF_SUP&mode=new&code=legal-aid&sector=legal&name_en=Legal+aid&languages=fr%2C+wo%2C&min_age=18&hours=Tue+9-12&region=dakar&sex=any&status=active")
[ "$code" = 303 ] || FAIL_LOG=$T/page fail "POST /services/save answered $code"
ok
expect 0 "${CL[@]}" --json service list --code legal-aid
json_is 'd[0]["own"], d[0]["entry"]["languages"], d[0]["entry"]["min_age"], d[0]["entry"]["name_en"], d[0]["entry"]["sector"]' \
    '[true, ["fr", "wo"], 18, "Legal aid", "legal"]'
V1=$(svc_version)
# refused forms change nothing and come back as they were typed
code=$(post "$T/jar-sup" /services/save "csrf=$CSRF_SUP&mode=new&code=legal-aid&sector=legal&name_en=Other+legal+aid")
[ "$code" = 409 ] || FAIL_LOG=$T/page fail "a second legal-aid answered $code, not 409"
page_has "exists"
page_has 'value="Other legal aid"'
code=$(post "$T/jar-sup" /services/save "csrf=$CSRF_SUP&mode=new&code=Bad+Code&sector=legal&name_en=X")
[ "$code" = 400 ] || FAIL_LOG=$T/page fail "a bad code answered $code, not 400"
page_has "code is a slug"
code=$(post "$T/jar-sup" /services/save "csrf=$CSRF_SUP&mode=new&code=night-shelter&sector=housing&name_en=Shelter&max_age=old")
[ "$code" = 400 ] || FAIL_LOG=$T/page fail "a bad age answered $code, not 400"
page_has "whole years"
page_has 'value="night-shelter"'
code=$(post "$T/jar-sup" /services/save "csrf=$CSRF_SUP&mode=new&code=night-shelter&sector=housing")
[ "$code" = 400 ] || FAIL_LOG=$T/page fail "a service without a name answered $code, not 400"
page_has "give a name"
[ "$(svc_version)" = "$V1" ] || fail "a refused form changed the catalogue"
ok
expect 0 "${CL[@]}" --json service list --code night-shelter
json_is 'len(d)' 0
# a provider may set capacity, not change the catalogue
code=$(post "$T/jar-cl" /services/save "csrf=$CSRF_PRV&mode=new&code=x-ray&sector=health&name_en=X-ray")
[ "$code" = 403 ] || fail "a provider's POST /services/save answered $code, not 403"
code=$(curl -s -o /dev/null -w '%{http_code}' -b "$T/jar-cl" "${WEB_URL[cl]}/services/new")
[ "$code" = 403 ] || fail "a provider's GET /services/new answered $code, not 403"
ok
# a change keeps the capacity signal; the form shows the stored values
expect 0 "${CL[@]}" service capacity legal-aid limited --free 3
page "$T/jar-sup" "${WEB_URL[cl]}/services/edit/legal-aid"
page_has 'value="Legal aid"'
page_has 'value="fr, wo"'
page_has 'value="18"'
page_has 'name="confirm"'
code=$(post "$T/jar-sup" /services/save "csrf=$CSRF_SUP&mode=edit&code=legal-aid&sector=legal&name_en=Legal+aid+and+papers&name_fr=Aide+juridique&languages=fr&region=dakar&sex=any&status=active")
[ "$code" = 303 ] || FAIL_LOG=$T/page fail "the change answered $code"
expect 0 "${CL[@]}" --json service list --code legal-aid
json_is 'd[0]["entry"]["name_en"], d[0]["entry"]["name_fr"], d[0]["entry"]["languages"], "min_age" in d[0]["entry"], d[0]["entry"]["capacity"]["state"]' \
    '["Legal aid and papers", "Aide juridique", ["fr"], false, "limited"]'
code=$(curl -s -o "$T/page" -w '%{http_code}' -b "$T/jar-sup" "${WEB_URL[cl]}/services/edit/no-such")
[ "$code" = 404 ] || fail "the edit page of an unknown code answered $code"
ok
# the change reaches the agency through the broker's directory
ag_sees() { passerelle "${AG[@]}" --json service list --code legal-aid 2>/dev/null | grep -q "$1"; }
net_until 150 ag_sees '"Legal aid and papers"' \
    || fail "the agency never saw the supervisor's change"
ok
# the supervisor's screens in a real browser: no serious or critical
# accessibility violation, at a phone's width and a desk's
c=$(awk '$6 ~ /pl_session$/ {print $6 "=" $7; exit}' "$T/jar-sup")
node "$WEBT/a11y.js" "$c" "${PL_BIN_DIR:-$T}/web-artifacts/services" \
    "${WEB_URL[cl]}/services" "${WEB_URL[cl]}/services/new" \
    "${WEB_URL[cl]}/services/edit/legal-aid" >"$T/a11y.out" 2>&1 \
    || FAIL_LOG=$T/a11y.out fail "accessibility of the catalogue screens"
ok
# removal needs the confirmation box
code=$(post "$T/jar-sup" /services/remove "csrf=$CSRF_SUP&code=legal-aid")
[ "$code" = 400 ] || fail "a removal without confirmation answered $code"
expect 0 "${CL[@]}" --json service list --code legal-aid
json_is 'len(d)' 1
code=$(post "$T/jar-sup" /services/remove "csrf=$CSRF_SUP&code=legal-aid&confirm=yes")
[ "$code" = 303 ] || FAIL_LOG=$T/page fail "the removal answered $code"
expect 0 "${CL[@]}" --json service list --code legal-aid
json_is 'len(d)' 0
ag_gone() { ! passerelle "${AG[@]}" --json service list --code legal-aid 2>/dev/null | grep -q legal-aid; }
net_until 150 ag_gone || fail "the agency still offers the removed service"
ok
# each change is audited under the supervisor's name
expect 0 "${CL[@]}" audit export --json
python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["entries"]:
    t = json.loads(e["text"])
    if t.get("kind") == "catalogue":
        print(t.get("by"), t.get("event"), t.get("detail"))' "$T/out" >"$T/audit"
grep -qx "moussa service-add code=legal-aid" "$T/audit" || FAIL_LOG=$T/audit fail "no audit of the supervisor's add"
grep -qx "moussa service-change code=legal-aid" "$T/audit" || FAIL_LOG=$T/audit fail "no audit of the change"
grep -qx "moussa service-remove code=legal-aid" "$T/audit" || FAIL_LOG=$T/audit fail "no audit of the removal"
grep -qx "owner service-add code=primary-care" "$T/audit" || FAIL_LOG=$T/audit fail "no audit of the owner's add"
ok
web_stop_checked

# ---- the clinic checks it offline
net_stop_node broker
expect 0 "${CL[@]}" --json slip check -- "$CODE"
json_is 'd["valid"] and d["for_this_node"] and d["sender"] == "sn/agency"' true
json_is 'd["referral"]' "$REF"
BAD=$(python3 -c 'import sys; c=sys.argv[1]; i=40; print(c[:i] + ("1" if c[i] != "1" else "2") + c[i+1:])' "$CODE")
expect 1 "${CL[@]}" slip check -- "$BAD"
err_has "not"
expect 1 "${CL[@]}" slip check "NOT A SLIP"
net_start_broker

# ---- cancelled: once the clinic has heard
cl_has() { passerelle "${CL[@]}" referrals --json | grep -q "$1"; }
net_until 100 cl_has '"received"' \
    || fail "the clinic never received the referral"
expect 0 "${AG[@]}" cancel "$REF" --reason duplicate
net_until 100 cl_has '"cancelled"' \
    || fail "the clinic never heard of the cancellation"
expect 1 "${CL[@]}" --json slip check -- "$CODE"
json_is 'd["cancelled"] and not d["valid"]' true

# ---- moved clock: 11 days later the slip has expired, and the capacity
# signal's age shows it
net_stop_node clinic
PASSERELLE_TEST_CLOCK_OFFSET=$((11 * 86400)) net_start_node clinic
expect 1 "${CL[@]}" slip check -- "$CODE"
out_has "expired"
net_stop_node agency
PASSERELLE_TEST_CLOCK_OFFSET=$((15 * 86400)) net_start_node agency
expect 0 "${AG[@]}" --json service match --case "$CASE" --grid "$GRID"
json_is '"capacity signal older than 14 days: unknown" in d["suggestions"][0]["reasons"]' true
json_is '[s["score"] for s in d["suggestions"]]' '[95, 55]'
echo "test_services: ok ($CHECKS checks)"
