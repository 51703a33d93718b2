// bench_connect - thousands of connected nodes (issue 20 item 3). Layer:
// tests (run by hand: `make bench`; prints figures, asserts none).
//
// A network of an agency and a clinic is enrolled through the real CLI
// (tests/lib/pl_testnet); the same authority then issues E more
// certificates (default 10,000 in all) straight into the broker's certs/,
// C of them (default 5,000) with CurveZMQ key pairs the bench keeps. A real
// passerelle-broker runs under `prlimit --nofile` raised for them; one
// process of the bench holds C ZeroMQ DEALER sockets with those keys (a
// client generator: one context, two I/O threads), each says hello and
// waits for its welcome. Printed:
//  - broker RSS with 0 and C connected, and per connected node;
//  - broker CPU per second at idle with C connected: silent, and with the
//    pings C idle nodes send at the default interval (one per node every
//    160 s, spread evenly);
//  - the time from a broker restart until all C are admitted again (each
//    client resends its hello every 2 s until welcomed);
//  - routing throughput (agency -> broker -> clinic, 1 KiB sealed
//    envelopes, window 256, accepted -> delivered -> taken) with C
//    connected, and after the C have gone, in the same run.
// Usage: bench_connect [enrolled] [connected]     default 10000 5000
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/pl_cert.h"
#include "proto/pl_envelope.h"
#include "proto/pl_util.h"
#include "proto/pl_wire.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"

#define S_PING_S  160  // a node's default ping interval (pl_node)
#define S_ROUTE_N 3000 // envelopes routed per throughput pass
#define S_WINDOW  256  // unanswered envelopes in flight
#define S_PAYLOAD 1024 // bytes of each envelope's message

typedef struct {
    void *ctx;          // the generator's context
    void **sock;        // C DEALERs
    bool *welcomed;     // per socket
    uint8_t (*pk)[32];  // CurveZMQ keys of the C
    uint8_t (*sk)[32];  //
    zmq_pollitem_t *it; // one per socket
    long n;             // C
} s_gen_t;

static void
s_gen_open(s_gen_t *g, const pl_test_net_t *net, const uint8_t *server_pk)
{
    g->ctx = zmq_ctx_new();
    PL_CHECK(zmq_ctx_set(g->ctx, ZMQ_MAX_SOCKETS, (int) g->n + 64) == 0);
    PL_CHECK(zmq_ctx_set(g->ctx, ZMQ_IO_THREADS, 2) == 0);
    for (long i = 0; i < g->n; i++) {
        void *s = zmq_socket(g->ctx, ZMQ_DEALER);
        PL_CHECK(s != NULL);
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        // what a node sets (nodes/pl_node.c, s_dealer_setup): a connect
        // that gets no answer in 2 s is abandoned and retried after 0.1-2 s
        // (libzmq adds up to 0.1 s of jitter), rather than waiting for the
        // kernel's SYN retransmissions (1 s, 3 s, 7 s, 15 s ...) when a
        // crowd of reconnects overflowed the broker's listen backlog
        int connect_timeout = 2000, reconnect = 100, reconnect_max = 2000;
        int handshake = 5000;
        zmq_setsockopt(s, ZMQ_CONNECT_TIMEOUT, &connect_timeout,
                       sizeof connect_timeout);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &reconnect_max,
                       sizeof reconnect_max);
        zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, g->pk[i], 32);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, g->sk[i], 32);
        PL_CHECK(zmq_connect(s, net->endpoint) == 0);
        g->sock[i] = s;
        g->it[i] = (zmq_pollitem_t){.socket = s, .events = ZMQ_POLLIN};
    }
}

static void
s_gen_close(s_gen_t *g)
{
    for (long i = 0; i < g->n; i++)
        zmq_close(g->sock[i]);
    zmq_ctx_term(g->ctx);
}

// one Hello or Heartbeat packet
static void
s_packet(bool hello, pl_buf_t *out)
{
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__Hello h = PASSERELLE__V1__HELLO__INIT;
    Passerelle__V1__Heartbeat b = PASSERELLE__V1__HEARTBEAT__INIT;
    h.version = 1;
    h.time = b.time = pl_now();
    if (hello) {
        p.kind_case = PASSERELLE__V1__PACKET__KIND_HELLO;
        p.hello = &h;
    } else {
        p.kind_case = PASSERELLE__V1__PACKET__KIND_HEARTBEAT;
        p.heartbeat = &b;
    }
    PL_CHECK(pl_wire_encode(&p, out) == PL_OK);
}

// reads what is waiting on every socket (within timeout_ms); returns the
// welcomes seen
static long
s_gen_drain(s_gen_t *g, int timeout_ms)
{
    long welcomes = 0;
    if (zmq_poll(g->it, (int) g->n, timeout_ms) <= 0)
        return 0;
    for (long i = 0; i < g->n; i++) {
        if (!(g->it[i].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, g->sock[i], ZMQ_DONTWAIT) >= 0) {
            pl_packet_t *p = NULL;
            if (pl_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &p) == PL_OK
                && p->kind_case == PASSERELLE__V1__PACKET__KIND_WELCOME
                && !g->welcomed[i]) {
                g->welcomed[i] = true;
                welcomes++;
            }
            pl_wire_free(&p);
        }
        zmq_msg_close(&m);
    }
    return welcomes;
}

