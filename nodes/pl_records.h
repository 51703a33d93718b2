// pl_records - the JSON documents inside the node's sealed records (issue
// 12): their fields, and the codec of the consent record. Layer: nodes,
// domain (no daemon state). Each document is sealed with pl_sealed.h.
// Times are Unix seconds (integers); ids in documents are lower-case hex.
//
// Case record (db "cases", key: case id, sealed under the case's key):
// typed as pl_case_rec_t below, read and written only by
// pl_case_rec_decode / pl_case_rec_encode.
//
// Consent record (db "consents", key: consent id, header names the case,
// sealed under the case's key): see pl_consent_rec_encode below.
//
// Referral record (db "referrals", key 'r' || referral id; the sender's
// under the case key, the recipient's under the referral's own key):
// typed as pl_ref_rec_t below (pl_ref_rec_decode / pl_ref_rec_encode).
#ifndef PL_RECORDS_H
#define PL_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "nodes/pl_consent.h"

// The consent record's document, from 'rec' (and 'by', the staff member
// who recorded it, may be NULL):
//   sectors, purposes   arrays of codes
//   given_by            "returnee" | "guardian"
//   guardian_name, child_views   when given
//   created, expires    times
//   by                  staff name (optional)
//   withdrawn           time of the withdrawal (absent: in force)
// New reference, NULL when memory runs out.
json_t *pl_consent_rec_encode(const pl_consent_t *rec, const char *by);
// The record of consent 'id' of case 'case_id' from its document 'j'.
// Missing fields are empty/0; an unknown given_by reads as returnee.
void pl_consent_rec_decode(const json_t *j, const uint8_t id[16],
                           const uint8_t case_id[16], pl_consent_t *rec);

// ---- the case record

// A case record. Every string is owned (malloc'd, wiped when freed), NULL
// when the document does not have it; times are Unix seconds, 0: absent.
typedef struct {
    char *given, *family, *birth; // the person (birth YYYY-MM-DD): required
    char *sex, *phone, *language; // the person: optional
    char *uasc;                   // "unaccompanied" | "separated" | NULL
    json_t *needs, *flags;        // arrays of codes (owned; NULL: absent)
    uint64_t created;             // "created"
    char *by;                     // "by": staff member who added it
    uint64_t closed;              // "closed" (0: open)
    char *close_reason;           // "close_reason": a code
    char *closed_by;              // "closed_by"
    bool has_bia;                 // "bia": a best-interests assessment
    struct {
        char *ref;         // its reference
        uint64_t date;     // the assessment's date
        uint64_t recorded; // when it was recorded
        char *by;          // by whom (optional)
        json_t *extra;     // keys of "bia" this codec does not know
    } bia;
    // "withdrawals": [{id, at, by, holders: {address: {status, confirmed,
    // erased}}}], the consent withdrawals sent and their answers, walked
    // by pl_case_consent.c (owned; NULL: none yet)
    json_t *withdrawals;
    // every other key of the document, and a known key whose value has
    // another type than the one above: kept as found, written back by
    // encode (a record made by another version survives a round trip)
    json_t *extra;
} pl_case_rec_t;

// The document of 'rec': its keys in the order the node writes them,
// then 'extra'. New reference, NULL when memory runs out.
json_t *pl_case_rec_encode(const pl_case_rec_t *rec);
// 'rec' from document 'j' (not changed). PL_EPROTO when 'j' is not an
// object, PL_ENOMEM; on failure 'rec' is left freed.
PL_MUST_CHECK int pl_case_rec_decode(const json_t *j, pl_case_rec_t *rec);
// Wipes and frees what 'rec' owns, and zeroes it. NULL-safe, idempotent.
void pl_case_rec_free(pl_case_rec_t *rec);
// Replaces *field by a copy of 'v' (NULL: absent). PL_ENOMEM.
PL_MUST_CHECK int pl_case_rec_set(char **field, const char *v);

// ---- the referral record

// A referral record. Strings owned (wiped when freed), NULL when absent;
// times Unix seconds (0: absent, but "due" is always written: 0 is none);
// JSON members owned, NULL when absent.
typedef struct {
    char *dir;            // "out" (this node referred) | "in" (it received)
    char *peer;           // the other node's address
    char *case_hex;       // "case": (out) the case id, hex
    char *pseudonym;      // the referral-scoped pseudonym "P-..." (no name)
    char *sector;         // the recipient's sector
    char *service;        // the service code asked for
    char *purpose;        // the purpose code
    char *priority;       // "emergency" | "urgent" | "normal"
    uint64_t due;         // due date (0: none)
    char *note;           // free text (in: only when accepted)
    uint64_t created;     // when it was made / received
    uint64_t last_change; // the last status change
    char *referred_by;    // staff name of the sender (optional)
    char *legal_basis;    // "consent" | "override"
    // {id (out only), given_by, expires (text time), guardian_name (in),
    // child_views (in)}: the consent it was sent under
    json_t *consent;
    json_t *override;  // {justification, approved_by, overrode (out only)}
    json_t *person;    // the person fields sent / received: only the sector
                       // table's (pl_sector_data.h); {} when refused
    bool has_child;    // "child" is present (must come just before it)
    bool child;        // "child": a minor
    char *uasc;        // "unaccompanied" | "separated"
    json_t *needs;     // (in) array of need codes
    char *cp_notified; // (out) the child-protection node notified
    char *msg;         // the referral envelope's id, hex
    char *refused;     // (in) why the recipient refused it
    char *track;       // the lifecycle, packed, hex (pl_referral.h track)
    char *status;      // its state's name (pl_referral.h), kept with track
    // [{status, at (text time), by, reason, note, outcome, result}]
    json_t *history;
    uint64_t updated; // the last history line's time
    // updates that arrived early, by "side:seq": {at, by, reason, note,
    // outcome, msg, digest}
    json_t *pending;
    uint64_t overdue_logged; // the deadline whose overdue line was written
    // (out) "refused-by-recipient" | "expired": its envelope will never be
    // delivered (pl_case_undelivered.c), and the code's name
    char *delivery;
    char *delivery_reason;
    // every other key, and a known key of another type: kept as found
    json_t *extra;
} pl_ref_rec_t;

// The document of 'rec' (known keys in the order above, then 'extra').
// New reference, NULL when memory runs out.
json_t *pl_ref_rec_encode(const pl_ref_rec_t *rec);
// 'rec' from document 'j'. PL_EPROTO (not an object), PL_ENOMEM; on
// failure 'rec' is left freed.
PL_MUST_CHECK int pl_ref_rec_decode(const json_t *j, pl_ref_rec_t *rec);
// Wipes and frees what 'rec' owns, and zeroes it. NULL-safe, idempotent.
void pl_ref_rec_free(pl_ref_rec_t *rec);

#endif
