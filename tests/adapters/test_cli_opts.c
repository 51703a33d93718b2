// test_cli_opts - the CLI's one option parser (adapters/cli/cli_opts.c,
// linked from pl_cli): the typed checkers (unsigned with range, date,
// enum, address, UTF-8 text) and cli_opts_parse (common options, unknown,
// missing value, option that does not apply, leftover words, args keys).
// Layer: tests (adapters).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "adapters/cli/cli_opts.h"

static void
test_uint(void **state)
{
    (void) state;
    uint64_t v = 0;
    assert_true(cli_parse_uint("5", 1, 10, &v));
    assert_int_equal(v, 5);
    assert_true(cli_parse_uint("18446744073709551615", 0, UINT64_MAX, &v));
    assert_true(v == UINT64_MAX);
    static const char *const bad[] = {
        "0", "11", "-1", "+1", " 1", "", "1x", "0x5", "18446744073709551616",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 77;
        assert_false(cli_parse_uint(bad[i], 1, 10, &v));
        assert_int_equal(v, 77); // untouched on a refusal
    }
    assert_false(cli_parse_uint(NULL, 0, 10, &v));
}

enum { R_DAYS, R_DATE, R_DIR, R_TO, R_NAME, R_PATH, R_ALL, R_COUNT };

static const char *const s_dirs[] = {"in", "out", NULL};

static const cli_opt_t s_rows[R_COUNT] = {
    [R_DAYS] = {"days", CLI_OPT_UINT, "days", 1, 3650, NULL, NULL, NULL},
    [R_DATE] = {"date", CLI_OPT_DATE, "date", 0, 0, NULL, NULL, NULL},
    [R_DIR] = {"direction", CLI_OPT_ENUM, "direction", 0, 0, s_dirs, NULL,
               "in or out"},
    [R_TO] = {"to", CLI_OPT_ADDR, "to", 0, 0, NULL, NULL, NULL},
    [R_NAME] = {"name", CLI_OPT_TEXT, "name", 0, 0, NULL, NULL, NULL},
    [R_PATH] = {"path", CLI_OPT_WORD, NULL, 0, 0, NULL, NULL, NULL},
    [R_ALL] = {"all", CLI_OPT_FLAG, "all", 0, 0, NULL, NULL, NULL},
};

static void
test_checkers(void **state)
{
    (void) state;
    uint64_t n = 0;
    assert_null(cli_opt_check(&s_rows[R_DAYS], "30", &n));
    assert_int_equal(n, 30);
    assert_string_equal(cli_opt_check(&s_rows[R_DAYS], "3651", &n),
                        "a number from 1 to 3650");
    assert_null(cli_opt_check(&s_rows[R_DATE], "2026-02-28", NULL));
    assert_non_null(cli_opt_check(&s_rows[R_DATE], "2026-02-30", NULL));
    assert_non_null(cli_opt_check(&s_rows[R_DATE], "28/02/2026", NULL));
    assert_null(cli_opt_check(&s_rows[R_DIR], "out", NULL));
    assert_string_equal(cli_opt_check(&s_rows[R_DIR], "up", NULL), "in or out");
    assert_non_null(cli_opt_check(&s_rows[R_DIR], "", NULL));
    assert_null(cli_opt_check(&s_rows[R_TO], "sn/clinic", NULL));
    assert_non_null(cli_opt_check(&s_rows[R_TO], "clinic", NULL));
    assert_true(cli_utf8_valid("Amadou Ndiaye \xc3\xa9"));
    assert_false(cli_utf8_valid("A\xff"));
}

// Runs cli_opts_parse on the words of 'argv' (NULL-ended).
static int
s_run(cli_t *cli, const int *allowed, unsigned flags, char **argv,
      cli_opts_t *o)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return cli_opts_parse(cli, "t", s_rows, R_COUNT, allowed, NULL, flags, argc,
                          argv, o);
}

