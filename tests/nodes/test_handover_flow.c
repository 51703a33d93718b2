// test_handover_flow - issue 13, the handover of a case, end to end with
// a real broker and five real node processes, all through the
// `passerelle` CLI (DESIGN.md §7.2):
//   * the contract's refusals: no consent to transfer, a recipient that is
//     not an agency, every step made by the wrong side or in the wrong
//     state (each refusal audited), terminal states never reopen;
//   * an adult: sent -> acknowledged -> accepted -> arrived; on acceptance
//     a new case (new id, the data sent) at the receiving node, the host's
//     case closed as transferred;
//   * a child: refused without a best-interests determination; sent with
//     one; the receiving node notifies the child-protection node of ITS
//     region (not the host's), cannot accept before that node's cp-ack;
//   * withdrawal (the receiving node keeps nothing of the case) and
//     rejection (the host's case is its own again);
//   * the purge: the host node restarted with its clock past
//     --handover-keep-days erases the handed-over cases (nothing of them
//     opens with any key it has), keeps the minimal records, and its
//     audit chain still verifies;
//   * the markers (names) are in no file under any home and no log.
// Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { HO = 0, OR = 1, CPK = 2, CPD = 3, CL = 4, N = 5 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};
static const char *const s_host[] = {"--heartbeat-ms", "1000",
                                     "--handover-keep-days", "2", NULL};
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

// Runs a command that must fail with exit status 'want' and print 'needle'.
static void
s_refused(int i, int want, const char *needle, const char *args)
{
    char *o = NULL;
    int rc = pl_testnode_cli(&o, &s_net, i, "%s", args);
    if (rc != want || !o || !strstr(o, needle))
        fprintf(stderr, "node %d '%s': exit %d, want %d with '%s':\n%s\n", i,
                args, rc, want, needle, o ? o : "");
    PL_CHECK(rc == want && o && strstr(o, needle));
    free(o);
}

static json_t *
s_show(int i, const char *h)
{
    return pl_testnode_json(&s_net, i, "handover show %s", h);
}

static const char *
s_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void
s_wait_status(int i, const char *h, const char *want)
{
    char got[32] = "";
    for (int k = 0; k < 300; k++) {
        json_t *d = s_show(i, h);
        snprintf(got, sizeof got, "%s", s_str(d, "status"));
        json_decref(d);
        if (strcmp(got, want) == 0)
            return;
        pl_test_sh(NULL, "sleep 0.1");
    }
    fprintf(stderr, "handover %s at node %d: '%s', want '%s'\n", h, i, got,
            want);
    PL_CHECK(0);
}

