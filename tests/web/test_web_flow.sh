#!/usr/bin/env bash
# test_web_flow - the staff application end to end in a real headless
# browser (issue 14): a real broker, agency and clinic nodes and two
# passerelle-web; accounts made with `passerelle staff add` (password on
# stdin); then tests/web/flow.js drives Debian's chromium through
# playwright-core: the agency's case manager logs in, registers a case,
# records consent, refers to the clinic; the clinic's provider logs in,
# accepts, starts, completes; the agency sees completed. Screenshots of
# every step stay in the build folder (web-artifacts/flow/). axe-core
# checks every screen (no serious or critical violation). The canary name
# typed into the pages must be in no URL the browsers asked for and in
# neither web process's log. No chromium or no node_modules: FAIL (the
# project's setup, scripts/deps.sh, installs both), never a skip.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for exe in passerelle passerelle-node passerelle-broker passerelle-web \
    python3 setpriv node curl; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_web_flow: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
CHROMIUM=${PL_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || {
    echo "test_web_flow: FAIL: no $CHROMIUM (apt-get install chromium; scripts/deps.sh does)" >&2
    exit 1
}
[ -d "$HERE/node_modules/playwright-core" ] && [ -d "$HERE/node_modules/axe-core" ] || {
    echo "test_web_flow: FAIL: tests/web/node_modules missing (npm ci --prefix tests/web; scripts/deps.sh does)" >&2
    exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-web.XXXXXX")
TEST_NAME=test_web_flow
# shellcheck source=../lib/cli_assert.sh
. "$HERE/../lib/cli_assert.sh"
# shellcheck source=web_net.sh
. "$HERE/web_net.sh"
OUT=${PL_BIN_DIR:-$T}/web-artifacts/flow
cleanup() {
    web_stop_all
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
web_accounts
web_start agency agency
web_start clinic clinic
ok

# a canary name: typed into the pages only
CANARY=${PL_WEB_CANARY:-Zaynabou$(python3 -c "import secrets; print(secrets.token_hex(4))")}
rm -rf "$OUT"
mkdir -p "$OUT"
HOME="$T" node "$HERE/flow.js" "${WEB_URL[agency]}" "${WEB_URL[clinic]}" \
    "$WEB_PASS" "$CANARY" "$OUT" >"$T/out" 2>"$T/err" \
    || FAIL_LOG=$T/web-agency.log fail "the browser flow failed"
cat "$T/out"
ok
n=$(find "$OUT" -name '*.png' | wc -l)
[ "$n" -ge 16 ] || fail "only $n screenshots in $OUT"
ok

# the canary: in no URL, in no web log
[ -s "$OUT/urls.txt" ] || fail "no URL list"
! grep -q "$CANARY" "$OUT/urls.txt" || fail "the canary name is in a URL"
ok
for n in agency clinic; do
    ! grep -q "$CANARY" "$T/web-$n.log" || fail "the canary name is in web-$n.log"
    grep -q 'POST /case/:id 303' "$T/web-$n.log" || [ "$n" = clinic ] \
        || fail "web-$n.log lacks the route line"
    ok
done
# nor in any file outside the nodes' sealed stores (logs, homes)
if grep -rlq --exclude-dir=store "$CANARY" "$T" "$OUT" 2>/dev/null; then
    fail "the canary name is in $(grep -rl --exclude-dir=store "$CANARY" "$T" "$OUT" | head -3)"
fi
ok
web_stop_checked
echo "$TEST_NAME: ok ($CHECKS checks; screenshots in $OUT)"
