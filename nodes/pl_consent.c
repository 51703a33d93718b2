// pl_consent - consent records and the consent gate. Layer: nodes. Pure
// logic; see pl_consent.h for the rules.
#include "nodes/pl_consent.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nodes/pl_sector_data.h"
#include "proto/pl_cert.h"
#include "proto/pl_util.h"

#define S_DAY 86400u

static const char *const s_reason_names[] = {
    [PL_CONSENT_OK] = "ok",
    [PL_CONSENT_INVALID] = "invalid",
    [PL_CONSENT_NONE] = "no-consent",
    [PL_CONSENT_SECTOR] = "sector-not-covered",
    [PL_CONSENT_PURPOSE] = "purpose-not-covered",
    [PL_CONSENT_CATEGORIES] = "data-not-covered",
    [PL_CONSENT_WITHDRAWN] = "withdrawn",
    [PL_CONSENT_EXPIRED] = "expired",
    [PL_CONSENT_ADULT_GUARDIAN] = "adult-needs-own-consent",
    [PL_CONSENT_CHILD_GIVER] = "child-needs-guardian",
    [PL_CONSENT_GUARDIAN_NAME] = "guardian-name-missing",
    [PL_CONSENT_CHILD_VIEWS] = "child-views-missing",
    [PL_CONSENT_BIA] = "bia-missing",
    [PL_CONSENT_OVERRIDE_JUSTIFICATION] = "override-justification-missing",
    [PL_CONSENT_OVERRIDE_APPROVER] = "override-approver-missing",
};
#define S_NREASONS (sizeof s_reason_names / sizeof s_reason_names[0])

const char *
pl_consent_reason_name(pl_consent_reason_t reason)
{
    return (unsigned) reason < S_NREASONS ? s_reason_names[reason] : "?";
}

int
pl_consent_reason_err(pl_consent_reason_t reason)
{
    switch (reason) {
    case PL_CONSENT_OK:
        return PL_OK;
    case PL_CONSENT_EXPIRED:
        return PL_EEXPIRED;
    case PL_CONSENT_INVALID:
    case PL_CONSENT_OVERRIDE_JUSTIFICATION:
    case PL_CONSENT_OVERRIDE_APPROVER:
        return PL_EINVAL;
    default:
        return PL_EPERM;
    }
}

const char *
pl_consent_giver_name(pl_consent_giver_t giver)
{
    switch (giver) {
    case PL_GIVEN_BY_RETURNEE:
        return "returnee";
    case PL_GIVEN_BY_GUARDIAN:
        return "guardian";
    }
    return "?";
}

int
pl_consent_giver_parse(const char *text, pl_consent_giver_t *out)
{
    if (text && strcmp(text, "returnee") == 0)
        *out = PL_GIVEN_BY_RETURNEE;
    else if (text && strcmp(text, "guardian") == 0)
        *out = PL_GIVEN_BY_GUARDIAN;
    else
        return PL_EINVAL;
    return PL_OK;
}

const char *
pl_uasc_name(pl_uasc_t uasc)
{
    switch (uasc) {
    case PL_UASC_NONE:
        return "";
    case PL_UASC_UNACCOMPANIED:
        return "unaccompanied";
    case PL_UASC_SEPARATED:
        return "separated";
    }
    return "?";
}

int
pl_uasc_parse(const char *text, pl_uasc_t *out)
{
    if (text && strcmp(text, "unaccompanied") == 0)
        *out = PL_UASC_UNACCOMPANIED;
    else if (text && strcmp(text, "separated") == 0)
        *out = PL_UASC_SEPARATED;
    else
        return PL_EINVAL;
    return PL_OK;
}

// ---- small helpers

// Writes a message into err (NULL-safe).
static void s_say(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_say(char *err, size_t size, const char *fmt, ...)
{
    if (!err || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

// NULL, "" and blanks only all count as empty: a justification of " " is
// no justification.
static bool
s_blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char) *s))
            return false;
    return true;
}

