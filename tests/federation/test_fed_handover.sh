#!/usr/bin/env bash
# test_fed_handover - a handover of a child's case across the border
# (issue 13, DESIGN.md §7.2 over §7.1), with two real authorities, two
# federated brokers and real nodes on 127.0.0.1: sn's agency hands a
# separated child over to gn's agency; gn's agency notifies gn's
# child-protection node (same region), cannot accept before its cp-ack,
# then accepts (a new case at gn with the data sent) and records the
# arrival; every step reaches the other side through both brokers, and
# both audit chains verify. The child's name is in no file of the foreign
# broker, and in no log.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker passerelle-node python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fed_handover: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-fho.XXXXXX")
TEST_NAME=test_fed_handover
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fed_net.sh"
cleanup() {
    fed_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

fed_setup
fed_start_broker 2
fed_start_broker 1
for n in agency gagency gcp; do fed_start_node "$n"; done
FAIL_LOG=$T/agency.log

p() { local h=$1; shift; passerelle --home "$T/$h" "$@"; }
# sees HOME ADDRESS: the node's directory lists ADDRESS
sees() { p "$1" --json directory 2>/dev/null | grep -q "\"$2\""; }
# status HOME H
status() {
    p "$1" --json handover show "$2" 2>/dev/null | python3 -c \
        'import json,sys; print(json.load(sys.stdin).get("status",""))' 2>/dev/null
}
wait_status() {
    fed_until 300 sh -c "[ \"\$(passerelle --home '$T/$1' --json handover show '$2' 2>/dev/null \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])' 2>/dev/null)\" = '$3' ]" \
        || fail "handover $2 at $1 is '$(status "$1" "$2")', wanted '$3'"
    ok
}
fed_until 300 sees agency gn/agency || fail "sn/agency never saw gn/agency"
ok

MRK="Conde$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
C=$(printf '{"given":"Mariama","family":"%s","birth":"2012-05-05","uasc":"separated"}' "$MRK" \
    | p agency case add --stdin)
# a child: no send without the best-interests determination
expect 1 --home "$T/agency" handover --case "$C" --to gn/agency \
    --arrival 2099-03-01 --consent-transfer yes
err_has "best-interests determination"
H=$(p agency --as "Awa Diop" handover --case "$C" --to gn/agency --arrival 2099-03-01 \
    --consent-transfer yes --bid-ref BID-SN-12 --bid-date 2025-02-01 \
    --bid-outcome reunification)
[ ${#H} -eq 32 ] || fail "no handover id: '$H'"
ok
wait_status gagency "$H" sent
fed_until 300 sh -c "passerelle --home '$T/gcp' --json notifications | grep -q '$H'" \
    || fail "gn's child-protection node was not notified"
ok
expect 0 --home "$T/gagency" handover ack "$H"
wait_status agency "$H" acknowledged
expect 1 --home "$T/gagency" handover accept "$H"
err_has "cp-ack"
expect 0 --home "$T/gcp" handover cp-ack "$H"
fed_until 300 sh -c "passerelle --home '$T/gagency' --json handover show '$H' | grep -q cp_ack" \
    || fail "the cp-ack never reached gn's agency"
ok
expect 0 --home "$T/gagency" --json handover accept "$H"
NC=$(json 'd["case"]')
wait_status agency "$H" accepted
expect 0 --home "$T/gagency" --json case show "$NC"
json_is 'd["family"]' "$MRK"
json_is 'd["handed_over"]["from"]' "sn/agency"
expect 0 --home "$T/agency" --json case show "$C"
json_is 'd["close_reason"]' "transferred"
expect 0 --home "$T/gagency" handover arrived "$H"
wait_status agency "$H" arrived
for n in agency gagency gcp; do
    expect 0 --home "$T/$n" --json audit verify
    json_is 'd["ok"]' true
done

fed_stop
if grep -rqa "$MRK" "$T/B1" "$T/B2" "$T"/*.log; then
    fail "the child's name is in a broker's files or a log"
fi
ok
echo "test_fed_handover: ok ($CHECKS checks)"
