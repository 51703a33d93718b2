// cli_control - the CLI's one control-socket client, for the node daemon
// and for the broker. Layer: adapters.
#include "adapters/cli/cli_control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zmq.h>

#include "adapters/cli/cli.h"
#include "proto/pl_crypto.h"
#include "proto/pl_home.h"

#define S_SLICE_MS  250  // how often the lock is checked while waiting
#define S_RESEND_MS 2500 // an unanswered request is sent again this often

// What differs between the two control sockets the CLI talks to.
typedef struct {
    const char *who;     // "node daemon", "broker": in messages
    const char *running; // "node", "broker": "the %s is not running"
    bool request_id;     // requests carry "req", "args", "as" (node)
    bool resend;         // an unanswered request goes again (same id)
    bool need_result;    // an answer without "result" is an error
    const char *refused; // the error text when a refusal gives none
    int64_t reply_max;   // ZMQ_MAXMSGSIZE of the socket (-1: no limit)
} s_peer_t;

static const s_peer_t s_peers[] = {
    [CLI_PEER_NODE] = {"node daemon", "node", true, true, false,
                       "the node daemon refused", -1},
    // the broker's control socket keeps no request record: one send, one
    // answer; its status can be large but not unbounded
    [CLI_PEER_BROKER] = {"broker", "broker", false, false, true,
                         "no reason given", (int64_t) 64 << 20},
};

void
cli_control_request_id(char out[CLI_REQUEST_ID_HEX + 1])
{
    static const char d[] = "0123456789abcdef";
    uint8_t id[CLI_REQUEST_ID_HEX / 2];
    // a request id must be unpredictable and never all zero (two failed
    // draws would collide and replay each other's reply): pl_random aborts
    // when it cannot draw, it has no fallback
    pl_random(id, sizeof id);
    for (size_t i = 0; i < sizeof id; i++) {
        out[2 * i] = d[id[i] >> 4];
        out[2 * i + 1] = d[id[i] & 15];
    }
    out[CLI_REQUEST_ID_HEX] = 0;
}

// The pid written in DIR/daemon.lock while some process holds its flock
// (the daemon), -1 when nobody holds it, -2 when the lock file cannot be
// opened (permission denied, with errno set). 0 when held but no pid is
// written (yet). The probe itself is pl_home's.
static long
s_daemon_pid(const char *home)
{
    bool held = false;
    long pid = -1;
    if (pl_home_lock_probe(home, &held, &pid, NULL, 0) != PL_OK)
        return -2; // errno kept
    return held ? pid : -1;
}

// Whether a command may be sent again under the same request id while the
// first attempt is unanswered: everything the daemon either only reads
// cheaply or records under its request id; not the long commands it runs
// after the pass without that record (backup, audit.export, audit.verify:
// each copy would run again in full) nor the parked network query.
static bool
s_resendable(const char *cmd)
{
    static const char *const once[] = {"backup", "audit.export", "audit.verify",
                                       "network"};
    for (size_t i = 0; i < sizeof once / sizeof *once; i++)
        if (!strcmp(cmd, once[i]))
            return false;
    return true;
}

