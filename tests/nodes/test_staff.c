// test_staff - staff accounts, sessions, roles and four-eyes overrides
// (issue 14) on a fake handler context: a temp store, fresh keys, a fake
// outbox and directory, and a daemon struct holding only a session table;
// no daemon, no broker. The rows run as the control walker runs them: in a
// transaction kept when the handler says so, behind pl_staff_gate when a
// token is given.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodes/pl_node_case.h"
#include "nodes/pl_override.h"
#include "nodes/pl_roles.h"
#include "nodes/pl_session.h"
#include "nodes/pl_staff.h"
#include "proto/pl_crypto.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"
#include "tests/lib/nodes/pl_testctl.h"
#include "tests/lib/pl_test.h"

static const pl_ctl_cmd_t *
s_row(const char *cmd)
{
    const pl_ctl_cmd_t *const tables[] = {pl_staff_cmds, pl_override_cmds,
                                          pl_case_cmds};
    for (size_t t = 0; t < 3; t++)
        for (const pl_ctl_cmd_t *c = tables[t]; c->name; c++)
            if (strcmp(c->name, cmd) == 0)
                return c;
    return NULL;
}

// Runs 'cmd' with 'args' (stolen) as the walker does: behind the session
// gate when 'token' is given (then as its account), in a transaction kept
// when the handler says so (tests/lib/nodes/pl_fakectx.h). Returns the
// parsed reply.
static json_t *
s_run(pl_fakectx_t *f, const char *cmd, json_t *args, const char *as,
      const char *token)
{
    pl_session_info_t who;
    if (token) {
        const pl_ctl_cmd_t *row = s_row(cmd);
        char *text =
            pl_staff_gate(f->sessions, cmd, args,
                          row ? PL_CTL_ROLES_OF(row->flags) : 0, token, &who);
        if (text) { // refused by the gate
            json_decref(args);
            return pl_testctl_reply(text);
        }
        if (who.name[0])
            as = who.name;
    }
    f->ctx.session = token;
    json_t *reply = pl_fakectx_run(f, cmd, args, as, NULL);
    f->ctx.session = NULL;
    return reply;
}

static const char *
s_error(const json_t *r)
{
    const char *e = json_string_value(json_object_get(r, "error"));
    return e ? e : "(none)";
}

static void
s_add(pl_fakectx_t *f, const char *name, const char *role, const char *pw)
{
    json_t *r = s_run(f, "staff.add",
                      json_pack("{s:s, s:s, s:s}", "name", name, "role", role,
                                "password", pw),
                      NULL, NULL);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
}

// Logs in; the token (64 hex) into 'tok'. Returns the reply's code.
static const char *
s_login(pl_fakectx_t *f, const char *name, const char *pw,
        char tok[PL_SESSION_TOKEN_HEX + 1], char *err, size_t n)
{
    static char code[32];
    json_t *r = s_run(f, "session.login",
                      json_pack("{s:s, s:s}", "name", name, "password", pw),
                      NULL, NULL);
    const char *t = json_string_value(
        json_object_get(json_object_get(r, "result"), "token"));
    if (tok)
        snprintf(tok, PL_SESSION_TOKEN_HEX + 1, "%s", t ? t : "");
    if (err)
        snprintf(err, n, "%s", s_error(r));
    snprintf(code, sizeof code, "%s", pl_fakectx_code(r));
    json_decref(r);
    return code;
}

// ---- the session table alone

