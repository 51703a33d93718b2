// test_broker_store - the broker's store under pressure, on the real
// passerelle-broker process: a map filled to refusal and drained serves
// again without a restart; quotas keep one node from filling the broker
// (a sender over its share, or an envelope for a recipient over its
// share, is refused store-full while the others are served); a store of
// the previous format (every id in `ids`) opens and keeps its meaning.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <lmdb.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/pl_spool.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health",
                                      "school:education"};

static void
s_broker(pl_test_net_t *net, const char *const extra[])
{
    pl_testnet_start_broker(net, extra, NULL);
}

// Sends one envelope of 'len' random bytes to 'to_home'; returns 1 if
// accepted, 0 if refused store-full (any other answer fails the test).
static int
s_offer(pl_rawclient_t *c, const char *to_home, size_t len)
{
    uint8_t id[PL_MSG_ID_BYTES];
    int got = pl_testnet_offer(c, to_home, len, id, 10000);
    if (got < 0)
        fail_msg("no answer to an envelope within 10 s");
    return got;
}

// sends until the first store-full refusal (at most 'max'); returns how
// many were accepted before it, or -1 if none was refused
static int
s_fill(pl_rawclient_t *c, const char *to_home, int max)
{
    for (int i = 0; i < max; i++)
        if (s_offer(c, to_home, 60000) == 0)
            return i;
    return -1;
}

// 'b' takes every envelope delivered to it until 'want' were taken
static int
s_drain(pl_rawclient_t *b, int want)
{
    int taken = 0;
    uint64_t deadline = pl_mono_ms() + 60000;
    while (taken < want && pl_mono_ms() < deadline) {
        pl_packet_t *r =
            pl_testnet_expect(b, PASSERELLE__V1__PACKET__KIND_ENVELOPE, 1000);
        if (!r)
            continue;
        pl_envelope_t v;
        pl_header_t h;
        pl_envelope_view(r->envelope, &v);
        assert_int_equal(pl_header_decode(v.header, v.header_len, &h), 0);
        pl_buf_t out = {0};
        assert_int_equal(
            pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, h.id, &out),
            0);
        assert_int_equal(pl_rawclient_send(b, out.data, out.len), 0);
        pl_buf_free(&out);
        taken++;
        pl_wire_free(&r);
    }
    return taken;
}

// retries an offer every 300 ms until accepted or 15 s pass (the takens
// of the drain are committed a pass or two later)
static bool
s_accepted_within(pl_rawclient_t *c, const char *to_home, size_t len)
{
    uint64_t deadline = pl_mono_ms() + 15000;
    while (pl_mono_ms() < deadline) {
        if (s_offer(c, to_home, len) == 1)
            return true;
        pl_test_sh(NULL, "sleep 0.3");
    }
    return false;
}

// ---- a full map, drained, serves every sender again without a restart

static void
test_drain_serves_again(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "drain", s_specs, 3);
    // quotas as large as the map: only the map threshold refuses here
    const char *const args[] = {"--map-size=4", "--sender-quota=4",
                                "--recipient-quota=4", NULL};
    s_broker(&net, args);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    int accepted = s_fill(a, net.home[1], 200);
    fprintf(stderr, "drain: accepted=%d before the map threshold\n", accepted);
    assert_true(accepted > 10);
    // the recipient takes everything: the queue is empty again
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 5000), PL_OK);
    assert_int_equal(s_drain(b, accepted), accepted);
    // every sender is served again, big envelopes included, same process
    assert_true(s_accepted_within(a, net.home[1], 60000));
    assert_true(s_accepted_within(b, net.home[0], 60000));
    pl_rawclient_t *c = pl_rawclient_open(net.home[2], net.endpoint);
    assert_int_equal(pl_rawclient_hello(c, 5000), PL_OK);
    assert_true(s_accepted_within(c, net.home[0], 60000));
    // and the map can be filled and drained again: a second round takes
    // about as many as the first (it does not shrink with every round)
    int more = s_fill(a, net.home[2], 200);
    fprintf(stderr, "drain: second round accepted=%d\n", more);
    assert_true(more >= accepted / 2);
    assert_true(pl_test_alive(net.broker_pid));
    assert_true(pl_testnet_log_count(&net, "store_full") >= 1);
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_rawclient_close(&c);
    pl_test_net_destroy(&net);
}

// ---- one sender over its quota; the others are still served

