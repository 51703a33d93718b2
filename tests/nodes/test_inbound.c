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

// An envelope from the peer holding a TestMessage.
static void
s_test_env(pl_fakenode_t *f, uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *pkt)
{
    pl_buf_t enc = {0};
    pl_fakenode_test_msg(&enc, "bonjour");
    pl_fakenode_seal_in(f, enc.data, enc.len, id, pkt);
    pl_buf_free(&enc);
}

// What the node sent after the pass, in order: their kinds into 'kinds'
// (at most 'max'); returns how many. A taken or rejected packet must
// carry 'id'.
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
    assert_true(pl_fakenode_has(f, PL_DB_INBOX, id));
    assert_true(pl_fakenode_has(f, PL_DB_SEEN, id));
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 1); // the receipt
    assert_int_equal(f->node->n.in_envelopes, 1);
    assert_int_equal(f->node->n.in_stored, 1);
    assert_int_equal(f->node->n.in_refused, 0);
    size_t audit = pl_fakenode_count(f, PL_DB_AUDIT);
    assert_true(audit >= 2); // received, and the receipt sent
    // the same envelope again (the broker redelivers)
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    assert_int_equal(s_sent(f, id, kinds, 8), 2);
    assert_int_equal(kinds[0], PASSERELLE__V1__PACKET__KIND_ENVELOPE);
    assert_int_equal(kinds[1], PASSERELLE__V1__PACKET__KIND_TAKEN);
    assert_int_equal(f->node->n.in_duplicates, 1);
    assert_int_equal(f->node->n.in_stored, 1);
    assert_int_equal(pl_fakenode_count(f, PL_DB_INBOX), 1);
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 1);
    assert_int_equal(pl_fakenode_count(f, PL_DB_AUDIT), audit);
    pl_buf_free(&pkt);
}

// the receipt kind is not receipted: a verified receipt for our envelope
// settles its outbox entry, and is only taken (no receipt of a receipt)
static void
test_receipt_kind(void **state)
{
    pl_fakenode_t *f = *state;
    // our envelope to the peer, accepted by the broker
    uint8_t out_id[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", out_id), PL_OK);
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
    assert_false(pl_fakenode_has(f, PL_DB_INBOX, id)); // not stored
    assert_true(pl_fakenode_has(f, PL_DB_SEEN, id));
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
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX),
                     1); // no receipt sent back
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
    assert_false(pl_fakenode_has(f, PL_DB_INBOX, id));
    assert_false(pl_fakenode_has(f, PL_DB_SEEN, id));
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 0);
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
    assert_false(pl_fakenode_has(f, PL_DB_INBOX, id));
    assert_false(pl_fakenode_has(f, PL_DB_SEEN, id));
    f->node->usage_pct = 0;
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    assert_int_equal(s_sent(f, id, kinds, 8), 2);
    assert_true(pl_fakenode_has(f, PL_DB_INBOX, id));
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
    assert_false(pl_fakenode_has(f, PL_DB_INBOX, id));
    assert_false(pl_fakenode_has(f, PL_DB_SEEN, id));
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 0);
    assert_int_equal(f->node->n.in_stored, 0);
    assert_true(f->node->full_logged_ms != 0); // one store_full line
    pl_buf_free(&pkt);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipted_kind, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_receipt_kind, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kind, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_store_full, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_store_error, pl_fakenode_setup,
                                        pl_fakenode_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
