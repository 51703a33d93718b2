// test_inbound - the inbound dispatch (nodes/pl_inbound.c) and its table
// of body kinds on the daemon's state built by hand (tests/lib/nodes/
// pl_fakenode: a temp store, fresh keys, one peer in the directory, an
// inproc pair for the DEALER), no daemon, no broker (issue 12, item 7):
// a receipted kind (test) is stored, receipted and taken; a duplicate gets
// the stored receipt again; a receipt (not receipted) settles the outbox
// and is only taken; an unknown body is refused (rejected, never taken)
// and counted; a full store defers without an answer; a store that fails
// under the handler's nested transaction acknowledges nothing.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdlib.h>
#include <string.h>

#include "tests/lib/nodes/pl_fakenode.h"
#include "tests/lib/pl_test.h"

static int
s_setup(void **state)
{
    pl_fakenode_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pl_fakenode_init(f, "inbound", 8u << 20);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    pl_fakenode_t *f = *state;
    pl_fakenode_fini(f);
    free(f);
    return 0;
}

// An envelope from the peer holding a TestMessage.
static void
s_test_env(pl_fakenode_t *f, uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *pkt)
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__TestMessage t = PASSERELLE__V1__TEST_MESSAGE__INIT;
    t.payload.data = (uint8_t *) "bonjour";
    t.payload.len = 7;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &t;
    pl_fakenode_seal_msg(f, &m, id, pkt);
}

// What the node sent after the pass, in order: their kinds into 'kinds'
// (at most 'max'); returns how many. An envelope's recipient must be the
// peer, a taken/rejected's id 'id'.
static int
s_sent(pl_fakenode_t *f, const uint8_t id[PL_MSG_ID_BYTES], int *kinds, int max)
{
    int n = 0;
    pl_packet_t *p;
    while ((p = pl_fakenode_sent(f, n == 0 ? 1000 : 100))) {
        assert_true(n < max);
        kinds[n++] = p->kind_case;
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_TAKEN)
            assert_memory_equal(p->taken->message_id.data, id, PL_MSG_ID_BYTES);
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_REJECTED)
            assert_memory_equal(p->rejected->message_id.data, id,
                                PL_MSG_ID_BYTES);
        pl_wire_free(&p);
    }
    return n;
}

// Whether 'db' holds 'key' (16 bytes).
static bool
s_has(pl_fakenode_t *f, pl_db_t db, const uint8_t key[PL_MSG_ID_BYTES])
{
    pl_txn_t *t = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &t), PL_OK);
    const uint8_t *v;
    size_t vlen;
    bool has = pl_store_get(t, db, key, PL_MSG_ID_BYTES, &v, &vlen) == PL_OK;
    pl_store_abort(&t);
    return has;
}

static int
s_count_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) k, (void) kl, (void) v, (void) vl;
    (*(size_t *) arg)++;
    return PL_STORE_NEXT;
}
static size_t
s_count(pl_fakenode_t *f, pl_db_t db)
{
    pl_txn_t *t = NULL;
    size_t n = 0;
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &t), PL_OK);
    assert_int_equal(pl_store_each(t, db, s_count_one, &n), PL_OK);
    pl_store_abort(&t);
    return n;
}

// a receipted kind: stored in the inbox, a receipt sealed to the sender
// in the outbox, both sent after the commit, then "taken"; a duplicate is
// answered with the same receipt again and taken, and stored once
static void
test_receipted_kind(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt = {0};
    s_test_env(f, id, &pkt);
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    int kinds[8];
    assert_int_equal(s_sent(f, id, kinds, 8), 2);
    assert_int_equal(kinds[0], PASSERELLE__V1__PACKET__KIND_ENVELOPE);
    assert_int_equal(kinds[1], PASSERELLE__V1__PACKET__KIND_TAKEN);
    assert_true(s_has(f, PL_DB_INBOX, id));
    assert_true(s_has(f, PL_DB_SEEN, id));
    assert_int_equal(s_count(f, PL_DB_OUTBOX), 1); // the receipt
    assert_int_equal(f->node->n.in_envelopes, 1);
    assert_int_equal(f->node->n.in_stored, 1);
    assert_int_equal(f->node->n.in_refused, 0);
    size_t audit = s_count(f, PL_DB_AUDIT);
    assert_true(audit >= 2); // received, and the receipt sent
    // the same envelope again (the broker redelivers)
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    assert_int_equal(s_sent(f, id, kinds, 8), 2);
    assert_int_equal(kinds[0], PASSERELLE__V1__PACKET__KIND_ENVELOPE);
    assert_int_equal(kinds[1], PASSERELLE__V1__PACKET__KIND_TAKEN);
    assert_int_equal(f->node->n.in_duplicates, 1);
    assert_int_equal(f->node->n.in_stored, 1);
    assert_int_equal(s_count(f, PL_DB_INBOX), 1);
    assert_int_equal(s_count(f, PL_DB_OUTBOX), 1);
    assert_int_equal(s_count(f, PL_DB_AUDIT), audit);
    pl_buf_free(&pkt);
}

