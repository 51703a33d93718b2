// pl_referral - the referral lifecycle: one state table, sequence numbers,
// crossing, overdue. Layer: nodes. Pure logic; see pl_referral.h.
#include "nodes/pl_referral.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "proto/pl_util.h"

// 'x' is a valid index below 'n' (enums may be unsigned: no ">= 0" tests)
#define S_IN(x, n) ((unsigned) (x) < (unsigned) (n))

// ---- names

static const char *const s_state_names[PL_RS_COUNT] = {
    [PL_RS_REQUESTED] = "requested",     [PL_RS_RECEIVED] = "received",
    [PL_RS_ACCEPTED] = "accepted",       [PL_RS_REJECTED] = "rejected",
    [PL_RS_IN_PROGRESS] = "in-progress", [PL_RS_ON_HOLD] = "on-hold",
    [PL_RS_COMPLETED] = "completed",     [PL_RS_CANCELLED] = "cancelled",
};

static const char *const s_event_names[PL_RE_COUNT] = {
    [PL_RE_RECEIVE] = "receive",   [PL_RE_ACCEPT] = "accept",
    [PL_RE_REJECT] = "reject",     [PL_RE_START] = "start",
    [PL_RE_HOLD] = "hold",         [PL_RE_RESUME] = "resume",
    [PL_RE_COMPLETE] = "complete", [PL_RE_CANCEL] = "cancel",
};

static const char *const s_side_names[PL_SIDE_COUNT] = {
    [PL_SIDE_SENDER] = "sender",
    [PL_SIDE_RECIPIENT] = "recipient",
};

static const char *const s_outcome_names[] = {
    [PL_OUTCOME_NONE] = "none",
    [PL_OUTCOME_SUCCESSFUL] = "successful",
    [PL_OUTCOME_NOT_SUCCESSFUL] = "not-successful",
};
#define S_NOUTCOMES (sizeof s_outcome_names / sizeof s_outcome_names[0])

static const char *const s_priority_names[PL_PRIORITY_COUNT] = {
    [PL_PRIORITY_EMERGENCY] = "emergency",
    [PL_PRIORITY_URGENT] = "urgent",
    [PL_PRIORITY_NORMAL] = "normal",
};

static const uint64_t s_priority_window[PL_PRIORITY_COUNT] = {
    [PL_PRIORITY_EMERGENCY] = 24 * 3600,
    [PL_PRIORITY_URGENT] = 72 * 3600,
    [PL_PRIORITY_NORMAL] = 14 * 24 * 3600,
};

static const char *const s_result_names[] = {
    [PL_REF_APPLIED] = "applied",
    [PL_REF_BUFFERED] = "buffered",
    [PL_REF_DUPLICATE] = "duplicate",
    [PL_REF_AFTER_CANCEL] = "after-cancel",
    [PL_REF_CANCEL_TOO_LATE] = "cancel-too-late",
    [PL_REF_REFUSED_SIDE] = "refused-side",
    [PL_REF_REFUSED_STATE] = "refused-state",
    [PL_REF_REFUSED_TERMINAL] = "refused-terminal",
    [PL_REF_REFUSED_INVALID] = "refused-invalid",
    [PL_REF_REFUSED_TOO_EARLY] = "refused-too-early",
};
#define S_NRESULTS (sizeof s_result_names / sizeof s_result_names[0])

// Index of 'text' in names[0..n), or -1.
static int
s_lookup(const char *const *names, size_t n, const char *text)
{
    if (!text)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], text) == 0)
            return (int) i;
    return -1;
}

static const char *
s_name(const char *const *names, size_t n, int i)
{
    return (i >= 0 && (size_t) i < n && names[i]) ? names[i] : "?";
}

const char *
pl_referral_state_name(pl_referral_state_t state)
{
    return s_name(s_state_names, PL_RS_COUNT, (int) state);
}

const char *
pl_referral_event_name(pl_referral_event_t event)
{
    return s_name(s_event_names, PL_RE_COUNT, (int) event);
}

