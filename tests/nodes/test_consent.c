// test_consent - consent records and the consent gate (nodes/pl_consent):
// coverage, expiry, withdrawal, overrides, children, ages on birthdays.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <string.h>

#include "nodes/pl_consent.h"
#include "nodes/pl_sector_data.h"
#include "proto/pl_util.h"

#define DAY 86400u

// 2026-06-01T12:00:00Z: the clock of these tests
static uint64_t
s_now(void)
{
    uint64_t t;
    assert_int_equal(pl_date_parse("2026-06-01", &t), PL_OK);
    return t + 12 * 3600;
}

static uint64_t
s_date(const char *text)
{
    uint64_t t;
    assert_int_equal(pl_date_parse(text, &t), PL_OK);
    return t;
}

// A valid returnee consent for 'sectors', purpose services, a year long.
static pl_consent_t
s_record(const char *sectors)
{
    pl_consent_t rec;
    char err[PL_CONSENT_TEXT_MAX];
    memset(&rec, 0, sizeof rec);
    memset(rec.id, 0xc1, sizeof rec.id);
    assert_int_equal(pl_consent_set_sectors(&rec, sectors, err, sizeof err),
                     PL_OK);
    assert_int_equal(pl_consent_set_purposes(&rec, "services", err, sizeof err),
                     PL_OK);
    rec.given_by = PL_GIVEN_BY_RETURNEE;
    rec.created_at = s_now() - DAY;
    rec.expires_at = s_now() + 365 * DAY;
    assert_int_equal(pl_consent_validate(&rec, s_now(), err, sizeof err),
                     PL_OK);
    return rec;
}

static const pl_consent_person_t s_adult = {.birth = "1990-04-02"};

// The gate for one referral to 'sector' (purpose services, the sector
// table's categories).
static pl_consent_reason_t
s_gate(const pl_consent_t *recs, size_t n, const char *sector,
       const pl_consent_person_t *person, const pl_consent_override_t *ov,
       pl_consent_verdict_t *v)
{
    pl_consent_request_t req = {
        .records = recs,
        .nrecords = n,
        .sector = sector,
        .purpose = "services",
        .categories = pl_sector_data_categories(sector),
        .person = person,
        .override = ov,
        .now = s_now(),
    };
    pl_consent_reason_t r = pl_consent_gate(&req, v);
    assert_int_equal(r, v->reason);
    if (r != PL_CONSENT_OK) {
        // every refusal names consent, as the CLI prints it
        assert_int_equal(strncmp(v->text, "consent: ", 9), 0);
        assert_null(v->record);
        assert_false(v->override);
        assert_int_not_equal(pl_consent_reason_err(r), PL_OK);
    }
    return r;
}

// ---- coverage

static void
test_no_consent(void **state)
{
    (void) state;
    pl_consent_verdict_t v;
    assert_int_equal(s_gate(NULL, 0, "housing", &s_adult, NULL, &v),
                     PL_CONSENT_NONE);
    assert_non_null(
        strstr(v.text, "consent: no consent record covers sector 'housing'"));
    assert_int_equal(pl_consent_covers(NULL, "housing", "services",
                                       PL_DATA_IDENTITY, s_now(), NULL, 0),
                     PL_CONSENT_NONE);
}

static void
test_other_sector_and_purpose(void **state)
{
    (void) state;
    pl_consent_t rec = s_record("health,education");
    pl_consent_verdict_t v;
    assert_int_equal(s_gate(&rec, 1, "health", &s_adult, NULL, &v),
                     PL_CONSENT_OK);
    assert_ptr_equal(v.record, &rec);
    assert_false(v.override);
    assert_false(v.child);
    assert_int_equal(s_gate(&rec, 1, "housing", &s_adult, NULL, &v),
                     PL_CONSENT_SECTOR);
    assert_string_equal(v.text,
                        "consent: no consent record covers sector 'housing'");

    char err[PL_CONSENT_TEXT_MAX];
    assert_int_equal(pl_consent_covers(&rec, "health", "tracing",
                                       pl_sector_data_categories("health"),
                                       s_now(), err, sizeof err),
                     PL_CONSENT_PURPOSE);
    assert_non_null(strstr(err, "consent: "));
    assert_non_null(strstr(err, "purpose 'tracing'"));
    // unknown sector or bad purpose: invalid input, named
    assert_int_equal(pl_consent_covers(&rec, "bakery", "services", 0, s_now(),
                                       err, sizeof err),
                     PL_CONSENT_INVALID);
    assert_non_null(strstr(err, "'bakery'"));
    assert_int_equal(pl_consent_covers(&rec, "health", "Services!", 0, s_now(),
                                       err, sizeof err),
                     PL_CONSENT_INVALID);
}

