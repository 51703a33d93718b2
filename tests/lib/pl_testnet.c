// pl_testnet - the broker of a test network. Layer: tests.
#include "tests/lib/pl_testnet.h"

// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/pl_cert.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

#define S_ARGV_MAX 32

void
pl_testnet_spawn_broker(pl_test_net_t *net, const char *const pre[],
                        const char *const extra[], const char *const env[])
{
    char log[600], bin[1024];
    snprintf(log, sizeof log, "%s/broker.log", net->root);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("passerelle-broker"));
    const char *argv[S_ARGV_MAX];
    int n = 0;
    for (int i = 0; pre && pre[i]; i++) {
        PL_CHECK(n < S_ARGV_MAX - 6);
        argv[n++] = pre[i];
    }
    argv[n++] = bin;
    argv[n++] = "--home";
    argv[n++] = net->broker;
    argv[n++] = "--listen";
    argv[n++] = net->endpoint;
    for (int i = 0; extra && extra[i]; i++) {
        PL_CHECK(n < S_ARGV_MAX - 1);
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    net->broker_pid = pl_test_spawn(argv, log, env);
}

bool
pl_testnet_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t) port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *) &a, sizeof a) == 0;
    close(fd);
    return ok;
}

bool
pl_testnet_wait_broker(pl_test_net_t *net, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (pl_testnet_port_open(net->port))
            return true;
        if (!pl_test_alive(net->broker_pid)) {
            net->broker_pid = 0;
            return false;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

void
pl_testnet_start_broker(pl_test_net_t *net, const char *const extra[],
                        const char *const env[])
{
    pl_testnet_spawn_broker(net, NULL, extra, env);
    PL_CHECK(pl_testnet_wait_broker(net, 15000));
}

long
pl_testnet_log_count(const pl_test_net_t *net, const char *needle)
{
    char *out = NULL;
    pl_test_sh(&out, "grep -c -- '%s' '%s/broker.log' || true", needle,
               net->root);
    long n = out ? strtol(out, NULL, 10) : 0;
    free(out);
    return n;
}

pl_packet_t *
pl_testnet_expect(pl_rawclient_t *c, Passerelle__V1__Packet__KindCase kind,
                  int ms)
{
    uint64_t deadline = pl_mono_ms() + (uint64_t) ms;
    while (pl_mono_ms() < deadline) {
        pl_packet_t *p = NULL;
        if (pl_rawclient_recv(c, &p, (int) (deadline - pl_mono_ms()) + 1)
            != PL_OK)
            continue;
        if (p->kind_case == kind)
            return p;
        pl_wire_free(&p);
    }
    return NULL;
}

pl_rawclient_t *
pl_testnet_client(const pl_test_net_t *net, int i, int tries)
{
    pl_rawclient_t *c = NULL;
    for (int k = 0; k < tries && !c; k++) {
        c = pl_rawclient_open(net->home[i], net->endpoint);
        if (c && pl_rawclient_hello(c, 500) != PL_OK)
            pl_rawclient_close(&c);
    }
    return c;
}

bool
pl_testnet_served(pl_rawclient_t *c, const char *to_home, const char *payload,
                  uint8_t *id, int ms)
{
    uint8_t own[PL_MSG_ID_BYTES];
    if (!id)
        id = own;
    pl_buf_t pkt = {0};
    PL_CHECK(pl_rawclient_seal(c, to_home, NULL, payload, strlen(payload), 0,
                               id, &pkt)
             == 0);
    pl_rawclient_send(c, pkt.data, pkt.len);
    pl_buf_free(&pkt);
    pl_packet_t *r =
        pl_testnet_expect(c, PASSERELLE__V1__PACKET__KIND_ACCEPTED, ms);
    bool ok = r && memcmp(r->accepted->message_id.data, id, 16) == 0;
    pl_wire_free(&r);
    return ok;
}

// The broker's answer to envelope 'id' in 'r': 1 accepted, 0 refused
// store-full, -1 another packet.
static int
s_answer(const pl_packet_t *r, const uint8_t id[PL_MSG_ID_BYTES])
{
    if (r->kind_case == PASSERELLE__V1__PACKET__KIND_ACCEPTED
        && memcmp(r->accepted->message_id.data, id, PL_MSG_ID_BYTES) == 0)
        return 1;
    if (r->kind_case == PASSERELLE__V1__PACKET__KIND_REJECTED
        && r->rejected->has_message_id
        && memcmp(r->rejected->message_id.data, id, PL_MSG_ID_BYTES) == 0) {
        PL_CHECK(r->rejected->reason
                 == PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL);
        return 0;
    }
    return -1;
}

int
pl_testnet_offer(pl_rawclient_t *c, const char *to_home, size_t len,
                 uint8_t id[PL_MSG_ID_BYTES], int ms)
{
    static uint8_t body[60000];
    PL_CHECK(len <= sizeof body);
    pl_random(body, len);
    pl_buf_t pkt = {0};
    PL_CHECK(pl_rawclient_seal(c, to_home, NULL, body, len, 0, id, &pkt) == 0);
    PL_CHECK(pl_rawclient_send(c, pkt.data, pkt.len) == 0);
    pl_buf_free(&pkt);
    uint64_t deadline = pl_mono_ms() + (uint64_t) ms;
    while (pl_mono_ms() < deadline) {
        pl_packet_t *r = NULL;
        if (pl_rawclient_recv(c, &r, 200) != PL_OK)
            continue;
        int got = s_answer(r, id);
        pl_wire_free(&r);
        if (got >= 0)
            return got;
    }
    return -1;
}

int
pl_testnet_main(const struct CMUnitTest *tests, size_t n)
{
    signal(SIGPIPE, SIG_IGN);
    PL_CHECK(pl_crypto_init() == 0);
    if (getenv("PL_TEST_FILTER"))
        cmocka_set_test_filter(getenv("PL_TEST_FILTER"));
    return _cmocka_run_group_tests("tests", tests, n, NULL, NULL);
}

void
pl_testnet_issue(const pl_test_net_t *net, long n, long nkeys,
                 uint8_t (*pk)[32], uint8_t (*sk)[32])
{
    pl_authority_t *a = NULL;
    PL_CHECK(pl_authority_open(net->auth, &a) == PL_OK);
    uint64_t now = (uint64_t) time(NULL);
    char path[800];
    for (long i = 0; i < n; i++) {
        pl_cert_t c;
        memset(&c, 0, sizeof c);
        c.serial = 100000 + (uint64_t) i;
        snprintf(c.name, sizeof c.name, "n%ld", i);
        snprintf(c.display_name, sizeof c.display_name, "Node %ld", i);
        snprintf(c.sector, sizeof c.sector, "health");
        snprintf(c.country, sizeof c.country, "SN");
        randombytes_buf(&c.keys, sizeof c.keys);
        if (i < nkeys) {
            PL_CHECK(crypto_box_keypair(pk[i], sk[i]) == 0);
            memcpy(c.keys.curve, pk[i], 32);
        }
        c.not_before = now - 86400;
        c.not_after = now + 365 * 86400ULL;
        pl_buf_t raw = {0};
        PL_CHECK(pl_authority_issue(a, &c, &raw) == PL_OK);
        snprintf(path, sizeof path, "%s/certs/n%ld.cert", net->broker, i);
        PL_CHECK(pl_file_write(path, raw.data, raw.len, 0644, false) == PL_OK);
        pl_buf_free(&raw);
    }
    pl_authority_close(&a);
}

void
pl_testnet_broker_key(const pl_test_net_t *net, uint8_t pk[32])
{
    char path[800];
    uint8_t apk[32];
    pl_cert_t c;
    snprintf(path, sizeof path, "%s/authority.pub", net->broker);
    PL_CHECK(pl_authority_pub_load(path, apk) == PL_OK);
    snprintf(path, sizeof path, "%s/node.cert", net->broker);
    PL_CHECK(pl_cert_load(path, apk, &c, NULL) == PL_OK);
    memcpy(pk, c.keys.curve, 32);
}
