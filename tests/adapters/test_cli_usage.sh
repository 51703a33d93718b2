#!/usr/bin/env bash
# test_cli_usage - silent successes and misleading messages of the CLI
# (issue 11, item 13): init on a home path too long for its control
# socket, an unknown sector or need, invalid UTF-8 in an option or in
# --as, extra words and an empty range for audit are refused with clear
# messages (usage errors: exit 2); a backup's data.mdb is mode 0600,
# whether the daemon runs or not.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_cli_usage: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-usage.XXXXXX")
TEST_NAME=test_cli_usage
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_net.sh"
cleanup() {
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
mode() { stat -c %a "$1"; }

# ---- init: a home whose ipc://DIR/control would pass 107 bytes
long=$T/$(printf 'h%.0s' $(seq 1 120))
expect 1 init --home "$long"
err_has "too long"
err_has "107"
[ ! -e "$long" ] || fail "init left the too-long home behind"
ok
# just under the limit still works: "ipc://" + DIR + "/control" = 107
fit=$T/$(printf 'f%.0s' $(seq 1 $((107 - 14 - ${#T} - 1))))
expect 0 init --home "$fit"

# ---- option values refused before anything is asked
usage --home "$T/x" directory --sector bogus
err_has "not a sector"
usage --home "$T/x" case add --given A --family B --birth 1990-01-01 --needs bogus
err_has "economic"
usage --home "$T/x" case add --given A --family B --birth 1990-01-01 --needs social,
usage --home "$T/x" case add --given "$(printf 'A\xffB')" --family B --birth 1990-01-01
err_has "invalid UTF-8 in --given"
grep -q "is required" "$T/err" && fail "invalid UTF-8 said '--given is required'"
ok
usage --as "$(printf '\xc3\x28')" --home "$T/x" case list
err_has "invalid UTF-8 in --as"
grep -qi "out of memory" "$T/err" && fail "invalid UTF-8 in --as said 'out of memory'"
ok
usage --home "$T/x" audit verify extra
err_has "unexpected argument 'extra'"
usage --home "$T/x" audit export --from 5 --to 0 --json
err_has "--to"
usage --home "$T/x" audit export --from 0 --json
usage --home "$T/x" audit verify --from 2

# ---- backups are 0600, through the daemon and without it
net_setup
net_start_broker
net_start_node agency
expect 0 --home "$T/agency" case add --given A --family B --birth 1990-01-01
umask 022
expect 0 --home "$T/agency" backup --to "$T/bk1"
[ "$(mode "$T/bk1/store/data.mdb")" = 600 ] || fail "backup through the daemon: data.mdb mode $(mode "$T/bk1/store/data.mdb")"
ok
net_stop_node agency
expect 0 --home "$T/agency" backup --to "$T/bk2"
[ "$(mode "$T/bk2/store/data.mdb")" = 600 ] || fail "offline backup: data.mdb mode $(mode "$T/bk2/store/data.mdb")"
ok
out_has "node stopped"

echo "test_cli_usage: $CHECKS checks passed"
