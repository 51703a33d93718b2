#!/usr/bin/env bash
# test_web_security - passerelle-web's defences (issue 14, DESIGN.md §12),
# with curl against real processes (broker, agency and clinic nodes, two
# passerelle-web): the security headers and cookie attributes; a POST
# without the CSRF token, with a wrong one, or from a foreign origin is
# refused and changes nothing; a cookie is useless after logout; a
# provider reaching a case manager's screen is refused; PUT is 405; a
# 10 MB body is 413; a note containing <script> comes back escaped; the
# login rate limit per address; 500 slow connections (from 127.0.0.2)
# while a logged-in user still gets a page; a non-loopback --listen
# without TLS is refused, and under TLS the cookie is __Host- and Secure.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for exe in passerelle passerelle-node passerelle-broker passerelle-web \
    python3 setpriv curl openssl; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_web_security: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-websec.XXXXXX")
TEST_NAME=test_web_security
# shellcheck source=../lib/cli_assert.sh
. "$HERE/../lib/cli_assert.sh"
# shellcheck source=web_net.sh
. "$HERE/web_net.sh"
SLOW_PID=
cleanup() {
    [ -n "$SLOW_PID" ] && kill "$SLOW_PID" 2>/dev/null && wait "$SLOW_PID" 2>/dev/null
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
AU=${WEB_URL[agency]}
CU=${WEB_URL[clinic]}
FORM=(-H 'Content-Type: application/x-www-form-urlencoded')

# code METHOD URL [curl args...]: the HTTP status
code() {
    local m=$1 u=$2
    shift 2
    curl -s -o "$T/page" -w '%{http_code}' -X "$m" "$@" "$u"
}
is() { [ "$1" = "$2" ] || fail "$3: got $1, wanted $2"; ok; }

# ---- headers and cookies
curl -s -D "$T/h" -o /dev/null "$AU/login"
for h in "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'" \
    'X-Content-Type-Options: nosniff' 'Referrer-Policy: no-referrer' \
    'Cache-Control: no-store'; do
    grep -qiF "$h" "$T/h" || fail "header missing: $h"
    ok
done
grep -i '^Set-Cookie:' "$T/h" | grep -q 'HttpOnly; SameSite=Strict' \
    || fail "login cookie lacks HttpOnly/SameSite"
ok

# ---- login: a wrong password is refused without saying which part
printf 'name=amina&password=wrong-one&csrf=x' >"$T/body"
is "$(code POST "$AU/login" "${FORM[@]}" --data-binary @"$T/body")" 403 \
    "login without the login cookie's token"
web_login agency amina "$T/jar"
grep -qP '\tpl_session\t' "$T/jar" || fail "no session cookie"
ok
grep -q 'amina' "$T/page" || fail "the page does not name the account"
ok

# ---- CSRF: no token, a wrong token, a foreign origin; nothing changes
body="given=Csrf&family=Victim&birth=1990-01-01"
is "$(code POST "$AU/cases/new" -b "$T/jar" "${FORM[@]}" --data-binary "$body")" 403 \
    "POST without the CSRF token"
is "$(code POST "$AU/cases/new" -b "$T/jar" "${FORM[@]}" \
    --data-binary "$body&csrf=0000000000000000000000000000000000000000000000000000000000000000")" \
    403 "POST with a wrong CSRF token"
is "$(code POST "$AU/cases/new" -b "$T/jar" "${FORM[@]}" -H 'Origin: http://evil.example' \
    --data-binary "$body&csrf=$CSRF")" 403 "POST from a foreign Origin"
is "$(code POST "$AU/cases/new" -b "$T/jar" "${FORM[@]}" -H 'Sec-Fetch-Site: cross-site' \
    --data-binary "$body&csrf=$CSRF")" 403 "POST with Sec-Fetch-Site cross-site"
expect 0 --home "$T/agency" case list --json
json_is 'len(d)' 0

# the right token, same origin: the case is made
is "$(code POST "$AU/cases/new" -b "$T/jar" "${FORM[@]}" -H "Origin: $AU" \
    --data-binary "given=Ok&family=Case&birth=1990-01-01&csrf=$CSRF")" 303 "POST with the token"
expect 0 --home "$T/agency" case list --json
json_is 'len(d)' 1
CASE=$(json 'd[0]["id"]')

# ---- methods and sizes
is "$(code PUT "$AU/cases" -b "$T/jar")" 405 "PUT"
is "$(code DELETE "$AU/case/$CASE" -b "$T/jar")" 405 "DELETE"
head -c 10000000 /dev/zero | tr '\0' a >"$T/big"
is "$(code POST "$AU/cases/new" -b "$T/jar" "${FORM[@]}" --data-binary @"$T/big")" 413 \
    "a 10 MB body"
is "$(code GET "$AU/no/such/page" -b "$T/jar")" 404 "an unknown page"

# ---- escaping: a note with <script> comes back as text
expect 0 --home "$T/agency" consent add --case "$CASE" --sectors health \
    --given-by returnee --expires 2031-01-01
note='<script>alert(1)</script> "x" & y'
enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$note")
is "$(code POST "$AU/case/$CASE" -b "$T/jar" "${FORM[@]}" -D "$T/h" \
    --data-binary "do=refer&to=sn/clinic&service=primary-care&note=$enc&csrf=$CSRF")" \
    303 "refer through the page"
loc=$(sed -n 's/^location: //Ip' "$T/h" | tr -d '\r')
case $loc in /referral/*) ok ;; *) fail "refer led to '$loc'" ;; esac
curl -s -b "$T/jar" "$AU$loc" >"$T/ref.html"
grep -qF '&lt;script&gt;alert(1)&lt;/script&gt; &quot;x&quot; &amp; y' "$T/ref.html" \
    || fail "the note is not escaped: $(grep -o 'note.\{0,80\}' "$T/ref.html" | head -2)"
ok
! grep -q '<script>alert' "$T/ref.html" || fail "a raw <script> in the page"
ok

# ---- roles: a provider may not open a case manager's screen
ACSRF=$CSRF
web_login clinic fatou "$T/jar-c"
is "$(code GET "$CU/cases" -b "$T/jar-c")" 403 "provider on /cases"
is "$(code GET "$CU/staff" -b "$T/jar-c")" 403 "provider on /staff"
is "$(code POST "$CU/cases/search" -b "$T/jar-c" "${FORM[@]}" \
    --data-binary "q=a&csrf=$CSRF")" 403 "provider searching cases"
is "$(code GET "$CU/in" -b "$T/jar-c")" 200 "provider on /in"
grep -q 'primary-care' "$T/page" || fail "the provider's list lacks the referral"
ok

# ---- logout: the old cookie is useless afterwards
cp "$T/jar" "$T/jar-stolen"
is "$(code POST "$AU/logout" -b "$T/jar" "${FORM[@]}" --data-binary "csrf=$ACSRF")" 303 "logout"
is "$(code GET "$AU/cases" -b "$T/jar-stolen")" 401 "a stolen cookie after logout"
is "$(code POST "$AU/cases/new" -b "$T/jar-stolen" "${FORM[@]}" \
    --data-binary "given=A&family=B&birth=1990-01-01&csrf=$ACSRF")" 401 "a stolen cookie posting"

# ---- the login rate limit per address (WEB_RATE_MAX = 10 a minute; on
# the clinic's web, whose provider is already logged in)
limited=0
for i in $(seq 1 14); do
    curl -s -c "$T/jar-r" -b "$T/jar-r" "$CU/login" >"$T/page"
    pre=$(web_form_token "$T/page")
    c=$(code POST "$CU/login" -b "$T/jar-r" "${FORM[@]}" \
        --data-binary "name=nobody&password=wrong-$i&csrf=$pre")
    [ "$c" = 429 ] && limited=$((limited + 1))
done
[ "$limited" -ge 3 ] || fail "no login rate limit ($limited answers 429)"
ok

# ---- 500 slow connections from 127.0.0.2 while amina still works: once
# against the default per-IP limit (64: the server holds 64 and closes the
# rest), once against a web allowing 1000 per IP (it holds all 500)
web_login agency amina "$T/jar"
web_start wide agency --per-ip 1000
web_login wide amina "$T/jar-w"
slow() {
    local url=$1 jar=$2 i start ms
    # the background job truncates slow.out only once it runs: remove the
    # last call's file first, so the wait below cannot read its old figures
    rm -f "$T/slow.out"
    python3 - "$url" 500 >"$T/slow.out" 2>&1 <<'EOF' &
import socket, sys, time
url, n = sys.argv[1], int(sys.argv[2])
host, port = url.split("//")[1].split(":")
socks, refused = [], 0
for i in range(n):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.bind(("127.0.0.2", 0))
        s.connect((host, int(port)))
        s.send(b"GET /login HTTP/1.1\r\nHost: x\r\n")  # never finished
        socks.append(s)
    except OSError:
        refused += 1
time.sleep(1)
held = 0  # connections the server still keeps (it closed the others)
for s in socks:
    s.setblocking(False)
    try:
        held += s.recv(1) != b""
    except BlockingIOError:
        held += 1
    except OSError:
        pass
print("open", len(socks), "refused", refused, "held", held, flush=True)
time.sleep(20)  # bounded; the test stops this process by its PID
EOF
    SLOW_PID=$!
    for i in $(seq 1 150); do grep -qs held "$T/slow.out" && break; sleep 0.1; done
    grep -qs held "$T/slow.out" || fail "the slow clients did not start"
    ok
    start=$(date +%s%N)
    is "$(code GET "$url/out" -b "$jar" --max-time 10)" 200 "a page during 500 slow connections"
    ms=$((($(date +%s%N) - start) / 1000000))
    HELD=$(sed -n 's/.*held \([0-9]*\).*/\1/p' "$T/slow.out")
    echo "$TEST_NAME: $(cat "$T/slow.out"); a logged-in page took $ms ms meanwhile"
    kill "$SLOW_PID" 2>/dev/null || true
    wait "$SLOW_PID" 2>/dev/null || true
    SLOW_PID=
}
slow "$AU" "$T/jar"
[ "$HELD" -le 64 ] || fail "the per-IP limit let $HELD connections in"
ok
slow "${WEB_URL[wide]}" "$T/jar-w"
[ "$HELD" -ge 450 ] || fail "the wide web held only $HELD slow connections"
ok
web_stop wide
[ "$WEB_RC" = 0 ] || fail "the wide web exited $WEB_RC"
ok

