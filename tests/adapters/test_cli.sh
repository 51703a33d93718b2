#!/usr/bin/env bash
# test_cli - the `passerelle` CLI without daemons: init, whoami, authority
# init/enroll/revoke/list, usage errors, file permissions, foreign and
# badly timed certificates. Runs `passerelle` from PATH (ctest puts the
# build folder first on it); every check prints what failed and exits 1.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
if ! command -v passerelle >/dev/null 2>&1; then
    echo "test_cli: FAIL: 'passerelle' not found on PATH" \
        "(PL_BIN_DIR=${PL_BIN_DIR:-unset}); build the passerelle target" >&2
    exit 1
fi
command -v python3 >/dev/null 2>&1 || { echo "test_cli: FAIL: python3 missing" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/test_cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

TEST_NAME=test_cli
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
mode() { stat -c %a "$1"; }

# ---- init
expect 0 init --home N1
for k in sign box curve; do
    for s in public secret; do
        [ -f N1/keys/$k.$s ] || fail "init did not make N1/keys/$k.$s"
        ok
    done
    [ "$(mode N1/keys/$k.secret)" = 600 ] || fail "N1/keys/$k.secret mode $(mode N1/keys/$k.secret)"
    ok
done
nkeys=$(find N1/keys -type f | wc -l)
[ "$nkeys" -eq 6 ] || fail "N1/keys holds $nkeys files, wanted 6"
[ "$(mode N1/keys)" = 700 ] || fail "N1/keys mode $(mode N1/keys), wanted 700"
[ "$(mode N1)" = 700 ] || fail "N1 mode $(mode N1), wanted 700"
ok
out_has "sign"
before=$(cat N1/keys/sign.public)
expect 1 init --home N1
err_has "exist"
[ "$(cat N1/keys/sign.public)" = "$before" ] || fail "second init changed the keys"
ok
expect 0 --home N1b init # the global --home works too
[ -f N1b/keys/box.secret ] || fail "global --home: no keys made"
expect 0 init --home N1c --json
json_is 'len(d["keys"]["box_key_id"])' 16

# whoami before enrolment
expect 1 --home N1 whoami
err_has "not enrolled: N1/node.cert missing"
[ ! -s "$T/out" ] || fail "whoami before enrolment wrote to stdout"

# ---- authority init, enroll, whoami
expect 0 authority init --home A --network sn
[ "$(mode A/keys/authority.secret)" = 600 ] || fail "authority.secret mode $(mode A/keys/authority.secret)"
ok
expect 1 authority init --home A --network sn
err_has "exists already"
usage authority init --home A2 --network "Not A Slug"
usage authority init --home A2

expect 0 authority enroll --home A --node N1 --name agency --sector agency \
    --country sn --region dakar --display-name "Agence de réintégration" \
    --organisation "ANIMA" --services case-management,counselling \
    --home-broker broker
s1=$(cat "$T/out")
[[ "$s1" =~ ^[0-9]+$ ]] || fail "enroll printed '$s1', not a serial"
ok
[ "$(mode N1/node.cert)" = 644 ] || fail "node.cert mode $(mode N1/node.cert)"
[ -f N1/authority.pub ] || fail "enroll did not write N1/authority.pub"
cmp -s N1/authority.pub A/authority.pub || fail "N1/authority.pub differs from A/authority.pub"
ok

expect 0 --home N1 whoami
out_has "sn/agency"
out_has "status        valid"
expect 0 --home N1 whoami --json
json_is 'd["address"]' sn/agency
json_is 'd["name"]' agency
json_is 'd["network"]' sn
json_is 'd["display_name"]' "Agence de réintégration"
json_is 'd["organisation"]' ANIMA
json_is 'd["sector"]' agency
json_is 'd["country"]' SN
json_is 'd["region"]' dakar
json_is 'd["services"]' '["case-management", "counselling"]'
json_is 'd["home_broker"]' sn/broker
json_is 'd["serial"]' "$s1"
json_is 'd["status"]' valid
json_is 'd["warning"]' null
json_is 'd["keys_match"]' true
json_is 'd["days_left"] in (364, 365)' true
json_is 'd["not_after"].endswith("Z") and "T" in d["not_after"]' true
json_is 'd["keys"]["sign"] == open("N1/keys/sign.public").read().strip()' true
json_is 'd["keys"]["box"] == open("N1/keys/box.public").read().strip()' true
json_is 'd["keys"]["curve"] == open("N1/keys/curve.public").read().strip()' true
json_is 'sorted(d)' '["address", "country", "days_left", "dimension", "display_name", "errors", "home_broker", "keys", "keys_match", "name", "network", "not_after", "not_before", "organisation", "region", "sector", "serial", "services", "status", "warning"]'
expect 0 whoami --home N1 --json # --home after the command word
json_is 'd["address"]' sn/agency
expect 0 --json --home N1 whoami # global --json
json_is 'd["address"]' sn/agency

# enroll of a home without keys makes them; serials increase
[ ! -e N2 ] || fail "N2 exists already"
expect 0 authority enroll --home A --node N2 --name clinic --sector health --country SN
s2=$(cat "$T/out")
if ! [[ "$s2" =~ ^[0-9]+$ ]] || [ "$s2" -le "$s1" ]; then
    fail "second serial '$s2' not above '$s1'"
fi
ok
[ -f N2/keys/sign.secret ] || fail "enroll did not make N2's keys"
[ "$(mode N2/keys/box.secret)" = 600 ] || fail "N2/keys/box.secret mode $(mode N2/keys/box.secret)"
ok
expect 0 --home N2 whoami --json
json_is 'd["keys_match"]' true
json_is 'd["dimension"] is not None' true
json_is 'd["display_name"]' clinic
json_is 'd["region"]' null

# re-enrolling a home issues a new certificate with a new serial
expect 0 authority enroll --home A --node N2 --name clinic --sector health --country SN --json
json_is 'd["serial"] > '"$s2" true
json_is 'd["address"]' sn/clinic
s3=$(json 'd["serial"]')
expect 0 authority list --home A --json
json_is 'len(d)' 3
json_is '[c["superseded"] for c in d]' '[false, true, false]'
expect 0 authority list --home A
out_has "sn/clinic"

# keys that no longer match the certificate
cp N1c/keys/box.public N2/keys/box.public
expect 0 --home N2 whoami --json
json_is 'd["keys_match"]' false
expect 0 --home N2 whoami
out_has "ERROR: the box key"

# ---- revocation
expect 0 authority revoke --home A --serial "$s1"
n1=$(cat "$T/out")
[[ "$n1" =~ ^[0-9]+$ ]] || fail "revoke printed '$n1', not a list number"
ok
err_has "A/revoked"
[ -f A/revoked ] || fail "revoke did not write A/revoked"
cp A/revoked N1/revoked
expect 0 --home N1 whoami
out_has "status        revoked"
expect 0 --home N1 whoami --json
json_is 'd["status"]' revoked
expect 0 authority revoke --home A --serial "$s3" --json
json_is 'd["number"] > '"$n1" true
json_is 'd["revoked"]' "[$s1, $s3]"
expect 1 authority revoke --home A --serial 999
err_has "never issued"
usage authority revoke --home A --serial abc
usage authority revoke --home A
expect 0 authority list --home A --json
json_is '[c["status"] for c in d]' '["revoked", "valid", "revoked"]'

# ---- usage errors: exit 2, stderr only
usage frobnicate
usage
usage --no-such-option whoami
usage whoami --no-such-option
usage whoami
usage init
usage authority enroll --node N9 --name x --sector health --country SN
usage authority enroll --home A --node N9 --name x --sector plumbing --country SN
err_has "child-protection" # the error lists the valid sectors
usage authority enroll --home A --node N9 --name x --sector health --country SEN
usage authority enroll --home A --node N9 --name x --sector health --country 1N
usage authority enroll --home A --node N9 --name x --sector health --country SN --not-before 2025-02-30
usage authority enroll --home A --node N9 --name x --sector health --country SN --not-before tomorrow
usage authority enroll --home A --node N9 --name x --sector health --country SN --days 0
usage authority enroll --home A --node N9 --name x --sector health --country SN --days -5
usage authority enroll --home A --node N9 --name "Bad Name" --sector health --country SN
usage authority enroll --home A --node N9 --name x --sector health --country SN --region "Dakar City"
usage authority enroll --home A --node N9 --name x --sector health --country SN --bogus
usage authority enroll --home A --node N9 --name x --sector health --country SN --days
usage authority frobnicate --home A
[ ! -e N9 ] || fail "a refused enroll created N9"
ok

# ---- --help everywhere: exit 0, text on stdout
for cmd in "" "init" "whoami" "authority" "authority init" "authority enroll" \
    "authority revoke" "authority list"; do
    # shellcheck disable=SC2086
    expect 0 $cmd --help
    out_has "usage"
done
expect 0 -h
expect 0 help authority enroll
out_has "not-before"
expect 0 --version
out_has "passerelle"

# ---- a secret readable by others is refused, naming the file and mode
chmod 644 A/keys/authority.secret
expect 1 authority enroll --home A --node N3 --name x --sector health --country SN
err_has "A/keys/authority.secret"
err_has "permissions"
[ ! -e N3 ] || fail "a refused enroll created N3"
ok
expect 1 authority revoke --home A --serial "$s2"
err_has "A/keys/authority.secret"
chmod 600 A/keys/authority.secret
# whoami reads only public files but points at an unsafe secret
chmod 644 N2/keys/sign.secret
expect 0 --home N2 whoami
out_has "sign.secret has unsafe permissions"
chmod 600 N2/keys/sign.secret

# ---- a certificate from another network's authority
expect 0 authority init --home B --network ml
expect 0 authority enroll --home B --node M1 --name mairie --sector coordination --country ML
cp M1/node.cert N1/node.cert
expect 1 --home N1 whoami
err_has "signature"
err_has "authority"
[ ! -s "$T/out" ] || fail "whoami of a foreign certificate wrote to stdout"
ok

# ---- certificates about to expire, or not yet valid
expect 0 authority enroll --home A --node N4 --name short --sector legal --country SN --days 10
expect 0 --home N4 whoami --json
json_is 'd["status"]' expiring-soon
json_is 'd["warning"] is not None and "expires in" in d["warning"]' true
json_is 'd["days_left"] in (9, 10)' true
expect 0 --home N4 whoami
out_has "WARNING: certificate expires in"

future=$(date -u -d '+40 days' +%F)
expect 0 authority enroll --home A --node N5 --name later --sector tvet --country SN --not-before "$future"
expect 0 --home N5 whoami --json
json_is 'd["status"]' not-yet-valid
json_is 'd["not_before"]' "${future}T00:00:00Z"

past=$(date -u -d '-20 days' +%F)
expect 0 authority enroll --home A --node N6 --name old --sector gbv --country SN --not-before "$past" --days 5
expect 0 --home N6 whoami --json
json_is 'd["status"]' expired
json_is 'd["days_left"] < 0' true

# the test clock moves time without sleeping (PASSERELLE_TEST_CLOCK_OFFSET)
PASSERELLE_TEST_CLOCK_OFFSET=$((400 * 86400)) expect 0 --home N2 whoami --json
json_is 'd["status"]' expired

# ---- every command of the table answers --help (exit 0, text on stdout)
for c in $(passerelle --help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}'); do
    expect 0 "$c" --help
    [ -s "$T/out" ] || fail "passerelle $c --help printed nothing"
done

# ---- values the daemon would refuse are usage errors before any daemon
# is asked (N1 has no daemon running)
usage --home N1 refer --case abcdef --to clinic --service s --priority soon
err_has "emergency, urgent or normal"
usage --home N1 consent add --case abcdef --sectors health --given-by nobody --expires 2027-01-01
usage --home N1 consent add --case abcdef --sectors health --given-by returnee --expires 2027-02-30
usage --home N1 complete abcdef --outcome maybe
usage --home N1 case add --given A --family B --birth 2020-02-31
usage --home N1 case add --given A --family B --birth 2010-01-01 --uasc alone
usage --home N1 referrals --status nope
usage --home N1 referrals --direction sideways
usage --home N1 hold abcdef
usage --home N1 refer --case abcdef
# well-formed values reach the daemon check: "not running", exit 1
expect 1 --home N1 refer --case abcdef --to clinic --service s --priority urgent
err_has "not running"

echo "test_cli: ok ($CHECKS checks)"
