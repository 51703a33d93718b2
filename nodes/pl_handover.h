// pl_handover - the lifecycle of a cross-border handover of a case
// (DESIGN.md §7.2, DOMAIN.md §a6 and §b): one state table with the side
// allowed for each transition, and the crossing of the sender's withdrawal
// with the recipient's steps. Layer: nodes, domain. Pure logic: no I/O, no
// store, no clock, no allocation (like pl_referral).
//
//   sent         --ack (recipient)-->      acknowledged
//   acknowledged --accept (recipient)-->   accepted       (a child: only
//                                                          after cp-ack)
//   acknowledged --reject (recipient)-->   rejected       (reason required)
//   accepted     --arrived (recipient)-->  arrived
//   accepted     --no-show (recipient)-->  no-show
//   sent|acknowledged|accepted --withdraw (sender)--> withdrawn (reason)
//
// rejected, arrived, no-show and withdrawn are terminal. The child rules
// (a completed best-interests determination before sending, the
// child-protection acknowledgement before acceptance) are guards of the
// handlers (nodes/pl_handover_cmd.c): they need the case and the messages.
//
// Crossing (envelopes travel independently): the sender's view follows the
// recipient's own progress. A recipient step that arrives after the sender
// withdrew is recorded; a terminal one (rejected, arrived, no-show) wins,
// because it happened: the withdrawal was too late. At the recipient a
// withdrawal that arrives after its own terminal step changes nothing.
#ifndef PL_HANDOVER_H
#define PL_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

typedef enum {
    PL_HS_SENT = 0,     // "sent": the package left the host node
    PL_HS_ACKNOWLEDGED, // "acknowledged": a person at the recipient saw it
    PL_HS_ACCEPTED,     // "accepted": ownership moved to the recipient
    PL_HS_REJECTED,     // "rejected" (terminal)
    PL_HS_ARRIVED,      // "arrived" (terminal)
    PL_HS_NO_SHOW,      // "no-show" (terminal)
    PL_HS_WITHDRAWN,    // "withdrawn" (terminal)
    PL_HS_COUNT
} pl_handover_state_t;

typedef enum {
    PL_HE_ACK = 0,  // "ack"      recipient
    PL_HE_ACCEPT,   // "accept"   recipient
    PL_HE_REJECT,   // "reject"   recipient
    PL_HE_ARRIVED,  // "arrived"  recipient
    PL_HE_NO_SHOW,  // "no-show"  recipient
    PL_HE_WITHDRAW, // "withdraw" sender
    PL_HE_COUNT
} pl_handover_event_t;

typedef enum {
    PL_HSIDE_SENDER = 0,    // "sender": the host country's agency node
    PL_HSIDE_RECIPIENT = 1, // "recipient": the origin country's agency node
    PL_HSIDE_COUNT
} pl_handover_side_t;

typedef enum {
    PL_HO_APPLIED = 0,       // taken; the state moved
    PL_HO_DUPLICATE,         // already applied: nothing to do
    PL_HO_AFTER_WITHDRAW,    // a recipient step made before it saw the
                             // withdrawal: recorded, the view stays
                             // withdrawn
    PL_HO_WITHDRAW_TOO_LATE, // withdrawal and a recipient's terminal step
                             // crossed: the recipient's wins
    PL_HO_REFUSED_SIDE,      // this side may never make this event
    PL_HO_REFUSED_STATE,     // not allowed in the current state
    PL_HO_REFUSED_TERMINAL,  // the handover is closed; it never reopens
    PL_HO_RESULT_COUNT
} pl_handover_result_t;

// Codes ("acknowledged", "no-show", "withdraw", ...): static text, "?" out
// of range.
const char *pl_handover_state_name(pl_handover_state_t state);
const char *pl_handover_event_name(pl_handover_event_t event);
const char *pl_handover_side_name(pl_handover_side_t side);
const char *pl_handover_result_name(pl_handover_result_t result);
// Exact lower-case codes; PL_EINVAL for anything else (*out untouched).
PL_MUST_CHECK int pl_handover_state_parse(const char *text,
                                          pl_handover_state_t *out);
PL_MUST_CHECK int pl_handover_event_parse(const char *text,
                                          pl_handover_event_t *out);

// rejected, arrived, no-show, withdrawn.
bool pl_handover_is_terminal(pl_handover_state_t state);
// The only side that may make 'event'.
pl_handover_side_t pl_handover_event_side(pl_handover_event_t event);
// The state an event leads to (its target), whatever the state before.
pl_handover_state_t pl_handover_event_target(pl_handover_event_t event);
// The event whose target is 'state' (PL_EINVAL for sent).
PL_MUST_CHECK int pl_handover_event_of(pl_handover_state_t state,
                                       pl_handover_event_t *out);
// reject and withdraw need --reason CODE.
bool pl_handover_event_needs_reason(pl_handover_event_t event);
// true for the PL_HO_REFUSED_* results.
bool pl_handover_result_refused(pl_handover_result_t result);
// PL_OK, PL_EPERM (side) or PL_ESTATE (state, terminal).
int pl_handover_result_err(pl_handover_result_t result);

// The table: may 'side' make 'event' in state 'from'? On PL_HO_APPLIED
// *next is the new state, otherwise *next = from. Decided in this order:
// terminal 'from' -> REFUSED_TERMINAL; wrong side -> REFUSED_SIDE; no cell
// -> REFUSED_STATE.
pl_handover_result_t pl_handover_transition(pl_handover_state_t from,
                                            pl_handover_event_t event,
                                            pl_handover_side_t side,
                                            pl_handover_state_t *next);

// One clear line for a refusal ("handover: only the recipient may accept a
// handover (this is the sender)"). Always NUL-terminates 'out'.
void pl_handover_refusal_text(char *out, size_t size,
                              pl_handover_result_t result,
                              pl_handover_state_t state,
                              pl_handover_event_t event,
                              pl_handover_side_t side);

// One handover as one node sees it. Plain data.
typedef struct {
    pl_handover_side_t me;      // which side this node is
    pl_handover_state_t rstate; // where the recipient's steps led
    bool withdrawn;             // the sender's withdrawal was made or seen
    bool late;                  // ... and lost against a terminal step
} pl_handover_track_t;

// A fresh handover at 'me': sent.
void pl_handover_track_init(pl_handover_track_t *t, pl_handover_side_t me);
// The state this node shows.
pl_handover_state_t pl_handover_track_state(const pl_handover_track_t *t);
// A person at this node makes 'event': checked against the shown state
// with pl_handover_transition(); on APPLIED the track moves.
pl_handover_result_t pl_handover_track_act(pl_handover_track_t *t,
                                           pl_handover_event_t event);
// The other side's step arrived (in its author's order): APPLIED,
// DUPLICATE (a second withdrawal), AFTER_WITHDRAW, WITHDRAW_TOO_LATE or a
// refusal (nothing changes). A step authored by 'me' is REFUSED_SIDE.
pl_handover_result_t pl_handover_track_apply(pl_handover_track_t *t,
                                             pl_handover_event_t event,
                                             pl_handover_side_t by);

#endif
