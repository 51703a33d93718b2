// test_log_json - `--log-format json` (proto/pl_log.c): one JSON object a
// line holding the same fields as the text form ("TIME LEVEL component
// event key=value key=\"quoted\" ..."): ts, level, component, event, every
// key with its value as a string, words that are not key=value under
// "msg". Quotes, backslashes and control bytes are escaped; an overlong
// line is cut to fit but is still one valid object (checked with jansson).
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_log.h"

static json_t *
s_parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, text);
    assert_true(json_is_object(j));
    return j;
}

static const char *
s_get(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void
test_fields(void **state)
{
    (void) state;
    char out[2048];
    pl_log_json_line(out, sizeof out, "2026-01-01T00:00:00.000Z", "WARN",
                     "broker",
                     "door_refused key=ab12 reason=\"bad cert: expired\" "
                     "count=3");
    json_t *j = s_parse(out);
    assert_string_equal(s_get(j, "ts"), "2026-01-01T00:00:00.000Z");
    assert_string_equal(s_get(j, "level"), "WARN");
    assert_string_equal(s_get(j, "component"), "broker");
    assert_string_equal(s_get(j, "event"), "door_refused");
    assert_string_equal(s_get(j, "key"), "ab12");
    assert_string_equal(s_get(j, "reason"), "bad cert: expired");
    assert_string_equal(s_get(j, "count"), "3");
    assert_int_equal(json_object_size(j), 7);
    json_decref(j);

    pl_log_json_line(out, sizeof out, "t", "INFO", "node",
                     "referral_sent to=sn/clinic sector=health");
    j = s_parse(out);
    assert_string_equal(s_get(j, "event"), "referral_sent");
    assert_string_equal(s_get(j, "to"), "sn/clinic");
    assert_string_equal(s_get(j, "sector"), "health");
    assert_int_equal(json_object_size(j), 6);
    json_decref(j);

    pl_log_json_line(out, sizeof out, "t", "INFO", "node",
                     "started plain words here");
    j = s_parse(out);
    assert_string_equal(s_get(j, "event"), "started");
    assert_string_equal(s_get(j, "msg"), "plain words here");
    json_decref(j);
}

static void
test_escapes_and_cuts(void **state)
{
    (void) state;
    char out[2048];
    pl_log_json_line(out, sizeof out, "t", "ERROR", "node",
                     "bad path=/a\"b\\c\tq\x01z");
    json_t *j = s_parse(out);
    assert_string_equal(s_get(j, "path"), "/a\"b\\c\tq\x01z");
    json_decref(j);
    // tiny buffers: always a valid object, never past the end
    char big[900];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char line[1000];
    snprintf(line, sizeof line, "ev k=%s k2=v", big);
    for (size_t n = 60; n < 1100; n += 97) {
        char *b = malloc(n + 8);
        assert_non_null(b);
        memset(b, '#', n + 8);
        pl_log_json_line(b, n, "2026-01-01T00:00:00.000Z", "INFO", "node",
                         line);
        assert_true(strlen(b) < n);
        assert_int_equal(b[n + 1], '#'); // nothing written past n
        json_decref(s_parse(b));
        free(b);
    }
}

// pl_log_write itself in both formats: the same fields
static void
test_write_both(void **state)
{
    (void) state;
    char *text = NULL, *js = NULL;
    size_t tl = 0, jl = 0;
    FILE *f = open_memstream(&text, &tl);
    pl_log_t log = {f, PL_LOG_INFO, "node"};
    pl_log_set_format(PL_LOG_TEXT);
    pl_log_info(&log, "reloaded revoked_number=%d serials=%d", 4, 2);
    fclose(f);
    f = open_memstream(&js, &jl);
    log.sink = f;
    pl_log_set_format(PL_LOG_JSON);
    pl_log_info(&log, "reloaded revoked_number=%d serials=%d", 4, 2);
    pl_log_debug(&log, "skipped=1"); // above the level: nothing
    fclose(f);
    pl_log_set_format(PL_LOG_TEXT);
    assert_non_null(strstr(text, " INFO node reloaded revoked_number=4 "
                                 "serials=2\n"));
    assert_int_equal(js[jl - 1], '\n');
    assert_ptr_equal(strchr(js, '\n'), js + jl - 1); // one line
    js[jl - 1] = 0;
    json_t *j = s_parse(js);
    assert_string_equal(s_get(j, "level"), "INFO");
    assert_string_equal(s_get(j, "component"), "node");
    assert_string_equal(s_get(j, "event"), "reloaded");
    assert_string_equal(s_get(j, "revoked_number"), "4");
    assert_string_equal(s_get(j, "serials"), "2");
    // the text line's timestamp has the same form as "ts"
    assert_int_equal(strlen(s_get(j, "ts")), strcspn(text, " "));
    json_decref(j);
    free(text);
    free(js);
    pl_log_format_t fmt;
    assert_int_equal(pl_log_format_parse("json", &fmt), 0);
    assert_int_equal(fmt, PL_LOG_JSON);
    assert_int_equal(pl_log_format_parse("JSON", &fmt), -1);
    assert_int_equal(pl_log_format_parse("", &fmt), -1);
}

// pl_log_budget: 3 lines a window of 1000 ms; the 3rd is the last, the
// rest are counted; the next window's first line says how many.
static void
test_budget(void **state)
{
    (void) state;
    pl_log_budget_t b = {0};
    uint64_t quiet = 99;
    bool last = true;
    assert_true(pl_log_budget(&b, 5000, 3, 1000, &quiet, &last));
    assert_int_equal(quiet, 0);
    assert_false(last);
    assert_true(pl_log_budget(&b, 5001, 3, 1000, &quiet, &last));
    assert_false(last);
    assert_true(pl_log_budget(&b, 5002, 3, 1000, &quiet, &last));
    assert_true(last);
    for (int i = 0; i < 7; i++)
        assert_false(
            pl_log_budget(&b, 5500 + (uint64_t) i, 3, 1000, &quiet, &last));
    assert_true(pl_log_budget(&b, 6000, 3, 1000, &quiet, &last));
    assert_int_equal(quiet, 7);
    assert_false(last);
    assert_true(pl_log_budget(&b, 6001, 3, 1000, &quiet, &last));
    assert_int_equal(quiet, 0);
    // a clock at 0 still opens a window
    pl_log_budget_t z = {0};
    assert_true(pl_log_budget(&z, 0, 1, 1000, &quiet, &last));
    assert_true(last);
    assert_false(pl_log_budget(&z, 10, 1, 1000, &quiet, &last));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_escapes_and_cuts),
        cmocka_unit_test(test_write_both),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
