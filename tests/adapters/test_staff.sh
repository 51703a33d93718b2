#!/usr/bin/env bash
# test_staff - staff accounts and sessions in the node daemon (issue 14),
# with real processes (an authority, a broker, two nodes on 127.0.0.1): the
# control protocol as passerelle-web speaks it (pl-ctlraw: one raw request
# from stdin) and the CLI's `staff` commands. Accounts, login right /
# wrong / unknown name / locked / disabled, role refusals, the session's
# idle and absolute expiry (the daemon's test clock: test.session-clock),
# logout, a new password ending sessions, the Unix owner unchanged, and the
# password never in the daemon's log, in `ps`, or in `staff list --json`.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker pl-ctlraw python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_staff: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-staff.XXXXXX")
TEST_NAME=test_staff
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_net.sh"
cleanup() {
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
# the system's python starts in a tenth of the time of a version manager's shim
if [ -x /usr/bin/python3 ]; then python3() { /usr/bin/python3 "$@"; }; fi

export PASSERELLE_TEST_HOOKS=1 # test.session-clock
net_setup
net_start_broker
net_start_node agency
net_start_node clinic
AG=$T/agency
FAIL_LOG=$T/agency.log
PW_ADMIN='admin-Secret-1'
PW_CM='Canary-pw-7781x'
PW_PRV='provider-pw-99'

# ctl JSON: one raw control request to the agency daemon; reply in $T/out,
# exit status in RC (0 ok, 1 refused).
ctl() {
    RC=0
    printf '%s' "$1" | pl-ctlraw --home "$AG" >"$T/out" 2>"$T/err" || RC=$?
}
rid() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
# ctl_ok JSON / ctl_err CODE TEXT JSON
ctl_ok() {
    ctl "$1"
    [ "$RC" -eq 0 ] || fail "request $1 refused"
    ok
}
ctl_err() {
    ctl "$3"
    [ "$RC" -eq 1 ] || fail "request $3: wanted a refusal, exit $RC"
    json_is 'd["code"]' "$1"
    json_is 'd["error"]' "$2"
}
login() { # login NAME PASSWORD: prints the token
    ctl "{\"cmd\":\"session.login\",\"args\":{\"name\":\"$1\",\"password\":\"$2\"}}"
    [ "$RC" -eq 0 ] || fail "login of $1 refused"
    json 'd["result"]["token"]'
}
as() { # as TOKEN CMD ARGS-JSON [changes]
    local r=""
    [ -n "${4:-}" ] && r="\"req\":\"$(rid)\","
    ctl "{$r\"cmd\":\"$2\",\"args\":$3,\"session\":\"$1\"}"
}

# ---- accounts, by the Unix owner through the CLI (password on stdin)
printf '%s\n' "$PW_ADMIN" | passerelle --home "$AG" staff add root-admin --role admin \
    >"$T/out" 2>"$T/err" || fail "staff add admin"
ok
printf '%s\n' "$PW_CM" | passerelle --home "$AG" staff add amina.k --role case-manager --lang fr \
    >"$T/out" 2>"$T/err" || fail "staff add case manager"
ok
printf '%s\n' "$PW_PRV" | passerelle --home "$AG" staff add prov --role provider \
    >"$T/out" 2>"$T/err" || fail "staff add provider"
ok
printf '%s\n' 'short' | passerelle --home "$AG" staff add shorty --role provider \
    >"$T/out" 2>"$T/err" && fail "a 5-byte password was taken"
err_has "10 to"
printf '%s\n' "$PW_PRV" | passerelle --home "$AG" staff add BadName --role provider \
    >"$T/out" 2>"$T/err" && fail "an upper-case name was taken"
err_has "a-z"
printf '%s\n' "$PW_PRV" | passerelle --home "$AG" staff add x --role chief \
    >"$T/out" 2>"$T/err" && fail "an unknown role was taken"
err_has "role"
printf '%s\n' "$PW_PRV" | passerelle --home "$AG" staff add prov --role provider \
    >"$T/out" 2>"$T/err" && fail "a second 'prov' was taken"
err_has "exists"

# usage: --help on each, no role, no name, a stray word, a password option
for sub in add list disable enable passwd; do
    expect 0 staff "$sub" --help
    out_has "staff add NAME --role ROLE"
done
expect 0 staff --help
usage --home "$AG" staff add nobody
usage --home "$AG" staff add --role provider
usage --home "$AG" staff list extra
usage --home "$AG" staff disable
usage --home "$AG" staff add x --role provider --password secret-secret
usage --home "$AG" staff fire x
expect 0 --home "$AG" staff list --json
json_is 'len(d)' 3
json_is '[a["role"] for a in d if a["name"] == "amina.k"][0]' case-manager
json_is '[a["lang"] for a in d if a["name"] == "amina.k"][0]' fr
grep -q 'argon2\|\$argon\|hash' "$T/out" && fail "staff list shows a hash"
ok
expect 0 --home "$AG" staff list
out_has amina.k

# ---- login
TOK_CM=$(login amina.k "$PW_CM")
[ "${#TOK_CM}" -eq 64 ] || fail "token is not 64 hex digits: $TOK_CM"
ok
json_is 'd["result"]["role"]' case-manager
json_is 'd["result"]["lang"]' fr
json_is 'd["result"]["idle_timeout_s"]' 900
ctl_err PL_EAUTH "wrong name or password" \
    '{"cmd":"session.login","args":{"name":"amina.k","password":"not-the-password"}}'
ctl_err PL_EAUTH "wrong name or password" \
    '{"cmd":"session.login","args":{"name":"nobody","password":"not-the-password"}}'
as "$TOK_CM" session.check '{}'
json_is 'd["result"]["name"]' amina.k
ctl_err PL_EAUTH "session expired" \
    "{\"cmd\":\"session.check\",\"session\":\"$(rid)$(rid)\"}"
ctl_err PL_EPROTO '"session" is a token of 64 hex digits' \
    '{"cmd":"session.check","session":"abc"}'

# ---- roles: the case manager works as herself, the provider may not
as "$TOK_CM" case.add '{"given":"Awa","family":"Diop","birth":"1990-03-04"}' changes
[ "$RC" -eq 0 ] || fail "case manager could not add a case"
ok
CASE=$(json 'd["result"]["id"]')
as "$TOK_CM" case.list '{}'
[ "$RC" -eq 0 ] || fail "case manager could not list cases"
ok
TOK_PRV=$(login prov "$PW_PRV")
as "$TOK_PRV" case.list '{}'
json_is 'd["code"]' PL_EPERM
json_is 'd["error"]' "your role (provider) may not do this"
as "$TOK_PRV" case.add '{"given":"X","family":"Y","birth":"1990-03-04"}' changes
json_is 'd["error"]' "your role (provider) may not do this"
as "$TOK_PRV" staff.list '{}'
json_is 'd["error"]' "your role (provider) may not do this"
as "$TOK_PRV" referrals '{"direction":"out"}'
json_is 'd["error"]' "your role (provider) may not do this"
as "$TOK_PRV" referrals '{"direction":"in"}'
[ "$RC" -eq 0 ] || fail "provider could not list incoming referrals"
ok
as "$TOK_CM" referral.act '{"id":"x","event":"accept"}' changes
json_is 'd["error"]' "your role (case-manager) may not do this"
as "$TOK_CM" backup '{"to":"/tmp/nowhere"}'
json_is 'd["error"]' "your role (case-manager) may not do this"
as "$TOK_PRV" whoami '{}'
[ "$RC" -eq 0 ] || fail "whoami is for everyone"
ok
TOK_ADM=$(login root-admin "$PW_ADMIN")
as "$TOK_ADM" staff.list '{}'
[ "$RC" -eq 0 ] || fail "admin could not list accounts"
ok
as "$TOK_ADM" case.list '{}'
json_is 'd["error"]' "your role (admin) may not do this"
# the audit names the account, whatever "as" the client sent
ctl "{\"req\":\"$(rid)\",\"cmd\":\"case.close\",\"args\":{\"id\":\"$CASE\",\"reason\":\"done\"},\"as\":\"someone-else\",\"session\":\"$TOK_CM\"}"
[ "$RC" -eq 0 ] || fail "case close through a session"
ok
# audit_lines: "by event result detail" for every audit entry, in $T/audit
audit_lines() {
    expect 0 --home "$AG" audit export --json
    python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["entries"]:
    t = json.loads(e["text"])
    print(t.get("by"), t.get("event"), t.get("result"), t.get("detail"))' "$T/out" >"$T/audit"
}
audit_lines
grep -q '^amina.k case-close applied' "$T/audit" || fail "the audit does not name amina.k for case-close"
ok
grep -q 'someone-else' "$T/audit" && fail "the client's \"as\" reached the audit"
ok

# ---- the Unix owner, without a session, as before (--as works)
expect 0 --home "$AG" --as owner-clerk case list --json
expect 0 --home "$AG" staff list --json

# ---- lockout: 5 failures in a row lock 15 minutes, even the right password
for i in 1 2 3 4 5; do
    ctl_err PL_EAUTH "wrong name or password" \
        '{"cmd":"session.login","args":{"name":"prov","password":"wrong-wrong-wrong"}}'
done
ctl '{"cmd":"session.login","args":{"name":"prov","password":"'"$PW_PRV"'"}}'
json_is 'd["code"]' PL_EPERM
json 'd["error"]' | grep -q '^account locked until 20[0-9-]*T' || fail "no lock time"
ok
expect 0 --home "$AG" staff list --json
json_is '[a["failures"] for a in d if a["name"] == "prov"][0]' 5
[ "$(json '[a["locked_until"] for a in d if a["name"] == "prov"][0]')" != None ] || fail "locked_until"
ok
# the provider's live session is not ended by someone else's failures
as "$TOK_PRV" session.check '{}'
[ "$RC" -eq 0 ] || fail "the live session ended with a lockout"
ok

# ---- idle expiry: 13 min is fine (and refreshes), 15 min idle ends it
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":780}}'
as "$TOK_CM" session.check '{}'
[ "$RC" -eq 0 ] || fail "a session 13 min idle ended"
ok
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":780}}'
as "$TOK_CM" session.check '{}'
[ "$RC" -eq 0 ] || fail "a session refreshed 13 min ago ended"
ok
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":901}}'
as "$TOK_CM" case.list '{}'
json_is 'd["code"]' PL_EAUTH
json_is 'd["error"]' "session expired"
# the lockout has run out meanwhile (15 min): the right password works
TOK_PRV=$(login prov "$PW_PRV")
expect 0 --home "$AG" staff list --json
json_is '[a["failures"] for a in d if a["name"] == "prov"][0]' 0

# ---- absolute expiry: used every 10 minutes, it still ends after 12 h
TOK_CM=$(login amina.k "$PW_CM")
for i in $(seq 1 71); do
    ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":600}}'
    as "$TOK_CM" session.check '{}'
    [ "$RC" -eq 0 ] || fail "session ended at step $i before 12 h"
done
ok
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":600}}'
as "$TOK_CM" session.check '{}'
json_is 'd["error"]' "session expired"

# ---- logout ends the token
TOK_CM=$(login amina.k "$PW_CM")
as "$TOK_CM" session.logout '{}'
[ "$RC" -eq 0 ] || fail "logout"
ok
as "$TOK_CM" case.list '{}'
json_is 'd["error"]' "session expired"

# ---- disable / enable / passwd end sessions
TOK_CM=$(login amina.k "$PW_CM")
expect 0 --home "$AG" staff disable amina.k
as "$TOK_CM" session.check '{}'
json_is 'd["error"]' "session expired"
ctl_err PL_EPERM "account disabled" \
    '{"cmd":"session.login","args":{"name":"amina.k","password":"'"$PW_CM"'"}}'
expect 0 --home "$AG" staff enable amina.k
TOK_CM=$(login amina.k "$PW_CM")
NEW_PW='brand-new-pw-42'
printf '%s\n' "$NEW_PW" | passerelle --home "$AG" staff passwd amina.k >"$T/out" 2>"$T/err" \
    || fail "staff passwd"
ok
as "$TOK_CM" session.check '{}'
json_is 'd["error"]' "session expired"
ctl_err PL_EAUTH "wrong name or password" \
    '{"cmd":"session.login","args":{"name":"amina.k","password":"'"$PW_CM"'"}}'
TOK_CM=$(login amina.k "$NEW_PW")
# an admin's session may manage accounts too (the clock moved: log in again)
TOK_ADM=$(login root-admin "$PW_ADMIN")
as "$TOK_ADM" staff.disable '{"name":"prov"}' changes
[ "$RC" -eq 0 ] || fail "admin could not disable"
ok
as "$TOK_PRV" session.check '{}'
json_is 'd["error"]' "session expired"

# ---- audit: logins, failures, lockout are there, never a password
audit_lines
for ev in 'prov login refused wrong-password' 'prov lockout applied' \
    'prov login refused locked' 'amina.k login refused disabled' \
    'unknown login refused wrong-password' 'amina.k logout applied' \
    'owner staff-add applied admin' 'root-admin staff-disable applied' \
    'owner staff-passwd applied' 'amina.k login applied'; do
    grep -q "^$ev" "$T/audit" || fail "no '$ev' in the audit"
    ok
done
for pw in "$PW_ADMIN" "$PW_CM" "$PW_PRV" "$NEW_PW" wrong-wrong-wrong not-the-password; do
    grep -qF -- "$pw" "$T/out" && fail "a password is in the audit"
    grep -qF -- "$pw" "$T/agency.log" && fail "a password is in the daemon's log"
    ok
done
grep -qF 'nobody' "$T/out" && fail "an unknown login name reached the audit"
ok

# ---- a restart logs everyone out (sessions live in memory only); the
# timeouts are the daemon's flags
passerelle-node --session-idle-min 0 --home "$AG" --broker "$NET_EP" >"$T/out" 2>"$T/err" \
    && fail "--session-idle-min 0 was taken"
err_has "1..1440"
passerelle-node --session-max-hours 169 --home "$AG" --broker "$NET_EP" >"$T/out" 2>"$T/err" \
    && fail "--session-max-hours 169 was taken"
err_has "1..168"
passerelle-node --help >"$T/out" 2>&1
out_has "--session-idle-min"
net_stop_node agency
rm -f "$AG/control"
setpriv --pdeathsig KILL passerelle-node --home "$AG" --broker "$NET_EP" --heartbeat-ms 500 \
    --session-idle-min 2 --session-max-hours 1 2>>"$T/agency.log" &
NET_PID[agency]=$!
net_until 200 test -S "$AG/control" || fail "the agency did not restart"
as "$TOK_CM" session.check '{}'
json_is 'd["error"]' "session expired"
TOK_CM=$(login amina.k "$NEW_PW")
json_is 'd["result"]["idle_timeout_s"]' 120
# generous margins: real seconds pass between the steps too
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":90}}'
as "$TOK_CM" session.check '{}'
[ "$RC" -eq 0 ] || fail "a session 90 s idle ended under --session-idle-min 2"
ok
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":121}}'
as "$TOK_CM" session.check '{}'
json_is 'd["error"]' "session expired"
# absolute: used every 90 s (idle kept alive), it ends after 1 h
TOK_CM=$(login amina.k "$NEW_PW")
for i in $(seq 1 39); do
    ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":90}}'
    as "$TOK_CM" session.check '{}'
    [ "$RC" -eq 0 ] || fail "session ended at step $i before 1 h"
done
ok
ctl_ok '{"cmd":"test.session-clock","args":{"advance_s":100}}'
as "$TOK_CM" session.check '{}'
json_is 'd["error"]' "session expired"

# ---- the password never in argv: `ps` while the CLI waits on its stdin
mkfifo "$T/fifo"
passerelle --home "$AG" staff add waiting --role provider <"$T/fifo" >"$T/out.w" 2>&1 &
W=$!
exec 7>"$T/fifo"
sleep 0.3
ps -eo args >"$T/ps"
printf '%s\n' 'fifo-password-123' >&7
exec 7>&-
wait "$W" || fail "staff add through a fifo"
grep -q 'fifo-password-123' "$T/ps" && fail "a password in ps"
grep -q 'staff add waiting' "$T/ps" || fail "ps did not see the CLI"
ok

# ---- four eyes: an override is requested, then approved by another account
dir_full() { passerelle --home "$AG" directory --json 2>/dev/null | grep -q sn/clinic; }
net_until 300 dir_full || fail "the agency never saw the clinic"
for s in sup1 sup2; do
    printf '%s\n' "pw-of-$s-0000" | passerelle --home "$AG" staff add "$s" --role supervisor \
        >"$T/out" 2>"$T/err" || fail "staff add $s"
done
ok
TOK_CM=$(login amina.k "$NEW_PW")
TOK_S1=$(login sup1 pw-of-sup1-0000)
TOK_S2=$(login sup2 pw-of-sup2-0000)
as "$TOK_CM" case.add '{"given":"Moussa","family":"Ba","birth":"1980-01-01"}' changes
CASE2=$(json 'd["result"]["id"]')
JUST='canary-justification-5521'
REFER="\"case\":\"$CASE2\",\"to\":\"sn/clinic\",\"service\":\"primary-care\""
as "$TOK_CM" refer "{$REFER}" changes
json_is 'd["code"]' PL_EPERM # no consent: the gate refuses
as "$TOK_CM" refer "{$REFER,\"override_justification\":\"$JUST\",\"approved_by\":\"sup1\"}" changes
json_is 'd["error"]' "an override goes through override.request and another account's approval"
n_out() { ctl '{"cmd":"outbox"}'; json 'len(d["result"]["messages"]) if isinstance(d["result"], dict) else len(d["result"])'; }
OUT0=$(n_out)
as "$TOK_CM" override.request "{$REFER,\"override_justification\":\"$JUST\"}" changes
[ "$RC" -eq 0 ] || fail "override.request"
ok
OV1=$(json 'd["result"]["id"]')
[ "$(n_out)" = "$OUT0" ] || fail "something was sealed before the approval"
ok
grep -qa -- "$JUST" "$AG/store/data.mdb" && fail "the justification is in clear in the store"
ok
as "$TOK_CM" override.request "{$REFER,\"override_justification\":\"x\",\"approved_by\":\"sup1\"}" changes
[ "$RC" -eq 1 ] || fail "a request naming its approver was taken"
ok
as "$TOK_S1" override.list '{}'
json_is 'len(d["result"])' 1
json_is 'd["result"][0]["requested_by"]' amina.k
json_is 'd["result"][0]["args"]["override_justification"]' "$JUST"
as "$TOK_CM" override.approve "{\"id\":\"$OV1\"}" changes
json_is 'd["error"]' "your role (case-manager) may not do this"
as "$TOK_CM" override.list '{}'
json_is 'd["error"]' "your role (case-manager) may not do this"
# a supervisor's own request: the same account may not approve it
as "$TOK_S1" override.request "{$REFER,\"override_justification\":\"second one\"}" changes
OV2=$(json 'd["result"]["id"]')
as "$TOK_S1" override.approve "{\"id\":\"$OV2\"}" changes
json_is 'd["code"]' PL_EPERM
json_is 'd["error"]' "an override must be approved by another account"
[ "$(n_out)" = "$OUT0" ] || fail "a refused approval sealed something"
ok
# another supervisor approves: the referral goes, approved by sup2
as "$TOK_S2" override.approve "{\"id\":\"$OV2\"}" changes
[ "$RC" -eq 0 ] || fail "sup2 could not approve sup1's override"
ok
R2=$(json 'd["result"]["id"] if isinstance(d["result"], dict) else d["result"]')
[ "$(n_out)" != "$OUT0" ] || fail "the approved override sealed nothing"
ok
expect 0 --home "$AG" show "$R2" --json
json_is 'd["override"]["approved_by"]' sup2
received() { passerelle --home "$T/clinic" show "$1" >/dev/null 2>&1; }
net_until 300 received "$R2" || FAIL_LOG=$T/clinic.log fail "the clinic never received $R2"
ok
# sup1 approves amina's request; then it is gone from the list
as "$TOK_S1" override.approve "{\"id\":\"$OV1\"}" changes
[ "$RC" -eq 0 ] || fail "sup1 could not approve amina's override"
ok
as "$TOK_S1" override.list '{}'
json_is 'len(d["result"])' 0
# a rejected request is gone, and sends nothing
as "$TOK_CM" override.request "{$REFER,\"override_justification\":\"third\"}" changes
OV3=$(json 'd["result"]["id"]')
OUT1=$(n_out)
as "$TOK_S2" override.reject "{\"id\":\"$OV3\",\"reason\":\"not-justified\"}" changes
[ "$RC" -eq 0 ] || fail "reject"
ok
as "$TOK_S2" override.approve "{\"id\":\"$OV3\"}" changes
json_is 'd["code"]' PL_ENOTFOUND
[ "$(n_out)" = "$OUT1" ] || fail "a rejected override sealed something"
ok
# a supervisor reads the audit (a deferred command, run as the account)
as "$TOK_S1" audit.verify '{}'
[ "$RC" -eq 0 ] || fail "a supervisor could not verify the audit"
ok
as "$TOK_CM" audit.verify '{}'
json_is 'd["error"]' "your role (case-manager) may not do this"
audit_lines
for ev in "sup1 override-approve refused same-account" "sup2 override-approve applied" \
    "sup1 refer applied" "amina.k override-request pending" "sup2 override-reject applied not-justified"; do
    grep -q "^$ev" "$T/audit" || fail "no '$ev' in the audit"
    ok
done

echo "test_staff: ok ($CHECKS checks)"