// Splits a comma list into codes checked by 'ok'; fills names[max][..].
static int
s_set_list(char (*names)[PL_CONSENT_CODE_MAX + 1], size_t max, size_t *count,
           const char *list, bool (*ok)(const char *), const char *what,
           char *err, size_t err_size)
{
    char tmp[PL_CONSENT_SECTORS_MAX][PL_CONSENT_CODE_MAX + 1];
    size_t n = 0;
    assert(max <= PL_CONSENT_SECTORS_MAX);
    if (!list || !*list) {
        s_say(err, err_size, "consent: no %s given", what);
        return PL_EINVAL;
    }
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        char code[PL_CONSENT_CODE_MAX + 1];
        if (len == 0 || len > PL_CONSENT_CODE_MAX) {
            s_say(err, err_size, "consent: empty or overlong %s in '%s'", what,
                  list);
            return PL_EINVAL;
        }
        memcpy(code, p, len);
        code[len] = '\0';
        if (!ok(code)) {
            s_say(err, err_size, "consent: unknown %s '%s'", what, code);
            return PL_EINVAL;
        }
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup = dup || strcmp(tmp[i], code) == 0;
        if (!dup) {
            if (n == max) {
                s_say(err, err_size, "consent: more than %zu %ss", max, what);
                return PL_EINVAL;
            }
            memcpy(tmp[n++], code, len + 1);
        }
        if (!end)
            break;
        p = end + 1;
    }
    memcpy(names, tmp, n * sizeof tmp[0]);
    *count = n;
    return PL_OK;
}

// A sector a person can consent to share with (the broker reads nothing).
static bool
s_sector_ok(const char *s)
{
    return pl_sector_valid(s) && strcmp(s, "broker") != 0;
}

int
pl_consent_set_sectors(pl_consent_t *rec, const char *list, char *err,
                       size_t err_size)
{
    assert(rec);
    return s_set_list(rec->sectors, PL_CONSENT_SECTORS_MAX, &rec->nsectors,
                      list, s_sector_ok, "sector", err, err_size);
}

int
pl_consent_set_purposes(pl_consent_t *rec, const char *list, char *err,
                        size_t err_size)
{
    assert(rec);
    return s_set_list(rec->purposes, PL_CONSENT_PURPOSES_MAX, &rec->npurposes,
                      list, pl_slug_valid, "purpose", err, err_size);
}

int
pl_consent_expiry_parse(const char *text, uint64_t *expires_at)
{
    uint64_t t;
    int rc = pl_date_parse(text, &t);
    if (rc != PL_OK)
        return rc;
    *expires_at = t + S_DAY;
    return PL_OK;
}

int
pl_consent_validate(const pl_consent_t *rec, uint64_t now, char *err,
                    size_t err_size)
{
    assert(rec);
    if (rec->nsectors == 0 || rec->nsectors > PL_CONSENT_SECTORS_MAX) {
        s_say(err, err_size, "consent: no sector given (--sectors)");
        return PL_EINVAL;
    }
    for (size_t i = 0; i < rec->nsectors; i++)
        if (!s_sector_ok(rec->sectors[i])) {
            s_say(err, err_size, "consent: unknown sector '%s'",
                  rec->sectors[i]);
            return PL_EINVAL;
        }
    if (rec->npurposes == 0 || rec->npurposes > PL_CONSENT_PURPOSES_MAX) {
        s_say(err, err_size, "consent: no purpose given (--purpose)");
        return PL_EINVAL;
    }
    if ((rec->categories & ~(uint32_t) PL_DATA_ALL) != 0) {
        s_say(err, err_size, "consent: unknown data category");
        return PL_EINVAL;
    }
    if (rec->given_by != PL_GIVEN_BY_RETURNEE
        && rec->given_by != PL_GIVEN_BY_GUARDIAN) {
        s_say(err, err_size,
              "consent: given by whom? (--given-by returnee|guardian)");
        return PL_EINVAL;
    }
    if (rec->given_by == PL_GIVEN_BY_GUARDIAN && s_blank(rec->guardian_name)) {
        s_say(err, err_size,
              "consent: a guardian's consent needs the guardian's name "
              "(--guardian-name)");
        return PL_EINVAL;
    }
    if (rec->expires_at <= now) {
        s_say(err, err_size,
              "consent: the expiry date must lie in the future (--expires)");
        return PL_EINVAL;
    }
    return PL_OK;
}

// ---- covers

