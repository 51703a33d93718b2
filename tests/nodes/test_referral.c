// test_referral - the referral lifecycle (nodes/pl_referral): the state
// table against an independent model, sequence numbers and out-of-order
// delivery, crossing of a cancellation with a terminal state, overdue.
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

#include "nodes/pl_referral.h"

#define HOUR 3600u
#define DAY  86400u

typedef pl_referral_state_t st_t;
typedef pl_referral_event_t ev_t;

// ---- the independent model: DESIGN.md §6 written out by hand

static const struct {
    st_t from;  // state
    ev_t event; // event
    st_t to;    // next state
} s_allowed[] = {
    {PL_RS_REQUESTED, PL_RE_RECEIVE, PL_RS_RECEIVED},
    {PL_RS_RECEIVED, PL_RE_ACCEPT, PL_RS_ACCEPTED},
    {PL_RS_RECEIVED, PL_RE_REJECT, PL_RS_REJECTED},
    {PL_RS_ACCEPTED, PL_RE_START, PL_RS_IN_PROGRESS},
    {PL_RS_IN_PROGRESS, PL_RE_HOLD, PL_RS_ON_HOLD},
    {PL_RS_ON_HOLD, PL_RE_RESUME, PL_RS_IN_PROGRESS},
    {PL_RS_IN_PROGRESS, PL_RE_COMPLETE, PL_RS_COMPLETED},
    {PL_RS_ACCEPTED, PL_RE_COMPLETE, PL_RS_COMPLETED},
    {PL_RS_REQUESTED, PL_RE_CANCEL, PL_RS_CANCELLED},
    {PL_RS_RECEIVED, PL_RE_CANCEL, PL_RS_CANCELLED},
    {PL_RS_ACCEPTED, PL_RE_CANCEL, PL_RS_CANCELLED},
    {PL_RS_IN_PROGRESS, PL_RE_CANCEL, PL_RS_CANCELLED},
    {PL_RS_ON_HOLD, PL_RE_CANCEL, PL_RS_CANCELLED},
};

static pl_referral_side_t
s_owner(ev_t e)
{
    return e == PL_RE_CANCEL ? PL_SIDE_SENDER : PL_SIDE_RECIPIENT;
}

static bool
s_model_terminal(st_t s)
{
    return s == PL_RS_REJECTED || s == PL_RS_COMPLETED || s == PL_RS_CANCELLED;
}

// Expected result of (from, event, side) and the expected next state.
static pl_referral_result_t
s_model(st_t from, ev_t e, pl_referral_side_t side, st_t *to)
{
    *to = from;
    if (s_model_terminal(from))
        return PL_REF_REFUSED_TERMINAL;
    if (side != s_owner(e))
        return PL_REF_REFUSED_SIDE;
    for (size_t i = 0; i < sizeof s_allowed / sizeof s_allowed[0]; i++)
        if (s_allowed[i].from == from && s_allowed[i].event == e) {
            *to = s_allowed[i].to;
            return PL_REF_APPLIED;
        }
    return PL_REF_REFUSED_STATE;
}

static pl_referral_outcome_t
s_outcome_for(ev_t e)
{
    return e == PL_RE_COMPLETE ? PL_OUTCOME_SUCCESSFUL : PL_OUTCOME_NONE;
}

// An update of 'by' with 'seq' moving to 'to'.
static pl_referral_update_t
s_upd(pl_referral_side_t by, uint32_t seq, st_t to)
{
    return (pl_referral_update_t){
        .by = by,
        .seq = seq,
        .to = to,
        .outcome =
            to == PL_RS_COMPLETED ? PL_OUTCOME_SUCCESSFUL : PL_OUTCOME_NONE,
        .cookie = 1000 + seq,
    };
}

// A tracker at node 'me' brought to 'state' through the public API only.
static void
s_track_in(pl_referral_track_t *t, pl_referral_side_t me, st_t state)
{
    pl_referral_track_init(t, me);
    if (state == PL_RS_REQUESTED)
        return;
    if (state == PL_RS_CANCELLED) {
        if (me == PL_SIDE_SENDER) {
            assert_int_equal(
                pl_referral_track_act(t, PL_RE_CANCEL, PL_OUTCOME_NONE, NULL),
                PL_REF_APPLIED);
        } else {
            pl_referral_steps_t steps;
            assert_int_equal(pl_referral_track_received(t, NULL),
                             PL_REF_APPLIED);
            pl_referral_update_t u = s_upd(PL_SIDE_SENDER, 1, PL_RS_CANCELLED);
            assert_int_equal(pl_referral_track_apply(t, &u, &steps),
                             PL_REF_APPLIED);
        }
        assert_int_equal(pl_referral_track_state(t), PL_RS_CANCELLED);
        return;
    }
    assert_int_equal(pl_referral_track_received(t, NULL), PL_REF_APPLIED);
    // the recipient's path to 'state'
    static const struct {
        st_t state;
        ev_t path[4];
        int n;
    } paths[] = {
        {PL_RS_RECEIVED, {0}, 0},
        {PL_RS_ACCEPTED, {PL_RE_ACCEPT}, 1},
        {PL_RS_REJECTED, {PL_RE_REJECT}, 1},
        {PL_RS_IN_PROGRESS, {PL_RE_ACCEPT, PL_RE_START}, 2},
        {PL_RS_ON_HOLD, {PL_RE_ACCEPT, PL_RE_START, PL_RE_HOLD}, 3},
        {PL_RS_COMPLETED, {PL_RE_ACCEPT, PL_RE_START, PL_RE_COMPLETE}, 3},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (paths[i].state != state)
            continue;
        pl_referral_track_t r; // the recipient makes the updates
        pl_referral_track_init(&r, PL_SIDE_RECIPIENT);
        assert_int_equal(pl_referral_track_received(&r, NULL), PL_REF_APPLIED);
        for (int k = 0; k < paths[i].n; k++) {
            ev_t e = paths[i].path[k];
            pl_referral_update_t u;
            assert_int_equal(
                pl_referral_track_act(me == PL_SIDE_RECIPIENT ? t : &r, e,
                                      s_outcome_for(e), &u),
                PL_REF_APPLIED);
            if (me == PL_SIDE_SENDER) {
                pl_referral_steps_t steps;
                assert_int_equal(pl_referral_track_apply(t, &u, &steps),
                                 PL_REF_APPLIED);
            }
        }
        assert_int_equal(pl_referral_track_state(t), state);
        return;
    }
    fail_msg("no path to %s", pl_referral_state_name(state));
}

