// pl_outbox_state - the outbox lifecycle table (see pl_outbox_state.h).
// Layer: domain.
#include "nodes/pl_outbox_state.h"

#include "proto/pl_wire.h"

static const char *const s_names[PL_OUT_STATE_MAX + 1] = {
    [S_OUT_PENDING] = "pending",     [S_OUT_ACCEPTED] = "accepted",
    [S_OUT_RECEIPTED] = "receipted", [S_OUT_REJECTED] = "rejected",
    [S_OUT_EXPIRED] = "expired",
};

#define P S_OUT_PENDING
#define A S_OUT_ACCEPTED
#define R S_OUT_RECEIPTED
#define J S_OUT_REJECTED
#define E S_OUT_EXPIRED
// [state][event] -> next state (the table of the header)
// clang-format off
static const unsigned char s_next[PL_OUT_STATE_MAX + 1][PL_OUT_EV_COUNT] = {
    //     accepted expired rejected retry receipt
    [P] = {A,       E,      J,       P,    R},
    [A] = {A,       E,      J,       A,    R},
    [R] = {R,       R,      R,       R,    R},
    [J] = {J,       J,      J,       J,    R},
    [E] = {E,       E,      E,       E,    R},
};
// clang-format on
#undef P
#undef A
#undef R
#undef J
#undef E

int
pl_outbox_next(int state, pl_out_event_t ev)
{
    if (state < S_OUT_PENDING || state > PL_OUT_STATE_MAX
        || (unsigned) ev >= PL_OUT_EV_COUNT)
        return 0;
    return s_next[state][ev];
}

bool
pl_outbox_reason_retry(int reason)
{
    return reason == PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL
           || reason >= PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR;
}

bool
pl_outbox_final(int state)
{
    return state == S_OUT_RECEIPTED || state == S_OUT_REJECTED
           || state == S_OUT_EXPIRED;
}

bool
pl_outbox_keeps_packet(int state)
{
    return state == S_OUT_PENDING || state == S_OUT_ACCEPTED;
}

const char *
pl_outrec_state_name(int state)
{
    if (state < S_OUT_PENDING || state > PL_OUT_STATE_MAX)
        return "unknown";
    return s_names[state];
}