static void
test_sessions_table(void **state)
{
    (void) state;
    // margins of 100 s at least: real seconds pass between the steps too
    pl_sessions_t *ss = pl_sessions_new(600, 7200);
    assert_non_null(ss);
    char tok[PL_SESSION_TOKEN_HEX + 1], tok2[PL_SESSION_TOKEN_HEX + 1];
    pl_session_info_t info;
    assert_int_equal(
        pl_sessions_open(ss, "amina", PL_ROLE_PROVIDER, "fr", tok, &info),
        PL_OK);
    assert_int_equal(strlen(tok), 64);
    assert_int_equal(info.expires, info.created + 600);
    assert_int_equal(pl_sessions_resolve(ss, tok, true, &info), PL_OK);
    assert_string_equal(info.name, "amina");
    assert_int_equal(info.role, PL_ROLE_PROVIDER);
    assert_string_equal(info.lang, "fr");
    // malformed and unknown tokens
    assert_int_equal(pl_sessions_resolve(ss, "abc", true, &info), PL_EAUTH);
    assert_int_equal(pl_sessions_resolve(ss, NULL, true, &info), PL_EAUTH);
    char other[PL_SESSION_TOKEN_HEX + 1];
    memcpy(other, tok, sizeof other);
    other[10] = other[10] == '0' ? '1' : '0';
    assert_int_equal(pl_sessions_resolve(ss, other, true, &info), PL_EAUTH);
    memset(other, 'z', 64);
    assert_int_equal(pl_sessions_resolve(ss, other, true, &info), PL_EAUTH);
    // idle: 500 s is fine and (touched) refreshes; an untouched look does
    // not; 700 s unused ends it
    pl_sessions_advance(ss, 500);
    assert_int_equal(pl_sessions_resolve(ss, tok, true, &info), PL_OK);
    pl_sessions_advance(ss, 400);
    assert_int_equal(pl_sessions_resolve(ss, tok, false, &info), PL_OK);
    pl_sessions_advance(ss, 300);
    assert_int_equal(pl_sessions_resolve(ss, tok, true, &info), PL_EAUTH);
    assert_int_equal(pl_sessions_count(ss), 0);
    // absolute: used every 500 s, it still ends after two hours
    assert_int_equal(
        pl_sessions_open(ss, "amina", PL_ROLE_PROVIDER, "en", tok, &info),
        PL_OK);
    for (int i = 0; i < 14; i++) {
        pl_sessions_advance(ss, 500);
        assert_int_equal(pl_sessions_resolve(ss, tok, true, &info), PL_OK);
    }
    pl_sessions_advance(ss, 500);
    assert_int_equal(pl_sessions_resolve(ss, tok, true, &info), PL_EAUTH);
    // close, close by name
    assert_int_equal(pl_sessions_open(ss, "a", PL_ROLE_ADMIN, "en", tok, &info),
                     PL_OK);
    assert_int_equal(
        pl_sessions_open(ss, "b", PL_ROLE_ADMIN, "en", tok2, &info), PL_OK);
    assert_int_equal(pl_sessions_close(ss, tok), PL_OK);
    assert_int_equal(pl_sessions_close(ss, tok), PL_EAUTH);
    assert_int_equal(pl_sessions_resolve(ss, tok2, true, &info), PL_OK);
    assert_int_equal(pl_sessions_close_name(ss, "b"), 1);
    assert_int_equal(pl_sessions_resolve(ss, tok2, true, &info), PL_EAUTH);
    // per account at most PL_SESSIONS_PER_NAME: the oldest one ends
    char first[PL_SESSION_TOKEN_HEX + 1];
    assert_int_equal(
        pl_sessions_open(ss, "c", PL_ROLE_ADMIN, "en", first, &info), PL_OK);
    for (int i = 1; i < PL_SESSIONS_PER_NAME; i++) {
        pl_sessions_advance(ss, 1);
        assert_int_equal(
            pl_sessions_open(ss, "c", PL_ROLE_ADMIN, "en", tok, &info), PL_OK);
    }
    assert_int_equal(pl_sessions_resolve(ss, first, false, &info), PL_OK);
    pl_sessions_advance(ss, 1);
    assert_int_equal(pl_sessions_open(ss, "c", PL_ROLE_ADMIN, "en", tok, &info),
                     PL_OK);
    assert_int_equal(pl_sessions_resolve(ss, first, false, &info), PL_EAUTH);
    assert_int_equal(pl_sessions_count(ss), PL_SESSIONS_PER_NAME);
    // the table full: a refusal, never someone else's session ended
    pl_sessions_close_name(ss, "c");
    char name[16];
    for (int i = 0; i < PL_SESSIONS_MAX; i++) {
        snprintf(name, sizeof name, "u%d", i);
        assert_int_equal(
            pl_sessions_open(ss, name, PL_ROLE_ADMIN, "en", tok, &info), PL_OK);
    }
    assert_int_equal(
        pl_sessions_open(ss, "one-more", PL_ROLE_ADMIN, "en", tok, &info),
        PL_EFULL);
    assert_int_equal(
        pl_sessions_open(ss, "bad", PL_ROLE_ADMIN, "eng", tok, &info),
        PL_EINVAL);
    pl_sessions_destroy(&ss);
    assert_null(ss);
    pl_sessions_destroy(&ss);
}