const char *
pl_referral_side_name(pl_referral_side_t side)
{
    return s_name(s_side_names, PL_SIDE_COUNT, (int) side);
}

const char *
pl_referral_outcome_name(pl_referral_outcome_t outcome)
{
    return s_name(s_outcome_names, S_NOUTCOMES, (int) outcome);
}

const char *
pl_referral_priority_name(pl_referral_priority_t priority)
{
    return s_name(s_priority_names, PL_PRIORITY_COUNT, (int) priority);
}

const char *
pl_referral_result_name(pl_referral_result_t result)
{
    return s_name(s_result_names, S_NRESULTS, (int) result);
}

int
pl_referral_state_parse(const char *text, pl_referral_state_t *out)
{
    int i = s_lookup(s_state_names, PL_RS_COUNT, text);
    if (i < 0)
        return PL_EINVAL;
    *out = (pl_referral_state_t) i;
    return PL_OK;
}

int
pl_referral_event_parse(const char *text, pl_referral_event_t *out)
{
    int i = s_lookup(s_event_names, PL_RE_COUNT, text);
    if (i < 0)
        return PL_EINVAL;
    *out = (pl_referral_event_t) i;
    return PL_OK;
}

int
pl_referral_side_parse(const char *text, pl_referral_side_t *out)
{
    int i = s_lookup(s_side_names, PL_SIDE_COUNT, text);
    if (i < 0)
        return PL_EINVAL;
    *out = (pl_referral_side_t) i;
    return PL_OK;
}

int
pl_referral_outcome_parse(const char *text, pl_referral_outcome_t *out)
{
    int i = s_lookup(s_outcome_names, S_NOUTCOMES, text);
    if (i <= (int) PL_OUTCOME_NONE) // "none" is not something to type
        return PL_EINVAL;
    *out = (pl_referral_outcome_t) i;
    return PL_OK;
}

int
pl_referral_priority_parse(const char *text, pl_referral_priority_t *out)
{
    int i = s_lookup(s_priority_names, PL_PRIORITY_COUNT, text);
    if (i < 0)
        return PL_EINVAL;
    *out = (pl_referral_priority_t) i;
    return PL_OK;
}

// ---- the table (STYLE.md P11): [state][event] -> {next, side}.
// An empty cell (side == 0, i.e. S_NONE) is "not in this state". Sides are
// stored +1 so that a zeroed cell means "none".

#define S_NONE 0
#define S_SND  (1 + PL_SIDE_SENDER)
#define S_RCP  (1 + PL_SIDE_RECIPIENT)

static const struct transition {
    pl_referral_state_t next; // state after the event
    int side;                 // S_SND or S_RCP; S_NONE: invalid here
} s_table[PL_RS_COUNT][PL_RE_COUNT] = {
    [PL_RS_REQUESTED][PL_RE_RECEIVE] = {PL_RS_RECEIVED, S_RCP},
    [PL_RS_REQUESTED][PL_RE_CANCEL] = {PL_RS_CANCELLED, S_SND},

    [PL_RS_RECEIVED][PL_RE_ACCEPT] = {PL_RS_ACCEPTED, S_RCP},
    [PL_RS_RECEIVED][PL_RE_REJECT] = {PL_RS_REJECTED, S_RCP},
    [PL_RS_RECEIVED][PL_RE_CANCEL] = {PL_RS_CANCELLED, S_SND},

    [PL_RS_ACCEPTED][PL_RE_START] = {PL_RS_IN_PROGRESS, S_RCP},
    [PL_RS_ACCEPTED][PL_RE_COMPLETE] = {PL_RS_COMPLETED, S_RCP},
    [PL_RS_ACCEPTED][PL_RE_CANCEL] = {PL_RS_CANCELLED, S_SND},

    [PL_RS_IN_PROGRESS][PL_RE_HOLD] = {PL_RS_ON_HOLD, S_RCP},
    [PL_RS_IN_PROGRESS][PL_RE_COMPLETE] = {PL_RS_COMPLETED, S_RCP},
    [PL_RS_IN_PROGRESS][PL_RE_CANCEL] = {PL_RS_CANCELLED, S_SND},

    [PL_RS_ON_HOLD][PL_RE_RESUME] = {PL_RS_IN_PROGRESS, S_RCP},
    [PL_RS_ON_HOLD][PL_RE_CANCEL] = {PL_RS_CANCELLED, S_SND},

    // rejected, completed, cancelled: no cell, ever (terminal)
};