// A REQ socket connected to 'ep' that has sent 'text'; NULL after a
// message in 'err'.
static void *
s_open(void *ctx, const s_peer_t *peer, const char *ep, const char *text,
       char *err, size_t err_size)
{
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &peer->reply_max,
                          sizeof peer->reply_max)
               != 0
        || zmq_connect(s, ep) != 0) {
        cli_fmt(err, err_size, "cannot connect to %s: %s", ep,
                zmq_strerror(errno));
        if (s)
            zmq_close(s);
        return NULL;
    }
    if (zmq_send(s, text, strlen(text), 0) < 0) {
        cli_fmt(err, err_size, "cannot send to the %s: %s", peer->who,
                zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

// Steps 1-3 of a call: the realpath of 'home' in 'dir', its endpoint in
// 'ep', the home check and the daemon's pid in '*pid'. Returns CLI_CONTROL_OK
// or the result to give up with (after a message in 'err').
static int
s_reach(const s_peer_t *peer, const char *home, char dir[PATH_MAX],
        char ep[PATH_MAX + 32], long *pid, char *err, size_t err_size)
{
    if (!home || !realpath(home, dir)) {
        cli_fmt(err, err_size, "cannot resolve the home folder %s: %s",
                home ? home : "(none)", strerror(errno));
        return CLI_CONTROL_FAILED;
    }
    if (pl_home_control_endpoint(dir, ep, PATH_MAX + 32) != PL_OK) {
        cli_fmt(err, err_size,
                "the home folder path is too long for the control socket "
                "(%d bytes, the limit is %d)",
                (int) (strlen("ipc://") + strlen(dir) + strlen("/control")),
                PL_HOME_IPC_MAX);
        return CLI_CONTROL_FAILED;
    }
    // never talk to a control socket in a home this user would refuse: its
    // owner or anyone who can write there could have put their own socket
    // (issue 11, item 9)
    if (pl_home_check(dir, err, err_size) != PL_OK)
        return CLI_CONTROL_FAILED;
    *pid = s_daemon_pid(dir);
    if (*pid == -2) {
        cli_fmt(err, err_size, "cannot open %s/daemon.lock: %s", dir,
                strerror(errno));
        return CLI_CONTROL_FAILED;
    }
    if (*pid < 0) {
        cli_fmt(err, err_size,
                "the %s is not running (no daemon holds %s/daemon.lock)",
                peer->running, dir);
        return CLI_CONTROL_NOT_RUNNING;
    }
    return CLI_CONTROL_OK;
}

// The request text (caller frees), its request id in 'rid' ("" for the
// broker); NULL when out of memory.
static char *
s_request_text(const s_peer_t *peer, const char *request_id, const char *cmd,
               json_t *args, const char *as, const char *session,
               char rid[CLI_REQUEST_ID_HEX + 1])
{
    json_t *req;
    if (peer->request_id) {
        if (request_id)
            snprintf(rid, CLI_REQUEST_ID_HEX + 1, "%s", request_id);
        else
            cli_control_request_id(rid);
        req = json_pack("{s:s, s:s, s:O?, s:s?, s:s?}", "req", rid, "cmd", cmd,
                        "args", args, "as", as, "session", session);
    } else {
        rid[0] = 0;
        req = json_pack("{s:s}", "cmd", cmd);
    }
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return text;
}

// The message of a request given up on: 'what' is "did not answer within
// N s" or "stopped before answering"; a node's names the request id for
// --request-id.
static void
s_gave_up(const s_peer_t *peer, const char *what, const char *rid, char *err,
          size_t err_size)
{
    if (peer->request_id)
        cli_fmt(err, err_size,
                "the %s %s (request %s may or may not have been carried out; "
                "to retry without acting twice, run the same command with "
                "--request-id %s)",
                peer->who, what, rid, rid);
    else
        cli_fmt(err, err_size, "the %s %s", peer->who, what);
}

// Reads the reply {"ok", "result" | "error", "code"} of 'size' bytes.
static int
s_reply(const s_peer_t *peer, const void *data, size_t size, json_t **result,
        char *err, size_t err_size, char *code, size_t code_size)
{
    json_error_t jerr;
    json_t *reply = json_loadb(data, size, 0, &jerr);
    json_t *ok = json_object_get(reply, "ok");
    json_t *res = json_object_get(reply, "result");
    int rc;
    if (!json_is_object(reply) || !json_is_boolean(ok)
        || (json_is_true(ok) && !res && peer->need_result)) {
        cli_fmt(err, err_size, "the %s sent a malformed reply", peer->who);
        rc = CLI_CONTROL_FAILED;
    } else if (json_is_true(ok)) {
        *result = res ? json_incref(res) : json_null();
        rc = CLI_CONTROL_OK;
    } else {
        const char *e = json_string_value(json_object_get(reply, "error"));
        const char *c = json_string_value(json_object_get(reply, "code"));
        cli_fmt(err, err_size, "%s", e ? e : peer->refused);
        if (code && code_size && c)
            snprintf(code, code_size, "%s", c);
        rc = CLI_CONTROL_ERROR;
    }
    json_decref(reply);
    return rc;
}

int
cli_control_request(cli_peer_t which, const char *home, const char *request_id,
                    const char *cmd, json_t *args, const char *as,
                    int timeout_ms, json_t **result, char *err, size_t err_size,
                    char *code, size_t code_size)
{
    return cli_control_session(which, home, request_id, cmd, args, as, NULL,
                               timeout_ms, result, err, err_size, code,
                               code_size);
}

int
cli_control_session(cli_peer_t which, const char *home, const char *request_id,
                    const char *cmd, json_t *args, const char *as,
                    const char *session, int timeout_ms, json_t **result,
                    char *err, size_t err_size, char *code, size_t code_size)
{
    const s_peer_t *peer = &s_peers[which];
    *result = NULL;
    if (code && code_size)
        code[0] = 0;
    char dir[PATH_MAX], ep[PATH_MAX + 32];
    long pid = -1;
    int rc = s_reach(peer, home, dir, ep, &pid, err, err_size);
    if (rc != CLI_CONTROL_OK)
        return rc;
    if (timeout_ms <= 0)
        timeout_ms = CLI_CONTROL_TIMEOUT_MS;
    char rid[CLI_REQUEST_ID_HEX + 1];
    char *text = s_request_text(peer, request_id, cmd, args, as, session, rid);
    if (!text) {
        cli_fmt(err, err_size, "out of memory");
        return CLI_CONTROL_FAILED;
    }

    rc = CLI_CONTROL_FAILED;
    void *ctx = zmq_ctx_new();
    void *s = NULL;
    bool resend = peer->resend && s_resendable(cmd);
    int waited = 0, sent_at = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        if (!s) {
            // a fresh REQ socket per attempt, the same request text (and
            // so the same request id): the daemon carries a request out
            // once and replays its stored reply to a retry
            s = ctx ? s_open(ctx, peer, ep, text, err, err_size) : NULL;
            if (!s)
                goto done;
            sent_at = waited;
        }
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        int slice =
            timeout_ms - waited < S_SLICE_MS ? timeout_ms - waited : S_SLICE_MS;
        int r = zmq_poll(&it, 1, slice);
        if (r > 0 && zmq_msg_recv(&m, s, 0) >= 0) {
            rc = s_reply(peer, zmq_msg_data(&m), zmq_msg_size(&m), result, err,
                         err_size, code, code_size);
            goto done;
        }
        if (r < 0 && errno != EINTR) {
            cli_fmt(err, err_size, "control socket error: %s",
                    zmq_strerror(errno));
            goto done;
        }
        waited += slice;
        if (waited >= timeout_ms) {
            char what[64];
            snprintf(what, sizeof what, "did not answer within %d s",
                     timeout_ms / 1000);
            s_gave_up(peer, what, rid, err, err_size);
            rc = CLI_CONTROL_TIMEOUT;
            goto done;
        }
        long now_pid = s_daemon_pid(dir);
        if (now_pid < 0 || (pid > 0 && now_pid != pid)) {
            s_gave_up(peer, "stopped before answering", rid, err, err_size);
            rc = CLI_CONTROL_TIMEOUT;
            goto done;
        }
        if (resend && waited - sent_at >= S_RESEND_MS) {
            // no answer yet: the reply may have been lost on the way (a
            // peer's garbage, a restart of the daemon's socket); ask again
            zmq_close(s);
            s = NULL;
        }
    }
done:
    zmq_msg_close(&m);
    if (s)
        zmq_close(s);
    if (ctx)
        zmq_ctx_term(ctx);
    pl_wipe(text, strlen(text)); // a login or staff.add carries a password
    free(text);
    return rc;
}

int
cli_control_call_id(const char *home, const char *request_id, const char *cmd,
                    json_t *args, const char *as, int timeout_ms,
                    json_t **result, char *err, size_t err_size, char *code,
                    size_t code_size)
{
    return cli_control_request(CLI_PEER_NODE, home, request_id, cmd, args, as,
                               timeout_ms, result, err, err_size, code,
                               code_size);
}

int
cli_control_call(const char *home, const char *cmd, json_t *args,
                 const char *as, int timeout_ms, json_t **result, char *err,
                 size_t err_size)
{
    return cli_control_call_id(home, NULL, cmd, args, as, timeout_ms, result,
                               err, err_size, NULL, 0);
}
