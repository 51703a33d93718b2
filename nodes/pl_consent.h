// pl_consent - consent records and the consent gate of a referral
// (DESIGN.md §6, issues 7 and 8). Layer: nodes. Pure logic: no I/O, no
// clock (every time is a parameter), no allocation.
//
// The gate, in the order it is applied by pl_consent_gate():
//   1. an override, when asked for, needs BOTH a non-blank justification
//      and a non-blank approver, or the referral is refused (even when a
//      consent would have covered it);
//   2. some record of the case must cover the recipient's sector, the
//      purpose and the data categories sent, and be neither withdrawn nor
//      expired;
//   3. the person's age at 'now' decides who may have given it:
//      adult (18 or over): the returnee (a guardian's consent given while
//          the person was a child no longer counts; ask the person);
//      child (under 18), not unaccompanied/separated: a guardian, with the
//          guardian's name and the child's views recorded;
//      unaccompanied or separated child: a best-interests assessment
//          (reference and date) is required, and a record covering the
//          sector (given by the child or a guardian; no parent may be
//          there to give it);
//   4. when 2 or 3 fails and a complete override was given, the referral is
//      allowed with verdict.override set: the caller must audit it.
// Every refusal comes with one line that names consent, printed as is by
// the CLI, e.g. "consent: no consent record covers sector 'housing'".
//
// The recipient re-checks with the ConsentRef it receives: fill a
// pl_consent_t from it (categories 0, created_at 0, withdrawn_at 0) and call
// pl_consent_covers() with its own sector.
#ifndef PL_CONSENT_H
#define PL_CONSENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

#define PL_CONSENT_ID_LEN       16   // consent and case ids: random bytes
#define PL_CONSENT_SECTORS_MAX  16   // sectors one record may list
#define PL_CONSENT_PURPOSES_MAX 8    // purposes one record may list
#define PL_CONSENT_CODE_MAX     63   // a sector or purpose code
#define PL_CONSENT_NAME_MAX     127  // a guardian's name
#define PL_CONSENT_VIEWS_MAX    1023 // the child's views, as recorded
#define PL_CONSENT_TEXT_MAX     320  // room for any message of this module

typedef enum {
    PL_GIVEN_BY_RETURNEE = 0, // "returnee": the person themself
    PL_GIVEN_BY_GUARDIAN = 1, // "guardian": parent or legal guardian
} pl_consent_giver_t;

typedef enum {
    PL_UASC_NONE = 0,          // accompanied, or an adult
    PL_UASC_UNACCOMPANIED = 1, // "unaccompanied"
    PL_UASC_SEPARATED = 2,     // "separated"
} pl_uasc_t;

// A consent record. Holds personal data (guardian's name, child's views):
// store it encrypted like any case data.
typedef struct {
    uint8_t id[PL_CONSENT_ID_LEN];      // consent record id
    uint8_t case_id[PL_CONSENT_ID_LEN]; // the case it belongs to
    size_t nsectors;                    // sectors covered
    char sectors[PL_CONSENT_SECTORS_MAX][PL_CONSENT_CODE_MAX + 1];
    size_t npurposes; // purposes covered (e.g. "services")
    char purposes[PL_CONSENT_PURPOSES_MAX][PL_CONSENT_CODE_MAX + 1];
    uint32_t categories; // PL_DATA_* covered; 0 = for each listed sector,
                         // the categories the sector table sends it
    pl_consent_giver_t given_by;                 // who gave it
    char guardian_name[PL_CONSENT_NAME_MAX + 1]; // when a guardian did
    char child_views[PL_CONSENT_VIEWS_MAX + 1];  // the child's views
    uint64_t created_at;                         // when recorded
    uint64_t expires_at;   // expired from this instant on; 0 counts as
                           // expired (fail closed)
    uint64_t withdrawn_at; // 0, or when withdrawn (from then on, never
                           // again valid)
} pl_consent_t;

// Why the gate refused (or PL_CONSENT_OK). Ordered from "furthest from
// covering" to "closest", which is how pl_consent_gate() picks the reason
// to report when several records fail.
typedef enum {
    PL_CONSENT_OK = 0,
    PL_CONSENT_INVALID,        // bad input: unknown sector, bad birth date
    PL_CONSENT_NONE,           // the case has no consent record
    PL_CONSENT_SECTOR,         // no record covers the recipient's sector
    PL_CONSENT_PURPOSE,        // ... the purpose
    PL_CONSENT_CATEGORIES,     // ... the data categories sent
    PL_CONSENT_WITHDRAWN,      // the covering record was withdrawn
    PL_CONSENT_EXPIRED,        // the covering record expired
    PL_CONSENT_ADULT_GUARDIAN, // an adult, but a guardian gave it
    PL_CONSENT_CHILD_GIVER,    // a child, but not a guardian's consent
    PL_CONSENT_GUARDIAN_NAME,  // a guardian's consent names no guardian
    PL_CONSENT_CHILD_VIEWS,    // a guardian's consent without child views
    PL_CONSENT_BIA,            // unaccompanied/separated child, no BIA
    PL_CONSENT_OVERRIDE_JUSTIFICATION, // override without justification
    PL_CONSENT_OVERRIDE_APPROVER,      // override without approver
} pl_consent_reason_t;