// The two tracks are the same, field by field (no padding compared).
static void
s_same(const pl_referral_track_t *a, const pl_referral_track_t *b)
{
    assert_int_equal(a->me, b->me);
    assert_int_equal(a->rstate, b->rstate);
    assert_int_equal(a->cancelled, b->cancelled);
    assert_int_equal(a->cancel_late, b->cancel_late);
    assert_int_equal(a->last_seq[0], b->last_seq[0]);
    assert_int_equal(a->last_seq[1], b->last_seq[1]);
    assert_int_equal(a->npending, b->npending);
    for (size_t i = 0; i < a->npending; i++) {
        assert_int_equal(a->pending[i].by, b->pending[i].by);
        assert_int_equal(a->pending[i].seq, b->pending[i].seq);
        assert_int_equal(a->pending[i].to, b->pending[i].to);
        assert_int_equal(a->pending[i].outcome, b->pending[i].outcome);
        assert_true(a->pending[i].cookie == b->pending[i].cookie);
    }
}

// ---- names

static void
test_names(void **state)
{
    (void) state;
    for (int s = 0; s < PL_RS_COUNT; s++) {
        st_t back;
        assert_int_equal(
            pl_referral_state_parse(pl_referral_state_name((st_t) s), &back),
            PL_OK);
        assert_int_equal(back, s);
    }
    for (int e = 0; e < PL_RE_COUNT; e++) {
        ev_t back;
        assert_int_equal(
            pl_referral_event_parse(pl_referral_event_name((ev_t) e), &back),
            PL_OK);
        assert_int_equal(back, e);
    }
    for (int p = 0; p < PL_PRIORITY_COUNT; p++) {
        pl_referral_priority_t back;
        assert_int_equal(
            pl_referral_priority_parse(
                pl_referral_priority_name((pl_referral_priority_t) p), &back),
            PL_OK);
        assert_int_equal(back, p);
    }
    // contract spellings
    assert_string_equal(pl_referral_state_name(PL_RS_IN_PROGRESS),
                        "in-progress");
    assert_string_equal(pl_referral_state_name(PL_RS_ON_HOLD), "on-hold");
    assert_string_equal(pl_referral_outcome_name(PL_OUTCOME_NOT_SUCCESSFUL),
                        "not-successful");
    pl_referral_outcome_t o;
    assert_int_equal(pl_referral_outcome_parse("not-successful", &o), PL_OK);
    assert_int_equal(o, PL_OUTCOME_NOT_SUCCESSFUL);
    assert_int_equal(pl_referral_outcome_parse("none", &o), PL_EINVAL);
    st_t s;
    ev_t e;
    pl_referral_side_t side;
    assert_int_equal(pl_referral_state_parse("in_progress", &s), PL_EINVAL);
    assert_int_equal(pl_referral_state_parse("Accepted", &s), PL_EINVAL);
    assert_int_equal(pl_referral_state_parse(NULL, &s), PL_EINVAL);
    assert_int_equal(pl_referral_event_parse("overdue", &e), PL_EINVAL);
    assert_int_equal(pl_referral_side_parse("recipient", &side), PL_OK);
    assert_int_equal(side, PL_SIDE_RECIPIENT);
    assert_string_equal(pl_referral_state_name((st_t) 99), "?");
    assert_string_equal(pl_referral_result_name(PL_REF_CANCEL_TOO_LATE),
                        "cancel-too-late");

    for (int st = 0; st < PL_RS_COUNT; st++)
        assert_true(pl_referral_is_open((st_t) st)
                    == !s_model_terminal((st_t) st));
    assert_true(pl_referral_event_needs_reason(PL_RE_REJECT));
    assert_true(pl_referral_event_needs_reason(PL_RE_HOLD));
    assert_true(pl_referral_event_needs_reason(PL_RE_CANCEL));
    assert_false(pl_referral_event_needs_reason(PL_RE_COMPLETE));
}

// ---- every (state, event, side): the table, and the tracker at a node