static void
test_categories(void **state)
{
    (void) state;
    pl_consent_t rec = s_record("health,education");
    char err[PL_CONSENT_TEXT_MAX];
    // 0: the sector table's categories are covered, and no more
    assert_int_equal(pl_consent_covers(&rec, "health", "services",
                                       PL_DATA_IDENTITY | PL_DATA_CONTACT,
                                       s_now(), err, sizeof err),
                     PL_CONSENT_OK);
    assert_int_equal(pl_consent_covers(&rec, "education", "services",
                                       PL_DATA_IDENTITY | PL_DATA_CONTACT,
                                       s_now(), err, sizeof err),
                     PL_CONSENT_CATEGORIES);
    assert_non_null(strstr(err, "'contact'"));
    // explicit: identity only; health sends contact too
    rec.categories = PL_DATA_IDENTITY;
    assert_int_equal(pl_consent_covers(&rec, "health", "services",
                                       pl_sector_data_categories("health"),
                                       s_now(), err, sizeof err),
                     PL_CONSENT_CATEGORIES);
    assert_int_equal(pl_consent_covers(&rec, "education", "services",
                                       pl_sector_data_categories("education"),
                                       s_now(), err, sizeof err),
                     PL_CONSENT_OK);
}

static void
test_expired_and_withdrawn(void **state)
{
    (void) state;
    pl_consent_t rec = s_record("health");
    pl_consent_verdict_t v;
    char err[PL_CONSENT_TEXT_MAX];
    uint32_t cat = pl_sector_data_categories("health");
    // expires_at is the first instant it no longer holds
    rec.expires_at = s_now() + 1;
    assert_int_equal(s_gate(&rec, 1, "health", &s_adult, NULL, &v),
                     PL_CONSENT_OK);
    rec.expires_at = s_now();
    assert_int_equal(s_gate(&rec, 1, "health", &s_adult, NULL, &v),
                     PL_CONSENT_EXPIRED);
    assert_non_null(strstr(v.text, "expired"));
    assert_int_equal(pl_consent_reason_err(v.reason), PL_EEXPIRED);
    rec.expires_at = 0; // fail closed
    assert_int_equal(pl_consent_covers(&rec, "health", "services", cat, s_now(),
                                       err, sizeof err),
                     PL_CONSENT_EXPIRED);
    // --expires YYYY-MM-DD holds through that day
    assert_int_equal(pl_consent_expiry_parse("2026-06-01", &rec.expires_at),
                     PL_OK);
    assert_true(rec.expires_at == s_date("2026-06-02"));
    assert_int_equal(pl_consent_covers(&rec, "health", "services", cat,
                                       s_date("2026-06-02") - 1, err,
                                       sizeof err),
                     PL_CONSENT_OK);
    assert_int_equal(pl_consent_covers(&rec, "health", "services", cat,
                                       s_date("2026-06-02"), err, sizeof err),
                     PL_CONSENT_EXPIRED);
    assert_int_equal(pl_consent_expiry_parse("2026-13-01", &rec.expires_at),
                     PL_EINVAL);

    rec = s_record("health");
    rec.withdrawn_at = s_now() - 60;
    assert_int_equal(s_gate(&rec, 1, "health", &s_adult, NULL, &v),
                     PL_CONSENT_WITHDRAWN);
    assert_non_null(strstr(v.text, "withdrawn"));
}