# ---- the log: method, route template, status, duration only
! grep -q "$CASE" "$T/web-agency.log" || fail "a case id in the log"
! grep -qi 'password\|csrf\|pl_session\|Victim' "$T/web-agency.log" || fail "a secret or name in the log"
ok
grep -q '^passerelle-web: POST /cases/new 403 ' "$T/web-agency.log" || fail "log line missing"
ok

# ---- listening: not on a non-loopback address without TLS; TLS works
RC=0
passerelle-web --home "$T/agency" --listen 0.0.0.0:0 >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" -ne 0 ] && grep -q 'without TLS' "$T/err" || fail "non-loopback without TLS not refused"
ok
RC=0
passerelle-web --home "$T/agency" --listen 127.0.0.1:0 --tls-cert /nonexistent >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" = 2 ] || fail "--tls-cert without --tls-key: exit $RC"
ok
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" \
    -days 2 -subj /CN=127.0.0.1 >/dev/null 2>&1
web_start tls agency --tls-cert "$T/tls.crt" --tls-key "$T/tls.key"
case ${WEB_URL[tls]} in https://*) ok ;; *) fail "TLS web did not say https" ;; esac
curl -s -k -D "$T/h" -o /dev/null "${WEB_URL[tls]}/login" || fail "no HTTPS answer"
grep -i '^Set-Cookie: __Host-pl_session_login=' "$T/h" | grep -q 'Secure' \
    || fail "the TLS cookie is not __Host- and Secure: $(grep -i set-cookie "$T/h")"
ok
web_stop_checked
echo "$TEST_NAME: ok ($CHECKS checks)"
