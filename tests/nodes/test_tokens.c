// test_tokens - API tokens (issue 16, nodes/pl_token.h) on a fake handler
// context: a temp store, fresh keys and a session table (its clock moves
// the tokens' clock); no daemon. token.add / list / revoke run as the
// control walker runs them (a transaction kept when the handler says so),
// and pl_token_gate decides as the walker's token step does.
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

#include "nodes/pl_node_ctl.h"
#include "nodes/pl_roles.h"
#include "nodes/pl_session.h"
#include "nodes/pl_token.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"
#include "tests/lib/pl_test.h"

// Runs 'cmd' with 'args' (stolen) through the one walker as the owner
// (tests/lib/nodes/pl_fakectx.h); the parsed reply.
static json_t *
s_run(pl_fakectx_t *f, const char *cmd, json_t *args, int *rc)
{
    return pl_fakectx_run(f, cmd, args, NULL, rc);
}

// token.add NAME ROLE [DAYS]: the token's text into 'tok'.
static void
s_add(pl_fakectx_t *f, const char *name, const char *role, int days, char *tok)
{
    json_t *args = json_pack("{s:s, s:s}", "name", name, "role", role);
    if (days)
        json_object_set_new(args, "expires_days", json_integer(days));
    json_t *r = s_run(f, "token.add", args, NULL);
    assert_true(pl_fakectx_ok(r));
    const char *t = json_string_value(
        json_object_get(json_object_get(r, "result"), "token"));
    assert_non_null(t);
    assert_int_equal(strlen(t), PL_SESSION_TOKEN_HEX);
    memcpy(tok, t, PL_SESSION_TOKEN_HEX + 1);
    json_decref(r);
}

// How many tokens token.list shows, and that no row holds a token.
static size_t
s_count(pl_fakectx_t *f)
{
    json_t *r = s_run(f, "token.list", NULL, NULL);
    assert_true(pl_fakectx_ok(r));
    json_t *list = json_object_get(r, "result");
    size_t i, n = json_array_size(list);
    json_t *row;
    json_array_foreach(list, i, row)
    {
        assert_null(json_object_get(row, "token"));
        assert_non_null(json_object_get(row, "role"));
    }
    json_decref(r);
    return n;
}

// The gate's decision for 'cmd' (with 'args', may be NULL) and 'tok'.
static char *
s_gate(pl_fakectx_t *f, const char *cmd, const json_t *args, const char *tok,
       pl_session_info_t *who, bool *is_token)
{
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    const pl_ctl_cmd_t *row = pl_node_ctl_find(cmd);
    char *reply = pl_token_gate(txn, pl_sessions_now(f->sessions), cmd, args,
                                row ? PL_CTL_ROLES_OF(row->flags) : 0, tok, who,
                                is_token);
    pl_store_abort(&txn);
    return reply;
}

static bool
s_refused(char *reply, const char *code, const char *text)
{
    bool hit = reply && strstr(reply, code) && strstr(reply, text);
    free(reply);
    return hit;
}

