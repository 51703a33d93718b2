// test_suppress - issue 15: the one suppression function (pl_suppress.c)
// on tables where a naive suppression (hide 1-4, show the rest) leaks,
// and the aggregate report's schema check (pl_report.c). Pure: no store,
// no process. Layer: tests.
//
// The property checked on every table: in each line (row or column,
// totals included) the number of hidden entries is 0 or at least 2, so no
// hidden entry is the difference of a shown total and shown cells; and
// every 1..4 is hidden, and shown entries keep their value.
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

#include "nodes/pl_report.h"
#include "nodes/pl_suppress.h"

// No line with exactly one hidden entry; every 1..4 hidden.
static void
s_assert_safe(const uint64_t *v, size_t rows, size_t cols, const pl_sup_t *mark)
{
    size_t w = cols + 1;
    for (size_t i = 0; i <= rows; i++) {
        size_t hidden = 0;
        for (size_t j = 0; j <= cols; j++)
            hidden += mark[i * w + j] != PL_SUP_SHOWN;
        assert_true(hidden != 1);
    }
    for (size_t j = 0; j <= cols; j++) {
        size_t hidden = 0;
        for (size_t i = 0; i <= rows; i++)
            hidden += mark[i * w + j] != PL_SUP_SHOWN;
        assert_true(hidden != 1);
    }
    for (size_t k = 0; k < (rows + 1) * w; k++)
        if (v[k] >= 1 && v[k] <= 4)
            assert_int_equal(mark[k], PL_SUP_PRIMARY);
}

// A row with one small cell and its total: naive suppression shows
// 20, 11 and the total 34, so the hidden cell is 34 - 20 - 11 = 3.
static void
test_row_one_small_cell(void **state)
{
    (void) state;
    // 1 x 3: [20, 3, 11 | total]
    uint64_t v[8] = {20, 3, 11, 0, 0, 0, 0, 0};
    pl_sup_t mark[8];
    pl_suppress_totals(v, 1, 3);
    assert_int_equal(v[3], 34);
    pl_suppress_table(v, 1, 3, mark);
    assert_int_equal(mark[1], PL_SUP_PRIMARY);
    // the smallest other cell goes with it
    assert_int_equal(mark[2], PL_SUP_COMPLEMENTARY);
    assert_int_equal(mark[0], PL_SUP_SHOWN);
    assert_int_equal(mark[3], PL_SUP_SHOWN);
    s_assert_safe(v, 1, 3, mark);
    json_t *j = pl_suppress_json(v[1], mark[1]);
    assert_string_equal(json_string_value(j), "<5");
    json_decref(j);
    j = pl_suppress_json(v[2], mark[2]);
    assert_string_equal(json_string_value(j), "*");
    json_decref(j);
    j = pl_suppress_json(v[0], mark[0]);
    assert_int_equal(json_integer_value(j), 20);
    json_decref(j);
}

// Two overlapping filters whose difference is a small cell: "all regions"
// (the column totals) and "every region but one" (the other rows) differ
// by exactly that region's row. Here region b has 2 accepted: naive
// suppression hides only that cell, and the column total minus the other
// regions gives it back. The column needs a second hidden cell, which its
// row then also needs, and so on.
static void
test_overlapping_filters(void **state)
{
    (void) state;
    // 3 regions x 2 statuses (received, accepted)
    enum { R = 3, C = 2, W = C + 1 };
    uint64_t v[(R + 1) * W] = {
        10, 7, 0, // region a
        9,  2, 0, // region b: 2 accepted
        12, 8, 0, // region c
        0,  0, 0,
    };
    pl_sup_t mark[(R + 1) * W];
    pl_suppress_totals(v, R, C);
    pl_suppress_table(v, R, C, mark);
    assert_int_equal(mark[1 * W + 1], PL_SUP_PRIMARY);
    s_assert_safe(v, R, C, mark);
    // accepted: total 17 shown, a and c not both shown
    size_t hidden = 0;
    for (size_t i = 0; i < R; i++)
        hidden += mark[i * W + 1] != PL_SUP_SHOWN;
    assert_true(hidden >= 2);
}

// A hidden row total (a small row) must not be the grand total minus the
// other row totals.
static void
test_small_row_total(void **state)
{
    (void) state;
    enum { R = 3, C = 2, W = C + 1 };
    uint64_t v[(R + 1) * W] = {
        1, 2, 0, // a row of 3 in all
        9, 8, 0, 6, 7, 0, 0, 0, 0,
    };
    pl_sup_t mark[(R + 1) * W];
    pl_suppress_totals(v, R, C);
    pl_suppress_table(v, R, C, mark);
    assert_int_equal(mark[0 * W + 2], PL_SUP_PRIMARY); // the row total 3
    s_assert_safe(v, R, C, mark);
}

// Zeros are shown; a table without small numbers is shown whole.
static void
test_nothing_small(void **state)
{
    (void) state;
    enum { R = 2, C = 3, W = C + 1 };
    uint64_t v[(R + 1) * W] = {5, 0, 9, 0, 12, 6, 0, 0};
    pl_sup_t mark[(R + 1) * W];
    pl_suppress_totals(v, R, C);
    pl_suppress_table(v, R, C, mark);
    for (size_t k = 0; k < (R + 1) * W; k++)
        assert_int_equal(mark[k], PL_SUP_SHOWN);
}

