#!/usr/bin/env bash
# test_config - `--config FILE` of passerelle-broker and passerelle-node
# (proto/pl_conf.c): every kind of bad line is a usage error (exit 2) whose
# message names the file and line; good files (comments, quotes, booleans)
# give the effective settings that --check-config prints, the command line
# overrides the file, and the printed settings read back to the same. No
# daemon starts here (--check-config exits before any home is opened; the
# homes named do not exist).
set -euo pipefail
TEST_NAME=test_config
if [ -n "${PL_BIN_DIR:-}" ]; then PATH="$PL_BIN_DIR:$PATH"; fi
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-conf.XXXXXX")
trap 'rm -rf "$T"' EXIT
source "$SRC/tests/lib/cli_assert.sh"

# bad DAEMON WANT LINE...: the file of these lines is refused with exit 2
# and stderr names "FILE:N" and WANT
bad() {
    local d=$1 want=$2 n
    shift 2
    printf '%s\n' "$@" >"$T/bad.conf"
    n=$(grep -n -- "${BAD_AT:-@@}" "$T/bad.conf" | head -1 | cut -d: -f1)
    RC=0
    "passerelle-$d" --config "$T/bad.conf" --home "$T/none" --check-config \
        >"$T/out" 2>"$T/err" || RC=$?
    [ "$RC" -eq 2 ] || fail "$d: '$*' exited $RC, wanted 2"
    [ ! -s "$T/out" ] || fail "$d: '$*' printed settings"
    grep -qF -- "$T/bad.conf:$n:" "$T/err" || fail "$d: '$*': stderr does not name line $n"
    grep -qi -- "$want" "$T/err" || fail "$d: '$*': stderr lacks '$want'"
    ok
}
B="listen = tcp://127.0.0.1:7700"
N="broker = tcp://127.0.0.1:7700"
for d in broker node; do
    base=$B
    [ $d = node ] && base=$N
    BAD_AT=colour bad $d "unknown key 'colour'" "$base" "colour = blue"
    BAD_AT=window bad $d "expected 'key = value'" "# ok" "$base" "window 64"
    BAD_AT="^= 5" bad $d "without a key" "$base" "= 5"
    BAD_AT="log-level =" bad $d "has no value" "$base" "log-level ="
    BAD_AT="config =" bad $d "command line" "$base" "config = /etc/x.conf"
    BAD_AT="help" bad $d "command line" "$base" "help = true"
    BAD_AT="check-config" bad $d "command line" "$base" "check-config = true"
    BAD_AT="log-level = debug" bad $d "already set on line 2" "" "log-level = info" "$base" "log-level = debug"
    BAD_AT='"info' bad $d "unbalanced quote" "$base" 'log-level = "info'
    BAD_AT="log-level" bad $d "log-level" "$base" "log-level = loud"
    BAD_AT="log-format" bad $d "log-format" "$base" "log-format = xml"
    BAD_AT="home = /" bad $d "longer than 4096" "$base" "home = /$(head -c 5000 /dev/zero | tr '\0' x)"
done
BAD_AT=map-size bad broker "map-size" "$B" "map-size = 12x"
BAD_AT=window bad broker "window" "$B" "window = 0"
BAD_AT=session-ms bad broker "session-ms" "$B" "session-ms = -5"
BAD_AT=verify bad broker "true or false" "$B" "verify-signatures = maybe"
BAD_AT=heartbeat bad node "heartbeat-ms" "$N" "heartbeat-ms = 50"
BAD_AT=map-mib bad node "map-mib" "$N" "map-mib = 99999999999"
BAD_AT=grace bad node "box-grace-days" "$N" "box-grace-days = 9999"
BAD_AT=passphrase bad node "passphrase-fd" "$N" "passphrase-fd = stdin"
# a NUL byte in a line
for d in broker node; do
    printf 'log-level = info\0x\n' >"$T/nul.conf"
    RC=0
    "passerelle-$d" --config "$T/nul.conf" --check-config >"$T/out" 2>"$T/err" || RC=$?
    [ "$RC" -eq 2 ] && grep -q "nul.conf:1: a NUL byte" "$T/err" || fail "$d: NUL byte not refused"
    ok
