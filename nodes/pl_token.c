// pl_token - API tokens (see pl_token.h). Layer: nodes, handlers.
#include "nodes/pl_token.h"

#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_ctl_reply.h"
#include "nodes/pl_roles.h"
#include "nodes/pl_staff.h"
#include "proto/pl_crypto.h"

#define S_DIGEST 32 // BLAKE2b-256 of the token: the record's key

// The time of a token's clock: the sessions' (a test can move it) or the
// real one.
static uint64_t
s_now(pl_node_ctx_t *ctx)
{
    return ctx->sessions ? pl_sessions_now(ctx->sessions) : pl_now();
}

// BLAKE2b-256 of token text 'hex' (64 hex digits): PL_OK, or PL_EINVAL.
static int
s_digest(const char *hex, uint8_t digest[S_DIGEST])
{
    uint8_t raw[PL_SESSION_TOKEN_BYTES];
    if (!hex || strlen(hex) != PL_SESSION_TOKEN_HEX
        || pl_unhex(raw, sizeof raw, hex) != PL_OK)
        return PL_EINVAL;
    pl_hash(digest, S_DIGEST, raw, sizeof raw, NULL, 0);
    pl_wipe(raw, sizeof raw);
    return PL_OK;
}

// The record under 'digest' into *doc (new): PL_OK, PL_ENOTFOUND or an
// error.
static int
s_get(pl_txn_t *txn, const uint8_t *digest, json_t **doc)
{
    return pl_staff_doc_get(txn, PL_DB_TOKENS, digest, S_DIGEST, doc);
}

static int
s_put(pl_txn_t *txn, const uint8_t *digest, const json_t *doc)
{
    return pl_staff_doc_put(txn, PL_DB_TOKENS, digest, S_DIGEST, doc);
}

static uint64_t
s_u64(const json_t *doc, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(doc, key));
    return v > 0 ? (uint64_t) v : 0;
}

// ---- walking the records

typedef struct {
    pl_txn_t *txn;
    const char *name;         // the live record sought (NULL: none)
    json_t *list;             // token.list's rows, or NULL
    uint8_t digest[S_DIGEST]; // the record found
    json_t *doc;              // its document (new), or NULL
} s_walk_t;

static json_t *
s_row(const json_t *doc)
{
    uint64_t exp = s_u64(doc, "expires");
    return json_pack("{s:O, s:O, s:o, s:o, s:b}", "name",
                     json_object_get(doc, "name"), "role",
                     json_object_get(doc, "role"), "created",
                     pl_node_json_time(s_u64(doc, "created")), "expires",
                     exp ? pl_node_json_time(exp) : json_null(), "revoked",
                     json_is_true(json_object_get(doc, "revoked")));
}

static int
s_walk_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
           void *arg)
{
    (void) val, (void) vlen;
    s_walk_t *w = arg;
    if (klen != S_DIGEST)
        return PL_STORE_NEXT;
    json_t *doc = NULL;
    int rc = s_get(w->txn, key, &doc);
    if (rc != PL_OK)
        return rc;
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (w->list)
        json_array_append_new(w->list, s_row(doc));
    if (w->name && name && strcmp(name, w->name) == 0
        && !json_is_true(json_object_get(doc, "revoked"))) {
        memcpy(w->digest, key, S_DIGEST);
        w->doc = doc;
        return PL_STORE_STOP;
    }
    json_decref(doc);
    return PL_STORE_NEXT;
}

// ---- token.*

// The arguments of token.add, checked: NULL, or the error reply.
static char *
s_add_args(json_t *args, const char **name, const char **role, json_int_t *days)
{
    *name = pl_case_arg(args, "name");
    *role = pl_case_arg(args, "role");
    json_t *jd = json_object_get(args, "expires_days");
    *days = json_integer_value(jd);
    if (!pl_staff_name_valid(*name) || strlen(*name) > PL_TOKEN_NAME_MAX)
        return pl_node_ctl_error(PL_EINVAL,
                                 "a token name is 1 to %d of a-z 0-9 . _ -",
                                 PL_TOKEN_NAME_MAX);
    if (!pl_role_parse(*role))
        return pl_node_ctl_error(PL_EINVAL,
                                 "role is case-manager, provider, supervisor, "
                                 "coordinator or admin");
    if (jd && !json_is_null(jd)
        && (!json_is_integer(jd) || *days < 1 || *days > PL_TOKEN_DAYS_MAX))
        return pl_node_ctl_error(PL_EINVAL, "expires is 1 to %d days",
                                 PL_TOKEN_DAYS_MAX);
    return NULL;
}

