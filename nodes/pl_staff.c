// pl_staff - staff accounts and sessions (see pl_staff.h). Layer: nodes,
// handlers.
//
// An account is one record of the "staff" database: key = the name, value
// = the JSON document {name, role, lang, hash, disabled, created,
// last_login, failures, locked_until} sealed under the store's master key
// (pl_store_put_secret), so neither the hash nor the account's details lie
// in clear on disk.
#include "nodes/pl_staff.h"

#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_ctl_reply.h"
#include "nodes/pl_node_int.h"
#include "nodes/pl_roles.h"
#include "proto/pl_crypto.h"

// Drops a must-check result on purpose (a cast to void does not, in gcc).
#define S_IGNORE(expr)                                                         \
    do {                                                                       \
        if (expr) {                                                            \
        }                                                                      \
    } while (0)

// The daemon's session table, or NULL (a fake context without a daemon).
static pl_sessions_t *
s_ss(pl_node_ctx_t *ctx)
{
    return ctx->sessions;
}

// The "session" token of the request being run, or NULL.
static const char *
s_token(pl_node_ctx_t *ctx)
{
    return ctx->session;
}

// ---- names, records

bool
pl_staff_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > PL_STAFF_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
              || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int
pl_staff_doc_get(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
                 json_t **doc)
{
    *doc = NULL;
    pl_buf_t pt = {0};
    int rc = pl_store_get_secret(txn, db, key, klen, &pt);
    if (rc == PL_OK) {
        json_error_t jerr;
        *doc = json_loadb((const char *) pt.data, pt.len, 0, &jerr);
        if (!json_is_object(*doc)) {
            json_decref(*doc);
            *doc = NULL;
            rc = PL_EPROTO;
        }
    }
    pl_buf_wipe(&pt);
    return rc;
}

int
pl_staff_doc_put(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
                 const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return PL_ENOMEM;
    size_t len = strlen(text);
    int rc = pl_store_put_secret(txn, db, key, klen, text, len);
    pl_wipe(text, len);
    free(text);
    return rc;
}

// Reads account 'name' into *doc (new). PL_ENOTFOUND when absent.
static int
s_get(pl_txn_t *txn, const char *name, json_t **doc)
{
    return pl_staff_doc_get(txn, PL_DB_STAFF, name, strlen(name), doc);
}

static int
s_put(pl_txn_t *txn, const char *name, const json_t *doc)
{
    return pl_staff_doc_put(txn, PL_DB_STAFF, name, strlen(name), doc);
}

static uint64_t
s_u64(const json_t *doc, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(doc, key));
    return v > 0 ? (uint64_t) v : 0;
}

static json_t *
s_time_or_null(uint64_t t)
{
    return t ? pl_node_json_time(t) : json_null();
}

// The sessions' clock when the daemon gave one, else the real one.
static uint64_t
s_now(pl_node_ctx_t *ctx)
{
    return s_ss(ctx) ? pl_sessions_now(s_ss(ctx)) : pl_now();
}

static const char *
s_by(const char *as)
{
    return as ? as : "owner";
}

static int
s_audit(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *by, const char *event,
        const char *result, const char *detail)
{
    return pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "staff",
                         by, NULL, event, result, detail);
}

// The password argument, checked: NULL with *reply set when bad.
static const char *
s_password(json_t *args, size_t *len, char **reply)
{
    json_t *jp = json_object_get(args, "password");
    const char *pw = json_string_value(jp);
    *len = pw ? json_string_length(jp) : 0;
    *reply = NULL;
    if (!pw)
        *reply = pl_node_ctl_error(PL_EINVAL, "args.password is needed");
    else if (*len < PL_STAFF_PASS_MIN || *len > PL_STAFF_PASS_MAX)
        *reply =
            pl_node_ctl_error(PL_EINVAL, "a password is %d to %d bytes long",
                              PL_STAFF_PASS_MIN, PL_STAFF_PASS_MAX);
    else if (memchr(pw, 0, *len))
        *reply = pl_node_ctl_error(PL_EINVAL, "a password holds no NUL byte");
    return *reply ? NULL : pw;
}

