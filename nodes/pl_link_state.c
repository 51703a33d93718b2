// pl_link_state - the broker-link session table (see pl_link_state.h).
// Layer: domain.
#include "nodes/pl_link_state.h"

#include <stdbool.h>

#define OFF PL_LINK_OFFLINE
#define SES PL_LINK_SESSION
#define CLK PL_LINK_A_CLOCK
#define RSY PL_LINK_A_RESYNC
#define HEL PL_LINK_A_HELLO
#define REL PL_LINK_A_RELINK
// clang-format off
static const pl_link_step_t s_table[PL_LINK_STATES][PL_LINK_EV_COUNT] = {
    //           welcome          heartbeat   silent           no_welcome
    [OFF] = {{SES, CLK | RSY}, {OFF, 0},   {OFF, 0},         {OFF, REL}},
    [SES] = {{SES, CLK | RSY}, {SES, CLK}, {OFF, HEL | REL}, {SES, 0}},
};
// clang-format on
#undef OFF
#undef SES
#undef CLK
#undef RSY
#undef HEL
#undef REL

pl_link_step_t
pl_link_step(pl_link_state_t state, pl_link_event_t ev)
{
    if ((unsigned) state >= PL_LINK_STATES || (unsigned) ev >= PL_LINK_EV_COUNT)
        return (pl_link_step_t){state, 0};
    return s_table[state][ev];
}

const char *
pl_link_state_name(pl_link_state_t state)
{
    return state == PL_LINK_SESSION   ? "session"
           : state == PL_LINK_OFFLINE ? "offline"
                                      : "unknown";
}

const char *
pl_link_event_name(pl_link_event_t ev)
{
    static const char *const s_names[PL_LINK_EV_COUNT] = {
        "welcome", "heartbeat", "silent", "no_welcome"};
    return (unsigned) ev < PL_LINK_EV_COUNT ? s_names[ev] : "unknown";
}

// A ping is outstanding when it went after the last packet received.
static bool
s_pinging(const pl_link_clock_t *clk)
{
    return clk->ping_ms && clk->ping_ms > clk->last_rx_ms;
}

pl_link_idle_t
pl_link_idle(const pl_link_idle_cfg_t *cfg, const pl_link_clock_t *clk,
             uint64_t now)
{
    if (s_pinging(clk))
        return now - clk->ping_ms >= cfg->timeout_ms ? PL_LINK_IDLE_SILENT
                                                     : PL_LINK_IDLE_NOTHING;
    if (now - clk->last_rx_ms >= cfg->idle_ms
        || now - clk->last_tx_ms >= cfg->idle_ms)
        return PL_LINK_IDLE_PING;
    return PL_LINK_IDLE_NOTHING;
}

uint64_t
pl_link_idle_next(const pl_link_idle_cfg_t *cfg, const pl_link_clock_t *clk)
{
    if (s_pinging(clk))
        return clk->ping_ms + cfg->timeout_ms;
    uint64_t oldest =
        clk->last_rx_ms < clk->last_tx_ms ? clk->last_rx_ms : clk->last_tx_ms;
    return oldest + cfg->idle_ms;
}