// ---- the role matrix

static void
test_roles(void **state)
{
    (void) state;
    assert_int_equal(pl_role_parse("case-manager"), PL_ROLE_CASE_MANAGER);
    assert_int_equal(pl_role_parse("admin"), PL_ROLE_ADMIN);
    assert_int_equal(pl_role_parse("root"), 0);
    assert_int_equal(pl_role_parse(NULL), 0);
    assert_string_equal(pl_role_name(PL_ROLE_PROVIDER), "provider");
    assert_string_equal(pl_role_name(3), "?");
    json_t *a = json_pack("{s:s}", "event", "accept");
    assert_int_equal(pl_roles_of("referral.act", a, 0), PL_ROLE_PROVIDER);
    json_object_set_new(a, "event", json_string("cancel"));
    assert_int_equal(pl_roles_of("referral.act", a, 0), PL_ROLE_CASE_MANAGER);
    json_object_set_new(a, "event", json_string("bogus"));
    assert_int_equal(pl_roles_of("referral.act", a, 0), 0);
    json_decref(a);
    a = json_pack("{s:s}", "direction", "in");
    assert_int_equal(pl_roles_of("referrals", a, 0),
                     PL_ROLE_PROVIDER | PL_ROLE_SUPERVISOR);
    json_decref(a);
    assert_int_equal(pl_roles_of("referrals", NULL, 0), PL_ROLE_SUPERVISOR);
    assert_int_equal(pl_roles_of("whoami", NULL, 0), PL_ROLE_ALL);
    assert_int_equal(pl_roles_of("backup", NULL, 0), 0);
    assert_int_equal(pl_roles_of("stats", NULL, 0), 0);
    assert_int_equal(pl_roles_of("case.add", NULL, 0), PL_ROLE_CASE_MANAGER);
    // DESIGN.md §12: case-manager = cases, consent, referrals, handovers
    static const char *const ho[] = {"handover", "handovers", "handover.show",
                                     "handover.act", "handover.cp-ack"};
    for (size_t i = 0; i < sizeof ho / sizeof *ho; i++)
        assert_int_equal(pl_roles_of(ho[i], NULL, 0), PL_ROLE_CASE_MANAGER);
    assert_int_equal(pl_roles_of("case.add", NULL, PL_ROLE_ADMIN),
                     PL_ROLE_CASE_MANAGER | PL_ROLE_ADMIN);
    // every matrix row names one known role bit at least, and the rows of
    // the staff and override rooms carry their own masks
    pl_role_row_t row;
    size_t n = 0;
    while (pl_roles_row(n, &row)) {
        assert_true(row.roles && (row.roles & ~(unsigned) PL_ROLE_ALL) == 0);
        n++;
    }
    assert_true(n > 10);
    assert_int_equal(PL_CTL_ROLES_OF(s_row("staff.add")->flags), PL_ROLE_ADMIN);
    assert_int_equal(PL_CTL_ROLES_OF(s_row("session.login")->flags),
                     PL_ROLE_ALL);
    assert_int_equal(PL_CTL_ROLES_OF(s_row("override.approve")->flags),
                     PL_ROLE_SUPERVISOR);
    assert_true(s_row("staff.add")->flags & PL_CTL_CHANGES);
    assert_true(s_row("session.login")->flags & PL_CTL_COMMITS);
    assert_false(s_row("session.login")->flags & PL_CTL_CHANGES);
}

// ---- Argon2id strings

