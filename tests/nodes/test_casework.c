// test_casework - the casework rows of issue 17 run through the one walker
// on a fake handler context (a temp store, fresh keys, no daemon): closure
// rules, safeguarding items, plan versions and a child's plan, the
// programme's own weights table, the report figures, sealing (canaries
// found in no file) and erasure of the casework with the case.
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

#include "nodes/pl_case_int.h"
#include "nodes/pl_casework.h"
#include "nodes/pl_node_ctl.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"
#include "tests/lib/pl_test.h"

// This node: an agency (tests/lib/nodes/pl_fakectx.h), an empty directory.
static int
s_setup(void **state)
{
    *state = pl_fakectx_new("casework", "agency", "agency");
    return 0;
}

// Runs 'cmd' (args stolen) as the control dispatch does; the reply's
// "result" (or the whole reply when it failed), *rc the handler's code.
static json_t *
s_run(pl_fakectx_t *f, const char *cmd, json_t *args, int *rc)
{
    return pl_fakectx_unwrap(pl_fakectx_run(f, cmd, args, "fatou", rc));
}

// Runs 'cmd' and checks its code; frees the reply.
static void
s_want(pl_fakectx_t *f, const char *cmd, json_t *args, int want)
{
    int rc;
    json_t *r = s_run(f, cmd, args, &rc);
    if (rc != want) {
        char *t = json_dumps(r, 0);
        fprintf(stderr, "%s: rc %d, wanted %d: %s\n", cmd, rc, want, t);
        free(t);
    }
    assert_int_equal(rc, want);
    json_decref(r);
}

static void
s_case(pl_fakectx_t *f, const char *birth, char id[33])
{
    int rc;
    json_t *r = s_run(f, "case.add",
                      json_pack("{s:s, s:s, s:s}", "given", "Awa", "family",
                                "Diop", "birth", birth),
                      &rc);
    assert_int_equal(rc, PL_OK);
    snprintf(id, 33, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
}

static json_t *
s_timeline(pl_fakectx_t *f, const char *id)
{
    int rc;
    json_t *t = s_run(f, "case.timeline", json_pack("{s:s}", "case", id), &rc);
    assert_int_equal(rc, PL_OK);
    return t;
}

static json_t *
s_answers(int rank)
{
    json_t *a = json_object();
    const char *dims = "ESP";
    int n[] = {8, 9, 8};
    for (int d = 0; d < 3; d++)
        for (int i = 1; i <= n[d]; i++) {
            char k[16];
            snprintf(k, sizeof k, "%c%d", dims[d], i);
            json_object_set_new(a, k, json_integer(rank));
        }
    // the y/n items take yes/no
    const char *yn[] = {"E3", "E6", "E8", "S3", "S6", "P6", "P8"};
    for (size_t i = 0; i < 7; i++)
        json_object_set_new(a, yn[i], json_string(rank > 2 ? "yes" : "no"));
    json_object_set_new(a, "E5", json_integer(rank > 2 ? 3 : 1)); // 3-point
    return a;
}

static void
s_rss(pl_fakectx_t *f, const char *id, const char *tp, int rank)
{
    s_want(f, "rss.add",
           json_pack("{s:s, s:s, s:{s:o}}", "case", id, "timepoint", tp,
                     "record", "answers", s_answers(rank)),
           PL_OK);
}

static void
test_close_rules(void **state)
{
    pl_fakectx_t *f = *state;
    char a[33], b[33];
    s_case(f, "1990-01-01", a);
    s_case(f, "1990-01-01", b);
    // a case without casework closes as before, with any code
    s_want(f, "case.close", json_pack("{s:s, s:s}", "id", a, "reason", "done"),
           PL_OK);
    s_want(f, "followup.schedule",
           json_pack("{s:s, s:s}", "case", b, "return_date", "2026-01-10"),
           PL_OK);
    s_want(f, "case.close", json_pack("{s:s, s:s}", "id", b, "reason", "done"),
           PL_EINVAL);
    s_want(f, "case.close",
           json_pack("{s:s, s:s}", "id", b, "reason", "lost-contact"),
           PL_ESTATE);
    s_want(f, "rss.skip", json_pack("{s:s, s:s}", "case", b, "reason", "a b"),
           PL_EINVAL);
    s_want(f, "rss.skip",
           json_pack("{s:s, s:s}", "case", b, "reason", "lost-contact"), PL_OK);
    s_want(f, "case.close",
           json_pack("{s:s, s:s}", "id", b, "reason", "lost-contact"), PL_OK);
    json_t *t = s_timeline(f, b);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(t, "schedule"), i, e)
        assert_string_equal(json_string_value(json_object_get(e, "state")),
                            "closed");
    assert_int_equal(i, 6);
    json_decref(t);
    // a closed case takes no more casework
    s_want(f, "assess.add",
           json_pack("{s:s, s:s}", "case", b, "type", "skills"), PL_ESTATE);
}

