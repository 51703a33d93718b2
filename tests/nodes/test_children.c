// test_children - issue 8 end to end with a real broker and five real
// node processes, all through the `passerelle` CLI:
//   * a child without a guardian's consent (and the child's views):
//     refused; with them: sent, the views travel;
//   * a separated child without a best-interests assessment: refused;
//     with `case bia`: sent, and the child-protection node of the region
//     lists the cp-notification (kind, from, referral, region, times: no
//     name);
//   * a sender in a region without a child-protection node: refused with
//     a message naming the region, the case untouched;
//   * consent withdrawal: open referrals cancelled, every holder erases
//     and confirms; afterwards no record at a holder opens with any key it
//     still has and shows the case's marker (test.probe hook);
//   * erase: refused while a referral is open; then the same check at the
//     owner, `audit verify` passes, `case show` reports the erasure;
//   * the markers are in no file under any home and no log.
// Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { AG = 0, CL = 1, SC = 2, CP = 3, TH = 4, N = 5 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};
static const char *const s_hooks[] = {"PASSERELLE_TEST_HOOKS=1", NULL};

// The first line of a successful command's output (malloc'd), or NULL
// with *err (malloc'd) set to the output.
static char *s_line(char **err, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *
s_line(char **err, int i, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = NULL;
    int rc = pl_testnode_cli(&o, &s_net, i, "%s", args);
    if (rc != 0) {
        if (err)
            *err = o;
        else
            free(o);
        return NULL;
    }
    o[strcspn(o, "\n")] = 0;
    return o;
}

static void
s_wait_status(int i, const char *id, const char *want)
{
    char got[32] = "";
    for (int k = 0; k < 300; k++) {
        json_t *d = pl_testnode_json(&s_net, i, "show %s", id);
        const char *s = json_string_value(json_object_get(d, "status"));
        snprintf(got, sizeof got, "%s", s ? s : "");
        json_decref(d);
        if (strcmp(got, want) == 0)
            return;
        pl_test_sh(NULL, "sleep 0.1");
    }
    fprintf(stderr, "referral %s at node %d: '%s', want '%s'\n", id, i, got,
            want);
    PL_CHECK(0);
}

static void
s_wait_directory(int i)
{
    size_t n = 0;
    for (int k = 0; k < 300 && n < N; k++) {
        json_t *d = pl_testnode_json(&s_net, i, "directory");
        n = json_array_size(d);
        json_decref(d);
        if (n < N)
            pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(n >= N);
}

static bool
s_audit_ok(int i, long *entries)
{
    json_t *d = pl_testnode_json(&s_net, i, "audit verify");
    bool ok = d && json_is_true(json_object_get(d, "ok"));
    if (entries)
        *entries = (long) json_integer_value(json_object_get(d, "entries"));
    json_decref(d);
    return ok;
}

// test.probe at node i: how many records open with a key the node still
// has and contain 'needle'. 'opened' (may be NULL) gets how many open.
static long
s_probe(int i, const char *needle, long *opened)
{
    json_t *args = json_pack("{s:[s]}", "needles", needle);
    json_t *res = NULL;
    char e[256];
    int rc = cli_control_call(s_net.home[i], "test.probe", args, NULL, 10000,
                              &res, e, sizeof e);
    json_decref(args);
    if (rc != CLI_CONTROL_OK)
        fprintf(stderr, "probe: %s\n", e);
    PL_CHECK(rc == CLI_CONTROL_OK);
    long m = (long) json_integer_value(json_object_get(res, "matches"));
    if (opened)
        *opened = (long) json_integer_value(json_object_get(res, "opened"));
    json_decref(res);
    return m;
}

// A case with the marker in the family name, on stdin. Returns its id.
static char *
s_case(int i, const char *given, const char *family, const char *birth,
       const char *uasc)
{
    char *o = NULL;
    char extra[64] = "";
    if (uasc)
        snprintf(extra, sizeof extra, ",\"uasc\":\"%s\"", uasc);
    PL_CHECK(pl_test_sh(&o,
                        "printf '%%s' '{\"given\":\"%s\",\"family\":\"%s\","
                        "\"birth\":\"%s\",\"phone\":\"+221770009988\"%s}' | "
                        "'%s' --home '%s' case add --stdin",
                        given, family, birth, extra, pl_test_bin("passerelle"),
                        s_net.home[i])
             == 0);
    o[strcspn(o, "\n")] = 0;
    return o;
}

static void
s_children(const char *m1, const char *m2, char **uasc_case, char **r_cl,
           char **r_sc, char **guardian_case)
{
    char *err = NULL, fam[64];

    // ---- a child with an accompanied status: the guardian decides
    snprintf(fam, sizeof fam, "Ba%s", m1);
    char *c1 = s_case(AG, "Moussa", fam, "2015-03-01", NULL);
    PL_CHECK(
        pl_testnode_cli(NULL, &s_net, AG,
                        "consent add --case %s --sectors health --given-by "
                        "returnee --expires 2099-12-31",
                        c1)
        == 0);
    PL_CHECK(!s_line(&err, AG, "refer --case %s --to clinic --service svc", c1)
             && strstr(err, "consent") && strstr(err, "guardian"));
    free(err);
    PL_CHECK(pl_testnode_cli(
                 NULL, &s_net, AG,
                 "consent add --case %s --sectors health --given-by "
                 "guardian --guardian-name 'Awa Ba' --expires 2099-12-31",
                 c1)
             == 0);
    PL_CHECK(!s_line(&err, AG, "refer --case %s --to clinic --service svc", c1)
             && strstr(err, "consent") && strstr(err, "views"));
    free(err);
    PL_CHECK(
        pl_testnode_cli(NULL, &s_net, AG,
                        "consent add --case %s --sectors health --given-by "
                        "guardian --guardian-name 'Awa Ba' --child-views "
                        "'wants to see a doctor' --expires 2099-12-31",
                        c1)
        == 0);
    char *r1 =
        s_line(&err, AG, "refer --case %s --to clinic --service svc", c1);
    if (!r1)
        fprintf(stderr, "guardian referral: %s\n", err);
    PL_CHECK(r1);
    s_wait_status(AG, r1, "received");
    json_t *d = pl_testnode_json(&s_net, CL, "show %s", r1);
    const char *views = json_string_value(
        json_object_get(json_object_get(d, "consent"), "child_views"));
    PL_CHECK(views && strcmp(views, "wants to see a doctor") == 0);
    json_decref(d);
    free(r1);

    // ---- a separated child: a best-interests assessment is required
    snprintf(fam, sizeof fam, "Sow%s", m2);
    char *c2 = s_case(AG, "Ibrahima", fam, "2011-07-15", "separated");
    PL_CHECK(pl_testnode_cli(NULL, &s_net, AG,
                             "consent add --case %s --sectors health,education "
                             "--given-by returnee --expires 2099-12-31",
                             c2)
             == 0);
    PL_CHECK(!s_line(&err, AG, "refer --case %s --to clinic --service svc", c2)
             && strstr(err, "best-interests"));
    free(err);
    PL_CHECK(pl_testnode_cli(NULL, &s_net, AG,
                             "case bia --case %s --ref BIA-2025-017 --date "
                             "2025-01-10",
                             c2)
             == 0);
    *r_cl = s_line(&err, AG,
                   "refer --case %s --to clinic --service svc "
                   "--priority urgent",
                   c2);
    if (!*r_cl)
        fprintf(stderr, "uasc referral: %s\n", err);
    PL_CHECK(*r_cl);
    *r_sc = s_line(&err, AG, "refer --case %s --to school --service enrol", c2);
    PL_CHECK(*r_sc);
    s_wait_status(AG, *r_cl, "received");
    s_wait_status(AG, *r_sc, "received");
    json_t *cshow = pl_testnode_json(&s_net, CL, "show %s", *r_cl);
    PL_CHECK(cshow
             && strcmp(json_string_value(json_object_get(cshow, "uasc")),
                       "separated")
                    == 0);
    json_decref(cshow);

    // the child-protection node lists both notifications, minimum fields
    json_t *n = NULL;
    for (int k = 0; k < 300; k++) {
        json_decref(n);
        n = pl_testnode_json(&s_net, CP, "notifications");
        if (json_array_size(n) >= 2)
            break;
        pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(json_array_size(n) == 2);
    bool seen_cl = false;
    size_t i;
    json_t *e;
    json_array_foreach(n, i, e)
    {
        PL_CHECK(json_object_size(e) == 6); // kind from referral region at
                                            // received
        PL_CHECK(!strcmp(json_string_value(json_object_get(e, "kind")),
                         "separated"));
        PL_CHECK(!strcmp(json_string_value(json_object_get(e, "from")),
                         s_net.address[AG]));
        PL_CHECK(
            !strcmp(json_string_value(json_object_get(e, "region")), "dakar"));
        seen_cl = seen_cl
                  || !strcmp(json_string_value(json_object_get(e, "referral")),
                             *r_cl);
    }
    PL_CHECK(seen_cl);
    char *text = json_dumps(n, 0);
    PL_CHECK(text && !strstr(text, m2) && !strstr(text, "Ibrahima"));
    free(text);
    json_decref(n);
    char *o = NULL;
    PL_CHECK(pl_testnode_cli(&o, &s_net, CP, "notifications") == 0
             && strstr(o, "separated"));
    free(o);

    // ---- a region without a child-protection node: refused, case kept
    char *c3 = s_case(TH, "Khady", "Ndiaye", "2012-02-02", "unaccompanied");
    PL_CHECK(
        pl_testnode_cli(NULL, &s_net, TH,
                        "consent add --case %s --sectors health --given-by "
                        "returnee --expires 2099-12-31",
                        c3)
        == 0);
    PL_CHECK(pl_testnode_cli(NULL, &s_net, TH,
                             "case bia --case %s --ref BIA-9 --date 2025-02-01",
                             c3)
             == 0);
    json_t *before = pl_testnode_json(&s_net, TH, "case show %s", c3);
    long a0 = 0, a1 = 0;
    PL_CHECK(s_audit_ok(TH, &a0));
    PL_CHECK(!s_line(&err, TH, "refer --case %s --to clinic --service svc", c3)
             && strstr(err, "child-protection") && strstr(err, "thies")
             && strstr(err, "case is unchanged"));
    free(err);
    PL_CHECK(s_audit_ok(TH, &a1) && a1 == a0 + 1); // the refusal is audited
    json_t *after = pl_testnode_json(&s_net, TH, "case show %s", c3);
    PL_CHECK(before && after && json_equal(before, after));
    PL_CHECK(json_array_size(json_object_get(after, "referrals")) == 0);
    json_decref(before);
    json_decref(after);
    free(c3);
    *uasc_case = c2;
    *guardian_case = c1;
}

int
main(void)
{
    uint64_t rng = pl_test_seed();
    char m1[40], m2[40];
    snprintf(m1, sizeof m1, "MRKa%016llx",
             (unsigned long long) pl_test_rand(&rng));
    snprintf(m2, sizeof m2, "MRKb%016llx",
             (unsigned long long) pl_test_rand(&rng));
    const char *const specs[] = {"agency:agency", "clinic:health",
                                 "school:education", "cpu:child-protection",
                                 "thies:agency:thies"};
    pl_test_net_init(&s_net, "children", specs, N);
    pl_test_net_start_broker(&s_net, NULL);
    for (int i = 0; i < N; i++)
        pl_testnode_start(&s_net, i, s_fast, s_hooks);
    for (int i = 0; i < N; i++)
        s_wait_directory(i);

    char *c2 = NULL, *r_cl = NULL, *r_sc = NULL, *c1 = NULL;
    s_children(m1, m2, &c2, &r_cl, &r_sc, &c1);

    // ---- withdrawal: the clinic has accepted; both holders hold the data
    PL_CHECK(pl_testnode_cli(NULL, &s_net, CL, "accept %s", r_cl) == 0);
    s_wait_status(AG, r_cl, "accepted");
    PL_CHECK(s_probe(CL, m2, NULL) > 0); // the probe does see the data
    PL_CHECK(s_probe(SC, m2, NULL) > 0);
    char *o = NULL;
    PL_CHECK(pl_testnode_cli(&o, &s_net, AG,
                             "--as 'Fatou Sarr' consent withdraw --case %s", c2)
                 == 0
             && strstr(o, "2 referral(s) cancelled")
             && strstr(o, "erasure asked of 2 node(s)"));
    free(o);
    s_wait_status(AG, r_cl, "cancelled");
    json_t *cs = NULL;
    size_t confirmed = 0;
    for (int k = 0; k < 300 && confirmed < 2; k++) {
        json_decref(cs);
        cs = pl_testnode_json(&s_net, AG, "case show %s", c2);
        json_t *w = json_array_get(json_object_get(cs, "withdrawals"), 0);
        const char *hk;
        json_t *hv;
        confirmed = 0;
        json_object_foreach(json_object_get(w, "holders"), hk, hv) confirmed +=
            !strcmp(json_string_value(json_object_get(hv, "status")),
                    "confirmed");
        if (confirmed < 2)
            pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(confirmed == 2);
    json_decref(cs);
    PL_CHECK(pl_testnode_cli(&o, &s_net, AG, "case show %s", c2) == 0
             && strstr(o, "confirmed") && strstr(o, s_net.address[CL]));
    free(o);
    for (int i = CL; i <= SC; i++) {
        long opened = 0;
        PL_CHECK(s_probe(i, m2, &opened) == 0);
        PL_CHECK(opened > 0); // other records still open: the probe works
        PL_CHECK(
            pl_testnode_cli(&o, &s_net, i, "show %s", i == CL ? r_cl : r_sc)
            != 0);
        free(o);
        PL_CHECK(s_audit_ok(i, NULL));
    }
    PL_CHECK(s_probe(CP, m2, NULL) == 0);

    // ---- erase: refused while a referral is open, then done
    PL_CHECK(pl_testnode_cli(&o, &s_net, AG, "erase --case %s", c1) == 1
             && strstr(o, "open referral"));
    free(o);
    PL_CHECK(s_probe(AG, m2, NULL) > 0);
    PL_CHECK(
        pl_testnode_cli(&o, &s_net, AG, "--as 'Fatou Sarr' erase --case %s", c2)
            == 0
        && strstr(o, "erased"));
    free(o);
    PL_CHECK(s_probe(AG, m2, NULL) == 0);
    PL_CHECK(s_probe(AG, m1, NULL) > 0); // the other case is intact
    PL_CHECK(s_audit_ok(AG, NULL));
    json_t *er = pl_testnode_json(&s_net, AG, "case show %s", c2);
    PL_CHECK(
        er
        && !strcmp(json_string_value(json_object_get(er, "status")), "erased"));
    PL_CHECK(!strcmp(json_string_value(json_object_get(er, "erased_by")),
                     "Fatou Sarr"));
    PL_CHECK(json_object_get(er, "erased"));
    json_decref(er);
    PL_CHECK(pl_testnode_cli(&o, &s_net, AG, "case show %s", c2) == 0
             && strstr(o, "erased"));
    free(o);
    PL_CHECK(pl_testnode_cli(&o, &s_net, AG, "show %s", r_cl) != 0);
    free(o);

    // ---- the markers: in no file under any home, no log
    for (int i = 0; i < N; i++)
        pl_test_net_stop_node(&s_net, i, false);
    pl_test_net_stop_broker(&s_net, false);
    PL_CHECK(pl_test_grep_tree(s_net.root, m1, strlen(m1)) == 0);
    PL_CHECK(pl_test_grep_tree(s_net.root, m2, strlen(m2)) == 0);
    free(c1);
    free(c2);
    free(r_cl);
    free(r_sc);
    pl_test_net_destroy(&s_net);
    printf("ok: children, withdrawal, erasure\n");
    return 0;
}
