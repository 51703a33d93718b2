// test_sector_data - the minimum-data table (nodes/pl_sector_data): which
// personal fields go to which sector, categories, the rendered table.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_sector_data.h"
#include "proto/pl_cert.h"

#define BASE                                                                   \
    (PL_FIELD_GIVEN | PL_FIELD_FAMILY | PL_FIELD_BIRTH | PL_FIELD_SEX          \
     | PL_FIELD_LANGUAGE)

static void
test_design_table(void **state)
{
    (void) state;
    // DESIGN.md §6, written out independently
    assert_int_equal(pl_sector_data_fields("education"), BASE);
    assert_false(pl_sector_data_fields("education") & PL_FIELD_PHONE);
    assert_int_equal(pl_sector_data_fields("health"), BASE | PL_FIELD_PHONE);
    const char *phone[] = {"health", "mhpss", "housing", "child-protection",
                           "gbv"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(pl_sector_data_fields(phone[i]),
                         BASE | PL_FIELD_PHONE);
    const char *base[] = {"agency",      "education",     "tvet",
                          "legal",       "livelihood",    "social-protection",
                          "basic-needs", "family-tracing"};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(pl_sector_data_fields(base[i]), BASE);
    // nothing identifying for coordination (and the broker)
    assert_int_equal(pl_sector_data_fields("coordination"), 0);
    assert_int_equal(pl_sector_data_fields("broker"), 0);
    assert_int_equal(pl_sector_data_categories("coordination"), 0);
    // unknown: nothing
    assert_int_equal(pl_sector_data_fields("bakery"), 0);
    assert_int_equal(pl_sector_data_fields(""), 0);
    assert_int_equal(pl_sector_data_fields(NULL), 0);
    assert_int_equal(pl_sector_data_fields("Health"), 0);

    // categories
    assert_int_equal(pl_sector_data_categories("education"), PL_DATA_IDENTITY);
    assert_int_equal(pl_sector_data_categories("health"),
                     PL_DATA_IDENTITY | PL_DATA_CONTACT);
    assert_int_equal(pl_sector_data_fields_categories(PL_FIELD_PHONE),
                     PL_DATA_CONTACT);
    assert_int_equal(pl_sector_data_fields_categories(PL_FIELD_LANGUAGE),
                     PL_DATA_IDENTITY);
    assert_int_equal(pl_sector_data_fields_categories(0), 0);
}

// Every contract sector code has a row, and no row names anything else.
static void
test_table_matches_sector_codes(void **state)
{
    (void) state;
    size_t need = pl_sector_data_table(NULL, 0);
    char *table = malloc(need + 1);
    assert_non_null(table);
    assert_int_equal(pl_sector_data_table(table, need + 1), need);
    assert_int_equal(strlen(table), need);

    char codes[512];
    snprintf(codes, sizeof codes, "%s", pl_sector_list());
    size_t ncodes = 0;
    for (char *save = NULL, *c = strtok_r(codes, ",", &save); c;
         c = strtok_r(NULL, ",", &save), ncodes++) {
        char line[64];
        snprintf(line, sizeof line, "\n%s ", c);
        assert_non_null(strstr(table, line));
        // the row says what the lookup says
        const char *row = strstr(table, line) + 1;
        if (pl_sector_data_fields(c) == 0)
            assert_non_null(strstr(row, "nothing identifying"));
    }
    size_t nlines = 0;
    for (const char *p = table; *p; p++) {
        nlines += *p == '\n';
        // no trailing blanks (the table is pasted into the README)
        if (*p == '\n')
            assert_true(p == table || p[-1] != ' ');
    }
    assert_int_equal(nlines, ncodes + 1); // header + one per code
    assert_non_null(strstr(table, "sector"));
    assert_non_null(strstr(table, "phone"));

    // cut short: NUL-terminated, same needed length
    char small[40];
    assert_int_equal(pl_sector_data_table(small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    free(table);
}

static void
test_names(void **state)
{
    (void) state;
    const char *fields[] = {"given", "family",   "birth",
                            "sex",   "language", "phone"};
    for (int i = 0; i < PL_FIELD_COUNT; i++) {
        assert_string_equal(pl_sector_data_field_name(1u << i), fields[i]);
        uint32_t bit;
        assert_int_equal(pl_sector_data_field_parse(fields[i], &bit), PL_OK);
        assert_int_equal(bit, 1u << i);
    }
    assert_null(pl_sector_data_field_name(0));
    assert_null(pl_sector_data_field_name(3));
    assert_null(pl_sector_data_field_name(1u << PL_FIELD_COUNT));
    uint32_t bit, mask;
    assert_int_equal(pl_sector_data_field_parse("email", &bit), PL_EINVAL);
    assert_string_equal(pl_sector_data_category_name(PL_DATA_CONTACT),
                        "contact");
    assert_int_equal(pl_sector_data_category_parse("identity", &bit), PL_OK);
    assert_int_equal(bit, PL_DATA_IDENTITY);

    assert_int_equal(pl_sector_data_categories_parse("identity,contact", &mask),
                     PL_OK);
    assert_int_equal(mask, PL_DATA_ALL);
    assert_int_equal(pl_sector_data_categories_parse("contact", &mask), PL_OK);
    assert_int_equal(mask, PL_DATA_CONTACT);
    assert_int_equal(pl_sector_data_categories_parse("identity,", &mask),
                     PL_EINVAL);
    assert_int_equal(pl_sector_data_categories_parse("", &mask), PL_EINVAL);
    assert_int_equal(pl_sector_data_categories_parse("health", &mask),
                     PL_EINVAL);

    char text[128];
    assert_int_equal(pl_sector_data_fields_text(
                         pl_sector_data_fields("education"), text, sizeof text),
                     strlen("given,family,birth,sex,language"));
    assert_string_equal(text, "given,family,birth,sex,language");
    pl_sector_data_fields_text(pl_sector_data_fields("gbv"), text, sizeof text);
    assert_string_equal(text, "given,family,birth,sex,language,phone");
    assert_int_equal(pl_sector_data_fields_text(0, text, sizeof text), 0);
    assert_string_equal(text, "");
    pl_sector_data_categories_text(PL_DATA_ALL, text, sizeof text);
    assert_string_equal(text, "identity,contact");
    char tiny[4];
    assert_int_equal(
        pl_sector_data_fields_text(PL_FIELD_ALL, tiny, sizeof tiny),
        strlen("given,family,birth,sex,language,phone"));
    assert_string_equal(tiny, "giv");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_table),
        cmocka_unit_test(test_table_matches_sector_codes),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