// the receipt kind is not receipted: a verified receipt for our envelope
// settles its outbox entry, and is only taken (no receipt of a receipt)
static void
test_receipt_kind(void **state)
{
    pl_fakenode_t *f = *state;
    // our envelope to the peer, accepted by the broker
    Passerelle__V1__Message tm = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__TestMessage t = PASSERELLE__V1__TEST_MESSAGE__INIT;
    tm.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    tm.test = &t;
    pl_buf_t enc = {0};
    assert_int_equal(pl_message_encode(&tm, &enc), PL_OK);
    uint8_t out_id[PL_MSG_ID_BYTES];
    pl_txn_t *pass = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, true, &pass), PL_OK);
    assert_int_equal(pl_node_outbox_add(f->node, pass, "sn/clinic", S_KIND_TEST,
                                        enc.data, enc.len, 0, out_id),
                     PL_OK);
    assert_int_equal(pl_store_commit(&pass), PL_OK);
    pl_node_after_flush(f->node, true);
    pl_buf_free(&enc);
    assert_int_equal(pl_fakenode_drain(f), 1);
    const uint8_t *v;
    size_t vlen;
    pl_outrec_t r;
    pl_txn_t *rt = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &rt), PL_OK);
    assert_int_equal(
        pl_store_get(rt, PL_DB_OUTBOX, out_id, PL_MSG_ID_BYTES, &v, &vlen),
        PL_OK);
    assert_int_equal(pl_outrec_decode(v, vlen, &r), PL_OK);
    uint8_t digest[PL_DIGEST_BYTES];
    memcpy(digest, r.digest, sizeof digest);
    pl_store_abort(&rt);
    // the peer's receipt
    uint64_t at = pl_now();
    uint8_t sig[PL_SIG_BYTES];
    pl_receipt_sign(f->peer_keys, out_id, digest, at, sig);
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__Receipt rc = PASSERELLE__V1__RECEIPT__INIT;
    rc.message_id.data = out_id;
    rc.message_id.len = PL_MSG_ID_BYTES;
    rc.digest.data = digest;
    rc.digest.len = PL_DIGEST_BYTES;
    rc.received_at = at;
    rc.signature.data = sig;
    rc.signature.len = PL_SIG_BYTES;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_RECEIPT;
    m.receipt = &rc;
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt = {0};
    pl_fakenode_seal_msg(f, &m, id, &pkt);
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    int kinds[8];
    assert_int_equal(s_sent(f, id, kinds, 8), 1);
    assert_int_equal(kinds[0], PASSERELLE__V1__PACKET__KIND_TAKEN);
    assert_false(s_has(f, PL_DB_INBOX, id)); // not stored
    assert_true(s_has(f, PL_DB_SEEN, id));
    assert_int_equal(f->node->n.receipts_ok, 1);
    assert_int_equal(f->node->n.in_stored, 0);
    assert_int_equal(pl_node_resend_count(f->node), 0);
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &rt), PL_OK);
    assert_int_equal(
        pl_store_get(rt, PL_DB_OUTBOX, out_id, PL_MSG_ID_BYTES, &v, &vlen),
        PL_OK);
    assert_int_equal(pl_outrec_decode(v, vlen, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_RECEIPTED);
    assert_int_equal(r.receipt_at, at);
    assert_null(r.packet);
    pl_store_abort(&rt);
    assert_int_equal(s_count(f, PL_DB_OUTBOX), 1); // no receipt sent back
    pl_buf_free(&pkt);
    // a receipt for a message we never sent: refused, rejected
    uint8_t other[PL_MSG_ID_BYTES] = {7};
    rc.message_id.data = other;
    pkt.len = 0;
    pl_fakenode_seal_msg(f, &m, id, &pkt);
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    assert_int_equal(s_sent(f, id, kinds, 8), 1);
    assert_int_equal(kinds[0], PASSERELLE__V1__PACKET__KIND_REJECTED);
    assert_int_equal(f->node->n.in_refused, 1);
    pl_buf_free(&pkt);
}