// Several records: the first that holds wins; otherwise the closest
// failure is reported.
static void
test_several_records(void **state)
{
    (void) state;
    pl_consent_t recs[3] = {s_record("housing"), s_record("education"),
                            s_record("health,housing")};
    recs[0].expires_at = s_now() - DAY; // an old, expired housing consent
    recs[2].withdrawn_at = s_now() - DAY;
    pl_consent_verdict_t v;
    assert_int_equal(s_gate(recs, 3, "housing", &s_adult, NULL, &v),
                     PL_CONSENT_EXPIRED);
    assert_int_equal(s_gate(recs, 3, "health", &s_adult, NULL, &v),
                     PL_CONSENT_WITHDRAWN);
    assert_int_equal(s_gate(recs, 3, "education", &s_adult, NULL, &v),
                     PL_CONSENT_OK);
    assert_ptr_equal(v.record, &recs[1]);
    assert_int_equal(s_gate(recs, 3, "gbv", &s_adult, NULL, &v),
                     PL_CONSENT_SECTOR);
    // a new housing consent next to the old one
    recs[1] = s_record("housing");
    assert_int_equal(s_gate(recs, 3, "housing", &s_adult, NULL, &v),
                     PL_CONSENT_OK);
    assert_ptr_equal(v.record, &recs[1]);
}

// ---- overrides

static void
test_override(void **state)
{
    (void) state;
    pl_consent_verdict_t v;
    const pl_consent_override_t no_just = {.approved_by = "A. Supervisor"};
    const pl_consent_override_t blank_just = {.justification = "  ",
                                              .approved_by = "A. Supervisor"};
    const pl_consent_override_t no_appr = {
        .justification = "vital interest: urgent surgery"};
    const pl_consent_override_t blank_appr = {
        .justification = "vital interest: urgent surgery", .approved_by = ""};
    const pl_consent_override_t full = {.justification =
                                            "vital interest: urgent surgery",
                                        .approved_by = "A. Supervisor"};

    assert_int_equal(s_gate(NULL, 0, "health", &s_adult, &no_just, &v),
                     PL_CONSENT_OVERRIDE_JUSTIFICATION);
    assert_non_null(strstr(v.text, "justification"));
    assert_int_equal(s_gate(NULL, 0, "health", &s_adult, &blank_just, &v),
                     PL_CONSENT_OVERRIDE_JUSTIFICATION);
    assert_int_equal(s_gate(NULL, 0, "health", &s_adult, &no_appr, &v),
                     PL_CONSENT_OVERRIDE_APPROVER);
    assert_non_null(strstr(v.text, "--approved-by"));
    assert_int_equal(s_gate(NULL, 0, "health", &s_adult, &blank_appr, &v),
                     PL_CONSENT_OVERRIDE_APPROVER);

    // complete: allowed, flagged for the audit, with what it overrode
    assert_int_equal(s_gate(NULL, 0, "health", &s_adult, &full, &v),
                     PL_CONSENT_OK);
    assert_true(v.override);
    assert_int_equal(v.overridden, PL_CONSENT_NONE);
    assert_null(v.record);
    assert_non_null(strstr(v.text, "consent: "));

    // an incomplete override is refused even where consent holds
    pl_consent_t rec = s_record("health");
    assert_int_equal(s_gate(&rec, 1, "health", &s_adult, &no_appr, &v),
                     PL_CONSENT_OVERRIDE_APPROVER);
    // a complete one is not needed then: no override flag
    assert_int_equal(s_gate(&rec, 1, "health", &s_adult, &full, &v),
                     PL_CONSENT_OK);
    assert_false(v.override);
    assert_ptr_equal(v.record, &rec);
    // an empty override struct is no override
    const pl_consent_override_t none = {0};
    assert_int_equal(s_gate(NULL, 0, "health", &s_adult, &none, &v),
                     PL_CONSENT_NONE);

    // children too: a separated child without BIA, best interests override
    const pl_consent_person_t sep = {.birth = "2015-01-01",
                                     .uasc = PL_UASC_SEPARATED};
    assert_int_equal(s_gate(&rec, 1, "health", &sep, &full, &v), PL_CONSENT_OK);
    assert_true(v.override);
    assert_true(v.child);
    assert_int_equal(v.overridden, PL_CONSENT_BIA);
}

// ---- ages and children