// Every cell small: all hidden, nothing recoverable.
static void
test_family_of_four(void **state)
{
    (void) state;
    uint64_t v[6] = {1, 3, 0, 0, 0, 0}; // 1 x 2: the demo's family
    pl_sup_t mark[6];
    pl_suppress_totals(v, 1, 2);
    pl_suppress_table(v, 1, 2, mark);
    for (size_t k = 0; k < 6; k++)
        assert_int_not_equal(mark[k], PL_SUP_SHOWN);
    s_assert_safe(v, 1, 2, mark);
}

static void
test_medians_and_rates(void **state)
{
    (void) state;
    assert_false(pl_suppress_median_ok(4));
    assert_true(pl_suppress_median_ok(5));
    assert_false(pl_suppress_rate_ok(3, PL_SUP_PRIMARY, 9, PL_SUP_SHOWN));
    assert_false(pl_suppress_rate_ok(5, PL_SUP_SHOWN, 4, PL_SUP_PRIMARY));
    assert_true(pl_suppress_rate_ok(5, PL_SUP_SHOWN, 9, PL_SUP_SHOWN));
    char b[24];
    assert_string_equal(pl_suppress_text(3, PL_SUP_PRIMARY, b, sizeof b), "<5");
    assert_string_equal(pl_suppress_text(12, PL_SUP_SHOWN, b, sizeof b), "12");
}

static const char s_good[] =
    "{\"schema\":1,\"node\":\"sn/agency\",\"period\":\"2026-11\","
    "\"as_of\":1764000000,\"referrals\":{\"out\":{\"total\":6,\"overdue\":1,"
    "\"status\":{\"received\":2,\"completed\":4},\"sector\":{\"health\":6},"
    "\"dimension\":{\"social\":6},\"priority\":{\"normal\":6},"
    "\"median_s\":{\"received\":40}},\"in\":{}},"
    "\"cases\":{\"opened\":3,\"closed\":1,\"closed_by_reason\":"
    "{\"plan-completed\":1}},"
    "\"rss\":{\"baseline\":{\"economic\":[0,1,2,0,0]}}}";

static int
s_check_text(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    char err[160];
    int rc = pl_report_check(j, err, sizeof err);
    json_decref(j);
    return rc;
}

// Every field outside the schema is refused: an extra top-level key, a
// name as a status key, free text as a value, a bad period, an rss bin
// list of the wrong length.
static void
test_report_schema(void **state)
{
    (void) state;
    assert_int_equal(s_check_text(s_good), PL_OK);
    static const struct {
        const char *from, *to;
    } bad[] = {
        {"\"schema\":1,", "\"schema\":1,\"note\":\"x\","},
        {"\"received\":2,", "\"Amadou Diallo\":2,"},
        {"\"health\":6", "\"health\":\"six\""},
        {"\"total\":6,", "\"total\":6,\"case\":\"0a1b\","},
        {"2026-11", "2026-13"},
        {"[0,1,2,0,0]", "[0,1,2,0]"},
        {"\"plan-completed\"", "\"moved-to-aunt-fatou\""},
        {"\"median_s\":{\"received\":40}", "\"median_s\":{\"asked\":40}"},
        {"\"node\":\"sn/agency\"", "\"node\":\"Amadou\""},
        {"\"overdue\":1", "\"overdue\":-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[sizeof s_good + 128];
        const char *at = strstr(s_good, bad[i].from);
        assert_non_null(at);
        size_t pre = (size_t) (at - s_good);
        snprintf(text, sizeof text, "%.*s%s%s", (int) pre, s_good, bad[i].to,
                 at + strlen(bad[i].from));
        assert_int_equal(s_check_text(text), PL_EPROTO);
    }
    assert_int_equal(pl_report_rss_bin(0), 0);
    assert_int_equal(pl_report_rss_bin(199), 0);
    assert_int_equal(pl_report_rss_bin(200), 1);
    assert_int_equal(pl_report_rss_bin(1000), 4);
}

static void
test_periods(void **state)
{
    (void) state;
    uint64_t a, b;
    assert_int_equal(pl_report_period_parse("2026-12", &a, &b), PL_OK);
    assert_int_equal(b - a, 31 * 86400);
    char out[8];
    pl_report_period_of(a, out);
    assert_string_equal(out, "2026-12");
    pl_report_period_of(b - 1, out);
    assert_string_equal(out, "2026-12");
    pl_report_period_prev("2026-01", out);
    assert_string_equal(out, "2025-12");
    assert_int_equal(pl_report_period_parse("2026-1", &a, &b), PL_EINVAL);
    assert_int_equal(pl_report_period_parse("2026-00", &a, &b), PL_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_one_small_cell),
        cmocka_unit_test(test_overlapping_filters),
        cmocka_unit_test(test_small_row_total),
        cmocka_unit_test(test_nothing_small),
        cmocka_unit_test(test_family_of_four),
        cmocka_unit_test(test_medians_and_rates),
        cmocka_unit_test(test_report_schema),
        cmocka_unit_test(test_periods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
