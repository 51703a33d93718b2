// pl_case_undelivered - a referral whose envelope will never be delivered
// (the broker's `expired`, with the recipient node's refusal code when
// that node refused it for good): the referral records the delivery
// problem (`delivery`, `delivery_reason`, shown by `referrals` and
// `show`), gets a history line and an audit entry, so that its sender's
// loop closes instead of waiting. Layer: nodes, handlers.
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "proto/pl_wire.h"

// "refused-by-recipient", "refused-by-broker" or "expired"; the code's
// name ("expired" too).
static void
s_names(int reason, const char **delivery, const char **code)
{
    bool broker = reason >= 0 && (reason & PL_CASE_BY_BROKER);
    *delivery = reason < 0 ? "expired"
                : broker   ? "refused-by-broker"
                           : "refused-by-recipient";
    *code = reason >= 0 ? pl_wire_reason_name(
                (Passerelle__V1__RejectReason) (reason & ~PL_CASE_BY_BROKER))
                        : "expired";
}

// Replaces the string *dst by a copy of 'src'.
static int
s_set(char **dst, const char *src)
{
    char *c = strdup(src);
    if (!c)
        return PL_ENOMEM;
    free(*dst);
    *dst = c;
    return PL_OK;
}

int
pl_case_on_undelivered(pl_node_ctx_t *ctx, pl_txn_t *txn,
                       const uint8_t msg_id[PL_MSG_ID_BYTES], const char *to,
                       int reason)
{
    uint8_t rid[PL_CASE_ID];
    int rc = pl_case_ref_of_msg(txn, msg_id, rid);
    if (rc != PL_OK)
        return rc == PL_ENOTFOUND ? PL_OK : rc; // not a referral of ours
    pl_ref_t rs = PL_REF_INIT;
    rc = pl_case_refrec_open(txn, rid, &rs);
    if (rc != PL_OK) {
        pl_case_refrec_release(&rs);
        return rc == PL_ENOMEM || rc == PL_EIO ? rc : PL_OK;
    }
    const char *delivery, *code;
    s_names(reason, &delivery, &code);
    if (rs.rec.delivery && strcmp(rs.rec.delivery, delivery) == 0) {
        pl_case_refrec_release(&rs);
        return PL_OK; // told twice: nothing new
    }
    rc = s_set(&rs.rec.delivery, delivery);
    if (rc == PL_OK)
        rc = s_set(&rs.rec.delivery_reason, code);
    if (rc == PL_OK)
        rc = pl_case_history(&rs.rec, "undelivered", pl_now(), PL_CASE_SYSTEM,
                             delivery, NULL, NULL, code);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, to, msg_id, NULL, "referral",
                           PL_CASE_SYSTEM, rid, delivery, code, NULL);
    if (rc == PL_OK)
        rc = pl_case_refrec_save(txn, rid, &rs);
    pl_case_refrec_release(&rs);
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, rid, PL_CASE_ID);
    if (rc == PL_OK)
        pl_log_warn(ctx->log,
                    "referral_undelivered id=%s to=%s delivery=%s reason=%s",
                    hex, to, delivery, code);
    return rc;
}
