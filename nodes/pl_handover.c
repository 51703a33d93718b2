// pl_handover - the handover lifecycle: one state table, the side of each
// event, the crossing of a withdrawal. Layer: nodes, domain. Pure logic;
// see pl_handover.h.
#include "nodes/pl_handover.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

// 'x' is a valid index below 'n' (enums may be unsigned)
#define S_IN(x, n) ((unsigned) (x) < (unsigned) (n))

static const char *const s_state_names[PL_HS_COUNT] = {
    [PL_HS_SENT] = "sent",           [PL_HS_ACKNOWLEDGED] = "acknowledged",
    [PL_HS_ACCEPTED] = "accepted",   [PL_HS_REJECTED] = "rejected",
    [PL_HS_ARRIVED] = "arrived",     [PL_HS_NO_SHOW] = "no-show",
    [PL_HS_WITHDRAWN] = "withdrawn",
};

static const char *const s_event_names[PL_HE_COUNT] = {
    [PL_HE_ACK] = "ack",         [PL_HE_ACCEPT] = "accept",
    [PL_HE_REJECT] = "reject",   [PL_HE_ARRIVED] = "arrived",
    [PL_HE_NO_SHOW] = "no-show", [PL_HE_WITHDRAW] = "withdraw",
};

static const char *const s_side_names[PL_HSIDE_COUNT] = {
    [PL_HSIDE_SENDER] = "sender",
    [PL_HSIDE_RECIPIENT] = "recipient",
};

static const char *const s_result_names[PL_HO_RESULT_COUNT] = {
    [PL_HO_APPLIED] = "applied",
    [PL_HO_DUPLICATE] = "duplicate",
    [PL_HO_AFTER_WITHDRAW] = "after-withdraw",
    [PL_HO_WITHDRAW_TOO_LATE] = "withdraw-too-late",
    [PL_HO_REFUSED_SIDE] = "refused-side",
    [PL_HO_REFUSED_STATE] = "refused-state",
    [PL_HO_REFUSED_TERMINAL] = "refused-terminal",
};

static const char *
s_name(const char *const *names, size_t n, int i)
{
    return (i >= 0 && (size_t) i < n && names[i]) ? names[i] : "?";
}

static int
s_lookup(const char *const *names, size_t n, const char *text)
{
    for (size_t i = 0; text && i < n; i++)
        if (names[i] && strcmp(names[i], text) == 0)
            return (int) i;
    return -1;
}

const char *
pl_handover_state_name(pl_handover_state_t state)
{
    return s_name(s_state_names, PL_HS_COUNT, (int) state);
}

const char *
pl_handover_event_name(pl_handover_event_t event)
{
    return s_name(s_event_names, PL_HE_COUNT, (int) event);
}

const char *
pl_handover_side_name(pl_handover_side_t side)
{
    return s_name(s_side_names, PL_HSIDE_COUNT, (int) side);
}

const char *
pl_handover_result_name(pl_handover_result_t result)
{
    return s_name(s_result_names, PL_HO_RESULT_COUNT, (int) result);
}

int
pl_handover_state_parse(const char *text, pl_handover_state_t *out)
{
    int i = s_lookup(s_state_names, PL_HS_COUNT, text);
    if (i < 0)
        return PL_EINVAL;
    *out = (pl_handover_state_t) i;
    return PL_OK;
}

int
pl_handover_event_parse(const char *text, pl_handover_event_t *out)
{
    int i = s_lookup(s_event_names, PL_HE_COUNT, text);
    if (i < 0)
        return PL_EINVAL;
    *out = (pl_handover_event_t) i;
    return PL_OK;
}

// ---- the table (STYLE.md P11): [state][event] -> {next, side}; sides are
// stored +1 so that a zeroed cell means "not in this state".

#define S_NONE 0
#define S_SND  (1 + PL_HSIDE_SENDER)
#define S_RCP  (1 + PL_HSIDE_RECIPIENT)