// The side of each event, for "wrong side" in a state where the event has
// no cell (e.g. the sender trying to accept a requested referral).
static const pl_referral_side_t s_event_side[PL_RE_COUNT] = {
    [PL_RE_RECEIVE] = PL_SIDE_RECIPIENT,  [PL_RE_ACCEPT] = PL_SIDE_RECIPIENT,
    [PL_RE_REJECT] = PL_SIDE_RECIPIENT,   [PL_RE_START] = PL_SIDE_RECIPIENT,
    [PL_RE_HOLD] = PL_SIDE_RECIPIENT,     [PL_RE_RESUME] = PL_SIDE_RECIPIENT,
    [PL_RE_COMPLETE] = PL_SIDE_RECIPIENT, [PL_RE_CANCEL] = PL_SIDE_SENDER,
};

bool
pl_referral_is_terminal(pl_referral_state_t state)
{
    return state == PL_RS_REJECTED || state == PL_RS_COMPLETED
           || state == PL_RS_CANCELLED;
}

bool
pl_referral_is_open(pl_referral_state_t state)
{
    return S_IN(state, PL_RS_COUNT) && !pl_referral_is_terminal(state);
}

pl_referral_side_t
pl_referral_event_side(pl_referral_event_t event)
{
    assert(S_IN(event, PL_RE_COUNT));
    return s_event_side[event];
}

bool
pl_referral_event_needs_reason(pl_referral_event_t event)
{
    return event == PL_RE_REJECT || event == PL_RE_HOLD
           || event == PL_RE_CANCEL;
}

bool
pl_referral_result_refused(pl_referral_result_t result)
{
    return result >= PL_REF_REFUSED_SIDE;
}

int
pl_referral_result_err(pl_referral_result_t result)
{
    switch (result) {
    case PL_REF_REFUSED_SIDE:
        return PL_EPERM;
    case PL_REF_REFUSED_STATE:
    case PL_REF_REFUSED_TERMINAL:
        return PL_ESTATE;
    case PL_REF_REFUSED_INVALID:
        return PL_EINVAL;
    case PL_REF_REFUSED_TOO_EARLY:
        return PL_EFULL;
    default:
        return PL_OK;
    }
}

pl_referral_result_t
pl_referral_transition(pl_referral_state_t from, pl_referral_event_t event,
                       pl_referral_side_t side, pl_referral_state_t *next)
{
    assert(S_IN(from, PL_RS_COUNT));
    assert(S_IN(event, PL_RE_COUNT));
    assert(S_IN(side, PL_SIDE_COUNT));
    assert(next);
    *next = from;
    if (pl_referral_is_terminal(from))
        return PL_REF_REFUSED_TERMINAL;
    if (s_event_side[event] != side)
        return PL_REF_REFUSED_SIDE;
    const struct transition *cell = &s_table[from][event];
    if (cell->side == S_NONE)
        return PL_REF_REFUSED_STATE;
    // the column's side and the cell's side agree (checked by the tests)
    assert(cell->side == 1 + (int) side);
    *next = cell->next;
    return PL_REF_APPLIED;
}