static void
test_sender_quota(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "squota", s_specs, 3);
    const char *const args[] = {"--map-size=32", "--sender-quota=2", NULL};
    s_broker(&net, args);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    pl_rawclient_t *c = pl_rawclient_open(net.home[2], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    assert_int_equal(pl_rawclient_hello(c, 5000), PL_OK);
    // 2 MiB at 60 kB an envelope: about 34, far below the map's 90 %
    int accepted = s_fill(a, net.home[1], 120);
    fprintf(stderr, "sender_quota: accepted=%d before the quota\n", accepted);
    assert_true(accepted >= 30 && accepted <= 35);
    // the agency is over its share for every recipient ...
    assert_int_equal(s_offer(a, net.home[2], 60000), 0);
    char needle[200];
    snprintf(needle, sizeof needle, "quota_exceeded address=%s role=sender",
             net.address[0]);
    assert_true(pl_testnet_log_count(&net, needle) >= 1);
    // ... while the school is served, to the same recipient too
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_offer(c, net.home[1], 60000), 1);
    assert_int_equal(s_offer(c, net.home[0], 60000), 1);
    // the clinic takes its queue: the agency is served again
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 5000), PL_OK);
    assert_int_equal(s_drain(b, accepted + 5), accepted + 5);
    assert_true(s_accepted_within(a, net.home[1], 60000));
    // a refusal storm is not a log storm: 200 more refusals, few lines
    pl_rawclient_t *d = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(d, 5000), PL_OK);
    (void) s_fill(d, net.home[2], 120); // over its quota again
    for (int i = 0; i < 300 && s_offer(d, net.home[2], 8000) == 1; i++)
        ; // and up to the byte
    long before = pl_testnet_log_count(&net, "quota_exceeded");
    for (int i = 0; i < 200; i++)
        assert_int_equal(s_offer(d, net.home[2], 8000), 0);
    long lines = pl_testnet_log_count(&net, "quota_exceeded") - before;
    fprintf(stderr, "sender_quota: 200 refusals, %ld quota lines\n", lines);
    assert_true(lines <= 3);
    assert_true(pl_test_alive(net.broker_pid));
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_rawclient_close(&c);
    pl_rawclient_close(&d);
    pl_test_net_destroy(&net);
}

// ---- envelopes for one recipient over its quota; others still flow

static void
test_recipient_quota(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "rquota", s_specs, 3);
    const char *const args[] = {"--map-size=32", "--recipient-quota=2", NULL};
    s_broker(&net, args);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    pl_rawclient_t *c = pl_rawclient_open(net.home[2], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    assert_int_equal(pl_rawclient_hello(c, 5000), PL_OK);
    int accepted = s_fill(a, net.home[1], 120);
    fprintf(stderr, "recipient_quota: accepted=%d\n", accepted);
    assert_true(accepted >= 30 && accepted <= 35);
    // for the clinic: refused from anyone; to others: served
    assert_int_equal(s_offer(c, net.home[1], 60000), 0);
    assert_int_equal(s_offer(c, net.home[0], 60000), 1);
    assert_int_equal(s_offer(a, net.home[2], 60000), 1);
    char needle[200];
    snprintf(needle, sizeof needle, "quota_exceeded address=%s role=recipient",
             net.address[1]);
    assert_true(pl_testnet_log_count(&net, needle) >= 1);
    pl_rawclient_close(&a);
    pl_rawclient_close(&c);
    pl_test_net_destroy(&net);
}

// ---- a store written by the previous layout (format 1) still opens

// format 1's value of `ids` (native endianness), as broker/pl_spool.c
// wrote it before the `seen` table
typedef struct {
    uint8_t state; // 1 queued, 2 taken, 3 expired, 4 refused
    uint8_t pad[7];
    uint64_t expires_at;
    uint64_t seq;
    uint64_t accepted_ms;
    uint8_t digest[32]; // BLAKE2b-256 of the packet
    char to[PL_ADDRESS_MAX + 1];
    char from[PL_ADDRESS_MAX + 1];
} s_v1rec_t;

static void
s_v1_put(MDB_txn *txn, MDB_dbi ids, MDB_dbi queue, const uint8_t *id,
         const pl_buf_t *pkt, uint8_t state, uint64_t seq, const char *from,
         const char *to)
{
    pl_envelope_t view;
    pl_packet_t *p = NULL;
    assert_int_equal(pl_wire_decode(pkt->data, pkt->len, &p), 0);
    pl_envelope_view(p->envelope, &view);
    pl_header_t h;
    assert_int_equal(pl_header_decode(view.header, view.header_len, &h), 0);
    pl_wire_free(&p);
    s_v1rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.state = state;
    rec.expires_at = h.expires_at;
    rec.seq = seq;
    rec.accepted_ms = pl_now_ms();
    crypto_generichash(rec.digest, 32, pkt->data, pkt->len, NULL, 0);
    snprintf(rec.to, sizeof rec.to, "%s", to);
    snprintf(rec.from, sizeof rec.from, "%s", from);
    MDB_val k = {16, (void *) id}, v = {sizeof rec, &rec};
    assert_int_equal(mdb_put(txn, ids, &k, &v, 0), 0);
    if (state != 1)
        return;
    uint8_t key[PL_ADDRESS_MAX + 10];
    size_t n = strlen(to);
    memcpy(key, to, n);
    key[n] = 0;
    pl_be64_put(key + n + 1, seq);
    MDB_val qk = {n + 9, key}, qv = {32 + pkt->len, NULL};
    assert_int_equal(mdb_put(txn, queue, &qk, &qv, MDB_RESERVE), 0);
    uint8_t *q = qv.mv_data;
    memcpy(q, &rec.accepted_ms, 8);
    memcpy(q + 8, &rec.expires_at, 8);
    memcpy(q + 16, id, 16);
    memcpy(q + 32, pkt->data, pkt->len);
}