static void
test_every_combination(void **state)
{
    (void) state;
    int allowed = 0;
    for (int s = 0; s < PL_RS_COUNT; s++)
        for (int e = 0; e < PL_RE_COUNT; e++)
            for (int side = 0; side < PL_SIDE_COUNT; side++) {
                st_t want_to, got_to = (st_t) 77;
                pl_referral_result_t want = s_model(
                    (st_t) s, (ev_t) e, (pl_referral_side_t) side, &want_to);
                pl_referral_result_t got = pl_referral_transition(
                    (st_t) s, (ev_t) e, (pl_referral_side_t) side, &got_to);
                if (got != want || got_to != want_to)
                    fail_msg("%s --%s by %s: got %s -> %s, want %s -> %s",
                             pl_referral_state_name((st_t) s),
                             pl_referral_event_name((ev_t) e),
                             pl_referral_side_name((pl_referral_side_t) side),
                             pl_referral_result_name(got),
                             pl_referral_state_name(got_to),
                             pl_referral_result_name(want),
                             pl_referral_state_name(want_to));
                allowed += want == PL_REF_APPLIED;
                assert_int_equal(pl_referral_event_side((ev_t) e),
                                 s_owner((ev_t) e));
                if (want != PL_REF_APPLIED) {
                    char line[200];
                    pl_referral_refusal_text(line, sizeof line, got, (st_t) s,
                                             (ev_t) e,
                                             (pl_referral_side_t) side);
                    assert_int_equal(strncmp(line, "referral: ", 10), 0);
                    assert_non_null(
                        strstr(line, pl_referral_event_name((ev_t) e)));
                }
            }
    assert_int_equal(allowed, (int) (sizeof s_allowed / sizeof s_allowed[0]));
}

// The same matrix through a node's tracker: a person at 'side' acts on a
// referral that this node shows in state 's'.
static void
test_every_combination_tracker(void **state)
{
    (void) state;
    for (int s = 0; s < PL_RS_COUNT; s++)
        for (int e = 0; e < PL_RE_COUNT; e++)
            for (int side = 0; side < PL_SIDE_COUNT; side++) {
                pl_referral_track_t t;
                s_track_in(&t, (pl_referral_side_t) side, (st_t) s);
                pl_referral_track_t before = t;
                st_t want_to;
                pl_referral_result_t want = s_model(
                    (st_t) s, (ev_t) e, (pl_referral_side_t) side, &want_to);
                pl_referral_update_t out = {0};
                pl_referral_result_t got = pl_referral_track_act(
                    &t, (ev_t) e, s_outcome_for((ev_t) e), &out);
                if (got != want || pl_referral_track_state(&t) != want_to)
                    fail_msg(
                        "tracker %s --%s by %s: got %s -> %s, want %s",
                        pl_referral_state_name((st_t) s),
                        pl_referral_event_name((ev_t) e),
                        pl_referral_side_name((pl_referral_side_t) side),
                        pl_referral_result_name(got),
                        pl_referral_state_name(pl_referral_track_state(&t)),
                        pl_referral_result_name(want));
                if (want == PL_REF_APPLIED) {
                    assert_int_equal(out.by, side);
                    assert_int_equal(out.to, want_to);
                    assert_int_equal(out.seq, before.last_seq[side] + 1);
                } else {
                    // refused: nothing moved, no sequence number taken
                    s_same(&t, &before);
                }
            }
}

static void
test_terminal_never_reopens(void **state)
{
    (void) state;
    const st_t terminal[] = {PL_RS_REJECTED, PL_RS_COMPLETED, PL_RS_CANCELLED};
    int terminal_changes = 0;
    for (size_t i = 0; i < 3; i++) {
        for (int me = 0; me < PL_SIDE_COUNT; me++) {
            pl_referral_track_t t;
            s_track_in(&t, (pl_referral_side_t) me, terminal[i]);
            // every status from the other side, in order: none reopens
            pl_referral_side_t other =
                me == PL_SIDE_SENDER ? PL_SIDE_RECIPIENT : PL_SIDE_SENDER;
            for (int to = PL_RS_RECEIVED; to < PL_RS_COUNT; to++) {
                pl_referral_steps_t steps;
                st_t was = pl_referral_track_state(&t);
                pl_referral_update_t u =
                    s_upd(other, t.last_seq[other] + 1, (st_t) to);
                pl_referral_result_t r =
                    pl_referral_track_apply(&t, &u, &steps);
                st_t now = pl_referral_track_state(&t);
                // never open again
                assert_true(s_model_terminal(now));
                if (now != was) {
                    // the one exception is the crossing rule: the sender
                    // cancelled, then learns the recipient had already
                    // rejected or completed; the recipient's state wins
                    assert_int_equal(me, PL_SIDE_SENDER);
                    assert_int_equal(was, PL_RS_CANCELLED);
                    assert_int_equal(r, PL_REF_CANCEL_TOO_LATE);
                    assert_true(now == PL_RS_REJECTED
                                || now == PL_RS_COMPLETED);
                    terminal_changes++;
                    continue;
                }
                // a "received" already implied is a harmless duplicate; a
                // recipient update made before it saw the cancellation is
                // recorded after it; at the recipient a late cancel is
                // "too late"
                assert_true(pl_referral_result_refused(r)
                            || r == PL_REF_DUPLICATE || r == PL_REF_AFTER_CANCEL
                            || r == PL_REF_CANCEL_TOO_LATE);
                if (terminal[i] != PL_RS_CANCELLED || me != PL_SIDE_SENDER)
                    assert_true(pl_referral_result_refused(r)
                                || r == PL_REF_DUPLICATE
                                || r == PL_REF_CANCEL_TOO_LATE);
            }
            // act again on the state reached
            st_t final = pl_referral_track_state(&t);
            for (int e = 0; e < PL_RE_COUNT; e++) {
                assert_int_equal(pl_referral_track_act(&t, (ev_t) e,
                                                       s_outcome_for((ev_t) e),
                                                       NULL),
                                 PL_REF_REFUSED_TERMINAL);
                assert_int_equal(pl_referral_track_state(&t), final);
            }
            pl_referral_track_received(&t, NULL); // duplicate or recorded
            assert_int_equal(pl_referral_track_state(&t), final);
        }
    }
    // the statuses above, in enum order, never legally reach a recipient's
    // terminal state after received/accepted (reject needs received,
    // complete needs accepted or in-progress): no crossing here; crossings
    // are test_crossing's
    assert_int_equal(terminal_changes, 0);
}

