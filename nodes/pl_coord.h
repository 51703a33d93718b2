// pl_coord - the coordination room (issue 15, DESIGN.md §8): the control
// rows `report.show`, `report.send`, `report.request` and `coordination`,
// the inbound
// aggregate-report body, and the daily send (--report-hours). Layer:
// nodes, handlers.
//
// Sending: every node sends, to each `coordination` node of its own
// network in the directory, the report (pl_report.h) of the current month
// and of the month before (so that last month's late status changes get
// there), as one aggregate-report envelope each (S_KIND_REPORT, signed and
// receipted like any other). "report.last" in the settings database is the
// time of the last send. A coordination node asks for them at once with
// `report.request` (an aggregate-report with "request" set, to every other
// node of its network); a node answers a request from a coordination node
// of its own network only.
//
// Keeping (at a node of sector `coordination` only): a report that passes
// pl_report_check and whose "node" is the envelope's sender is kept in the
// "reports" database, key NODE || 0 || PERIOD, value sealed under a fresh
// data key (pl_sealed.h) as {"report": R, "received": T, "region": REGION,
// "sector": SECTOR}; a report older (as_of) than the one kept is ignored:
// the latest per (node, period) is kept. Any other report is refused (a
// warning in the log, an audit line, nothing kept).
//
// `coordination` returns the figures of every kept report, each one passed
// through pl_suppress_table (the only figures that leave the daemon).
#ifndef PL_COORD_H
#define PL_COORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_node_ctx.h"
#include "nodes/pl_node_int.h"

#define PL_COORD_REPORT_HOURS 24 // --report-hours default

// The control rows (a NULL name ends them), in s_tables of pl_node_ctl.c.
extern const pl_ctl_cmd_t pl_coord_cmds[];

// The suppressed figures of every report kept in 'txn' as of 'now' (the
// reply of `coordination`). New reference in *out; store errors.
PL_MUST_CHECK int pl_coord_figures(pl_txn_t *txn, uint64_t now, json_t **out);

// Sends this node's reports now (own transaction) when --report-hours
// have passed since the last send. 'hours' 0: never.
void pl_coord_tick(pl_node_ctx_t *ctx, unsigned hours);

// The same on the daemon (pl_inbound.c's kinds table, pl_node.c's timer).
PL_MUST_CHECK int pl_node_coord_on_msg(pl_node_t *self, pl_txn_t *txn,
                                       const pl_header_t *h,
                                       const pl_cert_t *cert,
                                       const uint8_t digest[PL_DIGEST_BYTES],
                                       const pl_message_t *m, bool *refused);
void pl_node_coord_tick(pl_node_t *self);

#endif
