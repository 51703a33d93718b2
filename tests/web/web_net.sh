# web_net.sh - the network of the web tests: tests/adapters/cli_net.sh's
# broker, agency and clinic (sector health) nodes, staff accounts made
# with `passerelle staff add` (password on stdin), and passerelle-web
# processes on free loopback ports. Source it after setting T and
# TEST_NAME (and cli_assert.sh). Every process is stopped by its PID.
#   web_accounts                 the demo accounts below, on both nodes
#   web_start NAME NODE [ARGS]   passerelle-web for $T/NODE, log in
#                                $T/web-NAME.log; sets WEB_URL[NAME]
#   web_stop NAME                SIGTERM (then SIGKILL); exit status in WEB_RC
#   web_stop_checked             all of them; each must exit 0, no ASan report
#   web_login NAME ACCOUNT JAR   logs ACCOUNT in with curl (cookie JAR);
#                                sets CSRF (the session's form token)
# shellcheck source=../adapters/cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/../adapters/cli_net.sh"
declare -A WEB_PID=() WEB_URL=()
WEB_PASS=correct-horse-battery-staple

# staff_add NODE NAME ROLE [LANG]
staff_add() {
    local lang=${4:-en}
    printf '%s\n' "$WEB_PASS" \
        | passerelle --home "$T/$1" staff add "$2" --role "$3" --lang "$lang" \
            >"$T/out" 2>"$T/err" \
        || fail "staff add $2 on $1 failed"
}

web_accounts() {
    staff_add agency amina case-manager
    staff_add agency awa case-manager fr
    staff_add agency moussa supervisor
    staff_add agency sophie supervisor
    staff_add agency root-admin admin
    staff_add clinic fatou provider
}

web_start() {
    local name=$1 node=$2 i port
    shift 2
    : >"$T/web-$name.log"
    setpriv --pdeathsig KILL passerelle-web --home "$T/$node" \
        --listen 127.0.0.1:0 "$@" 2>>"$T/web-$name.log" &
    WEB_PID[$name]=$!
    for i in $(seq 1 100); do
        port=$(sed -n 's/.*listening on https\{0,1\}:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' \
            "$T/web-$name.log" | head -n 1)
        [ -n "$port" ] && break
        kill -0 "${WEB_PID[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || FAIL_LOG=$T/web-$name.log fail "passerelle-web $name did not start"
    if grep -q 'listening on https' "$T/web-$name.log"; then
        WEB_URL[$name]=https://127.0.0.1:$port
    else
        WEB_URL[$name]=http://127.0.0.1:$port
    fi
}

web_stop() {
    local p=${WEB_PID[$1]:-} i
    WEB_RC=0
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || true
    # up to 30 s: under ASan on a loaded machine a server that held 500
    # connections needs more than 10 s to close them and check for leaks
    for i in $(seq 1 600); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || WEB_RC=$?
    unset "WEB_PID[$1]"
}

# web_stop_checked: stops every web process; each must exit 0 on SIGTERM
# with no sanitizer report in its log (the ASan build's leak check).
web_stop_checked() {
    local n
    for n in "${!WEB_PID[@]}"; do
        web_stop "$n"
        [ "$WEB_RC" = 0 ] || FAIL_LOG=$T/web-$n.log fail "passerelle-web $n exited $WEB_RC on SIGTERM"
        ! grep -q 'Sanitizer\|runtime error' "$T/web-$n.log" \
            || FAIL_LOG=$T/web-$n.log fail "a sanitizer report in web-$n.log"
        ok
    done
}

web_stop_all() {
    local n
    for n in "${!WEB_PID[@]}"; do web_stop "$n"; done
}

# web_form_token FILE: the csrf field of the first form in an HTML page
web_form_token() {
    sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$1" | head -n 1
}

web_login() {
    local name=$1 account=$2 jar=$3 url=${WEB_URL[$1]}
    rm -f "$jar"
    curl -s -c "$jar" -b "$jar" "$url/login" >"$T/page" || fail "GET /login"
    local pre
    pre=$(web_form_token "$T/page")
    local code
    code=$(printf 'name=%s&password=%s&csrf=%s' "$account" "$WEB_PASS" "$pre" \
        | curl -s -o "$T/page" -w '%{http_code}' -c "$jar" -b "$jar" \
            -H 'Content-Type: application/x-www-form-urlencoded' \
            --data-binary @- "$url/login")
    [ "$code" = 303 ] || fail "login of $account answered $code"
    curl -s -L -c "$jar" -b "$jar" "$url/" >"$T/page"
    CSRF=$(web_form_token "$T/page")
    [ -n "$CSRF" ] || fail "no CSRF token on the page after login of $account"
}