static char *
s_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
      int *rc_out)
{
    const char *name, *role;
    json_int_t days;
    *rc_out = PL_EINVAL;
    char *bad = s_add_args(args, &name, &role, &days);
    if (bad)
        return bad;
    s_walk_t w = {.txn = txn, .name = name};
    int rc = pl_store_each(txn, PL_DB_TOKENS, s_walk_one, &w);
    bool live = w.doc != NULL;
    json_decref(w.doc);
    *rc_out = rc != PL_OK ? rc : live ? PL_EEXIST : PL_OK;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the tokens: %s",
                                 pl_strerror(rc));
    if (live)
        return pl_node_ctl_error(PL_EEXIST,
                                 "a live token named '%s' exists (revoke it "
                                 "first)",
                                 name);
    uint8_t raw[PL_SESSION_TOKEN_BYTES], digest[S_DIGEST];
    char token[PL_SESSION_TOKEN_HEX + 1];
    pl_random(raw, sizeof raw);
    pl_hex(token, raw, sizeof raw);
    pl_hash(digest, S_DIGEST, raw, sizeof raw, NULL, 0);
    pl_wipe(raw, sizeof raw);
    uint64_t now = s_now(ctx);
    uint64_t exp = days > 0 ? now + (uint64_t) days * 86400 : 0;
    json_t *doc = json_pack("{s:s, s:s, s:I, s:I, s:b}", "name", name, "role",
                            role, "created", (json_int_t) now, "expires",
                            (json_int_t) exp, "revoked", 0);
    rc = doc ? s_put(txn, digest, doc) : PL_ENOMEM;
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "staff",
                           as ? as : "owner", NULL, "token-add", "applied",
                           role);
    *rc_out = rc;
    char *reply = NULL;
    if (rc != PL_OK) {
        reply = pl_node_ctl_error(rc, "cannot store the token: %s",
                                  pl_strerror(rc));
    } else {
        json_t *res = s_row(doc);
        json_object_set_new(res, "token", json_string(token));
        reply = pl_node_ctl_ok(res);
    }
    json_decref(doc);
    pl_wipe(token, sizeof token);
    return reply;
}

static char *
s_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
       int *rc_out)
{
    (void) ctx, (void) args, (void) as, (void) rc_out;
    s_walk_t w = {.txn = txn, .list = json_array()};
    int rc = pl_store_each(txn, PL_DB_TOKENS, s_walk_one, &w);
    if (rc != PL_OK) {
        json_decref(w.list);
        return pl_node_ctl_error(rc, "cannot read the tokens: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.list);
}

static char *
s_revoke(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    const char *name = pl_case_arg(args, "name");
    if (!pl_staff_name_valid(name)) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL,
                                 "a token name is 1 to %d of a-z 0-9 . _ -",
                                 PL_TOKEN_NAME_MAX);
    }
    s_walk_t w = {.txn = txn, .name = name};
    int rc = pl_store_each(txn, PL_DB_TOKENS, s_walk_one, &w);
    if (rc == PL_OK && !w.doc) {
        *rc_out = PL_ENOTFOUND;
        return pl_node_ctl_error(PL_ENOTFOUND, "no live token named '%s'",
                                 name);
    }
    if (rc == PL_OK) {
        json_object_set_new(w.doc, "revoked", json_true());
        rc = s_put(txn, w.digest, w.doc);
    }
    json_decref(w.doc);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "staff",
                           as ? as : "owner", NULL, "token-revoke", "applied",
                           NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot revoke the token: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:s, s:b}", "name", name, "revoked", 1));
}

// ---- the walker's token step

char *
pl_token_gate(pl_txn_t *txn, uint64_t now, const char *cmd, const json_t *args,
              unsigned row_roles, const char *token, pl_session_info_t *info,
              bool *is_token)
{
    memset(info, 0, sizeof *info);
    *is_token = false;
    uint8_t digest[S_DIGEST];
    json_t *doc = NULL;
    if (s_digest(token, digest) != PL_OK || !txn
        || s_get(txn, digest, &doc) != PL_OK)
        return NULL;
    *is_token = true;
    const char *name = json_string_value(json_object_get(doc, "name"));
    unsigned role =
        pl_role_parse(json_string_value(json_object_get(doc, "role")));
    uint64_t exp = s_u64(doc, "expires");
    char *reply = NULL;
    if (!name || !role)
        reply = pl_node_ctl_error(PL_EAUTH, "the API token is unreadable");
    else if (json_is_true(json_object_get(doc, "revoked")))
        reply = pl_node_ctl_error(PL_EAUTH, "the API token is revoked");
    else if (exp && now >= exp)
        reply = pl_node_ctl_error(PL_EAUTH, "the API token is expired");
    else
        reply = pl_staff_allow(cmd, args, row_roles, role);
    if (!reply) {
        snprintf(info->name, sizeof info->name, "%s%s", PL_TOKEN_AS_PREFIX,
                 name);
        info->role = role;
        memcpy(info->lang, "en", 3);
        info->expires = exp;
    }
    json_decref(doc);
    return reply;
}

// ---- the rows (no roles: the Unix owner's only)

const pl_ctl_cmd_t pl_token_cmds[] = {
    {"token.add", PL_CTL_COMMITS | PL_CTL_STAFF, s_add},
    {"token.list", 0, s_list},
    {"token.revoke", PL_CTL_CHANGES | PL_CTL_STAFF, s_revoke},
    {NULL, 0, NULL},
};