void
pl_referral_refusal_text(char *out, size_t size, pl_referral_result_t result,
                         pl_referral_state_t state, pl_referral_event_t event,
                         pl_referral_side_t side)
{
    if (!out || size == 0)
        return;
    const char *ev = pl_referral_event_name(event);
    const char *st = pl_referral_state_name(state);
    switch (result) {
    case PL_REF_REFUSED_SIDE:
        snprintf(out, size,
                 "referral: only the %s may %s a referral (this is the %s)",
                 pl_referral_side_name(pl_referral_event_side(event)), ev,
                 pl_referral_side_name(side));
        break;
    case PL_REF_REFUSED_TERMINAL:
        snprintf(out, size,
                 "referral: cannot %s a referral that is %s (terminal states "
                 "never reopen; make a new referral)",
                 ev, st);
        break;
    case PL_REF_REFUSED_STATE:
        snprintf(out, size, "referral: cannot %s a referral that is %s", ev,
                 st);
        break;
    case PL_REF_REFUSED_INVALID:
        if (event == PL_RE_COMPLETE)
            snprintf(out, size,
                     "referral: complete needs an outcome "
                     "(successful or not-successful)");
        else
            snprintf(out, size, "referral: malformed %s update", ev);
        break;
    case PL_REF_REFUSED_TOO_EARLY:
        snprintf(out, size,
                 "referral: %s update too far ahead of the updates applied",
                 ev);
        break;
    case PL_REF_CANCEL_TOO_LATE:
        snprintf(out, size,
                 "referral: cancellation too late: the recipient had already "
                 "%s it",
                 st);
        break;
    default:
        snprintf(out, size, "referral: %s %s", ev,
                 pl_referral_result_name(result));
        break;
    }
}

// ---- the tracker

// The view: the recipient's progress, unless the sender's cancellation came
// first. A recipient's terminal state beats a crossing cancellation.
static pl_referral_state_t
s_view(const pl_referral_track_t *t)
{
    if (t->cancelled && !pl_referral_is_terminal(t->rstate))
        return PL_RS_CANCELLED;
    return t->rstate;
}

void
pl_referral_track_init(pl_referral_track_t *t, pl_referral_side_t me)
{
    assert(t);
    assert(S_IN(me, PL_SIDE_COUNT));
    memset(t, 0, sizeof *t);
    t->me = me;
    t->rstate = PL_RS_REQUESTED;
}

pl_referral_state_t
pl_referral_track_state(const pl_referral_track_t *t)
{
    assert(t);
    return s_view(t);
}

// The event a status stands for when reached from 'from': the cell of row
// 'from' that leads to 'to', else the status's usual event (so a refusal
// names something sensible). -1 when 'to' is never a target (requested).
static int
s_event_for(pl_referral_state_t from, pl_referral_state_t to)
{
    for (int e = 0; e < PL_RE_COUNT; e++)
        if (s_table[from][e].side != S_NONE && s_table[from][e].next == to)
            return e;
    switch (to) {
    case PL_RS_RECEIVED:
        return PL_RE_RECEIVE;
    case PL_RS_ACCEPTED:
        return PL_RE_ACCEPT;
    case PL_RS_REJECTED:
        return PL_RE_REJECT;
    case PL_RS_IN_PROGRESS:
        return from == PL_RS_ON_HOLD ? PL_RE_RESUME : PL_RE_START;
    case PL_RS_ON_HOLD:
        return PL_RE_HOLD;
    case PL_RS_COMPLETED:
        return PL_RE_COMPLETE;
    case PL_RS_CANCELLED:
        return PL_RE_CANCEL;
    default:
        return -1;
    }
}

// Static checks of an update, before anything else.
static bool
s_update_valid(const pl_referral_update_t *u)
{
    if (!S_IN(u->by, PL_SIDE_COUNT) || u->seq == 0)
        return false;
    if (!S_IN(u->to, PL_RS_COUNT) || u->to == PL_RS_REQUESTED)
        return false;
    if (!S_IN(u->outcome, PL_OUTCOME_NOT_SUCCESSFUL + 1))
        return false;
    // an outcome belongs to a completion, and a completion needs one
    return (u->to == PL_RS_COMPLETED) == (u->outcome != PL_OUTCOME_NONE);
}

