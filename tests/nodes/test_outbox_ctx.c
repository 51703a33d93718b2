// test_outbox_ctx - the outbox (nodes/pl_outbox.c) on the daemon's state
// built by hand (tests/lib/nodes/pl_fakenode: a temp store, fresh keys, a
// directory of one peer, an inproc pair for the DEALER), no daemon, no
// broker (issue 12, item 7): an envelope is queued and committed, sent
// only after its pass commits, refused (nothing written, nothing queued)
// for an unknown recipient, a bad clock or a full store; the resend
// schedule holds one entry per id and backs off; the broker's answers move
// the entry as pl_outbox_state.h says (accepted, expired, rejected for
// good, retry later keeps it pending and moves its resend).
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

// The stored outbox record of 'id' (its packet pointer cleared): PL_OK or
// PL_ENOTFOUND.
static int
s_rec(pl_fakenode_t *f, const uint8_t id[PL_MSG_ID_BYTES], pl_outrec_t *r)
{
    pl_txn_t *t = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &t), PL_OK);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(t, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, &v, &vlen);
    if (rc == PL_OK)
        assert_int_equal(pl_outrec_decode(v, vlen, r), PL_OK);
    r->packet = NULL;
    pl_store_abort(&t);
    return rc;
}

// A broker answer for 'id' in a pass of its own.
static void
s_answer(pl_fakenode_t *f, const uint8_t *id, int kind, int reason)
{
    pl_txn_t *pass = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, true, &pass), PL_OK);
    assert_int_equal(
        pl_node_outbox_answer(f->node, pass, id, kind, reason, "test"), PL_OK);
    assert_int_equal(pl_store_commit(&pass), PL_OK);
    pl_node_resend_settle(f->node, true);
}

// queued: one record, pending, sent once the pass committed, one resend
// entry due after the first backoff
static void
test_queue(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t id[PL_MSG_ID_BYTES];
    uint64_t before = pl_mono_ms();
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id), PL_OK);
    pl_outrec_t r;
    assert_int_equal(s_rec(f, id, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_PENDING);
    assert_int_equal(r.kind, S_KIND_TEST);
    assert_string_equal(r.to, "sn/clinic");
    assert_true(r.packet_len > 0);
    assert_true(r.expires_at > r.created_at);
    // the envelope went out after the commit, with its id
    pl_packet_t *p = pl_fakenode_sent(f, 2000);
    assert_non_null(p);
    assert_int_equal(p->kind_case, PASSERELLE__V1__PACKET__KIND_ENVELOPE);
    pl_envelope_t env;
    pl_envelope_view(p->envelope, &env);
    pl_header_t h;
    assert_int_equal(pl_header_decode(env.header, env.header_len, &h), PL_OK);
    assert_memory_equal(h.id, id, PL_MSG_ID_BYTES);
    assert_string_equal(h.to, "sn/clinic");
    uint8_t digest[PL_DIGEST_BYTES];
    pl_envelope_digest(&env, digest);
    assert_memory_equal(digest, r.digest, PL_DIGEST_BYTES);
    pl_wire_free(&p);
    assert_int_equal(pl_fakenode_drain(f), 0);
    assert_int_equal(pl_node_resend_count(f->node), 1);
    assert_true(f->node->rs[0].due_ms >= before + S_RESEND_FIRST_MS);
    // a second envelope: a second entry, never two for one id
    uint8_t id2[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id2), PL_OK);
    assert_int_equal(pl_node_resend_count(f->node), 2);
    pl_node_resend_add(f->node, id2, 20000);
    assert_int_equal(pl_node_resend_count(f->node), 2);
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 2);
}

// refused before anything is written or queued
static void
test_refusals(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t id[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/nobody", id), PL_ENOTFOUND);
    f->node->skewed = true;
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id), PL_ESTATE);
    f->node->skewed = false;
    // the store-full path: at PL_STORE_FULL_PCT of the map, no new work
    f->node->usage_pct = PL_STORE_FULL_PCT;
    assert_true(pl_node_store_full(f->node));
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id), PL_EFULL);
    f->node->usage_pct = PL_STORE_FULL_PCT - 1;
    assert_false(pl_node_store_full(f->node));
    // a revoked or expired peer is refused with its reason
    f->node->dir[0].not_after = pl_now() - 10;
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id), PL_EEXPIRED);
    f->node->dir[0].not_after = pl_now() + 86400;
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 0);
    assert_int_equal(pl_node_resend_count(f->node), 0);
    assert_int_equal(pl_fakenode_drain(f), 0);
    assert_int_equal(f->node->nafter, 0);
    // and then it goes
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id), PL_OK);
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 1);
}

