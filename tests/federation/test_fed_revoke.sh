#!/usr/bin/env bash
# test_fed_revoke - a foreign revocation takes effect at once at both
# brokers and at the nodes (issue 13, DESIGN.md §7.1): gn's authority
# revokes gn/agency; gn's broker reloads; within seconds sn's broker holds
# gn's new revocation list and no longer the certificate, sn/agency's
# directory no longer lists gn/agency and a send to it is refused at once,
# while gn/cp (not revoked) stays reachable.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker passerelle-node pl-testmsg python3 \
    setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fed_revoke: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-frev.XXXXXX")
TEST_NAME=test_fed_revoke
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
FAIL_LOG=$T/B1.log
dir_has() { # dir_has ADDRESS: sn/agency's directory lists it
    passerelle --home "$T/agency" directory --json >"$T/dir" 2>/dev/null \
        && grep -q "\"$1\"" "$T/dir"
}
fed_until 100 dir_has gn/agency || fail "sn/agency never saw gn/agency"
ok
dir_has gn/cp || fail "sn/agency does not see gn/cp"
ok
pl-testmsg --home "$T/agency" send --to gn/agency --payload before >/dev/null
got() { # got HOME N: N envelopes from sn/agency in HOME's inbox
    [ "$(pl-testmsg --home "$T/$1" list --json \
        | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["from"] == "sn/agency"))')" -ge "$2" ]
}
fed_until 100 got gagency 1 || fail "no delivery before the revocation"
ok

serial=$(passerelle --home "$T/gagency" whoami --json \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])')
passerelle authority revoke --home "$T/A2" --serial "$serial" >/dev/null 2>&1
cp "$T/A2/revoked" "$T/B2/revoked"
t0=$(date +%s%N)
passerelle broker reload --home "$T/B2" >/dev/null
revoked_at_sn() {
    passerelle broker federation --home "$T/B1" --json >"$T/f1" \
        && python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["peers"][0]; sys.exit(0 if p["revocation_number"] == 1 and p["directory_certs"] == 1 else 1)' "$T/f1"
}
fed_until 100 revoked_at_sn || fail "sn's broker did not take gn's revocation"
ok
gone() { ! dir_has gn/agency; }
fed_until 100 gone || fail "sn/agency still lists the revoked gn/agency"
ok
t1=$(date +%s%N)
echo "revocation reached sn/agency's directory in $(((t1 - t0) / 1000000)) ms"
grep -q "directory_foreign anchors=1 certs=1 refused=0" "$T/agency.log" \
    || fail "the node's directory did not shrink to gn/cp"
ok
dir_has gn/cp || fail "gn/cp (not revoked) vanished too"
ok
rc=0
pl-testmsg --home "$T/agency" send --to gn/agency --payload after \
    >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a send to the revoked gn/agency was accepted"
ok
pl-testmsg --home "$T/agency" send --to gn/cp --payload still >/dev/null
fed_until 100 got gcp 1 || fail "gn/cp no longer reachable"
ok
echo "test_fed_revoke: ok ($CHECKS checks)"
