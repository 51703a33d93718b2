// test_records - the consent record's codec (nodes/pl_records): a round
// trip keeps every field, optional fields stay out, odd documents decode
// to safe defaults.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <string.h>

#include "nodes/pl_records.h"

static const uint8_t s_id[16] = {7}, s_case[16] = {9};

static void
test_consent_round_trip(void **state)
{
    (void) state;
    pl_consent_t a, b;
    memset(&a, 0, sizeof a);
    char err[PL_CONSENT_TEXT_MAX];
    assert_int_equal(
        pl_consent_set_sectors(&a, "health,education", err, sizeof err), PL_OK);
    assert_int_equal(pl_consent_set_purposes(&a, "services", err, sizeof err),
                     PL_OK);
    a.given_by = PL_GIVEN_BY_GUARDIAN;
    snprintf(a.guardian_name, sizeof a.guardian_name, "Fatou");
    snprintf(a.child_views, sizeof a.child_views, "wants school");
    a.created_at = 1000;
    a.expires_at = 2000;
    a.withdrawn_at = 1500;
    json_t *j = pl_consent_rec_encode(&a, "Awa");
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "by")), "Awa");
    assert_string_equal(json_string_value(json_object_get(j, "given_by")),
                        "guardian");
    pl_consent_rec_decode(j, s_id, s_case, &b);
    json_decref(j);
    assert_memory_equal(b.id, s_id, 16);
    assert_memory_equal(b.case_id, s_case, 16);
    assert_int_equal(b.nsectors, 2);
    assert_string_equal(b.sectors[0], "health");
    assert_string_equal(b.sectors[1], "education");
    assert_int_equal(b.npurposes, 1);
    assert_string_equal(b.purposes[0], "services");
    assert_int_equal(b.given_by, PL_GIVEN_BY_GUARDIAN);
    assert_string_equal(b.guardian_name, "Fatou");
    assert_string_equal(b.child_views, "wants school");
    assert_int_equal(b.created_at, 1000);
    assert_int_equal(b.expires_at, 2000);
    assert_int_equal(b.withdrawn_at, 1500);
}

static void
test_consent_optional_and_odd(void **state)
{
    (void) state;
    pl_consent_t a, b;
    memset(&a, 0, sizeof a);
    a.given_by = PL_GIVEN_BY_RETURNEE;
    a.expires_at = 5;
    json_t *j = pl_consent_rec_encode(&a, "");
    assert_null(json_object_get(j, "by"));
    assert_null(json_object_get(j, "guardian_name"));
    assert_null(json_object_get(j, "child_views"));
    assert_null(json_object_get(j, "withdrawn"));
    json_decref(j);
    j = json_pack("{s:s, s:I, s:[i, s]}", "given_by", "nobody", "expires",
                  (json_int_t) -4, "sectors", 3, "health");
    pl_consent_rec_decode(j, s_id, s_case, &b);
    json_decref(j);
    assert_int_equal(b.given_by, PL_GIVEN_BY_RETURNEE);
    assert_int_equal(b.expires_at, 0);
    assert_int_equal(b.nsectors, 1);
    assert_string_equal(b.sectors[0], "health");
    assert_int_equal(b.npurposes, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consent_round_trip),
        cmocka_unit_test(test_consent_optional_and_odd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
