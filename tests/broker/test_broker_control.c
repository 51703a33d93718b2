// test_broker_control - the broker's operator socket (ipc://HOME/control)
// against bad peers: raw bytes from a plain Unix socket, a ZeroMQ peer
// that skips the request delimiter or sends several frames, oversized and
// malformed JSON requests. Each bad request gets a clear error reply (when
// its peer can be answered at all) and never a crash, and the next good
// request - `passerelle broker status` - gets its own reply.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "tests/lib/pl_test.h"

static const char *const s_specs[] = {"agency:agency"};

static void
s_start(pl_test_net_t *net)
{
    pl_test_net_init(net, "control", s_specs, 1);
    pl_test_net_start_broker(net, NULL);
    char ctl[600];
    snprintf(ctl, sizeof ctl, "%s/control", net->broker);
    assert_true(pl_test_wait_file(ctl, 10000));
}

// `passerelle broker status --json` answers with the broker's address
static void
s_status_ok(pl_test_net_t *net)
{
    char *out = NULL;
    int rc =
        pl_test_sh(&out, "timeout 20 '%s' --json broker status --home '%s'",
                   pl_test_bin("passerelle"), net->broker);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    if (rc != 0 || !j)
        fprintf(stderr, "status: rc=%d out=%s\n", rc, out ? out : "");
    assert_int_equal(rc, 0);
    assert_non_null(j);
    assert_non_null(json_object_get(j, "address"));
    json_decref(j);
    free(out);
}

// one request over a fresh REQ socket; the reply (malloc'd) or NULL
static char *
s_req(pl_test_net_t *net, const void *data, size_t len)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    char ep[700];
    snprintf(ep, sizeof ep, "ipc://%s/control", net->broker);
    assert_int_equal(zmq_connect(s, ep), 0);
    char *reply = NULL;
    if (zmq_send(s, data, len, 0) >= 0) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) >= 0) {
            reply = calloc(1, zmq_msg_size(&m) + 1);
            memcpy(reply, zmq_msg_data(&m), zmq_msg_size(&m));
        }
        zmq_msg_close(&m);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return reply;
}

// the reply (freed here) is {"ok":false,"error":...}
static void
s_is_error(char *reply)
{
    assert_non_null(reply);
    json_t *j = json_loads(reply, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_true(json_is_string(json_object_get(j, "error")));
    json_decref(j);
    free(reply);
}

// a plain Unix stream socket connected to the control socket
static int
s_unix(pl_test_net_t *net)
{
    char path[600];
    int n = snprintf(path, sizeof path, "%s/control", net->broker);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(n > 0 && (size_t) n < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, (size_t) n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
    return fd;
}

static void
test_raw_bytes(void **state)
{
    (void) state;
    pl_test_net_t net;
    s_start(&net);
    s_status_ok(&net);
    // a plain Unix socket writing bytes that are not ZMTP at all
    for (int i = 0; i < 5; i++) {
        int fd = s_unix(&net);
        char junk[512];
        for (size_t j = 0; j < sizeof junk; j++)
            junk[j] = (char) (j * 37 + (size_t) i);
        ssize_t w = write(fd, junk, sizeof junk);
        (void) w;
        close(fd);
        s_status_ok(&net);
    }
    // a ZMTP greeting then a frame announcing 2^62 bytes
    int fd = s_unix(&net);
    uint8_t greet[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
    memcpy(greet + 12, "NULL", 4);
    ssize_t w = write(fd, greet, sizeof greet);
    uint8_t big[9] = {0x02, 0x40, 0, 0, 0, 0, 0, 0, 0};
    w = write(fd, big, sizeof big);
    (void) w;
    s_status_ok(&net);
    close(fd);
    assert_true(pl_test_alive(net.broker_pid));
    pl_test_net_destroy(&net);
}

static void
test_bad_frames(void **state)
{
    (void) state;
    pl_test_net_t net;
    s_start(&net);
    void *ctx = zmq_ctx_new();
    char ep[700];
    snprintf(ep, sizeof ep, "ipc://%s/control", net.broker);
    // a DEALER that skips the empty delimiter, then one sending three
    // frames, then one sending the first frame of a two-part request and
    // going away: none of them may steal or lose the next reply
    const char *req = "{\"cmd\":\"status\"}";
    for (int mode = 0; mode < 3; mode++) {
        void *d = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
        assert_int_equal(zmq_connect(d, ep), 0);
        if (mode == 0) {
            zmq_send(d, req, strlen(req), 0);
        } else if (mode == 1) {
            zmq_send(d, "", 0, ZMQ_SNDMORE);
            zmq_send(d, req, strlen(req), ZMQ_SNDMORE);
            zmq_send(d, req, strlen(req), 0);
        } else {
            zmq_send(d, "", 0, ZMQ_SNDMORE);
            zmq_send(d, req, strlen(req), ZMQ_SNDMORE);
            zmq_send(d, "x", 1, 0);
        }
        pl_test_sh(NULL, "sleep 0.3");
        s_status_ok(&net);
        zmq_close(d);
        s_status_ok(&net);
    }
    zmq_ctx_term(ctx);
    // malformed and oversized requests: a clear error reply each
    s_is_error(s_req(&net, "{", 1));
    s_is_error(s_req(&net, "[]", 2));
    s_is_error(s_req(&net, "{\"cmd\":7}", 9));
    s_is_error(s_req(&net, "{\"cmd\":\"nope\"}", 14));
    s_is_error(s_req(&net, "\xff\xfe\x00\x01", 4));
    size_t n = 60000; // over 4 KiB, under the size limit: parsed whole
    char *pad = malloc(n + 64);
    int k = snprintf(pad, 64, "{\"cmd\":\"status\",\"pad\":\"");
    memset(pad + k, 'a', n);
    memcpy(pad + k + n, "\"}", 3);
    char *r = s_req(&net, pad, strlen(pad));
    assert_non_null(r);
    json_t *j = json_loads(r, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    free(r);
    free(pad);
    // 20 MB: over the limit, the connection is dropped, no answer, and
    // nothing is allocated for it
    size_t huge = 20u << 20;
    char *h = calloc(1, huge);
    memset(h, '{', huge);
    r = s_req(&net, h, huge);
    free(h);
    assert_null(r);
    free(r);
    s_status_ok(&net);
    assert_true(pl_test_alive(net.broker_pid));
    pl_test_net_destroy(&net);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_bytes),
        cmocka_unit_test(test_bad_frames),
    };
    if (getenv("PL_TEST_FILTER"))
        cmocka_set_test_filter(getenv("PL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