// Applies one in-order update of author u->by, with event 'event' (or -1:
// find it from the status). Fills 'step'. Does not touch sequence numbers.
static pl_referral_result_t
s_apply_one(pl_referral_track_t *t, const pl_referral_update_t *u, int event,
            pl_referral_step_t *step)
{
    pl_referral_state_t view = s_view(t);
    *step = (pl_referral_step_t){.update = *u, .from = view, .to = view};

    if (u->by == PL_SIDE_RECIPIENT) {
        // At the sender, the recipient's updates are checked against the
        // recipient's own progress: it made them before it saw any
        // cancellation (after it, it can make none). At the recipient, its
        // own acts are checked against its view.
        pl_referral_state_t base = (t->me == PL_SIDE_SENDER) ? t->rstate : view;
        int ev = event >= 0 ? event : s_event_for(base, u->to);
        assert(ev >= 0); // s_update_valid refused "requested"
        step->event = (pl_referral_event_t) ev;
        if (event < 0 && ev == PL_RE_RECEIVE && t->rstate != PL_RS_REQUESTED) {
            // received was already implied by an earlier update or receipt
            return step->result = PL_REF_DUPLICATE;
        }
        pl_referral_state_t next;
        pl_referral_result_t r =
            pl_referral_transition(base, step->event, u->by, &next);
        if (r != PL_REF_APPLIED && base == PL_RS_REQUESTED
            && ev != PL_RE_RECEIVE) {
            // any update from the recipient implies received: try again
            // from there (an accept seen while still "requested")
            int ev2 = event >= 0 ? event : s_event_for(PL_RS_RECEIVED, u->to);
            if (pl_referral_transition(PL_RS_RECEIVED,
                                       (pl_referral_event_t) ev2, u->by, &next)
                == PL_REF_APPLIED) {
                r = PL_REF_APPLIED;
                step->event = (pl_referral_event_t) ev2;
                step->implied_received = true;
            }
        }
        if (r != PL_REF_APPLIED)
            return step->result = r;
        t->rstate = next;
        step->to = s_view(t);
        if (!t->cancelled)
            return step->result = PL_REF_APPLIED;
        if (pl_referral_is_terminal(next)) {
            // crossed: the service happened or was refused; it wins
            t->cancel_late = true;
            return step->result = PL_REF_CANCEL_TOO_LATE;
        }
        return step->result = PL_REF_AFTER_CANCEL;
    }

    // the sender's updates (a cancellation, or something it may not do)
    int ev = event >= 0 ? event : s_event_for(view, u->to);
    assert(ev >= 0);
    step->event = (pl_referral_event_t) ev;
    if (ev == PL_RE_CANCEL && t->me == PL_SIDE_RECIPIENT && !t->cancelled
        && pl_referral_is_terminal(t->rstate)) {
        // crossed at the recipient: its terminal state stands
        t->cancelled = true;
        t->cancel_late = true;
        return step->result = PL_REF_CANCEL_TOO_LATE;
    }
    pl_referral_state_t next;
    pl_referral_result_t r =
        pl_referral_transition(view, step->event, u->by, &next);
    if (r != PL_REF_APPLIED)
        return step->result = r;
    assert(next == PL_RS_CANCELLED);
    t->cancelled = true;
    step->to = s_view(t);
    return step->result = PL_REF_APPLIED;
}

pl_referral_result_t
pl_referral_track_received(pl_referral_track_t *t, pl_referral_step_t *step)
{
    assert(t);
    pl_referral_step_t local;
    if (!step)
        step = &local;
    pl_referral_state_t view = s_view(t);
    *step = (pl_referral_step_t){
        .update = {.by = PL_SIDE_RECIPIENT, .to = PL_RS_RECEIVED},
        .event = PL_RE_RECEIVE,
        .from = view,
        .to = view,
    };
    if (t->rstate != PL_RS_REQUESTED)
        return step->result = PL_REF_DUPLICATE;
    t->rstate = PL_RS_RECEIVED;
    step->to = s_view(t);
    return step->result = t->cancelled ? PL_REF_AFTER_CANCEL : PL_REF_APPLIED;
}

