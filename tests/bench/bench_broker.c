// bench_broker - routing throughput of the real passerelle-broker on
// loopback, next to raw ZeroMQ forwarding measured in the same run.
// Layer: tests (run by hand: `make bench`; prints figures, asserts none).
//
// Figures, for envelopes carrying a 1 KiB payload (a 4 KiB padding bucket,
// so about 4.3 KB on the wire):
//  (a) Passerelle: a sender (bare CURVE DEALER, tests/lib/pl_rawclient)
//      sends N pre-sealed envelopes with a bounded window of unanswered
//      ones; the broker commits each to its LMDB queue and answers
//      `accepted`. Measured three ways: accepted only (recipient offline),
//      the drain of that queue to the recipient (delivered -> taken), and
//      end to end with both online (accepted -> delivered -> taken).
//  (b) raw ZeroMQ: an in-process ROUTER (own thread) with CURVE forwards the
//      same bytes from DEALER A to DEALER B and a taken-sized ack back, the
//      same pattern and window, without LMDB and without validation.
//  (c) fsyncs per envelope: the end-to-end pass again with the broker
//      under `strace -f --seccomp-bpf -c -e trace=fsync,fdatasync,msync`,
//      minus a baseline run that routes nothing.
//  (d) --verify-signatures: (a) again with the broker verifying each outer
//      signature; the per-envelope difference in µs.
// Every broker run starts on a fresh store, so the same sealed bytes are
// routed in every pass. Usage: bench_broker [N] (default 5000); the
// sender's window is BENCH_WINDOW (default 256); BENCH_BROKER_ARGS adds
// broker flags (space-separated).
// bench_broker --e2e [--rounds R] [N]: end to end alone, Passerelle and
// the bare ROUTER alternating for R rounds (default 5), with p50/p99
// latency (send -> arrival at the recipient) and the broker's CPU per
// envelope (main thread, ZeroMQ I/O thread), and a RESULT line for
// tests/bench/bench_rabbitmq.sh.
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "tests/bench/pl_machine_cpu.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"

#define S_PAYLOAD     1024  // bytes of payload per envelope
#define S_DEADLINE_MS 60000 // any one phase longer than this: give up
#define S_VERIFY_REFS 2000  // in-process verifications for the reference
#define S_REPS        5     // rounds; the table shows medians
#define S_REPS_TEXT   "5"
#define S_ROUNDS_MAX  50 // --e2e rounds at most

// ------------------------------------------------------------ helpers

static double
s_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_die(const char *what)
{
    fprintf(stderr, "bench_broker: %s\n", what);
    exit(1);
}

// The sealed envelopes of a run and their ids (sorted copy for lookups).
typedef struct {
    pl_buf_t *pkt;             // encoded Packets
    uint8_t (*id)[16];         // id of pkt[i]
    uint8_t (*sorted)[16];     // ids sorted, for s_index
    int *order;                // order[k]: index in pkt of sorted[k]
    _Atomic uint64_t *sent_ns; // when pkt[i] was last sent (latency)
    int n;                     // envelopes
} s_batch_t;

static uint64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

// Latencies of one pass (send -> arrival at the recipient), microseconds.
typedef struct {
    uint32_t *us;
    int n, cap;
} s_lat_t;

static void
s_lat_add(s_lat_t *l, const s_batch_t *b, int i)
{
    uint64_t sent = atomic_load_explicit(&b->sent_ns[i], memory_order_relaxed);
    if (!l->us || l->n >= l->cap || !sent)
        return;
    uint64_t d = (s_now_ns() - sent) / 1000;
    l->us[l->n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t) d;
}

// an id and its index in the batch (sorted by id; memcmp on the first 16)
typedef struct {
    uint8_t id[16];
    int i;
} s_idx_t;

static int
s_cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

// index of 'id' in the sorted ids, or -1
static int
s_index(const s_batch_t *b, const uint8_t *id)
{
    const uint8_t(*hit)[16] =
        bsearch(id, b->sorted, (size_t) b->n, 16, s_cmp_id);
    return hit ? b->order[hit - b->sorted] : -1;
}

// ------------------------------------------------------------ Passerelle

// What one broker configuration gave.
typedef struct {
    double accepted_s; // accepted-only phase, seconds
    double drain_s;    // queue drained to the recipient
    double e2e_s;      // both online
    int rejected;      // rejected replies seen (should be 0)
    int duplicates;    // envelopes the recipient got twice
    double cpu_us[2];  // e2e only: broker CPU per envelope, main / I/O
    double machine_us; // e2e only: the machine's busy CPU per envelope
    double busy;       // ... and its busy share of all CPUs
} s_pl_result_t;

// Sender side: send b->pkt[from..from+n) keeping at most 'window'
// unanswered; returns when all are answered (accepted or rejected).
typedef struct {
    pl_rawclient_t *c;
    const s_batch_t *b;
    int from, n, window;
    int rejected;
    double done; // s_now_s() at the end
    int failed;  // deadline passed
} s_sender_t;

