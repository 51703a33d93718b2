// amqp_peer - the RabbitMQ side of the broker throughput comparison
// (issue 20 item 4). Layer: tests (a benchmark client, run only by
// tests/bench/bench_rabbitmq.sh, which builds it when librabbitmq is
// installed; never by ctest).
//
// One round: a publisher connection sends N persistent messages of SIZE
// bytes to a fresh queue with publisher confirms, at most WINDOW
// unconfirmed; a consumer connection (its own thread, prefetch WINDOW)
// acks each message on its own. The round ends when every message is
// confirmed and consumed; the rate is N over that time. Each body carries
// its publish time, so the consumer measures publish -> delivery latency
// (the same definition as bench_broker --e2e). Prints one line a round and
// a RESULT line.
//
// Usage: amqp_peer PORT quorum|classic N ROUNDS [SIZE] [WINDOW]
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "pl_machine_cpu.h"

#define S_ROUNDS_MAX 50
#define S_WAIT_S     60 // a round longer than this: give up

static uint64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
s_die(const char *what)
{
    fprintf(stderr, "amqp_peer: %s\n", what);
    exit(1);
}

static void
s_check_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        s_die(what);
}

static amqp_connection_state_t
s_connect(int port)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(c);
    if (!sock || amqp_socket_open(sock, "127.0.0.1", port) != AMQP_STATUS_OK)
        s_die("cannot connect to RabbitMQ");
    s_check_reply(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                             "guest", "guest"),
                  "login refused");
    amqp_channel_open(c, 1);
    s_check_reply(amqp_get_rpc_reply(c), "channel.open");
    return c;
}

static void
s_close(amqp_connection_state_t c)
{
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

typedef struct {
    amqp_connection_state_t c;
    const char *queue;
    int n, window;
    uint32_t *lat_us; // n latencies
    int got;
    uint64_t done_ns;
    pthread_mutex_t mu; // 'ready' under it
    pthread_cond_t cv;
    int ready;
} s_consumer_t;

static void *
s_consume(void *arg)
{
    s_consumer_t *k = arg;
    amqp_basic_qos(k->c, 1, 0, (uint16_t) k->window, 0);
    s_check_reply(amqp_get_rpc_reply(k->c), "basic.qos");
    amqp_basic_consume(k->c, 1, amqp_cstring_bytes(k->queue), amqp_empty_bytes,
                       0, 0, 0, amqp_empty_table);
    s_check_reply(amqp_get_rpc_reply(k->c), "basic.consume");
    pthread_mutex_lock(&k->mu);
    k->ready = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    uint64_t deadline = s_now_ns() + (uint64_t) S_WAIT_S * 1000000000u;
    while (k->got < k->n && s_now_ns() < deadline) {
        amqp_envelope_t env;
        struct timeval tv = {.tv_sec = 1};
        amqp_maybe_release_buffers(k->c);
        amqp_rpc_reply_t r = amqp_consume_message(k->c, &env, &tv, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            continue; // timeout: the deadline bounds the loop
        uint64_t sent = 0;
        if (env.message.body.len >= sizeof sent)
            memcpy(&sent, env.message.body.bytes, sizeof sent);
        uint64_t d = (s_now_ns() - sent) / 1000;
        k->lat_us[k->got++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t) d;
        amqp_basic_ack(k->c, 1, env.delivery_tag, 0);
        amqp_destroy_envelope(&env);
    }
    k->done_ns = s_now_ns();
    return NULL;
}

// Reads confirms that are waiting (block: wait up to 1 s for the first).
// Returns the highest confirmed delivery tag so far.
static uint64_t
s_confirms(amqp_connection_state_t c, uint64_t confirmed, int block)
{
    for (;;) {
        amqp_frame_t f;
        struct timeval tv = {.tv_sec = block ? 1 : 0};
        int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
        if (rc != AMQP_STATUS_OK)
            return confirmed;
        block = 0;
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            if (a->delivery_tag > confirmed)
                confirmed = a->delivery_tag; // multiple or single: in order
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            s_die("RabbitMQ refused a message (basic.nack)");
        }
    }
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static double
s_pct_ms(uint32_t *v, int n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t) n, sizeof *v, s_cmp_u32);
    return v[(int) (q * (n - 1) + 0.5)] / 1000.0;
}

typedef struct {
    double rate, p50, p99;
    double machine_us, busy; // the machine's busy CPU per message, share
} s_round_t;

static void
s_declare(amqp_connection_state_t c, const char *queue, int quorum)
{
    amqp_queue_delete(c, 1, amqp_cstring_bytes(queue), 0, 0);
    s_check_reply(amqp_get_rpc_reply(c), "queue.delete");
    amqp_table_entry_t e = {
        .key = amqp_cstring_bytes("x-queue-type"),
        .value = {.kind = AMQP_FIELD_KIND_UTF8,
                  .value = {.bytes = amqp_cstring_bytes("quorum")}},
    };
    amqp_table_t args = {.num_entries = quorum ? 1 : 0, .entries = &e};
    amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    s_check_reply(amqp_get_rpc_reply(c), "queue.declare");
}