// Code of a reason ("ok", "no-consent", "expired", ...): static text.
const char *pl_consent_reason_name(pl_consent_reason_t reason);
// The PL_E* code: PL_OK, PL_EEXPIRED (expired), PL_EINVAL (invalid input,
// an incomplete override), PL_EPERM (everything else).
int pl_consent_reason_err(pl_consent_reason_t reason);

// "returnee" / "guardian"; "unaccompanied" / "separated" ("" for none).
const char *pl_consent_giver_name(pl_consent_giver_t giver);
PL_MUST_CHECK int pl_consent_giver_parse(const char *text,
                                         pl_consent_giver_t *out);
const char *pl_uasc_name(pl_uasc_t uasc);
// "unaccompanied" or "separated"; PL_EINVAL otherwise.
PL_MUST_CHECK int pl_uasc_parse(const char *text, pl_uasc_t *out);

// ---- building a record (consent add)

// Sets rec->sectors from "health,housing" (duplicates dropped). PL_EINVAL
// (with 'err') for an unknown sector, "broker", an empty item or too many.
PL_MUST_CHECK int pl_consent_set_sectors(pl_consent_t *rec, const char *list,
                                         char *err, size_t err_size);
// Sets rec->purposes from "services[,tracing...]" (slugs).
PL_MUST_CHECK int pl_consent_set_purposes(pl_consent_t *rec, const char *list,
                                          char *err, size_t err_size);
// `--expires YYYY-MM-DD`: valid through that whole (UTC) day, so the
// expiry instant is the following midnight. PL_EINVAL when not a date.
PL_MUST_CHECK int pl_consent_expiry_parse(const char *text,
                                          uint64_t *expires_at);
// Checks a record before it is stored: at least one sector and purpose,
// expires_at after 'now', a guardian's name when a guardian gave it.
// PL_EINVAL with a line naming consent in 'err'.
PL_MUST_CHECK int pl_consent_validate(const pl_consent_t *rec, uint64_t now,
                                      char *err, size_t err_size);

// ---- checks

// Does 'rec' (NULL: none) cover a referral to 'sector' for 'purpose'
// carrying 'categories' (PL_DATA_*, usually pl_sector_data_categories())
// at 'now'? Checked in this order: sector, purpose, categories, withdrawn,
// expired. On refusal 'err' (may be NULL) gets one line naming consent.
pl_consent_reason_t pl_consent_covers(const pl_consent_t *rec,
                                      const char *sector, const char *purpose,
                                      uint32_t categories, uint64_t now,
                                      char *err, size_t err_size);

// Completed years of age at 'now' for a birth date "YYYY-MM-DD" (UTC
// calendar). Someone born on 29 February turns a year older on 1 March in
// a common year (still 17 on 28 February: the cautious reading). PL_EINVAL
// for a date that is not real or lies after 'now'.
PL_MUST_CHECK int pl_consent_age(const char *birth, uint64_t now, int *years);
// Under 18 at 'now'.
PL_MUST_CHECK int pl_consent_is_child(const char *birth, uint64_t now,
                                      bool *child);

// The person a referral is about, as far as consent is concerned.
typedef struct {
    const char *birth;   // "YYYY-MM-DD", required
    pl_uasc_t uasc;      // unaccompanied / separated, or none
    const char *bia_ref; // best-interests assessment reference, or NULL
    uint64_t bia_date;   // its date (0: none); must not lie after 'now'
} pl_consent_person_t;

// Step 3 of the gate for one covering record 'rec' (NULL: none): who gave
// it, against the person's age, and the BIA for an unaccompanied or
// separated child. On refusal 'err' (may be NULL) gets one line.
pl_consent_reason_t pl_consent_check_child(const pl_consent_t *rec,
                                           const pl_consent_person_t *person,
                                           uint64_t now, char *err,
                                           size_t err_size);

// ---- the gate

// An override asked for (`--override-justification T --approved-by NAME`).
typedef struct {
    const char *justification; // best-interests or vital-interest reason
    const char *approved_by;   // approving supervisor
} pl_consent_override_t;

typedef struct {
    const pl_consent_t *records;       // the case's consent records (borrowed)
    size_t nrecords;                   // how many
    const char *sector;                // the recipient's sector
    const char *purpose;               // the referral's purpose ("services")
    uint32_t categories;               // PL_DATA_* sent: the sector table's
    const pl_consent_person_t *person; // required
    const pl_consent_override_t *override; // NULL: none asked for
    uint64_t now;                          // the clock (pl_now() in the daemon)
} pl_consent_request_t;

typedef struct {
    pl_consent_reason_t reason;     // OK when the referral may go
    const pl_consent_t *record;     // the covering record (points into
                                    // request.records), or NULL
    bool override;                  // allowed only by the override: audit it
    pl_consent_reason_t overridden; // with override: what it overrode
    bool child;                     // the person is under 18 at 'now'
    char text[PL_CONSENT_TEXT_MAX]; // refusal line; with an override, the
                                    // line of what it overrode
} pl_consent_verdict_t;

// Steps 1-4 above over every record; the first record passing all checks
// wins. When none does, the reason of the record that came closest is
// reported (see pl_consent_reason_t). Returns verdict->reason.
pl_consent_reason_t pl_consent_gate(const pl_consent_request_t *req,
                                    pl_consent_verdict_t *verdict);

#endif
