// pl_link_state - the node's session with its broker as one explicit table
// [state][event] -> {next state, actions}, in the manner of pl_referral.c's.
// Layer: domain (no sockets, no clock): the loop (pl_node.c) detects the
// events (a packet, or a time comparison) and does the actions.
//
//                welcome              heartbeat  silent          no_welcome
//   offline      session clock+resync offline -  offline -       offline relink
//   session      session clock+resync session clock offline hello+relink
//   session -
// welcome: a "resynchronise" at any moment (DESIGN.md §4): check the clock,
// resend every pending envelope, refresh the directory, reset the hello
// backoff. silent: nothing heard for 3 heartbeats. no_welcome: hellos
// unanswered for longer than the relink delay.
#ifndef PL_LINK_STATE_H
#define PL_LINK_STATE_H

typedef enum {
    PL_LINK_OFFLINE = 0, // no session: hellos with backoff
    PL_LINK_SESSION,     // welcomed and alive: heartbeats, resends
    PL_LINK_STATES
} pl_link_state_t;

typedef enum {
    PL_LINK_EV_WELCOME = 0, // a welcome packet
    PL_LINK_EV_HEARTBEAT,   // a heartbeat packet
    PL_LINK_EV_SILENT,      // nothing heard for 3 heartbeat intervals
    PL_LINK_EV_NO_WELCOME,  // hellos unanswered past the relink delay
    PL_LINK_EV_COUNT
} pl_link_event_t;

#define PL_LINK_A_CLOCK  1u // check the broker's time in the packet
#define PL_LINK_A_RESYNC 2u // resend all pending, refresh the directory
#define PL_LINK_A_HELLO  4u // send a hello now, backoff from the start
#define PL_LINK_A_RELINK 8u // re-create the DEALER

typedef struct {
    pl_link_state_t next; // the state after the event
    unsigned actions;     // PL_LINK_A_*
} pl_link_step_t;

// What 'ev' does in 'state' (an out-of-range state or event: stay, nothing).
pl_link_step_t pl_link_step(pl_link_state_t state, pl_link_event_t ev);
// "offline", "session" / "welcome", "heartbeat", "silent", "no_welcome"
// (logged as the reason of a relink).
const char *pl_link_state_name(pl_link_state_t state);
const char *pl_link_event_name(pl_link_event_t ev);

#endif
