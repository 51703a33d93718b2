// pl_referral - the referral lifecycle (DESIGN.md §6): one state table,
// per-author sequence numbers, crossing of a cancellation with a terminal
// state, and the overdue rule. Layer: nodes. Pure logic: no I/O, no store,
// no clock (every time is a parameter), no allocation.
//
// Status names are the HL7 FHIR Task.status codes (contract spelling):
//
//   requested --receive (recipient; automatic when it stores it)--> received
//   received  --accept (recipient)--> accepted
//   received  --reject (recipient)--> rejected            (reason required)
//   accepted  --start (recipient)--> in-progress
//   in-progress --hold (recipient)--> on-hold             (reason required)
//   on-hold   --resume (recipient)--> in-progress
//   accepted|in-progress --complete (recipient)--> completed (outcome required)
//   requested|received|accepted|in-progress|on-hold --cancel (sender)-->
//             cancelled                                   (reason required)
//
// rejected, completed and cancelled are terminal and never reopen.
//
// How the daemon uses it: each referral keeps one pl_referral_track_t
// (plain data; store it with pl_referral_track_pack()).
//   * sender, on `refer`:           pl_referral_track_init(&t, SENDER)
//   * sender, on the receipt of the referral envelope:
//                                   pl_referral_track_received()
//   * recipient, when it stores a new referral:
//                                   pl_referral_track_init(&t, RECIPIENT),
//                                   pl_referral_track_received()
//   * a person acts (CLI accept, cancel, ...): pl_referral_track_act() checks
//     side and state against the local view, takes the next sequence number
//     and returns the StatusUpdate to send (seq + FHIR code);
//   * a StatusUpdate arrives:       pl_referral_track_apply(); every update
//     it processed comes back in order, to be written to the history and
//     the audit chain (refused ones too: DESIGN.md §6 audits them).
#ifndef PL_REFERRAL_H
#define PL_REFERRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

// ---- states, events, sides, outcomes, priorities

typedef enum {
    PL_RS_REQUESTED = 0, // "requested": made by the sender, not yet stored
    PL_RS_RECEIVED,      // "received": stored by the recipient node
    PL_RS_ACCEPTED,      // "accepted"
    PL_RS_REJECTED,      // "rejected" (terminal)
    PL_RS_IN_PROGRESS,   // "in-progress"
    PL_RS_ON_HOLD,       // "on-hold"
    PL_RS_COMPLETED,     // "completed" (terminal)
    PL_RS_CANCELLED,     // "cancelled" (terminal)
    PL_RS_COUNT
} pl_referral_state_t;

typedef enum {
    PL_RE_RECEIVE = 0, // "receive"  recipient
    PL_RE_ACCEPT,      // "accept"   recipient
    PL_RE_REJECT,      // "reject"   recipient
    PL_RE_START,       // "start"    recipient
    PL_RE_HOLD,        // "hold"     recipient
    PL_RE_RESUME,      // "resume"   recipient
    PL_RE_COMPLETE,    // "complete" recipient
    PL_RE_CANCEL,      // "cancel"   sender
    PL_RE_COUNT
} pl_referral_event_t;

typedef enum {
    PL_SIDE_SENDER = 0,    // "sender": the node that made (and owns) it
    PL_SIDE_RECIPIENT = 1, // "recipient": the provider's node
    PL_SIDE_COUNT
} pl_referral_side_t;

typedef enum {
    PL_OUTCOME_NONE = 0,       // not a completion
    PL_OUTCOME_SUCCESSFUL,     // "successful"
    PL_OUTCOME_NOT_SUCCESSFUL, // "not-successful"
} pl_referral_outcome_t;

typedef enum {
    PL_PRIORITY_EMERGENCY = 0, // "emergency": next step within 24 h
    PL_PRIORITY_URGENT,        // "urgent": within 72 h
    PL_PRIORITY_NORMAL,        // "normal": within 14 days
    PL_PRIORITY_COUNT
} pl_referral_priority_t;

