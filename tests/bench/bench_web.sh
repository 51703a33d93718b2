#!/usr/bin/env bash
# bench_web - passerelle-web on loopback (issue 14's closing figures): the
# load time and size of the main screens (curl, mean of 20 loads), the
# requests/s of the provider's incoming-referrals list (ab, 4 concurrent
# clients) next to the control-socket call that page makes (`referrals`,
# by pl-ctlbench, made the way the web makes it) in the same run, and the
# RSS of passerelle-web idle and after the load. A real broker, agency and
# clinic, NREF referrals. Prints figures; run by hand (make bench).
set -euo pipefail
BIN="${PL_BIN_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
export PATH="$BIN:$PATH"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NREF=${1:-30}
N=${2:-2000}
# ab (ApacheBench, Debian's apache2-utils) for this benchmark only, as
# bench_rabbitmq.sh installs RabbitMQ: `make bench` needs nothing first
if ! command -v ab >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "bench_web: installing apache2-utils (Debian, for this benchmark only)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        apache2-utils >/dev/null 2>&1 || true
fi
for exe in passerelle-web pl-ctlbench ab curl; do
    command -v "$exe" >/dev/null || { echo "bench_web: '$exe' missing (ab: apache2-utils)" >&2; exit 1; }
done
T=$(mktemp -d /tmp/pl-benchweb-XXXXXX)
TEST_NAME=bench_web
. "$HERE/../lib/cli_assert.sh"
. "$HERE/../web/web_net.sh"
cleanup() {
    web_stop_all
    net_stop
    rm -rf "$T"
}
trap cleanup EXIT
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }

net_setup
net_start_broker
net_start_node agency
net_start_node clinic
web_accounts
web_start agency agency
web_start clinic clinic
echo "passerelle-web RSS at start: agency $(rss "${WEB_PID[agency]}"), clinic $(rss "${WEB_PID[clinic]}")"

CASE=$(passerelle --home "$T/agency" case add --given Bench --family Person \
    --birth 1990-01-01 --phone +221700000000)
passerelle --home "$T/agency" consent add --case "$CASE" --sectors health \
    --given-by returnee --expires 2031-01-01 >/dev/null
for i in $(seq 1 "$NREF"); do
    passerelle --home "$T/agency" refer --case "$CASE" --to sn/clinic \
        --service "service-$i" --note "bench note $i" >/dev/null
done
for _ in $(seq 1 300); do
    got=$(passerelle --home "$T/clinic" referrals --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    [ "$got" -ge "$NREF" ] && break
    sleep 0.1
done
echo "$NREF referrals at the clinic"
REF=$(passerelle --home "$T/clinic" referrals --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

web_login clinic fatou "$T/jar-c"
web_login agency amina "$T/jar-a"
cookie() { awk '$6 == "pl_session" {print "pl_session=" $7}' "$1"; }

# load time and size: mean of 20 loads of each screen
load() {
    local what=$1 url=$2 jar=$3 i t s total=0 size=0
    for i in $(seq 1 20); do
        read -r t s < <(curl -s -o /dev/null -b "$jar" -w '%{time_total} %{size_download}\n' "$url")
        total=$(python3 -c "print($total + $t)")
        size=$s
    done
    printf '  %-28s %7.2f ms  %6d bytes\n' "$what" "$(python3 -c "print($total / 20 * 1000)")" "$size"
}
echo "page load on loopback (mean of 20, HTML only; the stylesheet is $(wc -c <"$BIN/web-assets/style.css") bytes, cached):"
load "login" "${WEB_URL[clinic]}/login" "$T/jar-c"
load "incoming referrals ($NREF)" "${WEB_URL[clinic]}/in" "$T/jar-c"
load "a referral (provider)" "${WEB_URL[clinic]}/referral/$REF" "$T/jar-c"
load "cases (search, register)" "${WEB_URL[agency]}/cases" "$T/jar-a"
load "a case (forms, directory)" "${WEB_URL[agency]}/case/$CASE" "$T/jar-a"
load "outgoing referrals ($NREF)" "${WEB_URL[agency]}/out" "$T/jar-a"

echo "incoming-referrals list, $N requests:"
ab -q -n "$N" -c 4 -C "$(cookie "$T/jar-c")" "${WEB_URL[clinic]}/in" >"$T/ab" 2>&1 \
    || { cat "$T/ab"; exit 1; }
grep -q 'Non-2xx responses' "$T/ab" && { echo "bench_web: non-2xx answers" >&2; cat "$T/ab"; exit 1; }
printf '  passerelle-web GET /in (4 clients):       %s requests/s, mean %s ms\n' \
    "$(awk '/Requests per second/ {print $4}' "$T/ab")" \
    "$(awk '/Time per request/ {print $4; exit}' "$T/ab")"
for c in 1 4; do
    printf '  control call referrals {direction: in}:  '
    printf '%s\n' "$WEB_PASS" | pl-ctlbench --home "$T/clinic" --login fatou \
        --cmd referrals --args '{"direction":"in"}' -n "$N" -c "$c"
done
echo "passerelle-web RSS after the load: clinic $(rss "${WEB_PID[clinic]}"), agency $(rss "${WEB_PID[agency]}")"