// ---- implied received, receipts, outcomes, malformed updates

static void
test_implied_received(void **state)
{
    (void) state;
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_REQUESTED);
    pl_referral_steps_t steps;
    pl_referral_update_t u = s_upd(PL_SIDE_RECIPIENT, 1, PL_RS_ACCEPTED);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_APPLIED);
    assert_int_equal(steps.count, 1);
    assert_true(steps.step[0].implied_received);
    assert_int_equal(steps.step[0].event, PL_RE_ACCEPT);
    assert_int_equal(steps.step[0].from, PL_RS_REQUESTED);
    assert_int_equal(steps.step[0].to, PL_RS_ACCEPTED);
    assert_int_equal(steps.step[0].update.cookie, 1001);
    // the receipt of the referral comes back later: nothing to do
    pl_referral_step_t step;
    assert_int_equal(pl_referral_track_received(&t, &step), PL_REF_DUPLICATE);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_ACCEPTED);
    // a sequenced "received" after it is a duplicate too, and takes its seq
    u = s_upd(PL_SIDE_RECIPIENT, 2, PL_RS_RECEIVED);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_DUPLICATE);
    assert_int_equal(t.last_seq[PL_SIDE_RECIPIENT], 2);

    // a reject straight from requested also implies received
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    u = s_upd(PL_SIDE_RECIPIENT, 1, PL_RS_REJECTED);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_APPLIED);
    assert_true(steps.step[0].implied_received);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_REJECTED);
    // but not a start (accepted was never seen)
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    u = s_upd(PL_SIDE_RECIPIENT, 1, PL_RS_IN_PROGRESS);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps),
                     PL_REF_REFUSED_STATE);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_REQUESTED);
    assert_int_equal(steps.count, 1);
    assert_false(steps.step[0].implied_received);

    // receipt first, the usual way
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    assert_int_equal(pl_referral_track_received(&t, &step), PL_REF_APPLIED);
    assert_int_equal(step.from, PL_RS_REQUESTED);
    assert_int_equal(step.to, PL_RS_RECEIVED);
    assert_int_equal(pl_referral_track_received(&t, &step), PL_REF_DUPLICATE);
}

static void
test_outcome_and_malformed(void **state)
{
    (void) state;
    pl_referral_track_t t;
    s_track_in(&t, PL_SIDE_RECIPIENT, PL_RS_IN_PROGRESS);
    pl_referral_track_t before = t;
    // complete needs an outcome; others take none
    assert_int_equal(
        pl_referral_track_act(&t, PL_RE_COMPLETE, PL_OUTCOME_NONE, NULL),
        PL_REF_REFUSED_INVALID);
    assert_int_equal(
        pl_referral_track_act(&t, PL_RE_HOLD, PL_OUTCOME_SUCCESSFUL, NULL),
        PL_REF_REFUSED_INVALID);
    s_same(&t, &before);
    pl_referral_update_t out;
    assert_int_equal(pl_referral_track_act(&t, PL_RE_COMPLETE,
                                           PL_OUTCOME_NOT_SUCCESSFUL, &out),
                     PL_REF_APPLIED);
    assert_int_equal(out.to, PL_RS_COMPLETED);
    assert_int_equal(out.outcome, PL_OUTCOME_NOT_SUCCESSFUL);
    assert_int_equal(out.seq, 3); // accept, start, complete

    // malformed updates are refused on arrival and change nothing
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    before = t;
    pl_referral_steps_t steps;
    pl_referral_update_t bad[] = {
        {.by = PL_SIDE_RECIPIENT, .seq = 0, .to = PL_RS_ACCEPTED},
        {.by = PL_SIDE_RECIPIENT, .seq = 1, .to = PL_RS_REQUESTED},
        {.by = PL_SIDE_RECIPIENT, .seq = 1, .to = PL_RS_COMPLETED},
        {.by = PL_SIDE_RECIPIENT,
         .seq = 1,
         .to = PL_RS_ACCEPTED,
         .outcome = PL_OUTCOME_SUCCESSFUL},
        {.by = (pl_referral_side_t) 2, .seq = 1, .to = PL_RS_ACCEPTED},
        {.by = PL_SIDE_RECIPIENT, .seq = 1, .to = (st_t) 8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pl_referral_track_apply(&t, &bad[i], &steps),
                         PL_REF_REFUSED_INVALID);
        assert_int_equal(steps.count, 0);
        s_same(&t, &before);
    }
    assert_int_equal(pl_referral_result_err(PL_REF_REFUSED_INVALID), PL_EINVAL);
    assert_int_equal(pl_referral_result_err(PL_REF_REFUSED_SIDE), PL_EPERM);
    assert_int_equal(pl_referral_result_err(PL_REF_REFUSED_TERMINAL),
                     PL_ESTATE);
    assert_int_equal(pl_referral_result_err(PL_REF_CANCEL_TOO_LATE), PL_OK);
}

