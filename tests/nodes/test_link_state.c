// test_link_state - the broker-link session table (nodes/pl_link_state.h),
// no daemon: every [state][event] cell against the session the node had
// before the table (a welcome in any state is a resynchronisation; a
// heartbeat only checks the clock in session; silence ends the session
// with a hello at once and a new DEALER; unanswered hellos re-create the
// DEALER and stay offline), out-of-range input, names.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "nodes/pl_link_state.h"

static void
s_table(void **state)
{
    (void) state;
    static const struct {
        pl_link_state_t from;
        pl_link_event_t ev;
        pl_link_state_t to;
        unsigned actions;
    } cells[] = {
        {PL_LINK_OFFLINE, PL_LINK_EV_WELCOME, PL_LINK_SESSION,
         PL_LINK_A_CLOCK | PL_LINK_A_RESYNC},
        {PL_LINK_OFFLINE, PL_LINK_EV_HEARTBEAT, PL_LINK_OFFLINE, 0},
        {PL_LINK_OFFLINE, PL_LINK_EV_SILENT, PL_LINK_OFFLINE, 0},
        {PL_LINK_OFFLINE, PL_LINK_EV_NO_WELCOME, PL_LINK_OFFLINE,
         PL_LINK_A_RELINK},
        {PL_LINK_SESSION, PL_LINK_EV_WELCOME, PL_LINK_SESSION,
         PL_LINK_A_CLOCK | PL_LINK_A_RESYNC},
        {PL_LINK_SESSION, PL_LINK_EV_HEARTBEAT, PL_LINK_SESSION,
         PL_LINK_A_CLOCK},
        {PL_LINK_SESSION, PL_LINK_EV_SILENT, PL_LINK_OFFLINE,
         PL_LINK_A_HELLO | PL_LINK_A_RELINK},
        {PL_LINK_SESSION, PL_LINK_EV_NO_WELCOME, PL_LINK_SESSION, 0},
    };
    size_t n = sizeof cells / sizeof cells[0];
    assert_int_equal(n, PL_LINK_STATES * PL_LINK_EV_COUNT); // every cell
    for (size_t i = 0; i < n; i++) {
        pl_link_step_t st = pl_link_step(cells[i].from, cells[i].ev);
        if (st.next != cells[i].to || st.actions != cells[i].actions)
            fail_msg("%s + %s: %s actions %#x, want %s actions %#x",
                     pl_link_state_name(cells[i].from),
                     pl_link_event_name(cells[i].ev),
                     pl_link_state_name(st.next), st.actions,
                     pl_link_state_name(cells[i].to), cells[i].actions);
    }
}

static void
s_out_of_range(void **state)
{
    (void) state;
    pl_link_step_t st = pl_link_step(PL_LINK_SESSION, PL_LINK_EV_COUNT);
    assert_int_equal(st.next, PL_LINK_SESSION);
    assert_int_equal(st.actions, 0);
    st = pl_link_step(PL_LINK_STATES, PL_LINK_EV_WELCOME);
    assert_int_equal(st.actions, 0);
    assert_string_equal(pl_link_event_name(PL_LINK_EV_COUNT), "unknown");
    assert_string_equal(pl_link_state_name(PL_LINK_STATES), "unknown");
}

static void
s_names(void **state)
{
    (void) state;
    // the reasons of the "relink" log line, as before the table
    assert_string_equal(pl_link_event_name(PL_LINK_EV_SILENT), "silent");
    assert_string_equal(pl_link_event_name(PL_LINK_EV_NO_WELCOME),
                        "no_welcome");
    assert_string_equal(pl_link_state_name(PL_LINK_OFFLINE), "offline");
    assert_string_equal(pl_link_state_name(PL_LINK_SESSION), "session");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(s_table),
        cmocka_unit_test(s_out_of_range),
        cmocka_unit_test(s_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
