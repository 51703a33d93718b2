// pl_outbox_state - the lifecycle of an outbox entry as one explicit table
// [state][answer] -> next state, in the manner of pl_referral.c's. Layer:
// domain (no daemon state, no store): the outbox code asks it what an
// answer does, the tests read it directly.
//
//                 accepted   expired   rejected  retry-later  receipt
//   pending       accepted   expired   rejected  (pending)    receipted
//   accepted      -          expired   rejected  -            receipted
//   receipted     -          -         -         -            -
//   rejected      -          -         -         -            receipted
//   expired       -          -         -         -            receipted
// '-' is "no change" (a late or repeated answer). retry-later keeps a
// pending entry pending and moves its resend (the broker refused it for now:
// store full, store error, or a reason newer than this code).
#ifndef PL_OUTBOX_STATE_H
#define PL_OUTBOX_STATE_H

#include <stdbool.h>

// Outbox entry states (stored: never renumber).
enum {
    S_OUT_PENDING = 1,   // committed, not yet accepted by the broker
    S_OUT_ACCEPTED = 2,  // the broker committed it; awaiting the receipt
    S_OUT_RECEIPTED = 3, // verified receipt received (bytes dropped)
    S_OUT_REJECTED = 4,  // refused for good by the broker or recipient
    S_OUT_EXPIRED = 5,   // expired in the broker's queue
};
#define PL_OUT_STATE_MAX S_OUT_EXPIRED

// What can happen to an entry.
typedef enum {
    PL_OUT_EV_ACCEPTED = 0, // the broker committed it
    PL_OUT_EV_EXPIRED,      // it expired in the broker's queue
    PL_OUT_EV_REJECTED,     // refused for good
    PL_OUT_EV_RETRY,        // refused for now: send again later
    PL_OUT_EV_RECEIPT,      // a verified receipt from the recipient
    PL_OUT_EV_COUNT
} pl_out_event_t;

// The next state of an entry in 'state' after 'ev': 'state' itself when
// the answer changes nothing, 0 when 'state' is not a state.
int pl_outbox_next(int state, pl_out_event_t ev);
// A rejection with this wire reason (Passerelle__V1__RejectReason) is "not
// now" (retry later) rather than for good: store full, store error, and
// any reason newer than this code (retrying loses nothing, dropping would).
bool pl_outbox_reason_retry(int reason);
// The entry is settled for good: it is pruned after S_OUTBOX_KEEP.
bool pl_outbox_final(int state);
// The entry still needs its envelope bytes (it may be sent again).
bool pl_outbox_keeps_packet(int state);
// "pending", "accepted", ... ("unknown" for others).
const char *pl_outrec_state_name(int state);

#endif
