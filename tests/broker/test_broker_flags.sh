#!/usr/bin/env bash
# test_broker_flags - every numeric and enum flag of passerelle-broker is
# checked: a sign, a suffix, an overflow (also of the MiB << 20 shift), a
# value out of range or an unknown level is a usage error (exit 2, a
# message naming the flag on stderr) before anything is opened; --help
# documents the quotas. No broker is left running: a flag that wrongly
# passes makes the broker fail at its missing home (exit 1), which fails
# the test too.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle-broker" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
command -v passerelle-broker >/dev/null 2>&1 || {
    echo "test_broker_flags: FAIL: passerelle-broker not on PATH" >&2
    exit 1
}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-bflags.XXXXXX")
trap 'rm -rf "$T"' EXIT
CHECKS=0
fail() {
    echo "test_broker_flags: FAIL: $*" >&2
    [ -s "$T/err" ] && { echo "--- stderr:" >&2; cat "$T/err" >&2; }
    exit 1
}
# bad FLAG VALUE: exit 2 with the flag named on stderr
bad() {
    local rc=0
    # a home that does not exist: if the flag passes, the broker exits 1
    timeout 10 passerelle-broker --home "$T/none" \
        --listen tcp://127.0.0.1:1 "$1" "$2" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "$1 '$2' exited $rc, wanted 2 (usage error)"
    grep -q -- "$1" "$T/err" || fail "$1 '$2': stderr does not name the flag"
    [ ! -s "$T/out" ] || fail "$1 '$2': wrote to stdout"
    CHECKS=$((CHECKS + 1))
}
for v in -1 +5 " 5" 5x "" 0x10 99999999999999999999 18446744073709551616 \
    4294967296 99; do
    bad --redeliver-ms "$v"
done
bad --redeliver-ms 86400001
for v in -1 0 10001 1e3 4294967297 abc; do bad --window "$v"; done
for v in -1 0 999 86400001 18446744073709551615 " 2000"; do
    bad --session-ms "$v"
done
# 2^44 MiB << 20 overflows 64 bits; -1 would wrap to 2^64-1
for v in -1 0 17592186044416 18446744073709551615 16777217 8M; do
    bad --map-size "$v"
done
for v in -1 0 17592186044416 x; do
    bad --sender-quota "$v"
    bad --recipient-quota "$v"
done
for v in loud INFO "" "info " 3; do bad --log-level "$v"; done
# a quota above the map
rc=0
passerelle-broker --home "$T/none" --listen tcp://127.0.0.1:1 \
    --map-size 8 --sender-quota 9 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "--sender-quota over --map-size exited $rc, wanted 2"
grep -qi quota "$T/err" || fail "quota over map: no message"
CHECKS=$((CHECKS + 1))
# good values still pass parsing (the missing home then fails with 1)
rc=0
passerelle-broker --home "$T/none" --listen tcp://127.0.0.1:1 \
    --redeliver-ms 100 --window 10000 --session-ms 1000 --map-size 16 \
    --sender-quota 4 --recipient-quota 4 --log-level debug \
    >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "valid flags exited $rc, wanted 1 (missing home)"
CHECKS=$((CHECKS + 1))
# --help documents the quotas and the exit status on a failed store
passerelle-broker --help >"$T/out"
for w in --sender-quota --recipient-quota store-full 74; do
    grep -q -- "$w" "$T/out" || fail "--help lacks '$w'"
    CHECKS=$((CHECKS + 1))
done
echo "test_broker_flags: ok ($CHECKS checks)"