static void
test_old_store_migrates(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "migrate", s_specs, 3);
    // sealed by the agency for the clinic: one still queued, one taken
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_non_null(a);
    uint8_t id1[16], id2[16];
    pl_buf_t p1 = {0}, p2 = {0};
    assert_int_equal(
        pl_rawclient_seal(a, net.home[1], NULL, "queued", 6, 0, id1, &p1), 0);
    assert_int_equal(
        pl_rawclient_seal(a, net.home[1], NULL, "taken", 5, 0, id2, &p2), 0);
    pl_rawclient_close(&a);
    char store[700];
    snprintf(store, sizeof store, "%s/store", net.broker);
    assert_int_equal(mkdir(store, 0700), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi queue, ids, notices, meta;
    assert_int_equal(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, 64 << 20);
    assert_int_equal(mdb_env_open(env, store, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "queue", MDB_CREATE, &queue), 0);
    assert_int_equal(mdb_dbi_open(txn, "ids", MDB_CREATE, &ids), 0);
    assert_int_equal(mdb_dbi_open(txn, "notices", MDB_CREATE, &notices), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
    s_v1_put(txn, ids, queue, id1, &p1, 1, 1, net.address[0], net.address[1]);
    s_v1_put(txn, ids, queue, id2, &p2, 2, 2, net.address[0], net.address[1]);
    uint64_t next = 3;
    MDB_val mk = {3, "seq"}, mv = {8, &next};
    assert_int_equal(mdb_put(txn, meta, &mk, &mv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    s_broker(&net, NULL);
    assert_int_equal(pl_testnet_log_count(&net, "store_migrated"), 1);
    a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    // the taken one sent again: a harmless duplicate, never redelivered
    assert_int_equal(pl_rawclient_send(a, p2.data, p2.len), 0);
    pl_packet_t *r =
        pl_testnet_expect(a, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 5000);
    assert_non_null(r);
    assert_memory_equal(r->accepted->message_id.data, id2, 16);
    pl_wire_free(&r);
    // its id with other bytes: refused as an attack
    p2.data[p2.len - 1] ^= 1;
    assert_int_equal(pl_rawclient_send(a, p2.data, p2.len), 0);
    r = pl_testnet_expect(a, PASSERELLE__V1__PACKET__KIND_REJECTED, 5000);
    assert_non_null(r);
    assert_int_equal(r->rejected->reason,
                     PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT);
    pl_wire_free(&r);
    // the queued one is delivered, once, and only it
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 5000), PL_OK);
    r = pl_testnet_expect(b, PASSERELLE__V1__PACKET__KIND_ENVELOPE, 5000);
    assert_non_null(r);
    pl_envelope_t v;
    pl_header_t h;
    pl_envelope_view(r->envelope, &v);
    assert_int_equal(pl_header_decode(v.header, v.header_len, &h), 0);
    assert_memory_equal(h.id, id1, 16);
    pl_wire_free(&r);
    pl_buf_t tk = {0};
    assert_int_equal(
        pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, id1, &tk), 0);
    assert_int_equal(pl_rawclient_send(b, tk.data, tk.len), 0);
    pl_buf_free(&tk);
    r = pl_testnet_expect(b, PASSERELLE__V1__PACKET__KIND_ENVELOPE, 1500);
    assert_null(r);
    // after its taken, the queued one's bytes again: a duplicate too
    assert_int_equal(pl_rawclient_send(a, p1.data, p1.len), 0);
    r = pl_testnet_expect(a, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 5000);
    assert_non_null(r);
    pl_wire_free(&r);
    r = pl_testnet_expect(b, PASSERELLE__V1__PACKET__KIND_ENVELOPE, 1500);
    assert_null(r);
    // a restart does not migrate twice, and still knows both ids
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_test_net_stop_broker(&net, false);
    s_broker(&net, NULL);
    assert_int_equal(pl_testnet_log_count(&net, "store_migrated"), 1);
    a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    assert_int_equal(pl_rawclient_send(a, p2.data, p2.len), 0); // conflict
    r = pl_testnet_expect(a, PASSERELLE__V1__PACKET__KIND_REJECTED, 5000);
    assert_non_null(r);
    assert_int_equal(r->rejected->reason,
                     PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT);
    pl_wire_free(&r);
    pl_buf_free(&p1);
    pl_buf_free(&p2);
    pl_rawclient_close(&a);
    pl_test_net_destroy(&net);
}

