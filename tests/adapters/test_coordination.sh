#!/usr/bin/env bash
# test_coordination - issue 15, aggregate reports and the coordination
# view with real processes (an authority, a broker, an agency, a clinic and
# a coordination node on 127.0.0.1, real LMDB stores and CurveZMQ keys):
#   * the agency refers 7 cases with canary names, notes and a canary
#     closure reason to the clinic, which accepts, starts and completes
#     some; `report show --json` counts them and holds no name, note, id
#     or free text;
#   * `report send` at the agency, `report request` at the coordination
#     node (the clinic answers it): the coordination node keeps the reports
#     and `coordination --json` shows them suppressed (1-4 as "<5", a
#     second cell hidden where a total would give a small one back);
#   * no canary and no case or referral id in any report, in the figures,
#     in any file under the coordination node's home or in its log;
#   * a node offline for a week (the coordination node restarted with its
#     clock a week ahead): its last report is still shown, with its date
#     and its age;
#   * the dashboard of the coordination node's passerelle-web: a
#     coordinator sees the figures (HTML with SVG charts, CSV, JSON API), a
#     provider is refused (403) on every one of those routes; the same in
#     a real headless browser (tests/web/coord.js: chromium, axe-core);
#   * /metrics of that passerelle-web parses with Debian's
#     python3-prometheus-client (text_string_to_metric_families) and
#     follows the naming rules (passerelle_ prefix, counters _total, units);
#   * passerelle-web --broker-home: the broker's read-only status page and
#     its /metrics (parsed the same way); nothing else served;
#   * --report-hours: a daemon flag and a config key; bad values refused.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker passerelle-web curl node python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_coordination: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-coord.XXXXXX")
TEST_NAME=test_coordination
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
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi

net_setup
passerelle init --home "$T/coord" >/dev/null
passerelle authority enroll --home "$T/A" --node "$T/coord" --name coord \
    --sector coordination --country SN --region dakar >/dev/null
cp "$T/coord/node.cert" "$T/B/certs/coord.cert"
cp "$T/B/node.cert" "$T/coord/broker.cert"
net_start_broker
net_start_node agency
net_start_node clinic
net_start_node coord
AG=$T/agency
CL=$T/clinic
FAIL_LOG=$T/agency.log

# --report-hours: flag and config key
run_node() { RC=0; passerelle-node "$@" >"$T/out" 2>"$T/err" || RC=$?; }
run_node --home "$AG" --broker "$NET_EP" --report-hours 6 --check-config
[ "$RC" -eq 0 ] && grep -q '^report-hours = 6$' "$T/out" || fail "--report-hours 6 not taken"
ok
printf 'report-hours = 12\n' >"$T/node.conf"
run_node --home "$AG" --broker "$NET_EP" --config "$T/node.conf" --check-config
grep -q '^report-hours = 12$' "$T/out" || fail "report-hours not a config key"
ok
run_node --home "$AG" --broker "$NET_EP" --report-hours soon --check-config
[ "$RC" -eq 2 ] && grep -q 'report-hours' "$T/err" || fail "--report-hours soon not refused"
ok

# the directory holds the coordination node once the broker sent it
has_coord() { passerelle --home "$AG" directory --json 2>/dev/null | grep -q '"sn/coord"'; }
net_until 100 has_coord || fail "the agency's directory has no sn/coord"
net_until 100 bash -c "passerelle --home '$CL' directory --json 2>/dev/null | grep -q sn/coord" \
    || fail "the clinic's directory has no sn/coord"

EXP=$(date -u -d '+200 days' +%F)
CASES=()
REFS=()
for i in 1 2 3 4 5 6 7; do
    c=$(printf '{"given":"Canarygiven%s","family":"Canaryfamily","birth":"1990-01-0%s","phone":"+221 77 999 88 7%s"}' \
        "$i" "$i" "$i" | passerelle --home "$AG" --as amina case add --stdin)
    CASES+=("$c")
    passerelle --home "$AG" --as amina consent add --case "$c" --sectors health \
        --given-by returnee --expires "$EXP" >/dev/null
    r=$(passerelle --home "$AG" --as amina refer --case "$c" --to clinic \
        --service primary-care --note "Canarynote about case $i")
    REFS+=("$r")
done
received() { passerelle --home "$CL" referrals --json 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if len(d)==7 else 1)'; }
net_until 200 received || fail "the clinic did not receive the 7 referrals"
for i in 0 1 2 3 4 5; do
    passerelle --home "$CL" --as fatou accept "${REFS[$i]}" >/dev/null
done
for i in 0 1 2 3 4; do
    passerelle --home "$CL" --as fatou start "${REFS[$i]}" >/dev/null
    passerelle --home "$CL" --as fatou complete "${REFS[$i]}" --outcome successful >/dev/null