static void
test_age_edges(void **state)
{
    (void) state;
    int years;
    bool child;
    // 17 years 364 days, then the 18th birthday
    uint64_t bday = s_date("2026-03-15");
    assert_int_equal(pl_consent_age("2008-03-15", bday - 1, &years), PL_OK);
    assert_int_equal(years, 17);
    assert_int_equal(pl_consent_is_child("2008-03-15", bday - 1, &child),
                     PL_OK);
    assert_true(child);
    assert_int_equal(
        pl_consent_is_child("2008-03-15", s_date("2026-03-14"), &child), PL_OK);
    assert_true(child);
    assert_int_equal(pl_consent_is_child("2008-03-15", bday, &child), PL_OK);
    assert_false(child);
    assert_int_equal(pl_consent_age("2008-03-15", bday, &years), PL_OK);
    assert_int_equal(years, 18);

    // born on 29 February: 18 on 1 March of a common year
    assert_int_equal(
        pl_consent_age("2008-02-29", s_date("2026-02-28") + 43200, &years),
        PL_OK);
    assert_int_equal(years, 17);
    assert_int_equal(pl_consent_age("2008-02-29", s_date("2026-03-01"), &years),
                     PL_OK);
    assert_int_equal(years, 18);
    // ... and on 29 February of a leap year
    assert_int_equal(pl_consent_age("2008-02-29", s_date("2024-02-28"), &years),
                     PL_OK);
    assert_int_equal(years, 15);
    assert_int_equal(pl_consent_age("2008-02-29", s_date("2024-02-29"), &years),
                     PL_OK);
    assert_int_equal(years, 16);
    // born on the last day of a year, end-of-year clock
    assert_int_equal(
        pl_consent_age("2007-12-31", s_date("2025-12-31") - 1, &years), PL_OK);
    assert_int_equal(years, 17);
    assert_int_equal(pl_consent_age("2007-12-31", s_date("2025-12-31"), &years),
                     PL_OK);
    assert_int_equal(years, 18);
    // born today: 0; not real or in the future: refused
    assert_int_equal(pl_consent_age("2026-06-01", s_now(), &years), PL_OK);
    assert_int_equal(years, 0);
    assert_int_equal(pl_consent_age("2026-06-02", s_now(), &years), PL_EINVAL);
    assert_int_equal(pl_consent_age("2007-02-29", s_now(), &years), PL_EINVAL);
    assert_int_equal(pl_consent_age("01/02/2007", s_now(), &years), PL_EINVAL);
    assert_int_equal(pl_consent_age(NULL, s_now(), &years), PL_EINVAL);
}

// The gate at the 18th birthday: the day before, a child's rules; on it,
// an adult's.
static void
test_child_birthday_gate(void **state)
{
    (void) state;
    // s_now() is 2026-06-01T12:00Z
    const pl_consent_person_t almost = {.birth = "2008-06-02"}; // 17y 364d
    const pl_consent_person_t today = {.birth = "2008-06-01"};  // 18 today
    pl_consent_t own = s_record("health");
    pl_consent_verdict_t v;
    assert_int_equal(s_gate(&own, 1, "health", &almost, NULL, &v),
                     PL_CONSENT_CHILD_GIVER);
    assert_true(v.child);
    assert_non_null(strstr(v.text, "guardian"));
    assert_int_equal(s_gate(&own, 1, "health", &today, NULL, &v),
                     PL_CONSENT_OK);
    assert_false(v.child);

    // a guardian's consent no longer counts once the person is 18
    pl_consent_t g = s_record("health");
    g.given_by = PL_GIVEN_BY_GUARDIAN;
    snprintf(g.guardian_name, sizeof g.guardian_name, "Awa Diop");
    snprintf(g.child_views, sizeof g.child_views, "agrees to see a nurse");
    assert_int_equal(s_gate(&g, 1, "health", &almost, NULL, &v), PL_CONSENT_OK);
    assert_int_equal(s_gate(&g, 1, "health", &today, NULL, &v),
                     PL_CONSENT_ADULT_GUARDIAN);
    // with both records, each age finds its own
    pl_consent_t both[2] = {g, own};
    assert_int_equal(s_gate(both, 2, "health", &almost, NULL, &v),
                     PL_CONSENT_OK);
    assert_ptr_equal(v.record, &both[0]);
    assert_int_equal(s_gate(both, 2, "health", &today, NULL, &v),
                     PL_CONSENT_OK);
    assert_ptr_equal(v.record, &both[1]);
}

