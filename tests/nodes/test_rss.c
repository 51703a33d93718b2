// test_rss - the pure rooms of issue 17: RSS scoring against hand-computed
// tables (all answers, missing over the threshold, reverse items, per-mille
// rounding), the shipped weights file, and the follow-up schedule across a
// moved clock (upcoming, due, overdue, done, closed).
// cmocka.h needs these first, in this order
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

#include "nodes/pl_followup.h"
#include "nodes/pl_rss.h"
#include "proto/pl_util.h"

static void
s_default(pl_rss_weights_t *w)
{
    json_error_t e;
    json_t *j = json_loads(pl_rss_default_text(), 0, &e);
    char err[128];
    assert_non_null(j);
    assert_int_equal(pl_rss_weights_parse(j, w, err, sizeof err), 0);
    json_decref(j);
}

static void
s_score(const pl_rss_weights_t *w, const char *answers, pl_rss_score_t *s)
{
    json_error_t e;
    json_t *a = json_loads(answers, 0, &e);
    char err[160] = "";
    assert_non_null(a);
    int rc = pl_rss_score(w, a, s, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "score: %s\n", err);
    assert_int_equal(rc, 0);
    json_decref(a);
}

// The shipped file and the built-in table are the same document, marked
// as placeholder weights.
static void
test_shipped_file(void **state)
{
    (void) state;
    json_error_t e;
    json_t *f = json_load_file(PL_SRC_DIR "/data/rss-weights-v1.json", 0, &e);
    json_t *d = json_loads(pl_rss_default_text(), 0, &e);
    assert_non_null(f);
    assert_true(json_equal(f, d));
    pl_rss_weights_t w;
    s_default(&w);
    assert_true(w.placeholder);
    assert_int_equal(w.n, 25);
    assert_int_equal(w.missing_max, 300);
    json_decref(f);
    json_decref(d);
}

// Hand table 1, every answer given. Economic: all favourable (E2, E4
// reversed at rank 1) = 1000. Social: seven 5-point items at rank 3
// (0.5), S3 yes (1), S6 no (0): 4.5/9 = 0.5 = 500. Psychosocial: P1-P3
// rank 2 (0.25), P4 rank 2 reversed (0.75), P5 rank 5 reversed (0), P6
// yes reversed (0), P7 rank 4 (0.75), P8 no reversed (1): 3.25/8 =
// 0.40625 -> 406. Composite (1 + 0.5 + 0.40625)/3 = 0.635416.. -> 635.
static void
test_all_answers(void **state)
{
    (void) state;
    pl_rss_weights_t w;
    pl_rss_score_t s;
    s_default(&w);
    s_score(
        &w,
        "{\"E1\":5,\"E2\":1,\"E3\":\"yes\",\"E4\":1,\"E5\":3,\"E6\":\"yes\","
        "\"E7\":5,\"E8\":\"yes\",\"S1\":3,\"S2\":3,\"S3\":\"yes\",\"S4\":3,"
        "\"S5\":3,\"S6\":\"no\",\"S7\":3,\"S8\":3,\"S9\":3,\"P1\":2,\"P2\":2,"
        "\"P3\":2,\"P4\":2,\"P5\":5,\"P6\":\"yes\",\"P7\":4,\"P8\":\"no\"}",
        &s);
    assert_int_equal(s.dim[0], 1000);
    assert_int_equal(s.dim[1], 500);
    assert_int_equal(s.dim[2], 406);
    assert_int_equal(s.composite, 635);
    assert_true(s.valid);
    assert_int_equal(s.missing, 0);
    assert_int_equal(s.lowest, 2);
    assert_string_equal(pl_rss_sector(s.lowest), "mhpss");
}

// Hand table 2: social S3 n_a (1/9 missing: valid), 3.5/8 = 0.4375 ->
// 438 (half up); psychosocial P5, P6 refused/dont_know and P7 left out
// (3/8 = 375 per mille > 300: invalid); composite over economic and
// social only: (1 + 0.4375)/2 = 0.71875 -> 719.
static void
test_missing_over_threshold(void **state)
{
    (void) state;
    pl_rss_weights_t w;
    pl_rss_score_t s;
    s_default(&w);
    s_score(
        &w,
        "{\"E1\":5,\"E2\":1,\"E3\":\"yes\",\"E4\":1,\"E5\":3,\"E6\":\"yes\","
        "\"E7\":5,\"E8\":\"yes\",\"S1\":3,\"S2\":3,\"S3\":\"n_a\",\"S4\":3,"
        "\"S5\":3,\"S6\":\"no\",\"S7\":3,\"S8\":3,\"S9\":3,\"P1\":2,\"P2\":2,"
        "\"P3\":2,\"P4\":2,\"P5\":\"refused\",\"P6\":\"dont_know\","
        "\"P8\":\"no\"}",
        &s);
    assert_int_equal(s.dim[1], 438);
    assert_int_equal(s.dim[2], PL_RSS_NONE);
    assert_false(s.valid);
    assert_int_equal(s.missing, 4);
    assert_int_equal(s.composite, 719);
    assert_int_equal(s.lowest, 1);
}