// Wipes the password inside the request document once it is hashed.
static void
s_wipe_password(json_t *args)
{
    json_t *jp = json_object_get(args, "password");
    if (json_is_string(jp))
        pl_wipe((char *) json_string_value(jp), json_string_length(jp));
}

// The account argument: NULL with *reply set when bad or absent.
static json_t *
s_account(pl_txn_t *txn, json_t *args, const char **name, char **reply,
          int *rc_out)
{
    *name = pl_case_arg(args, "name");
    *reply = NULL;
    json_t *doc = NULL;
    if (!pl_staff_name_valid(*name)) {
        *rc_out = PL_EINVAL;
        *reply = pl_node_ctl_error(PL_EINVAL,
                                   "a staff name is 1 to 64 of a-z 0-9 . _ -");
        return NULL;
    }
    int rc = s_get(txn, *name, &doc);
    if (rc != PL_OK) {
        *rc_out = rc;
        *reply = rc == PL_ENOTFOUND
                     ? pl_node_ctl_error(rc, "no staff account '%s'", *name)
                     : pl_node_ctl_error(rc, "cannot read the account: %s",
                                         pl_strerror(rc));
    }
    return doc;
}

// ---- staff.*

static char *
s_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
      int *rc_out)
{
    const char *name = pl_case_arg(args, "name");
    const char *role = pl_case_arg(args, "role");
    const char *lang = pl_case_arg(args, "lang");
    if (!lang)
        lang = "en";
    *rc_out = PL_EINVAL;
    if (!pl_staff_name_valid(name))
        return pl_node_ctl_error(PL_EINVAL,
                                 "a staff name is 1 to 64 of a-z 0-9 . _ -");
    if (!pl_role_parse(role))
        return pl_node_ctl_error(PL_EINVAL,
                                 "role is case-manager, provider, supervisor, "
                                 "coordinator or admin");
    if (strcmp(lang, "fr") != 0 && strcmp(lang, "en") != 0)
        return pl_node_ctl_error(PL_EINVAL, "lang is fr or en");
    size_t plen;
    char *reply;
    const char *pw = s_password(args, &plen, &reply);
    if (!pw)
        return reply;
    json_t *old = NULL;
    int rc = s_get(txn, name, &old);
    json_decref(old);
    if (rc == PL_OK) {
        *rc_out = PL_EEXIST;
        return pl_node_ctl_error(PL_EEXIST, "staff account '%s' exists", name);
    }
    if (rc != PL_ENOTFOUND) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    char hash[PL_PWHASH_STR_BYTES];
    rc = pl_pwhash_str(hash, pw, plen);
    s_wipe_password(args);
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot hash the password: %s",
                                 pl_strerror(rc));
    }
    json_t *doc = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:i, s:I}", "name", name, "role",
        role, "lang", lang, "hash", hash, "disabled", 0, "created",
        (json_int_t) s_now(ctx), "last_login", (json_int_t) 0, "failures", 0,
        "locked_until", (json_int_t) 0);
    pl_wipe(hash, sizeof hash);
    rc = doc ? s_put(txn, name, doc) : PL_ENOMEM;
    json_decref(doc);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, s_by(as), "staff-add", "applied", role);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the account: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:s, s:s, s:s}", "name", name, "role", role, "lang", lang));
}

static int
s_list_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
           void *arg)
{
    (void) val, (void) vlen;
    void **a = arg;
    pl_txn_t *txn = a[0];
    json_t *out = a[1];
    char name[PL_STAFF_NAME_MAX + 1];
    if (klen > PL_STAFF_NAME_MAX)
        return PL_STORE_NEXT;
    memcpy(name, key, klen);
    name[klen] = 0;
    json_t *doc = NULL;
    int rc = s_get(txn, name, &doc);
    if (rc != PL_OK)
        return rc;
    json_array_append_new(
        out,
        json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:I, s:o}", "name", name,
                  "role", json_string_value(json_object_get(doc, "role")),
                  "lang", json_string_value(json_object_get(doc, "lang")),
                  "disabled", json_is_true(json_object_get(doc, "disabled")),
                  "created", s_time_or_null(s_u64(doc, "created")),
                  "last_login", s_time_or_null(s_u64(doc, "last_login")),
                  "failures", (json_int_t) s_u64(doc, "failures"),
                  "locked_until", s_time_or_null(s_u64(doc, "locked_until"))));
    json_decref(doc);
    return PL_STORE_NEXT;
}

