#!/usr/bin/env bash
# test_broker_ops - the operator's commands against a real passerelle-broker:
# `passerelle broker status|nodes|reload --home BROKERDIR [--json]`.
# Sets up an authority, a broker and two node homes with the CLI as
# DESIGN.md §9 does (no node daemons), starts the broker on 127.0.0.1 at a
# free port, then checks status, nodes, an expiring certificate, reload
# with revocation lists (an older list never wins), a stopped broker and
# usage errors. The broker is stopped by its PID on every exit.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker python3; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_broker_ops: FAIL: '$exe' not found on PATH" \
            "(PL_BIN_DIR=${PL_BIN_DIR:-unset})" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-ops.XXXXXX")
BROKER_PID=
stop_broker() {
    if [ -n "$BROKER_PID" ]; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        # wait up to 10 s, then kill -9
        for _ in $(seq 1 200); do
            kill -0 "$BROKER_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
        BROKER_PID=
    fi
}
cleanup() {
    stop_broker
    if [ -n "${PL_TEST_KEEP:-}" ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
cd "$T"

TEST_NAME=test_broker_ops
FAIL_LOG="$T/broker.log"
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"

# ---- a network by hand (DESIGN.md §9)
passerelle authority init --home A --network sn >/dev/null
passerelle init --home N1 >/dev/null
passerelle init --home N2 >/dev/null
S_B=$(passerelle authority enroll --home A --node B --name broker \
    --sector broker --country SN --region dakar 2>/dev/null)
S_N1=$(passerelle authority enroll --home A --node N1 --name agency \
    --sector agency --country SN --region dakar)
S_N2=$(passerelle authority enroll --home A --node N2 --name clinic \
    --sector health --country SN --region dakar)
mkdir -p B/certs
cp N1/node.cert B/certs/agency.cert
cp N2/node.cert B/certs/clinic.cert
cp B/node.cert N1/broker.cert
cp B/node.cert N2/broker.cert

PORT=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
passerelle-broker --home B --listen "tcp://127.0.0.1:$PORT" \
    >"$T/broker.log" 2>&1 &
BROKER_PID=$!
# wait until the control socket answers (at most 15 s)
up=0
for _ in $(seq 1 300); do
    kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker exited at start"
    if [ -S B/control ] && passerelle broker status --home B >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.05
done
[ "$up" = 1 ] || fail "the broker did not come up within 15 s"
ok

# ---- status: both nodes, offline, nothing queued
expect 0 broker status --home B --json
json_is 'd["address"]' "sn/broker"
json_is 'len(d["nodes"])' 2
json_is 'sorted(n["address"] for n in d["nodes"])' '["sn/agency", "sn/clinic"]'
json_is 'all(n["online"] is False for n in d["nodes"])' true
json_is 'all(n["queued"] == 0 for n in d["nodes"])' true
json_is 'd["online"]' 0
json_is 'd["revocation_number"]' 0
json_is 'isinstance(d["uptime_s"], int) and isinstance(d["store_bytes"], int)' true
# the global --home works too, and the human form names both nodes
expect 0 --home B broker status
out_has "sn/agency"
out_has "sn/clinic"
out_has "uptime"
out_has "PRESENCE"

# ---- nodes: three certificates (broker + 2 nodes) with their serials
expect 0 broker nodes --home B --json
json_is 'len(d)' 3
json_is 'sorted(n["serial"] for n in d)' "$(python3 -c "print(sorted([$S_B, $S_N1, $S_N2]))")"
json_is '[n["serial"] for n in d if n["address"] == "sn/agency"]' "[$S_N1]"
json_is 'all(n["status"] == "valid" and n["revoked"] is False for n in d)' true
json_is 'all(n["expiring_soon"] is False for n in d)' true
expect 0 broker nodes --home B
out_has "sn/broker"
grep -q WARNING "$T/out" && fail "no certificate expires soon, yet a WARNING"
ok

# ---- a certificate valid for 10 days: expiring-soon and a WARNING
passerelle init --home N3 >/dev/null
S_N3=$(passerelle authority enroll --home A --node N3 --name shortlived \
    --sector education --country SN --region dakar --days 10)
cp N3/node.cert B/certs/shortlived.cert
expect 0 broker reload --home B --json
json_is 'd["certificates"]' 3   # enrolled in certs/ (the broker's own is not)
expect 0 broker nodes --home B --json
json_is 'len(d)' 4
json_is '[n["status"] for n in d if n["serial"] == '"$S_N3"']' '["expiring-soon"]'
json_is '[n["expiring_soon"] for n in d if n["serial"] == '"$S_N3"']' '[true]'
json_is '[n["days_left"] in (9, 10) for n in d if n["serial"] == '"$S_N3"']' '[true]'
expect 0 broker nodes --home B
out_has "WARNING"
grep "WARNING" "$T/out" | grep -q "sn/shortlived" || fail "the WARNING does not name sn/shortlived"
ok
[ "$(grep -c WARNING "$T/out")" -eq 1 ] || fail "one WARNING expected"
ok

# ---- revocation: list 1 revokes agency
passerelle authority revoke --home A --serial "$S_N1" >/dev/null 2>&1
cp A/revoked B/revoked
cp A/revoked "$T/revoked.1"
expect 0 broker reload --home B
out_has "revocation list number 1"
expect 0 broker nodes --home B --json
json_is '[n["revoked"] for n in d if n["serial"] == '"$S_N1"']' '[true]'
json_is '[n["status"] for n in d if n["serial"] == '"$S_N1"']' '["revoked"]'
json_is '[n["revoked"] for n in d if n["serial"] == '"$S_N2"']' '[false]'
expect 0 broker status --home B --json
json_is 'd["revocation_number"]' 1

# list 2 also revokes the clinic
passerelle authority revoke --home A --serial "$S_N2" >/dev/null 2>&1
cp A/revoked B/revoked
expect 0 broker reload --home B --json
json_is 'd["revocation_number"]' 2
expect 0 broker status --home B --json
json_is 'd["revocation_number"]' 2

# an older list copied back is ignored: still 2, both still revoked
cp "$T/revoked.1" B/revoked
expect 0 broker reload --home B --json
json_is 'd["revocation_number"]' 2
expect 0 broker status --home B --json
json_is 'd["revocation_number"]' 2
expect 0 broker nodes --home B --json
json_is '[n["revoked"] for n in d if n["serial"] == '"$S_N1"']' '[true]'
json_is '[n["revoked"] for n in d if n["serial"] == '"$S_N2"']' '[true]'
grep -q "revocation_list_ignored" "$T/broker.log" || fail "the broker did not log the older list as ignored"
ok

# ---- usage errors and help (broker still running)
usage broker
usage broker frobnicate --home B
usage broker status --bogus --home B
usage broker status
usage broker status nodes --home B
usage broker nodes --home
expect 0 broker --help
out_has "usage: passerelle broker"
expect 0 broker status --help
out_has "usage: passerelle broker status"
expect 0 help broker reload
out_has "usage: passerelle broker reload"
expect 0 --help
out_has "broker"

# ---- a stopped broker: "not running", exit 1, nothing on stdout
stop_broker
for sub in status nodes reload; do
    expect 1 broker "$sub" --home B
    err_has "not running"
    [ ! -s "$T/out" ] || fail "broker $sub wrote to stdout with no broker"
    ok
done
expect 1 broker status --home "$T/nonexistent"

echo "test_broker_ops: ok ($CHECKS checks)"