// A small table: 10 items of weight 1 (one reversed 3-point), threshold
// 300: three missing is not over it (valid), four is.
static void
test_threshold_and_reverse(void **state)
{
    (void) state;
    const char *t =
        "{\"weights_version\":\"t1\",\"missing_max_permille\":300,"
        "\"dimensions\":{\"economic\":{\"weight\":2,\"items\":{\"A\":{"
        "\"scale\":3,\"weight\":1,\"reverse\":true},\"B\":{\"scale\":2,"
        "\"weight\":1},\"C\":{\"scale\":2,\"weight\":1},\"D\":{\"scale\":2,"
        "\"weight\":1},\"F\":{\"scale\":2,\"weight\":1},\"G\":{\"scale\":2,"
        "\"weight\":1},\"H\":{\"scale\":2,\"weight\":1},\"I\":{\"scale\":2,"
        "\"weight\":1},\"J\":{\"scale\":2,\"weight\":1},\"K\":{\"scale\":2,"
        "\"weight\":1}}},\"social\":{\"weight\":1,\"items\":{\"S\":{\"scale\":"
        "5,\"weight\":3}}},\"psychosocial\":{\"weight\":1,\"items\":{\"P\":{"
        "\"scale\":4,\"weight\":1}}}}}";
    json_error_t e;
    json_t *j = json_loads(t, 0, &e);
    pl_rss_weights_t w;
    pl_rss_score_t s;
    char err[128];
    assert_int_equal(pl_rss_weights_parse(j, &w, err, sizeof err), 0);
    json_decref(j);
    // A rank 2 reversed: 0.5; B-H yes (6), I-K missing (3 of 10): 6.5/7
    // = 0.928571 -> 929; S rank 2: 0.25 -> 250; P rank 2: 1/3 -> 333;
    // composite (2*0.928571 + 0.25 + 0.333333)/4 = 0.610119 -> 610
    s_score(&w,
            "{\"A\":2,\"B\":\"yes\",\"C\":\"yes\",\"D\":\"yes\",\"F\":\"yes\","
            "\"G\":\"yes\",\"H\":\"yes\",\"S\":2,\"P\":2}",
            &s);
    assert_int_equal(s.dim[0], 929);
    assert_int_equal(s.dim[1], 250);
    assert_int_equal(s.dim[2], 333);
    assert_int_equal(s.composite, 610);
    assert_true(s.valid);
    // A rank 1 reversed: 1; four missing: invalid
    s_score(&w,
            "{\"A\":1,\"B\":\"no\",\"C\":\"no\",\"D\":\"no\",\"F\":\"no\","
            "\"G\":\"no\",\"S\":5,\"P\":4}",
            &s);
    assert_int_equal(s.dim[0], PL_RSS_NONE);
    assert_int_equal(s.composite, 1000);
    // bad answers are refused, not scored
    json_t *bad = json_pack("{s:i}", "S", 6);
    assert_int_equal(pl_rss_score(&w, bad, &s, err, sizeof err), -1);
    json_decref(bad);
    bad = json_pack("{s:i}", "Z9", 1);
    assert_int_equal(pl_rss_score(&w, bad, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "Z9"));
    json_decref(bad);
}

static void
test_permille_and_bins(void **state)
{
    (void) state;
    assert_int_equal(pl_rss_permille(0.4375), 438);
    assert_int_equal(pl_rss_permille(0.0625), 63);
    assert_int_equal(pl_rss_permille(2.0 / 3.0), 667);
    assert_int_equal(pl_rss_permille(0.4994), 499);
    assert_int_equal(pl_rss_permille(1.0), 1000);
    assert_int_equal(pl_rss_bin(199), 0);
    assert_int_equal(pl_rss_bin(200), 1);
    assert_int_equal(pl_rss_bin(799), 3);
    assert_int_equal(pl_rss_bin(1000), 4);
    assert_int_equal(pl_rss_bin(PL_RSS_NONE), -1);
}

// The schedule of a return on 2026-01-31 across a moved clock.
static void
test_schedule_moved_clock(void **state)
{
    (void) state;
    uint64_t ret, d;
    assert_int_equal(pl_date_parse("2026-01-31", &ret), PL_OK);
    unsigned m[PL_FU_MAX];
    size_t n;
    assert_int_equal(pl_fu_months_parse(PL_FU_DEFAULT, m, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(pl_fu_months_parse("3,1", m, &n), -1);
    assert_int_equal(pl_fu_months_parse("1,3,", m, &n), -1);
    assert_int_equal(pl_fu_months_parse("1,61", m, &n), -1);
    assert_int_equal(pl_fu_months_parse("1,3,6,9,12,18", m, &n), 0);
    pl_fu_entry_t e[PL_FU_MAX];
    pl_fu_plan(ret, m, n, e);
    assert_int_equal(pl_date_parse("2026-02-28", &d), PL_OK);
    assert_int_equal(e[0].due, d); // clamped to the month's end
    assert_int_equal(pl_date_parse("2027-07-31", &d), PL_OK);
    assert_int_equal(e[5].due, d);
    uint64_t day = 86400;
    assert_int_equal(pl_fu_state(&e[0], e[0].due - 8 * day, 0), PL_FU_UPCOMING);
    assert_int_equal(pl_fu_state(&e[0], e[0].due - 7 * day, 0), PL_FU_DUE);
    assert_int_equal(pl_fu_state(&e[0], e[0].due + 14 * day, 0), PL_FU_DUE);
    assert_int_equal(pl_fu_state(&e[0], e[0].due + 14 * day + 1, 0),
                     PL_FU_OVERDUE);
    e[0].done = e[0].due + 20 * day;
    assert_int_equal(pl_fu_state(&e[0], e[0].due + 30 * day, 0), PL_FU_DONE);
    assert_int_equal(pl_fu_state(&e[1], e[1].due + 30 * day, e[1].due),
                     PL_FU_CLOSED);
    assert_string_equal(pl_fu_state_name(PL_FU_OVERDUE), "overdue");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_file),
        cmocka_unit_test(test_all_answers),
        cmocka_unit_test(test_missing_over_threshold),
        cmocka_unit_test(test_threshold_and_reverse),
        cmocka_unit_test(test_permille_and_bins),
        cmocka_unit_test(test_schedule_moved_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
