// test_handover - the handover lifecycle (nodes/pl_handover): every cell
// of the state table against an independent model written out from
// DESIGN.md §7.2, the side of every event, names, and the crossing of the
// sender's withdrawal with the recipient's steps.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <string.h>

#include "nodes/pl_handover.h"

typedef pl_handover_state_t st_t;
typedef pl_handover_event_t ev_t;

// ---- the independent model: DESIGN.md §7.2 by hand
// sent -> acknowledged -> accepted | rejected -> arrived | no-show;
// withdrawn before arrival, by the sender.
static const struct {
    st_t from;
    ev_t event;
    st_t to;
    pl_handover_side_t side;
} s_allowed[] = {
    {PL_HS_SENT, PL_HE_ACK, PL_HS_ACKNOWLEDGED, PL_HSIDE_RECIPIENT},
    {PL_HS_ACKNOWLEDGED, PL_HE_ACCEPT, PL_HS_ACCEPTED, PL_HSIDE_RECIPIENT},
    {PL_HS_ACKNOWLEDGED, PL_HE_REJECT, PL_HS_REJECTED, PL_HSIDE_RECIPIENT},
    {PL_HS_ACCEPTED, PL_HE_ARRIVED, PL_HS_ARRIVED, PL_HSIDE_RECIPIENT},
    {PL_HS_ACCEPTED, PL_HE_NO_SHOW, PL_HS_NO_SHOW, PL_HSIDE_RECIPIENT},
    {PL_HS_SENT, PL_HE_WITHDRAW, PL_HS_WITHDRAWN, PL_HSIDE_SENDER},
    {PL_HS_ACKNOWLEDGED, PL_HE_WITHDRAW, PL_HS_WITHDRAWN, PL_HSIDE_SENDER},
    {PL_HS_ACCEPTED, PL_HE_WITHDRAW, PL_HS_WITHDRAWN, PL_HSIDE_SENDER},
};
#define S_NALLOWED (sizeof s_allowed / sizeof s_allowed[0])

static bool
s_model_terminal(st_t s)
{
    return s == PL_HS_REJECTED || s == PL_HS_ARRIVED || s == PL_HS_NO_SHOW
           || s == PL_HS_WITHDRAWN;
}

static pl_handover_side_t
s_model_side(ev_t e)
{
    return e == PL_HE_WITHDRAW ? PL_HSIDE_SENDER : PL_HSIDE_RECIPIENT;
}

// Every (state, event, side) cell: allowed exactly where the model says,
// with the model's next state; refused with the model's reason elsewhere.
static void
test_every_cell(void **state)
{
    (void) state;
    size_t applied = 0;
    for (int s = 0; s < PL_HS_COUNT; s++)
        for (int e = 0; e < PL_HE_COUNT; e++)
            for (int d = 0; d < PL_HSIDE_COUNT; d++) {
                const st_t *want = NULL;
                for (size_t i = 0; i < S_NALLOWED; i++)
                    if ((int) s_allowed[i].from == s
                        && (int) s_allowed[i].event == e
                        && (int) s_allowed[i].side == d)
                        want = &s_allowed[i].to;
                st_t next = PL_HS_COUNT;
                pl_handover_result_t r = pl_handover_transition(
                    (st_t) s, (ev_t) e, (pl_handover_side_t) d, &next);
                if (want) {
                    if (r != PL_HO_APPLIED || next != *want)
                        fail_msg("%s %s by %s: got %s -> %s",
                                 pl_handover_state_name((st_t) s),
                                 pl_handover_event_name((ev_t) e),
                                 pl_handover_side_name((pl_handover_side_t) d),
                                 pl_handover_result_name(r),
                                 pl_handover_state_name(next));
                    applied++;
                    continue;
                }
                pl_handover_result_t expect =
                    s_model_terminal((st_t) s) ? PL_HO_REFUSED_TERMINAL
                    : s_model_side((ev_t) e) != (pl_handover_side_t) d
                        ? PL_HO_REFUSED_SIDE
                        : PL_HO_REFUSED_STATE;
                if (r != expect || next != (st_t) s)
                    fail_msg("%s %s by %s: got %s, want %s",
                             pl_handover_state_name((st_t) s),
                             pl_handover_event_name((ev_t) e),
                             pl_handover_side_name((pl_handover_side_t) d),
                             pl_handover_result_name(r),
                             pl_handover_result_name(expect));
                assert_true(pl_handover_result_refused(r));
                assert_int_not_equal(pl_handover_result_err(r), PL_OK);
            }
    assert_int_equal(applied, S_NALLOWED);
}

static void
test_names(void **state)
{
    (void) state;
    for (int s = 0; s < PL_HS_COUNT; s++) {
        st_t back;
        assert_int_equal(
            pl_handover_state_parse(pl_handover_state_name((st_t) s), &back),
            PL_OK);
        assert_int_equal(back, s);
        assert_int_equal(pl_handover_is_terminal((st_t) s),
                         s_model_terminal((st_t) s));
    }
    for (int e = 0; e < PL_HE_COUNT; e++) {
        ev_t back;
        assert_int_equal(
            pl_handover_event_parse(pl_handover_event_name((ev_t) e), &back),
            PL_OK);
        assert_int_equal(back, e);
        assert_int_equal(pl_handover_event_side((ev_t) e),
                         s_model_side((ev_t) e));
        ev_t of;
        assert_int_equal(
            pl_handover_event_of(pl_handover_event_target((ev_t) e), &of),
            PL_OK);
        assert_int_equal(of, e);
    }
    assert_string_equal(pl_handover_state_name(PL_HS_NO_SHOW), "no-show");
    assert_string_equal(pl_handover_event_name(PL_HE_NO_SHOW), "no-show");
    st_t s;
    assert_int_equal(pl_handover_state_parse("Sent", &s), PL_EINVAL);
    assert_int_equal(pl_handover_state_parse("no_show", &s), PL_EINVAL);
    ev_t e;
    assert_int_equal(pl_handover_event_of(PL_HS_SENT, &e), PL_EINVAL);
    assert_true(pl_handover_event_needs_reason(PL_HE_REJECT));
    assert_true(pl_handover_event_needs_reason(PL_HE_WITHDRAW));
    assert_false(pl_handover_event_needs_reason(PL_HE_ACCEPT));
    char text[160];
    pl_handover_refusal_text(text, sizeof text, PL_HO_REFUSED_SIDE,
                             PL_HS_ACKNOWLEDGED, PL_HE_ACCEPT, PL_HSIDE_SENDER);
    assert_string_equal(text, "handover: only the recipient may accept a "
                              "handover (this is the sender)");
}