static void *
s_sender_run(void *arg)
{
    s_sender_t *s = arg;
    int sent = 0, answered = 0;
    double deadline = s_now_s() + S_DEADLINE_MS / 1000.0;
    while (answered < s->n) {
        while (sent < s->n && sent - answered < s->window) {
            const pl_buf_t *p = &s->b->pkt[s->from + sent];
            atomic_store_explicit(&s->b->sent_ns[s->from + sent], s_now_ns(),
                                  memory_order_relaxed);
            if (pl_rawclient_send(s->c, p->data, p->len) != 0) {
                s->failed = 1;
                return NULL;
            }
            sent++;
        }
        pl_packet_t *pkt = NULL;
        int wait = 100; // block for the first reply, then drain
        while (pl_rawclient_recv(s->c, &pkt, wait) == PL_OK) {
            if (pkt->kind_case == PASSERELLE__V1__PACKET__KIND_ACCEPTED)
                answered++;
            else if (pkt->kind_case == PASSERELLE__V1__PACKET__KIND_REJECTED) {
                answered++;
                s->rejected++;
            }
            pl_wire_free(&pkt);
            wait = 0;
        }
        if (s_now_s() > deadline) {
            s->failed = 1;
            return NULL;
        }
    }
    s->done = s_now_s();
    return NULL;
}

// Recipient side: takes envelopes of the batch until 'n' distinct ones
// arrived; answers each with taken.
typedef struct {
    pl_rawclient_t *c;
    const s_batch_t *b;
    int n;
    bool hello;  // say hello first (starts the delivery)
    s_lat_t lat; // arrival latencies (us NULL: not kept)
    int duplicates;
    double done;
    int failed;
} s_taker_t;

static void *
s_taker_run(void *arg)
{
    s_taker_t *t = arg;
    uint8_t *seen = calloc((size_t) t->b->n, 1);
    if (!seen) {
        t->failed = 1;
        return NULL;
    }
    if (t->hello && pl_rawclient_hello(t->c, 10000) != PL_OK) {
        t->failed = 1;
        free(seen);
        return NULL;
    }
    int got = 0;
    double deadline = s_now_s() + S_DEADLINE_MS / 1000.0;
    while (got < t->n) {
        // lean (third round): an envelope is read in place, as the broker
        // reads it, not unpacked with a copy of its 4 KB body
        pl_packet_t *pkt = NULL;
        pl_envelope_t v;
        if (pl_rawclient_recv_peek(t->c, &v, &pkt, 100) != PL_OK) {
            if (s_now_s() > deadline) {
                t->failed = 1;
                break;
            }
            continue;
        }
        if (pkt && pkt->kind_case == PASSERELLE__V1__PACKET__KIND_ENVELOPE)
            pl_envelope_view(pkt->envelope, &v);
        if (v.header) {
            pl_header_t h;
            if (pl_header_decode(v.header, v.header_len, &h) == PL_OK) {
                pl_buf_t out = {0};
                if (pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, h.id,
                                      &out)
                    == PL_OK)
                    pl_rawclient_send(t->c, out.data, out.len);
                pl_buf_free(&out);
                int i = s_index(t->b, h.id);
                if (i >= 0 && !seen[i]) {
                    seen[i] = 1;
                    got++;
                    s_lat_add(&t->lat, t->b, i);
                } else {
                    t->duplicates++;
                }
            }
        }
        pl_wire_free(&pkt);
    }
    t->done = s_now_s();
    free(seen);
    return NULL;
}

static bool
s_port_open(void *arg)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd,
             "bash -c '(exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null'",
             *(int *) arg);
    return pl_test_sh(NULL, "%s", cmd) == 0;
}

// The child of 'parent' (the broker started by strace), or 0.
static pid_t
s_child_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    pid_t found = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && !found) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        const char *rp = strrchr(buf, ')'); // comm may hold spaces
        int ppid = 0;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2
            && ppid == parent)
            found = (pid_t) strtol(e->d_name, NULL, 10);
    }
    if (d)
        closedir(d);
    return found;
}

// A broker run: fresh store, extra flag (may be NULL), optionally under
// strace writing its summary to 'strace_out'.
typedef struct {
    pid_t pid;    // the process we spawned (strace or the broker)
    pid_t broker; // the broker itself
} s_broker_t;

static s_broker_t
s_broker_start(pl_test_net_t *net, const char *flag, const char *strace_out,
               const char *tag)
{
    PL_CHECK(pl_test_sh(NULL, "rm -rf '%s/store'", net->broker) == 0);
    char log[700], bin[1024];
    snprintf(log, sizeof log, "%s/broker-%s.log", net->root, tag);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("passerelle-broker"));
    const char *argv[40];
    int k = 0;
    if (strace_out) {
        argv[k++] = "/usr/bin/strace";
        argv[k++] = "-f";
        argv[k++] = "--seccomp-bpf";
        argv[k++] = "-c";
        argv[k++] = "-e";
        argv[k++] = "trace=fsync,fdatasync,msync";
        argv[k++] = "-o";
        argv[k++] = strace_out;
    }
    argv[k++] = bin;
    argv[k++] = "--home";
    argv[k++] = net->broker;
    argv[k++] = "--listen";
    argv[k++] = net->endpoint;
    argv[k++] = "--log-level";
    argv[k++] = "warn";
    if (flag)
        argv[k++] = flag;
    // BENCH_BROKER_ARGS: more broker flags, separated by spaces
    static char extra[256];
    const char *env = getenv("BENCH_BROKER_ARGS");
    snprintf(extra, sizeof extra, "%s", env ? env : "");
    for (char *tok = strtok(extra, " "); tok && k < 39; tok = strtok(NULL, " "))
        argv[k++] = tok;
    argv[k] = NULL;
    s_broker_t b = {0};
    b.pid = pl_test_spawn(argv, log, NULL);
    if (!pl_test_wait(s_port_open, &net->port, 15000))
        s_die("the broker did not start listening (see its log)");
    b.broker = strace_out ? s_child_of(b.pid) : b.pid;
    if (!b.broker)
        s_die("cannot find the broker under strace");
    return b;
}