pl_referral_result_t
pl_referral_track_act(pl_referral_track_t *t, pl_referral_event_t event,
                      pl_referral_outcome_t outcome, pl_referral_update_t *out)
{
    assert(t);
    assert(S_IN(event, PL_RE_COUNT));
    pl_referral_state_t view = s_view(t);
    pl_referral_state_t next;
    // side and state first: "only the recipient may complete" says more
    // than "outcome missing"
    pl_referral_result_t r = pl_referral_transition(view, event, t->me, &next);
    if (r != PL_REF_APPLIED)
        return r;
    if ((event == PL_RE_COMPLETE)
        != (outcome == PL_OUTCOME_SUCCESSFUL
            || outcome == PL_OUTCOME_NOT_SUCCESSFUL))
        return PL_REF_REFUSED_INVALID;
    pl_referral_update_t u = {
        .by = t->me,
        .seq = t->last_seq[t->me] + 1,
        .to = next,
        .outcome = outcome,
    };
    pl_referral_step_t step;
    r = s_apply_one(t, &u, (int) event, &step);
    assert(r == PL_REF_APPLIED); // checked above against the same view
    t->last_seq[t->me] = u.seq;
    if (out)
        *out = u;
    return r;
}

// Index of the pending update of 'by' with 'seq', or -1.
static int
s_pending_find(const pl_referral_track_t *t, pl_referral_side_t by,
               uint32_t seq)
{
    for (size_t i = 0; i < t->npending; i++)
        if (t->pending[i].by == by && t->pending[i].seq == seq)
            return (int) i;
    return -1;
}

pl_referral_result_t
pl_referral_track_apply(pl_referral_track_t *t, const pl_referral_update_t *u,
                        pl_referral_steps_t *steps)
{
    assert(t && u && steps);
    steps->count = 0;
    if (!s_update_valid(u))
        return PL_REF_REFUSED_INVALID;
    uint32_t last = t->last_seq[u->by];
    if (u->seq <= last || s_pending_find(t, u->by, u->seq) >= 0)
        return PL_REF_DUPLICATE;
    if (u->seq - last > PL_REFERRAL_WINDOW)
        return PL_REF_REFUSED_TOO_EARLY;
    if (u->seq != last + 1) {
        // at most WINDOW - 1 pending per author (seqs last+2..last+WINDOW),
        // so the array never overflows
        assert(t->npending < PL_REFERRAL_PENDING_MAX);
        t->pending[t->npending++] = *u;
        return PL_REF_BUFFERED;
    }
    pl_referral_result_t first =
        s_apply_one(t, u, -1, &steps->step[steps->count++]);
    t->last_seq[u->by] = u->seq;

    // drain: any pending update that became next in its author's order
    for (bool progress = true; progress;) {
        progress = false;
        for (int by = 0; by < PL_SIDE_COUNT; by++) {
            int i =
                s_pending_find(t, (pl_referral_side_t) by, t->last_seq[by] + 1);
            if (i < 0)
                continue;
            pl_referral_update_t next = t->pending[i];
            t->pending[i] = t->pending[--t->npending];
            assert(steps->count < PL_REFERRAL_STEPS_MAX);
            s_apply_one(t, &next, -1, &steps->step[steps->count++]);
            t->last_seq[by] = next.seq;
            progress = true;
        }
    }
    return first;
}

// ---- pack / unpack: "RT" 1 me rstate flags npending 0 | last_seq[2] (u32)
// then per pending: by to outcome 0 | seq (u32) | cookie (u64)

#define S_MAGIC0  'R'
#define S_MAGIC1  'T'
#define S_VERSION 1

static void
s_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8), p[3] = (uint8_t) v;
}

static uint32_t
s_get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8
           | p[3];
}

void
pl_referral_track_pack(const pl_referral_track_t *t, uint8_t *out, size_t *len)
{
    assert(t && out && len);
    assert(t->npending <= PL_REFERRAL_PENDING_MAX);
    uint8_t *p = out;
    *p++ = S_MAGIC0;
    *p++ = S_MAGIC1;
    *p++ = S_VERSION;
    *p++ = (uint8_t) t->me;
    *p++ = (uint8_t) t->rstate;
    *p++ = (uint8_t) ((t->cancelled ? 1 : 0) | (t->cancel_late ? 2 : 0));
    *p++ = (uint8_t) t->npending;
    *p++ = 0;
    for (int s = 0; s < PL_SIDE_COUNT; s++, p += 4)
        s_put32(p, t->last_seq[s]);
    for (size_t i = 0; i < t->npending; i++) {
        const pl_referral_update_t *u = &t->pending[i];
        *p++ = (uint8_t) u->by;
        *p++ = (uint8_t) u->to;
        *p++ = (uint8_t) u->outcome;
        *p++ = 0;
        s_put32(p, u->seq);
        p += 4;
        s_put32(p, (uint32_t) (u->cookie >> 32));
        s_put32(p + 4, (uint32_t) u->cookie);
        p += 8;
    }
    *len = (size_t) (p - out);
}

