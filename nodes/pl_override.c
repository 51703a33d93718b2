// pl_override - four-eyes overrides (see pl_override.h). Layer: nodes,
// handlers.
//
// A record: key = 16 random bytes, value = pl_sealed (version || data key
// id || seal(JSON)) of {args, requested_by, requested_at}; the args are
// the refer args as requested, kept sealed until the approval hands them
// to pl_case_refer.
#include "nodes/pl_override.h"

#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_ctl_reply.h"
#include "nodes/pl_roles.h"

// The refer arguments a request may carry (approved_by never).
static const char *const s_keys[] = {
    "case",     "to",  "service", "purpose",
    "priority", "due", "note",    "override_justification",
    NULL};

static const char *
s_by(const char *as)
{
    return as && *as ? as : "owner";
}

// The request 'id' argument: NULL with *reply when bad.
static bool
s_id(json_t *args, uint8_t id[PL_OVERRIDE_ID], char **reply)
{
    const char *hex = pl_case_arg(args, "id");
    if (!hex || strlen(hex) != 2 * PL_OVERRIDE_ID
        || pl_unhex(id, PL_OVERRIDE_ID, hex) != PL_OK) {
        *reply =
            pl_node_ctl_error(PL_EINVAL, "an override id is 32 hex digits");
        return false;
    }
    return true;
}

// Opens pending request 'id' into 's'; NULL, or the reply of a failure.
static char *
s_open(pl_txn_t *txn, const uint8_t id[PL_OVERRIDE_ID], pl_sealed_t *s,
       int *rc_out)
{
    int rc = pl_sealed_open(s, txn, PL_DB_OVERRIDES, id, PL_OVERRIDE_ID, NULL);
    if (rc == PL_OK)
        return NULL;
    *rc_out = rc;
    if (rc == PL_ENOTFOUND)
        return pl_node_ctl_error(rc, "no pending override with this id");
    return pl_node_ctl_error(rc, "cannot read the override: %s",
                             pl_strerror(rc));
}

// Deletes request 'id' and destroys its data key (what it held is gone).
static int
s_drop(pl_txn_t *txn, const uint8_t id[PL_OVERRIDE_ID], const pl_sealed_t *s)
{
    int rc = pl_store_del(txn, PL_DB_OVERRIDES, id, PL_OVERRIDE_ID);
    if (rc == PL_OK)
        rc = pl_store_datakey_destroy(txn, s->hdr + 1);
    return rc;
}

static char *
s_request(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
          int *rc_out)
{
    *rc_out = PL_EINVAL;
    if (json_object_get(args, "approved_by"))
        return pl_node_ctl_error(PL_EINVAL,
                                 "an override request names no approver: "
                                 "the supervisor who approves it is");
    const char *oj = pl_case_arg(args, "override_justification");
    if (!oj)
        return pl_node_ctl_error(PL_EINVAL, "an override request needs "
                                            "override_justification");
    if (strlen(oj) > PL_CASE_TEXT)
        return pl_node_ctl_error(PL_EINVAL, "the justification is too long");
    static const char *const need[] = {"case", "to", "service"};
    for (size_t i = 0; i < 3; i++)
        if (!pl_case_arg(args, need[i]))
            return pl_node_ctl_error(PL_EINVAL, "an override request needs %s",
                                     need[i]);
    json_t *kept = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(args, key, v)
    {
        bool known = false;
        for (size_t i = 0; s_keys[i] && !known; i++)
            known = strcmp(key, s_keys[i]) == 0;
        if (!known) {
            json_decref(kept);
            return pl_node_ctl_error(PL_EINVAL,
                                     "'%s' is not an argument of refer", key);
        }
        if (!json_is_string(v)) {
            json_decref(kept);
            return pl_node_ctl_error(PL_EINVAL, "'%s' must be text", key);
        }
        json_object_set(kept, key, v);
    }
    uint8_t id[PL_OVERRIDE_ID];
    pl_random(id, sizeof id);
    pl_sealed_t s = {.hdr = {PL_SEALED_VER}};
    s.doc = json_pack("{s:o, s:s, s:I}", "args", kept, "requested_by", s_by(as),
                      "requested_at", (json_int_t) pl_now());
    int rc = s.doc ? pl_store_datakey_new(txn, s.hdr + 1, s.dk) : PL_ENOMEM;
    if (rc == PL_OK)
        rc = pl_sealed_save(&s, txn, PL_DB_OVERRIDES, id, PL_OVERRIDE_ID);
    pl_sealed_release(&s);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL,
                           "override", s_by(as), id, "override-request",
                           "pending", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the override: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:o}", "id", pl_node_json_hex(id, PL_OVERRIDE_ID)));
}

typedef struct {
    pl_txn_t *txn; // the request's transaction
    json_t *out;   // the list
} s_walk_t;