// a body this code does not know (a reserved number of the Message oneof):
// refused for good (rejected, so the broker drops it), never stored,
// taken or receipted, and counted
static void
test_unknown_kind(void **state)
{
    pl_fakenode_t *f = *state;
    // field 9 (reserved: aggregate-report), length-delimited, empty
    static const uint8_t unknown[] = {(9 << 3) | 2, 0};
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt = {0};
    pl_fakenode_seal_in(f, unknown, sizeof unknown, id, &pkt);
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    int kinds[8];
    assert_int_equal(s_sent(f, id, kinds, 8), 1);
    assert_int_equal(kinds[0], PASSERELLE__V1__PACKET__KIND_REJECTED);
    assert_int_equal(f->node->n.in_refused, 1);
    assert_int_equal(f->node->n.in_stored, 0);
    assert_false(s_has(f, PL_DB_INBOX, id));
    assert_false(s_has(f, PL_DB_SEEN, id));
    assert_int_equal(s_count(f, PL_DB_OUTBOX), 0);
    pl_buf_free(&pkt);
}

// a full store: a receipted kind is deferred (not answered: the broker
// keeps and redelivers it), nothing stored; served once there is room
static void
test_store_full(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt = {0};
    s_test_env(f, id, &pkt);
    f->node->usage_pct = PL_STORE_FULL_PCT;
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    int kinds[8];
    assert_int_equal(s_sent(f, id, kinds, 8), 0);
    assert_int_equal(f->node->n.in_deferred, 1);
    assert_false(s_has(f, PL_DB_INBOX, id));
    assert_false(s_has(f, PL_DB_SEEN, id));
    f->node->usage_pct = 0;
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    assert_int_equal(s_sent(f, id, kinds, 8), 2);
    assert_true(s_has(f, PL_DB_INBOX, id));
    pl_buf_free(&pkt);
}

// the map fills under the nested transaction (the usage figure still says
// there is room): the error aborts that transaction and forgets its sends
// (no receipt, no taken), nothing of the envelope is kept, and the pass
// itself still commits
static void
test_store_error(void **state)
{
    pl_fakenode_t *f = *state;
    // fill the map with settings until it refuses, keeping what fit
    pl_txn_t *t = NULL;
    static uint8_t junk[16384];
    memset(junk, 0x5a, sizeof junk);
    int rc = PL_OK;
    for (uint32_t k = 0; rc == PL_OK && k < 100000; k++) {
        assert_int_equal(pl_store_begin(f->node->store, NULL, true, &t), PL_OK);
        char key[32];
        int kl = snprintf(key, sizeof key, "fill-%u", k);
        rc = pl_store_put(t, PL_DB_SETTINGS, key, (size_t) kl, junk,
                          sizeof junk);
        if (rc == PL_OK)
            rc = pl_store_commit(&t);
        else
            pl_store_abort(&t);
    }
    assert_int_equal(rc, PL_EFULL);
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt = {0};
    s_test_env(f, id, &pkt);
    f->node->usage_pct = 0;
    assert_int_equal(f->node->full_logged_ms, 0);
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    int kinds[8];
    assert_int_equal(s_sent(f, id, kinds, 8), 0);
    assert_int_equal(f->node->nafter, 0);
    assert_false(s_has(f, PL_DB_INBOX, id));
    assert_false(s_has(f, PL_DB_SEEN, id));
    assert_int_equal(s_count(f, PL_DB_OUTBOX), 0);
    assert_int_equal(f->node->n.in_stored, 0);
    assert_true(f->node->full_logged_ms != 0); // one store_full line
    pl_buf_free(&pkt);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipted_kind, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_kind, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kind, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_error, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
