// test_records - the consent and case records' codecs (nodes/pl_records):
// a round trip keeps every field, optional fields stay out, odd documents
// decode to safe defaults; a case written by the old code (its JSON text)
// reads through the codec and survives a round trip, unknown keys too.
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

// The JSON text the code before pl_case_rec_t wrote for a case (key
// order of case.add, then close, bia and a withdrawal), plus a key no
// version writes: it decodes field by field, and a round trip gives the
// same document back (every key, same values).
static const char s_old_case[] =
    "{\"given\":\"Aminata\",\"family\":\"Diallo\",\"birth\":\"2012-04-12\","
    "\"phone\":\"+221770001122\",\"uasc\":\"separated\","
    "\"needs\":[\"housing\",\"school\"],\"flags\":[],\"created\":1700000000,"
    "\"by\":\"Awa\",\"bia\":{\"ref\":\"BIA-7\",\"date\":1690000000,"
    "\"recorded\":1700000100,\"by\":\"Awa\",\"room\":\"3\"},"
    "\"closed\":1700000500,\"close_reason\":\"moved\",\"closed_by\":\"Moussa\","
    "\"withdrawals\":[{\"id\":\"00ff\",\"at\":1700000200,\"holders\":"
    "{\"sn/clinic\":{\"status\":\"confirmed\",\"confirmed\":1700000300}}}],"
    "\"future_key\":{\"x\":[1,2]}}";

static void
test_case_old_text(void **state)
{
    (void) state;
    json_error_t jerr;
    json_t *old = json_loads(s_old_case, 0, &jerr);
    assert_non_null(old);
    pl_case_rec_t r;
    assert_int_equal(pl_case_rec_decode(old, &r), PL_OK);
    assert_string_equal(r.given, "Aminata");
    assert_string_equal(r.family, "Diallo");
    assert_string_equal(r.birth, "2012-04-12");
    assert_null(r.sex);
    assert_string_equal(r.phone, "+221770001122");
    assert_null(r.language);
    assert_string_equal(r.uasc, "separated");
    assert_int_equal(json_array_size(r.needs), 2);
    assert_int_equal(json_array_size(r.flags), 0);
    assert_int_equal(r.created, 1700000000);
    assert_string_equal(r.by, "Awa");
    assert_int_equal(r.closed, 1700000500);
    assert_string_equal(r.close_reason, "moved");
    assert_string_equal(r.closed_by, "Moussa");
    assert_true(r.has_bia);
    assert_string_equal(r.bia.ref, "BIA-7");
    assert_int_equal(r.bia.date, 1690000000);
    assert_int_equal(r.bia.recorded, 1700000100);
    assert_string_equal(r.bia.by, "Awa");
    assert_int_equal(json_array_size(r.withdrawals), 1);
    assert_non_null(json_object_get(r.extra, "future_key"));
    assert_non_null(json_object_get(r.bia.extra, "room"));
    json_t *back = pl_case_rec_encode(&r);
    assert_non_null(back);
    assert_true(json_equal(back, old));
    assert_int_equal(json_object_size(back), json_object_size(old));
    json_decref(back);
    pl_case_rec_free(&r);
    pl_case_rec_free(&r); // idempotent
    assert_null(r.given);
    json_decref(old);
}

// A known key with another type than the codec's is kept as it was, not
// dropped or read as something else; absent fields stay absent.
static void
test_case_odd_types(void **state)
{
    (void) state;
    json_t *j = json_pack("{s:i, s:s, s:I, s:s, s:[s]}", "given", 7, "closed",
                          "yesterday", "created", (json_int_t) -3, "family",
                          "Ba", "needs", "food");
    pl_case_rec_t r;
    assert_int_equal(pl_case_rec_decode(j, &r), PL_OK);
    assert_null(r.given);
    assert_int_equal(r.closed, 0);
    assert_int_equal(r.created, 0);
    assert_false(r.has_bia);
    assert_null(r.withdrawals);
    json_t *back = pl_case_rec_encode(&r);
    assert_true(json_equal(back, j));
    assert_null(json_object_get(back, "bia"));
    json_decref(back);
    pl_case_rec_free(&r);
    json_decref(j);
    json_t *a = json_array();
    assert_int_equal(pl_case_rec_decode(a, &r), PL_EPROTO);
    json_decref(a);
}