done
done_at_agency() { passerelle --home "$AG" referrals --json --status completed 2>/dev/null \
    | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin))==5 else 1)'; }
net_until 200 done_at_agency || fail "the agency did not see 5 completed"
passerelle --home "$AG" --as amina case close "${CASES[0]}" --reason plan-completed >/dev/null
passerelle --home "$AG" --as amina case close "${CASES[1]}" --reason moved-to-canaryplace >/dev/null
# a handbook reason the report once counted as "other"
passerelle --home "$AG" --as amina case close "${CASES[3]}" --reason lost-contact >/dev/null

# what the agency would send
MONTH=$(date -u +%Y-%m)
expect 0 --home "$AG" report show --json
json_is 'd["period"]' "$MONTH"
json_is 'd["node"]' sn/agency
json_is 'd["referrals"]["out"]["total"]' 7
json_is 'd["referrals"]["out"]["status"]["completed"]' 5
json_is 'd["referrals"]["out"]["status"]["accepted"]' 1
json_is 'd["referrals"]["out"]["status"]["received"]' 1
json_is 'd["referrals"]["out"]["sector"]["health"]' 7
json_is 'd["referrals"]["out"]["dimension"]["social"]' 7
json_is 'd["cases"]["opened"]' 7
json_is 'd["cases"]["closed_by_reason"]["plan-completed"]' 1
json_is 'd["cases"]["closed_by_reason"]["other"]' 1
json_is 'd["cases"]["closed_by_reason"]["lost-contact"]' 1
json_is '"received" in d["referrals"]["out"]["median_s"]' true
json_is '"accepted" in d["referrals"]["out"]["median_s"]' true
cp "$T/out" "$T/report-agency.json"
usage --home "$AG" report show --period
expect 1 --home "$AG" report show --period 2026-13
err_has "YYYY-MM"
usage --home "$AG" report frobnicate
expect 0 --home "$AG" report --help
out_has "report send"

# sent now, kept at the coordination node
expect 0 --home "$AG" report send
out_has "to sn/coord"
# the clinic's comes on the coordination node's request
expect 0 --home "$T/coord" report request
out_has "asked sn/clinic"
expect 1 --home "$CL" report request
err_has "coordination node"
kept() {
    passerelle --home "$T/coord" coordination --json >"$T/out" 2>"$T/err" || return 1
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
n=[e for e in d["nodes"]]; t=d["tables"]["status"]
ok=len(n)==2 and sys.argv[2] in t["rows"] and t["total"]==7 \
    and "sn/clinic" in d["tables"]["node_status"]["rows"]
sys.exit(0 if ok else 1)' "$T/out" "$MONTH"
}
FAIL_LOG=$T/coord.log
net_until 200 kept || fail "the coordination node did not show both reports"
cp "$T/out" "$T/figures.json"
# month x status, referrals sent: 5 completed shown, 1 accepted and 1
# received hidden as "<5"; the total 7 is shown
row='d["tables"]["status"]["cells"][d["tables"]["status"]["rows"].index("'$MONTH'")]'
cols='d["tables"]["status"]["cols"]'
json_is "$row[$cols.index(\"completed\")]" 5
json_is "$row[$cols.index(\"accepted\")]" "<5"
json_is "$row[$cols.index(\"received\")]" "<5"
json_is 'd["tables"]["status"]["total"]' 7
# the node table: the clinic's in-referrals and the agency's out-referrals
json_is 'sorted(d["tables"]["node_status"]["rows"])' '["sn/agency", "sn/clinic"]'
json_is 'd["tables"]["cases"]["col_totals"][0]' 7
json_is 'd["tables"]["closure"]["row_totals"][0]' '<5'
json_is 'd["tables"]["closure"]["cols"]' '["lost-contact", "other", "plan-completed"]'
json_is 'd["tables"]["closure"]["cells"][0]' '["<5", "<5", "<5"]'
# no line of any table has exactly one hidden figure
python3 - "$T/figures.json" <<'EOF' || fail "a table has a line with one hidden figure"
import json, sys
d = json.load(open(sys.argv[1]))
def hidden(v): return isinstance(v, str)
for name, t in d["tables"].items():
    rows = [r + [t["row_totals"][i]] for i, r in enumerate(t["cells"])]
    rows.append(t["col_totals"] + [t["total"]])
    for line in rows + [list(c) for c in zip(*rows)] if rows and rows[0] else []:
        n = sum(hidden(v) for v in line)
        assert n != 1, (name, line)
        for v in line:
            assert not (isinstance(v, int) and 1 <= v <= 4), (name, line)
