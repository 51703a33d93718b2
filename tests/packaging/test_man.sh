#!/usr/bin/env bash
# test_man - the man pages (man/*.scd, made by the build into $BUILD/man):
#  1. `mandoc -Tlint -W warning` says nothing about any of them;
#  2. every flag a --help prints is in the man page of that executable or
#     command group (table below), and every command `passerelle --help`
#     lists has a page: a new flag or command without documentation fails;
#  3. each daemon's page documents its signals, exit status and files.
set -euo pipefail
TEST_NAME=test_man
if [ -n "${PL_BIN_DIR:-}" ]; then PATH="$PL_BIN_DIR:$PATH"; fi
BIN=$(dirname "$(command -v passerelle)")
MAN=$BIN/man
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-man.XXXXXX")
trap 'rm -rf "$T"' EXIT
SRC=${PL_SRC_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/lib/cli_assert.sh"
command -v mandoc >/dev/null || fail "mandoc missing (apt-get install mandoc)"
[ -d "$MAN" ] || fail "no man pages in $MAN (is scdoc installed? scripts/deps.sh)"

n=0
for src in "$SRC"/man/*.scd; do
    page=$(basename "$src" .scd)
    f=$MAN/man${page##*.}/$page
    [ -f "$f" ] || fail "$page was not generated"
    mandoc -Tlint -W warning "$f" >"$T/lint" 2>&1 || true
    [ ! -s "$T/lint" ] || { cat "$T/lint" >&2; fail "mandoc -Tlint: $page"; }
    mandoc -Tascii "$f" | sed 's/.\x08//g' >"$T/$page.txt"
    n=$((n + 1))
    ok
done
[ "$n" -ge 7 ] || fail "only $n man pages"

# covers PAGE CMD...: every --flag of `CMD --help` is in PAGE
covers() {
    local page=$1 fl
    shift
    "$@" --help >"$T/help" 2>&1 || true
    [ -s "$T/help" ] || fail "$* --help printed nothing"
    for fl in $(grep -o -- '--[a-z][a-z0-9-]*' "$T/help" | sort -u); do
        grep -qE -- "(^|[^a-z0-9-])$fl([^a-z0-9-]|\$)" "$T/$page.txt" \
            || fail "$fl of '$* --help' is not in $page"
        ok
    done
}
covers passerelle-broker.8 passerelle-broker
covers passerelle-node.8 passerelle-node
covers passerelle.1 passerelle
# passerelle-web (issue 14): checked once its page man/passerelle-web.8.scd exists
if command -v passerelle-web >/dev/null && [ -f "$T/passerelle-web.8.txt" ]; then
    covers passerelle-web.8 passerelle-web
fi
for s in init enroll revoke list federate; do
    covers passerelle-authority.1 passerelle authority $s
done
covers passerelle-authority.1 passerelle authority
# the command groups: every command of `passerelle --help` in one page
declare -A GROUP=(
    [init]=operations [whoami]=operations [directory]=operations
    [network]=operations [broker]=operations [audit]=operations
    [backup]=operations [rotate-box-key]=operations [authority]=authority
    [case]=case [consent]=case [erase]=case
    [refer]=referral [referrals]=referral [show]=referral [accept]=referral
    [reject]=referral [start]=referral [hold]=referral [resume]=referral
    [complete]=referral [cancel]=referral [notifications]=referral
    [token]=token
    [handover]=handover [handovers]=handover [staff]=staff [fhir]=fhir
    [assess]=casework [plan]=casework [followup]=casework [rss]=casework
    [timeline]=casework
    [report]=coordination [coordination]=coordination
    [service]=services [slip]=services
)
passerelle --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}' >"$T/cmds"
[ "$(wc -l <"$T/cmds")" -ge 20 ] || fail "could not read the command list"
while read -r c; do
    [ "$c" = help ] && continue
    g=${GROUP[$c]:-}
    [ -n "$g" ] || fail "command '$c' has no man page (add it to man/ and GROUP here)"
    covers "passerelle-$g.1" passerelle "$c"
    grep -qE "(^|[^a-z-])$c([^a-z-]|\$)" "$T/passerelle.1.txt" || fail "passerelle(1) does not list '$c'"
    ok
done <"$T/cmds"
for s in status nodes reload federation; do covers passerelle-operations.1 passerelle broker $s; done
for s in verify export check; do covers passerelle-operations.1 passerelle audit $s; done
for s in add show list close bia; do covers passerelle-case.1 passerelle case $s; done
for s in add withdraw; do covers passerelle-case.1 passerelle consent $s; done
for s in add list disable enable passwd; do covers passerelle-staff.1 passerelle staff $s; done
for s in add list revoke; do covers passerelle-token.1 passerelle token $s; done
for s in send show request; do covers passerelle-coordination.1 passerelle report $s; done
for s in add remove capacity list export import match; do covers passerelle-services.1 passerelle service $s; done
covers passerelle-services.1 passerelle slip check
for s in show ack accept reject arrived no-show withdraw cp-ack; do
    covers passerelle-handover.1 passerelle handover $s
done
for d in broker node; do
    for w in SIGHUP SIGTERM "EXIT STATUS" FILES "SEE ALSO" "/etc/passerelle" 74; do
        grep -qF -- "$w" "$T/passerelle-$d.8.txt" || fail "passerelle-$d(8) lacks '$w'"
        ok
    done
done
echo "test_man: ok ($CHECKS checks, $n pages)"