// The JSON text the code before pl_ref_rec_t wrote for a sent referral
// (s_refer_doc's keys and order, after a status update and an overdue
// line), plus a key no version writes.
static const char s_old_ref[] =
    "{\"dir\":\"out\",\"peer\":\"sn/clinic\",\"case\":\"0011\","
    "\"pseudonym\":\"P-0a1b2c3d4e\",\"sector\":\"health\",\"service\":"
    "\"primary-care\",\"purpose\":\"services\",\"priority\":\"urgent\","
    "\"due\":0,\"note\":\"call first\",\"created\":1700000000,"
    "\"last_change\":1700000100,\"referred_by\":\"Awa\",\"legal_basis\":"
    "\"consent\",\"consent\":{\"id\":\"00ff\",\"given_by\":\"returnee\","
    "\"expires\":\"2027-01-01T00:00:00Z\"},\"person\":{\"given\":\"Aminata\"},"
    "\"child\":false,\"cp_notified\":\"sn/cp\",\"msg\":\"0102\",\"track\":"
    "\"0a0b\",\"status\":\"accepted\",\"history\":[{\"status\":\"requested\","
    "\"at\":\"2023-11-14T22:13:20Z\",\"by\":\"Awa\"}],\"updated\":1700000100,"
    "\"pending\":{\"1:3\":{\"at\":5}},\"overdue_logged\":1700090000,"
    "\"future\":[true]}";

static void
test_ref_old_text(void **state)
{
    (void) state;
    json_error_t jerr;
    json_t *old = json_loads(s_old_ref, 0, &jerr);
    assert_non_null(old);
    pl_ref_rec_t r;
    assert_int_equal(pl_ref_rec_decode(old, &r), PL_OK);
    assert_string_equal(r.dir, "out");
    assert_string_equal(r.peer, "sn/clinic");
    assert_string_equal(r.case_hex, "0011");
    assert_string_equal(r.priority, "urgent");
    assert_int_equal(r.due, 0);
    assert_int_equal(r.created, 1700000000);
    assert_int_equal(r.last_change, 1700000100);
    assert_string_equal(r.legal_basis, "consent");
    assert_string_equal(
        json_string_value(json_object_get(r.consent, "expires")),
        "2027-01-01T00:00:00Z");
    assert_true(r.has_child);
    assert_false(r.child);
    assert_null(r.uasc);
    assert_null(r.override);
    assert_string_equal(r.cp_notified, "sn/cp");
    assert_string_equal(r.status, "accepted");
    assert_int_equal(json_array_size(r.history), 1);
    assert_int_equal(r.updated, 1700000100);
    assert_non_null(json_object_get(r.pending, "1:3"));
    assert_int_equal(r.overdue_logged, 1700090000);
    assert_int_equal(json_object_size(r.extra), 1); // "future"
    json_t *back = pl_ref_rec_encode(&r);
    assert_true(json_equal(back, old));
    json_decref(back);
    pl_ref_rec_free(&r);
    pl_ref_rec_free(&r);
    // an inbound one without "child": absent stays absent
    json_t *in =
        json_pack("{s:s, s:s, s:I, s:s}", "dir", "in", "peer", "sn/agency",
                  "due", (json_int_t) 1800000000, "refused", "no-consent");
    assert_int_equal(pl_ref_rec_decode(in, &r), PL_OK);
    assert_false(r.has_child);
    assert_int_equal(r.due, 1800000000);
    back = pl_ref_rec_encode(&r);
    assert_true(json_equal(back, in));
    json_decref(back);
    pl_ref_rec_free(&r);
    json_decref(in);
    json_decref(old);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_old_text),
        cmocka_unit_test(test_case_old_text),
        cmocka_unit_test(test_case_odd_types),
        cmocka_unit_test(test_consent_round_trip),
        cmocka_unit_test(test_consent_optional_and_odd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