EOF
ok
expect 0 --home "$T/coord" coordination
out_has "sn/agency"
out_has "loop closure"
# every column named whole (they were cut at 8: "in-progr", "cancelle"),
# and each figure under its name: the status table's header and rows align
out_has " in-progress "
out_has " lost-contact "
python3 - "$T/out" <<'EOF' || fail "a table's figures do not end under their column names"
import sys
lines = open(sys.argv[1]).read().split("\n")
rows = 0
for i, line in enumerate(lines):
    if line.startswith(" " * 24) and line.strip().endswith("total"):
        lw = len(line) - len(line.lstrip())  # past the row names' column
        ends = [j + 1 for j in range(len(line)) if line[j] != " " and (j + 1 == len(line) or line[j + 1] == " ")]
        k = i + 1
        while k < len(lines) and lines[k] and not lines[k].startswith(" " * 24):
            row = lines[k]
            got = [j + 1 for j in range(lw, len(row)) if row[j] != " " and (j + 1 == len(row) or row[j + 1] == " ")]
            assert got == ends, (line, row)
            k += 1
            rows += 1
assert rows >= 10, rows  # the status, region, cases, closure ... tables
EOF
ok

# the dashboard: a coordinator sees it, a provider is refused
staff_add coord cora coordinator
staff_add coord pat provider
web_start coord coord
U=${WEB_URL[coord]}
web_login coord cora "$T/jar-co"
get() { curl -s -o "$T/page" -w '%{http_code}' -b "$1" "$U$2"; }
[ "$(get "$T/jar-co" /coordination)" = 200 ] || fail "GET /coordination as coordinator"
grep -q '<svg class="chart"' "$T/page" && grep -q '&lt;5' "$T/page" \
    && grep -q 'sn/agency' "$T/page" || fail "the dashboard lacks its chart or figures"
grep -q '<script' "$T/page" && fail "the dashboard has a script"
cp "$T/page" "$T/dash.html"
ok
[ "$(get "$T/jar-co" /coordination.csv)" = 200 ] || fail "GET /coordination.csv"
grep -q "^status,$MONTH,accepted,<5" "$T/page" || fail "the CSV lacks the suppressed figure"
cp "$T/page" "$T/dash.csv"
ok
[ "$(get "$T/jar-co" /api/v1/coordination/figures)" = 200 ] || fail "GET the JSON figures"
cp "$T/page" "$T/dash.json"
cp "$T/page" "$T/out"
json_is 'd["tables"]["status"]["total"]' 7
[ "$(get "$T/jar-co" /api/v1/coordination/network)" = 200 ] || fail "GET the JSON network"
post() { curl -s -o "$T/page" -w '%{http_code}' -b "$1" -H "Origin: $U" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "csrf=$2" "$U$3"; }
CO_CSRF=$CSRF
FIRST=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([e for e in d["nodes"] if e["node"]=="sn/agency"][0]["last_report"])' "$T/figures.json")
sleep 1.1 # reports carry their time in seconds: the answer's must be later
[ "$(post "$T/jar-co" "$CO_CSRF" /coordination/request)" = 303 ] || fail "the dashboard's request button"
answered() { passerelle --home "$T/coord" coordination --json 2>/dev/null | python3 -c 'import json,sys
d=json.load(sys.stdin); sys.exit(0 if [e for e in d["nodes"] if e["node"]=="sn/agency"][0]["last_report"] > int(sys.argv[1]) else 1)' "$FIRST"; }
net_until 100 answered || fail "the agency did not answer the dashboard's request"
ok
web_login coord pat "$T/jar-pr"
[ "$(post "$T/jar-pr" "$CSRF" /coordination/request)" = 403 ] || fail "a provider asked for the reports"
ok
for path in /coordination /coordination.csv /api/v1/coordination/figures; do
    [ "$(get "$T/jar-pr" "$path")" = 403 ] || fail "a provider got $path"
    ok
done
[ "$(get /dev/null /coordination)" = 401 ] || fail "no login got /coordination"
ok
# the same in a real headless browser (tests/web/coord.js)
WEBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../web" && pwd)
[ -x "${PL_CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$WEBDIR/node_modules/playwright-core" ] \
    || fail "no chromium or tests/web/node_modules (scripts/deps.sh installs them)"
SHOTS=${PL_COORD_SHOTS:-$T/shots}
HOME="$T" node "$WEBDIR/coord.js" "$U" "$WEB_PASS" cora pat "$SHOTS" >"$T/out" 2>"$T/err" \
    || FAIL_LOG=$T/web-coord.log fail "the browser check of the dashboard failed"
[ -s "$SHOTS/coordination.png" ] || fail "no screenshot of the dashboard"
ok
# /metrics: a real exposition parser and the naming rules
[ "$(get /dev/null /metrics)" = 200 ] || fail "GET /metrics"
cp "$T/page" "$T/metrics.txt"
python3 - "$T/metrics.txt" <<'PY' || fail "/metrics does not parse or breaks the naming rules"
import re, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = list(text_string_to_metric_families(text))
names = {f.name for f in fams}
assert "passerelle_node_envelopes_sent" in names, names  # _total stripped
assert "passerelle_broker_node_up" in names, names
for f in fams:
    assert re.fullmatch(r"passerelle_[a-z0-9_]+", f.name), f.name
    assert f.documentation, f.name
    assert f.type in ("counter", "gauge"), (f.name, f.type)
    for s in f.samples:
        if f.type == "counter":
            assert s.name.endswith("_total"), s.name
        assert set(s.labels) <= {"node", "network"}, s.labels
for line in text.splitlines():
    if line.startswith("# TYPE") and line.endswith(" counter"):
        assert line.split()[2].endswith("_total"), line
up = [s for f in fams if f.name == "passerelle_broker_node_up" for s in f.samples]
assert {s.labels["node"] for s in up} >= {"sn/agency", "sn/clinic", "sn/coord"}, up
PY
ok

# passerelle-web --broker-home: the operator's read-only page and /metrics
: >"$T/web-broker.log"
setpriv --pdeathsig KILL passerelle-web --broker-home "$T/B" --listen 127.0.0.1:0 \
    2>>"$T/web-broker.log" &
WEB_PID[broker]=$!
BU=
for i in $(seq 1 100); do
    p=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) for the broker.*/\1/p' "$T/web-broker.log")
    [ -n "$p" ] && { BU=http://127.0.0.1:$p; break; }
    sleep 0.1
done
[ -n "$BU" ] || FAIL_LOG=$T/web-broker.log fail "passerelle-web --broker-home did not start"
[ "$(curl -s -o "$T/page" -w '%{http_code}' "$BU/")" = 200 ] && grep -q 'sn/clinic' "$T/page" \
    || fail "the broker status page"
cp "$T/page" "$T/broker.html"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BU/coordination")" = 404 ] || fail "broker mode serves /coordination"
[ "$(curl -s -o /dev/null -w '%{http_code}' -d x=1 "$BU/")" = 405 ] || fail "broker mode takes a POST"
[ "$(curl -s -o "$T/broker-metrics.txt" -w '%{http_code}' "$BU/metrics")" = 200 ] || fail "broker /metrics"
python3 - "$T/broker-metrics.txt" <<'PY' || fail "the broker's /metrics does not parse"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert fams["passerelle_broker_uptime_seconds"].samples[0].value > 0
up = {s.labels["node"]: s.value for s in fams["passerelle_broker_node_up"].samples}
assert up.get("sn/coord") == 1, up
assert "passerelle_broker_node_delivered" in fams  # a counter: _total stripped
PY
ok
usage_web() { RC=0; passerelle-web "$@" >"$T/out" 2>"$T/err" || RC=$?; [ "$RC" = 2 ] || fail "passerelle-web $* exited $RC"; ok; }
usage_web --home "$T/coord" --broker-home "$T/B"
usage_web