static void
test_parse_values(void **state)
{
    (void) state;
    cli_t cli = {0};
    cli_opts_t o;
    char *argv[] = {"t",      "--home",     "H",           "--days", "7",
                    "word",   "--name=Awa", "--direction", "in",     "--all",
                    "--json", "--path",     "/tmp/\xff",   NULL};
    assert_int_equal(s_run(&cli, NULL, 0, argv, &o), -1);
    assert_string_equal(cli.home, "H");
    assert_true(cli.json);
    assert_true(o.val[R_DAYS].given);
    assert_int_equal(o.val[R_DAYS].num, 7);
    assert_int_equal(json_integer_value(json_object_get(o.args, "days")), 7);
    assert_string_equal(json_string_value(json_object_get(o.args, "name")),
                        "Awa");
    assert_true(json_is_true(json_object_get(o.args, "all")));
    assert_false(o.val[R_DATE].given);
    assert_null(json_object_get(o.args, "date"));
    // a WORD without a key is taken as given (a path needs no UTF-8)
    assert_string_equal(o.val[R_PATH].text, "/tmp/\xff");
    assert_int_equal(o.noperands, 1);
    assert_string_equal(o.operands[0], "word");
    assert_false(o.help);
    cli_opts_free(&o);
}

static void
test_parse_refusals(void **state)
{
    (void) state;
    cli_t cli = {0};
    cli_opts_t o;
    char *unknown[] = {"t", "--nope", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, unknown, &o), 2);
    cli_opts_free(&o);
    char *missing[] = {"t", "--days", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, missing, &o), 2);
    cli_opts_free(&o);
    char *range[] = {"t", "--days", "0", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, range, &o), 2);
    cli_opts_free(&o);
    char *sign[] = {"t", "--days", "+3", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, sign, &o), 2);
    cli_opts_free(&o);
    char *utf8[] = {"t", "--name", "A\xff", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, utf8, &o), 2);
    cli_opts_free(&o);
    char *addr[] = {"t", "--to", "nobody", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, addr, &o), 2);
    cli_opts_free(&o);
    // an option of the table that this command does not take
    static const int only_days[] = {R_DAYS, -1};
    char *other[] = {"t", "--name", "Awa", NULL};
    assert_int_equal(s_run(&cli, only_days, 0, other, &o), 2);
    cli_opts_free(&o);
    char *fine[] = {"t", "--days", "3", NULL};
    assert_int_equal(s_run(&cli, only_days, 0, fine, &o), -1);
    cli_opts_free(&o);
    // a leftover word when the command takes none
    char *extra[] = {"t", "--days", "3", "extra", NULL};
    assert_int_equal(s_run(&cli, NULL, CLI_OPTS_NO_OPERANDS, extra, &o), 2);
    cli_opts_free(&o);
}

static void
test_parse_help_and_stop(void **state)
{
    (void) state;
    cli_t cli = {0};
    cli_opts_t o;
    // no help text: --help is reported, parsing goes on
    char *help[] = {"t", "--help", "--days", "2", NULL};
    assert_int_equal(s_run(&cli, NULL, 0, help, &o), -1);
    assert_true(o.help);
    assert_int_equal(o.val[R_DAYS].num, 2);
    cli_opts_free(&o);
    // a help text: printed, exit 0 at once (a later error is not reached)
    char *help2[] = {"t", "-h", "--nope", NULL};
    assert_int_equal(cli_opts_parse(&cli, "t", s_rows, R_COUNT, NULL,
                                    "usage: t\n", 0, 3, help2, &o),
                     0);
    cli_opts_free(&o);
    // CLI_OPTS_STOP: options after the first word are the subcommand's
    char *stop[] = {"t", "--all", "sub", "--days", "9", NULL};
    assert_int_equal(s_run(&cli, NULL, CLI_OPTS_STOP, stop, &o), -1);
    assert_true(o.val[R_ALL].given);
    assert_false(o.val[R_DAYS].given);
    assert_int_equal(o.noperands, 3);
    assert_string_equal(o.operands[0], "sub");
    cli_opts_free(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_checkers),
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_help_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
