#!/usr/bin/env bash
# test_store_format - the stores record their format version (issue 19):
#  - old format: a node store and a broker spool made by this test, holding
#    a case and a referral queued for an offline node, are rewritten
#    without their "format" record (tests/tools/pl_mdb_edit.c: exactly
#    what the previous release wrote, which had no such record). The
#    daemons start on them, copy each to <store>.bak-v1/ first (0700, a
#    data.mdb of 0600), migrate, and everything is still there: the case
#    lists, the queued referral reaches the clinic;
#  - newer format: a store whose record says 99 is refused by each daemon
#    (exit 1, a message naming 99 and 2), and its file is left unchanged.
set -euo pipefail
TEST_NAME=test_store_format
if [ -n "${PL_BIN_DIR:-}" ]; then PATH="$PL_BIN_DIR:$PATH"; fi
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-sfmt.XXXXXX")
source "$SRC/tests/lib/cli_assert.sh"
source "$SRC/tests/adapters/cli_net.sh"
trap 'net_stop; rm -rf "$T"' EXIT
command -v mdb_dump >/dev/null || fail "mdb_dump missing (lmdb-utils)"

# rewrite DB KEY "" STORE: deletes the record KEY of database DB in STORE;
# rewrite DB KEY HEX STORE: sets it to HEX (tests/tools/pl_mdb_edit.c: one
# LMDB write transaction, every other record and flag as it was)
rewrite() {
    if [ -n "$3" ]; then
        pl-mdb-edit "$4" "$1" "$2" "$3" || fail "could not set $1/$2 in $4"
    else
        pl-mdb-edit "$4" "$1" "$2" || fail "no $1/$2 record in $4"
    fi
}

net_setup
net_start_broker
net_start_node agency
EXP=$(date -u -d '+300 days' +%Y-%m-%d)
CASE=$(printf '%s' '{"given":"Fatou","family":"Sarr","birth":"1991-03-04"}' \
    | passerelle --home "$T/agency" case add --stdin)
passerelle --home "$T/agency" consent add --case "$CASE" --sectors health \
    --given-by returnee --expires "$EXP" >/dev/null
# the broker publishes the directory once the node is connected
net_until 200 sh -c "passerelle --home '$T/agency' directory 2>/dev/null | grep -q clinic" \
    || FAIL_LOG=$T/agency.log fail "the clinic never showed in the agency's directory"
REF=$(passerelle --home "$T/agency" refer --case "$CASE" --to clinic --service primary-care)
# the referral leaves the outbox: queued at the broker for the offline clinic
net_until 300 sh -c "passerelle broker status --home '$T/B' --json | grep -q '\"queued\": *[1-9]'" \
    || FAIL_LOG=$T/broker.log fail "nothing queued at the broker for the offline clinic"
net_stop
ok

# the previous release's format: no record in either store
F=format
rewrite settings $F "" "$T/agency/store"
rewrite meta $F "" "$T/B/store"
mdb_dump -p -s settings "$T/agency/store" | grep -qx ' format' && fail "node store still has a format record"
ok
: >"$T/broker.log"
: >"$T/agency.log"
net_start_broker
net_start_node agency
net_until 100 grep -q store_migrated "$T/agency.log" || FAIL_LOG=$T/agency.log fail "node: no store_migrated"
grep -q 'store_migrated from=1 to=2 backup=.*store.bak-v1' "$T/agency.log" || FAIL_LOG=$T/agency.log fail "node: migration line"
ok
grep -q "store_backup from=1 path=$T/B/store.bak-v1" "$T/broker.log" || FAIL_LOG=$T/broker.log fail "broker: no backup before its migration"
ok
for s in "$T/agency/store" "$T/B/store"; do
    [ "$(stat -c %a "$s.bak-v1")" = 700 ] || fail "$s.bak-v1 is not 0700"
    [ "$(stat -c %a "$s.bak-v1/data.mdb")" = 600 ] || fail "$s.bak-v1/data.mdb is not 0600"
    mdb_stat -a "$s.bak-v1" >/dev/null || fail "$s.bak-v1 is not a readable LMDB store"
    ok
done
mdb_dump -p -s settings "$T/agency/store.bak-v1" | grep -qx ' format' && fail "the backup is not of the old store"
ok
run --home "$T/agency" --json case list
grep -q "$CASE" "$T/out" || fail "the case is gone after the migration"
ok
net_start_node clinic
net_until 300 sh -c "passerelle --home '$T/clinic' --json referrals | grep -q '${REF:0:12}'" \
    || FAIL_LOG=$T/broker.log fail "the referral queued before the migration did not reach the clinic"
ok
net_stop
mdb_dump -p -s settings "$T/agency/store" | grep -qx ' format' || fail "node: format not recorded after migration"
mdb_dump -p -s meta "$T/B/store" | grep -qx ' format' || fail "broker: format not recorded after migration"
ok
# a second start: nothing to migrate, no second backup
: >"$T/agency.log"
net_start_node agency
net_stop
! grep -q store_migrated "$T/agency.log" || fail "migrated twice"
[ ! -e "$T/agency/store.bak-v1.1" ] || fail "a second backup was made"
ok

# a newer format: refused, nothing changed (99 as u32 little endian)
rewrite settings $F 63000000 "$T/agency/store"
rewrite meta $F 63000000 "$T/B/store"
for d in agency B; do sha256sum "$T/$d/store/data.mdb" >"$T/$d.sum"; done
RC=0
timeout 20 passerelle-node --home "$T/agency" --broker "$NET_EP" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" -eq 1 ] || fail "node on a newer store exited $RC, wanted 1"
grep -q "format version 99, newer than this passerelle-node" "$T/err" && grep -q "(2 at most)" "$T/err" \
    || fail "node: no clear message for a newer store"
ok
RC=0
timeout 20 passerelle-broker --home "$T/B" --listen "$NET_EP" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" -eq 1 ] || fail "broker on a newer store exited $RC, wanted 1"
grep -q "format version 99, newer than this passerelle-broker" "$T/err" || fail "broker: no clear message for a newer store"
ok
for d in agency B; do
    sha256sum -c --quiet "$T/$d.sum" || fail "$d: the newer store was changed"
    ok
done
echo "test_store_format: ok ($CHECKS checks)"
