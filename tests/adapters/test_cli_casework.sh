#!/usr/bin/env bash
# test_cli_casework - a case from arrival to closure through the CLI and a
# real node daemon (issue 17): survey scores as hand-computed, a follow-up
# schedule whose first entry is overdue (return date two months ago), a
# follow-up that answers it, a safeguarding flag that stays open without a
# protection referral, closure refused without an endline survey and
# allowed after one, the schedule then done; canaries given in plan
# goals, follow-up notes and survey answers (through --stdin) appear in
# no file of the node's home (store, logs) nor in the broker's.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-casework.XXXXXX")
TEST_NAME=test_cli_casework
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=../web/web_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../web/web_net.sh"
cleanup() {
    web_stop_all
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

R=$(python3 -c 'import secrets; print(secrets.token_hex(4))')
CG="CnryGoal$R" CN="CnryNote$R" CA="CnryAssess$R"
net_setup
net_start_broker
net_start_node agency
FAIL_LOG=$T/agency.log
AG=(--home "$T/agency" --as fatou)

echo '{"given":"Awa","family":"Diop","birth":"1990-05-01"}' >"$T/in"
expect 0 "${AG[@]}" case add --stdin <"$T/in"
C=$(cat "$T/out")

# the placeholder weights are said to be placeholders
expect 0 "${AG[@]}" rss weights
out_has PLACEHOLDER

# baseline: tests/nodes/test_rss.c's hand table 2 (S3 n_a; P5, P6, P7
# missing: psychosocial invalid); social 438, composite 719
cat >"$T/in" <<JSON
{"answers": {"E1":5,"E2":1,"E3":"yes","E4":1,"E5":3,"E6":"yes","E7":5,
 "E8":"yes","S1":3,"S2":3,"S3":"n_a","S4":3,"S5":3,"S6":"no","S7":3,"S8":3,
 "S9":3,"P1":2,"P2":2,"P3":2,"P4":2,"P5":"refused","P6":"dont_know",
 "P8":"no"}, "respondent": "self"}
JSON
expect 0 "${AG[@]}" --json rss add --case "$C" --timepoint baseline --stdin <"$T/in"
json_is 'd["economic"]' 1000
json_is 'd["social"]' 438
json_is 'd["psychosocial"]' null
json_is 'd["composite"]' 719
json_is 'd["suggested_sector"]' social-protection
echo '{"answers": {"E1": 9}}' >"$T/in"
expect 1 "${AG[@]}" rss add --case "$C" --timepoint midline --stdin <"$T/in"
err_has "bad answer"
usage "${AG[@]}" rss add --case "$C" --timepoint nope --stdin

# a canary in the survey answers is refused and stored nowhere
echo "{\"answers\": {\"E1\": \"$CA\"}}" >"$T/in"
expect 1 "${AG[@]}" rss add --case "$C" --timepoint ad-hoc --stdin <"$T/in"

# the plan, with a canary in a goal
cat >"$T/in" <<JSON
{"goals": {"economic": "$CG open a tailoring shop"},
 "own_goals": "stay near my mother",
 "items": [{"dimension": "economic", "kind": "direct", "assistance": "cash",
            "amount": 15000000, "currency": "XOF"}]}
JSON
expect 0 "${AG[@]}" plan set --case "$C" --stdin <"$T/in"
echo '{"items": [{"dimension": "economic", "kind": "referral", "referral": "00"}]}' >"$T/in"
expect 1 "${AG[@]}" plan set --case "$C" --stdin <"$T/in"

# a safeguarding flag with no protection referral: an open item
echo "{\"outcome\": \"$CA\", \"flags\": [\"trafficking\"]}" >"$T/in"
expect 0 "${AG[@]}" assess add --case "$C" --type rapid_vuln --stdin <"$T/in"

# return two months ago: month 1 overdue, month 3 not yet
RET=$(date -u -d '-70 days' +%F)
expect 0 "${AG[@]}" followup schedule --case "$C" --return-date "$RET"
expect 0 "${AG[@]}" --json followup list --overdue
json_is '[e["months"] for e in d if e["case"] == "'"$C"'"]' '[1]'
# the daemon logs it once (its sweep runs at start), not again after a
# restart
wait_logged() {
    local i
    for i in $(seq 1 50); do
        [ "$(grep -c followup_overdue "$T/agency.log" || true)" -ge 1 ] && return 0
        sleep 0.1
    done
    fail "no followup_overdue line in the log"
}
net_stop_node agency
net_start_node agency
wait_logged
net_stop_node agency
net_start_node agency
expect 0 "${AG[@]}" whoami
[ "$(grep -c "followup_overdue case=$C months=1 " "$T/agency.log")" -eq 1 ] \
    || fail "followup_overdue logged $(grep -c followup_overdue "$T/agency.log") times"
ok
echo "{\"mode\": \"phone\", \"contact_made\": true, \"notes\": \"$CN\", \"satisfaction\": 4}" >"$T/in"
expect 0 "${AG[@]}" --json followup add --case "$C" --stdin <"$T/in"
json_is 'd["months"]' 1
expect 0 "${AG[@]}" --json followup list --overdue
json_is '[e for e in d if e["case"] == "'"$C"'"]' '[]'

expect 0 "${AG[@]}" --json timeline "$C"
json_is 'd["open_safeguarding"]' 1
json_is '[e["state"] for e in d["schedule"]][:2]' '["done", "upcoming"]'
json_is 'd["plan"]["version"]' 1

# closure: a handbook reason and an endline (or its reason) are needed
expect 1 "${AG[@]}" case close "$C" --reason done
err_has "handbook reason"
expect 1 "${AG[@]}" case close "$C" --reason plan-completed
err_has "no endline"
echo '{"answers": {"E1":4,"E2":2,"E3":"yes","E4":2,"E5":3,"E6":"yes","E7":4,"E8":"yes","S1":4,"S2":4,"S3":"yes","S4":4,"S5":4,"S6":"yes","S7":4,"S8":4,"S9":4,"P1":4,"P2":4,"P3":4,"P4":2,"P5":2,"P6":"no","P7":4,"P8":"no"}}' >"$T/in"
expect 0 "${AG[@]}" rss add --case "$C" --timepoint endline --stdin <"$T/in"
expect 0 "${AG[@]}" case close "$C" --reason plan-completed
expect 0 "${AG[@]}" --json timeline "$C"
json_is 'd["status"]' closed
json_is 'sorted(set(e["state"] for e in d["schedule"]))' '["closed", "done"]'
json_is 'd["change"]["to"]' endline
json_is 'd["change"]["social"]' 368
json_is 'd["open_safeguarding"]' 1

# the case manager's timeline page in passerelle-web (English, French);
# a supervisor may not open it
staff_add agency amina case-manager
staff_add agency awa case-manager fr
staff_add agency moussa supervisor
web_start agency agency
U=${WEB_URL[agency]}
web_login agency amina "$T/jar"
code=$(curl -s -o "$T/page" -w '%{http_code}' -b "$T/jar" "$U/case/$C/timeline")
[ "$code" = 200 ] || fail "timeline page answered $code"
for w in "Case timeline" "$CG" "Open: no protection referral" ">overdue<\|>done<" \
    "PLACEHOLDER" "Change from baseline"; do
    grep -q -- "$w" "$T/page" || fail "the timeline page lacks '$w'"
    ok
done
! grep -qi "<script" "$T/page" || fail "a script on the timeline page"
ok
web_login agency awa "$T/jar-fr"
curl -s -b "$T/jar-fr" "$U/case/$C/timeline" >"$T/page"
grep -q "Parcours du dossier" "$T/page" || fail "no French timeline title"
ok
web_login agency moussa "$T/jar-m"
code=$(curl -s -o "$T/page" -w '%{http_code}' -b "$T/jar-m" "$U/case/$C/timeline")
[ "$code" = 403 ] || fail "a supervisor got the timeline page: $code"
ok
web_stop_checked

# no canary in any file: store, logs, request replies
net_stop
! grep -q 'Sanitizer\|runtime error' "$T"/agency.log "$T"/broker.log \
    || fail "a sanitizer report in the daemons' logs"
ok
for c in "$CG" "$CN" "$CA"; do
    if grep -rqa -- "$c" "$T"/agency "$T"/B "$T"/*.log; then
        fail "canary $c found in $(grep -rla -- "$c" "$T"/agency "$T"/B "$T"/*.log | head -3)"
    fi
    ok
done
grep -rqa -- '"responses"' "$T"/agency && fail "survey responses in clear"
ok
echo "ok: $TEST_NAME ($CHECKS checks)"
