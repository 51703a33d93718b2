#!/usr/bin/env bash
# test_broker_testbuild - the broker's --test-no-zap exists only in a test
# build (-DPL_TEST_BUILD=ON): there it is accepted (with --help: exit 0, the
# usage on stdout); in a product build it is an unknown option (exit 2,
# named on stderr). PL_TEST_BUILD (ON/OFF) comes from the build's ctest
# environment; a test build that lost the flag, or a release that kept it,
# fails. Nothing is started: --help exits before any file is opened.
set -euo pipefail

command -v passerelle-broker >/dev/null 2>&1 || {
    echo "test_broker_testbuild: FAIL: passerelle-broker not on PATH" >&2
    exit 1
}
case "${PL_TEST_BUILD:-}" in
ON | OFF) ;;
*)
    echo "test_broker_testbuild: FAIL: PL_TEST_BUILD is '${PL_TEST_BUILD:-}'," \
        "wanted ON or OFF (set by the build's ctest)" >&2
    exit 1
    ;;
esac
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-btb.XXXXXX")
trap 'rm -rf "$T"' EXIT
rc=0
timeout 10 passerelle-broker --test-no-zap --help >"$T/out" 2>"$T/err" || rc=$?
if [ "$PL_TEST_BUILD" = ON ]; then
    [ "$rc" -eq 0 ] || {
        echo "test_broker_testbuild: FAIL: a test build refused" \
            "--test-no-zap (exit $rc)" >&2
        cat "$T/err" >&2
        exit 1
    }
    grep -q -- "--home DIR" "$T/out" || {
        echo "test_broker_testbuild: FAIL: no usage on stdout" >&2
        exit 1
    }
else
    [ "$rc" -eq 2 ] || {
        echo "test_broker_testbuild: FAIL: a product build took" \
            "--test-no-zap (exit $rc, wanted 2)" >&2
        exit 1
    }
    grep -q -- "test-no-zap" "$T/err" || {
        echo "test_broker_testbuild: FAIL: stderr does not name the option" >&2
        exit 1
    }
fi
echo "test_broker_testbuild: ok (PL_TEST_BUILD=$PL_TEST_BUILD)"