static void
test_pwhash(void **state)
{
    (void) state;
    char h[PL_PWHASH_STR_BYTES];
    assert_int_equal(pl_pwhash_str(h, "correct horse", 13), PL_OK);
    assert_non_null(strstr(h, "$argon2id$"));
    assert_int_equal(pl_pwhash_verify(h, "correct horse", 13), PL_OK);
    assert_int_equal(pl_pwhash_verify(h, "correct horsf", 13), PL_EAUTH);
    assert_int_equal(pl_pwhash_verify("not a hash", "x", 1), PL_EAUTH);
    assert_int_equal(pl_pwhash_verify("", "x", 1), PL_EAUTH);
}

// ---- accounts and logins

static void
test_staff_accounts(void **state)
{
    pl_fakectx_t *f = *state;
    const char *pw = "Canary-Pass-4471";
    s_add(f, "amina.k", "case-manager", pw);
    // refusals: name, role, lang, password, a second account of that name
    struct {
        const char *name, *role, *lang, *pw, *code;
    } bad[] = {
        {"Amina", "provider", "en", "0123456789", "PL_EINVAL"},
        {"", "provider", "en", "0123456789", "PL_EINVAL"},
        {"a b", "provider", "en", "0123456789", "PL_EINVAL"},
        {"ok", "chief", "en", "0123456789", "PL_EINVAL"},
        {"ok", "provider", "de", "0123456789", "PL_EINVAL"},
        {"ok", "provider", "en", "012345678", "PL_EINVAL"},
        {"amina.k", "provider", "en", "0123456789", "PL_EEXIST"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *r = s_run(f, "staff.add",
                          json_pack("{s:s, s:s, s:s, s:s}", "name", bad[i].name,
                                    "role", bad[i].role, "lang", bad[i].lang,
                                    "password", bad[i].pw),
                          NULL, NULL);
        assert_string_equal(pl_fakectx_code(r), bad[i].code);
        json_decref(r);
    }
    json_t *r = s_run(f, "staff.list", NULL, NULL, NULL);
    assert_true(pl_fakectx_ok(r));
    json_t *list = json_object_get(r, "result");
    assert_int_equal(json_array_size(list), 1);
    json_t *a = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(a, "name")),
                        "amina.k");
    assert_string_equal(json_string_value(json_object_get(a, "lang")), "en");
    assert_null(json_object_get(a, "hash"));
    char *text = json_dumps(r, 0);
    assert_null(strstr(text, "argon2"));
    free(text);
    json_decref(r);
    // neither the password nor its hash lies in clear on disk (the account
    // record is sealed; the audit names the account and its role only)
    assert_int_equal(pl_test_grep_tree(f->ts.home, pw, strlen(pw)), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "argon2id", 8), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "\"hash\"", 6), 0);
}