static void
test_add_list_revoke(void **state)
{
    pl_fakectx_t *f = *state;
    char tok[PL_SESSION_TOKEN_HEX + 1], tok2[PL_SESSION_TOKEN_HEX + 1];
    assert_int_equal(s_count(f), 0);
    s_add(f, "ehr", "case-manager", 0, tok);
    assert_int_equal(s_count(f), 1);
    // one live token per name
    int rc;
    json_t *r =
        s_run(f, "token.add",
              json_pack("{s:s, s:s}", "name", "ehr", "role", "admin"), &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_EEXIST");
    json_decref(r);
    assert_int_equal(s_count(f), 1);
    // the store never holds the token's text
    char path[4096];
    snprintf(path, sizeof path, "%s/store/data.mdb", f->ts.home);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static char data[8u << 20];
    size_t n = fread(data, 1, sizeof data, fp);
    fclose(fp);
    assert_null(memmem(data, n, tok, PL_SESSION_TOKEN_HEX));
    // revoke, again (no live one), and a new one of that name
    r = s_run(f, "token.revoke", json_pack("{s:s}", "name", "ehr"), &rc);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    r = s_run(f, "token.revoke", json_pack("{s:s}", "name", "ehr"), &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_ENOTFOUND");
    json_decref(r);
    s_add(f, "ehr", "provider", 0, tok2);
    assert_int_equal(s_count(f), 2);
    assert_string_not_equal(tok, tok2);
}

static void
test_refusals(void **state)
{
    pl_fakectx_t *f = *state;
    static const char *const bad[][3] = {
        {"Bad Name", "case-manager", NULL},
        {"", "case-manager", NULL},
        {"ok", "root", NULL},
        {"ok", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *args = json_object();
        json_object_set_new(args, "name", json_string(bad[i][0]));
        if (bad[i][1])
            json_object_set_new(args, "role", json_string(bad[i][1]));
        json_t *r = s_run(f, "token.add", args, NULL);
        assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
        json_decref(r);
    }
    json_t *days[] = {json_integer(0), json_integer(PL_TOKEN_DAYS_MAX + 1),
                      json_string("7")};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = s_run(f, "token.add",
                          json_pack("{s:s, s:s, s:o}", "name", "ok", "role",
                                    "admin", "expires_days", days[i]),
                          NULL);
        assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
        json_decref(r);
    }
    char longname[PL_TOKEN_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    json_t *r =
        s_run(f, "token.add",
              json_pack("{s:s, s:s}", "name", longname, "role", "admin"), NULL);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    json_decref(r);
    assert_int_equal(s_count(f), 0); // nothing stored
}

static void
test_gate(void **state)
{
    pl_fakectx_t *f = *state;
    char cm[PL_SESSION_TOKEN_HEX + 1], prov[PL_SESSION_TOKEN_HEX + 1],
        brief[PL_SESSION_TOKEN_HEX + 1];
    s_add(f, "ehr", "case-manager", 0, cm);
    s_add(f, "lab", "provider", 0, prov);
    s_add(f, "brief", "case-manager", 1, brief);
    pl_session_info_t who;
    bool is_token;
    // a valid token: its role decides, and it acts as api:NAME
    assert_null(s_gate(f, "case.add", NULL, cm, &who, &is_token));
    assert_true(is_token);
    assert_string_equal(who.name, "api:ehr");
    assert_int_equal(who.role, PL_ROLE_CASE_MANAGER);
    json_t *accept = json_pack("{s:s}", "event", "accept");
    json_t *cancel = json_pack("{s:s}", "event", "cancel");
    assert_null(s_gate(f, "referral.act", accept, prov, &who, &is_token));
    assert_true(
        s_refused(s_gate(f, "referral.act", accept, cm, &who, &is_token),
                  "PL_EPERM", "case-manager"));
    assert_null(s_gate(f, "referral.act", cancel, cm, &who, &is_token));
    assert_true(s_refused(s_gate(f, "network", NULL, cm, &who, &is_token),
                          "PL_EPERM", "may not"));
    // the owner's commands stay the owner's: no token manages tokens
    assert_true(s_refused(s_gate(f, "token.add", NULL, cm, &who, &is_token),
                          "PL_EPERM", "may not"));
    // four eyes hold for tokens too
    json_t *ov = json_pack("{s:s}", "override_justification", "x");
    assert_true(s_refused(s_gate(f, "refer", ov, cm, &who, &is_token),
                          "PL_EPERM", "override"));
    // not a token: the session table decides (is_token false, no reply)
    assert_null(s_gate(f, "case.add", NULL, "ab", &who, &is_token));
    assert_false(is_token);
    char other[PL_SESSION_TOKEN_HEX + 1];
    memset(other, 'c', PL_SESSION_TOKEN_HEX);
    other[PL_SESSION_TOKEN_HEX] = 0;
    assert_null(s_gate(f, "case.add", NULL, other, &who, &is_token));
    assert_false(is_token);
    // expired after its day; revoked at once
    assert_null(s_gate(f, "case.add", NULL, brief, &who, &is_token));
    pl_sessions_advance(f->sessions, 86400 + 1);
    assert_true(s_refused(s_gate(f, "case.add", NULL, brief, &who, &is_token),
                          "PL_EAUTH", "expired"));
    assert_null(s_gate(f, "case.add", NULL, cm, &who, &is_token));
    json_t *r =
        s_run(f, "token.revoke", json_pack("{s:s}", "name", "ehr"), NULL);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    assert_true(s_refused(s_gate(f, "case.add", NULL, cm, &who, &is_token),
                          "PL_EAUTH", "revoked"));
    assert_true(is_token);
    json_decref(accept);
    json_decref(cancel);
    json_decref(ov);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_list_revoke,
                                        pl_fakectx_setup_sessions,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(
            test_refusals, pl_fakectx_setup_sessions, pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_gate, pl_fakectx_setup_sessions,
                                        pl_fakectx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