static bool
s_has(const char (*list)[PL_CONSENT_CODE_MAX + 1], size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

pl_consent_reason_t
pl_consent_covers(const pl_consent_t *rec, const char *sector,
                  const char *purpose, uint32_t categories, uint64_t now,
                  char *err, size_t err_size)
{
    if (!pl_sector_valid(sector)) {
        s_say(err, err_size, "consent: unknown sector '%s'",
              sector ? sector : "");
        return PL_CONSENT_INVALID;
    }
    if (!pl_slug_valid(purpose)) {
        s_say(err, err_size, "consent: invalid purpose '%s'",
              purpose ? purpose : "");
        return PL_CONSENT_INVALID;
    }
    if (!rec) {
        s_say(err, err_size,
              "consent: no consent record covers sector '%s' (the case has "
              "no consent record)",
              sector);
        return PL_CONSENT_NONE;
    }
    size_t ns = rec->nsectors < PL_CONSENT_SECTORS_MAX ? rec->nsectors
                                                       : PL_CONSENT_SECTORS_MAX;
    size_t np = rec->npurposes < PL_CONSENT_PURPOSES_MAX
                    ? rec->npurposes
                    : PL_CONSENT_PURPOSES_MAX;
    if (!s_has(rec->sectors, ns, sector)) {
        s_say(err, err_size, "consent: no consent record covers sector '%s'",
              sector);
        return PL_CONSENT_SECTOR;
    }
    if (!s_has(rec->purposes, np, purpose)) {
        s_say(err, err_size,
              "consent: the consent for sector '%s' does not cover purpose "
              "'%s'",
              sector, purpose);
        return PL_CONSENT_PURPOSE;
    }
    // categories 0: consent to a sector is consent to the minimum data the
    // sector table sends it, and nothing more
    uint32_t covered =
        rec->categories ? rec->categories : pl_sector_data_categories(sector);
    uint32_t missing = categories & ~covered;
    if (missing) {
        char names[64];
        pl_sector_data_categories_text(missing, names, sizeof names);
        s_say(err, err_size,
              "consent: the consent for sector '%s' does not cover the data "
              "categories '%s'",
              sector, names[0] ? names : "?");
        return PL_CONSENT_CATEGORIES;
    }
    char when[24];
    if (rec->withdrawn_at) {
        pl_time_fmt(when, rec->withdrawn_at);
        s_say(err, err_size,
              "consent: the consent covering sector '%s' was withdrawn at %s",
              sector, when);
        return PL_CONSENT_WITHDRAWN;
    }
    if (now >= rec->expires_at) {
        pl_time_fmt(when, rec->expires_at);
        s_say(err, err_size,
              "consent: the consent covering sector '%s' expired at %s", sector,
              when);
        return PL_CONSENT_EXPIRED;
    }
    return PL_CONSENT_OK;
}

// ---- age

// Calendar date of 't' (UTC).
static void
s_ymd(uint64_t t, int *y, int *m, int *d)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
}

int
pl_consent_age(const char *birth, uint64_t now, int *years)
{
    uint64_t b;
    if (pl_date_parse(birth, &b) != PL_OK || b > now)
        return PL_EINVAL;
    int by, bm, bd, ny, nm, nd;
    s_ymd(b, &by, &bm, &bd);
    s_ymd(now, &ny, &nm, &nd);
    // a year is completed on the day whose (month, day) reaches the
    // birthday's; for 29 February in a common year that day is 1 March
    int age = ny - by;
    if (nm < bm || (nm == bm && nd < bd))
        age--;
    *years = age;
    return PL_OK;
}

int
pl_consent_is_child(const char *birth, uint64_t now, bool *child)
{
    int years;
    int rc = pl_consent_age(birth, now, &years);
    if (rc != PL_OK)
        return rc;
    *child = years < 18;
    return PL_OK;
}

// ---- children