static void
s_broker_stop(s_broker_t *b)
{
    if (b->broker != b->pid) {
        kill(b->broker, SIGTERM); // strace exits when its tracee does
        pl_test_stop(b->pid, 0, 15000);
    } else {
        pl_test_stop(b->pid, SIGTERM, 15000);
    }
    memset(b, 0, sizeof *b);
}

static void
s_join2(pthread_t a, pthread_t b)
{
    pthread_join(a, NULL);
    pthread_join(b, NULL);
}

// CPU time (ns) the threads of 'pid' have run: [0] its main thread, [1]
// the others (ZeroMQ's I/O threads), from /proc/PID/task/*/schedstat.
static void
s_cpu_ns(pid_t pid, uint64_t out[2])
{
    out[0] = out[1] = 0;
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int) pid);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1)
            out[strtol(e->d_name, NULL, 10) == pid ? 0 : 1] += ns;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
}

// Both online: sender and taker threads on b->pkt[from..from+n).
static double
s_e2e(pl_rawclient_t *a, pl_rawclient_t *c, const s_batch_t *b, int from, int n,
      int window, s_lat_t *lat, s_pl_result_t *r)
{
    s_sender_t s = {.c = a, .b = b, .from = from, .n = n, .window = window};
    s_taker_t t = {.c = c, .b = b, .n = n, .lat = *lat};
    pthread_t ts, tt;
    double t0 = s_now_s();
    pthread_create(&tt, NULL, s_taker_run, &t);
    pthread_create(&ts, NULL, s_sender_run, &s);
    s_join2(ts, tt);
    if (s.failed || t.failed)
        s_die("end-to-end phase did not finish");
    r->rejected += s.rejected;
    r->duplicates += t.duplicates;
    *lat = t.lat;
    return (s.done > t.done ? s.done : t.done) - t0;
}

// One full configuration: accepted only, drain, end to end ('e2e_only':
// end to end alone, on the first n envelopes, both online from the start).
static s_pl_result_t
s_passerelle(pl_test_net_t *net, const s_batch_t *b, int n, int window,
             const char *flag, const char *tag, bool e2e_only, s_lat_t *lat)
{
    s_pl_result_t r = {0};
    s_broker_t br = s_broker_start(net, flag, NULL, tag);
    pl_rawclient_t *a = pl_rawclient_open(net->home[0], net->endpoint);
    pl_rawclient_t *c = pl_rawclient_open(net->home[1], net->endpoint);
    if (!a || !c || pl_rawclient_hello(a, 10000) != PL_OK)
        s_die("sender cannot connect");
    if (e2e_only) {
        if (pl_rawclient_hello(c, 10000) != PL_OK)
            s_die("recipient cannot connect");
        uint64_t c0[2], c1[2];
        pl_machine_cpu_t m0, m1;
        s_cpu_ns(br.broker, c0);
        pl_machine_cpu(&m0);
        r.e2e_s = s_e2e(a, c, b, 0, n, window, lat, &r);
        pl_machine_cpu(&m1);
        s_cpu_ns(br.broker, c1);
        r.machine_us = pl_machine_cpu_us(&m0, &m1, n, &r.busy);
        for (int i = 0; i < 2; i++)
            r.cpu_us[i] = (double) (c1[i] - c0[i]) / 1e3 / n;
        pl_rawclient_close(&a);
        pl_rawclient_close(&c);
        s_broker_stop(&br);
        return r;
    }

    // accepted only: the recipient has never connected
    s_sender_t s = {.c = a, .b = b, .n = n, .window = window};
    double t0 = s_now_s();
    s_sender_run(&s);
    if (s.failed)
        s_die("accepted-only phase did not finish");
    r.accepted_s = s.done - t0;
    r.rejected += s.rejected;

    // the queue drained: the recipient connects and takes everything
    s_taker_t t = {.c = c, .b = b, .n = n, .hello = true};
    t0 = s_now_s();
    s_taker_run(&t);
    if (t.failed)
        s_die("drain phase did not finish");
    r.drain_s = t.done - t0;
    r.duplicates += t.duplicates;

    // end to end, both online, the other half of the batch
    r.e2e_s = s_e2e(a, c, b, n, n, window, lat, &r);

    pl_rawclient_close(&a);
    pl_rawclient_close(&c);
    s_broker_stop(&br);
    return r;
}

// ------------------------------------------------------------ strace

// Sums the "calls" column of the fsync-family rows of an strace -c file.
static bool
s_strace_counts(const char *path, long *fsync_n, long *fdatasync_n,
                long *msync_n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    *fsync_n = *fdatasync_n = *msync_n = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *tok[8];
        int k = 0;
        for (char *p = strtok(line, " \t\n"); p && k < 8;
             p = strtok(NULL, " \t\n"))
            tok[k++] = p;
        if (k < 5)
            continue;
        long calls = strtol(tok[3], NULL, 10);
        const char *name = tok[k - 1];
        if (strcmp(name, "fsync") == 0)
            *fsync_n = calls;
        else if (strcmp(name, "fdatasync") == 0)
            *fdatasync_n = calls;
        else if (strcmp(name, "msync") == 0)
            *msync_n = calls;
    }
    fclose(f);
    return true;
}

