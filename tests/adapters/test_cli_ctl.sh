#!/usr/bin/env bash
# test_cli_ctl - the node's control socket and the CLI's link to it (issue
# 11, item 11): garbage on the socket (raw bytes, a half greeting left
# open, a DEALER frame without delimiter, a multipart request, non-JSON, a
# JSON array, a frame over the size limit) never costs the next request
# its reply; a daemon that is stopped (SIGSTOP) for 4 s still answers the
# CLI, which asked again under the same request id, and exactly one case
# is made; a daemon stopped past the CLI's 10 s makes the CLI fail with
# the request id, and running the command again with --request-id gives
# the same case, never a second one. Also: a bad --request-id and invalid
# UTF-8 in --as are usage errors with a clear message.
set -euo pipefail

if [ -n "${PL_BIN_DIR:-}" ] && [ -x "$PL_BIN_DIR/passerelle" ]; then
    PATH="$PL_BIN_DIR:$PATH"
fi
for exe in passerelle passerelle-node passerelle-broker python3 setpriv; do
    command -v "$exe" >/dev/null 2>&1 || {
        echo "test_cli_ctl: FAIL: '$exe' not found on PATH" >&2
        exit 1
    }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/pl-ctl.XXXXXX")
TEST_NAME=test_cli_ctl
# shellcheck source=../lib/cli_assert.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/cli_assert.sh"
# shellcheck source=cli_net.sh
. "$(dirname "${BASH_SOURCE[0]}")/cli_net.sh"
cleanup() {
    [ -n "${NET_PID[agency]:-}" ] && kill -CONT "${NET_PID[agency]}" 2>/dev/null
    net_stop
    if [ -n "${PL_TEST_KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

net_setup
net_start_broker
net_start_node agency
AG=(--home "$T/agency")
FAIL_LOG=$T/agency.log
n_cases() { passerelle "${AG[@]}" case list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# garbage KIND: a raw peer on the control socket (python, AF_UNIX)
cat >"$T/garbage.py" <<'EOF'
import socket, struct, sys, time
path, kind = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(path)
greeting = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31
def handshake(socket_type):
    s.sendall(greeting)
    got = b""
    while len(got) < 64:
        got += s.recv(64 - len(got))
    meta = b"\x05READY\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    s.sendall(b"\x04" + bytes([len(meta)]) + meta)
def frame(data, more):
    if len(data) < 256:
        return bytes([1 if more else 0, len(data)]) + data
    return bytes([3 if more else 2]) + struct.pack(">Q", len(data)) + data
if kind == "raw":
    s.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
elif kind == "half-greeting":
    s.sendall(greeting[:11])
elif kind == "dealer-no-delimiter":
    handshake(b"DEALER")
    s.sendall(frame(b"abc", True) + frame(b"def", False))
elif kind == "multipart":
    handshake(b"REQ")
    s.sendall(frame(b"", True) + frame(b'{"req":', True) + frame(b'"x"}', False))
elif kind == "not-json":
    handshake(b"REQ")
    s.sendall(frame(b"", True) + frame(b"\xff\xfe not json", False))
elif kind == "array":
    handshake(b"REQ")
    s.sendall(frame(b"", True) + frame(b'["cmd", "case.add"]', False))
elif kind == "too-big":
    handshake(b"REQ")
    try:
        s.sendall(frame(b"", True) + frame(b"x" * (2 << 20), False))
    except OSError:
        pass  # the daemon may close the connection mid-way: fine
# stay connected (a peer that neither reads nor closes) while the CLI asks
time.sleep(float(sys.argv[3]))
s.close()
EOF

cases=$(n_cases)
for kind in raw half-greeting dealer-no-delimiter multipart not-json array too-big; do
    # the garbage peer stays connected (at most 30 s) until the CLI has
    # had its answer, then it is stopped by its PID
    python3 "$T/garbage.py" "$T/agency/control" "$kind" 30 &
    gp=$!
    sleep 0.5
    t0=$(date +%s)
    expect 0 "${AG[@]}" case add --given "G$kind" --family F --birth 1990-01-01
    [ $(($(date +%s) - t0)) -le 15 ] || fail "case add after '$kind' took over 15 s"
    ok
    cases=$((cases + 1))
    [ "$(n_cases)" = "$cases" ] || fail "after '$kind': $(n_cases) cases, wanted $cases"
    ok
    kill -0 "$gp" 2>/dev/null || fail "the '$kind' peer was gone before the CLI's answer"
    ok
    kill "$gp" 2>/dev/null || true
    wait "$gp" || true
done
kill -0 "${NET_PID[agency]}" || fail "the node died of garbage on its control socket"
ok

# ---- a daemon stopped 4 s: the CLI asks again (same request id) and gets
# its answer; one case
kill -STOP "${NET_PID[agency]}"
RC=0
passerelle "${AG[@]}" case add --given Stopped --family Four --birth 1990-01-01 \
    >"$T/out4" 2>"$T/err4" &
cp=$!
sleep 4
kill -CONT "${NET_PID[agency]}"
wait "$cp" || RC=$?
[ "$RC" = 0 ] || fail "case add over a 4 s stop exited $RC: $(cat "$T/err4")"
ok
cases=$((cases + 1))
[ "$(n_cases)" = "$cases" ] || fail "a 4 s stop made $(n_cases) cases, wanted $cases"
ok
id4=$(cat "$T/out4")
expect 0 "${AG[@]}" case list --json
json_is "'$id4' in [c['id'] for c in d]" true

# ---- a daemon stopped past 10 s: the CLI fails and names the request id;
# the same command with --request-id gives the one case it made
kill -STOP "${NET_PID[agency]}"
t0=$(date +%s)
expect 1 "${AG[@]}" case add --given Stopped --family Twelve --birth 1990-01-01
el=$(($(date +%s) - t0))
[ "$el" -ge 9 ] && [ "$el" -le 40 ] || fail "the CLI gave up after $el s, wanted about 10"
ok
err_has "did not answer within 10 s"
rid=$(grep -o -- '--request-id [0-9a-f]\{32\}' "$T/err" | head -1 | cut -d' ' -f2 || true)
[ -n "$rid" ] || fail "the timeout message gives no request id"
ok
kill -CONT "${NET_PID[agency]}"
sleep 1
# the attempt may or may not have been carried out (the CLI's sockets are
# gone): at most once
now=$(n_cases)
[ "$now" = "$cases" ] || [ "$now" = $((cases + 1)) ] || fail "the timed-out request made $((now - cases)) cases"
ok
cases=$((cases + 1))
expect 0 "${AG[@]}" --request-id "$rid" case add --given Stopped --family Twelve --birth 1990-01-01
id12=$(cat "$T/out")
[ "$(n_cases)" = "$cases" ] || fail "the retry with --request-id made a second case"
ok
expect 0 "${AG[@]}" case list --json
json_is "'$id12' in [c['id'] for c in d]" true
expect 0 --request-id "$rid" "${AG[@]}" case add --given Stopped --family Twelve --birth 1990-01-01
[ "$(cat "$T/out")" = "$id12" ] || fail "a second retry printed another id"
ok
[ "$(n_cases)" = "$cases" ] || fail "a second retry made a case"
ok

# ---- a reply lost on the way: a peer asks (request id X) and hangs up
# once the daemon has carried it out; the CLI with --request-id X gets
# that case, and no second one
cat >"$T/lost.py" <<'EOF'
import json, socket, struct, sys, time
path, rid = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(path)
s.sendall(b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" + b"\0" * 31)
got = b""
while len(got) < 64:
    got += s.recv(64 - len(got))
meta = b"\x05READY\x0bSocket-Type" + struct.pack(">I", 3) + b"REQ"
s.sendall(b"\x04" + bytes([len(meta)]) + meta)
req = json.dumps({"req": rid, "cmd": "case.add",
                  "args": {"given": "Lost", "family": "Reply", "birth": "1990-01-01"}}).encode()
s.sendall(b"\x01\x00" + b"\x00" + bytes([len(req)]) + req)
time.sleep(1)  # carried out meanwhile; the reply is never read
s.close()
EOF
lost=0123456789abcdef0123456789abcdef
python3 "$T/lost.py" "$T/agency/control" "$lost"
net_until 100 eval '[ "$(n_cases)" = $((cases + 1)) ]' || fail "the lost-reply request was not carried out"
ok
cases=$((cases + 1))
expect 0 "${AG[@]}" --request-id "$lost" case add --given Lost --family Reply --birth 1990-01-01
idl=$(cat "$T/out")
[ "$(n_cases)" = "$cases" ] || fail "the retry of a lost reply made a second case"
ok
expect 0 "${AG[@]}" case list --json
json_is "'$idl' in [c['id'] for c in d]" true

# ---- usage errors
usage --request-id 1234 "${AG[@]}" case list
err_has "32"
usage --as "$(printf 'A\xffB')" "${AG[@]}" case list
err_has "invalid UTF-8 in --as"
grep -qi "out of memory" "$T/err" && fail "invalid UTF-8 in --as said 'out of memory'"
ok

echo "test_cli_ctl: $CHECKS checks passed"