// Step 3 for a person whose childhood is known.
static pl_consent_reason_t
s_check_person(const pl_consent_t *rec, const pl_consent_person_t *person,
               bool child, uint64_t now, char *err, size_t err_size)
{
    if (!child) {
        if (rec && rec->given_by == PL_GIVEN_BY_GUARDIAN) {
            s_say(err, err_size,
                  "consent: given by a guardian, but the person is now an "
                  "adult (18 or over): the returnee must give consent "
                  "(--given-by returnee)");
            return PL_CONSENT_ADULT_GUARDIAN;
        }
        return PL_CONSENT_OK;
    }
    if (person->uasc != PL_UASC_NONE) {
        if (s_blank(person->bia_ref) || person->bia_date == 0
            || person->bia_date > now) {
            s_say(err, err_size,
                  "consent: a %s child needs a best-interests assessment "
                  "reference and date before any referral (case bia --case C "
                  "--ref REF --date YYYY-MM-DD)",
                  pl_uasc_name(person->uasc));
            return PL_CONSENT_BIA;
        }
        if (!rec) {
            s_say(err, err_size,
                  "consent: no consent record (the case has none)");
            return PL_CONSENT_NONE;
        }
        return PL_CONSENT_OK;
    }
    if (!rec) {
        s_say(err, err_size,
              "consent: the person is a child (under 18) and no guardian's "
              "consent is recorded");
        return PL_CONSENT_NONE;
    }
    if (rec->given_by != PL_GIVEN_BY_GUARDIAN) {
        s_say(err, err_size,
              "consent: the person is a child (under 18): consent must be "
              "given by a guardian (--given-by guardian --guardian-name N "
              "--child-views T)");
        return PL_CONSENT_CHILD_GIVER;
    }
    if (s_blank(rec->guardian_name)) {
        s_say(err, err_size,
              "consent: the guardian's consent names no guardian "
              "(--guardian-name)");
        return PL_CONSENT_GUARDIAN_NAME;
    }
    if (s_blank(rec->child_views)) {
        s_say(err, err_size,
              "consent: a guardian's consent for a child must record the "
              "child's views (--child-views)");
        return PL_CONSENT_CHILD_VIEWS;
    }
    return PL_CONSENT_OK;
}

pl_consent_reason_t
pl_consent_check_child(const pl_consent_t *rec,
                       const pl_consent_person_t *person, uint64_t now,
                       char *err, size_t err_size)
{
    assert(person);
    bool child;
    if (pl_consent_is_child(person->birth, now, &child) != PL_OK) {
        s_say(err, err_size,
              "consent: birth date '%s' is not a real date in the past",
              person->birth ? person->birth : "");
        return PL_CONSENT_INVALID;
    }
    return s_check_person(rec, person, child, now, err, err_size);
}

// ---- the gate

pl_consent_reason_t
pl_consent_gate(const pl_consent_request_t *req, pl_consent_verdict_t *v)
{
    assert(req && v && req->person);
    assert(req->records || req->nrecords == 0);
    memset(v, 0, sizeof *v);
    char *text = v->text;
    size_t tsize = sizeof v->text;

    // 1. an override asked for must be complete, whatever else holds
    const pl_consent_override_t *ov = req->override;
    bool want_override = ov && (ov->justification || ov->approved_by);
    if (want_override && s_blank(ov->justification)) {
        s_say(text, tsize,
              "consent: an override needs a recorded best-interests or "
              "vital-interest justification (--override-justification)");
        return v->reason = PL_CONSENT_OVERRIDE_JUSTIFICATION;
    }
    if (want_override && s_blank(ov->approved_by)) {
        s_say(text, tsize,
              "consent: an override needs the name of the approving "
              "supervisor (--approved-by)");
        return v->reason = PL_CONSENT_OVERRIDE_APPROVER;
    }
    if (pl_consent_is_child(req->person->birth, req->now, &v->child) != PL_OK) {
        s_say(text, tsize,
              "consent: birth date '%s' is not a real date in the past",
              req->person->birth ? req->person->birth : "");
        return v->reason = PL_CONSENT_INVALID;
    }

    // 2-3. the first record passing everything; else the closest failure
    pl_consent_reason_t best = PL_CONSENT_NONE;
    char line[PL_CONSENT_TEXT_MAX];
    pl_consent_reason_t r =
        pl_consent_covers(NULL, req->sector, req->purpose, req->categories,
                          req->now, text, tsize);
    if (r == PL_CONSENT_INVALID)
        return v->reason = r; // bad sector or purpose: nothing to override
    for (size_t i = 0; i < req->nrecords; i++) {
        const pl_consent_t *rec = &req->records[i];
        r = pl_consent_covers(rec, req->sector, req->purpose, req->categories,
                              req->now, line, sizeof line);
        if (r == PL_CONSENT_OK)
            r = s_check_person(rec, req->person, v->child, req->now, line,
                               sizeof line);
        if (r == PL_CONSENT_OK) {
            v->record = rec;
            return v->reason = PL_CONSENT_OK;
        }
        if (r > best) {
            best = r;
            memcpy(text, line, tsize);
        }
    }

    // 4. a complete override lets it go, flagged for the audit
    if (want_override) {
        v->override = true;
        v->overridden = best;
        return v->reason = PL_CONSENT_OK;
    }
    return v->reason = best;
}