// Code of a state, event, side, outcome or priority: static text, never
// NULL ("?" for a value out of range).
const char *pl_referral_state_name(pl_referral_state_t state);
const char *pl_referral_event_name(pl_referral_event_t event);
const char *pl_referral_side_name(pl_referral_side_t side);
const char *pl_referral_outcome_name(pl_referral_outcome_t outcome);
const char *pl_referral_priority_name(pl_referral_priority_t priority);
// Parse a code (exact, lower case). PL_EINVAL for anything else; *out is
// untouched then. Outcome parsing never yields PL_OUTCOME_NONE.
PL_MUST_CHECK int pl_referral_state_parse(const char *text,
                                          pl_referral_state_t *out);
PL_MUST_CHECK int pl_referral_event_parse(const char *text,
                                          pl_referral_event_t *out);
PL_MUST_CHECK int pl_referral_side_parse(const char *text,
                                         pl_referral_side_t *out);
PL_MUST_CHECK int pl_referral_outcome_parse(const char *text,
                                            pl_referral_outcome_t *out);
PL_MUST_CHECK int pl_referral_priority_parse(const char *text,
                                             pl_referral_priority_t *out);

// rejected, completed, cancelled.
bool pl_referral_is_terminal(pl_referral_state_t state);
// requested, received, accepted, in-progress, on-hold (a case cannot be
// closed while one of its referrals is open).
bool pl_referral_is_open(pl_referral_state_t state);
// The only side that may ever make 'event'.
pl_referral_side_t pl_referral_event_side(pl_referral_event_t event);
// true for the events whose CLI command needs --reason (reject, hold,
// cancel). complete needs an outcome instead; its reason is optional.
bool pl_referral_event_needs_reason(pl_referral_event_t event);

// ---- the table

// Why a transition (or an update) was or was not taken.
typedef enum {
    PL_REF_APPLIED = 0,       // taken; the state moved
    PL_REF_BUFFERED,          // arrived early: kept until its turn
    PL_REF_DUPLICATE,         // already applied (or implied): nothing to do
    PL_REF_AFTER_CANCEL,      // a recipient update made before it saw the
                              // sender's cancellation: recorded in history,
                              // the referral stays cancelled
    PL_REF_CANCEL_TOO_LATE,   // a cancellation crossed a recipient's
                              // terminal state: the recipient's wins; record
                              // the cancellation as too late
    PL_REF_REFUSED_SIDE,      // this side may never make this event
    PL_REF_REFUSED_STATE,     // not allowed in the current state
    PL_REF_REFUSED_TERMINAL,  // the referral is closed; it never reopens
    PL_REF_REFUSED_INVALID,   // malformed update (seq 0, outcome missing or
                              // where none belongs, status not a target)
    PL_REF_REFUSED_TOO_EARLY, // seq too far ahead of the last applied one
} pl_referral_result_t;

// Code of a result ("applied", "cancel-too-late", ...), for logs and audit.
const char *pl_referral_result_name(pl_referral_result_t result);
// true for the PL_REF_REFUSED_* results.
bool pl_referral_result_refused(pl_referral_result_t result);
// The PL_E* code for a result: PL_OK for applied, buffered, duplicate,
// after-cancel and cancel-too-late; PL_EPERM (side), PL_ESTATE (state,
// terminal), PL_EINVAL (invalid), PL_EFULL (too early).
int pl_referral_result_err(pl_referral_result_t result);

// The state table: may 'side' make 'event' in state 'from'? On
// PL_REF_APPLIED *next is the new state; otherwise *next = from. The
// refusal is decided in this order: a terminal 'from' -> REFUSED_TERMINAL;
// 'side' is not the event's side -> REFUSED_SIDE; no cell -> REFUSED_STATE.
// Strict: receive only from requested (the tracker below adds the
// "any recipient update implies received" rule).
pl_referral_result_t pl_referral_transition(pl_referral_state_t from,
                                            pl_referral_event_t event,
                                            pl_referral_side_t side,
                                            pl_referral_state_t *next);

