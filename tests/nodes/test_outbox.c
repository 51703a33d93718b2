// test_outbox - the outbox lifecycle table (nodes/pl_outbox_state.h), no
// daemon: every [state][answer] cell against the lifecycle the node had
// before the table (issue 12 keeps behaviour: a late or repeated answer
// changes nothing, a receipt settles any entry not yet receipted, a
// "not now" rejection keeps the entry pending), which reasons are "not
// now", which states are final (pruned) and which keep their bytes.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdbool.h>
#include <string.h>

#include "nodes/pl_outbox_state.h"
#include "proto/pl_wire.h"

static void
s_table(void **state)
{
    (void) state;
    static const struct {
        int from;
        pl_out_event_t ev;
        int to;
    } cells[] = {
        {S_OUT_PENDING, PL_OUT_EV_ACCEPTED, S_OUT_ACCEPTED},
        {S_OUT_PENDING, PL_OUT_EV_EXPIRED, S_OUT_EXPIRED},
        {S_OUT_PENDING, PL_OUT_EV_REJECTED, S_OUT_REJECTED},
        {S_OUT_PENDING, PL_OUT_EV_RETRY, S_OUT_PENDING},
        {S_OUT_PENDING, PL_OUT_EV_RECEIPT, S_OUT_RECEIPTED},
        {S_OUT_ACCEPTED, PL_OUT_EV_ACCEPTED, S_OUT_ACCEPTED},
        {S_OUT_ACCEPTED, PL_OUT_EV_EXPIRED, S_OUT_EXPIRED},
        {S_OUT_ACCEPTED, PL_OUT_EV_REJECTED, S_OUT_REJECTED},
        {S_OUT_ACCEPTED, PL_OUT_EV_RETRY, S_OUT_ACCEPTED},
        {S_OUT_ACCEPTED, PL_OUT_EV_RECEIPT, S_OUT_RECEIPTED},
        {S_OUT_RECEIPTED, PL_OUT_EV_ACCEPTED, S_OUT_RECEIPTED},
        {S_OUT_RECEIPTED, PL_OUT_EV_EXPIRED, S_OUT_RECEIPTED},
        {S_OUT_RECEIPTED, PL_OUT_EV_REJECTED, S_OUT_RECEIPTED},
        {S_OUT_RECEIPTED, PL_OUT_EV_RETRY, S_OUT_RECEIPTED},
        {S_OUT_RECEIPTED, PL_OUT_EV_RECEIPT, S_OUT_RECEIPTED},
        {S_OUT_REJECTED, PL_OUT_EV_ACCEPTED, S_OUT_REJECTED},
        {S_OUT_REJECTED, PL_OUT_EV_EXPIRED, S_OUT_REJECTED},
        {S_OUT_REJECTED, PL_OUT_EV_REJECTED, S_OUT_REJECTED},
        {S_OUT_REJECTED, PL_OUT_EV_RETRY, S_OUT_REJECTED},
        {S_OUT_REJECTED, PL_OUT_EV_RECEIPT, S_OUT_RECEIPTED},
        {S_OUT_EXPIRED, PL_OUT_EV_ACCEPTED, S_OUT_EXPIRED},
        {S_OUT_EXPIRED, PL_OUT_EV_EXPIRED, S_OUT_EXPIRED},
        {S_OUT_EXPIRED, PL_OUT_EV_REJECTED, S_OUT_EXPIRED},
        {S_OUT_EXPIRED, PL_OUT_EV_RETRY, S_OUT_EXPIRED},
        {S_OUT_EXPIRED, PL_OUT_EV_RECEIPT, S_OUT_RECEIPTED},
    };
    size_t n = sizeof cells / sizeof cells[0];
    assert_int_equal(n, 5 * PL_OUT_EV_COUNT); // every cell, once
    for (size_t i = 0; i < n; i++) {
        int got = pl_outbox_next(cells[i].from, cells[i].ev);
        if (got != cells[i].to)
            fail_msg("%s + event %d: %s, want %s",
                     pl_outrec_state_name(cells[i].from), (int) cells[i].ev,
                     pl_outrec_state_name(got),
                     pl_outrec_state_name(cells[i].to));
    }
}

static void
s_not_a_state(void **state)
{
    (void) state;
    assert_int_equal(pl_outbox_next(0, PL_OUT_EV_ACCEPTED), 0);
    assert_int_equal(pl_outbox_next(6, PL_OUT_EV_RECEIPT), 0);
    assert_int_equal(pl_outbox_next(255, PL_OUT_EV_EXPIRED), 0);
    assert_int_equal(pl_outbox_next(S_OUT_PENDING, PL_OUT_EV_COUNT), 0);
    assert_string_equal(pl_outrec_state_name(0), "unknown");
    assert_string_equal(pl_outrec_state_name(6), "unknown");
    assert_string_equal(pl_outrec_state_name(-1), "unknown");
}

static void
s_names(void **state)
{
    (void) state;
    // the names of `outbox --json` (DESIGN.md §9) and of the stats counters
    assert_string_equal(pl_outrec_state_name(S_OUT_PENDING), "pending");
    assert_string_equal(pl_outrec_state_name(S_OUT_ACCEPTED), "accepted");
    assert_string_equal(pl_outrec_state_name(S_OUT_RECEIPTED), "receipted");
    assert_string_equal(pl_outrec_state_name(S_OUT_REJECTED), "rejected");
    assert_string_equal(pl_outrec_state_name(S_OUT_EXPIRED), "expired");
    // stored numbers: never renumbered
    assert_int_equal(S_OUT_PENDING, 1);
    assert_int_equal(S_OUT_EXPIRED, 5);
}

static void
s_retry_reasons(void **state)
{
    (void) state;
    for (int r = 0; r <= 40; r++) {
        bool want = r == PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL
                    || r >= PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR;
        if (pl_outbox_reason_retry(r) != want)
            fail_msg("reason %d (%s): retry %d, want %d", r,
                     pl_wire_reason_name((Passerelle__V1__RejectReason) r),
                     !want, want);
    }
    // for good: the sender or the envelope is wrong
    assert_false(pl_outbox_reason_retry(
        PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT));
    assert_false(
        pl_outbox_reason_retry(PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED));
}

static void
s_final_and_bytes(void **state)
{
    (void) state;
    assert_false(pl_outbox_final(S_OUT_PENDING));
    assert_false(pl_outbox_final(S_OUT_ACCEPTED));
    assert_true(pl_outbox_final(S_OUT_RECEIPTED));
    assert_true(pl_outbox_final(S_OUT_REJECTED));
    assert_true(pl_outbox_final(S_OUT_EXPIRED));
    assert_false(pl_outbox_final(0));
    for (int s = S_OUT_PENDING; s <= PL_OUT_STATE_MAX; s++)
        assert_int_equal(pl_outbox_keeps_packet(s), !pl_outbox_final(s));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(s_table),           cmocka_unit_test(s_not_a_state),
        cmocka_unit_test(s_names),           cmocka_unit_test(s_retry_reasons),
        cmocka_unit_test(s_final_and_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
