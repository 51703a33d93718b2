#!/bin/sh
# scripts/test-costs.sh [BUILD] - after a full `ctest` run in BUILD (default
# build), prints every test of 2 s or more with its measured duration, in
# the format of tests/costs.cmake, costliest first.
set -eu
case "${1:-}" in
-h | --help)
    echo "usage: scripts/test-costs.sh [BUILD]  (default: build)"
    echo "prints 'name seconds' lines for tests/costs.cmake from BUILD's last ctest run"
    exit 0
    ;;
esac
data="${1:-build}/Testing/Temporary/CTestCostData.txt"
[ -r "$data" ] || {
    echo "test-costs: $data not found: run ctest in ${1:-build} first" >&2
    exit 1
}
# lines "name runs average-seconds" until the "---" that starts the failures
awk '/^---/ { exit } NF == 3 && $3 >= 2 { printf "  %s %d\n", $1, $3 + 0.5 }' \
    "$data" | sort -k2 -rn
