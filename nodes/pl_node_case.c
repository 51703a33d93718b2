// pl_node_case - the door of the case, consent and referral rooms (see
// pl_node_case.h): the table of their control commands, and the adapter
// that builds the handlers' context (pl_node_ctx_t) from the daemon.
// Layer: nodes. The rooms: pl_case.c (cases), pl_case_consent.c (consent,
// withdrawal, erasure, child protection), pl_refer.c (referrals),
// pl_case_test.c (test builds), pl_case_util.c (what they share).
#include "nodes/pl_node_case.h"

#include "nodes/pl_case_int.h"
#include "nodes/pl_casework.h"

// ---- the command rows: registered in s_tables of pl_node_ctl.c, walked
// by pl_node_ctl_find / pl_node_ctl_run (the --as length check, test rows)

const pl_ctl_cmd_t pl_case_cmds[] = {
    {"case.add", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_add},
    {"case.show", PL_CTL_STAFF, pl_case_show},
    {"case.list", PL_CTL_STAFF, pl_case_list},
    {"case.close", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_close},
    {"consent.add", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_consent_add},
    {"consent.withdraw", PL_CTL_CHANGES | PL_CTL_STAFF,
     pl_case_consent_withdraw},
    {"refer", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_refer},
    {"referrals", PL_CTL_STAFF, pl_case_referrals},
    {"referral.show", PL_CTL_STAFF, pl_case_referral_show},
    {"referral.act", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_act},
    {"case.bia", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_bia},
    {"erase", PL_CTL_CHANGES | PL_CTL_STAFF, pl_case_erase},
    {"notifications", PL_CTL_STAFF, pl_case_notifications},
#ifdef PL_TEST_BUILD
    {"test.probe", PL_CTL_TEST | PL_CTL_HOOKS | PL_CTL_STAFF,
     pl_case_test_probe},
#endif
    {NULL, 0, NULL},
};

// ---- the adapter: pl_node_t -> pl_node_ctx_t

static int
s_svc_outbox_add(void *arg, pl_txn_t *txn, const char *to, int kind,
                 const uint8_t *msg, size_t msg_len, uint64_t ttl,
                 uint8_t id[PL_MSG_ID_BYTES])
{
    return pl_node_outbox_add(arg, txn, to, kind, msg, msg_len, ttl, id);
}

static const pl_cert_t *
s_svc_dir_find(void *arg, const char *address, int *why)
{
    return pl_node_dir_find(arg, address, why);
}

static void
s_svc_ask_directory(void *arg, bool force)
{
    pl_node_ask_directory(arg, force);
}

static void
s_svc_state(void *arg, pl_node_state_t *out)
{
    const pl_node_t *self = arg;
    const pl_node_counters_t *c = &self->n;
    *out = (pl_node_state_t){
        .broker_ep = self->broker_ep,
        .broker_address = self->broker.address,
        .online = self->session,
        .skew = self->skew,
        .skewed = self->skewed,
        .usage_pct = self->usage_pct,
        .resend_queue = self->nrs,
        .parked = self->npark,
        .n = {c->in_envelopes, c->in_stored, c->in_duplicates, c->in_refused,
              c->in_deferred, c->receipts_ok, c->sent, c->resent, c->commits,
              c->commit_failures},
    };
}

static int
s_svc_send_now(void *arg, const uint8_t *data, size_t len)
{
    return pl_node_send_now(arg, data, len);
}

static void
s_svc_park(void *arg, uint64_t deadline_ms)
{
    pl_node_t *self = arg;
    self->ctl_parked = true;
    self->ctl_deadline_ms = deadline_ms;
}

static void
s_svc_publish(void *arg, const uint8_t *blob, size_t len, uint64_t version)
{
    pl_node_cat_publish(arg, blob, len, version);
}

static const pl_node_svc_t s_svc = {
    .outbox_add = s_svc_outbox_add,
    .dir_find = s_svc_dir_find,
    .ask_directory = s_svc_ask_directory,
    .state = s_svc_state,
    .send_now = s_svc_send_now,
    .park = s_svc_park,
    .publish = s_svc_publish, // issue 18
};

pl_node_ctx_t
pl_node_ctx(pl_node_t *self)
{
    pl_node_ctx_t ctx = {
        .log = self->log,
        .keys = self->keys,
        .me = &self->me,
        .store = self->store,
        .dir = self->dir,
        .ndir = self->ndir,
        .svc = &s_svc,
        .svc_arg = self,
        .revoked = &self->revoked,
        .home = self->home,
        .box_grace_days = self->box_grace_days,
        .rid = self->ctl_rid,
        .sessions = self->sessions,
        .session = self->ctl_session,
        .handover_keep_days = &self->handover_keep_days,
    };
    return ctx;
}

int
pl_node_case_on_referral(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                         const uint8_t digest[32],
                         const Passerelle__V1__Referral *r)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return pl_case_on_referral(&ctx, txn, h, digest, r);
}

int
pl_node_case_on_status(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                       const uint8_t digest[32],
                       const Passerelle__V1__StatusUpdate *u)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return pl_case_on_status(&ctx, txn, h, digest, u);
}

int
pl_node_case_on_receipt(pl_node_t *self, pl_txn_t *txn,
                        const uint8_t msg_id[16], const char *from,
                        uint64_t received_at)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return pl_case_on_receipt(&ctx, txn, msg_id, from, received_at);
}

int
pl_node_case_on_undelivered(pl_node_t *self, pl_txn_t *txn,
                            const uint8_t msg_id[16], const char *to,
                            int reason)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return pl_case_on_undelivered(&ctx, txn, msg_id, to, reason);
}

int
pl_node_case_on_other(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                      const uint8_t digest[32], const pl_message_t *m)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return pl_case_on_other(&ctx, txn, h, digest, m);
}

void
pl_node_case_overdue_sweep(pl_node_t *self)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    pl_case_overdue_sweep(&ctx);
    pl_casework_overdue_sweep(&ctx); // follow-ups (issue 17)
}