// every socket says hello until welcomed (resent every 2 s); seconds from
// t0 until all were, or -1 after 120 s
static double
s_gen_admit(s_gen_t *g, double t0)
{
    pl_buf_t hello = {0};
    s_packet(true, &hello);
    memset(g->welcomed, 0, (size_t) g->n * sizeof *g->welcomed);
    long got = 0;
    double last_send = -10;
    while (got < g->n) {
        double now = pl_bench_now();
        if (now - t0 > 120)
            return -1;
        if (now - last_send > 2.0) {
            for (long i = 0; i < g->n; i++)
                if (!g->welcomed[i])
                    zmq_send(g->sock[i], hello.data, hello.len, ZMQ_DONTWAIT);
            last_send = now;
        }
        got += s_gen_drain(g, 50);
    }
    pl_buf_free(&hello);
    return pl_bench_now() - t0;
}

// broker CPU per second over 'secs', the C idle: pinging at the default
// interval (one ping per node per S_PING_S) or silent
static double
s_gen_idle_cpu(s_gen_t *g, pid_t broker, int secs, bool ping)
{
    pl_buf_t hb = {0};
    s_packet(false, &hb);
    double per_s = (double) g->n / S_PING_S, sent = 0;
    long next = 0;
    double c0 = pl_bench_proc_cpu(broker), t0 = pl_bench_now(), now = t0;
    while ((now = pl_bench_now()) - t0 < secs) {
        for (; ping && sent < (now - t0) * per_s; sent += 1) {
            zmq_send(g->sock[next], hb.data, hb.len, ZMQ_DONTWAIT);
            next = (next + 1) % g->n;
        }
        s_gen_drain(g, 20);
    }
    pl_buf_free(&hb);
    return (pl_bench_proc_cpu(broker) - c0) / (now - t0);
}

// the id of a delivered envelope
static bool
s_delivered_id(const pl_packet_t *p, uint8_t id[PL_MSG_ID_BYTES])
{
    if (p->kind_case != PASSERELLE__V1__PACKET__KIND_ENVELOPE)
        return false;
    pl_envelope_t v;
    pl_header_t h;
    pl_envelope_view(p->envelope, &v);
    if (pl_header_decode(v.header, v.header_len, &h) != PL_OK)
        return false;
    memcpy(id, h.id, PL_MSG_ID_BYTES);
    return true;
}

// envelopes per second agency -> clinic, end to end (taken), 'n' pre-sealed
static double
s_route(const pl_test_net_t *net, pl_buf_t *env, int n)
{
    pl_rawclient_t *a = pl_rawclient_open(net->home[0], net->endpoint);
    pl_rawclient_t *b = pl_rawclient_open(net->home[1], net->endpoint);
    PL_CHECK(a && b && pl_rawclient_hello(a, 10000) == PL_OK
             && pl_rawclient_hello(b, 10000) == PL_OK);
    int sent = 0, acked = 0, taken = 0;
    double t0 = pl_bench_now();
    while (taken < n && pl_bench_now() - t0 < 120) {
        while (sent < n && sent - acked < S_WINDOW)
            pl_rawclient_send(a, env[sent].data, env[sent].len), sent++;
        bool idle = true;
        pl_packet_t *p = NULL;
        while (pl_rawclient_recv(a, &p, 0) == PL_OK) {
            acked += p->kind_case == PASSERELLE__V1__PACKET__KIND_ACCEPTED;
            pl_wire_free(&p);
            idle = false;
        }
        uint8_t id[PL_MSG_ID_BYTES];
        while (pl_rawclient_recv(b, &p, 0) == PL_OK) {
            if (s_delivered_id(p, id)) {
                pl_buf_t out = {0};
                PL_CHECK(pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN,
                                           id, &out)
                         == PL_OK);
                pl_rawclient_send(b, out.data, out.len);
                pl_buf_free(&out);
                taken++;
            }
            pl_wire_free(&p);
            idle = false;
        }
        if (idle)
            nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
    }
    double s = pl_bench_now() - t0;
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    return taken == n ? n / s : -1;
}

// n envelopes of S_PAYLOAD random bytes sealed agency -> clinic
static pl_buf_t *
s_seal(const pl_test_net_t *net, int n)
{
    pl_rawclient_t *a = pl_rawclient_open(net->home[0], net->endpoint);
    PL_CHECK(a != NULL);
    pl_buf_t *env = calloc((size_t) n, sizeof *env);
    PL_CHECK(env != NULL);
    uint8_t payload[S_PAYLOAD], id[PL_MSG_ID_BYTES];
    for (int i = 0; i < n; i++) {
        randombytes_buf(payload, sizeof payload);
        PL_CHECK(pl_rawclient_seal(a, net->home[1], NULL, payload,
                                   sizeof payload, 0, id, &env[i])
                 == 0);
    }
    pl_rawclient_close(&a);
    return env;
}