// A referral of case 'hex' to a 'sector' node, written as the sender's
// record would be (sealed under the case key), made now.
static void
s_put_referral(pl_fakectx_t *f, const char *hex, const char *sector)
{
    uint8_t cid[16], rid[16], hdr[PL_CASE_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_unhex(cid, 16, hex), PL_OK);
    memset(rid, 0x5a, sizeof rid);
    rid[0] = (uint8_t) sector[0];
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &txn), PL_OK);
    assert_int_equal(pl_case_get(txn, cid, hdr, dk, &doc), PL_OK);
    json_decref(doc);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "dir", "out", "peer",
                    "sn/cp", "case", hex, "sector", sector, "created",
                    (json_int_t) pl_now(), "due", (json_int_t) 0, "status",
                    "requested");
    assert_int_equal(pl_case_ref_put(txn, rid, hdr, dk, doc), PL_OK);
    assert_int_equal(pl_store_commit(&txn), PL_OK);
    json_decref(doc);
}

static void
test_safeguarding(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33];
    s_case(f, "1990-01-01", c);
    s_want(f, "assess.add",
           json_pack("{s:s, s:s, s:{s:[s,s]}}", "case", c, "type", "rapid_vuln",
                     "record", "flags", "health", "abuse"),
           PL_OK);
    s_want(f, "assess.add",
           json_pack("{s:s, s:s, s:{s:[s]}}", "case", c, "type", "rapid_vuln",
                     "record", "flags", "health"),
           PL_OK);
    s_want(f, "followup.schedule",
           json_pack("{s:s, s:s}", "case", c, "return_date", "2026-01-10"),
           PL_OK);
    s_want(f, "followup.add",
           json_pack("{s:s, s:{s:s, s:b, s:b, s:s}}", "case", c, "record",
                     "mode", "phone", "contact_made", 1, "safeguarding_concern",
                     1, "safeguarding_reason", "she refused a referral"),
           PL_OK);
    s_want(f, "followup.add",
           json_pack("{s:s, s:{s:s, s:b, s:b}}", "case", c, "record", "mode",
                     "home_visit", "contact_made", 1, "safeguarding_concern",
                     1),
           PL_OK);
    json_t *t = s_timeline(f, c);
    assert_int_equal(
        json_integer_value(json_object_get(t, "open_safeguarding")), 2);
    json_t *sg = json_object_get(t, "safeguarding");
    assert_int_equal(json_array_size(sg), 3);
    assert_true(json_is_true(json_object_get(json_array_get(sg, 0), "open")));
    assert_false(json_is_true(json_object_get(json_array_get(sg, 1), "open")));
    json_decref(t);
    // bad records change nothing
    s_want(f, "followup.add",
           json_pack("{s:s, s:{s:s, s:b, s:i}}", "case", c, "record", "mode",
                     "phone", "contact_made", 1, "satisfaction", 6),
           PL_EINVAL);
    s_want(f, "followup.add",
           json_pack("{s:s, s:{s:s, s:b, s:s}}", "case", c, "record", "mode",
                     "phone", "contact_made", 1, "nope", "x"),
           PL_EINVAL);
    t = s_timeline(f, c);
    assert_int_equal(json_array_size(json_object_get(t, "followups")), 2);
    json_decref(t);
    // a referral to a health node closes nothing; a child-protection
    // referral made since closes both open items
    s_put_referral(f, c, "health");
    t = s_timeline(f, c);
    assert_int_equal(
        json_integer_value(json_object_get(t, "open_safeguarding")), 2);
    json_decref(t);
    s_put_referral(f, c, "child-protection");
    t = s_timeline(f, c);
    assert_int_equal(
        json_integer_value(json_object_get(t, "open_safeguarding")), 0);
    assert_int_equal(json_array_size(json_object_get(t, "referrals")), 2);
    json_decref(t);
}