static int
s_list_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
           void *arg)
{
    (void) val, (void) vlen;
    s_walk_t *w = arg;
    if (klen != PL_OVERRIDE_ID)
        return PL_STORE_NEXT;
    pl_sealed_t s = PL_SEALED_INIT;
    int rc = pl_sealed_open(&s, w->txn, PL_DB_OVERRIDES, key, klen, NULL);
    if (rc != PL_OK)
        return rc;
    json_t *doc = s.doc;
    json_array_append_new(
        w->out, json_pack("{s:o, s:O, s:o, s:O}", "id",
                          pl_node_json_hex(key, PL_OVERRIDE_ID), "requested_by",
                          json_object_get(doc, "requested_by"), "requested_at",
                          pl_node_json_time(pl_case_u64(doc, "requested_at")),
                          "args", json_object_get(doc, "args")));
    pl_sealed_release(&s);
    return PL_STORE_NEXT;
}

static char *
s_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
       int *rc_out)
{
    (void) ctx, (void) args, (void) as, (void) rc_out;
    s_walk_t w = {txn, json_array()};
    int rc = pl_store_each(txn, PL_DB_OVERRIDES, s_list_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the overrides: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

static char *
s_approve(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
          int *rc_out)
{
    uint8_t id[PL_OVERRIDE_ID];
    char *reply = NULL;
    if (!s_id(args, id, &reply)) {
        *rc_out = PL_EINVAL;
        return reply;
    }
    pl_sealed_t s = PL_SEALED_INIT;
    if ((reply = s_open(txn, id, &s, rc_out)))
        return reply;
    const char *requester =
        json_string_value(json_object_get(s.doc, "requested_by"));
    const char *approver = s_by(as);
    if (!requester || strcmp(requester, approver) == 0) {
        int rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL,
                               "override", approver, id, "override-approve",
                               "refused", "same-account");
        pl_sealed_release(&s);
        *rc_out = rc;
        return rc == PL_OK
                   ? pl_node_ctl_error(PL_EPERM,
                                       "an override must be approved by "
                                       "another account")
                   : pl_node_ctl_error(rc, "cannot audit: %s", pl_strerror(rc));
    }
    // the refer exactly as `refer --override-justification T --approved-by
    // NAME` by the requester: nothing was sealed or sent before this point
    json_t *rargs = json_deep_copy(json_object_get(s.doc, "args"));
    char *req_copy = strdup(requester);
    if (!rargs || !req_copy) {
        json_decref(rargs);
        free(req_copy);
        pl_sealed_release(&s);
        *rc_out = PL_ENOMEM;
        return pl_node_ctl_error(PL_ENOMEM, "out of memory");
    }
    json_object_set_new(rargs, "approved_by", json_string(approver));
    int rrc = PL_OK;
    reply = pl_case_refer(ctx, txn, rargs, req_copy, &rrc);
    json_decref(rargs);
    json_error_t jerr;
    json_t *r = reply ? json_loads(reply, 0, &jerr) : NULL;
    bool sent = json_is_true(json_object_get(r, "ok"));
    json_decref(r);
    int rc = rrc;
    if (rc == PL_OK && sent) {
        rc = s_drop(txn, id, &s);
        if (rc == PL_OK)
            rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL,
                               "override", approver, id, "override-approve",
                               "applied", NULL);
        if (rc != PL_OK) {
            free(reply);
            reply = pl_node_ctl_error(rc, "cannot close the override: %s",
                                      pl_strerror(rc));
        }
    }
    free(req_copy);
    pl_sealed_release(&s);
    *rc_out = rc;
    return reply;
}

static char *
s_reject(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    uint8_t id[PL_OVERRIDE_ID];
    char *reply = NULL;
    if (!s_id(args, id, &reply)) {
        *rc_out = PL_EINVAL;
        return reply;
    }
    const char *reason = pl_case_arg(args, "reason");
    if (reason && !pl_slug_valid(reason)) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "reason is a code (a-z, 0-9, -)");
    }
    pl_sealed_t s = PL_SEALED_INIT;
    if ((reply = s_open(txn, id, &s, rc_out)))
        return reply;
    int rc = s_drop(txn, id, &s);
    pl_sealed_release(&s);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL,
                           "override", s_by(as), id, "override-reject",
                           "applied", reason);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot reject the override: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:o}", "id", pl_node_json_hex(id, PL_OVERRIDE_ID)));
}

#define CM  PL_ROLE_CASE_MANAGER
#define SUP PL_ROLE_SUPERVISOR

const pl_ctl_cmd_t pl_override_cmds[] = {
    {"override.request", PL_CTL_CHANGES | PL_CTL_ROLES(CM | SUP), s_request},
    {"override.list", PL_CTL_ROLES(SUP), s_list},
    {"override.approve", PL_CTL_CHANGES | PL_CTL_ROLES(SUP), s_approve},
    {"override.reject", PL_CTL_CHANGES | PL_CTL_ROLES(SUP), s_reject},
    {NULL, 0, NULL},
};