// Waits until handover 'h' is known at node i with a key set.
static void
s_wait_key(int i, const char *h, const char *key)
{
    for (int k = 0; k < 300; k++) {
        json_t *d = s_show(i, h);
        bool ok = d && json_object_get(d, key);
        json_decref(d);
        if (ok)
            return;
        pl_test_sh(NULL, "sleep 0.1");
    }
    fprintf(stderr, "handover %s at node %d: no '%s'\n", h, i, key);
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

static long
s_audit(int i)
{
    json_t *d = pl_testnode_json(&s_net, i, "audit verify");
    bool ok = d && json_is_true(json_object_get(d, "ok"));
    long n = (long) json_integer_value(json_object_get(d, "entries"));
    json_decref(d);
    PL_CHECK(ok);
    return n;
}

// test.probe at node i: records that open with a key the node still has
// and contain 'needle'; 'opened' gets how many records opened.
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

// A case at the host, personal data on stdin. Returns its id.
static char *
s_case(const char *given, const char *family, const char *birth,
       const char *uasc)
{
    char *o = NULL, extra[64] = "";
    if (uasc)
        snprintf(extra, sizeof extra, ",\"uasc\":\"%s\"", uasc);
    PL_CHECK(pl_test_sh(&o,
                        "printf '%%s' '{\"given\":\"%s\",\"family\":\"%s\","
                        "\"birth\":\"%s\",\"language\":\"wo\"%s}' | "
                        "'%s' --home '%s' case add --stdin",
                        given, family, birth, extra, pl_test_bin("passerelle"),
                        s_net.home[HO])
             == 0);
    o[strcspn(o, "\n")] = 0;
    return o;
}

static char *
s_send(const char *c, const char *extra)
{
    char *err = NULL;
    char *h = s_line(&err, HO,
                     "--as 'Awa Diop' handover --case %s --to %s --arrival "
                     "2099-06-01 --consent-transfer yes %s",
                     c, s_net.address[OR], extra);
    if (!h)
        fprintf(stderr, "handover: %s\n", err);
    free(err);
    PL_CHECK(h);
    return h;
}

// ---- an adult, the whole way, with every wrong step refused
static void
s_adult(const char *m1, char **c1_out, char **h1_out)
{
    char fam[64], cmd[256];
    snprintf(fam, sizeof fam, "Diallo%s", m1);
    char *c1 = s_case("Mamadou", fam, "1985-04-02", NULL);
    snprintf(cmd, sizeof cmd, "handover --case %s --to %s --arrival 2099-06-01",
             c1, s_net.address[OR]);
    s_refused(HO, 2, "--consent-transfer yes", cmd);
    snprintf(cmd, sizeof cmd,
             "handover --case %s --to %s --arrival 2099-06-01 "
             "--consent-transfer no",
             c1, s_net.address[OR]);
    s_refused(HO, 2, "consent-transfer", cmd);
    snprintf(cmd, sizeof cmd,
             "handover --case %s --to %s --arrival 2099-06-01 "
             "--consent-transfer yes",
             c1, s_net.address[CL]);
    s_refused(HO, 1, "agency node", cmd);
    snprintf(cmd, sizeof cmd,
             "handover --case %s --to %s --arrival 2001-06-01 "
             "--consent-transfer yes",
             c1, s_net.address[OR]);
    s_refused(HO, 1, "today or later", cmd);

    // casework the handover carries (DESIGN.md §7.2): an assessment and
    // the draft plan, personal text on stdin as the staff would give it
    PL_CHECK(pl_test_sh(NULL,
                        "printf '%%s' '{\"notes\":\"Zq9 sleeps badly\"}' | "
                        "'%s' --home '%s' --as 'Awa Diop' assess add --case %s "
                        "--type mhpss --stdin",
                        pl_test_bin("passerelle"), s_net.home[HO], c1)
             == 0);
    PL_CHECK(pl_test_sh(NULL,
                        "printf '%%s' '{\"goals\":{\"economic\":\"Zq9 "
                        "market stall\"}}' | '%s' --home '%s' plan set "
                        "--case %s --stdin",
                        pl_test_bin("passerelle"), s_net.home[HO], c1)
             == 0);
    char *h1 = s_send(c1, "--escort 'IOM escort'");
    json_t *l = pl_testnode_json(&s_net, HO, "handovers --direction out");
    PL_CHECK(json_array_size(l) == 1
             && !strcmp(s_str(json_array_get(l, 0), "status"), "sent"));
    json_decref(l);
    snprintf(cmd, sizeof cmd,
             "handover --case %s --to %s --arrival 2099-06-01 "
             "--consent-transfer yes",
             c1, s_net.address[OR]);
    s_refused(HO, 1, "already being handed over", cmd);
    s_wait_status(OR, h1, "sent");
    json_t *d = s_show(OR, h1);
    json_t *p = json_object_get(d, "person");
    PL_CHECK(!strcmp(s_str(p, "family"), fam)
             && !strcmp(s_str(p, "given"), "Mamadou"));
    PL_CHECK(!strcmp(s_str(d, "escort"), "IOM escort"));
    PL_CHECK(!strcmp(s_str(d, "direction"), "in"));
    json_decref(d);

    // the wrong side, the wrong state: refused and audited
    long a0 = s_audit(HO);
    snprintf(cmd, sizeof cmd, "handover ack %s", h1);
    s_refused(HO, 1, "only the recipient may ack", cmd);
    PL_CHECK(s_audit(HO) == a0 + 1);
    snprintf(cmd, sizeof cmd, "handover accept %s", h1);
    s_refused(OR, 1, "cannot accept a handover that is sent", cmd);
    snprintf(cmd, sizeof cmd, "handover arrived %s", h1);
    s_refused(OR, 1, "cannot record arrived for a handover", cmd);
    snprintf(cmd, sizeof cmd, "handover withdraw %s --reason x", h1);
    s_refused(OR, 1, "only the sender may withdraw", cmd);
    snprintf(cmd, sizeof cmd, "handover reject %s", h1);
    s_refused(OR, 2, "--reason CODE is required", cmd);

    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR,
                             "--as 'Ousmane Faye' handover "
                             "ack %s",
                             h1)
             == 0);
    s_wait_status(HO, h1, "acknowledged");
    snprintf(cmd, sizeof cmd, "handover ack %s", h1);
    s_refused(OR, 1, "cannot ack a handover that is acknowledged", cmd);
    snprintf(cmd, sizeof cmd, "handover no-show %s", h1);
    s_refused(OR, 1, "cannot record no-show", cmd);
    json_t *acc = pl_testnode_json(&s_net, OR, "handover accept %s", h1);
    const char *nc = s_str(acc, "case");
    PL_CHECK(strlen(nc) == 32 && strcmp(nc, c1) != 0); // a new case id
    json_t *cs = pl_testnode_json(&s_net, OR, "case show %s", nc);
    PL_CHECK(!strcmp(s_str(cs, "family"), fam)
             && !strcmp(s_str(cs, "birth"), "1985-04-02")
             && !strcmp(s_str(cs, "status"), "open"));
    PL_CHECK(!strcmp(s_str(json_object_get(cs, "handed_over"), "from"),
                     s_net.address[HO]));
    json_decref(cs);
    json_t *tl = pl_testnode_json(&s_net, OR, "timeline %s", nc);
    json_t *as0 = json_array_get(json_object_get(tl, "assessments"), 0);
    PL_CHECK(!strcmp(s_str(as0, "notes"), "Zq9 sleeps badly")
             && !strcmp(s_str(json_object_get(as0, "received"), "from"),
                        s_net.address[HO])
             && !json_object_get(as0, "by"));
    PL_CHECK(
        !strcmp(s_str(json_object_get(json_object_get(tl, "plan"), "goals"),
                      "economic"),
                "Zq9 market stall"));
    json_decref(tl);
    d = s_show(OR, h1);
    PL_CHECK(!json_object_get(d, "person")); // the package left the record
    PL_CHECK(!strcmp(s_str(d, "case"), nc));
    json_decref(d);
    json_decref(acc);
    s_wait_status(HO, h1, "accepted");
    cs = pl_testnode_json(&s_net, HO, "case show %s", c1);
    PL_CHECK(!strcmp(s_str(cs, "status"), "closed")
             && !strcmp(s_str(cs, "close_reason"), "transferred"));
    json_decref(cs);
    d = s_show(HO, h1);
    PL_CHECK(json_object_get(d, "purge_after"));
    json_decref(d);
    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR, "handover arrived %s", h1) == 0);
    s_wait_status(HO, h1, "arrived");
    snprintf(cmd, sizeof cmd, "handover no-show %s", h1);
    s_refused(OR, 1, "closed and never reopens", cmd);
    snprintf(cmd, sizeof cmd, "handover withdraw %s --reason late", h1);
    s_refused(HO, 1, "closed and never reopens", cmd);
    char *o = NULL;
    PL_CHECK(pl_testnode_cli(&o, &s_net, HO, "handover show %s", h1) == 0
             && strstr(o, "arrived") && strstr(o, "acknowledged")
             && strstr(o, "Ousmane Faye") && strstr(o, "Awa Diop"));
    free(o);
    *c1_out = c1;
    *h1_out = h1;
}