static const struct transition {
    pl_handover_state_t next; // state after the event
    int side;                 // S_SND or S_RCP; S_NONE: invalid here
} s_table[PL_HS_COUNT][PL_HE_COUNT] = {
    [PL_HS_SENT][PL_HE_ACK] = {PL_HS_ACKNOWLEDGED, S_RCP},
    [PL_HS_SENT][PL_HE_WITHDRAW] = {PL_HS_WITHDRAWN, S_SND},

    [PL_HS_ACKNOWLEDGED][PL_HE_ACCEPT] = {PL_HS_ACCEPTED, S_RCP},
    [PL_HS_ACKNOWLEDGED][PL_HE_REJECT] = {PL_HS_REJECTED, S_RCP},
    [PL_HS_ACKNOWLEDGED][PL_HE_WITHDRAW] = {PL_HS_WITHDRAWN, S_SND},

    [PL_HS_ACCEPTED][PL_HE_ARRIVED] = {PL_HS_ARRIVED, S_RCP},
    [PL_HS_ACCEPTED][PL_HE_NO_SHOW] = {PL_HS_NO_SHOW, S_RCP},
    [PL_HS_ACCEPTED][PL_HE_WITHDRAW] = {PL_HS_WITHDRAWN, S_SND},

    // rejected, arrived, no-show, withdrawn: no cell, ever (terminal)
};

static const pl_handover_side_t s_event_side[PL_HE_COUNT] = {
    [PL_HE_ACK] = PL_HSIDE_RECIPIENT,     [PL_HE_ACCEPT] = PL_HSIDE_RECIPIENT,
    [PL_HE_REJECT] = PL_HSIDE_RECIPIENT,  [PL_HE_ARRIVED] = PL_HSIDE_RECIPIENT,
    [PL_HE_NO_SHOW] = PL_HSIDE_RECIPIENT, [PL_HE_WITHDRAW] = PL_HSIDE_SENDER,
};

static const pl_handover_state_t s_event_target[PL_HE_COUNT] = {
    [PL_HE_ACK] = PL_HS_ACKNOWLEDGED, [PL_HE_ACCEPT] = PL_HS_ACCEPTED,
    [PL_HE_REJECT] = PL_HS_REJECTED,  [PL_HE_ARRIVED] = PL_HS_ARRIVED,
    [PL_HE_NO_SHOW] = PL_HS_NO_SHOW,  [PL_HE_WITHDRAW] = PL_HS_WITHDRAWN,
};

bool
pl_handover_is_terminal(pl_handover_state_t state)
{
    return state == PL_HS_REJECTED || state == PL_HS_ARRIVED
           || state == PL_HS_NO_SHOW || state == PL_HS_WITHDRAWN;
}

pl_handover_side_t
pl_handover_event_side(pl_handover_event_t event)
{
    assert(S_IN(event, PL_HE_COUNT));
    return s_event_side[event];
}

pl_handover_state_t
pl_handover_event_target(pl_handover_event_t event)
{
    assert(S_IN(event, PL_HE_COUNT));
    return s_event_target[event];
}

int
pl_handover_event_of(pl_handover_state_t state, pl_handover_event_t *out)
{
    for (int e = 0; e < PL_HE_COUNT; e++)
        if (s_event_target[e] == state) {
            *out = (pl_handover_event_t) e;
            return PL_OK;
        }
    return PL_EINVAL;
}

bool
pl_handover_event_needs_reason(pl_handover_event_t event)
{
    return event == PL_HE_REJECT || event == PL_HE_WITHDRAW;
}

bool
pl_handover_result_refused(pl_handover_result_t result)
{
    return result >= PL_HO_REFUSED_SIDE;
}

int
pl_handover_result_err(pl_handover_result_t result)
{
    switch (result) {
    case PL_HO_REFUSED_SIDE:
        return PL_EPERM;
    case PL_HO_REFUSED_STATE:
    case PL_HO_REFUSED_TERMINAL:
        return PL_ESTATE;
    default:
        return PL_OK;
    }
}

pl_handover_result_t
pl_handover_transition(pl_handover_state_t from, pl_handover_event_t event,
                       pl_handover_side_t side, pl_handover_state_t *next)
{
    assert(S_IN(from, PL_HS_COUNT));
    assert(S_IN(event, PL_HE_COUNT));
    assert(S_IN(side, PL_HSIDE_COUNT));
    assert(next);
    *next = from;
    if (pl_handover_is_terminal(from))
        return PL_HO_REFUSED_TERMINAL;
    if (s_event_side[event] != side)
        return PL_HO_REFUSED_SIDE;
    const struct transition *cell = &s_table[from][event];
    if (cell->side == S_NONE)
        return PL_HO_REFUSED_STATE;
    assert(cell->side == 1 + (int) side); // column and cell agree (tested)
    *next = cell->next;
    return PL_HO_APPLIED;
}

