// pl_records - the JSON documents inside the node's sealed records (issue
// 12): their fields, and the codec of the consent record. Layer: nodes,
// domain (no daemon state). Each document is sealed with pl_sealed.h.
// Times are Unix seconds (integers); ids in documents are lower-case hex.
//
// Case record (db "cases", key: case id, sealed under the case's key):
//   given, family, birth, sex, phone, language   the person (strings,
//                 birth YYYY-MM-DD; only given/family/birth required)
//   uasc          "unaccompanied" | "separated" (absent: neither)
//   needs, flags  arrays of codes
//   created, by   when and by whom (staff name, optional)
//   closed, close_reason, closed_by   once closed
//   bia           {ref, date, recorded, by}: best-interests assessment
//   withdrawals   [{id, at, by, holders: {address: {status, confirmed,
//                 erased}}}]: consent withdrawals sent and their answers
//
// Consent record (db "consents", key: consent id, header names the case,
// sealed under the case's key): see pl_consent_rec_encode below.
//
// Referral record (db "referrals", key 'r' || referral id; the sender's
// under the case key, the recipient's under the referral's own key):
//   dir           "out" (this node referred) | "in" (this node received)
//   peer          the other node's address
//   case          (out) the case id
//   pseudonym     the referral-scoped pseudonym "P-..." (no name)
//   sector, service, purpose, priority, due   as sent (due 0: none)
//   note          free text (in: only when accepted)
//   created, last_change   times
//   referred_by   staff name of the sender (optional)
//   legal_basis   "consent" | "override"
//   consent       {id (out only), given_by, expires, guardian_name (in),
//                 child_views (in)}
//   override      {justification, approved_by, overrode (out only)}
//   person        the person fields sent / received: only the sector
//                 table's (pl_sector_data.h); {} when refused
//   child, uasc   a minor; unaccompanied or separated
//   needs         (in) codes
//   cp_notified   (out) the child-protection node notified
//   msg           the referral envelope's id
//   refused       (in) why the recipient refused it
//   track, history, pending, overdue_logged   the lifecycle (pl_referral.h
//                 track; [{status, at, by, reason, note, outcome, ...}];
//                 updates that arrived early; the overdue line written)
#ifndef PL_RECORDS_H
#define PL_RECORDS_H

#include <jansson.h>
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

#endif