static void
s_free_env(pl_buf_t *env, int n)
{
    for (int i = 0; i < n; i++)
        pl_buf_free(&env[i]);
    free(env);
}

static double
s_route_fresh(const pl_test_net_t *net)
{
    pl_buf_t *env = s_seal(net, S_ROUTE_N);
    double r = s_route(net, env, S_ROUTE_N);
    s_free_env(env, S_ROUTE_N);
    return r;
}

// the broker under prlimit --nofile=L:L, listening
static void
s_broker_start(pl_test_net_t *net, long limit)
{
    char arg[64];
    snprintf(arg, sizeof arg, "--nofile=%ld:%ld", limit, limit);
    const char *const pre[] = {"/usr/bin/prlimit", arg, NULL};
    pl_testnet_spawn_broker(net, pre, NULL, NULL);
    PL_CHECK(pl_testnet_wait_broker(net, 120000));
}

static void
s_gen_alloc(s_gen_t *g, long c)
{
    g->n = c;
    g->sock = calloc((size_t) c, sizeof *g->sock);
    g->welcomed = calloc((size_t) c, sizeof *g->welcomed);
    g->pk = calloc((size_t) c, sizeof *g->pk);
    g->sk = calloc((size_t) c, sizeof *g->sk);
    g->it = calloc((size_t) c, sizeof *g->it);
    PL_CHECK(g->sock && g->welcomed && g->pk && g->sk && g->it);
}

// raises the open-files limit to 'want', or as far as the hard limit
// allows (without CAP_SYS_RESOURCE); returns the limit in force
static long
s_raise_own_limit(long want)
{
    struct rlimit rl = {(rlim_t) want, (rlim_t) want};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        PL_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        rl.rlim_cur = rl.rlim_max;
        PL_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
        fprintf(stderr, "bench_connect: open-files limit %ld (hard), not %ld\n",
                (long) rl.rlim_max, want);
    }
    return (long) rl.rlim_cur;
}

int
main(int argc, char **argv)
{
    long e = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long c = argc > 2 ? strtol(argv[2], NULL, 10) : 5000;
    if (e < 3 || c < 1 || c > e - 2 || pl_crypto_init() != PL_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    // the generator: a TCP socket and a mailbox per client; the broker's
    // limit (given by prlimit, so within this process's hard limit)
    long limit = s_raise_own_limit(2 * e + 4096 > 3 * c + 4096 ? 2 * e + 4096
                                                               : 3 * c + 4096);
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "benchconn", specs, 2);
    s_gen_t g = {0};
    s_gen_alloc(&g, c);
    double t0 = pl_bench_now();
    pl_testnet_issue(&net, e - 2, g.n, g.pk, g.sk);
    printf("bench_connect: %ld certificates enrolled (%ld issued in %.1f s), "
           "%ld CURVE clients in one process\n",
           e, e - 2, pl_bench_now() - t0, c);
    s_broker_start(&net, limit);
    double r0 = s_route_fresh(&net); // before the crowd: the same path
    sleep(2);
    long rss0 = pl_bench_proc_kib(net.broker_pid,
                                  "VmRSS:"); // with the store's pages mapped
    uint8_t spk[32];
    pl_testnet_broker_key(&net, spk);
    t0 = pl_bench_now();
    s_gen_open(&g, &net, spk);
    double admit = s_gen_admit(&g, t0);
    sleep(3);
    long rss1 = pl_bench_proc_kib(net.broker_pid, "VmRSS:");
    printf("connect: %ld clients admitted (hello -> welcome) in %.2f s\n", c,
           admit);
    printf("broker RSS: %.1f MiB with 0 connected, %.1f MiB with %ld: "
           "%.1f KiB per connected node\n",
           rss0 / 1024.0, rss1 / 1024.0, c, (double) (rss1 - rss0) / c);
    double silent = s_gen_idle_cpu(&g, net.broker_pid, 10, false);
    double ping = s_gen_idle_cpu(&g, net.broker_pid, 20, true);
    printf("broker CPU at idle with %ld connected: %.2f %% of a core silent, "
           "%.2f %% with their pings (%.1f pings/s: one per node per %d s)\n",
           c, 100 * silent, 100 * ping, (double) c / S_PING_S, S_PING_S);
    double r1 = s_route_fresh(&net);
    printf("routing agency -> clinic, 1 KiB, window %d, end to end: "
           "%.0f/s with %ld connected, %.0f/s with none (ratio %.2f)\n",
           S_WINDOW, r1, c, r0, r0 > 0 ? r1 / r0 : 0);
    pl_test_net_stop_broker(&net, false);
    t0 = pl_bench_now();
    s_broker_start(&net, limit);
    double listen = pl_bench_now() - t0;
    double again = s_gen_admit(&g, t0);
    printf("restart: broker listening after %.2f s, all %ld admitted again "
           "after %.2f s (clients resend hello every 2 s)\n",
           listen, c, again);
    printf("fd_limit_low warnings at %ld descriptors: %ld\n", limit,
           pl_testnet_log_count(&net, "fd_limit_low"));
    s_gen_close(&g);
    pl_test_net_destroy(&net);
    return 0;
}