// A remote update from the wrong side is refused (to be audited) and takes
// its seq, so the author's later updates still proceed.
static void
test_wrong_side_remote(void **state)
{
    (void) state;
    pl_referral_steps_t steps;
    pl_referral_track_t t;
    // at the recipient: the sender claims to accept
    s_track_in(&t, PL_SIDE_RECIPIENT, PL_RS_RECEIVED);
    pl_referral_update_t u = s_upd(PL_SIDE_SENDER, 1, PL_RS_ACCEPTED);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps),
                     PL_REF_REFUSED_SIDE);
    assert_int_equal(steps.count, 1);
    assert_int_equal(steps.step[0].event, PL_RE_ACCEPT);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_RECEIVED);
    assert_int_equal(t.last_seq[PL_SIDE_SENDER], 1);
    u = s_upd(PL_SIDE_SENDER, 2, PL_RS_CANCELLED);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_APPLIED);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_CANCELLED);

    // at the sender: the recipient claims to cancel
    s_track_in(&t, PL_SIDE_SENDER, PL_RS_ACCEPTED);
    u = s_upd(PL_SIDE_RECIPIENT, 2, PL_RS_CANCELLED);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps),
                     PL_REF_REFUSED_SIDE);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_ACCEPTED);
    // the wrong state: a resume while accepted
    u = s_upd(PL_SIDE_RECIPIENT, 3, PL_RS_ON_HOLD);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps),
                     PL_REF_REFUSED_STATE);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_ACCEPTED);
    u = s_upd(PL_SIDE_RECIPIENT, 4, PL_RS_IN_PROGRESS);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_APPLIED);
    assert_int_equal(steps.step[0].event, PL_RE_START);
    u = s_upd(PL_SIDE_RECIPIENT, 5, PL_RS_ON_HOLD);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_APPLIED);
    u = s_upd(PL_SIDE_RECIPIENT, 6, PL_RS_IN_PROGRESS);
    assert_int_equal(pl_referral_track_apply(&t, &u, &steps), PL_REF_APPLIED);
    assert_int_equal(steps.step[0].event, PL_RE_RESUME);
}

// ---- ordering

// The recipient's updates of a full life, made through its own tracker.
static int
s_recipient_life(pl_referral_update_t *u)
{
    static const ev_t life[] = {PL_RE_ACCEPT,  PL_RE_START, PL_RE_HOLD,
                                PL_RE_RESUME,  PL_RE_HOLD,  PL_RE_RESUME,
                                PL_RE_COMPLETE};
    pl_referral_track_t r;
    pl_referral_track_init(&r, PL_SIDE_RECIPIENT);
    assert_int_equal(pl_referral_track_received(&r, NULL), PL_REF_APPLIED);
    int n = (int) (sizeof life / sizeof life[0]);
    for (int i = 0; i < n; i++) {
        assert_int_equal(
            pl_referral_track_act(&r, life[i], s_outcome_for(life[i]), &u[i]),
            PL_REF_APPLIED);
        u[i].cookie = (uint64_t) i;
        assert_int_equal(u[i].seq, (uint32_t) i + 1);
    }
    assert_int_equal(pl_referral_track_state(&r), PL_RS_COMPLETED);
    return n;
}

// Delivers u[order[0..n)] to a fresh sender; checks every update is
// processed exactly once, in seq order, ending in 'want'.
static void
s_deliver(const pl_referral_update_t *u, const int *order, int n, st_t want)
{
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    uint32_t next = 1;
    for (int i = 0; i < n; i++) {
        pl_referral_steps_t steps;
        pl_referral_result_t r =
            pl_referral_track_apply(&t, &u[order[i]], &steps);
        if (u[order[i]].seq == next) {
            assert_int_equal(r, PL_REF_APPLIED);
        } else {
            assert_int_equal(r, PL_REF_BUFFERED);
            assert_int_equal(steps.count, 0);
        }
        for (size_t k = 0; k < steps.count; k++) {
            assert_int_equal(steps.step[k].update.seq, next);
            assert_int_equal(steps.step[k].update.cookie, next - 1);
            assert_int_equal(steps.step[k].result, PL_REF_APPLIED);
            next++;
        }
        // every delivery again is a duplicate, buffered or not
        pl_referral_steps_t dsteps;
        assert_int_equal(pl_referral_track_apply(&t, &u[order[i]], &dsteps),
                         PL_REF_DUPLICATE);
        assert_int_equal(dsteps.count, 0);
    }
    assert_int_equal(next, (uint32_t) n + 1);
    assert_int_equal(t.npending, 0);
    assert_int_equal(pl_referral_track_state(&t), want);
}

static void
test_out_of_order(void **state)
{
    (void) state;
    pl_referral_update_t u[8] = {0};
    int n = s_recipient_life(u);
    int order[8] = {0};
    // in order
    for (int i = 0; i < n; i++)
        order[i] = i;
    s_deliver(u, order, n, PL_RS_COMPLETED);
    // held back and released reversed
    for (int i = 0; i < n; i++)
        order[i] = n - 1 - i;
    s_deliver(u, order, n, PL_RS_COMPLETED);
    // every rotation and a few interleavings
    for (int rot = 0; rot < n; rot++) {
        for (int i = 0; i < n; i++)
            order[i] = (i + rot) % n;
        s_deliver(u, order, n, PL_RS_COMPLETED);
    }
    const int mixed[] = {3, 1, 6, 0, 5, 2, 4};
    s_deliver(u, mixed, n, PL_RS_COMPLETED);

    // reversed, the last one releases all: one call returns every step
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    pl_referral_steps_t steps;
    for (int i = n - 1; i > 0; i--)
        assert_int_equal(pl_referral_track_apply(&t, &u[i], &steps),
                         PL_REF_BUFFERED);
    assert_int_equal(t.npending, (size_t) n - 1);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_REQUESTED);
    assert_int_equal(pl_referral_track_apply(&t, &u[0], &steps),
                     PL_REF_APPLIED);
    assert_int_equal(steps.count, (size_t) n);
    assert_true(steps.step[0].implied_received);
    assert_int_equal(steps.step[n - 1].event, PL_RE_COMPLETE);
    assert_int_equal(steps.step[n - 1].to, PL_RS_COMPLETED);
}