// ---- a child: the best-interests determination, child protection
static char *
s_child(const char *m2, char **c2_out)
{
    char fam[64], cmd[320];
    snprintf(fam, sizeof fam, "Sow%s", m2);
    char *c2 = s_case("Aminata", fam, "2013-09-01", "separated");
    snprintf(cmd, sizeof cmd,
             "handover --case %s --to %s --arrival 2099-06-01 "
             "--consent-transfer yes",
             c2, s_net.address[OR]);
    long a0 = s_audit(HO);
    s_refused(HO, 1, "best-interests determination", cmd);
    PL_CHECK(s_audit(HO) == a0 + 1); // the refusal is audited
    snprintf(cmd, sizeof cmd,
             "handover --case %s --to %s --arrival 2099-06-01 "
             "--consent-transfer yes --bid-ref BID-7 --bid-date 2025-01-10 "
             "--bid-outcome local-integration",
             c2, s_net.address[OR]);
    s_refused(HO, 2, "return or reunification", cmd);
    char *h2 = s_send(c2, "--bid-ref BID-7 --bid-date 2025-01-10 "
                          "--bid-outcome reunification");
    s_wait_key(OR, h2, "cp_notified");
    json_t *d = s_show(OR, h2);
    PL_CHECK(json_is_true(json_object_get(d, "child"))
             && !strcmp(s_str(d, "cp"), s_net.address[CPK])
             && !strcmp(s_str(json_object_get(d, "bid"), "outcome"),
                        "reunification"));
    json_decref(d);
    // the region of the receiving agency, not the host's
    json_t *n = NULL;
    for (int k = 0; k < 300; k++) {
        json_decref(n);
        n = pl_testnode_json(&s_net, CPK, "notifications");
        if (json_array_size(n) >= 1)
            break;
        pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(json_array_size(n) == 1);
    json_t *e = json_array_get(n, 0);
    PL_CHECK(!strcmp(s_str(e, "kind"), "handover")
             && !strcmp(s_str(e, "referral"), h2)
             && !strcmp(s_str(e, "from"), s_net.address[OR]));
    char *text = json_dumps(n, 0);
    PL_CHECK(text && !strstr(text, m2) && !strstr(text, "Aminata"));
    free(text);
    json_decref(n);
    n = pl_testnode_json(&s_net, CPD, "notifications");
    PL_CHECK(n && json_array_size(n) == 0);
    json_decref(n);

    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR, "handover ack %s", h2) == 0);
    snprintf(cmd, sizeof cmd, "handover accept %s", h2);
    s_refused(OR, 1, "cannot be accepted before the child-protection", cmd);
    snprintf(cmd, sizeof cmd, "handover cp-ack %s", h2);
    s_refused(CL, 1, "child-protection node", cmd);
    s_refused(CPD, 1, "no handover notification", cmd);
    char h2p[9];
    snprintf(h2p, sizeof h2p, "%.8s", h2); // a unique prefix will do
    char *o = NULL;
    PL_CHECK(pl_testnode_cli(&o, &s_net, CPK,
                             "--as 'Fatou Ba' handover cp-ack %s", h2p)
                 == 0
             && strstr(o, "acknowledged"));
    free(o);
    s_refused(CPK, 1, "already acknowledged", cmd);
    s_wait_key(OR, h2, "cp_ack");
    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR, "handover accept %s", h2) == 0);
    s_wait_status(HO, h2, "accepted");
    *c2_out = c2;
    return h2;
}

