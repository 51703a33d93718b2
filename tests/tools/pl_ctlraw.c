// pl-ctlraw - test-only tool: sends one raw control request, read from
// stdin (so that a password never reaches argv), to the node daemon of
// --home DIR, and prints the reply. Layer: tests. The staff tests use it to
// speak the control protocol as passerelle-web does: {"req", "cmd",
// "args", "as", "session"}.
//
//   pl-ctlraw --home DIR [--timeout-ms N] < request.json
//
// Exit status: 0 the reply is {"ok": true}, 1 {"ok": false}, 2 usage, 3
// no reply in time or a transport error.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int
main(int argc, char **argv)
{
    const char *home = NULL;
    long timeout_ms = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
            timeout_ms = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            puts("usage: pl-ctlraw --home DIR [--timeout-ms N] < request.json");
            return 0;
        } else {
            fprintf(stderr, "pl-ctlraw: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!home || timeout_ms < 1 || timeout_ms > 600000) {
        fputs("usage: pl-ctlraw --home DIR [--timeout-ms N] < request.json\n",
              stderr);
        return 2;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, stdin);
    buf[n] = 0;
    char ep[4200];
    snprintf(ep, sizeof ep, "ipc://%s/control", home);
    void *zctx = zmq_ctx_new();
    void *s = zmq_socket(zctx, ZMQ_REQ);
    int zero = 0, to = (int) timeout_ms;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &to, sizeof to);
    int rc = 3;
    if (zmq_connect(s, ep) == 0 && zmq_send(s, buf, n, 0) == (int) n) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) >= 0) {
            const char *d = zmq_msg_data(&m);
            size_t len = zmq_msg_size(&m);
            fwrite(d, 1, len, stdout);
            fputc('\n', stdout);
            json_error_t jerr;
            json_t *r = json_loadb(d, len, 0, &jerr);
            rc = json_is_true(json_object_get(r, "ok")) ? 0 : 1;
            json_decref(r);
        } else {
            fprintf(stderr, "pl-ctlraw: no reply: %s\n", zmq_strerror(errno));
        }
        zmq_msg_close(&m);
    } else {
        fprintf(stderr, "pl-ctlraw: cannot send: %s\n", zmq_strerror(errno));
    }
    zmq_close(s);
    zmq_ctx_term(zctx);
    return rc;
}