static char *
s_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
       int *rc_out)
{
    (void) ctx, (void) args, (void) as, (void) rc_out;
    json_t *out = json_array();
    void *a[2] = {txn, out};
    int rc = pl_store_each(txn, PL_DB_STAFF, s_list_one, a);
    if (rc != PL_OK) {
        json_decref(out);
        return pl_node_ctl_error(rc, "cannot read the accounts: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(out);
}

// staff.disable / staff.enable
static char *
s_set_disabled(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
               int *rc_out, bool disabled)
{
    const char *name;
    char *reply;
    json_t *doc = s_account(txn, args, &name, &reply, rc_out);
    if (!doc)
        return reply;
    json_object_set_new(doc, "disabled", json_boolean(disabled));
    if (!disabled) { // an admin's enable also lifts a lockout
        json_object_set_new(doc, "failures", json_integer(0));
        json_object_set_new(doc, "locked_until", json_integer(0));
    }
    int rc = s_put(txn, name, doc);
    json_decref(doc);
    size_t ended = 0;
    if (rc == PL_OK && disabled && s_ss(ctx))
        ended = pl_sessions_close_name(s_ss(ctx), name);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, s_by(as),
                     disabled ? "staff-disable" : "staff-enable", "applied",
                     NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the account: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:s, s:b, s:I}", "name", name, "disabled",
                                    disabled, "sessions_ended",
                                    (json_int_t) ended));
}

static char *
s_disable(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
          int *rc_out)
{
    return s_set_disabled(ctx, txn, args, as, rc_out, true);
}

static char *
s_enable(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    return s_set_disabled(ctx, txn, args, as, rc_out, false);
}

static char *
s_passwd(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    size_t plen;
    char *reply;
    const char *pw = s_password(args, &plen, &reply);
    if (!pw) {
        *rc_out = PL_EINVAL;
        return reply;
    }
    const char *name;
    json_t *doc = s_account(txn, args, &name, &reply, rc_out);
    if (!doc)
        return reply;
    char hash[PL_PWHASH_STR_BYTES];
    int rc = pl_pwhash_str(hash, pw, plen);
    s_wipe_password(args);
    if (rc == PL_OK) {
        json_object_set_new(doc, "hash", json_string(hash));
        json_object_set_new(doc, "failures", json_integer(0));
        json_object_set_new(doc, "locked_until", json_integer(0));
        rc = s_put(txn, name, doc);
    }
    pl_wipe(hash, sizeof hash);
    json_decref(doc);
    size_t ended = 0;
    if (rc == PL_OK && s_ss(ctx))
        ended = pl_sessions_close_name(s_ss(ctx), name);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, s_by(as), "staff-passwd", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot change the password: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:s, s:I}", "name", name,
                                    "sessions_ended", (json_int_t) ended));
}

// ---- session.*

// A hash of a random password, made once: an unknown name costs what a
// known one does (the reply and its time say nothing of which it was).
static const char *
s_dummy_hash(void)
{
    static char dummy[PL_PWHASH_STR_BYTES];
    if (!dummy[0]) {
        char pw[33];
        uint8_t raw[16];
        pl_random(raw, sizeof raw);
        pl_hex(pw, raw, sizeof raw);
        if (pl_pwhash_str(dummy, pw, strlen(pw)) != PL_OK)
            dummy[0] = 0;
        pl_wipe(pw, sizeof pw);
    }
    return dummy;
}

