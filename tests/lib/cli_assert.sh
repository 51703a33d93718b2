# cli_assert.sh - assertions for shell tests of the `passerelle` CLI.
# Source it after setting T (a temp folder) and TEST_NAME; set FAIL_LOG to a
# log file whose tail a failure should show (optional).
#   run CMD...        passerelle CMD: stdout in $T/out, stderr in $T/err,
#                     exit code in RC; never stops the script
#   expect CODE CMD   the command must exit with CODE
#   usage CMD...      exit 2, a message on stderr, nothing on stdout
#   err_has / out_has TEXT, json EXPR, json_is EXPR WANT
CHECKS=0
fail() {
    echo "$TEST_NAME: FAIL: $*" >&2
    [ -s "$T/out" ] && { echo "--- stdout:" >&2; cat "$T/out" >&2; }
    [ -s "$T/err" ] && { echo "--- stderr:" >&2; cat "$T/err" >&2; }
    [ -n "${FAIL_LOG:-}" ] && [ -s "$FAIL_LOG" ] \
        && { echo "--- $FAIL_LOG (tail):" >&2; tail -n 30 "$FAIL_LOG" >&2; }
    exit 1
}
ok() { CHECKS=$((CHECKS + 1)); }
run() {
    RC=0
    passerelle "$@" >"$T/out" 2>"$T/err" || RC=$?
}
expect() {
    local want=$1
    shift
    run "$@"
    [ "$RC" -eq "$want" ] || fail "passerelle $* exited $RC, wanted $want"
    ok
}
usage() {
    expect 2 "$@"
    [ -s "$T/err" ] || fail "passerelle $*: no message on stderr"
    [ ! -s "$T/out" ] || fail "passerelle $*: usage error wrote to stdout"
    ok
}
# err_has TEXT: stderr of the last run mentions TEXT (case-insensitive).
err_has() { grep -qi -- "$1" "$T/err" || fail "stderr lacks '$1'"; ok; }
out_has() { grep -q -- "$1" "$T/out" || fail "stdout lacks '$1'"; ok; }
# json EXPR: a python expression over the last stdout parsed as JSON (d).
json() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)' "$T/out" "$1" \
        || fail "stdout is not the JSON expected for $1"
}
# json_is EXPR WANT
json_is() {
    local got
    got=$(json "$1")
    [ "$got" = "$2" ] || fail "JSON $1 = '$got', wanted '$2'"
    ok
}