// Runs the end-to-end pattern (n > 0) or nothing (n == 0) under strace.
// Returns false if strace could not run.
static bool
s_strace_pass(pl_test_net_t *net, const s_batch_t *b, int n, int window,
              long counts[3], double *e2e_s)
{
    char out[700];
    snprintf(out, sizeof out, "%s/strace-%d.txt", net->root, n);
    s_broker_t br = s_broker_start(net, NULL, out, n ? "strace" : "strace0");
    pl_rawclient_t *a = pl_rawclient_open(net->home[0], net->endpoint);
    pl_rawclient_t *c = pl_rawclient_open(net->home[1], net->endpoint);
    if (!a || !c || pl_rawclient_hello(a, 10000) != PL_OK
        || pl_rawclient_hello(c, 10000) != PL_OK)
        s_die("clients cannot connect to the broker under strace");
    if (n > 0) {
        s_lat_t none = {0};
        s_pl_result_t r = {0};
        *e2e_s = s_e2e(a, c, b, 0, n, window, &none, &r);
    }
    pl_rawclient_close(&a);
    pl_rawclient_close(&c);
    s_broker_stop(&br);
    return s_strace_counts(out, &counts[0], &counts[1], &counts[2]);
}

// Does the broker hold a data.mdb descriptor opened with O_DSYNC (LMDB's
// meta-page fd: each commit also makes one synchronous write)? -1 unknown.
static int
s_meta_dsync(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int) pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char link[600], target[1024], info[600], buf[512];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = 0;
        if (!strstr(target, "data.mdb"))
            continue;
        snprintf(info, sizeof info, "/proc/%d/fdinfo/%s", (int) pid, e->d_name);
        FILE *f = fopen(info, "r");
        if (!f)
            continue;
        while (fgets(buf, sizeof buf, f)) {
            unsigned long flags;
            if (sscanf(buf, "flags: %lo", &flags) == 1 && (flags & 010000))
                found = 1; // O_DSYNC
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

// ------------------------------------------------------------ raw ZeroMQ

typedef struct {
    void *ctx;
    char endpoint[64];
    char server_pk[41], server_sk[41];
    atomic_int stop;
    atomic_int ready; // bound
    long forwarded;
} s_router_t;

static void *
s_router_run(void *arg)
{
    s_router_t *r = arg;
    void *sock = zmq_socket(r->ctx, ZMQ_ROUTER);
    int one = 1, hwm = 10000;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, r->server_sk, 40);
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(sock, r->endpoint) != 0)
        s_die("raw router cannot bind");
    atomic_store(&r->ready, 1);
    uint8_t rid_a[64], rid_b[64];
    size_t len_a = 0, len_b = 0;
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    while (!atomic_load(&r->stop)) {
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        for (;;) {
            zmq_msg_t rid, body;
            zmq_msg_init(&rid);
            if (zmq_msg_recv(&rid, sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid);
                break;
            }
            zmq_msg_init(&body);
            zmq_msg_recv(&body, sock, 0);
            const uint8_t *id = zmq_msg_data(&rid);
            size_t idl = zmq_msg_size(&rid);
            const char *data = zmq_msg_data(&body);
            if (zmq_msg_size(&body) == 7 && memcmp(data, "HELLO-", 6) == 0
                && idl <= 64) {
                // registration: remember who is A and who is B
                if (data[6] == 'A') {
                    memcpy(rid_a, id, idl);
                    len_a = idl;
                } else {
                    memcpy(rid_b, id, idl);
                    len_b = idl;
                }
                zmq_send(sock, id, idl, ZMQ_SNDMORE);
                zmq_send(sock, "OK", 2, 0);
                zmq_msg_close(&body);
            } else {
                // forward A -> B and B -> A without copying the body
                bool from_a = idl == len_a && memcmp(id, rid_a, idl) == 0;
                zmq_send(sock, from_a ? rid_b : rid_a, from_a ? len_b : len_a,
                         ZMQ_SNDMORE);
                if (zmq_msg_send(&body, sock, 0) < 0)
                    zmq_msg_close(&body);
                r->forwarded++;
            }
            zmq_msg_close(&rid);
        }
    }
    zmq_close(sock);
    return NULL;
}

typedef struct {
    void *ctx, *sock;
} s_dealer_t;

