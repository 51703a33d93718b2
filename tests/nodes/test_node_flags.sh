#!/usr/bin/env bash
# test_node_flags - passerelle-node's command line and home checks (issue
# 11, items 9 and 13, node side): every bad flag value is a usage error
# (exit 2, one line on stderr, nothing written into the home); a home, key
# file or store another user could change is refused with a clear line
# before anything is opened. Runs passerelle and passerelle-node from PATH.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle-node" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
command -v passerelle-node >/dev/null 2>&1 \
    || { echo "test_node_flags: FAIL: passerelle-node not on PATH" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/test_node_flags.XXXXXX")
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
TEST_NAME=test_node_flags
CHECKS=0
fail() {
    echo "$TEST_NAME: FAIL: $*" >&2
    [ -s "$T/err" ] && { echo "--- stderr:" >&2; cat "$T/err" >&2; }
    exit 1
}
ok() { CHECKS=$((CHECKS + 1)); }
# node ARGS...: runs passerelle-node (bounded: 20 s), RC = its exit code
node() {
    RC=0
    timeout 20 passerelle-node "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
}
tree() { (cd "$H" && find . -printf '%p %m %s\n' | sort | sha256sum); }

H=$T/home
passerelle init --home "$H" >/dev/null 2>&1 || fail "passerelle init"
B=tcp://127.0.0.1:9
before=$(tree)

# usage errors: exit 2, a message naming the flag, nothing on stdout
usage() {
    local what=$1
    shift
    node "$@"
    [ "$RC" -eq 2 ] || fail "passerelle-node $* exited $RC, wanted 2"
    [ -s "$T/err" ] || fail "passerelle-node $*: no message"
    [ ! -s "$T/out" ] || fail "passerelle-node $*: wrote to stdout"
    grep -qi -- "$what" "$T/err" || fail "passerelle-node $*: message lacks '$what'"
    [ "$(wc -l <"$T/err")" -le 30 ] || fail "passerelle-node $*: long output"
    ok
}
usage --log-level --home "$H" --broker "$B" --log-level loud
usage --log-level --home "$H" --broker "$B" --log-level ''
usage --heartbeat-ms --home "$H" --broker "$B" --heartbeat-ms -5
usage --heartbeat-ms --home "$H" --broker "$B" --heartbeat-ms 10x
usage --heartbeat-timeout-ms --home "$H" --broker "$B" --heartbeat-timeout-ms 10x
usage --heartbeat-timeout-ms --home "$H" --broker "$B" --heartbeat-timeout-ms 50
usage --heartbeat-ms --home "$H" --broker "$B" --heartbeat-ms ' 1000'
usage --heartbeat-ms --home "$H" --broker "$B" --heartbeat-ms +1000
usage --heartbeat-ms --home "$H" --broker "$B" --heartbeat-ms 99999999999999999999
usage --map-mib --home "$H" --broker "$B" --map-mib 0
usage --map-max-mib --home "$H" --broker "$B" --map-max-mib abc
usage --box-grace-days --home "$H" --broker "$B" --box-grace-days 99999
usage --passphrase-fd --home "$H" --broker "$B" --passphrase-fd x
usage --broker --home "$H" --broker bogus
usage --broker --home "$H" --broker tcp://127.0.0.1
usage --broker --home "$H" --broker tcp://127.0.0.1:99999
usage --broker --home "$H" --broker 'tcp://127.0.0.1:7700 x'
usage --broker --home "$H"
usage unknown --home "$H" --broker "$B" --bogus
usage unexpected --home "$H" --broker "$B" extra
usage needs --home "$H" --broker
[ "$(tree)" = "$before" ] || fail "a usage error changed the home"
ok

# a home another user can change is refused before anything is written
refused() {
    local what=$1
    node --home "$H" --broker "$B"
    [ "$RC" -ne 0 ] || fail "passerelle-node started with $2"
    grep -qi -- "$what" "$T/err" || fail "no '$what' for $2"
    grep -qi "refusing to start" "$T/err" || fail "no 'refusing to start' for $2"
    [ ! -e "$H/store" ] || fail "a store was made in a refused home ($2)"
    ok
}
chmod 0777 "$H"
refused "writable by group or others" "a 0777 home"
chmod 0700 "$H"
chmod 0666 "$H/keys/sign.public"
refused "writable by group or others" "a world-writable key file"
chmod 0644 "$H/keys/sign.public"
chmod 0770 "$H/keys"
refused "writable by group or others" "a group-writable keys folder"
chmod 0700 "$H/keys"
if [ "$(id -u)" -eq 0 ]; then
    chown 65534 "$H"
    refused "owned by another user" "a home owned by uid 65534"
    chown 0 "$H"
    chown 65534 "$H/keys/box.secret"
    refused "owned by another user" "a key owned by uid 65534"
    chown 0 "$H/keys/box.secret"
else
    echo "$TEST_NAME: not root: the foreign-owner cases are skipped" >&2
fi
# sane again: the refusal is then about what is missing (no enrolment)
node --home "$H" --broker "$B"
[ "$RC" -eq 1 ] || fail "an unenrolled home exited $RC, wanted 1"
grep -qi "enrol" "$T/err" || fail "an unenrolled home: no hint to enrol"
ok
echo "$TEST_NAME: $CHECKS checks passed"
