// test_link_idle - the idle-ping rule of nodes/pl_link_state.h, no daemon:
// traffic both ways within the interval sends nothing; quiet one way for
// the interval sends a ping; a ping answered (anything received after it)
// is over; one unanswered for the timeout is silence, not before; the
// next wake-up is the earliest of these moments.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "nodes/pl_link_state.h"

static const pl_link_idle_cfg_t s_cfg = {.idle_ms = 160000,
                                         .timeout_ms = 15000};

static void
s_active_sends_nothing(void **state)
{
    (void) state;
    // packets every second both ways for ten minutes: never a ping
    for (uint64_t t = 1000000; t < 1000000 + 600000; t += 1000) {
        pl_link_clock_t c = {.last_rx_ms = t - 500, .last_tx_ms = t - 700};
        assert_int_equal(pl_link_idle(&s_cfg, &c, t), PL_LINK_IDLE_NOTHING);
        assert_true(pl_link_idle_next(&s_cfg, &c) > t);
    }
}

static void
s_quiet_pings(void **state)
{
    (void) state;
    uint64_t t = 1000000;
    pl_link_clock_t c = {.last_rx_ms = t, .last_tx_ms = t};
    assert_int_equal(pl_link_idle(&s_cfg, &c, t + 159999),
                     PL_LINK_IDLE_NOTHING);
    assert_int_equal(pl_link_idle_next(&s_cfg, &c), t + 160000);
    assert_int_equal(pl_link_idle(&s_cfg, &c, t + 160000), PL_LINK_IDLE_PING);
    // quiet one way only: receiving but sending nothing (or the reverse)
    c.last_rx_ms = t + 150000;
    assert_int_equal(pl_link_idle(&s_cfg, &c, t + 160000), PL_LINK_IDLE_PING);
    c.last_rx_ms = t;
    c.last_tx_ms = t + 150000;
    assert_int_equal(pl_link_idle(&s_cfg, &c, t + 160000), PL_LINK_IDLE_PING);
}

static void
s_unanswered_is_silence(void **state)
{
    (void) state;
    uint64_t t = 1000000, ping = t + 160000;
    pl_link_clock_t c = {.last_rx_ms = t, .last_tx_ms = ping, .ping_ms = ping};
    // waiting for the answer: no second ping, not silent yet
    assert_int_equal(pl_link_idle(&s_cfg, &c, ping + 14999),
                     PL_LINK_IDLE_NOTHING);
    assert_int_equal(pl_link_idle_next(&s_cfg, &c), ping + 15000);
    assert_int_equal(pl_link_idle(&s_cfg, &c, ping + 15000),
                     PL_LINK_IDLE_SILENT);
    // the bound: the last packet received to silence
    assert_int_equal(ping + 15000 - t, 175000);
    // answered: nothing until the link is quiet again (the ping was the
    // last packet sent, so the next one goes an interval after it)
    c.last_rx_ms = ping + 40;
    assert_int_equal(pl_link_idle(&s_cfg, &c, ping + 15000),
                     PL_LINK_IDLE_NOTHING);
    assert_int_equal(pl_link_idle_next(&s_cfg, &c), ping + 160000);
    assert_int_equal(pl_link_idle(&s_cfg, &c, ping + 159999),
                     PL_LINK_IDLE_NOTHING);
    assert_int_equal(pl_link_idle(&s_cfg, &c, ping + 160000),
                     PL_LINK_IDLE_PING);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(s_active_sends_nothing),
        cmocka_unit_test(s_quiet_pings),
        cmocka_unit_test(s_unanswered_is_silence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