static s_round_t
s_round(int port, int quorum, int n, int size, int window)
{
    const char *queue = quorum ? "plbench.quorum" : "plbench.classic";
    amqp_connection_state_t pub = s_connect(port);
    s_declare(pub, queue, quorum);
    amqp_confirm_select(pub, 1);
    s_check_reply(amqp_get_rpc_reply(pub), "confirm.select");
    s_consumer_t k = {
        .c = s_connect(port), .queue = queue, .n = n, .window = window};
    k.lat_us = calloc((size_t) n, sizeof *k.lat_us);
    uint8_t *body = calloc(1, (size_t) size);
    if (!k.lat_us || !body)
        s_die("out of memory");
    for (int i = 8; i < size; i++)
        body[i] = (uint8_t) (i * 131 + 7);
    pthread_mutex_init(&k.mu, NULL);
    pthread_cond_init(&k.cv, NULL);
    pthread_t th;
    pthread_create(&th, NULL, s_consume, &k);
    pthread_mutex_lock(&k.mu);
    while (!k.ready)
        pthread_cond_wait(&k.cv, &k.mu);
    pthread_mutex_unlock(&k.mu);

    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG,
        .delivery_mode = 2, // persistent
    };
    pl_machine_cpu_t m0, m1;
    pl_machine_cpu(&m0);
    uint64_t t0 = s_now_ns(), deadline = t0 + (uint64_t) S_WAIT_S * 1000000000u;
    uint64_t sent = 0, confirmed = 0;
    while (confirmed < (uint64_t) n && s_now_ns() < deadline) {
        while (sent < (uint64_t) n && sent - confirmed < (uint64_t) window) {
            uint64_t now = s_now_ns();
            memcpy(body, &now, sizeof now);
            if (amqp_basic_publish(pub, 1, amqp_empty_bytes,
                                   amqp_cstring_bytes(queue), 0, 0, &props,
                                   (amqp_bytes_t){(size_t) size, body})
                != AMQP_STATUS_OK)
                s_die("basic.publish failed");
            sent++;
            confirmed = s_confirms(pub, confirmed, 0);
        }
        confirmed = s_confirms(pub, confirmed, 1);
    }
    uint64_t pub_done = s_now_ns();
    pthread_join(th, NULL);
    pl_machine_cpu(&m1);
    if (confirmed < (uint64_t) n || k.got < n)
        s_die("a round did not finish in time");
    uint64_t end = k.done_ns > pub_done ? k.done_ns : pub_done;
    s_round_t r = {.rate = n / ((double) (end - t0) / 1e9),
                   .p50 = s_pct_ms(k.lat_us, n, 0.50),
                   .p99 = s_pct_ms(k.lat_us, n, 0.99)};
    r.machine_us = pl_machine_cpu_us(&m0, &m1, n, &r.busy);
    s_close(k.c);
    s_close(pub);
    free(k.lat_us);
    free(body);
    return r;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof *v, s_cmp_double);
    return v[n / 2];
}

int
main(int argc, char **argv)
{
    if (argc < 5 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: amqp_peer PORT quorum|classic N ROUNDS "
                        "[SIZE] [WINDOW]\n");
        return argc < 5 ? 2 : 0;
    }
    int port = atoi(argv[1]), quorum = strcmp(argv[2], "quorum") == 0;
    int n = atoi(argv[3]), rounds = atoi(argv[4]);
    int size = argc > 5 ? atoi(argv[5]) : 1024;
    int window = argc > 6 ? atoi(argv[6]) : 1000;
    if (port <= 0 || n <= 0 || rounds < 1 || rounds > S_ROUNDS_MAX || size < 8
        || window < 1 || window > 65535)
        s_die("bad arguments (see --help)");
    double rate[S_ROUNDS_MAX], p50[S_ROUNDS_MAX], p99[S_ROUNDS_MAX];
    double mus[S_ROUNDS_MAX], busy[S_ROUNDS_MAX];
    double lo = 0, hi = 0;
    for (int i = 0; i < rounds; i++) {
        s_round_t r = s_round(port, quorum, n, size, window);
        rate[i] = r.rate;
        p50[i] = r.p50;
        p99[i] = r.p99;
        mus[i] = r.machine_us;
        busy[i] = r.busy;
        lo = i == 0 || r.rate < lo ? r.rate : lo;
        hi = i == 0 || r.rate > hi ? r.rate : hi;
        printf("round %d: rabbitmq %s %7.0f msg/s (p50 %6.2f ms, p99 %6.2f "
               "ms; machine %.1f us/msg, %.0f %% busy)\n",
               i + 1, argv[2], r.rate, r.p50, r.p99, r.machine_us,
               100 * r.busy);
        fflush(stdout);
    }
    printf("RESULT %s=%.0f %s_min=%.0f %s_max=%.0f p50_ms=%.2f p99_ms=%.2f "
           "%s_machine_us=%.1f %s_busy=%.3f\n",
           argv[2], s_median(rate, rounds), argv[2], lo, argv[2], hi,
           s_median(p50, rounds), s_median(p99, rounds), argv[2],
           s_median(mus, rounds), argv[2], s_median(busy, rounds));
    return 0;
}