// The whole way at both sides, then the crossings.
static void
test_tracks(void **state)
{
    (void) state;
    pl_handover_track_t snd, rcp;
    pl_handover_track_init(&snd, PL_HSIDE_SENDER);
    pl_handover_track_init(&rcp, PL_HSIDE_RECIPIENT);
    assert_int_equal(pl_handover_track_state(&snd), PL_HS_SENT);
    const ev_t way[] = {PL_HE_ACK, PL_HE_ACCEPT, PL_HE_ARRIVED};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(pl_handover_track_act(&snd, way[i]),
                         PL_HO_REFUSED_SIDE);
        assert_int_equal(pl_handover_track_act(&rcp, way[i]), PL_HO_APPLIED);
        assert_int_equal(
            pl_handover_track_apply(&snd, way[i], PL_HSIDE_RECIPIENT),
            PL_HO_APPLIED);
        assert_int_equal(pl_handover_track_state(&snd),
                         pl_handover_track_state(&rcp));
    }
    assert_int_equal(pl_handover_track_state(&snd), PL_HS_ARRIVED);
    assert_int_equal(pl_handover_track_act(&snd, PL_HE_WITHDRAW),
                     PL_HO_REFUSED_TERMINAL);
    // a step of its own side coming from outside is refused
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_WITHDRAW, PL_HSIDE_SENDER),
        PL_HO_REFUSED_SIDE);

    // withdrawal crossing an acceptance: both end withdrawn
    pl_handover_track_init(&snd, PL_HSIDE_SENDER);
    pl_handover_track_init(&rcp, PL_HSIDE_RECIPIENT);
    assert_int_equal(pl_handover_track_act(&rcp, PL_HE_ACK), PL_HO_APPLIED);
    assert_int_equal(pl_handover_track_act(&rcp, PL_HE_ACCEPT), PL_HO_APPLIED);
    assert_int_equal(pl_handover_track_act(&snd, PL_HE_WITHDRAW),
                     PL_HO_APPLIED);
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_ACK, PL_HSIDE_RECIPIENT),
        PL_HO_AFTER_WITHDRAW);
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_ACCEPT, PL_HSIDE_RECIPIENT),
        PL_HO_AFTER_WITHDRAW);
    assert_int_equal(
        pl_handover_track_apply(&rcp, PL_HE_WITHDRAW, PL_HSIDE_SENDER),
        PL_HO_APPLIED);
    assert_int_equal(pl_handover_track_state(&snd), PL_HS_WITHDRAWN);
    assert_int_equal(pl_handover_track_state(&rcp), PL_HS_WITHDRAWN);
    assert_int_equal(pl_handover_track_act(&rcp, PL_HE_ARRIVED),
                     PL_HO_REFUSED_TERMINAL);
    assert_int_equal(
        pl_handover_track_apply(&rcp, PL_HE_WITHDRAW, PL_HSIDE_SENDER),
        PL_HO_DUPLICATE);

    // withdrawal crossing an arrival: the arrival wins on both sides
    pl_handover_track_init(&snd, PL_HSIDE_SENDER);
    pl_handover_track_init(&rcp, PL_HSIDE_RECIPIENT);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(pl_handover_track_act(&rcp, way[i]), PL_HO_APPLIED);
    assert_int_equal(pl_handover_track_act(&snd, PL_HE_WITHDRAW),
                     PL_HO_APPLIED);
    assert_int_equal(
        pl_handover_track_apply(&rcp, PL_HE_WITHDRAW, PL_HSIDE_SENDER),
        PL_HO_WITHDRAW_TOO_LATE);
    assert_int_equal(pl_handover_track_state(&rcp), PL_HS_ARRIVED);
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_ACK, PL_HSIDE_RECIPIENT),
        PL_HO_AFTER_WITHDRAW);
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_ACCEPT, PL_HSIDE_RECIPIENT),
        PL_HO_AFTER_WITHDRAW);
    assert_int_equal(pl_handover_track_state(&snd), PL_HS_WITHDRAWN);
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_ARRIVED, PL_HSIDE_RECIPIENT),
        PL_HO_WITHDRAW_TOO_LATE);
    assert_int_equal(pl_handover_track_state(&snd), PL_HS_ARRIVED);

    // a recipient step out of its own order is refused, nothing moves
    pl_handover_track_init(&snd, PL_HSIDE_SENDER);
    assert_int_equal(
        pl_handover_track_apply(&snd, PL_HE_ARRIVED, PL_HSIDE_RECIPIENT),
        PL_HO_REFUSED_STATE);
    assert_int_equal(pl_handover_track_state(&snd), PL_HS_SENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cell),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_tracks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
