// pl_casework - the agency's casework on a case (issue 17): assessments,
// the reintegration plan (versions), the follow-up schedule and records,
// RSS administrations, the reason an endline is missing, and the case's
// timeline. Layer: nodes, handlers. Rooms: pl_casework.c (the record,
// timeline, follow-up list and sweep, closure rules, report figures),
// pl_casework_cmd.c (the commands that add to it); scoring is pl_rss.c,
// the schedule pl_followup.c (both pure).
//
// Store: one document per case in db "cases", key 'k' || case id (17
// bytes: `case list` reads 16-byte keys only), sealed under the CASE's
// data key (pl_sealed.h), so erasing the case's key shreds it too:
//   {"assessments": [{id, type, date, recorded, by, outcome, level, flags,
//                     notes, family_tracing, safeguarding_reason,
//                     protection_referral, revises}],
//    "plans": [{version, created, by, goals {economic, social,
//               psychosocial}, own_goals, items [{dimension, kind
//               (referral|direct), referral, assistance (cash|in_kind),
//               amount (minor units), currency, description, status}],
//               child_participation, bia_revisited}],
//    "return_date": t, "months": [1, 3, ...], "schedule_done": t,
//    "followups": [{id, months, scheduled_for, done_at, by, mode,
//                   contact_made, plan_item_progress, services_received,
//                   referral_ids, satisfaction, new_needs,
//                   safeguarding_concern, safeguarding_reason,
//                   protection_referral, notes}],
//    "rss": [{id, timepoint, administered_at, months_since_return,
//             respondent, mode, by, instrument_version, weights_version,
//             placeholder_weights, responses, economic, social,
//             psychosocial, composite, items_missing, valid, lowest,
//             suggested_sector}],
//    "endline_skipped": {reason, by, at},
//    "overdue_logged": [months of entries already logged overdue]}
// Programme settings (db "settings", not personal, in clear):
//   "rss_weights"      the loaded weights table (JSON text)
//   "followup_months"  the default schedule ("1,3,6,9,12,18")
#ifndef PL_CASEWORK_H
#define PL_CASEWORK_H

#include <jansson.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_followup.h"
#include "nodes/pl_rss.h"

// The rows of the casework commands (s_tables of pl_node_ctl.c).
extern const pl_ctl_cmd_t pl_casework_cmds[];

// ---- the record (pl_casework.c)

// One case's casework: the case (open, with its key) and the document.
typedef struct {
    pl_case_t cs;
    uint8_t id[PL_CASE_ID];
    char hex[2 * PL_CASE_ID + 1];
    json_t *doc; // owned; {} when the case has none yet
    bool found;  // the document was in the store
} pl_cw_t;

#define PL_CW_INIT                                                             \
    {                                                                          \
        .cs = PL_CASE_INIT, .id = {0}, .hex = {0}, .doc = NULL, .found = false \
    }

// Opens case 'text' and its casework into 'w'; on failure the reply.
char *pl_cw_open(pl_txn_t *txn, const char *text, pl_cw_t *w, int *rc);
// Opens case 'id' and its casework (PL_ENOTFOUND: no such case).
PL_MUST_CHECK int pl_cw_load(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                             pl_cw_t *w);
// Seals w->doc under the case key.
PL_MUST_CHECK int pl_cw_save(pl_txn_t *txn, pl_cw_t *w);
// Wipes the key and frees all. NULL-safe, idempotent.
void pl_cw_release(pl_cw_t *w);
// The array 'key' of the document, created when absent (borrowed).
json_t *pl_cw_array(json_t *doc, const char *key);
// The weights in force: the loaded table, else the shipped placeholder.
PL_MUST_CHECK int pl_cw_weights(pl_txn_t *txn, pl_rss_weights_t *w);
// The default schedule of the programme into months[] (*n entries).
PL_MUST_CHECK int pl_cw_months(pl_txn_t *txn, unsigned months[PL_FU_MAX],
                               size_t *n);
// The schedule of a document, with the records that answer each entry.
size_t pl_cw_schedule(const json_t *doc, pl_fu_entry_t *out);
// The safeguarding items of a case: [{source, id, at, flags, open}];
// open while neither a protection referral (child-protection or gbv,
// made by this case at or after the flag) nor a reason is recorded.
json_t *pl_cw_safeguarding(pl_txn_t *txn, const pl_cw_t *w);
// The case is a child (uasc, or under 18 by birth date).
bool pl_cw_child(const pl_case_rec_t *rec, uint64_t now);

// The lowest dimension ("economic", "social", "psychosocial") of case
// 'id''s latest survey that has one, into 'out' (size n; "" when none):
// what service matching (issue 18) weighs when not told otherwise.
PL_MUST_CHECK int pl_casework_lowest(pl_txn_t *txn,
                                     const uint8_t id[PL_CASE_ID], char *out,
                                     size_t n);

// ---- a handover (pl_handover_cmd.c; DESIGN.md §7.2)

// What a handover of case 'id' carries of its casework: {"assessments":
// [...], "plan": its latest version}, without the host's staff names and
// the host's own referral ids (an assessment's protection_referral); the
// follow-ups, surveys and schedule stay at the host. NULL with *rc PL_OK
// when the case has no assessment and no plan; NULL with *rc set on
// failure. (pl_casework_cmd.c)
json_t *pl_casework_handover_out(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                                 int *rc);
// Receiving side, on acceptance: the casework 'cw' a handover from 'peer'
// (handover 'hid', hex) carried becomes new case 'id''s: each assessment
// that passes the checks of `assess add` and the plan (as version 1, its
// referral items' ids kept as "sending_referral"), each marked
// "received": {from, handover}. What fails the checks is left out
// (*dropped counts it). PL_OK with nothing done when 'cw' is not an object.
PL_MUST_CHECK int pl_casework_handover_in(pl_txn_t *txn,
                                          const uint8_t id[PL_CASE_ID],
                                          const json_t *cw, const char *peer,
                                          const char *hid, size_t *dropped);

// ---- the closure rules, called by case.close (pl_case.c)

// Whether 'reason' (may be NULL) is one of the handbook's closure reasons.
bool pl_casework_reason_known(const char *reason);
// NULL when case 'id' may close with 'reason'; else the reply (*rc its
// code): a case with casework needs a handbook closure reason and an
// endline survey or a recorded reason for its absence.
char *pl_casework_close_check(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                              const char *reason, int *rc);
// Sets the schedule of case 'id' done at 'at' (nothing without casework).
PL_MUST_CHECK int pl_casework_close_done(pl_txn_t *txn,
                                         const uint8_t id[PL_CASE_ID],
                                         uint64_t at);

// ---- the overdue follow-ups (the daemon's sweep, pl_node_case.c)

// Logs each newly overdue follow-up once (`followup_overdue case=...
// months=N since=...`) and remembers it in the record. Own transaction.
void pl_casework_overdue_sweep(pl_node_ctx_t *ctx);

// ---- for the aggregate report (#13; the lead wires it in)

// Fills 'out' with the "rss" object of the report: for "baseline" and
// "endline", for "composite", "economic", "social", "psychosocial", the
// counts of scores in the per-mille bins "0-199", "200-399", "400-599",
// "600-799", "800-1000" (each case's latest survey of that timepoint;
// invalid scores not counted), and "n" the cases counted. No identifiers.
PL_MUST_CHECK int pl_rss_report_figures(pl_txn_t *txn, json_t *out);

// ---- pl_casework.c: the read commands
char *pl_cw_timeline(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                     const char *as, int *rc_out);
char *pl_cw_followup_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                          const char *as, int *rc_out);

#endif