static void
test_login_lockout_disable(void **state)
{
    pl_fakectx_t *f = *state;
    s_add(f, "prov", "provider", "provider-pass");
    char tok[PL_SESSION_TOKEN_HEX + 1], err[128];
    assert_string_equal(s_login(f, "prov", "provider-pass", tok, err, 128),
                        "(ok)");
    assert_int_equal(strlen(tok), 64);
    // wrong password and unknown name: the same answer
    assert_string_equal(s_login(f, "prov", "provider-pasS", NULL, err, 128),
                        "PL_EAUTH");
    assert_string_equal(err, "wrong name or password");
    assert_string_equal(s_login(f, "nobody", "provider-pass", NULL, err, 128),
                        "PL_EAUTH");
    assert_string_equal(err, "wrong name or password");
    assert_string_equal(s_login(f, "NOT valid", "x", NULL, err, 128),
                        "PL_EAUTH");
    // 4 more failures (5 in a row) lock the account, even for the right
    // password
    for (int i = 0; i < 4; i++)
        assert_string_equal(
            s_login(f, "prov", "nope-nope-nope", NULL, err, 128), "PL_EAUTH");
    assert_string_equal(s_login(f, "prov", "provider-pass", NULL, err, 128),
                        "PL_EPERM");
    assert_memory_equal(err, "account locked until 20", 23);
    json_t *r = s_run(f, "staff.list", NULL, NULL, NULL);
    json_t *a = json_array_get(json_object_get(r, "result"), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "failures")), 5);
    assert_true(json_is_string(json_object_get(a, "locked_until")));
    json_decref(r);
    // 15 minutes later the right password works and the count restarts
    pl_sessions_advance(f->sessions, PL_STAFF_LOCK_S - 200);
    assert_string_equal(s_login(f, "prov", "provider-pass", NULL, err, 128),
                        "PL_EPERM");
    pl_sessions_advance(f->sessions, 201);
    assert_string_equal(s_login(f, "prov", "provider-pass", tok, err, 128),
                        "(ok)");
    r = s_run(f, "staff.list", NULL, NULL, NULL);
    a = json_array_get(json_object_get(r, "result"), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "failures")), 0);
    assert_true(json_is_string(json_object_get(a, "last_login")));
    json_decref(r);
    // session.check, then disable: the session ends, logins are refused
    r = s_run(f, "session.check", NULL, NULL, tok);
    assert_true(pl_fakectx_ok(r));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r, "result"), "role")),
                        "provider");
    json_decref(r);
    r = s_run(f, "staff.disable", json_pack("{s:s}", "name", "prov"), NULL,
              NULL);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    r = s_run(f, "session.check", NULL, NULL, tok);
    assert_string_equal(pl_fakectx_code(r), "PL_EAUTH");
    assert_string_equal(s_error(r), "session expired");
    json_decref(r);
    assert_string_equal(s_login(f, "prov", "provider-pass", NULL, err, 128),
                        "PL_EPERM");
    assert_string_equal(err, "account disabled");
    r = s_run(f, "staff.enable", json_pack("{s:s}", "name", "prov"), NULL,
              NULL);
    json_decref(r);
    // a new password ends the sessions, the old one no longer works
    assert_string_equal(s_login(f, "prov", "provider-pass", tok, err, 128),
                        "(ok)");
    r = s_run(
        f, "staff.passwd",
        json_pack("{s:s, s:s}", "name", "prov", "password", "another-pass"),
        NULL, NULL);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(r, "result"), "sessions_ended")),
                     1);
    json_decref(r);
    r = s_run(f, "session.check", NULL, NULL, tok);
    assert_string_equal(pl_fakectx_code(r), "PL_EAUTH");
    json_decref(r);
    assert_string_equal(s_login(f, "prov", "provider-pass", NULL, err, 128),
                        "PL_EAUTH");
    assert_string_equal(s_login(f, "prov", "another-pass", tok, err, 128),
                        "(ok)");
    // logout ends the token
    r = s_run(f, "session.logout", NULL, NULL, tok);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    r = s_run(f, "session.check", NULL, NULL, tok);
    assert_string_equal(pl_fakectx_code(r), "PL_EAUTH");
    json_decref(r);
    r = s_run(
        f, "staff.passwd",
        json_pack("{s:s, s:s}", "name", "ghost", "password", "0123456789"),
        NULL, NULL);
    assert_string_equal(pl_fakectx_code(r), "PL_ENOTFOUND");
    json_decref(r);
}

// ---- the gate: roles, and no override straight through refer

