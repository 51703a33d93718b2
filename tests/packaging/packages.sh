#!/usr/bin/env bash
# packages.sh DEB_BUILD - the Debian packages end to end (issue 19 "Tests";
# `make test-packages`, run by .ci/run; needs root: it installs on this
# machine and removes what it installed):
#  1. lintian: no error (the warnings are printed);
#  2. dpkg -i the packages: the system user `passerelle` exists, the
#     folders are there, and no daemon was started (nothing configured);
#  3. a broker and two nodes configured by /etc/passerelle/NAME.conf,
#     homes /var/lib/passerelle/NAME (0700, owned by passerelle), started
#     without systemd with the ExecStart= of the installed units, as the
#     units' User= and UMask=; a referral from the agency is accepted by
#     the clinic, through the installed binaries;
#  4. dpkg --purge: no file of the packages is left, only the
#     configuration files and the homes (Debian policy 10.7.3: homes hold
#     the organisation's keys and records).
# Every daemon it starts is stopped by its PID; the test's own homes and
# configuration files are removed at the end.
set -euo pipefail
TEST_NAME=packages
DEB=${1:?usage: packages.sh DEB_BUILD_DIR}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "packages: needs root (dpkg -i)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-pkg.XXXXXX")
source "$SRC/tests/lib/cli_assert.sh"
P=pkgtest$$ # our instance names: ${P}b, ${P}agency, ${P}clinic
declare -A PID=()
INSTALLED=0
cleanup() {
    local n
    for n in "${!PID[@]}"; do
        kill -TERM "${PID[$n]}" 2>/dev/null || true
    done
    for n in "${!PID[@]}"; do
        wait "${PID[$n]}" 2>/dev/null || true
    done
    if [ "$INSTALLED" = 1 ]; then
        dpkg --purge passerelle-node passerelle-broker passerelle >/dev/null 2>&1 || true
    fi
    rm -rf /var/lib/passerelle/"$P"* /etc/passerelle/"$P"*
    rmdir /var/lib/passerelle /etc/passerelle 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
debs=$(ls "$DEB"/passerelle_*.deb "$DEB"/passerelle-broker_*.deb "$DEB"/passerelle-node_*.deb)
for d in $debs; do
    printf 'package %-40s %s bytes, installed %s KiB\n' "$(basename "$d")" \
        "$(stat -c %s "$d")" "$(dpkg-deb -f "$d" Installed-Size)"
done

# 1. lintian
lintian --fail-on error $debs >"$T/lintian" 2>&1 || { cat "$T/lintian" >&2; fail "lintian reports an error"; }
grep -v 'running with root' "$T/lintian" || true
ok

# 2. install
for p in passerelle passerelle-broker passerelle-node; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        fail "$p is already installed on this machine: not touching it"
    fi
done
INSTALLED=1
dpkg -i $debs >"$T/dpkg" 2>&1 || { cat "$T/dpkg" >&2; fail "dpkg -i failed"; }
getent passwd passerelle >/dev/null || fail "no passerelle user"
[ "$(id -u passerelle)" -lt 1000 ] || fail "passerelle is not a system user"
[ "$(stat -c '%U %a' /var/lib/passerelle)" = "passerelle 750" ] || fail "/var/lib/passerelle: $(stat -c '%U %a' /var/lib/passerelle)"
[ -d /etc/passerelle ] || fail "no /etc/passerelle"
for f in /usr/bin/passerelle /usr/sbin/passerelle-broker /usr/sbin/passerelle-node \
    /lib/systemd/system/passerelle-node@.service /lib/systemd/system/passerelle-broker@.service \
    /usr/share/man/man8/passerelle-node.8.gz /usr/share/man/man1/passerelle.1.gz \
    /usr/share/passerelle/examples/node.conf; do
    [ -e "$f" ] || fail "not installed: $f"
    ok
done
pgrep -u passerelle >/dev/null && fail "a daemon runs right after the install (nothing is configured)"
ok

# 3. a network from /etc/passerelle, as the units run it
as_p() { runuser -u passerelle -- "$@"; }
H=/var/lib/passerelle
A=$H/${P}auth
as_p /usr/bin/passerelle authority init --home "$A" --network sn >/dev/null
as_p /usr/bin/passerelle authority enroll --home "$A" --node "$H/${P}b" --name broker \
    --sector broker --country SN --region dakar >/dev/null 2>&1
as_p mkdir -p "$H/${P}b/certs"
for n in agency clinic; do
    sector=agency
    [ $n = clinic ] && sector=health
    as_p /usr/bin/passerelle init --home "$H/$P$n" >/dev/null
    as_p /usr/bin/passerelle authority enroll --home "$A" --node "$H/$P$n" --name $n \
        --sector $sector --country SN --region dakar >/dev/null
    as_p cp "$H/$P$n/node.cert" "$H/${P}b/certs/$n.cert"
    as_p cp "$H/${P}b/node.cert" "$H/$P$n/broker.cert"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '# test broker\nlisten = tcp://127.0.0.1:%s\nlog-format = json\n' "$port" >"/etc/passerelle/${P}b.conf"
for n in agency clinic; do
    printf 'broker = tcp://127.0.0.1:%s\nheartbeat-ms = 500\n' "$port" >"/etc/passerelle/$P$n.conf"
done
[ "$(stat -c %a "$H/${P}agency")" = 700 ] || fail "home not 0700"
ok
# ExecStart= of the installed unit, for instance NAME
cmdline() {
    sed -n 's/^ExecStart=//p' "/lib/systemd/system/$1@.service" | sed "s/%i/$2/g"
}
start() { # UNIT NAME: as User=passerelle, UMask=0077, dies with this shell
    local c
    c=$(cmdline "$1" "$2")
    [ -n "$c" ] || fail "no ExecStart in $1@.service"
    grep -qx "User=passerelle" "/lib/systemd/system/$1@.service" || fail "$1: not User=passerelle"
    # shellcheck disable=SC2086
    (umask 0077; exec setpriv --reuid=passerelle --regid=passerelle --init-groups \
        --pdeathsig KILL $c) 2>>"$T/$2.log" &
    PID[$2]=$!
}
cmdline passerelle-node "${P}agency" | grep -q -- "--config /etc/passerelle/${P}agency.conf" || fail "unit does not read /etc/passerelle"
as_p /usr/sbin/passerelle-node $(cmdline passerelle-node "${P}agency" | cut -d' ' -f2-) --check-config >"$T/out" \
    || fail "--check-config on the installed configuration"
grep -qx "broker = tcp://127.0.0.1:$port" "$T/out" || fail "check-config: broker not from the file"
ok
start passerelle-broker "${P}b"
start passerelle-node "${P}agency"
start passerelle-node "${P}clinic"
for n in agency clinic; do
    for i in $(seq 1 200); do
        [ -S "$H/$P$n/control" ] && break
        sleep 0.1
    done
    [ -S "$H/$P$n/control" ] || { FAIL_LOG=$T/$P$n.log fail "node $n did not start"; }
done
head -1 "$T/${P}b.log" | python3 -c 'import json,sys; json.loads(sys.stdin.readline())' \
    || FAIL_LOG=$T/${P}b.log fail "the broker's log-format = json was not applied"
ok
cli() { runuser -u passerelle -- /usr/bin/passerelle --home "$@"; }
EXP=$(date -u -d '+300 days' +%Y-%m-%d)
CASE=$(printf '%s' '{"given":"Awa","family":"Ndiaye","birth":"1990-05-06"}' | cli "$H/${P}agency" case add --stdin)
cli "$H/${P}agency" consent add --case "$CASE" --sectors health --given-by returnee --expires "$EXP" >/dev/null
for i in $(seq 1 200); do # the broker publishes the directory once connected
    cli "$H/${P}agency" directory 2>/dev/null | grep -q clinic && break
    sleep 0.1
done
REF=$(cli "$H/${P}agency" refer --case "$CASE" --to clinic --service primary-care)
got=0
for i in $(seq 1 300); do
    if cli "$H/${P}clinic" --json referrals 2>/dev/null | grep -q "$REF"; then got=1; break; fi
    sleep 0.1
done
[ $got = 1 ] || FAIL_LOG=$T/${P}clinic.log fail "the referral did not reach the clinic"
ok
cli "$H/${P}clinic" accept "$REF" >/dev/null || fail "the clinic could not accept"
got=0
for i in $(seq 1 300); do
    if cli "$H/${P}agency" --json referrals 2>/dev/null | grep -q '"accepted"'; then got=1; break; fi
    sleep 0.1
done
[ $got = 1 ] || fail "the agency did not see the referral accepted"
echo "referral $REF: agency -> clinic, accepted (installed packages, configured by /etc/passerelle)"
ok
for n in "${!PID[@]}"; do
    kill -TERM "${PID[$n]}"
    rc=0
    wait "${PID[$n]}" || rc=$?
    [ "$rc" = 0 ] || fail "$n exited $rc on SIGTERM"
    unset "PID[$n]"
done
ok
for f in $(find "$H/${P}agency" -newer "/etc/passerelle/${P}b.conf" -type f); do
    m=$(stat -c %a "$f")
    [ $((8#$m & 8#077)) = 0 ] || fail "$f is mode $m (UMask=0077 wanted)"
done
ok

# 4. purge: only configuration and homes remain
dpkg --purge passerelle-node passerelle-broker passerelle >"$T/dpkg" 2>&1 || { cat "$T/dpkg" >&2; fail "dpkg --purge failed"; }
INSTALLED=0
for f in /usr/bin/passerelle /usr/sbin/passerelle-broker /usr/sbin/passerelle-node \
    /lib/systemd/system/passerelle-node@.service /lib/systemd/system/passerelle-broker@.service \
    /usr/share/passerelle /usr/share/doc/passerelle /usr/share/doc/passerelle-node \
    /usr/share/man/man8/passerelle-node.8.gz; do
    [ ! -e "$f" ] || fail "left after purge: $f"
    ok
done
dpkg -S passerelle >/dev/null 2>&1 && fail "dpkg still knows files of passerelle"
[ -f "/etc/passerelle/${P}agency.conf" ] || fail "the configuration was removed"
[ -f "$H/${P}agency/keys/sign.secret" ] && [ -d "$H/${P}agency/store" ] || fail "a home was removed"
ok
echo "packages: ok ($CHECKS checks)"