static void
test_window(void **state)
{
    (void) state;
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    pl_referral_steps_t steps;
    // seq 1 missing: 2..WINDOW can wait, WINDOW+1 is too far ahead
    for (uint32_t s = 2; s <= PL_REFERRAL_WINDOW; s++) {
        pl_referral_update_t u = s_upd(
            PL_SIDE_RECIPIENT, s, s % 2 ? PL_RS_IN_PROGRESS : PL_RS_ON_HOLD);
        assert_int_equal(pl_referral_track_apply(&t, &u, &steps),
                         PL_REF_BUFFERED);
    }
    pl_referral_update_t far =
        s_upd(PL_SIDE_RECIPIENT, PL_REFERRAL_WINDOW + 1, PL_RS_ON_HOLD);
    assert_int_equal(pl_referral_track_apply(&t, &far, &steps),
                     PL_REF_REFUSED_TOO_EARLY);
    // the sender's side has its own window
    pl_referral_update_t c =
        s_upd(PL_SIDE_SENDER, PL_REFERRAL_WINDOW, PL_RS_CANCELLED);
    assert_int_equal(pl_referral_track_apply(&t, &c, &steps), PL_REF_BUFFERED);
    // seq 1 (accept) then seq 2 (start? no: 2 is hold) drain in order
    pl_referral_update_t first = s_upd(PL_SIDE_RECIPIENT, 1, PL_RS_ACCEPTED);
    assert_int_equal(pl_referral_track_apply(&t, &first, &steps),
                     PL_REF_APPLIED);
    assert_int_equal(steps.count, PL_REFERRAL_WINDOW);
    // 2 = on-hold while accepted: refused, then 3 = start, 4 = hold ...
    assert_int_equal(steps.step[1].result, PL_REF_REFUSED_STATE);
    assert_int_equal(steps.step[2].result, PL_REF_APPLIED);
    assert_int_equal(t.last_seq[PL_SIDE_RECIPIENT], PL_REFERRAL_WINDOW);
    assert_int_equal(t.npending, 1); // the sender's far cancel still waits
}

// ---- crossing: the sender's cancel and the recipient's terminal state

typedef struct {
    pl_referral_track_t s; // the sender's node
    pl_referral_track_t r; // the recipient's node
} pair_t;

static void
s_pair(pair_t *p)
{
    pl_referral_track_init(&p->s, PL_SIDE_SENDER);
    pl_referral_track_init(&p->r, PL_SIDE_RECIPIENT);
    assert_int_equal(pl_referral_track_received(&p->r, NULL), PL_REF_APPLIED);
    assert_int_equal(pl_referral_track_received(&p->s, NULL), PL_REF_APPLIED);
}

// 'to_sender' first or the recipient's delivery first; the recipient made
// 'events' and the sender cancelled, each before seeing the other's.
static void
s_cross(const ev_t *events, int n, bool sender_first, st_t want,
        pl_referral_result_t want_last_at_sender,
        pl_referral_result_t want_at_recipient)
{
    pair_t p;
    s_pair(&p);
    pl_referral_update_t ru[8], cancel;
    assert_int_equal(
        pl_referral_track_act(&p.s, PL_RE_CANCEL, PL_OUTCOME_NONE, &cancel),
        PL_REF_APPLIED);
    for (int i = 0; i < n; i++)
        assert_int_equal(pl_referral_track_act(
                             &p.r, events[i], s_outcome_for(events[i]), &ru[i]),
                         PL_REF_APPLIED);
    pl_referral_steps_t steps;
    for (int round = 0; round < 2; round++) {
        if ((round == 0) == sender_first) {
            // the cancellation reaches the recipient
            assert_int_equal(pl_referral_track_apply(&p.r, &cancel, &steps),
                             want_at_recipient);
            assert_int_equal(steps.count, 1);
        } else {
            // the recipient's updates reach the sender
            pl_referral_result_t r = PL_REF_APPLIED;
            for (int i = 0; i < n; i++) {
                r = pl_referral_track_apply(&p.s, &ru[i], &steps);
                if (i < n - 1)
                    assert_int_equal(r, PL_REF_AFTER_CANCEL);
            }
            assert_int_equal(r, want_last_at_sender);
        }
    }
    // both nodes agree
    assert_int_equal(pl_referral_track_state(&p.s), want);
    assert_int_equal(pl_referral_track_state(&p.r), want);
    assert_int_equal(p.s.cancel_late, want != PL_RS_CANCELLED);
    assert_int_equal(p.r.cancel_late, want != PL_RS_CANCELLED);
}