static char *
s_login(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    (void) as;
    const char *name = pl_case_arg(args, "name");
    json_t *jp = json_object_get(args, "password");
    const char *pw = json_string_value(jp);
    size_t plen = pw ? json_string_length(jp) : 0;
    if (!s_ss(ctx)) {
        *rc_out = PL_ESTATE;
        return pl_node_ctl_error(PL_ESTATE, "this daemon has no sessions");
    }
    if (!name || !pw || plen > PL_STAFF_PASS_MAX) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "session.login needs args.name and "
                                            "args.password");
    }
    uint64_t now = s_now(ctx);
    json_t *doc = NULL;
    int rc = pl_staff_name_valid(name) ? s_get(txn, name, &doc) : PL_ENOTFOUND;
    if (rc != PL_OK && rc != PL_ENOTFOUND) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    if (!doc) {
        // an unknown name: the same work and the same answer as a wrong
        // password; audited without the name (it may be a mistyped
        // password)
        S_IGNORE(pl_pwhash_verify(s_dummy_hash(), pw, plen));
        s_wipe_password(args);
        rc = s_audit(ctx, txn, "unknown", "login", "refused", "wrong-password");
        *rc_out = rc;
        return pl_node_ctl_error(PL_EAUTH, "wrong name or password");
    }
    char *reply = NULL;
    uint64_t locked = s_u64(doc, "locked_until");
    if (json_is_true(json_object_get(doc, "disabled"))) {
        s_wipe_password(args);
        rc = s_audit(ctx, txn, name, "login", "refused", "disabled");
        reply = pl_node_ctl_error(PL_EPERM, "account disabled");
    } else if (locked > now) {
        s_wipe_password(args);
        char t[32];
        pl_time_fmt(t, locked);
        rc = s_audit(ctx, txn, name, "login", "refused", "locked");
        reply = pl_node_ctl_error(PL_EPERM, "account locked until %s", t);
    } else {
        const char *hash = json_string_value(json_object_get(doc, "hash"));
        int vrc = pl_pwhash_verify(hash ? hash : "", pw, plen);
        s_wipe_password(args);
        if (locked) // a lockout that has run out starts a fresh count
            json_object_set_new(doc, "locked_until", json_integer(0));
        if (vrc == PL_OK) {
            const char *role = json_string_value(json_object_get(doc, "role"));
            const char *lang = json_string_value(json_object_get(doc, "lang"));
            char token[PL_SESSION_TOKEN_HEX + 1];
            pl_session_info_t info;
            rc = pl_sessions_open(s_ss(ctx), name, pl_role_parse(role),
                                  lang ? lang : "en", token, &info);
            if (rc != PL_OK) {
                *rc_out = rc;
                json_decref(doc);
                return pl_node_ctl_error(rc, "too many open sessions");
            }
            json_object_set_new(doc, "failures", json_integer(0));
            json_object_set_new(doc, "last_login",
                                json_integer((json_int_t) now));
            rc = s_put(txn, name, doc);
            if (rc == PL_OK)
                rc = s_audit(ctx, txn, name, "login", "applied", NULL);
            if (rc != PL_OK) {
                S_IGNORE(pl_sessions_close(s_ss(ctx), token));
                pl_wipe(token, sizeof token);
                *rc_out = rc;
                json_decref(doc);
                return pl_node_ctl_error(rc, "cannot record the login: %s",
                                         pl_strerror(rc));
            }
            reply = pl_node_ctl_ok(json_pack(
                "{s:s, s:s, s:s, s:s, s:I, s:o}", "token", token, "name", name,
                "role", role, "lang", info.lang, "idle_timeout_s",
                (json_int_t) pl_sessions_idle_s(s_ss(ctx)), "expires",
                pl_node_json_time(info.expires)));
            pl_wipe(token, sizeof token);
        } else {
            uint64_t fails = (locked ? 0 : s_u64(doc, "failures")) + 1;
            json_object_set_new(doc, "failures",
                                json_integer((json_int_t) fails));
            bool lock = fails >= PL_STAFF_FAILS_LOCK;
            if (lock)
                json_object_set_new(
                    doc, "locked_until",
                    json_integer((json_int_t) (now + PL_STAFF_LOCK_S)));
            rc = s_put(txn, name, doc);
            if (rc == PL_OK)
                rc = s_audit(ctx, txn, name, "login", "refused",
                             "wrong-password");
            if (rc == PL_OK && lock)
                rc = s_audit(ctx, txn, name, "lockout", "applied", NULL);
            reply = pl_node_ctl_error(PL_EAUTH, "wrong name or password");
        }
    }
    json_decref(doc);
    *rc_out = rc;
    if (rc != PL_OK) {
        free(reply);
        return pl_node_ctl_error(rc, "cannot record the login: %s",
                                 pl_strerror(rc));
    }
    return reply;
}

