#!/usr/bin/env bash
# test_fed_door - the federation port and the trust it rests on (issue 13,
# DESIGN.md §7.1), with two real authorities and brokers on 127.0.0.1:
#   - `authority federate` refuses a foreign broker certificate that is not
#     signed by the given foreign key, not a broker, or of another prefix;
#   - the federation port admits the anchored broker's CURVE key and refuses
#     a random key, a node's key, and the broker of a third network (all
#     three never get an answer; the log says why);
#   - anchors that are expired, signed by another authority, or garbage are
#     refused at load with a logged reason;
#   - a foreign certificate for the wrong prefix (signed by the foreign
#     authority, named sn/...) is refused by the name constraint;
#   - no transit: gn also federates with a third network xx, yet sn's nodes
#     never see an xx certificate and a send to xx is refused.
set -euo pipefail
if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-broker passerelle-node pl-curveprobe \
    pl-testmsg python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_fed_door: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-fdoor.XXXXXX")
TEST_NAME=test_fed_door
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fed_net.sh"
cleanup() {
    fed_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

fed_setup
EXP=$(date -u -d '+30 days' +%F)

# --- a third network xx: its own authority and broker
passerelle authority init --home "$T/A3" --network xx >/dev/null
passerelle authority enroll --home "$T/A3" --node "$T/B3" --name broker \
    --sector broker --country ML --region bamako >/dev/null 2>&1
passerelle init --home "$T/xnode" >/dev/null
passerelle authority enroll --home "$T/A3" --node "$T/xnode" --name agency \
    --sector agency --country ML >/dev/null

# --- federate: the CLI refuses what cannot be trusted
usage authority federate --home "$T/A1" --network gn \
    --authority "$T/A3/authority.pub" --broker-cert "$T/B2/node.cert" \
    --expires "$EXP"
err_has "not signed by the --authority key"
usage authority federate --home "$T/A1" --network gn \
    --authority "$T/A2/authority.pub" --broker-cert "$T/gagency/node.cert" \
    --expires "$EXP"
err_has "not a broker"
usage authority federate --home "$T/A1" --network xx \
    --authority "$T/A2/authority.pub" --broker-cert "$T/B2/node.cert" \
    --expires "$EXP"
err_has "not a certificate of network xx"
usage authority federate --home "$T/A1" --network sn \
    --authority "$T/A2/authority.pub" --broker-cert "$T/B2/node.cert" \
    --expires "$EXP"
err_has "own network"
usage authority federate --home "$T/A1" --network gn \
    --authority "$T/A2/authority.pub" --broker-cert "$T/B2/node.cert" \
    --expires 2001-01-01
err_has "passed"
expect 0 authority federate --help
out_has "federation anchor"

# gn federates with xx too (listening side for both)
passerelle authority federate --home "$T/A2" --network xx \
    --authority "$T/A3/authority.pub" --broker-cert "$T/B3/node.cert" \
    --expires "$EXP" --out "$T/B2/federation/xx.anchor" >/dev/null 2>&1
mkdir -p "$T/B3/certs" && cp "$T/xnode/node.cert" "$T/B3/certs/"

# --- anchors refused at load: signed by another authority, garbage, and a
# second anchor for gn (an older one) would be refused as a duplicate
passerelle authority federate --home "$T/A3" --network gn \
    --authority "$T/A2/authority.pub" --broker-cert "$T/B2/node.cert" \
    --expires "$EXP" --out "$T/B1/federation/alien.anchor" >/dev/null 2>&1
head -c 300 /dev/urandom >"$T/B1/federation/garbage.anchor"

# a certificate signed by gn's authority for the prefix sn/: edit gn's
# network file for one enrolment (the authority signs what it is told)
echo sn >"$T/A2/network"
passerelle init --home "$T/evil" >/dev/null
passerelle authority enroll --home "$T/A2" --node "$T/evil" --name evil \
    --sector agency --country GN >/dev/null
echo gn >"$T/A2/network"
cp "$T/evil/node.cert" "$T/B2/certs/evil.cert"

XX_FP=tcp://127.0.0.1:$(fed_port)
fed_start_broker 2
fed_start_broker 1
FAIL_LOG=$T/B1.log
fed_until 100 grep -q "link_up network=gn" "$T/B1.log" \
    || fail "the link sn-gn did not come up"
ok
grep -q 'anchor_refused path=.*alien.anchor reason="not signed by this network' \
    "$T/B1.log" || fail "an anchor of another authority was not refused"
ok
grep -q 'anchor_refused path=.*garbage.anchor reason="malformed"' "$T/B1.log" \
    || fail "a garbage anchor was not refused"
ok
fed_until 50 grep -q "foreign_cert_refused network=gn serial=.* reason=name_constraint" \
    "$T/B1.log" || fail "a gn certificate for sn/evil was not refused"
ok

# --- the door of gn's federation port
FAIL_LOG=$T/B2.log
probe() { # probe WANT ARGS...: pl-curveprobe must exit WANT
    local want=$1 rc=0
    shift
    pl-curveprobe --endpoint "$FED_FP2" --server-home "$T/B2" "$@" \
        --timeout-ms 2500 >/dev/null 2>&1 || rc=$?
    [ "$rc" -eq "$want" ] || fail "pl-curveprobe $* exited $rc, wanted $want"
    ok
}
before=$(grep -c "federation_door_refused" "$T/B2.log" || true)
probe 1 --random --network sn --peer gn
probe 1 --client-home "$T/agency" --network sn --peer gn
probe 1 --client-home "$T/gagency" --network gn --peer gn
# xx's broker is admitted while gn's anchor for xx is there; without it
# (deleted, reloaded), xx is a third network and its broker is refused
probe 0 --client-home "$T/B3" --network xx --peer gn
rm "$T/B2/federation/xx.anchor"
passerelle broker reload --home "$T/B2" >/dev/null
probe 1 --client-home "$T/B3" --network xx --peer gn
after=$(grep -c "federation_door_refused" "$T/B2.log" || true)
[ "$after" -ge $((before + 4)) ] || fail "refusals not logged ($before -> $after)"
ok
grep -q 'federation_door_refused key=.* reason="not a broker named in a federation anchor"' \
    "$T/B2.log" || fail "no reason in the refusal line"
ok
# the node door refuses a broker's key too (federation keys are not nodes)
rc=0
pl-curveprobe --endpoint "$FED_EP2" --server-home "$T/B2" \
    --client-home "$T/B1" --timeout-ms 2000 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "the node door answered a foreign broker ($rc)"
ok
# the anchored broker itself (sn) is admitted: stop it, knock with its key
fed_stop_pid B1
probe 0 --client-home "$T/B1" --network sn --peer gn
fed_start_broker 1

# --- no transit: gn's xx anchor came back; sn's nodes see gn, never xx
passerelle authority federate --home "$T/A2" --network xx \
    --authority "$T/A3/authority.pub" --broker-cert "$T/B3/node.cert" \
    --expires "$EXP" --out "$T/B2/federation/xx.anchor" >/dev/null 2>&1
passerelle broker reload --home "$T/B2" >/dev/null
fed_start_node agency
FAIL_LOG=$T/agency.log
has_gn() {
    passerelle --home "$T/agency" directory --json >"$T/out" 2>"$T/err" \
        && grep -q '"gn/agency"' "$T/out"
}
fed_until 100 has_gn || fail "sn/agency never saw gn/agency"
ok
grep -q '"xx/' "$T/out" && fail "a certificate of xx reached sn through gn"
ok
grep -q '"sn/evil"' "$T/out" && fail "sn/evil (wrong prefix) reached a node"
ok
rc=0
pl-testmsg --home "$T/agency" send --to xx/agency --payload p >"$T/out" \
    2>"$T/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a send to xx/agency (no anchor at sn) was accepted"
ok
echo "test_fed_door: ok ($CHECKS checks)"