// ---- pl_spool itself: dedupe kept to expires + 1 day, quotas released

static void
test_spool_dedupe_days(void **state)
{
    (void) state;
    char *dir = pl_test_tmpdir("spool");
    pl_spool_t *sp = pl_spool_open(dir, 16 << 20, NULL);
    assert_non_null(sp);
    uint64_t now = pl_now();
    pl_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.from, sizeof h.from, "sn/agency");
    snprintf(h.to, sizeof h.to, "sn/clinic");
    uint8_t pkt[100], other[100];
    randombytes_buf(pkt, sizeof pkt);
    memcpy(other, pkt, sizeof other);
    other[0] ^= 1;
    bool dup = false;
    pl_spool_refusal_t why;
    uint8_t ids[3][16];
    // three envelopes expiring in 1 hour, 2 days and 40 days
    uint64_t ttl[3] = {3600, 2 * 86400, 40 * 86400};
    assert_int_equal(pl_spool_begin(sp), 0);
    for (int i = 0; i < 3; i++) {
        randombytes_buf(ids[i], 16);
        memcpy(h.id, ids[i], 16);
        h.expires_at = now + ttl[i];
        assert_int_equal(
            pl_spool_put(sp, &h, pkt, sizeof pkt, now * 1000, &dup, &why), 0);
    }
    uint64_t from = 0, to = 0;
    assert_int_equal(pl_spool_quota_get(sp, "sn/agency", &from, &to), 0);
    assert_true(from >= 3 * sizeof pkt && to == 0);
    // the first two are taken; the third stays queued
    for (int i = 0; i < 2; i++)
        assert_int_equal(pl_spool_take(sp, ids[i], "sn/clinic", PL_SPOOL_TAKEN,
                                       now * 1000, NULL, NULL),
                         0);
    assert_int_equal(pl_spool_commit(sp), 0);
    // taken: the same bytes are a duplicate, other bytes a conflict
    assert_int_equal(pl_spool_begin(sp), 0);
    memcpy(h.id, ids[0], 16);
    h.expires_at = now + ttl[0];
    assert_int_equal(
        pl_spool_put(sp, &h, pkt, sizeof pkt, now * 1000, &dup, &why),
        PL_EEXIST);
    assert_true(dup);
    h.expires_at = now + 5 * 86400; // another expiry day: still found
    assert_int_equal(
        pl_spool_put(sp, &h, other, sizeof other, now * 1000, &dup, &why),
        PL_EAUTH);
    // a sweep 3 days on: the first two are forgotten (expires + 1 day
    // passed), nothing else; the third still queued
    assert_int_equal(pl_spool_sweep(sp, now + 4 * 86400, NULL, NULL), 0);
    for (int i = 0; i < 2; i++) {
        memcpy(h.id, ids[i], 16);
        h.expires_at = now + 86400;
        assert_int_equal(
            pl_spool_put(sp, &h, other, sizeof other, now * 1000, &dup, &why),
            0); // unknown again: stored
        assert_int_equal(pl_spool_take(sp, ids[i], "sn/clinic", PL_SPOOL_TAKEN,
                                       now * 1000, NULL, NULL),
                         0);
    }
    memcpy(h.id, ids[2], 16);
    h.expires_at = now + ttl[2];
    assert_int_equal(
        pl_spool_put(sp, &h, other, sizeof other, now * 1000, &dup, &why),
        PL_EAUTH); // queued: the whole digest decides
    // its expiry: dropped from the queue, its quota bytes released, and
    // still known as seen until a day later
    assert_int_equal(pl_spool_sweep(sp, now + ttl[2] + 1, NULL, NULL), 1);
    assert_int_equal(pl_spool_quota_get(sp, "sn/agency", &from, &to), 0);
    assert_int_equal(from, 0);
    assert_int_equal(pl_spool_quota_get(sp, "sn/clinic", &from, &to), 0);
    assert_int_equal(to, 0);
    assert_int_equal(
        pl_spool_put(sp, &h, pkt, sizeof pkt, now * 1000, &dup, &why),
        PL_EEXIST);
    assert_int_equal(pl_spool_commit(sp), 0);
    pl_spool_close(&sp);
    pl_test_rmrf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_serves_again),
        cmocka_unit_test(test_sender_quota),
        cmocka_unit_test(test_recipient_quota),
        cmocka_unit_test(test_old_store_migrates),
        cmocka_unit_test(test_spool_dedupe_days),
    };
    return PL_TESTNET_MAIN(tests); // SIGPIPE, crypto, PL_TEST_FILTER
}