static s_dealer_t
s_dealer(const s_router_t *r, char who)
{
    s_dealer_t d;
    char pk[41], sk[41];
    if (zmq_curve_keypair(pk, sk) != 0)
        s_die("zmq_curve_keypair (libzmq without CURVE?)");
    d.ctx = zmq_ctx_new();
    d.sock = zmq_socket(d.ctx, ZMQ_DEALER);
    int zero = 0, hwm = 100000;
    zmq_setsockopt(d.sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d.sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d.sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d.sock, ZMQ_CURVE_SERVERKEY, r->server_pk, 40);
    zmq_setsockopt(d.sock, ZMQ_CURVE_PUBLICKEY, pk, 40);
    zmq_setsockopt(d.sock, ZMQ_CURVE_SECRETKEY, sk, 40);
    if (zmq_connect(d.sock, r->endpoint) != 0)
        s_die("raw dealer cannot connect");
    char hello[8] = "HELLO-A";
    hello[6] = who;
    zmq_send(d.sock, hello, 7, 0);
    char ok[4];
    int rcv = 10000;
    zmq_setsockopt(d.sock, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    if (zmq_recv(d.sock, ok, sizeof ok, 0) != 2)
        s_die("raw dealer was not registered");
    return d;
}

static void
s_dealer_close(s_dealer_t *d)
{
    zmq_close(d->sock);
    zmq_ctx_term(d->ctx);
}

typedef struct {
    s_dealer_t d;
    const s_batch_t *b;
    int n, window;
    const pl_buf_t *ack; // B's answer (a taken packet)
    s_lat_t lat;         // B: arrival latencies (frames keep their order)
    double done;
    int failed;
} s_raw_side_t;

static void *
s_raw_a(void *arg)
{
    s_raw_side_t *s = arg;
    int sent = 0, acked = 0;
    char buf[256];
    double deadline = s_now_s() + S_DEADLINE_MS / 1000.0;
    zmq_pollitem_t it = {s->d.sock, 0, ZMQ_POLLIN, 0};
    while (acked < s->n) {
        while (sent < s->n && sent - acked < s->window) {
            const pl_buf_t *p = &s->b->pkt[sent];
            atomic_store_explicit(&s->b->sent_ns[sent], s_now_ns(),
                                  memory_order_relaxed);
            zmq_send(s->d.sock, p->data, p->len, 0);
            sent++;
        }
        if (zmq_poll(&it, 1, 100) > 0)
            while (zmq_recv(s->d.sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
                acked++;
        if (s_now_s() > deadline) {
            s->failed = 1;
            return NULL;
        }
    }
    s->done = s_now_s();
    return NULL;
}

static void *
s_raw_b(void *arg)
{
    s_raw_side_t *s = arg;
    int got = 0;
    double deadline = s_now_s() + S_DEADLINE_MS / 1000.0;
    zmq_pollitem_t it = {s->d.sock, 0, ZMQ_POLLIN, 0};
    while (got < s->n) {
        if (zmq_poll(&it, 1, 100) > 0) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, s->d.sock, ZMQ_DONTWAIT) >= 0) {
                if (got < s->b->n)
                    s_lat_add(&s->lat, s->b, got);
                got++;
                zmq_send(s->d.sock, s->ack->data, s->ack->len, 0);
            }
            zmq_msg_close(&m);
        }
        if (s_now_s() > deadline) {
            s->failed = 1;
            return NULL;
        }
    }
    s->done = s_now_s();
    return NULL;
}

static double
s_raw(const s_batch_t *b, int n, int window, s_lat_t *lat, double *machine_us,
      double *busy)
{
    s_router_t r;
    memset(&r, 0, sizeof r);
    r.ctx = zmq_ctx_new();
    snprintf(r.endpoint, sizeof r.endpoint, "tcp://127.0.0.1:%d",
             pl_test_free_port());
    if (zmq_curve_keypair(r.server_pk, r.server_sk) != 0)
        s_die("zmq_curve_keypair");
    pthread_t rt;
    pthread_create(&rt, NULL, s_router_run, &r);
    while (!atomic_load(&r.ready))
        usleep(1000);
    pl_buf_t ack = {0};
    uint8_t id[16] = {0};
    if (pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, id, &ack)
        != PL_OK)
        s_die("cannot encode the ack");
    s_raw_side_t sa = {.d = s_dealer(&r, 'A'), b, n, window, &ack};
    s_raw_side_t sb = {.d = s_dealer(&r, 'B'), b, n, window, &ack, *lat};
    pthread_t ta, tb;
    pl_machine_cpu_t m0, m1;
    pl_machine_cpu(&m0);
    double t0 = s_now_s();
    pthread_create(&tb, NULL, s_raw_b, &sb);
    pthread_create(&ta, NULL, s_raw_a, &sa);
    s_join2(ta, tb);
    pl_machine_cpu(&m1);
    *machine_us = pl_machine_cpu_us(&m0, &m1, n, busy);
    if (sa.failed || sb.failed)
        s_die("raw ZeroMQ pass did not finish");
    double el = (sa.done > sb.done ? sa.done : sb.done) - t0;
    *lat = sb.lat;
    s_dealer_close(&sa.d);
    s_dealer_close(&sb.d);
    atomic_store(&r.stop, 1);
    pthread_join(rt, NULL);
    zmq_ctx_term(r.ctx);
    pl_buf_free(&ack);
    return el;
}

// ------------------------------------------------------------ main

// In-process cost of one outer-signature check (what the broker adds).
static double
s_verify_us(pl_rawclient_t *sealer, const s_batch_t *b)
{
    pl_packet_t *pkt = NULL;
    if (pl_wire_decode(b->pkt[0].data, b->pkt[0].len, &pkt) != PL_OK)
        s_die("cannot decode a sealed envelope");
    pl_envelope_t v;
    pl_envelope_view(pkt->envelope, &v);
    const uint8_t *pk = pl_rawclient_keys(sealer)->pub.sign;
    double t0 = s_now_s();
    int bad = 0;
    for (int i = 0; i < S_VERIFY_REFS; i++)
        bad += pl_envelope_verify(&v, pk) != PL_OK;
    double us = (s_now_s() - t0) * 1e6 / S_VERIFY_REFS;
    pl_wire_free(&pkt);
    if (bad)
        s_die("the reference verification failed");
    return us;
}