// arrived and no-show are recorded, not done: "cannot record arrived for"
static bool
s_record(pl_handover_event_t event)
{
    return event == PL_HE_ARRIVED || event == PL_HE_NO_SHOW;
}

void
pl_handover_refusal_text(char *out, size_t size, pl_handover_result_t result,
                         pl_handover_state_t state, pl_handover_event_t event,
                         pl_handover_side_t side)
{
    if (!out || size == 0)
        return;
    const char *ev = pl_handover_event_name(event);
    const char *st = pl_handover_state_name(state);
    switch (result) {
    case PL_HO_REFUSED_SIDE:
        snprintf(out, size,
                 "handover: only the %s may %s a handover (this is the %s)",
                 pl_handover_side_name(pl_handover_event_side(event)), ev,
                 pl_handover_side_name(side));
        break;
    case PL_HO_REFUSED_TERMINAL:
        snprintf(out, size,
                 "handover: cannot %s%s%s a handover that is %s (it is "
                 "closed and never reopens)",
                 s_record(event) ? "record " : "", ev,
                 s_record(event) ? " for" : "", st);
        break;
    case PL_HO_REFUSED_STATE:
        snprintf(out, size, "handover: cannot %s%s%s a handover that is %s",
                 s_record(event) ? "record " : "", ev,
                 s_record(event) ? " for" : "", st);
        break;
    case PL_HO_WITHDRAW_TOO_LATE:
        snprintf(out, size,
                 "handover: withdrawal too late: the recipient had already "
                 "recorded %s",
                 st);
        break;
    default:
        snprintf(out, size, "handover: %s %s", ev,
                 pl_handover_result_name(result));
        break;
    }
}

// ---- the track

void
pl_handover_track_init(pl_handover_track_t *t, pl_handover_side_t me)
{
    assert(t && S_IN(me, PL_HSIDE_COUNT));
    memset(t, 0, sizeof *t);
    t->me = me;
    t->rstate = PL_HS_SENT;
}

pl_handover_state_t
pl_handover_track_state(const pl_handover_track_t *t)
{
    return t->withdrawn && !t->late ? PL_HS_WITHDRAWN : t->rstate;
}

pl_handover_result_t
pl_handover_track_act(pl_handover_track_t *t, pl_handover_event_t event)
{
    pl_handover_state_t next;
    pl_handover_result_t r =
        pl_handover_transition(pl_handover_track_state(t), event, t->me, &next);
    if (r != PL_HO_APPLIED)
        return r;
    if (event == PL_HE_WITHDRAW)
        t->withdrawn = true;
    else
        t->rstate = next;
    return r;
}

pl_handover_result_t
pl_handover_track_apply(pl_handover_track_t *t, pl_handover_event_t event,
                        pl_handover_side_t by)
{
    assert(S_IN(event, PL_HE_COUNT) && S_IN(by, PL_HSIDE_COUNT));
    if (by == t->me || s_event_side[event] != by)
        return PL_HO_REFUSED_SIDE;
    if (event == PL_HE_WITHDRAW) { // at the recipient
        if (t->withdrawn)
            return PL_HO_DUPLICATE;
        if (pl_handover_is_terminal(t->rstate))
            return PL_HO_WITHDRAW_TOO_LATE; // its own terminal step wins
        t->withdrawn = true;
        return PL_HO_APPLIED;
    }
    // a recipient step, at the sender: against the recipient's progress
    pl_handover_state_t next;
    pl_handover_result_t r =
        pl_handover_transition(t->rstate, event, by, &next);
    if (r != PL_HO_APPLIED)
        return r;
    t->rstate = next;
    if (!t->withdrawn)
        return PL_HO_APPLIED;
    if (pl_handover_is_terminal(next)) {
        t->late = true;
        return PL_HO_WITHDRAW_TOO_LATE;
    }
    return PL_HO_AFTER_WITHDRAW;
}
