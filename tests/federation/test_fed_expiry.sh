#!/usr/bin/env bash
# test_fed_expiry - what the foreign broker can see, expiry across the
# border, and a stale foreign directory (issue 13, DESIGN.md §7.1), with two
# real networks on 127.0.0.1:
#   1. gn/agency is offline; sn/agency sends it 20 envelopes (TTL 15 s).
#      They are committed at gn's broker. gn's store, log and status output
#      (status, nodes, federation; --json) never contain "sn/agency" -- the
#      transit wrap names sn's broker -- while they do contain "gn/agency"
#      (so the scan can see plaintext addresses at all).
#   2. They expire in gn's queue: `expired` comes back over the link and
#      sn's broker tells the original sender (its outbox: expired).
#   3. sn's broker runs with --federation-dir-max-age 6. gn's broker is
#      stopped (SIGSTOP); 5 envelopes sent at once are queued at sn; after
#      the directory goes stale a new send is refused with the reason
#      (retry later, nothing lost) while the 5 stay queued; on SIGCONT the
#      link comes back by itself, the directory is fresh again, and all of
#      them -- the refused one too, retried by its node -- arrive.
#   4. gn/cp (clock 31 days ahead) refuses an envelope for good: the code
#      comes back over the link and sn/agency's outbox marks it rejected.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker passerelle-node pl-testmsg python3 \
    setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fed_expiry: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-fexp.XXXXXX")
TEST_NAME=test_fed_expiry
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fed_net.sh"
cleanup() {
    fed_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

fed_setup
fed_start_broker 2
fed_start_broker 1 --federation-dir-max-age 6
fed_start_node agency
FAIL_LOG=$T/B1.log
has_gn() {
    passerelle --home "$T/agency" directory --json 2>/dev/null \
        | grep -q '"gn/agency"'
}
fed_until 100 has_gn || fail "sn/agency never saw gn/agency"
ok

# --- 1. the foreign broker never sees the sending node
pl-testmsg --home "$T/agency" send --to gn/agency --payload secret-x \
    --count 20 --ttl 15 >"$T/sent20"
queued_at_gn() {
    passerelle broker status --home "$T/B2" --json >"$T/st2" 2>/dev/null \
        && python3 - "$T/st2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
q = [n for n in d["nodes"] if n["address"] == "gn/agency"]
sys.exit(0 if q and q[0].get("queued", 0) == 20 else 1)
PY
}
fed_until 150 queued_at_gn || fail "the 20 envelopes did not reach gn's queue"
ok
for c in status nodes federation; do
    passerelle broker "$c" --home "$T/B2" --json >"$T/b2-$c.json"
    passerelle broker "$c" --home "$T/B2" >"$T/b2-$c.txt"
done
scan() { # scan TEXT: occurrences in gn's home, log and status outputs
    { grep -rac -- "$1" "$T/B2" "$T/B2.log" "$T"/b2-*.json "$T"/b2-*.txt \
        2>/dev/null || true; } | awk -F: '{s += $NF} END {print s + 0}'
}
[ "$(scan gn/agency)" -gt 0 ] || fail "the scan finds nothing at all"
ok
[ "$(scan sn/agency)" -eq 0 ] || {
    grep -ral -- sn/agency "$T/B2" "$T/B2.log" "$T"/b2-* >&2 || true
    fail "gn's broker holds the sending node's address"
}
ok
[ "$(scan secret-x)" -eq 0 ] || fail "a payload is readable at gn's broker"
ok

# --- 2. expired in gn's queue: the sender is told
all_expired() {
    pl-testmsg --home "$T/agency" outbox --kind test --json >"$T/ob" \
        && python3 - "$T/ob" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["to"] == "gn/agency"]
sys.exit(0 if len(rows) == 20 and all(r["state"] == "expired" for r in rows)
         else 1)
PY
}
fed_until 400 all_expired || fail "the sender was not told of the expiry"
ok
grep -q "link_expired network=gn" "$T/B1.log" || fail "no link_expired line"
ok

# --- 3. a stale foreign directory refuses new sends, keeps what is queued
kill -STOP "${FED_PID[B2]}"
pl-testmsg --home "$T/agency" send --to gn/agency --payload q --count 5 \
    >/dev/null
queued_at_sn() {
    passerelle broker federation --home "$T/B1" --json >"$T/f1" \
        && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["peers"][0]["queued"] == 5 else 1)' "$T/f1"
}
fed_until 100 queued_at_sn || fail "5 envelopes not queued at sn during the cut"
ok
stale() {
    passerelle broker federation --home "$T/B1" --json >"$T/f1" \
        && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["peers"][0]["directory_stale"] else 1)' "$T/f1"
}
fed_until 150 stale || fail "the foreign directory did not go stale"
ok
pl-testmsg --home "$T/agency" send --to gn/agency --payload late >/dev/null
fed_until 100 grep -q 'rejected from=sn/agency .*reason=foreign_unavailable detail="the directory of that network is stale' \
    "$T/B1.log" || fail "a new send was not refused with the stale reason"
ok
queued_at_sn || fail "what was queued before the directory went stale left"
ok
kill -CONT "${FED_PID[B2]}"
fed_start_node gagency
FAIL_LOG=$T/gagency.log
six_in() {
    [ "$(pl-testmsg --home "$T/gagency" list --json \
        | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["from"] == "sn/agency"))')" -eq 6 ]
}
# the refused one comes back with the node's resend backoff (10-20 s)
fed_until 600 six_in || fail "not all 6 arrived once the link came back"
ok
# --- 4. refused for good by the recipient's node over there: the refusal
# code comes back hop by hop (gn's broker -> the link -> sn's broker -> the
# sender's node), nothing else; gn/cp's clock runs 31 days ahead, so the
# envelope (30-day TTL) has expired for it and it refuses it
PASSERELLE_TEST_CLOCK_OFFSET=2678400 fed_start_node gcp
has_gcp() {
    passerelle --home "$T/agency" directory --json 2>/dev/null \
        | grep -q '"gn/cp"'
}
fed_until 100 has_gcp || fail "sn/agency never saw gn/cp"
ok
pl-testmsg --home "$T/agency" send --to gn/cp --payload refused-x >/dev/null
refused_back() {
    pl-testmsg --home "$T/agency" outbox --kind test --json >"$T/ob" \
        && python3 - "$T/ob" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["to"] == "gn/cp"]
sys.exit(0 if len(rows) == 1 and rows[0]["state"] == "rejected"
         and rows[0].get("reason") == "expired" else 1)
PY
}
fed_until 300 refused_back || fail "the sender was not told of the refusal over there"
ok
grep -q "refused_by_recipient .*by=gn/cp reason=expired" "$T/B2.log" \
    || fail "gn's broker did not log the refusal"
ok
grep -q "link_refused network=gn" "$T/B1.log" || fail "no link_refused line at sn"
ok
grep -q "refused-x" "$T/B1.log" "$T/B2.log" && fail "a payload in a broker log"
ok
echo "test_fed_expiry: ok ($CHECKS checks)"