static double
s_rate(int n, double s)
{
    return s > 0 ? n / s : 0;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

// Median, minimum and maximum rate of S_REPS timings of n envelopes.
typedef struct {
    double med, min, max;
} s_stat_t;

static s_stat_t
s_stat(int n, const double *seconds)
{
    double r[S_REPS];
    for (int i = 0; i < S_REPS; i++)
        r[i] = s_rate(n, seconds[i]);
    qsort(r, S_REPS, sizeof r[0], s_cmp_double);
    return (s_stat_t){r[S_REPS / 2], r[0], r[S_REPS - 1]};
}

// One table row: median env/s, µs per envelope, range.
static void
s_row(const char *label, s_stat_t st)
{
    printf("%-46s %9.0f %9.1f   %6.0f-%-6.0f\n", label, st.med, 1e6 / st.med,
           st.min, st.max);
}

// The q-quantile (0..1) of l's samples in ms (sorts them).
static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static double
s_pct_ms(s_lat_t *l, double q)
{
    if (l->n == 0)
        return 0;
    qsort(l->us, (size_t) l->n, sizeof *l->us, s_cmp_u32);
    int k = (int) (q * (l->n - 1) + 0.5);
    return l->us[k] / 1000.0;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof *v, s_cmp_double);
    return v[n / 2];
}

// --e2e: end to end only, passerelle and the bare ROUTER alternating for
// 'rounds' rounds, with p50/p99 latency (send -> arrival at the
// recipient) at saturation; the last line is for scripts (RESULT ...).
static void
s_e2e_mode(pl_test_net_t *net, const s_batch_t *b, int n, int window,
           int rounds)
{
    double pr[S_ROUNDS_MAX], rr[S_ROUNDS_MAX], p50[S_ROUNDS_MAX],
        p99[S_ROUNDS_MAX], r50[S_ROUNDS_MAX], r99[S_ROUNDS_MAX],
        cm[S_ROUNDS_MAX], ci[S_ROUNDS_MAX], pm_us[S_ROUNDS_MAX],
        rm_us[S_ROUNDS_MAX], pbusy[S_ROUNDS_MAX], rbusy[S_ROUNDS_MAX];
    s_lat_t lat = {.us = calloc((size_t) n, sizeof *lat.us), .cap = n};
    if (!lat.us)
        s_die("out of memory");
    int bad = 0;
    for (int i = 0; i < rounds; i++) {
        lat.n = 0;
        s_pl_result_t p =
            s_passerelle(net, b, n, window, NULL, "e2e", true, &lat);
        pr[i] = s_rate(n, p.e2e_s);
        p50[i] = s_pct_ms(&lat, 0.50);
        p99[i] = s_pct_ms(&lat, 0.99);
        bad += p.rejected + p.duplicates;
        cm[i] = p.cpu_us[0];
        ci[i] = p.cpu_us[1];
        pm_us[i] = p.machine_us;
        pbusy[i] = p.busy;
        lat.n = 0;
        rr[i] = s_rate(n, s_raw(b, n, window, &lat, &rm_us[i], &rbusy[i]));
        r50[i] = s_pct_ms(&lat, 0.50);
        r99[i] = s_pct_ms(&lat, 0.99);
        printf("round %d: passerelle %7.0f env/s (p50 %6.2f ms, p99 %6.2f ms; "
               "broker CPU %.1f + %.1f us/env; machine %.1f us/env, %.0f %% "
               "busy)   bare ROUTER %7.0f msg/s (p50 %6.2f ms, p99 %6.2f ms; "
               "machine %.1f us/msg, %.0f %% busy)\n",
               i + 1, pr[i], p50[i], p99[i], cm[i], ci[i], pm_us[i],
               100 * pbusy[i], rr[i], r50[i], r99[i], rm_us[i], 100 * rbusy[i]);
        fflush(stdout);
    }
    free(lat.us);
    double pmin = pr[0], pmax = pr[0];
    for (int i = 1; i < rounds; i++) {
        pmin = pr[i] < pmin ? pr[i] : pmin;
        pmax = pr[i] > pmax ? pr[i] : pmax;
    }
    double pm = s_median(pr, rounds), rm = s_median(rr, rounds);
    printf("median: passerelle %.0f env/s (range %.0f-%.0f), bare ROUTER %.0f "
           "msg/s, ratio %.2f\n",
           pm, pmin, pmax, rm, pm / rm);
    if (bad)
        printf("NOTE: %d rejected or duplicate envelopes\n", bad);
    printf("RESULT passerelle=%.0f passerelle_min=%.0f passerelle_max=%.0f "
           "p50_ms=%.2f p99_ms=%.2f raw=%.0f raw_p50_ms=%.2f "
           "raw_p99_ms=%.2f cpu_main_us=%.1f cpu_io_us=%.1f "
           "passerelle_machine_us=%.1f passerelle_busy=%.3f "
           "raw_machine_us=%.1f raw_busy=%.3f\n",
           pm, pmin, pmax, s_median(p50, rounds), s_median(p99, rounds), rm,
           s_median(r50, rounds), s_median(r99, rounds), s_median(cm, rounds),
           s_median(ci, rounds), s_median(pm_us, rounds),
           s_median(pbusy, rounds), s_median(rm_us, rounds),
           s_median(rbusy, rounds));
}