// One clear line for a refusal, naming the referral rule, e.g.
// "referral: only the recipient may accept a referral" or
// "referral: cannot start a referral that is completed (terminal states
// never reopen; make a new referral)". Always NUL-terminates 'out'.
void pl_referral_refusal_text(char *out, size_t size,
                              pl_referral_result_t result,
                              pl_referral_state_t state,
                              pl_referral_event_t event,
                              pl_referral_side_t side);

// ---- updates, sequence numbers, crossing

// An author's update may be at most this far ahead of its last applied
// seq; each author has at most WINDOW - 1 updates pending.
#define PL_REFERRAL_WINDOW      16
#define PL_REFERRAL_PENDING_MAX (PL_SIDE_COUNT * PL_REFERRAL_WINDOW)
#define PL_REFERRAL_STEPS_MAX   (PL_REFERRAL_PENDING_MAX + 1)

// A status update as it travels (StatusUpdate in passerelle.proto).
typedef struct {
    pl_referral_side_t by;         // author side (from the envelope's signer)
    uint32_t seq;                  // author's sequence number, from 1
    pl_referral_state_t to;        // the FHIR status it moves to
    pl_referral_outcome_t outcome; // set iff to == completed
    uint64_t cookie;               // caller's handle (e.g. where the full
                                   // update is kept); returned untouched
} pl_referral_update_t;

// The lifecycle of one referral as one node sees it. Plain data: copy it,
// keep it, pack it. Initialise with pl_referral_track_init() only.
typedef struct {
    pl_referral_side_t me;            // which side this node is
    pl_referral_state_t rstate;       // where the recipient's own updates led
    bool cancelled;                   // the sender's cancellation has arrived
                                      // (or was made here)
    bool cancel_late;                 // ... and crossed a recipient's terminal
                                      // state, so it lost
    uint32_t last_seq[PL_SIDE_COUNT]; // last seq taken per author (0: none)
    size_t npending;                  // updates waiting for their turn
    pl_referral_update_t pending[PL_REFERRAL_PENDING_MAX]; // unordered
} pl_referral_track_t;

// One update processed in order (or the receipt), for history and audit.
typedef struct {
    pl_referral_update_t update; // as received or made (seq 0: receipt)
    pl_referral_event_t event;   // the event it stood for
    pl_referral_result_t result; // applied, duplicate, after-cancel,
                                 // cancel-too-late or a refusal
    pl_referral_state_t from;    // the view before
    pl_referral_state_t to;      // the view after (== from unless moved)
    bool implied_received;       // "received" was implied first: record a
                                 // received entry before this one
} pl_referral_step_t;

// Every update one call processed, in order.
typedef struct {
    size_t count;                                   // steps used
    pl_referral_step_t step[PL_REFERRAL_STEPS_MAX]; // in the order applied
} pl_referral_steps_t;

// A fresh referral at 'me': requested, no update seen.
void pl_referral_track_init(pl_referral_track_t *t, pl_referral_side_t me);
// The status this node shows: the recipient's progress, or cancelled when
// the sender's cancellation came first; a recipient's terminal state wins
// over a crossing cancellation (DESIGN.md §6).
pl_referral_state_t pl_referral_track_state(const pl_referral_track_t *t);

// The recipient stored the referral (at the recipient) or its receipt came
// back (at the sender): requested -> received. Unsequenced and idempotent:
// PL_REF_DUPLICATE once any recipient update has been applied (it implied
// received). PL_REF_AFTER_CANCEL when it moved but the view stays cancelled.
// 'step' (may be NULL) describes what happened.
pl_referral_result_t pl_referral_track_received(pl_referral_track_t *t,
                                                pl_referral_step_t *step);