// ---- withdrawal and rejection
static void
s_withdraw_reject(const char *m3)
{
    char fam[64], cmd[256];
    snprintf(fam, sizeof fam, "Kane%s", m3);
    char *c3 = s_case("Ibou", fam, "1990-01-01", NULL);
    char *h3 = s_send(c3, "");
    s_wait_status(OR, h3, "sent");
    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR, "handover ack %s", h3) == 0);
    s_wait_status(HO, h3, "acknowledged");
    PL_CHECK(pl_test_sh(NULL,
                        "printf '%%s' '{\"note\":\"family stays: %s\"}' | "
                        "'%s' --home '%s' handover withdraw %s --reason "
                        "plans-changed --stdin",
                        m3, pl_test_bin("passerelle"), s_net.home[HO], h3)
             == 0);
    s_wait_status(OR, h3, "withdrawn");
    json_t *d = s_show(OR, h3);
    PL_CHECK(!json_object_get(d, "person") && !json_object_get(d, "case"));
    json_decref(d);
    PL_CHECK(s_probe(OR, m3, NULL) == 0); // nothing of it opens there
    snprintf(cmd, sizeof cmd, "handover accept %s", h3);
    s_refused(OR, 1, "closed and never reopens", cmd);
    json_t *cs = pl_testnode_json(&s_net, HO, "case show %s", c3);
    PL_CHECK(!strcmp(s_str(cs, "status"), "open")
             && !json_object_get(cs, "handover"));
    json_decref(cs);

    // rejection: the host's case is its own again, a new handover possible
    char *h4 = s_send(c3, "");
    s_wait_status(OR, h4, "sent");
    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR, "handover ack %s", h4) == 0);
    PL_CHECK(pl_testnode_cli(NULL, &s_net, OR,
                             "handover reject %s --reason no-capacity", h4)
             == 0);
    s_wait_status(HO, h4, "rejected");
    json_t *l = pl_testnode_json(&s_net, HO, "handovers --status rejected");
    PL_CHECK(json_array_size(l) == 1);
    json_decref(l);
    cs = pl_testnode_json(&s_net, HO, "case show %s", c3);
    PL_CHECK(!strcmp(s_str(cs, "status"), "open")
             && !json_object_get(cs, "handover"));
    json_decref(cs);
    l = pl_testnode_json(&s_net, OR, "handovers --direction in");
    PL_CHECK(json_array_size(l) == 4);
    json_decref(l);
    free(c3);
    free(h3);
    free(h4);
}