// Seals 'count' envelopes from node 0 to node 1 into b; the cost of one
// seal and of one outer verification in *seal_us, *verify_us.
static void
s_seal_batch(pl_test_net_t *net, int count, s_batch_t *b, double *seal_us,
             double *verify_us)
{
    b->n = count;
    b->pkt = calloc((size_t) b->n, sizeof *b->pkt);
    b->id = calloc((size_t) b->n, sizeof *b->id);
    b->sorted = calloc((size_t) b->n, sizeof *b->sorted);
    b->order = calloc((size_t) b->n, sizeof *b->order);
    b->sent_ns = calloc((size_t) b->n, sizeof *b->sent_ns);
    if (!b->pkt || !b->id || !b->sorted || !b->order || !b->sent_ns)
        s_die("out of memory");
    pl_rawclient_t *sealer = pl_rawclient_open(net->home[0], net->endpoint);
    if (!sealer)
        s_die("cannot load the sender's keys");
    uint8_t payload[S_PAYLOAD];
    randombytes_buf(payload, sizeof payload);
    double t0 = s_now_s();
    for (int i = 0; i < b->n; i++)
        if (pl_rawclient_seal(sealer, net->home[1], NULL, payload,
                              sizeof payload, 0, b->id[i], &b->pkt[i])
            != PL_OK)
            s_die("seal failed");
    *seal_us = (s_now_s() - t0) * 1e6 / b->n;
    // sorted ids with their batch index, for s_index
    s_idx_t *tmp = calloc((size_t) b->n, sizeof *tmp);
    if (!tmp)
        s_die("out of memory");
    for (int i = 0; i < b->n; i++) {
        memcpy(tmp[i].id, b->id[i], 16);
        tmp[i].i = i;
    }
    qsort(tmp, (size_t) b->n, sizeof *tmp, s_cmp_id);
    for (int i = 0; i < b->n; i++) {
        memcpy(b->sorted[i], tmp[i].id, 16);
        b->order[i] = tmp[i].i;
    }
    free(tmp);
    *verify_us = s_verify_us(sealer, b);
    pl_rawclient_close(&sealer);
}

static void
s_batch_free(s_batch_t *b)
{
    for (int i = 0; i < b->n; i++)
        pl_buf_free(&b->pkt[i]);
    free(b->pkt);
    free(b->id);
    free(b->sorted);
    free(b->order);
    free((void *) b->sent_ns);
}

