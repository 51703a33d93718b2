#!/usr/bin/env bash
# test_bench_readme - scripts/bench-readme.py, which rewrites the README's
# block of benchmark figures from `make bench`'s output (issue 20), on a
# log of lines the benchmarks printed (tests/bench/fixtures/bench-sample.log,
# from a run on 2026-12-04): the machine line and each quoted figure land
# in the block, a benchmark the log lacks says "not in this run", the text
# around the markers is kept byte for byte, a second run changes nothing,
# and a README without the markers is refused and left as it was.
set -euo pipefail
SRC=${PL_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GEN=$SRC/scripts/bench-readme.py
LOG=$SRC/tests/bench/fixtures/bench-sample.log
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-benchreadme.XXXXXX")
trap 'rm -rf "$T"' EXIT
CHECKS=0
fail() { echo "test_bench_readme: FAIL: $*" >&2; exit 1; }
has() { grep -qF -- "$1" "$T/README.md" || fail "the README lacks '$1'"; CHECKS=$((CHECKS + 1)); }

printf '# Title\n\nbefore the block\n<!-- bench-readme: begin -->\nold figures\n<!-- bench-readme: end -->\nafter the block\n' >"$T/README.md"
python3 "$GEN" "$LOG" "$T/README.md" >"$T/out" || fail "the rewrite failed"
grep -q "updated from" "$T/out" || fail "no confirmation line"
has "Figures printed by \`make bench\`, 2026-12-04 20:45 UTC; 2 CPUs (AMD EPYC)"
has "main at f0a8530."
has "| 256 : 1000 (5 rounds) | 14841 (23.98 ms) | 23724 | 15649 | 0.95 | 0.63 | 94.0 (71 %), 76.0 (91 %), 106.5 (83 %) |"
has '`restart: broker listening after 1.37 s, all 5000 admitted again after 10.53 s (clients resend hello every 2 s)`'
has '`closed loop 10696 B up 10696 B down 38.1 segments 23371 B with headers (4.0 envelopes + 4.0 receipts)`'
has '`passerelle end to end (acc->dlv->taken) 11095 90.1 9923-11604`'
has '`one environment, one thread 461 commits/s 50702 records/s`'
has "| an idle node, IP/TCP headers counted | not in this run (bench_idle.sh) |"
! grep -q "old figures" "$T/README.md" || fail "the old block stayed"
head -n 3 "$T/README.md" | cmp -s - <(printf '# Title\n\nbefore the block\n') || fail "the text before the block changed"
[ "$(tail -n 1 "$T/README.md")" = "after the block" ] || fail "the text after the block changed"
[ "$(grep -c 'bench-readme: begin' "$T/README.md")" = 1 ] || fail "not one begin marker"
CHECKS=$((CHECKS + 4))
cp "$T/README.md" "$T/first.md"
python3 "$GEN" "$LOG" "$T/README.md" >/dev/null || fail "the second rewrite failed"
cmp -s "$T/first.md" "$T/README.md" || fail "a second run changed the README"
CHECKS=$((CHECKS + 1))
# no markers: refused, the file untouched
printf '# Title\nno block here\n' >"$T/plain.md"
cp "$T/plain.md" "$T/plain.orig"
rc=0
python3 "$GEN" "$LOG" "$T/plain.md" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] || fail "a README without markers gave exit $rc"
grep -q "needs one" "$T/err" || fail "no message for a README without markers"
cmp -s "$T/plain.md" "$T/plain.orig" || fail "a refused README was changed"
CHECKS=$((CHECKS + 3))
# bad arguments: usage, exit 2
rc=0
python3 "$GEN" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "no arguments gave exit $rc"
python3 "$GEN" --header | grep -q '^bench-readme machine: .* CPUs (.*); Linux .*; load average .* at start; main at ' \
    || fail "the header line"
CHECKS=$((CHECKS + 2))
echo "test_bench_readme: ok ($CHECKS checks)"
