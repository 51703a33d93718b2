#!/usr/bin/env bash
# test_layers - the include-direction check (issue 12, item 1): the tree as
# it is passes scripts/check-layers.sh, and copies of it with one wrong
# include each (a domain file including the daemon, a handler including
# the dispatcher, proto including nodes, broker including nodes, an
# unplaced nodes/ file) fail it, naming the file.
set -euo pipefail
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CHECK="$SRC/scripts/check-layers.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/test_layers.XXXXXX")
trap 'rm -rf "$T"' EXIT
TEST_NAME=test_layers
fail() {
    echo "$TEST_NAME: FAIL: $*" >&2
    [ -s "$T/out" ] && { echo "--- output:" >&2; cat "$T/out" >&2; }
    exit 1
}

# the real tree is clean
bash "$CHECK" "$SRC" >"$T/out" 2>&1 || fail "the source tree breaks a layer"

# bad FILE LINE WANT: a fresh copy with LINE appended to FILE must fail,
# with WANT in the output
n=0
bad() {
    n=$((n + 1))
    local copy="$T/copy$n"
    mkdir -p "$copy"
    (cd "$SRC" && cp -r proto broker nodes adapters "$copy/")
    mkdir -p "$(dirname "$copy/$1")"
    printf '%s\n' "$2" >>"$copy/$1"
    local rc=0
    bash "$CHECK" "$copy" >"$T/out" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] || fail "'$2' in $1: exit $rc, not 1"
    grep -qF "$3" "$T/out" || fail "'$2' in $1: no line naming '$3'"
    rm -rf "$copy"
}
bad nodes/pl_store.c '#include "nodes/pl_node_int.h"' "nodes/pl_store.c (layer 0)"
bad nodes/pl_ctl_reply.h '#include "nodes/pl_node_ctl.h"' "nodes/pl_ctl_reply.h"
bad nodes/pl_node_info.c '#include "nodes/pl_node_ctl.h"' "nodes/pl_node_info.c (layer 2)"
bad nodes/pl_node_ctl.c '#include "nodes/pl_node.h"
#include "nodes/main.c"' "nodes/pl_node_ctl.c (layer 3)"
bad proto/pl_util.c '#include "nodes/pl_store.h"' "proto/pl_util.c includes nodes/pl_store.h"
bad broker/pl_broker.c '#include "nodes/pl_store.h"' "broker/pl_broker.c includes nodes/pl_store.h"
bad nodes/pl_node_int.h '  #  include "adapters/cli/cli.h"' "nodes/pl_node_int.h includes adapters/"
bad nodes/pl_newroom.c '#include "proto/pl_err.h"' "nodes/pl_newroom.c has no layer"

# the calls of the compiled objects point down too (when built)
OBJ="${PL_BIN_DIR:-}/CMakeFiles/pl_nodes.dir/nodes"
if [ -n "${PL_BIN_DIR:-}" ] && [ -d "$OBJ" ] && command -v nm >/dev/null; then
    bash "$CHECK" --objects "$OBJ" "$SRC" >"$T/out" 2>&1 \
        || fail "a nodes/ object calls up a layer"
    echo "$TEST_NAME: object calls checked"
fi
echo "$TEST_NAME: ok ($n wrong includes caught)"