int
main(int argc, char **argv)
{
    // bench_broker [--e2e [--rounds R]] [N]
    bool e2e_only = argc > 1 && strcmp(argv[1], "--e2e") == 0;
    int rounds = 5;
    if (e2e_only && argc > 2 && strcmp(argv[2], "--rounds") == 0 && argc > 3) {
        rounds = (int) strtol(argv[3], NULL, 10);
        argv += 2;
        argc -= 2;
    }
    if (e2e_only) {
        argv++;
        argc--;
    }
    if (rounds < 1 || rounds > S_ROUNDS_MAX)
        s_die("--rounds: 1 to 50");
    int n = argc > 1 ? (int) strtol(argv[1], NULL, 10) : 5000;
    if (n <= 0)
        n = 5000;
    const char *w = getenv("BENCH_WINDOW");
    int window = w ? (int) strtol(w, NULL, 10) : 256;
    if (window <= 0)
        window = 256;
    signal(SIGPIPE, SIG_IGN);
    if (pl_crypto_init() != PL_OK)
        s_die("libsodium init failed");
    double t_start = s_now_s();

    static const char *const specs[] = {"sender:agency", "recipient:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "bench", specs, 2);

    // ---- seal 2N envelopes once: N for accepted-only + drain, N for e2e
    s_batch_t b = {0};
    double seal_us = 0, verify_us = 0;
    s_seal_batch(&net, e2e_only ? n : 2 * n, &b, &seal_us, &verify_us);
    if (e2e_only) {
        printf("bench_broker --e2e: %d envelopes a round (%d-byte payload, "
               "%zu-byte CURVE packets), sender window %d, %d rounds\n",
               n, S_PAYLOAD, b.pkt[0].len, window, rounds);
        s_e2e_mode(&net, &b, n, window, rounds);
        s_batch_free(&b);
        pl_test_net_destroy(&net);
        return 0;
    }
    size_t wire = b.pkt[0].len;

    printf("bench_broker: %d envelopes per phase, %d-byte payload -> %zu-byte "
           "packets on the wire\n",
           n, S_PAYLOAD, wire);
    printf("  sender window %d unanswered, broker defaults otherwise "
           "(delivery window 256), loopback TCP, CURVE everywhere\n",
           window);
    printf("  sealing (not measured below): %.1f us per envelope\n", seal_us);
    // figures on a shared machine mean little without its load
    FILE *la = fopen("/proc/loadavg", "r");
    double load = -1;
    if (la) {
        if (fscanf(la, "%lf", &load) != 1)
            load = -1;
        fclose(la);
    }
    printf("  machine: %ld CPUs, load average %.2f at start\n",
           sysconf(_SC_NPROCESSORS_ONLN), load);
    fflush(stdout);

    // ---- (a) Passerelle, (d) --verify-signatures, (b) raw ZeroMQ: the
    // three alternate, S_REPS rounds, so that drift hits all alike
    double acc_s[S_REPS], dr_s[S_REPS], e2e_s[S_REPS], raw_s[S_REPS];
    double vacc_s[S_REPS], vdr_s[S_REPS], ve2e_s[S_REPS];
    int rejected = 0, duplicates = 0;
    for (int i = 0; i < S_REPS; i++) {
        s_lat_t none = {0};
        s_pl_result_t p =
            s_passerelle(&net, &b, n, window, NULL, "plain", false, &none);
        s_pl_result_t v = s_passerelle(
            &net, &b, n, window, "--verify-signatures", "verify", false, &none);
        double unused_us, unused_busy;
        raw_s[i] = s_raw(&b, n, window, &none, &unused_us, &unused_busy);
        acc_s[i] = p.accepted_s;
        dr_s[i] = p.drain_s;
        e2e_s[i] = p.e2e_s;
        vacc_s[i] = v.accepted_s;
        vdr_s[i] = v.drain_s;
        ve2e_s[i] = v.e2e_s;
        rejected += p.rejected + v.rejected;
        duplicates += p.duplicates + v.duplicates;
    }

    // ---- (c) fsyncs: baseline (routes nothing) and end to end
    long base[3] = {0}, run[3] = {0};
    double strace_e2e = 0;
    bool have_strace = access("/usr/bin/strace", X_OK) == 0;
    if (have_strace)
        have_strace = s_strace_pass(&net, &b, 0, window, base, &strace_e2e)
                      && s_strace_pass(&net, &b, n, window, run, &strace_e2e);
    // LMDB's meta-page descriptor (checked on a plain broker)
    s_broker_t probe = s_broker_start(&net, NULL, NULL, "probe");
    int dsync = s_meta_dsync(probe.broker);
    s_broker_stop(&probe);

    // ---- the table
    s_stat_t acc = s_stat(n, acc_s), dr = s_stat(n, dr_s),
             e2e = s_stat(n, e2e_s), raw = s_stat(n, raw_s),
             vacc = s_stat(n, vacc_s), vdr = s_stat(n, vdr_s),
             ve2e = s_stat(n, ve2e_s);
    printf("\n%-46s %9s %9s   %s\n", "median of " S_REPS_TEXT " rounds",
           "env/s", "us/env", "range env/s");
    s_row("(a) passerelle accepted only (recip. offline)", acc);
    s_row("    passerelle queue drain (delivered->taken)", dr);
    s_row("    passerelle end to end (acc->dlv->taken)", e2e);
    s_row("(b) raw ZeroMQ ROUTER forward + ack (CURVE)", raw);
    printf("%-46s %9.2f   (raw is %.1fx faster)\n",
           "    ratio passerelle/raw, end to end", e2e.med / raw.med,
           raw.med / e2e.med);
    printf("%-46s %9.2f\n", "    ratio passerelle/raw, accepted only",
           acc.med / raw.med);
    s_row("(d) --verify-signatures accepted only", vacc);
    s_row("    --verify-signatures queue drain", vdr);
    s_row("    --verify-signatures end to end", ve2e);
    printf("%-46s %+9.1f us/env accepted only, %+.1f us/env end to end\n",
           "    cost of --verify-signatures", 1e6 / vacc.med - 1e6 / acc.med,
           1e6 / ve2e.med - 1e6 / e2e.med);
    printf("%-46s %9s %9.1f\n", "    outer verify in-process (reference)", "",
           verify_us);
    if (have_strace) {
        long sum_run = run[0] + run[1] + run[2];
        long sum_base = base[0] + base[1] + base[2];
        printf("(c) fsyncs, end to end under strace (%.0f env/s there): "
               "fsync %ld, fdatasync %ld, msync %ld\n",
               s_rate(n, strace_e2e), run[0], run[1], run[2]);
        printf("    baseline run routing nothing: fsync %ld, fdatasync %ld, "
               "msync %ld\n",
               base[0], base[1], base[2]);
        printf("%-46s %10.3f   (%ld syncs for %d envelopes; %.1f envelopes "
               "per sync)\n",
               "    fsync-family calls per envelope",
               (double) (sum_run - sum_base) / n, sum_run - sum_base, n,
               sum_run > sum_base ? (double) n / (double) (sum_run - sum_base)
                                  : 0.0);
    } else {
        printf("(c) fsync count skipped: strace is not installed "
               "(/usr/bin/strace)\n");
    }
    if (dsync >= 0)
        printf("    LMDB meta page written through an O_DSYNC descriptor: "
               "%s\n",
               dsync ? "yes (each commit = 1 fdatasync + 1 "
                       "synchronous meta write)"
                     : "no");
    if (rejected || duplicates)
        printf("NOTE: %d envelopes rejected, %d duplicates at the recipient "
               "over all rounds\n",
               rejected, duplicates);
    printf("total bench time %.1f s\n", s_now_s() - t_start);

    s_batch_free(&b);
    pl_test_net_destroy(&net);
    return 0;
}