# no canary, no id anywhere at the coordination node or in what left it
leaks() {
    local f
    for f in "$@"; do
        grep -a -l -i -e canary "$f" && return 0
        for id in "${CASES[@]}" "${REFS[@]}"; do
            grep -a -l -e "$id" "$f" && return 0
        done
    done
    return 1
}
if leaks "$T/report-agency.json" "$T/figures.json" "$T/coord.log" "$T/dash.html" \
    "$T/dash.csv" "$T/dash.json" "$T/metrics.txt" "$T/web-coord.log" \
    "$T/broker.html" "$T/broker-metrics.txt" "$T/web-broker.log" \
    $(find "$T/coord" -type f); then
    fail "a canary or an id reached the coordination side"
fi
ok
# the canaries are where they belong (the check can fail)
passerelle --home "$AG" --as amina case show "${CASES[2]}" | grep -q Canarygiven3 \
    || fail "the canary is not even in the agency's case"
ok

# offline for a week: the agency stops; the coordination node, a week
# later, still shows its last report with its date and age
web_stop_checked
net_stop_node agency
passerelle --home "$T/coord" coordination --json >"$T/figures2.json"
LAST=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([e for e in d["nodes"] if e["node"]=="sn/agency"][0]["last_report"])' "$T/figures2.json")
net_stop_node coord
PASSERELLE_TEST_CLOCK_OFFSET=$((7 * 86400 + 3600)) net_start_node coord
expect 0 --home "$T/coord" coordination --json
json_is '[e["last_report"] for e in d["nodes"] if e["node"]=="sn/agency"][0]' "$LAST"
json_is '[e["age_days"] for e in d["nodes"] if e["node"]=="sn/agency"][0]' 7
expect 0 --home "$T/coord" coordination
out_has "sn/agency"
grep -q "sn/agency .* $(date -u -d "@$LAST" +%F) *7$" "$T/out" \
    || fail "the text view lacks the agency's date and age"
ok

echo "$TEST_NAME: $CHECKS checks passed"
