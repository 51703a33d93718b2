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
// backoff. silent: an idle ping unanswered for the heartbeat timeout (see
// pl_link_idle below). no_welcome: hellos unanswered for longer than the
// relink delay.
#ifndef PL_LINK_STATE_H
#define PL_LINK_STATE_H

#include <stdint.h>

typedef enum {
    PL_LINK_OFFLINE = 0, // no session: hellos with backoff
    PL_LINK_SESSION,     // welcomed and alive: heartbeats, resends
    PL_LINK_STATES
} pl_link_state_t;

typedef enum {
    PL_LINK_EV_WELCOME = 0, // a welcome packet
    PL_LINK_EV_HEARTBEAT,   // a heartbeat packet
    PL_LINK_EV_SILENT,      // an idle ping unanswered for the timeout
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

// ---- idle pings (issue 20: idle bandwidth)
// Traffic proves liveness: a link that carries packets sends no heartbeat.
// A heartbeat (a "ping"; the broker answers each with one) goes only when
// nothing was received, or nothing sent, for 'idle_ms'; a ping unanswered
// (nothing received since it went) for 'timeout_ms' means the link is
// silent. So a broker that stops answering is noticed at most idle_ms +
// timeout_ms after the last packet it sent (plus one loop tick, <= 1 s).
// An idle exchange costs 3 TCP segments (ping, answer with the ACK of the
// ping, the ACK of the answer), about 240 bytes with IP/TCP headers on
// this machine (tests/bench/bench_idle.sh): with the defaults of pl_node.h
// (160 s, 15 s) that is 540 exchanges, about 130 KB a day, and a dead link
// is noticed within 176 s.
typedef struct {
    uint64_t idle_ms;    // ping after this long without traffic one way
    uint64_t timeout_ms; // a ping unanswered this long: silent
} pl_link_idle_cfg_t;

typedef struct {
    uint64_t last_rx_ms; // last packet received (monotonic ms)
    uint64_t last_tx_ms; // last packet sent
    uint64_t ping_ms;    // when the last ping went (0: none this session)
} pl_link_clock_t;

typedef enum {
    PL_LINK_IDLE_NOTHING = 0, // nothing to do now
    PL_LINK_IDLE_PING,        // send a ping now (and set ping_ms)
    PL_LINK_IDLE_SILENT,      // the ping went unanswered: PL_LINK_EV_SILENT
} pl_link_idle_t;

// What the idle timer does at 'now' for a link in session.
pl_link_idle_t pl_link_idle(const pl_link_idle_cfg_t *cfg,
                            const pl_link_clock_t *clk, uint64_t now);
// When pl_link_idle next has something to do (monotonic ms; may be <= now).
uint64_t pl_link_idle_next(const pl_link_idle_cfg_t *cfg,
                           const pl_link_clock_t *clk);

#endif
