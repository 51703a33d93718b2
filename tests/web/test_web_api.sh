#!/usr/bin/env bash
# test_web_api - the REST/JSON API of passerelle-web (issue 16) against
# real processes: a broker, an agency and a clinic node with real LMDB
# stores and CurveZMQ keys, and one passerelle-web per node. API tokens
# are made with `passerelle token add` (shown once; `token list` shows no
# token), one is revoked, one expires (the daemon's test clock moves two
# days). tests/web/api_check.py then drives every /api/v1/ route (the
# list comes from `passerelle-web --list-routes`): valid, revoked,
# expired and wrong-role tokens, Idempotency-Key replays that act once,
# malformed JSON, the session cookie, the rate limit, and the OpenAPI
# document against the routes both ways. Here: a 10 MB body is refused
# with a problem and nothing stored; no token and no personal data in
# any web or daemon log; every process exits cleanly.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for exe in passerelle passerelle-node passerelle-broker passerelle-web \
    pl-ctlraw python3 setpriv curl; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_web_api: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-webapi.XXXXXX")
TEST_NAME=test_web_api
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
export PASSERELLE_TEST_HOOKS=1 # test.session-clock: the token clock
API_RATE=150

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
staff_add agency amina case-manager

# ---- tokens: shown once, stored hashed, listed without the token
tok() { # NODE NAME ROLE [ARGS]: the new token's text
    local node=$1 name=$2 role=$3
    shift 3
    passerelle --home "$T/$node" --json token add "$name" --role "$role" "$@" \
        >"$T/out" 2>"$T/err" || fail "token add $name"
    json 'd["token"]'
}
EHR=$(tok agency ehr case-manager)
[ "${#EHR}" = 64 ] || fail "a token is 64 hex digits, got '$EHR'"
ok
{
    printf '{"ehr": "%s"' "$EHR"
    printf ', "desk": "%s"' "$(tok agency desk provider)"
    printf ', "sup": "%s"' "$(tok agency sup supervisor)"
    printf ', "coord": "%s"' "$(tok agency coord coordinator)"
    printf ', "old": "%s"' "$(tok agency old case-manager --expires 1)"
    printf ', "gone": "%s"' "$(tok agency gone case-manager)"
    printf ', "burst": "%s"' "$(tok agency burst case-manager)"
    printf ', "lab": "%s"}\n' "$(tok clinic lab provider)"
} >"$T/tokens.json"
expect 0 --home "$T/agency" token revoke gone
out_has "token gone revoked"
expect 1 --home "$T/agency" token add ehr --role admin
err_has "exists"
usage --home "$T/agency" token add x --role root
usage --home "$T/agency" token add x --role admin --expires 0
usage --home "$T/agency" token add
expect 0 --home "$T/agency" token list
out_has "gone .*revoked"
grep -qiE '[0-9a-f]{64}' "$T/out" && fail "token list shows a token"
ok
expect 0 --home "$T/agency" --json token list
json_is 'len(d)' 7
# the store holds no token in clear (its hash is the key; values sealed)
grep -qa "$EHR" "$T/agency/store/data.mdb" 2>/dev/null && fail "a token in clear in the store"
ok

# ---- a fragment that defines a route again stops the start, in words
ASSETS=$(dirname "$(command -v passerelle-web)")/web-assets
cp -r "$ASSETS" "$T/assets"
printf '{"paths": {"/api/v1/cases": {"get": {"responses": {}}}}}\n' \
    >"$T/assets/openapi/zz-twice.json"
rc=0
passerelle-web --home "$T/agency" --listen 127.0.0.1:0 --assets "$T/assets" \
    >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "zz-twice.json: the operation of 'get' is defined twice" "$T/err" \
    || fail "a duplicate OpenAPI operation was accepted ($rc)"
ok
printf '{"paths": {}, "info": {}}\n' >"$T/assets/openapi/zz-twice.json"
rc=0
passerelle-web --home "$T/agency" --assets "$T/assets" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "paths and components only, not 'info'" "$T/err" \
    || fail "a fragment with another key was accepted ($rc)"
ok

passerelle-web --list-routes >"$T/routes.txt" || fail "--list-routes"
grep -q '^GET /api/v1/openapi.json ' "$T/routes.txt" || fail "no openapi route listed"
ok
web_start agency agency --api-rate "$API_RATE"
web_start clinic clinic --api-rate "$API_RATE"
AU=${WEB_URL[agency]}
CU=${WEB_URL[clinic]}

# ---- a 10 MB body: refused before it is read, a problem, nothing stored
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o "$T/page" -w '%{http_code}' -H "Authorization: Bearer $EHR" \
    -H 'Content-Type: application/json' --data-binary @"$T/big" "$AU/api/v1/cases" || true)
[ "$code" = 413 ] || fail "a 10 MB body answered $code"
grep -q '"status":413' "$T/page" || fail "the 413 is no problem: $(head -c 200 "$T/page")"
ok
expect 0 --home "$T/agency" --json case list
json_is 'len(d)' 0

# ---- the session cookie of a case manager, for the cookie checks
web_login agency amina "$T/jar"
COOKIE=$(awk '$6 == "pl_session" {print "pl_session=" $7}' "$T/jar")
[ -n "$COOKIE" ] || fail "no session cookie in the jar"

AU=$AU CU=$CU T=$T API_RATE=$API_RATE SESSION_COOKIE=$COOKIE SESSION_CSRF=$CSRF \
    CTLRAW_AGENCY="printf '%s' '{\"cmd\":\"test.session-clock\",\"args\":{\"advance_s\":172800}}' | pl-ctlraw --home '$T/agency'" \
    python3 "$HERE/api_check.py" || FAIL_LOG=$T/web-agency.log fail "api_check.py"
ok

# ---- what the tokens did is recorded under their names
expect 0 --home "$T/agency" --json audit export
grep -q 'api:ehr' "$T/out" || fail "the audit does not name api:ehr"
ok

# ---- the node daemon down: every page and the API answer 503 (one table,
# web_status_of), not 400 or 502 as pages once did, nor a 409 a client
# would not retry
net_stop_node agency
for path in / /cases /handovers /services /case/0123456789abcdef0123456789abcdef \
    /case/0123456789abcdef0123456789abcdef/timeline /out; do
    CODE=$(curl -s -o "$T/page" -w '%{http_code}' -b "$COOKIE" "$AU$path")
    [ "$CODE" = 503 ] || FAIL_LOG=$T/web-agency.log fail "GET $path with the daemon down answered $CODE"
    ok
done
CODE=$(curl -s -o "$T/page" -w '%{http_code}' -H "Authorization: Bearer $EHR" "$AU/api/v1/cases")
[ "$CODE" = 503 ] || fail "the API with the daemon down answered $CODE"
ok

# ---- no token and no personal data in any log
for f in "$T"/web-*.log "$T"/agency.log "$T"/clinic.log "$T"/broker.log; do
    for secret in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1])).values()))' "$T/tokens.json") \
        Zephyrine Quarkbottom Erasable; do
        grep -q -- "$secret" "$f" && fail "$(basename "$f") holds '${secret:0:8}...'"
        ok
    done
done
grep -q 'POST /api/v1/cases/:id/refer 200' "$T/web-agency.log" \
    || fail "the web log lacks the route template line"
ok
web_stop_checked
echo "test_web_api: ok ($CHECKS checks)"