static void
test_child_guardian(void **state)
{
    (void) state;
    const pl_consent_person_t kid = {.birth = "2016-09-10"};
    pl_consent_verdict_t v;
    char err[PL_CONSENT_TEXT_MAX];
    assert_int_equal(s_gate(NULL, 0, "education", &kid, NULL, &v),
                     PL_CONSENT_NONE);

    pl_consent_t g = s_record("education,health");
    g.given_by = PL_GIVEN_BY_GUARDIAN;
    snprintf(g.guardian_name, sizeof g.guardian_name, "Moussa Ndiaye");
    // without the child's views: refused
    assert_int_equal(s_gate(&g, 1, "education", &kid, NULL, &v),
                     PL_CONSENT_CHILD_VIEWS);
    assert_non_null(strstr(v.text, "child's views"));
    assert_int_equal(pl_consent_check_child(&g, &kid, s_now(), err, sizeof err),
                     PL_CONSENT_CHILD_VIEWS);
    snprintf(g.child_views, sizeof g.child_views, " \t");
    assert_int_equal(s_gate(&g, 1, "education", &kid, NULL, &v),
                     PL_CONSENT_CHILD_VIEWS);
    // with them: sent
    snprintf(g.child_views, sizeof g.child_views,
             "wants to go back to school with her cousins");
    assert_int_equal(s_gate(&g, 1, "education", &kid, NULL, &v), PL_CONSENT_OK);
    assert_true(v.child);
    assert_int_equal(pl_consent_check_child(&g, &kid, s_now(), err, sizeof err),
                     PL_CONSENT_OK);
    // a guardian's consent naming no guardian
    g.guardian_name[0] = '\0';
    assert_int_equal(s_gate(&g, 1, "education", &kid, NULL, &v),
                     PL_CONSENT_GUARDIAN_NAME);
    assert_int_equal(pl_consent_validate(&g, s_now(), err, sizeof err),
                     PL_EINVAL);
    assert_non_null(strstr(err, "--guardian-name"));
    // the child's own consent is not enough
    pl_consent_t own = s_record("education");
    assert_int_equal(s_gate(&own, 1, "education", &kid, NULL, &v),
                     PL_CONSENT_CHILD_GIVER);
    // and a guardian's consent must still cover the sector
    snprintf(g.guardian_name, sizeof g.guardian_name, "Moussa Ndiaye");
    assert_int_equal(s_gate(&g, 1, "housing", &kid, NULL, &v),
                     PL_CONSENT_SECTOR);
}

static void
test_child_uasc(void **state)
{
    (void) state;
    pl_consent_person_t sep = {.birth = "2011-02-03",
                               .uasc = PL_UASC_SEPARATED};
    pl_consent_t own = s_record("health,child-protection");
    pl_consent_verdict_t v;
    char err[PL_CONSENT_TEXT_MAX];
    // without a best-interests assessment: refused
    assert_int_equal(s_gate(&own, 1, "health", &sep, NULL, &v), PL_CONSENT_BIA);
    assert_non_null(strstr(v.text, "best-interests assessment"));
    assert_non_null(strstr(v.text, "separated"));
    assert_int_equal(
        pl_consent_check_child(&own, &sep, s_now(), err, sizeof err),
        PL_CONSENT_BIA);
    // a reference without a date, or dated in the future: still refused
    sep.bia_ref = "BIA-2026-017";
    assert_int_equal(s_gate(&own, 1, "health", &sep, NULL, &v), PL_CONSENT_BIA);
    sep.bia_date = s_now() + DAY;
    assert_int_equal(s_gate(&own, 1, "health", &sep, NULL, &v), PL_CONSENT_BIA);
    sep.bia_ref = "  ";
    sep.bia_date = s_date("2026-05-20");
    assert_int_equal(s_gate(&own, 1, "health", &sep, NULL, &v), PL_CONSENT_BIA);
    // with it: sent
    sep.bia_ref = "BIA-2026-017";
    assert_int_equal(s_gate(&own, 1, "health", &sep, NULL, &v), PL_CONSENT_OK);
    assert_true(v.child);
    assert_false(v.override);
    // still needs a record covering the sector
    assert_int_equal(s_gate(&own, 1, "housing", &sep, NULL, &v),
                     PL_CONSENT_SECTOR);
    assert_int_equal(s_gate(NULL, 0, "health", &sep, NULL, &v),
                     PL_CONSENT_NONE);
    // unaccompanied: the same
    pl_consent_person_t alone = {.birth = "2010-07-07",
                                 .uasc = PL_UASC_UNACCOMPANIED};
    assert_int_equal(s_gate(&own, 1, "health", &alone, NULL, &v),
                     PL_CONSENT_BIA);
    assert_non_null(strstr(v.text, "unaccompanied"));
    alone.bia_ref = "BIA-9";
    alone.bia_date = s_date("2026-01-10");
    assert_int_equal(s_gate(&own, 1, "health", &alone, NULL, &v),
                     PL_CONSENT_OK);
    // an adult's former uasc status asks for nothing more
    const pl_consent_person_t grown = {.birth = "1999-01-01",
                                       .uasc = PL_UASC_UNACCOMPANIED};
    assert_int_equal(s_gate(&own, 1, "health", &grown, NULL, &v),
                     PL_CONSENT_OK);
    // a bad birth date is refused, not guessed
    const pl_consent_person_t bad = {.birth = "2011-02-30"};
    assert_int_equal(s_gate(&own, 1, "health", &bad, NULL, &v),
                     PL_CONSENT_INVALID);
}