int
main(void)
{
    uint64_t rng = pl_test_seed();
    char m1[40], m2[40], m3[40];
    snprintf(m1, sizeof m1, "MRKa%016llx",
             (unsigned long long) pl_test_rand(&rng));
    snprintf(m2, sizeof m2, "MRKb%016llx",
             (unsigned long long) pl_test_rand(&rng));
    snprintf(m3, sizeof m3, "MRKc%016llx",
             (unsigned long long) pl_test_rand(&rng));
    const char *const specs[] = {"host:agency", "origin:agency:kolda",
                                 "cpkolda:child-protection:kolda",
                                 "cpdakar:child-protection", "clinic:health"};
    pl_test_net_init(&s_net, "handover", specs, N);
    pl_test_net_start_broker(&s_net, NULL);
    for (int i = 0; i < N; i++)
        pl_testnode_start(&s_net, i, i == HO ? s_host : s_fast, s_hooks);
    for (int i = 0; i < N; i++)
        s_wait_directory(i);

    char *c1 = NULL, *h1 = NULL, *c2 = NULL;
    s_adult(m1, &c1, &h1);
    char *h2 = s_child(m2, &c2);
    s_withdraw_reject(m3);
    for (int i = 0; i < N; i++)
        (void) s_audit(i);

    // ---- the purge: before the keep period the case is still there
    PL_CHECK(s_probe(HO, m1, NULL) > 0);
    pl_test_net_stop_node(&s_net, HO, false);
    const char *const later[] = {"PASSERELLE_TEST_HOOKS=1",
                                 "PASSERELLE_TEST_CLOCK_OFFSET=259300", NULL};
    pl_testnode_start(&s_net, HO, s_host, later);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&s_net, HO),
                                  "handover_purged", 2, 30000));
    long opened = 0;
    PL_CHECK(s_probe(HO, m1, &opened) == 0);
    PL_CHECK(s_probe(HO, m2, NULL) == 0);
    PL_CHECK(opened > 0);                // other records still open
    PL_CHECK(s_probe(HO, m3, NULL) > 0); // the case that stayed is intact
    (void) s_audit(HO);
    json_t *cs = pl_testnode_json(&s_net, HO, "case show %s", c1);
    PL_CHECK(!strcmp(s_str(cs, "status"), "erased"));
    json_decref(cs);
    json_t *d = s_show(HO, h1);
    PL_CHECK(!strcmp(s_str(d, "status"), "arrived")
             && json_object_get(d, "purged") && !json_object_get(d, "case")
             && !strcmp(s_str(d, "peer"), s_net.address[OR]));
    char *text = json_dumps(d, 0);
    PL_CHECK(text && !strstr(text, "Awa Diop") && !strstr(text, "escort"));
    free(text);
    json_decref(d);
    json_t *l = pl_testnode_json(&s_net, HO, "handovers");
    PL_CHECK(json_array_size(l) == 4);
    json_decref(l);

    // ---- the markers: in no file under any home, no log
    for (int i = 0; i < N; i++)
        pl_test_net_stop_node(&s_net, i, false);
    pl_test_net_stop_broker(&s_net, false);
    PL_CHECK(pl_test_grep_tree(s_net.root, m1, strlen(m1)) == 0);
    PL_CHECK(pl_test_grep_tree(s_net.root, m2, strlen(m2)) == 0);
    PL_CHECK(pl_test_grep_tree(s_net.root, m3, strlen(m3)) == 0);
    free(c1);
    free(h1);
    free(c2);
    free(h2);
    pl_test_net_destroy(&s_net);
    printf("ok: handover\n");
    return 0;
}