static void
test_crossing(void **state)
{
    (void) state;
    const ev_t completes[] = {PL_RE_ACCEPT, PL_RE_START, PL_RE_COMPLETE};
    const ev_t rejects[] = {PL_RE_REJECT};
    const ev_t starts[] = {PL_RE_ACCEPT, PL_RE_START};
    for (int first = 0; first < 2; first++) {
        // crossed terminal states: the recipient's wins, cancel too late
        s_cross(completes, 3, first, PL_RS_COMPLETED, PL_REF_CANCEL_TOO_LATE,
                PL_REF_CANCEL_TOO_LATE);
        s_cross(rejects, 1, first, PL_RS_REJECTED, PL_REF_CANCEL_TOO_LATE,
                PL_REF_CANCEL_TOO_LATE);
        // crossed with open states only: the cancellation stands
        s_cross(starts, 2, first, PL_RS_CANCELLED, PL_REF_AFTER_CANCEL,
                PL_REF_APPLIED);
    }

    // the too-late step shows the view moving from cancelled to completed
    pair_t p;
    s_pair(&p);
    pl_referral_update_t u;
    assert_int_equal(
        pl_referral_track_act(&p.s, PL_RE_CANCEL, PL_OUTCOME_NONE, &u),
        PL_REF_APPLIED);
    assert_int_equal(
        pl_referral_track_act(&p.r, PL_RE_ACCEPT, PL_OUTCOME_NONE, NULL),
        PL_REF_APPLIED);
    assert_int_equal(
        pl_referral_track_act(&p.r, PL_RE_COMPLETE, PL_OUTCOME_SUCCESSFUL, &u),
        PL_REF_APPLIED);
    pl_referral_steps_t steps;
    // complete (seq 2) arrives before accept (seq 1)
    assert_int_equal(pl_referral_track_apply(&p.s, &u, &steps),
                     PL_REF_BUFFERED);
    u = (pl_referral_update_t){
        .by = PL_SIDE_RECIPIENT, .seq = 1, .to = PL_RS_ACCEPTED};
    assert_int_equal(pl_referral_track_apply(&p.s, &u, &steps),
                     PL_REF_AFTER_CANCEL);
    assert_int_equal(steps.count, 2);
    assert_int_equal(steps.step[0].from, PL_RS_CANCELLED);
    assert_int_equal(steps.step[0].to, PL_RS_CANCELLED);
    assert_int_equal(steps.step[1].result, PL_REF_CANCEL_TOO_LATE);
    assert_int_equal(steps.step[1].from, PL_RS_CANCELLED);
    assert_int_equal(steps.step[1].to, PL_RS_COMPLETED);
    char line[200];
    pl_referral_refusal_text(line, sizeof line, PL_REF_CANCEL_TOO_LATE,
                             PL_RS_COMPLETED, PL_RE_CANCEL, PL_SIDE_SENDER);
    assert_non_null(strstr(line, "too late"));

    // not crossed: the recipient saw the cancel first and cannot complete
    s_pair(&p);
    assert_int_equal(
        pl_referral_track_act(&p.s, PL_RE_CANCEL, PL_OUTCOME_NONE, &u),
        PL_REF_APPLIED);
    assert_int_equal(pl_referral_track_apply(&p.r, &u, &steps), PL_REF_APPLIED);
    assert_int_equal(
        pl_referral_track_act(&p.r, PL_RE_ACCEPT, PL_OUTCOME_NONE, NULL),
        PL_REF_REFUSED_TERMINAL);
    // nor can the sender cancel once it has seen completed
    s_track_in(&p.s, PL_SIDE_SENDER, PL_RS_COMPLETED);
    assert_int_equal(
        pl_referral_track_act(&p.s, PL_RE_CANCEL, PL_OUTCOME_NONE, NULL),
        PL_REF_REFUSED_TERMINAL);
}

// ---- pack / unpack

static void
test_pack(void **state)
{
    (void) state;
    pl_referral_update_t u[8] = {0};
    int n = s_recipient_life(u);
    pl_referral_track_t t, back;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    pl_referral_steps_t steps;
    for (int i = n - 1; i >= 2; i--) {
        u[i].cookie = 0x0102030405060708ull + (uint64_t) i;
        assert_int_equal(pl_referral_track_apply(&t, &u[i], &steps),
                         PL_REF_BUFFERED);
    }
    assert_int_equal(
        pl_referral_track_act(&t, PL_RE_CANCEL, PL_OUTCOME_NONE, NULL),
        PL_REF_APPLIED);
    uint8_t buf[PL_REFERRAL_TRACK_PACKED_MAX];
    size_t len;
    pl_referral_track_pack(&t, buf, &len);
    assert_true(len <= sizeof buf);
    memset(&back, 0xee, sizeof back);
    assert_int_equal(pl_referral_track_unpack(&back, buf, len), PL_OK);
    assert_int_equal(back.me, t.me);
    assert_int_equal(back.rstate, t.rstate);
    assert_int_equal(back.cancelled, t.cancelled);
    assert_int_equal(back.npending, t.npending);
    assert_memory_equal(back.last_seq, t.last_seq, sizeof t.last_seq);
    for (size_t i = 0; i < t.npending; i++) {
        assert_int_equal(back.pending[i].seq, t.pending[i].seq);
        assert_int_equal(back.pending[i].to, t.pending[i].to);
        assert_int_equal(back.pending[i].outcome, t.pending[i].outcome);
        assert_true(back.pending[i].cookie == t.pending[i].cookie);
    }
    // the unpacked track goes on exactly as the original
    pl_referral_steps_t s1, s2;
    assert_int_equal(pl_referral_track_apply(&t, &u[1], &s1), PL_REF_BUFFERED);
    assert_int_equal(pl_referral_track_apply(&back, &u[1], &s2),
                     PL_REF_BUFFERED);
    assert_int_equal(pl_referral_track_apply(&t, &u[0], &s1),
                     PL_REF_AFTER_CANCEL);
    assert_int_equal(pl_referral_track_apply(&back, &u[0], &s2),
                     PL_REF_AFTER_CANCEL);
    assert_int_equal(s1.count, s2.count);
    assert_int_equal(pl_referral_track_state(&back), PL_RS_COMPLETED);
    assert_int_equal(pl_referral_track_state(&t), PL_RS_COMPLETED);

    // damaged input: refused or decoded to a valid track, never a crash
    pl_referral_track_pack(&back, buf, &len); // npending 0 now
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    pl_referral_update_t one = s_upd(PL_SIDE_RECIPIENT, 3, PL_RS_ON_HOLD);
    assert_int_equal(pl_referral_track_apply(&t, &one, &steps),
                     PL_REF_BUFFERED);
    pl_referral_track_pack(&t, buf, &len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t) (1u << bit);
            if (pl_referral_track_unpack(&back, buf, len) == PL_OK) {
                assert_true(back.npending <= PL_REFERRAL_PENDING_MAX);
                assert_true(back.rstate < PL_RS_COUNT);
            }
            buf[i] ^= (uint8_t) (1u << bit);
        }
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(pl_referral_track_unpack(&back, buf, cut), PL_EPROTO);
    buf[1] = 'X';
    assert_int_equal(pl_referral_track_unpack(&back, buf, len), PL_EPROTO);
}