static void
test_gate(void **state)
{
    pl_fakectx_t *f = *state;
    s_add(f, "prov", "provider", "provider-pass");
    char tok[PL_SESSION_TOKEN_HEX + 1];
    assert_string_equal(s_login(f, "prov", "provider-pass", tok, NULL, 0),
                        "(ok)");
    pl_session_info_t who;
    char *t = pl_staff_gate(f->sessions, "case.add", NULL, 0, tok, &who);
    assert_non_null(t);
    assert_non_null(strstr(t, "your role (provider) may not do this"));
    free(t);
    t = pl_staff_gate(f->sessions, "staff.list", NULL,
                      PL_CTL_ROLES_OF(s_row("staff.list")->flags), tok, &who);
    assert_non_null(strstr(t, "PL_EPERM"));
    free(t);
    json_t *a = json_pack("{s:s}", "direction", "in");
    assert_null(pl_staff_gate(f->sessions, "referrals", a, 0, tok, &who));
    assert_string_equal(who.name, "prov");
    json_decref(a);
    // session.login needs no live session
    assert_null(pl_staff_gate(f->sessions, "session.login", NULL, PL_ROLE_ALL,
                              "00", &who));
    char wrong[PL_SESSION_TOKEN_HEX + 1];
    memset(wrong, 'a', 64);
    wrong[64] = 0;
    t = pl_staff_gate(f->sessions, "whoami", NULL, 0, wrong, &who);
    assert_non_null(strstr(t, "session expired"));
    free(t);
    // a case manager's refer with an override is refused at the gate
    s_add(f, "cm", "case-manager", "case-manager-pass");
    assert_string_equal(s_login(f, "cm", "case-manager-pass", tok, NULL, 0),
                        "(ok)");
    a = json_pack("{s:s, s:s}", "case", "x", "approved_by", "cm");
    t = pl_staff_gate(f->sessions, "refer", a, 0, tok, &who);
    assert_non_null(strstr(t, "override.request"));
    free(t);
    json_object_del(a, "approved_by");
    assert_null(pl_staff_gate(f->sessions, "refer", a, 0, tok, &who));
    json_decref(a);
}

// ---- four eyes

