#!/usr/bin/env bash
# tests/integration/test_demo.sh - `make demo ONCE=1` in CI: runs the whole
# scripted scenario (scripts/demo.sh --once with this build's executables)
# and asserts it exits 0 with the final statuses of DESIGN.md §6 / issue 7.
set -uo pipefail
ROOT="${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
OUT="$(mktemp /tmp/pl-demo-test-XXXXXX.log)"
trap 'rm -f "$OUT"' EXIT
timeout 300 bash "$ROOT/scripts/demo.sh" --once >"$OUT" 2>&1
rc=$?
fail() { echo "FAIL: $*"; cat "$OUT"; exit 1; }
[ "$rc" = 0 ] || fail "demo exited with $rc"
grep -q "demo: all final statuses as expected" "$OUT" || fail "no final check"
[ "$(grep -c '^final .* completed expected=completed$' "$OUT")" = 3 ] \
    || fail "three referrals should be completed"
grep -q '^final .* rejected expected=rejected$' "$OUT" || fail "housing rejection"
grep -q '^final .* cancelled expected=cancelled$' "$OUT" || fail "cancellation"
grep -q "audit chain verifies" "$OUT" || fail "audit chain"
grep -q "consent: no consent record covers" "$OUT" || fail "consent gate"
# the handover carried Mariama's assessment and draft plan (DESIGN.md §7.2)
grep -q "skills     received from" "$OUT" || fail "the handover's assessment"
grep -q "version 1, 0 item(s), received from" "$OUT" || fail "the handover's plan"
echo "ok: demo scenario"
