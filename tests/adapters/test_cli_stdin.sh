#!/usr/bin/env bash
# test_cli_stdin - personal data and free text never show in the process
# list (issue 11, item 8). Every command with a personal or free-text
# field takes it through --stdin (one JSON object on standard input): case
# add, case list --search, case bia --ref, consent add --guardian-name and
# --child-views, refer --note and --override-justification/--approved-by,
# accept/start/hold/resume/complete/reject/cancel --note. A scanner reads
# every /proc/*/cmdline in the background while the commands run; each
# canary given through --stdin reaches the daemon (shown back by show or
# list) and never appears in any cmdline. Each CLI process is kept alive
# 0.3 s (its stdin arrives late) so that the scanner cannot miss it; the
# negative controls give canaries on the command line the same way, and
# the scanner must see them. Also: an unknown key, a key given twice, a
# bad value, a non-object and a document over 64 KiB are usage errors at
# once (exit 2), and nothing reaches the daemon.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_cli_stdin: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-stdin.XXXXXX")
TEST_NAME=test_cli_stdin
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_net.sh"
SCAN_PID=
cleanup() {
    [ -n "$SCAN_PID" ] && { kill "$SCAN_PID" 2>/dev/null || true; wait "$SCAN_PID" 2>/dev/null || true; }
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

# canaries: random, so that nothing else on the machine holds them
R=$(python3 -c 'import secrets; print(secrets.token_hex(4))')
declare -A C
for k in given family phone search ref guardian views note oj ab acc start \
    hold resume done cancel reject staff neg_given neg_note neg_search; do
    C[$k]="Cnry${k}${R}"
done
for k in "${!C[@]}"; do echo "${C[$k]}"; done >"$T/canaries"

# the scanner: every cmdline, over and over, until $T/scan.stop (at most
# 300 s); hits go to $T/hits as "canary<TAB>pid<TAB>cmdline"
cat >"$T/scan.py" <<'EOF'
import os, sys, time
canaries = [l.strip().encode() for l in open(sys.argv[1]) if l.strip()]
stop, hits, me = sys.argv[2], open(sys.argv[3], "a"), str(os.getpid())
seen = set()
end = time.monotonic() + 300
open(sys.argv[4], "w").close()  # ready
while time.monotonic() < end and not os.path.exists(stop):
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        for c in canaries:
            if c in cmd and (c, pid) not in seen:
                seen.add((c, pid))
                hits.write("%s\t%s\t%s\n" % (c.decode(), pid,
                           cmd.replace(b"\0", b" ").decode(errors="replace")))
                hits.flush()
    time.sleep(0.002)
EOF
: >"$T/hits"
python3 "$T/scan.py" "$T/canaries" "$T/scan.stop" "$T/hits" "$T/scan.ready" &
SCAN_PID=$!
net_until 100 test -e "$T/scan.ready" || fail "the scanner did not start"

# slow HOME ARGS... <<< JSON: passerelle with its stdin arriving after 0.3 s
# (the process lives that long); output in $T/out, $T/err, code in RC
slow() {
    local doc=$1
    shift
    RC=0
    { sleep 0.3; printf '%s' "$doc"; } | passerelle "$@" >"$T/out" 2>"$T/err" || RC=$?
}
sexpect() {
    local want=$1
    shift
    slow "$@"
    [ "$RC" -eq "$want" ] || fail "passerelle ${*:2} (stdin $1) exited $RC, wanted $want"
    ok
}
# shows CMD... : the JSON output of the command holds the canary
shows() {
    local canary=$1
    shift
    expect 0 "$@"
    # a bash match, not grep: no process may carry the canary in its argv
    local text
    text=$(<"$T/out")
    [[ "$text" == *"$canary"* ]] || fail "passerelle $* does not show $canary"
    ok
}

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
AG=(--home "$T/agency")
CL=(--home "$T/clinic")
dir_full() { passerelle "${AG[@]}" directory --json 2>/dev/null | grep -q sn/clinic; }
net_until 200 dir_full || FAIL_LOG=$T/agency.log fail "the agency never saw the clinic"

# ---- a child's case, its assessment and the guardian's consent
sexpect 0 "{\"given\": \"${C[given]}\", \"family\": \"${C[family]}\", \"birth\": \"2014-03-04\", \"phone\": \"${C[phone]}\", \"needs\": [\"social\", \"psychosocial\"]}" \
    "${AG[@]}" case add --stdin
CASE1=$(cat "$T/out")
[[ "$CASE1" =~ ^[0-9a-f]{32}$ ]] || fail "case add printed '$CASE1'"
ok
shows "${C[given]}" "${AG[@]}" case show "$CASE1" --json
shows "${C[phone]}" "${AG[@]}" case show "$CASE1" --json
sexpect 0 "{\"search\": \"${C[given]}\"}" "${AG[@]}" case list --stdin --json
json_is "[c['id'] for c in d]" "[\"$CASE1\"]"
sexpect 0 "{\"case\": \"$CASE1\", \"ref\": \"${C[ref]}\", \"date\": \"2026-01-05\"}" \
    "${AG[@]}" case bia --stdin
shows "${C[ref]}" "${AG[@]}" case show "$CASE1" --json
sexpect 0 "{\"case\": \"$CASE1\", \"sectors\": \"health\", \"given_by\": \"guardian\", \"guardian_name\": \"${C[guardian]}\", \"child_views\": \"${C[views]}\", \"expires\": \"2030-01-01\"}" \
    "${AG[@]}" consent add --stdin
shows "${C[guardian]}" "${AG[@]}" case show "$CASE1" --json
shows "${C[views]}" "${AG[@]}" case show "$CASE1" --json

# ---- referrals: a note, an override, then the recipient's steps
sexpect 0 "{\"to\": \"sn/clinic\", \"service\": \"primary-care\", \"note\": \"${C[note]}\", \"as\": \"${C[staff]}\"}" \
    "${AG[@]}" refer --case "$CASE1" --stdin
R1=$(cat "$T/out")
shows "${C[note]}" "${AG[@]}" show "$R1" --json
shows "${C[staff]}" "${AG[@]}" show "$R1" --json # history: by the staff member
expect 0 "${AG[@]}" case add --given Adult --family Person --birth 1980-01-01
CASE2=$(cat "$T/out")
sexpect 0 "{\"case\": \"$CASE2\", \"to\": \"sn/clinic\", \"service\": \"primary-care\", \"override_justification\": \"${C[oj]}\", \"approved_by\": \"${C[ab]}\"}" \
    "${AG[@]}" refer --stdin
R2=$(cat "$T/out")
shows "${C[oj]}" "${AG[@]}" show "$R2" --json
shows "${C[ab]}" "${AG[@]}" show "$R2" --json
sexpect 0 "{\"reason\": \"no-longer-needed\", \"note\": \"${C[cancel]}\"}" "${AG[@]}" cancel "$R2" --stdin
shows "${C[cancel]}" "${AG[@]}" show "$R2" --json
sexpect 0 "{\"case\": \"$CASE2\", \"to\": \"sn/clinic\", \"service\": \"primary-care\", \"override_justification\": \"again\", \"approved_by\": \"boss\"}" \
    "${AG[@]}" refer --stdin
R3=$(cat "$T/out")

received() { passerelle "${CL[@]}" show "$1" >/dev/null 2>&1; }
net_until 300 received "$R1" || FAIL_LOG=$T/clinic.log fail "the clinic never received $R1"
net_until 300 received "$R3" || FAIL_LOG=$T/clinic.log fail "the clinic never received $R3"
sexpect 0 "{\"note\": \"${C[acc]}\"}" "${CL[@]}" accept "$R1" --stdin
sexpect 0 "{\"note\": \"${C[start]}\"}" "${CL[@]}" start "$R1" --stdin
sexpect 0 "{\"reason\": \"no-capacity\", \"note\": \"${C[hold]}\"}" "${CL[@]}" hold "$R1" --stdin
sexpect 0 "{\"note\": \"${C[resume]}\"}" "${CL[@]}" resume "$R1" --stdin
sexpect 0 "{\"outcome\": \"successful\", \"note\": \"${C[done]}\"}" "${CL[@]}" complete "$R1" --stdin
for k in acc start hold resume done; do
    shows "${C[$k]}" "${CL[@]}" show "$R1" --json
done
sexpect 0 "{\"reason\": \"out-of-scope\", \"note\": \"${C[reject]}\"}" "${CL[@]}" reject "$R3" --stdin
shows "${C[reject]}" "${CL[@]}" show "$R3" --json
sexpect 0 '{"reason": "resolved"}' "${AG[@]}" case close "$CASE2" --stdin

# ---- refusals: at once, exit 2, nothing reaches the daemon
n_cases() { passerelle "${AG[@]}" case list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
before=$(n_cases)
sexpect 2 '{"given": "A", "family": "B", "birth": "1990-01-01", "nickname": "x"}' "${AG[@]}" case add --stdin
err_has 'unknown key "nickname"'
sexpect 2 '{"family": "B", "birth": "1990-01-01"}' "${AG[@]}" case add --given A --family C --stdin
err_has '"family" is given both'
sexpect 2 '{"given": "A", "family": "B", "birth": "01/01/1990"}' "${AG[@]}" case add --stdin
err_has 'expected a date'
sexpect 2 '{"given": "A", "family": "B", "birth": "1990-01-01", "needs": ["bogus"]}' "${AG[@]}" case add --stdin
err_has 'needs'
sexpect 2 '{"given": 7, "family": "B", "birth": "1990-01-01"}' "${AG[@]}" case add --stdin
err_has '"given" must be'
sexpect 2 '["given"]' "${AG[@]}" case add --stdin
err_has 'JSON object'
sexpect 2 '{"note": "x", "given": "y"}' "${AG[@]}" accept "$R1" --stdin
err_has 'unknown key "given"'
sexpect 2 '{"reason": "x", "as": "someone"}' --as other "${AG[@]}" cancel "$R1" --stdin
err_has '"as" is given both'
sexpect 2 '{}' "${AG[@]}" case show "$CASE1" --stdin
err_has 'does not apply'
printf '{"given": "\xff\xfe", "family": "B", "birth": "1990-01-01"}' >"$T/bad.json"
RC=0
passerelle "${AG[@]}" case add --stdin <"$T/bad.json" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" = 2 ] || fail "invalid UTF-8 on --stdin exited $RC"
ok
# 20 MB: refused at once (well within 10 s), not "did not answer"
python3 -c 'import sys; sys.stdout.write("{\"given\": \"" + "a" * 20000000 + "\"}")' >"$T/big.json"
t0=$(date +%s)
RC=0
timeout 20 passerelle "${AG[@]}" case add --stdin <"$T/big.json" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" = 2 ] || fail "20 MB on --stdin exited $RC, wanted 2"
ok
err_has "64 KiB"
[ $(($(date +%s) - t0)) -lt 8 ] || fail "20 MB on --stdin took $(($(date +%s) - t0)) s to refuse"
ok
[ "$(n_cases)" = "$before" ] || fail "a refused --stdin document created a case"
ok

# ---- negative controls: the same commands with the canary in argv
slow '{}' "${AG[@]}" case list --search "${C[neg_search]}" --stdin
slow '{"family": "B", "birth": "1990-01-01"}' "${AG[@]}" case add --given "${C[neg_given]}" --stdin
slow '{}' "${AG[@]}" accept "$R1" --note "${C[neg_note]}" --stdin

touch "$T/scan.stop"
wait "$SCAN_PID" || true
SCAN_PID=
for k in neg_search neg_given neg_note; do
    grep -q "^${C[$k]}	" "$T/hits" || fail "negative control: the scanner never saw ${C[$k]} given in argv (hits: $(cat "$T/hits"))"
    ok
done
leaks=$(grep -v -e "^${C[neg_search]}	" -e "^${C[neg_given]}	" -e "^${C[neg_note]}	" "$T/hits" || true)
[ -z "$leaks" ] || fail "canaries given on --stdin seen in a process list: $leaks"
ok
# nor in the daemons' logs
for f in "$T"/*.log; do
    for k in given family phone guardian views note oj ab acc hold done cancel reject staff; do
        if grep -q -- "${C[$k]}" "$f"; then fail "${C[$k]} in $f"; fi
    done
done
ok

echo "test_cli_stdin: $CHECKS checks passed"