done
# files that cannot be read: missing, a folder, too large
for d in broker node; do
    for f in "$T/missing.conf" "$T"; do
        RC=0
        "passerelle-$d" --config "$f" --check-config >"$T/out" 2>"$T/err" || RC=$?
        [ "$RC" -eq 2 ] && grep -qF "$f" "$T/err" || fail "$d: config '$f' not refused clearly"
        ok
    done
    head -c 70000 /dev/zero | tr '\0' '#' >"$T/big.conf"
    RC=0
    "passerelle-$d" --config "$T/big.conf" --check-config >"$T/out" 2>"$T/err" || RC=$?
    [ "$RC" -eq 2 ] && grep -q "at most 65536 bytes" "$T/err" || fail "$d: a 70 kB config not refused"
    ok
done

# a good broker file: comments, blanks, quotes, a boolean, '#' inside a value
cat >"$T/b.conf" <<CONF
# a broker
   home = "$T/bh"   # trailing comment

listen = tcp://127.0.0.1:7700
map-size=64
window = 10
verify-signatures = yes
log-level = "debug"
log-format = json
CONF
passerelle-broker --config "$T/b.conf" --check-config >"$T/out" 2>"$T/err" || fail "good broker config refused"
for l in "home = $T/bh" "listen = tcp://127.0.0.1:7700" "map-size = 64" \
    "# sender-quota = default" "window = 10" "verify-signatures = true" \
    "log-level = debug" "log-format = json" "# session-ms = default"; do
    grep -qxF -- "$l" "$T/out" || fail "broker --check-config lacks '$l'"
    ok
done
# the command line overrides the file, wherever --config stands
passerelle-broker --window 20 --config "$T/b.conf" --log-level warn \
    --check-config >"$T/out" 2>"$T/err" || fail "override refused"
grep -qx "window = 20" "$T/out" && grep -qx "log-level = warn" "$T/out" \
    && grep -qx "map-size = 64" "$T/out" || fail "the command line did not override the file"
ok
# what --check-config prints is itself a config file giving the same
passerelle-broker --config "$T/b.conf" --check-config >"$T/b2.conf"
passerelle-broker --config "$T/b2.conf" --check-config >"$T/b3.conf" || fail "printed settings do not read back"
cmp -s "$T/b2.conf" "$T/b3.conf" || fail "printed settings read back differently"
ok

cat >"$T/n.conf" <<CONF
home = $T/nh
broker = "ipc://$T/b#1/control"
heartbeat-ms = 700
map-max-mib = 2048
box-grace-days = 0
CONF
passerelle-node --config "$T/n.conf" --check-config >"$T/out" 2>"$T/err" || fail "good node config refused"
for l in "home = $T/nh" "broker = ipc://$T/b#1/control" "heartbeat-ms = 700" \
    "# map-mib = default" "map-max-mib = 2048" "box-grace-days = 0" "log-level = info"; do
    grep -qxF -- "$l" "$T/out" || fail "node --check-config lacks '$l'"
    ok
done
passerelle-node --config "$T/n.conf" --check-config --heartbeat-ms 900 --home "$T/other" >"$T/out"
grep -qx "heartbeat-ms = 900" "$T/out" && grep -qxF "home = $T/other" "$T/out" \
    || fail "node: the command line did not override the file"
ok
passerelle-node --config "$T/n.conf" --check-config >"$T/n2.conf"
passerelle-node --config "$T/n2.conf" --check-config >"$T/n3.conf" || fail "node: printed settings do not read back"
cmp -s "$T/n2.conf" "$T/n3.conf" || fail "node: printed settings read back differently"
ok
# without a file the usual usage errors still name the flag (no line)
RC=0
passerelle-node --home "$T/nh" --broker tcp://127.0.0.1:1 --heartbeat-ms 5 >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" -eq 2 ] && grep -q -- --heartbeat-ms "$T/err" && ! grep -q "conf:" "$T/err" \
    || fail "a bad command-line value is not a plain usage error"
ok
echo "test_config: ok ($CHECKS checks)"
