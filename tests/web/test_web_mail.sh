#!/usr/bin/env bash
# test_web_mail - passerelle-web's email notifications (issue 14 item 6)
# against real processes and a loopback SMTP server this test starts
# (tests/web/smtp_sink.py): a referral sent agency -> clinic gives the
# clinic's web process one email with the count, the priority and the
# link, and without the canary name, the case id or the referral id; a
# restart of passerelle-web sends nothing again (its state file, 0600);
# with the SMTP server down a new referral's email waits and arrives once
# the server is back; the clinic's clock moved past the emergency window
# gives an overdue email; a case handed over agency -> origin gives the
# origin's web process (a case manager's account) one email with the count
# and the handovers link, nothing personal, not again once acknowledged,
# and with the SMTP server down the next handover's email waits for it;
# an account whose role may not list a source says so once. Bad options
# are refused with a message.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for exe in passerelle passerelle-node passerelle-broker passerelle-web \
    python3 setpriv curl; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_web_mail: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-webmail.XXXXXX")
TEST_NAME=test_web_mail
# shellcheck source=../lib/cli_assert.sh
. "$HERE/../lib/cli_assert.sh"
# shellcheck source=web_net.sh
. "$HERE/web_net.sh"
SINK_PID=
sink_start() { # sink_start [PORT]
    rm -f "$T/smtp.port"
    setpriv --pdeathsig KILL python3 "$HERE/smtp_sink.py" "$T/mail" \
        "$T/smtp.port" "${1:-0}" 2>>"$T/smtp.log" &
    SINK_PID=$!
    net_until 100 test -s "$T/smtp.port" || FAIL_LOG=$T/smtp.log fail "SMTP sink did not start"
    SMTP_PORT=$(cat "$T/smtp.port")
}
sink_stop() {
    [ -n "$SINK_PID" ] || return 0
    kill -TERM "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    SINK_PID=
}
cleanup() {
    web_stop_all
    sink_stop
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
mails() { find "$T/mail" -name '*.eml' | wc -l; }
# wait_mails N: at most 25 s for N messages in the sink
mails_ge() { [ "$(mails)" -ge "$1" ]; }
wait_mails() { net_until 250 mails_ge "$1"; }
# next_mail N LOG WHAT: the Nth message in M, or fail (WHAT, with LOG)
next_mail() {
    wait_mails "$1" || FAIL_LOG=$2 fail "$3"
    ok
    M=$(last_mail)
}
last_mail() { find "$T/mail" -name '*.eml' | sort | tail -n 1; }
mail_has() { grep -qF -- "$2" "$1" || FAIL_LOG=$1 fail "the email lacks '$2'"; ok; }
mail_lacks() { ! grep -qiF -- "$2" "$1" || FAIL_LOG=$1 fail "the email holds '$2'"; ok; }

mkdir -p "$T/mail"
net_setup
# the receiving agency of a handover: a third node of the network
passerelle init --home "$T/origin" >/dev/null
passerelle authority enroll --home "$T/A" --node "$T/origin" --name origin \
    --sector agency --country SN --region thies >/dev/null
cp "$T/origin/node.cert" "$T/B/certs/origin.cert"
cp "$T/B/node.cert" "$T/origin/broker.cert"
net_start_broker
net_start_node agency
net_start_node clinic
net_start_node origin
staff_add clinic notifier provider
staff_add origin omar case-manager
(
    umask 077
    printf '%s\n' "$WEB_PASS" >"$T/notify.pw"
)
sink_start
MAILARGS=(--smtp-url "smtp://127.0.0.1:$SMTP_PORT" --smtp-from passerelle@clinic.test
    --notify-to nurse@clinic.test,desk@clinic.test
    --public-url http://clinic.example:8443 --notify-account notifier
    --notify-password-file "$T/notify.pw" --notify-every 1)

# ---- bad options: a clear message, exit 2, no process left
bad() {
    local rc=0
    passerelle-web --home "$T/clinic" --listen 127.0.0.1:0 "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = 2 ] || fail "passerelle-web $* exited $rc, wanted 2"
    grep -q -e '^passerelle-web: .*-' "$T/err" || fail "no message for $*"
    ok
}
bad --smtp-url "http://127.0.0.1:$SMTP_PORT"
bad --notify-to nurse@clinic.test
bad "${MAILARGS[@]}" --public-url 'javascript:alert(1)'
bad "${MAILARGS[@]}" --notify-to $'a@b\r\nBcc: evil@x'
chmod 644 "$T/notify.pw"
rc=0
passerelle-web --home "$T/clinic" --listen 127.0.0.1:0 "${MAILARGS[@]}" \
    >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q 'mode 0600' "$T/err" || fail "a password file readable by others was accepted ($rc)"
ok
chmod 600 "$T/notify.pw"
# a wrong password: one refused login, then no more tries (no lockout)
(
    umask 077
    printf 'not-the-password\n' >"$T/wrong.pw"
)
web_start wrong clinic "${MAILARGS[@]}" --notify-password-file "$T/wrong.pw"
net_until 100 grep -q 'notifications stop' "$T/web-wrong.log" \
    || FAIL_LOG=$T/web-wrong.log fail "a refused service login not reported"
ok
sleep 2
[ "$(grep -c 'cannot log in' "$T/web-wrong.log")" = 1 ] \
    || FAIL_LOG=$T/web-wrong.log fail "the refused login was tried again"
ok
web_stop wrong

web_start clinic clinic "${MAILARGS[@]}"

# ---- a referral agency -> clinic: one email, no personal data
CANARY_G=Zephyrine
CANARY_F=Quarkbottom
expect 0 --home "$T/agency" case add --given "$CANARY_G" --family "$CANARY_F" --birth 1990-04-04
C1=$(cat "$T/out")
expect 0 --home "$T/agency" consent add --case "$C1" --sectors health \
    --given-by returnee --expires 2031-01-01
expect 0 --home "$T/agency" refer --case "$C1" --to sn/clinic --service dental \
    --priority emergency
next_mail 1 "$T/web-clinic.log" "no email for the new referral"
mail_has "$M" "1 new referral arrived (priority: emergency 1)"
mail_has "$M" "Incoming referrals: http://clinic.example:8443/in"
mail_has "$M" "X-Envelope-To: nurse@clinic.test,desk@clinic.test"
mail_has "$M" "Subject: Passerelle: 1 new referral"
mail_lacks "$M" "$CANARY_G"
mail_lacks "$M" "$CANARY_F"
mail_lacks "$M" "$C1"
mail_lacks "$M" "dental"
passerelle --home "$T/clinic" referrals --json >"$T/out"
R1=$(json 'd[0]["id"]')
mail_lacks "$M" "$R1"
sleep 3
[ "$(mails)" = 1 ] || fail "the same referral was notified again ($(mails) emails)"
ok
st=$(stat -c %a "$T/clinic/web-notify.json")
[ "$st" = 600 ] || fail "state file mode $st"
ok
! grep -qF "$CANARY_G" "$T/web-clinic.log" || fail "the canary in the web log"
ok

# ---- a restart does not resend
web_stop clinic
web_start clinic clinic "${MAILARGS[@]}"
sleep 3
[ "$(mails)" = 1 ] || fail "a restart resent ($(mails) emails)"
ok

# ---- SMTP down: the email waits, then arrives once the server is back
sink_stop
expect 0 --home "$T/agency" case add --given Second --family Person --birth 1991-05-05
C2=$(cat "$T/out")
expect 0 --home "$T/agency" consent add --case "$C2" --sectors health \
    --given-by returnee --expires 2031-01-01
expect 0 --home "$T/agency" refer --case "$C2" --to sn/clinic --service dental \
    --priority normal
net_until 250 grep -q 'next attempt in' "$T/web-clinic.log" \
    || FAIL_LOG=$T/web-clinic.log fail "no failed attempt logged with the server down"
ok
[ "$(mails)" = 1 ] || fail "an email with the server down?"
sink_start "$SMTP_PORT"
next_mail 2 "$T/web-clinic.log" "the email did not arrive after the server came back"
mail_has "$M" "1 new referral arrived (priority: normal 1)"
mail_lacks "$M" "Second"

# ---- overdue: the clinic's clock past the emergency window (24 h)
net_stop_node clinic
PASSERELLE_TEST_CLOCK_OFFSET=90000 net_start_node clinic
next_mail 3 "$T/web-clinic.log" "no overdue email"
mail_has "$M" "1 referral is overdue (priority: emergency 1)"
mail_has "$M" "Subject: Passerelle: 1 overdue"
mail_lacks "$M" "new referral"
mail_lacks "$M" "$CANARY_G"

# ---- a case handed over to the origin agency: its case manager hears of it
grep -q 'account notifier may not list incoming handovers' "$T/web-clinic.log" \
    || FAIL_LOG=$T/web-clinic.log fail "the provider account's refused handover list not said"
ok
[ "$(grep -c 'may not list incoming handovers' "$T/web-clinic.log")" = 1 ] \
    || FAIL_LOG=$T/web-clinic.log fail "the refused handover list was logged more than once"
ok
web_start origin origin --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
    --smtp-from passerelle@origin.test --notify-to omar@origin.test \
    --public-url http://origin.example:8443 --notify-account omar \
    --notify-password-file "$T/notify.pw" --notify-every 1
net_until 100 grep -q 'account omar may not list incoming referrals' "$T/web-origin.log" \
    || FAIL_LOG=$T/web-origin.log fail "the case manager's refused referral list not said"
ok
CANARY_H=Ozymandiasz
expect 0 --home "$T/agency" case add --given "$CANARY_H" --family Returnee --birth 1988-08-08
C3=$(cat "$T/out")
expect 0 --home "$T/agency" handover --case "$C3" --to sn/origin --arrival 2099-06-01 \
    --consent-transfer yes
next_mail 4 "$T/web-origin.log" "no email for the handover"
mail_has "$M" "Subject: Passerelle: 1 case handover"
mail_has "$M" "1 case was handed over to this node, to acknowledge and decide."
mail_has "$M" "Handovers: http://origin.example:8443/handovers"
mail_has "$M" "X-Envelope-To: omar@origin.test"
mail_lacks "$M" "$CANARY_H"
mail_lacks "$M" "$C3"
mail_lacks "$M" "Incoming referrals"
passerelle --home "$T/origin" --json handovers >"$T/out"
H1=$(json 'd[0]["id"]')
mail_lacks "$M" "$H1"
grep -q "$H1" "$T/origin/web-notify.json" || fail "the handover is not in the state file"
ok
sleep 3
[ "$(mails)" = 4 ] || fail "the same handover was notified again ($(mails) emails)"
ok
# acknowledged: no longer waiting, forgotten by the state file, no email
expect 0 --home "$T/origin" --as omar handover ack "$H1"
net_until 100 sh -c "! grep -q '$H1' '$T/origin/web-notify.json'" \
    || fail "an acknowledged handover stays in the state file"
ok
[ "$(mails)" = 4 ] || fail "an email after the acknowledgement ($(mails) emails)"
ok

# ---- SMTP down for a handover: its email waits, then arrives once back
sink_stop
tries=$(grep -c 'next attempt in' "$T/web-origin.log" || true)
expect 0 --home "$T/agency" case add --given "$CANARY_H" --family Second --birth 1989-09-09
C4=$(cat "$T/out")
expect 0 --home "$T/agency" handover --case "$C4" --to sn/origin --arrival 2099-07-01 \
    --consent-transfer yes
net_until 250 sh -c "[ \$(grep -c 'next attempt in' '$T/web-origin.log') -gt $tries ]" \
    || FAIL_LOG=$T/web-origin.log fail "no failed attempt logged for the handover with the server down"
ok
[ "$(mails)" = 4 ] || fail "an email with the server down?"
ok
sink_start "$SMTP_PORT"
next_mail 5 "$T/web-origin.log" "the handover's email did not arrive after the server came back"
mail_has "$M" "Subject: Passerelle: 1 case handover"
mail_lacks "$M" "$CANARY_H"
mail_lacks "$M" "$C4"

web_stop_checked
echo "$TEST_NAME: ok ($CHECKS checks)"