static void
test_override_four_eyes(void **state)
{
    pl_fakectx_t *f = *state;
    s_add(f, "cm", "case-manager", "case-manager-pass");
    s_add(f, "sup1", "supervisor", "supervisor-one");
    s_add(f, "sup2", "supervisor", "supervisor-two");
    char tcm[65], ts1[65], ts2[65];
    assert_string_equal(s_login(f, "cm", "case-manager-pass", tcm, NULL, 0),
                        "(ok)");
    assert_string_equal(s_login(f, "sup1", "supervisor-one", ts1, NULL, 0),
                        "(ok)");
    assert_string_equal(s_login(f, "sup2", "supervisor-two", ts2, NULL, 0),
                        "(ok)");
    // a case without consent: refer alone is refused by the gate
    json_t *r = s_run(f, "case.add",
                      json_pack("{s:s, s:s, s:s}", "given", "Awa", "family",
                                "Ndiaye", "birth", "1980-01-01"),
                      "cm", NULL);
    assert_true(pl_fakectx_ok(r));
    char case_id[33];
    snprintf(
        case_id, sizeof case_id, "%s",
        json_string_value(json_object_get(json_object_get(r, "result"), "id")));
    json_decref(r);
    r = s_run(f, "refer",
              json_pack("{s:s, s:s, s:s}", "case", case_id, "to", "sn/clinic",
                        "service", "primary-care"),
              NULL, tcm);
    assert_false(pl_fakectx_ok(r));
    json_decref(r);
    assert_int_equal(f->sent, 0);
    const char *just = "Canary-Justif-9931";
    r = s_run(f, "override.request",
              json_pack("{s:s, s:s, s:s, s:s, s:s}", "case", case_id, "to",
                        "sn/clinic", "service", "primary-care",
                        "override_justification", just, "note",
                        "Canary-Note-1188"),
              NULL, tcm);
    assert_true(pl_fakectx_ok(r));
    char id[33];
    snprintf(
        id, sizeof id, "%s",
        json_string_value(json_object_get(json_object_get(r, "result"), "id")));
    json_decref(r);
    assert_int_equal(f->sent, 0); // nothing sealed before approval
    assert_int_equal(pl_test_grep_tree(f->ts.home, just, strlen(just)), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "Canary-Note-1188", 16), 0);
    // refusals: an approver named in advance, an unknown argument, no
    // justification, a bad id, a case manager approving
    r = s_run(f, "override.request",
              json_pack("{s:s, s:s, s:s, s:s, s:s}", "case", case_id, "to",
                        "sn/clinic", "service", "x", "override_justification",
                        "j", "approved_by", "sup1"),
              NULL, tcm);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    json_decref(r);
    r = s_run(f, "override.request",
              json_pack("{s:s, s:s, s:s, s:s, s:s}", "case", case_id, "to",
                        "sn/clinic", "service", "x", "override_justification",
                        "j", "colour", "red"),
              NULL, tcm);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    json_decref(r);
    r = s_run(f, "override.request",
              json_pack("{s:s, s:s, s:s}", "case", case_id, "to", "sn/clinic",
                        "service", "x"),
              NULL, tcm);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    json_decref(r);
    r = s_run(f, "override.approve", json_pack("{s:s}", "id", "zz"), NULL, ts1);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    json_decref(r);
    r = s_run(f, "override.approve", json_pack("{s:s}", "id", id), NULL, tcm);
    assert_string_equal(s_error(r), "your role (case-manager) may not do this");
    json_decref(r);
    // the list, for a supervisor
    r = s_run(f, "override.list", NULL, NULL, ts1);
    assert_true(pl_fakectx_ok(r));
    json_t *l = json_object_get(r, "result");
    assert_int_equal(json_array_size(l), 1);
    json_t *e = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(e, "requested_by")),
                        "cm");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e, "args"),
                                          "override_justification")),
        just);
    json_decref(r);
    // a supervisor's own request may not be approved by that supervisor
    r = s_run(f, "override.request",
              json_pack("{s:s, s:s, s:s, s:s}", "case", case_id, "to",
                        "sn/clinic", "service", "primary-care",
                        "override_justification", "second"),
              NULL, ts1);
    char id2[33];
    snprintf(
        id2, sizeof id2, "%s",
        json_string_value(json_object_get(json_object_get(r, "result"), "id")));
    json_decref(r);
    r = s_run(f, "override.approve", json_pack("{s:s}", "id", id2), NULL, ts1);
    assert_string_equal(pl_fakectx_code(r), "PL_EPERM");
    assert_string_equal(s_error(r),
                        "an override must be approved by another account");
    json_decref(r);
    assert_int_equal(f->sent, 0);
    // the Unix owner without --as is one account too: "owner" twice is
    // refused
    r = s_run(f, "override.request",
              json_pack("{s:s, s:s, s:s, s:s}", "case", case_id, "to",
                        "sn/clinic", "service", "primary-care",
                        "override_justification", "by the owner"),
              NULL, NULL);
    char id3[33];
    snprintf(
        id3, sizeof id3, "%s",
        json_string_value(json_object_get(json_object_get(r, "result"), "id")));
    json_decref(r);
    r = s_run(f, "override.approve", json_pack("{s:s}", "id", id3), NULL, NULL);
    assert_string_equal(pl_fakectx_code(r), "PL_EPERM");
    json_decref(r);
    // another supervisor approves: the referral is sealed, approved by sup2
    r = s_run(f, "override.approve", json_pack("{s:s}", "id", id), NULL, ts2);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(f->sent, 1);
    json_decref(r);
    r = s_run(f, "override.approve", json_pack("{s:s}", "id", id), NULL, ts2);
    assert_string_equal(pl_fakectx_code(r), "PL_ENOTFOUND");
    json_decref(r);
    // reject the second: gone, nothing sent
    r = s_run(f, "override.reject",
              json_pack("{s:s, s:s}", "id", id2, "reason", "not-justified"),
              NULL, ts2);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    r = s_run(f, "override.list", NULL, NULL, ts2);
    assert_int_equal(json_array_size(json_object_get(r, "result")), 1);
    json_decref(r);
    assert_int_equal(f->sent, 1);
    // the referral records the requester and the approver
    r = s_run(f, "referrals", json_pack("{s:s}", "direction", "out"), NULL,
              NULL);
    assert_int_equal(json_array_size(json_object_get(r, "result")), 1);
    json_decref(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sessions_table),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_pwhash),
        cmocka_unit_test_setup_teardown(test_staff_accounts,
                                        pl_fakectx_setup_sessions,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_login_lockout_disable,
                                        pl_fakectx_setup_sessions,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_gate, pl_fakectx_setup_sessions,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_override_four_eyes,
                                        pl_fakectx_setup_sessions,
                                        pl_fakectx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