static void
test_plan_versions_child(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33];
    s_case(f, "2016-03-01", c); // a child
    json_t *plan = json_pack(
        "{s:{s:s}, s:[{s:s, s:s, s:s, s:i, s:s}]}", "goals", "social",
        "back to school", "items", "dimension", "social", "kind", "direct",
        "assistance", "in_kind", "amount", 20000, "currency", "XOF");
    s_want(f, "plan.set", json_pack("{s:s, s:O}", "case", c, "record", plan),
           PL_EINVAL);
    json_object_set_new(plan, "child_participation", json_string("drew it"));
    json_object_set_new(plan, "bia_revisited", json_string("2026-11-02"));
    s_want(f, "plan.set", json_pack("{s:s, s:O}", "case", c, "record", plan),
           PL_OK);
    s_want(f, "plan.set", json_pack("{s:s, s:O}", "case", c, "record", plan),
           PL_OK);
    json_decref(plan);
    s_want(f, "plan.set",
           json_pack("{s:s, s:{s:[{s:s, s:s, s:s}]}}", "case", c, "record",
                     "items", "dimension", "social", "kind", "referral",
                     "referral", "00112233445566778899aabbccddeeff"),
           PL_EINVAL);
    s_want(f, "assess.add",
           json_pack("{s:s, s:s}", "case", c, "type", "family"), PL_EINVAL);
    s_want(f, "assess.add",
           json_pack("{s:s, s:s, s:{s:s}}", "case", c, "type", "family",
                     "record", "family_tracing", "mother found"),
           PL_OK);
    s_want(f, "assess.add", json_pack("{s:s, s:s}", "case", c, "type", "risk"),
           PL_EINVAL);
    json_t *t = s_timeline(f, c);
    assert_true(json_is_true(json_object_get(t, "child")));
    assert_int_equal(json_array_size(json_object_get(t, "plans")), 2);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(t, "plan"), "version")),
                     2);
    json_decref(t);
}

static void
test_weights_load(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33];
    s_case(f, "1990-01-01", c);
    json_t *tab = json_pack(
        "{s:s, s:i, s:{s:{s:i, s:{s:{s:i, s:i}}}, s:{s:i, s:{s:{s:i, s:i}}}, "
        "s:{s:i, s:{s:{s:i, s:i}}}}}",
        "weights_version", "prog-2027", "missing_max_permille", 0, "dimensions",
        "economic", "weight", 2, "items", "X1", "scale", 3, "weight", 1,
        "social", "weight", 1, "items", "Y1", "scale", 5, "weight", 1,
        "psychosocial", "weight", 1, "items", "Z1", "scale", 2, "weight", 1);
    s_want(f, "rss.weights.load",
           json_pack("{s:{s:s}}", "table", "weights_version", "x"), PL_EINVAL);
    s_want(f, "rss.weights.load", json_pack("{s:o}", "table", tab), PL_OK);
    int rc;
    // the items of the table in force, for the web form (issue 20)
    json_t *wq = s_run(f, "rss.weights", json_object(), &rc);
    assert_int_equal(rc, PL_OK);
    char *qs = json_dumps(json_object_get(wq, "questions"),
                          JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(qs, "[{\"code\":\"X1\",\"dimension\":\"economic\","
                            "\"scale\":3},{\"code\":\"Y1\",\"dimension\":"
                            "\"social\",\"scale\":5},{\"code\":\"Z1\","
                            "\"dimension\":\"psychosocial\",\"scale\":2}]");
    free(qs);
    json_decref(wq);
    json_t *r = s_run(f, "rss.add",
                      json_pack("{s:s, s:s, s:{s:{s:i, s:i, s:s}}}", "case", c,
                                "timepoint", "baseline", "record", "answers",
                                "X1", 2, "Y1", 2, "Z1", "yes"),
                      &rc);
    assert_int_equal(rc, PL_OK);
    assert_string_equal(
        json_string_value(json_object_get(r, "weights_version")), "prog-2027");
    assert_false(json_is_true(json_object_get(r, "placeholder_weights")));
    // (2 * 0.5 + 0.25 + 1) / 4 = 0.5625 -> 563
    assert_int_equal(json_integer_value(json_object_get(r, "composite")), 563);
    assert_string_equal(
        json_string_value(json_object_get(r, "suggested_sector")),
        "social-protection");
    json_decref(r);
    // the latest survey's lowest dimension is what service matching weighs
    // (issue 18); a case with no survey has none
    char other[33], low[16];
    s_case(f, "1990-01-01", other);
    uint8_t id[PL_CASE_ID], oid[PL_CASE_ID];
    assert_int_equal(pl_unhex(id, sizeof id, c), PL_OK);
    assert_int_equal(pl_unhex(oid, sizeof oid, other), PL_OK);
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    assert_int_equal(pl_casework_lowest(txn, id, low, sizeof low), PL_OK);
    assert_string_equal(low, "social");
    assert_int_equal(pl_casework_lowest(txn, oid, low, sizeof low), PL_OK);
    assert_string_equal(low, "");
    pl_store_abort(&txn);
    // the default answers no longer fit: E1 is not in this table
    s_want(f, "rss.add",
           json_pack("{s:s, s:s, s:{s:{s:i}}}", "case", c, "timepoint",
                     "midline", "record", "answers", "E1", 3),
           PL_EINVAL);
}

