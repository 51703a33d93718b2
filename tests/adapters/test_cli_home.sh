#!/usr/bin/env bash
# test_cli_home - a home folder that another user can write to, or that
# another user owns, is refused by `init`, the CLI, the node daemon and the
# broker (issue 11, item 9); so are its keys/ and store/ folders and its
# key files. The good case still works, the CLI never talks to a control
# socket in a home it refuses, and a user who cannot reach a home is told
# "permission denied" with the path (not "the node is not running").
# The foreign-owner cases need root (chown); without root they are skipped.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_cli_home: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-home.XXXXXX")
chmod 755 "$T" # 'nobody' must reach the homes below for its own checks
TEST_NAME=test_cli_home
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_net.sh"
cleanup() {
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

# daemon_refuses WHAT CMD...: the daemon exits non-zero within 10 s (not
# killed by the timeout) and says why on stderr
daemon_refuses() {
    local what=$1 rc=0
    shift
    timeout 10 "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -ne 0 ] || fail "$what: the daemon started (exit 0)"
    [ "$rc" -ne 124 ] || fail "$what: the daemon ran on (killed after 10 s)"
    grep -qiE "refusing|permission denied" "$T/err" || fail "$what: no clear refusal on stderr"
    ok
}

# ---- init
mkdir -m 0777 "$T/open"
chmod 0777 "$T/open" # despite the umask
expect 1 init --home "$T/open"
err_has "writable by"
err_has "$T/open"
[ ! -e "$T/open/keys" ] || fail "init made keys in a world-writable home"
ok
mkdir -m 0770 "$T/grp"
expect 1 init --home "$T/grp"
err_has "writable by group or others"
if [ $ROOT = 1 ]; then
    mkdir -m 0700 "$T/theirs"
    chown nobody "$T/theirs"
    expect 1 init --home "$T/theirs"
    err_has "owned by another user (uid $(id -u nobody)"
    [ ! -e "$T/theirs/keys" ] || fail "init made keys in a foreign home"
    ok
fi
mkdir -m 0700 "$T/openkeys"
mkdir -m 0777 "$T/openkeys/keys"
chmod 0777 "$T/openkeys/keys"
expect 1 init --home "$T/openkeys"
err_has "openkeys/keys"
[ -z "$(ls -A "$T/openkeys/keys")" ] || fail "init wrote keys into a world-writable keys/"
ok
mkdir -m 0777 "$T/shared"
chmod 0777 "$T/shared" # no sticky bit: anyone may rename what is inside
expect 1 init --home "$T/shared/home"
err_has "sticky"
[ ! -e "$T/shared/home" ] || fail "init made a home under a world-writable folder"
ok
chmod 1777 "$T/shared" # like /tmp: fine
expect 0 init --home "$T/shared/home"
expect 0 init --home "$T/fresh" # the good case
[ -f "$T/fresh/keys/sign.secret" ] || fail "init made no keys"
ok

# ---- a real network; the good case works end to end
net_setup
net_start_broker
net_start_node agency
dir_full() { passerelle --home "$T/agency" directory --json 2>/dev/null | grep -q sn/clinic; }
net_until 200 dir_full || FAIL_LOG=$T/agency.log fail "the agency never saw the clinic in its directory"
expect 0 --home "$T/agency" directory --json
json_is 'sorted(c["address"] for c in d)' '["sn/agency", "sn/clinic"]'
expect 0 --home "$T/agency" case add --given Awa --family Diop --birth 1990-01-02
GOOD_CASE=$(cat "$T/out")

# the home becomes world-writable while the daemon runs: the CLI refuses
# to talk to its control socket (another user could have replaced it)
chmod 0777 "$T/agency"
expect 1 --home "$T/agency" directory
err_has "writable by"
grep -qi "not running" "$T/err" && fail "a refused home was reported as 'not running'"
ok
expect 1 --home "$T/agency" case list
err_has "writable by"
expect 1 --home "$T/agency" whoami
err_has "writable by"
chmod 0700 "$T/agency"
expect 0 --home "$T/agency" case list --json
json_is "[c['id'] for c in d]" "[\"$GOOD_CASE\"]"
net_stop_node agency

# ---- the node daemon refuses, and starts again once fixed
chmod 0777 "$T/agency"
daemon_refuses "0777 node home" passerelle-node --home "$T/agency" --broker "$NET_EP"
grep -q "$T/agency" "$T/err" || fail "the node's refusal does not name the home"
ok
chmod 0700 "$T/agency"
chmod 0757 "$T/agency/keys"
daemon_refuses "keys/ writable by others" passerelle-node --home "$T/agency" --broker "$NET_EP"
grep -q "keys" "$T/err" || fail "the refusal does not name keys/"
ok
expect 1 --home "$T/agency" case list
err_has "keys"
chmod 0700 "$T/agency/keys"
chmod 0620 "$T/agency/keys/sign.secret"
daemon_refuses "sign.secret writable by its group" passerelle-node --home "$T/agency" --broker "$NET_EP"
grep -q "sign.secret" "$T/err" || fail "the refusal does not name sign.secret"
ok
chmod 0600 "$T/agency/keys/sign.secret"
chmod 0646 "$T/agency/keys/box.public"
daemon_refuses "box.public writable by others" passerelle-node --home "$T/agency" --broker "$NET_EP"
chmod 0644 "$T/agency/keys/box.public"
chmod 0770 "$T/agency/store"
daemon_refuses "store/ writable by its group" passerelle-node --home "$T/agency" --broker "$NET_EP"
grep -q "store" "$T/err" || fail "the refusal does not name store/"
ok
chmod 0700 "$T/agency/store"
chmod 0666 "$T/agency/authority.pub"
daemon_refuses "authority.pub writable by others" passerelle-node --home "$T/agency" --broker "$NET_EP"
chmod 0644 "$T/agency/authority.pub"

if [ $ROOT = 1 ]; then
    chown -R nobody "$T/agency"
    daemon_refuses "home owned by nobody" passerelle-node --home "$T/agency" --broker "$NET_EP"
    expect 1 --home "$T/agency" case list
    err_has "owned by another user (uid $(id -u nobody)"
    chown -R root "$T/agency"
    chown nobody "$T/agency/keys/curve.secret"
    daemon_refuses "curve.secret owned by nobody" passerelle-node --home "$T/agency" --broker "$NET_EP"
    chown root "$T/agency/keys/curve.secret"
fi

# the store was left intact by every refusal: the case is still there
net_start_node agency
expect 0 --home "$T/agency" case list --json
json_is "[c['id'] for c in d]" "[\"$GOOD_CASE\"]"

# ---- a user who cannot reach the home: "permission denied", the path,
# never "the node is not running"
if [ $ROOT = 1 ]; then
    RC=0
    setpriv --reuid nobody --regid nogroup --clear-groups passerelle \
        --home "$T/agency" case list >"$T/out" 2>"$T/err" || RC=$?
    [ "$RC" -eq 1 ] || fail "nobody's case list exited $RC, wanted 1"
    ok
    err_has "permission denied"
    err_has "$T/agency"
    grep -qi "not running" "$T/err" && fail "nobody was told the node is not running"
    ok
fi
net_stop_node agency

# ---- the broker refuses too
net_stop_node broker
chmod 0777 "$T/B"
daemon_refuses "0777 broker home" passerelle-broker --home "$T/B" --listen "$NET_EP"
expect 1 broker status --home "$T/B"
err_has "writable by"
chmod 0700 "$T/B"
chmod 0757 "$T/B/keys"
daemon_refuses "broker keys/ writable by others" passerelle-broker --home "$T/B" --listen "$NET_EP"
chmod 0700 "$T/B/keys"
chmod 0777 "$T/B/certs"
daemon_refuses "certs/ writable by others" passerelle-broker --home "$T/B" --listen "$NET_EP"
chmod 0755 "$T/B/certs"
chmod 0606 "$T/B/keys/curve.secret"
daemon_refuses "broker curve.secret writable by others" passerelle-broker --home "$T/B" --listen "$NET_EP"
chmod 0600 "$T/B/keys/curve.secret"
if [ $ROOT = 1 ]; then
    chown nobody "$T/B"
    daemon_refuses "broker home owned by nobody" passerelle-broker --home "$T/B" --listen "$NET_EP"
    chown root "$T/B"
fi
net_start_broker
net_until 100 eval 'passerelle broker status --home "$T/B" >/dev/null 2>&1' \
    || FAIL_LOG=$T/broker.log fail "the broker did not start again on its fixed home"
ok

echo "test_cli_home: $CHECKS checks passed"