// A person at this node makes 'event' ('outcome' set iff complete).
// Checked against this node's view with pl_referral_transition(); on
// PL_REF_APPLIED the track moves and out->seq, out->to, out->outcome are
// the StatusUpdate to send (out->by = t->me, out->cookie = 0). On a refusal
// nothing changes (show pl_referral_refusal_text()). PL_REF_REFUSED_INVALID
// for a missing or misplaced outcome. 'out' may be NULL.
pl_referral_result_t pl_referral_track_act(pl_referral_track_t *t,
                                           pl_referral_event_t event,
                                           pl_referral_outcome_t outcome,
                                           pl_referral_update_t *out);

// A status update arrived from the other node (or is replayed). Returns
// what happened to *u itself:
//   APPLIED / AFTER_CANCEL / CANCEL_TOO_LATE / REFUSED_SIDE|STATE|TERMINAL
//       it was next in its author's order and was processed (its seq is
//       taken even when refused, so the author's later updates proceed);
//   BUFFERED       it is ahead of its author's order: kept in t->pending;
//   DUPLICATE      its seq was taken or is already pending (or it is a
//                  "received" that was already implied);
//   REFUSED_INVALID, REFUSED_TOO_EARLY   rejected on arrival, nothing kept.
// 'steps' (required) gets every update processed, in order: *u first when
// it was processed, then each pending update that became next in turn.
// The event of an update is found from the author's current state and the
// status it carries (in-progress after accepted is start, after on-hold is
// resume). A recipient update validates against the recipient's own
// progress: at the sender, one made before the recipient saw a
// cancellation is AFTER_CANCEL (recorded), and a terminal one
// (rejected/completed) wins: CANCEL_TOO_LATE, the view becomes that state.
// At the recipient, a cancellation arriving after its terminal state is
// CANCEL_TOO_LATE and changes nothing.
pl_referral_result_t pl_referral_track_apply(pl_referral_track_t *t,
                                             const pl_referral_update_t *u,
                                             pl_referral_steps_t *steps);

// Serialised form of a track, for the store (versioned, big-endian).
#define PL_REFERRAL_TRACK_PACKED_MAX (16 + PL_REFERRAL_PENDING_MAX * 16)
// Writes 't' into 'out' (at least PL_REFERRAL_TRACK_PACKED_MAX bytes);
// *len gets the bytes used.
void pl_referral_track_pack(const pl_referral_track_t *t, uint8_t *out,
                            size_t *len);
// Reads a packed track, checking every field. PL_EPROTO when malformed.
PL_MUST_CHECK int pl_referral_track_unpack(pl_referral_track_t *t,
                                           const uint8_t *in, size_t len);

// ---- priority and overdue

// The window for the next step: 86400 (emergency), 259200 (urgent),
// 1209600 (normal) seconds.
uint64_t pl_referral_priority_window(pl_referral_priority_t priority);

// The overdue rule (`overdue` flag, `referrals --overdue`, `show` "since"):
// a terminal referral is never overdue. For an open one,
//     base     = last_change_at, or created_at when last_change_at is 0
//     deadline = base + pl_referral_priority_window(priority)
//     deadline = min(deadline, due)             when due != 0
// and it is overdue when now > deadline (at the deadline itself it is not
// yet late; one second later it is). *since (may be NULL) gets the
// deadline whenever the referral is open, overdue or not (0 when
// terminal), so a caller can say "due at" too.
bool pl_referral_overdue(pl_referral_state_t state,
                         pl_referral_priority_t priority, uint64_t created_at,
                         uint64_t last_change_at, uint64_t due, uint64_t now,
                         uint64_t *since);

// A `--due YYYY-MM-DD`: the next step is due during that (UTC) day, so the
// due instant is the midnight that ends it (start of the next day).
// PL_EINVAL when not a real date.
PL_MUST_CHECK int pl_referral_due_parse(const char *text, uint64_t *due);

#endif
