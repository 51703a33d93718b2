// pl_report - a node's aggregate report (issue 15, DESIGN.md §8): built
// from the store, and checked against its schema. Layer: nodes, domain.
//
// The report of one calendar month (UTC) of one node, schema 1:
//   {"schema": 1, "node": "sn/x", "period": "YYYY-MM", "as_of": T,
//    "referrals": {"out": D, "in": D},
//    "cases": {"opened": N, "closed": N, "closed_by_reason": {CODE: N}},
//    "rss": R}                                     (optional, see below)
// D (the referrals made in the period, one direction):
//   {"total": N, "overdue": N, "status": {STATE: N}, "sector": {SECTOR: N},
//    "dimension": {DIM: N}, "priority": {PRIORITY: N},
//    "median_s": {"received": S, "accepted": S, "completed": S}}
// where STATE is a referral status, SECTOR the peer's contract sector,
// DIM economic|social|psychosocial|protection, PRIORITY
// emergency|urgent|normal, CODE a closure reason of the fixed list below
// (any other code counts as "other"), N a count, S seconds from the
// referral to that step, each median only over >= 5 referrals (else
// absent). Zero counts are left out. R (reserved for the survey scoring,
// issue 15's lead wires it): {"baseline": B, "endline": B}, B =
// {DIM: [5 counts]}, the distribution of sustainability scores in
// per-mille bins 0-199, 200-399, 400-599, 600-799, 800-1000; DIM also
// "composite". No identifier, no free text: every key is a code of a
// fixed list and every value a number.
#ifndef PL_REPORT_H
#define PL_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes/pl_node_ctx.h"

#define PL_REPORT_SCHEMA 1

// The month "YYYY-MM" of time 't' into out (8 bytes at least).
void pl_report_period_of(uint64_t t, char out[8]);
// [*start, *end) of month 'period' ("YYYY-MM"). PL_EINVAL otherwise.
PL_MUST_CHECK int pl_report_period_parse(const char *period, uint64_t *start,
                                         uint64_t *end);
// The period before 'period' (both "YYYY-MM").
void pl_report_period_prev(const char *period, char out[8]);

// The report of 'period' for this node, from the store in 'txn', as of
// 'now'. New reference in *out. PL_EINVAL (bad period), store errors.
PL_MUST_CHECK int pl_report_build(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                  const char *period, uint64_t now,
                                  json_t **out);

// Checks 'doc' against the schema: any key or value outside it is
// refused. PL_OK, or PL_EPROTO with the reason in 'err'.
PL_MUST_CHECK int pl_report_check(const json_t *doc, char *err, size_t n);

// The RSS bins: a per-mille score 0..1000 into its bin 0..4.
unsigned pl_report_rss_bin(unsigned permille);

#endif
