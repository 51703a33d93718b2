#!/usr/bin/env bash
# test_units - the systemd units of packaging/systemd/:
#  1. `systemd-analyze verify` prints nothing for each (no unknown key, no
#     bad value; the ExecStart binary is this build's);
#  2. `systemd-analyze security --offline=true` rates each at an overall
#     exposure of at most PL_UNIT_EXPOSURE_MAX (2.0: systemd calls < 4 "OK"
#     and 1.x "OK"; the units score 1.2 today), and the hardening the issue
#     lists is set in each;
#  3. Type=notify is real: a broker and a node started with NOTIFY_SOCKET
#     pointing at a datagram socket of this test send READY=1 (sd_notify(3))
#     once they run, and STOPPING=1 on SIGTERM.
# Works in a container without a running systemd (both analyze verbs are
# offline). Every daemon is stopped by its PID.
set -euo pipefail
TEST_NAME=test_units
if [ -n "${PL_BIN_DIR:-}" ]; then PATH="$PL_BIN_DIR:$PATH"; fi
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=$(dirname "$(command -v passerelle-node)")
MAX=${PL_UNIT_EXPOSURE_MAX:-2.0}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-units.XXXXXX")
source "$SRC/tests/lib/cli_assert.sh"
source "$SRC/tests/adapters/cli_net.sh"
trap 'net_stop; [ -n "${LPID:-}" ] && kill "$LPID" 2>/dev/null; rm -rf "$T"' EXIT
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (apt-get install systemd)"

mkdir -p "$T/units"
for d in broker node web; do
    src=$SRC/packaging/systemd/passerelle-$d@.service
    [ -f "$src" ] || fail "no unit $src"
    exe=$BIN/passerelle-$d
    [ -x "$exe" ] || exe=/bin/true # passerelle-web: built by issue 14
    u=$T/units/passerelle-$d@t1.service
    sed "s#/usr/sbin/passerelle-$d#$exe#" "$src" >"$u"
    # the man pages of this build, when they are there (cmake/PlMan.cmake)
    man=--man=no
    if [ -f "$BIN/man/man8/passerelle-$d.8" ]; then
        man=--man=yes
        export MANPATH=$BIN/man
    fi
    systemd-analyze verify "$man" "$u" >"$T/out" 2>&1 || true
    if [ -s "$T/out" ]; then
        cat "$T/out" >&2
        fail "systemd-analyze verify passerelle-$d@.service is not clean"
    fi
    ok
    systemd-analyze security --offline=true "$u" >"$T/sec" 2>&1 || true
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/sec")
    [ -n "$score" ] || { cat "$T/sec" >&2; fail "no exposure score for $d"; }
    awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }' \
        || { grep '✗' "$T/sec" >&2 || true; fail "passerelle-$d@: exposure $score > $MAX"; }
    echo "passerelle-$d@.service: exposure $score (max $MAX)"
    ok
    for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
        PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes \
        ProtectKernelModules=yes ProtectKernelLogs=yes \
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" \
        SystemCallFilter=@system-service CapabilityBoundingSet= \
        StateDirectoryMode=0700 UMask=0077 LimitCORE=0 Restart=on-failure \
        KillSignal=SIGTERM User=passerelle; do
        grep -qx -- "$k" "$src" || fail "passerelle-$d@.service lacks '$k'"
        ok
    done
done
grep -qx Type=notify "$SRC/packaging/systemd/passerelle-broker@.service" || fail "broker not Type=notify"
grep -qx Type=notify "$SRC/packaging/systemd/passerelle-node@.service" || fail "node not Type=notify"

# sd_notify: a datagram socket that records what arrives, one line each
sock=$T/notify.sock
python3 - "$sock" "$T/notes" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as f:
    try:
        while True:
            f.write(s.recv(4096).decode() + "\n")
    except socket.timeout:
        pass
PY
LPID=$!
net_until 100 test -S "$sock" || fail "notify listener did not start"
net_setup
NOTIFY_SOCKET=$sock net_start_broker
net_until 200 grep -qx READY=1 "$T/notes" || { FAIL_LOG=$T/broker.log fail "broker sent no READY=1"; }
ok
NOTIFY_SOCKET=$sock net_start_node agency
net_until 200 test "$(grep -cx READY=1 "$T/notes")" -ge 2 || { FAIL_LOG=$T/agency.log fail "node sent no READY=1"; }
ok
net_stop_node agency
net_stop_node broker
net_until 100 test "$(grep -cx STOPPING=1 "$T/notes")" -ge 2 || fail "no STOPPING=1 from both daemons"
ok
echo "test_units: ok ($CHECKS checks)"