static char *
s_check(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    (void) txn, (void) args, (void) as, (void) rc_out;
    pl_session_info_t info;
    if (!s_ss(ctx) || !s_token(ctx)
        || pl_sessions_resolve(s_ss(ctx), s_token(ctx), true, &info) != PL_OK)
        return pl_node_ctl_error(PL_EAUTH, "session expired");
    return pl_node_ctl_ok(json_pack("{s:s, s:s, s:s, s:o}", "name", info.name,
                                    "role", pl_role_name(info.role), "lang",
                                    info.lang, "expires",
                                    pl_node_json_time(info.expires)));
}

static char *
s_logout(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    (void) args, (void) as;
    pl_session_info_t info;
    if (!s_ss(ctx) || !s_token(ctx)
        || pl_sessions_resolve(s_ss(ctx), s_token(ctx), false, &info) != PL_OK)
        return pl_node_ctl_error(PL_EAUTH, "session expired");
    S_IGNORE(pl_sessions_close(s_ss(ctx), s_token(ctx)));
    int rc = s_audit(ctx, txn, info.name, "logout", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "the session ended; the audit failed: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_object());
}

#ifdef PL_TEST_BUILD
// test.session-clock {advance_s}: moves the sessions' clock (and so the
// lockout clock) forward without a restart.
static char *
s_test_clock(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) txn, (void) as;
    json_int_t s = json_integer_value(json_object_get(args, "advance_s"));
    if (!pl_case_test_hooks() || !s_ss(ctx) || s < 0) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL,
                                 "test.session-clock needs test hooks and "
                                 "args.advance_s >= 0");
    }
    pl_sessions_advance(s_ss(ctx), (uint64_t) s);
    return pl_node_ctl_ok(
        json_pack("{s:I}", "now", (json_int_t) pl_sessions_now(s_ss(ctx))));
}
#endif

// ---- the walker's session step

char *
pl_staff_gate(pl_sessions_t *ss, const char *cmd, const json_t *args,
              unsigned row_roles, const char *token, pl_session_info_t *info)
{
    memset(info, 0, sizeof *info);
    if (strcmp(cmd, "session.login") == 0)
        return NULL; // logging in needs no live session
    if (!ss || pl_sessions_resolve(ss, token, true, info) != PL_OK)
        return pl_node_ctl_error(PL_EAUTH, "session expired");
    return pl_staff_allow(cmd, args, row_roles, info->role);
}

char *
pl_staff_allow(const char *cmd, const json_t *args, unsigned row_roles,
               unsigned role)
{
    if (!(pl_roles_of(cmd, args, row_roles) & role))
        return pl_node_ctl_error(PL_EPERM, "your role (%s) may not do this",
                                 pl_role_name(role));
    // four eyes: through a session an override is requested
    // (override.request) and approved by another account, never given
    // straight to refer
    if (strcmp(cmd, "refer") == 0
        && (json_object_get(args, "override_justification")
            || json_object_get(args, "approved_by")))
        return pl_node_ctl_error(PL_EPERM,
                                 "an override goes through override.request "
                                 "and another account's approval");
    return NULL;
}

// ---- the rows

#define ADM PL_CTL_ROLES(PL_ROLE_ADMIN)
#define ALL PL_CTL_ROLES(PL_ROLE_ALL)

const pl_ctl_cmd_t pl_staff_cmds[] = {
    {"staff.add", PL_CTL_CHANGES | ADM, s_add},
    {"staff.list", ADM, s_list},
    {"staff.disable", PL_CTL_CHANGES | ADM, s_disable},
    {"staff.enable", PL_CTL_CHANGES | ADM, s_enable},
    {"staff.passwd", PL_CTL_CHANGES | ADM, s_passwd},
    {"session.login", PL_CTL_COMMITS | ALL, s_login},
    {"session.check", ALL, s_check},
    {"session.logout", PL_CTL_COMMITS | ALL, s_logout},
#ifdef PL_TEST_BUILD
    {"test.session-clock", PL_CTL_TEST, s_test_clock},
#endif
    {NULL, 0, NULL},
};