int
pl_referral_track_unpack(pl_referral_track_t *t, const uint8_t *in, size_t len)
{
    assert(t && (in || len == 0));
    if (len < 16 || in[0] != S_MAGIC0 || in[1] != S_MAGIC1 || in[2] != S_VERSION
        || in[3] >= PL_SIDE_COUNT || in[4] >= PL_RS_COUNT || in[5] > 3
        || in[7] != 0)
        return PL_EPROTO;
    pl_referral_track_t r;
    pl_referral_track_init(&r, (pl_referral_side_t) in[3]);
    r.rstate = (pl_referral_state_t) in[4];
    r.cancelled = in[5] & 1;
    r.cancel_late = (in[5] & 2) != 0;
    r.npending = in[6];
    // the recipient never cancels; a late cancel is a cancel
    if (r.rstate == PL_RS_CANCELLED || (r.cancel_late && !r.cancelled)
        || r.npending > PL_REFERRAL_PENDING_MAX || len != 16 + r.npending * 16)
        return PL_EPROTO;
    for (int s = 0; s < PL_SIDE_COUNT; s++)
        r.last_seq[s] = s_get32(in + 8 + 4 * s);
    const uint8_t *p = in + 16;
    for (size_t i = 0; i < r.npending; i++, p += 16) {
        pl_referral_update_t *u = &r.pending[i];
        u->by = (pl_referral_side_t) p[0];
        u->to = (pl_referral_state_t) p[1];
        u->outcome = (pl_referral_outcome_t) p[2];
        u->seq = s_get32(p + 4);
        u->cookie = (uint64_t) s_get32(p + 8) << 32 | s_get32(p + 12);
        if (p[0] >= PL_SIDE_COUNT || p[1] >= PL_RS_COUNT
            || p[2] > PL_OUTCOME_NOT_SUCCESSFUL || p[3] != 0
            || !s_update_valid(u))
            return PL_EPROTO;
        // pending means ahead of the next expected, inside the window,
        // once each
        uint32_t last = r.last_seq[u->by];
        if (u->seq <= last + 1 || u->seq - last > PL_REFERRAL_WINDOW)
            return PL_EPROTO;
        for (size_t j = 0; j < i; j++)
            if (r.pending[j].by == u->by && r.pending[j].seq == u->seq)
                return PL_EPROTO;
    }
    *t = r;
    return PL_OK;
}

// ---- overdue

uint64_t
pl_referral_priority_window(pl_referral_priority_t priority)
{
    assert(S_IN(priority, PL_PRIORITY_COUNT));
    return s_priority_window[priority];
}

bool
pl_referral_overdue(pl_referral_state_t state, pl_referral_priority_t priority,
                    uint64_t created_at, uint64_t last_change_at, uint64_t due,
                    uint64_t now, uint64_t *since)
{
    if (since)
        *since = 0;
    if (!pl_referral_is_open(state))
        return false;
    uint64_t base = last_change_at ? last_change_at : created_at;
    uint64_t deadline = base + pl_referral_priority_window(priority);
    if (due != 0 && due < deadline)
        deadline = due;
    if (since)
        *since = deadline;
    return now > deadline;
}

int
pl_referral_due_parse(const char *text, uint64_t *due)
{
    uint64_t t;
    int rc = pl_date_parse(text, &t);
    if (rc != PL_OK)
        return rc;
    *due = t + 86400;
    return PL_OK;
}
