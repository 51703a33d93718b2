// test_coord_inbound - issue 15: aggregate-report envelopes through the
// node's real inbound dispatch (pl_inbound.c's kinds table, pl_coord.c) on
// a hand-built daemon state (tests/lib/nodes/pl_fakenode): a coordination
// node keeps a good report sealed, the latest per (node, period); it
// refuses (receipts, keeps nothing) a report with a field outside the
// schema, one that names another node than its sender, and any report
// when it is not a coordination node. Layer: tests.
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "nodes/pl_coord.h"
#include "tests/lib/nodes/pl_fakenode.h"
#include "tests/lib/pl_test.h"

// A report of the clinic (the fake node's peer) for 2026-11.
static void
s_text(char *out, size_t n, const char *node, long as_of, const char *extra)
{
    snprintf(out, n,
             "{\"schema\":1,\"node\":\"%s\",\"period\":\"2026-11\","
             "\"as_of\":%ld,\"referrals\":{\"in\":{\"total\":7,"
             "\"status\":{\"completed\":7}}},\"cases\":{}%s}",
             node, as_of, extra);
}

// Sends 'text' from the clinic as an aggregate-report envelope.
static void
s_send(pl_fakenode_t *f, const char *text, uint8_t id[PL_MSG_ID_BYTES])
{
    Passerelle__V1__AggregateReport ar = PASSERELLE__V1__AGGREGATE_REPORT__INIT;
    ar.version = 1;
    ar.report.data = (uint8_t *) text;
    ar.report.len = strlen(text);
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_AGGREGATE_REPORT;
    m.aggregate_report = &ar;
    pl_buf_t pkt = {0};
    pl_fakenode_seal_msg(f, &m, id, &pkt);
    assert_int_equal(pl_fakenode_pass(f, pkt.data, pkt.len), PL_OK);
    pl_buf_free(&pkt);
}

// The as_of of the clinic's kept report, as `coordination` shows it.
static long
s_last(pl_fakenode_t *f)
{
    pl_txn_t *t = NULL;
    json_t *fig = NULL;
    assert_int_equal(pl_store_begin(f->node->store, NULL, false, &t), PL_OK);
    assert_int_equal(pl_coord_figures(t, pl_now(), &fig), PL_OK);
    pl_store_abort(&t);
    json_t *n = json_array_get(json_object_get(fig, "nodes"), 0);
    long v =
        n ? (long) json_integer_value(json_object_get(n, "last_report")) : -1;
    json_decref(fig);
    return v;
}

static void
test_kept_latest(void **state)
{
    pl_fakenode_t *f = *state;
    snprintf(f->node->me.sector, sizeof f->node->me.sector, "coordination");
    char text[512];
    uint8_t id[PL_MSG_ID_BYTES];
    s_text(text, sizeof text, "sn/clinic", 2000, "");
    s_send(f, text, id);
    assert_true(pl_fakenode_has(f, PL_DB_INBOX, id)); // stored, receipted
    assert_int_equal(pl_fakenode_count(f, PL_DB_REPORTS), 1);
    assert_int_equal(s_last(f), 2000);
    s_text(text, sizeof text, "sn/clinic", 1000, ""); // older: ignored
    s_send(f, text, id);
    assert_int_equal(s_last(f), 2000);
    s_text(text, sizeof text, "sn/clinic", 3000, ""); // newer: replaces
    s_send(f, text, id);
    assert_int_equal(pl_fakenode_count(f, PL_DB_REPORTS), 1);
    assert_int_equal(s_last(f), 3000);
}

static void
test_refused(void **state)
{
    pl_fakenode_t *f = *state;
    snprintf(f->node->me.sector, sizeof f->node->me.sector, "coordination");
    char text[512];
    uint8_t id[PL_MSG_ID_BYTES];
    static const char *const extra[] = {
        ",\"note\":\"Amadou Diallo\"", ",\"case\":\"00112233\"",
        ",\"rss\":{\"baseline\":{\"economic\":[1,2]}}"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        s_text(text, sizeof text, "sn/clinic", 2000, extra[i]);
        s_send(f, text, id);
        assert_true(pl_fakenode_has(f, PL_DB_INBOX, id)); // receipted anyway
    }
    s_text(text, sizeof text, "sn/agency", 2000, ""); // not its sender
    s_send(f, text, id);
    s_send(f, "not json", id);
    assert_int_equal(pl_fakenode_count(f, PL_DB_REPORTS), 0);
    // the reserved rss object, when well formed, is taken
    s_text(text, sizeof text, "sn/clinic", 2000,
           ",\"rss\":{\"baseline\":{\"economic\":[1,2,3,4,5]}}");
    s_send(f, text, id);
    assert_int_equal(pl_fakenode_count(f, PL_DB_REPORTS), 1);
}

static void
test_not_coordination(void **state)
{
    pl_fakenode_t *f = *state; // sn/agency: sector agency
    char text[512];
    uint8_t id[PL_MSG_ID_BYTES];
    s_text(text, sizeof text, "sn/clinic", 2000, "");
    s_send(f, text, id);
    assert_true(pl_fakenode_has(f, PL_DB_INBOX, id));
    assert_int_equal(pl_fakenode_count(f, PL_DB_REPORTS), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_latest, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_refused, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(
            test_not_coordination, pl_fakenode_setup, pl_fakenode_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
