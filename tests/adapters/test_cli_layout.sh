#!/usr/bin/env bash
# test_cli_layout - the CLI's structure (issue 12, item 5) stays as built:
# no test or tool compiles a .c file of the CLI in (they link pl_cli); the
# one option parser (cli_opts.c) is the only caller of getopt_long and of a
# number parser in adapters/cli; the one control client (cli_control.c) is
# the only ZeroMQ user; main.c holds no command code. Reads the sources
# only (PL_SRC_DIR, else this script's repository).
set -euo pipefail
SRC=${PL_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CLI=$SRC/adapters/cli
fails=0 checks=0
fail() {
    echo "test_cli_layout: FAIL: $*" >&2
    fails=$((fails + 1))
}
check() { checks=$((checks + 1)); }

[ -d "$CLI" ] || { echo "test_cli_layout: FAIL: no $CLI" >&2; exit 1; }

# 1. nothing under tests/ includes a .c file of the CLI
check
if hits=$(grep -rnE '#[[:space:]]*include[[:space:]]*"adapters/cli/[^"]*\.c"' "$SRC/tests"); then
    fail "tests include CLI sources instead of linking pl_cli:"$'\n'"$hits"
fi

# 2. getopt_long and number parsing only in cli_opts.c (comments aside)
code() { # the lines of file $1 that are not // comments
    grep -vE '^[[:space:]]*//' "$1" || true
}
for f in "$CLI"/*.c; do
    base=$(basename "$f")
    [ "$base" = cli_opts.c ] && continue
    check
    if code "$f" | grep -qE '\bgetopt(_long)?[[:space:]]*\('; then
        fail "$base calls getopt itself (use an option table and cli_opts_parse)"
    fi
    check
    if code "$f" | grep -qE '\b(strtoull|strtoll|strtoul|atoi|atol)[[:space:]]*\('; then
        fail "$base parses a number itself (use cli_parse_uint or a CLI_OPT_UINT row)"
    fi
done

# 3. ZeroMQ only in the one control client
for f in "$CLI"/*.c; do
    base=$(basename "$f")
    [ "$base" = cli_control.c ] && continue
    check
    if code "$f" | grep -qE '\bzmq_[a-z_]+[[:space:]]*\('; then
        fail "$base talks ZeroMQ itself (use cli_control_request)"
    fi
done

# 4. main.c is the executable only: the shared helpers live in the library
check
if code "$CLI/main.c" | grep -qE '^cli_(error|usage_error|need_home|print_json|bad_option)\('; then
    fail "main.c defines library functions (they belong in cli.c)"
fi

if [ "$fails" -gt 0 ]; then
    echo "test_cli_layout: $fails of $checks checks failed" >&2
    exit 1
fi
echo "test_cli_layout: $checks checks passed"