static void
test_report_figures(void **state)
{
    pl_fakectx_t *f = *state;
    char a[33], b[33], c[33];
    s_case(f, "1990-01-01", a);
    s_case(f, "1990-01-01", b);
    s_case(f, "1990-01-01", c);
    s_rss(f, a, "baseline", 1); // all unfavourable but reversed ones
    s_rss(f, b, "baseline", 5);
    s_rss(f, a, "endline", 5);
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    json_t *out = json_object();
    assert_int_equal(pl_rss_report_figures(txn, out), PL_OK);
    pl_store_abort(&txn);
    char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    assert_null(strstr(text, a));
    assert_null(strstr(text, b));
    json_t *base = json_object_get(out, "baseline"),
           *end = json_object_get(out, "endline");
    assert_int_equal(json_integer_value(json_object_get(base, "n")), 2);
    assert_int_equal(json_integer_value(json_object_get(end, "n")), 1);
    // rank 1: E2, E4 reversed = 1, the rest 0: 2/8 -> 250; rank 5 / yes:
    // E2, E4 reversed 0: 6/8 -> 750
    json_t *eb = json_object_get(base, "economic");
    assert_int_equal(json_integer_value(json_object_get(eb, "200-399")), 1);
    assert_int_equal(json_integer_value(json_object_get(eb, "600-799")), 1);
    assert_int_equal(json_integer_value(json_object_get(eb, "0-199")), 0);
    int sum = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(end, "composite"), k, v) sum +=
        (int) json_integer_value(v);
    assert_int_equal(sum, 1);
    free(text);
    json_decref(out);
}

// Canaries in plan goals, follow-up notes and assessment notes are in no
// file; survey responses are not in clear; erasing the case removes its
// casework record.
static void
test_sealed_and_erased(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33];
    s_case(f, "1990-01-01", c);
    const char *goal = "CnryGoalQx81", *note = "CnryNoteQx82",
               *an = "CnryAssessQx83";
    s_want(f, "plan.set",
           json_pack("{s:s, s:{s:{s:s}}}", "case", c, "record", "goals",
                     "economic", goal),
           PL_OK);
    s_want(f, "assess.add",
           json_pack("{s:s, s:s, s:{s:s}}", "case", c, "type", "skills",
                     "record", "notes", an),
           PL_OK);
    s_want(f, "followup.schedule",
           json_pack("{s:s, s:s}", "case", c, "return_date", "2026-01-10"),
           PL_OK);
    s_want(f, "followup.add",
           json_pack("{s:s, s:{s:s, s:b, s:s}}", "case", c, "record", "mode",
                     "office", "contact_made", 1, "notes", note),
           PL_OK);
    s_rss(f, c, "baseline", 4);
    assert_int_equal(pl_test_grep_tree(f->ts.home, goal, strlen(goal)), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, note, strlen(note)), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, an, strlen(an)), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "\"responses\"", 11), 0);
    s_want(f, "erase", json_pack("{s:s}", "case", c), PL_OK);
    pl_txn_t *txn = NULL;
    uint8_t id[16], k[17];
    assert_int_equal(pl_unhex(id, 16, c), PL_OK);
    pl_case_rkey(k, 'k', id);
    const uint8_t *v;
    size_t vl;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    assert_int_equal(pl_store_get(txn, PL_DB_CASES, k, sizeof k, &v, &vl),
                     PL_ENOTFOUND);
    pl_store_abort(&txn);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_rules, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_safeguarding, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_plan_versions_child, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_weights_load, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_report_figures, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_sealed_and_erased, s_setup,
                                        pl_fakectx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