// ---- building records

static void
test_building(void **state)
{
    (void) state;
    pl_consent_t rec;
    char err[PL_CONSENT_TEXT_MAX];
    memset(&rec, 0, sizeof rec);
    assert_int_equal(
        pl_consent_set_sectors(&rec, "health,housing,health", err, sizeof err),
        PL_OK);
    assert_int_equal(rec.nsectors, 2);
    assert_string_equal(rec.sectors[1], "housing");
    assert_int_equal(
        pl_consent_set_sectors(&rec, "health,bakery", err, sizeof err),
        PL_EINVAL);
    assert_non_null(strstr(err, "consent: unknown sector 'bakery'"));
    assert_int_equal(rec.nsectors, 2); // untouched on failure
    assert_int_equal(pl_consent_set_sectors(&rec, "broker", err, sizeof err),
                     PL_EINVAL);
    assert_int_equal(pl_consent_set_sectors(&rec, "health,", err, sizeof err),
                     PL_EINVAL);
    assert_int_equal(pl_consent_set_sectors(&rec, "", err, sizeof err),
                     PL_EINVAL);
    assert_int_equal(
        pl_consent_set_purposes(&rec, "services,tracing", err, sizeof err),
        PL_OK);
    assert_int_equal(rec.npurposes, 2);
    assert_int_equal(pl_consent_set_purposes(&rec, "Services", err, sizeof err),
                     PL_EINVAL);

    pl_consent_giver_t g;
    assert_int_equal(pl_consent_giver_parse("guardian", &g), PL_OK);
    assert_int_equal(g, PL_GIVEN_BY_GUARDIAN);
    assert_string_equal(pl_consent_giver_name(g), "guardian");
    assert_int_equal(pl_consent_giver_parse("parent", &g), PL_EINVAL);
    pl_uasc_t u;
    assert_int_equal(pl_uasc_parse("separated", &u), PL_OK);
    assert_int_equal(u, PL_UASC_SEPARATED);
    assert_int_equal(pl_uasc_parse("accompanied", &u), PL_EINVAL);

    // validation before storing
    rec.given_by = PL_GIVEN_BY_RETURNEE;
    rec.expires_at = s_now() + DAY;
    assert_int_equal(pl_consent_validate(&rec, s_now(), err, sizeof err),
                     PL_OK);
    rec.expires_at = s_now();
    assert_int_equal(pl_consent_validate(&rec, s_now(), err, sizeof err),
                     PL_EINVAL);
    assert_non_null(strstr(err, "consent: "));
    rec.expires_at = s_now() + DAY;
    rec.npurposes = 0;
    assert_int_equal(pl_consent_validate(&rec, s_now(), err, sizeof err),
                     PL_EINVAL);

    // every reason has a name
    for (int r = PL_CONSENT_OK; r <= PL_CONSENT_OVERRIDE_APPROVER; r++)
        assert_string_not_equal(pl_consent_reason_name((pl_consent_reason_t) r),
                                "?");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_consent),
        cmocka_unit_test(test_other_sector_and_purpose),
        cmocka_unit_test(test_categories),
        cmocka_unit_test(test_expired_and_withdrawn),
        cmocka_unit_test(test_several_records),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_age_edges),
        cmocka_unit_test(test_child_birthday_gate),
        cmocka_unit_test(test_child_guardian),
        cmocka_unit_test(test_child_uasc),
        cmocka_unit_test(test_building),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