// ---- overdue

static void
test_overdue_edges(void **state)
{
    (void) state;
    const uint64_t t0 = 1767225600; // 2026-01-01T00:00:00Z
    const struct {
        pl_referral_priority_t p;
        uint64_t window;
    } cases[] = {
        {PL_PRIORITY_EMERGENCY, 24 * HOUR},
        {PL_PRIORITY_URGENT, 72 * HOUR},
        {PL_PRIORITY_NORMAL, 14 * DAY},
    };
    for (size_t i = 0; i < 3; i++) {
        pl_referral_priority_t p = cases[i].p;
        uint64_t w = cases[i].window;
        uint64_t since = 1;
        assert_true(pl_referral_priority_window(p) == w);
        for (int s = 0; s < PL_RS_COUNT; s++) {
            st_t st = (st_t) s;
            bool open = !s_model_terminal(st);
            // created at t0, no change since
            assert_false(
                pl_referral_overdue(st, p, t0, 0, 0, t0 + w - 1, &since));
            assert_false(pl_referral_overdue(st, p, t0, 0, 0, t0 + w, &since));
            assert_true(since == (open ? t0 + w : 0));
            assert_int_equal(
                pl_referral_overdue(st, p, t0, 0, 0, t0 + w + 1, &since), open);
            assert_true(since == (open ? t0 + w : 0));
            // last change resets the clock: the next step is timed from it
            uint64_t c = t0 + 5 * DAY;
            assert_false(pl_referral_overdue(st, p, t0, c, 0, c + w, &since));
            assert_int_equal(
                pl_referral_overdue(st, p, t0, c, 0, c + w + 1, &since), open);
            if (open)
                assert_true(since == c + w);
            // a due date earlier than the window wins
            uint64_t due = t0 + w / 2;
            assert_false(pl_referral_overdue(st, p, t0, 0, due, due, &since));
            assert_int_equal(
                pl_referral_overdue(st, p, t0, 0, due, due + 1, &since), open);
            if (open)
                assert_true(since == due);
            // a later due date does not extend the window
            due = t0 + w + 10 * DAY;
            assert_int_equal(
                pl_referral_overdue(st, p, t0, 0, due, t0 + w + 1, &since),
                open);
            if (open)
                assert_true(since == t0 + w);
            // never overdue in a terminal state, whatever the clock
            if (!open)
                assert_false(pl_referral_overdue(st, p, t0, 0, t0 + 1,
                                                 t0 + 365 * DAY, &since));
        }
    }
    assert_false(pl_referral_overdue(PL_RS_IN_PROGRESS, PL_PRIORITY_NORMAL, t0,
                                     0, 0, t0, NULL));

    // --due YYYY-MM-DD is due during that day
    uint64_t due;
    assert_int_equal(pl_referral_due_parse("2026-01-02", &due), PL_OK);
    assert_true(due == t0 + 2 * DAY);
    assert_int_equal(pl_referral_due_parse("2026-02-30", &due), PL_EINVAL);
    assert_int_equal(pl_referral_due_parse("tomorrow", &due), PL_EINVAL);
    assert_false(pl_referral_overdue(PL_RS_ACCEPTED, PL_PRIORITY_NORMAL, t0, 0,
                                     t0 + 2 * DAY, t0 + 2 * DAY - 1, NULL));
    assert_true(pl_referral_overdue(PL_RS_ACCEPTED, PL_PRIORITY_NORMAL, t0, 0,
                                    t0 + 2 * DAY, t0 + 2 * DAY + 1, NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_every_combination),
        cmocka_unit_test(test_every_combination_tracker),
        cmocka_unit_test(test_terminal_never_reopens),
        cmocka_unit_test(test_implied_received),
        cmocka_unit_test(test_outcome_and_malformed),
        cmocka_unit_test(test_wrong_side_remote),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_crossing),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_overdue_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