// a pass that does not commit sends nothing and keeps no resend
static void
test_abort_sends_nothing(void **state)
{
    pl_fakenode_t *f = *state;
    pl_buf_t msg = {0};
    pl_fakenode_test_msg(&msg, "hello");
    uint8_t id[PL_MSG_ID_BYTES];
    pl_txn_t *pass = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, true, &pass), PL_OK);
    assert_int_equal(pl_node_outbox_add(f->node, pass, "sn/clinic", S_KIND_TEST,
                                        msg.data, msg.len, 0, id),
                     PL_OK);
    pl_buf_free(&msg);
    assert_int_equal(f->node->nafter, 1);
    pl_store_abort(&pass);
    pl_node_after_flush(f->node, false);
    assert_int_equal(pl_fakenode_drain(f), 0);
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 0);
    // the schedule entry of an id that was never committed finds no
    // record when it comes due, and is dropped then
    f->node->rs[0].due_ms = 0;
    assert_false(pl_node_resend_due(f->node));
    assert_int_equal(pl_node_resend_count(f->node), 0);
    assert_int_equal(pl_fakenode_drain(f), 0);
}

// the resend schedule: nothing before due, then one send and a doubled
// backoff; an entry settled in a committed pass leaves the schedule
static void
test_resend(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t id[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", id), PL_OK);
    assert_int_equal(pl_fakenode_drain(f), 1);
    assert_false(pl_node_resend_due(f->node));
    assert_int_equal(pl_fakenode_drain(f), 0);
    f->node->rs[0].due_ms = 0; // comes due
    uint64_t now = pl_mono_ms();
    assert_false(pl_node_resend_due(f->node));
    pl_packet_t *p = pl_fakenode_sent(f, 2000);
    assert_non_null(p);
    assert_int_equal(p->kind_case, PASSERELLE__V1__PACKET__KIND_ENVELOPE);
    pl_wire_free(&p);
    assert_int_equal(f->node->n.resent, 1);
    assert_int_equal(f->node->rs[0].backoff_ms, 2 * S_RESEND_FIRST_MS);
    // jittered by up to a quarter of the backoff, never more
    assert_true(f->node->rs[0].due_ms >= now + S_RESEND_FIRST_MS * 3 / 2);
    assert_true(f->node->rs[0].due_ms <= pl_mono_ms() + 2 * S_RESEND_FIRST_MS);
    // the backoff stops at its ceiling
    for (int i = 0; i < 8; i++) {
        f->node->rs[0].due_ms = 0;
        assert_false(pl_node_resend_due(f->node));
    }
    assert_int_equal(f->node->rs[0].backoff_ms, S_RESEND_MAX_MS);
    assert_int_equal(pl_fakenode_drain(f), 8);
    // accepted: the entry leaves the schedule once that pass committed
    s_answer(f, id, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 0);
    assert_int_equal(pl_node_resend_count(f->node), 0);
}

// the broker's answers, as the table of pl_outbox_state.h says
static void
test_answers(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t a[PL_MSG_ID_BYTES], b[PL_MSG_ID_BYTES], c[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", a), PL_OK);
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", b), PL_OK);
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", c), PL_OK);
    assert_int_equal(pl_node_resend_count(f->node), 3);
    pl_outrec_t r;
    // accepted, then expired in the broker's queue: bytes dropped
    s_answer(f, a, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 0);
    assert_int_equal(s_rec(f, a, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_ACCEPTED);
    assert_true(r.packet_len > 0);
    s_answer(f, a, PASSERELLE__V1__PACKET__KIND_EXPIRED, 0);
    assert_int_equal(s_rec(f, a, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_EXPIRED);
    assert_int_equal(r.packet_len, 0);
    // a late "accepted" changes nothing
    s_answer(f, a, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 0);
    assert_int_equal(s_rec(f, a, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_EXPIRED);
    // "retry later" (the broker's store is full): still pending, its one
    // entry moved out by at least the store-full backoff less its jitter
    uint64_t now = pl_mono_ms();
    s_answer(f, b, PASSERELLE__V1__PACKET__KIND_REJECTED,
             PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL);
    assert_int_equal(s_rec(f, b, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_PENDING);
    assert_int_equal(pl_node_resend_count(f->node), 2);
    bool found = false;
    for (size_t i = 0; i < f->node->nrs; i++)
        if (memcmp(f->node->rs[i].id, b, PL_MSG_ID_BYTES) == 0) {
            found = true;
            assert_true(f->node->rs[i].backoff_ms >= S_RETRY_FULL_MS);
            assert_true(f->node->rs[i].due_ms >= now + S_RETRY_FULL_MS * 3 / 4);
        }
    assert_true(found);
    // rejected for good: the reason kept, bytes dropped, schedule left
    s_answer(f, c, PASSERELLE__V1__PACKET__KIND_REJECTED,
             PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED);
    assert_int_equal(s_rec(f, c, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_REJECTED);
    assert_int_equal(r.reason,
                     PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED);
    assert_int_equal(r.packet_len, 0);
    assert_int_equal(pl_node_resend_count(f->node), 1);
    // an answer for an id the outbox never had: nothing
    uint8_t none[PL_MSG_ID_BYTES] = {9};
    s_answer(f, none, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 0);
    assert_int_equal(s_rec(f, none, &r), PL_ENOTFOUND);
    assert_int_equal(pl_fakenode_count(f, PL_DB_OUTBOX), 3);
}

static size_t
s_audits(pl_fakenode_t *f)
{
    pl_txn_t *t = NULL;
    size_t n = 0;
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &t), PL_OK);
    assert_int_equal(pl_store_count(t, PL_DB_AUDIT, &n), PL_OK);
    pl_store_abort(&t);
    return n;
}

// The broker's `expired` for 'id', with the recipient's refusal code when
// 'refused' >= 0, through the inbound dispatch as the loop runs it.
static void
s_expired_in(pl_fakenode_t *f, const uint8_t *id, int refused)
{
    pl_buf_t b = {0};
    assert_int_equal(pl_wire_expired(id, "sn/clinic", refused, &b), PL_OK);
    assert_int_equal(pl_fakenode_pass(f, b.data, b.len), PL_OK);
    pl_buf_free(&b);
}

// a refusal for good by the recipient's node (the broker's `expired` with
// a code): rejected with that code, bytes dropped, out of the resend
// schedule, audited once; a plain `expired` stays expired, audited too;
// a repeated notice changes nothing
static void
test_refused_by_recipient(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t a[PL_MSG_ID_BYTES], b[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", a), PL_OK);
    assert_int_equal(pl_fakenode_outbox_add(f, "sn/clinic", b), PL_OK);
    s_answer(f, a, PASSERELLE__V1__PACKET__KIND_ACCEPTED, 0);
    size_t audits = s_audits(f);
    int bad = PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE;
    s_expired_in(f, a, bad);
    pl_outrec_t r;
    assert_int_equal(s_rec(f, a, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_REJECTED);
    assert_int_equal(r.reason, bad);
    assert_int_equal(r.packet_len, 0);
    assert_int_equal(s_audits(f), audits + 1);
    s_expired_in(f, a, bad); // told twice
    assert_int_equal(s_audits(f), audits + 1);
    // a plain expiry of a pending one
    s_expired_in(f, b, -1);
    assert_int_equal(s_rec(f, b, &r), PL_OK);
    assert_int_equal(r.state, S_OUT_EXPIRED);
    assert_int_equal(s_audits(f), audits + 2);
    assert_int_equal(pl_node_resend_count(f->node), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(
            test_abort_sends_nothing, pl_fakenode_setup, pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_resend, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_answers, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(
            test_refused_by_recipient, pl_fakenode_setup, pl_fakenode_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
