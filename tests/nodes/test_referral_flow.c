// test_referral_flow - referrals end to end with a real broker and three
// real node processes (agency, clinic = health, school = education), all
// through the `passerelle` CLI (issue 7):
//   * the consent gate: no consent, consent for another sector, expired
//     consent, override without justification: refused before anything is
//     sealed (error names consent, nothing in the outbox);
//   * a referral arriving without a consent reference: refused by the
//     recipient (answered `rejected` / no-consent, nothing personal kept);
//   * minimum data: health sees the phone, education does not;
//   * every allowed transition and the forbidden ones (wrong side, wrong
//     state, terminal), each audited on both nodes;
//   * updates delivered out of order (broker down while the clinic makes
//     five updates; the resync sends them in outbox-key order, i.e. random)
//     end in the same final state with the full history;
//   * `case close` refused while a referral is open;
//   * a unique marker in the case's names is readable through `show` at
//     the recipient and found in no file under any home and no log.
// Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { AG = 0, CL = 1, SC = 2 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};
static const char *const s_hooks[] = {"PASSERELLE_TEST_HOOKS=1", NULL};

static char *
s_status(int i, const char *id)
{
    json_t *d = pl_testnode_json(&s_net, i, "show %s", id);
    const char *s = json_string_value(json_object_get(d, "status"));
    char *r = strdup(s ? s : "");
    json_decref(d);
    return r;
}

static void
s_wait_status(int i, const char *id, const char *want)
{
    char *s = NULL;
    for (int k = 0; k < 600; k++) { // up to ~60 s (the broker may restart)
        free(s);
        s = s_status(i, id);
        if (strcmp(s, want) == 0)
            break;
        pl_test_sh(NULL, "sleep 0.1");
    }
    if (strcmp(s, want) != 0)
        fprintf(stderr, "referral %s at node %d: '%s', want '%s'\n", id, i, s,
                want);
    PL_CHECK(strcmp(s, want) == 0);
    free(s);
}

static long
s_audit_count(int i)
{
    json_t *d = pl_testnode_json(&s_net, i, "audit verify");
    PL_CHECK(d && json_is_true(json_object_get(d, "ok")));
    long n = (long) json_integer_value(json_object_get(d, "entries"));
    json_decref(d);
    return n;
}

// Audit entries recording a refused action at node i (outcome refused-*).
// Counted by kind, not by total: receipts arriving meanwhile are audited
// too, so the total may move by more than one.
static long
s_refusal_count(int i)
{
    char *o = NULL;
    PL_CHECK(pl_testnode_cli(&o, &s_net, i, "audit export --json") == 0 && o);
    long n = 0;
    for (const char *p = o; (p = strstr(p, "refused-")); p++)
        n++;
    free(o);
    return n;
}

static void
s_wait_audit(int i, long want)
{
    long n = 0;
    for (int k = 0; k < 300 && (n = s_audit_count(i)) < want; k++)
        pl_test_sh(NULL, "sleep 0.1");
    PL_CHECK(n >= want);
}

// Waits until node i's directory lists the three nodes.
static void
s_wait_directory(int i)
{
    size_t n = 0;
    for (int k = 0; k < 300 && n < 3; k++) {
        json_t *d = pl_testnode_json(&s_net, i, "directory");
        n = json_array_size(d);
        json_decref(d);
        if (n < 3)
            pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(n >= 3);
}

// Nothing at all in node i's outbox.
static bool
s_outbox_empty(int i)
{
    json_t *st = pl_testnode_stats(s_net.home[i]);
    json_t *o = json_object_get(st, "outbox");
    const char *k;
    json_t *v;
    long sum = 0;
    json_object_foreach(o, k, v) sum += (long) json_integer_value(v);
    json_decref(st);
    return st && sum == 0;
}

// refer; returns the id (malloc'd) or NULL, *err gets the output.
static char *
s_refer(int to, const char *case_id, const char *extra, char **err)
{
    char *o = NULL;
    int rc = pl_testnode_cli(&o, &s_net, AG,
                             "--as 'Fatou Sarr' refer --case %s --to %s "
                             "--service svc %s",
                             case_id, s_net.name[to], extra ? extra : "");
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

// 'fmt' with its one "%s" replaced by 'id'.
static void
s_fill(char *out, size_t n, const char *fmt, const char *id)
{
    const char *p = strstr(fmt, "%s");
    PL_CHECK(p);
    snprintf(out, n, "%.*s%s%s", (int) (p - fmt), fmt, id, p + 2);
}

// An action that must succeed / be refused with 'needle' in the error.
static void
s_ok(int i, const char *fmt, const char *id)
{
    char cmd[512];
    s_fill(cmd, sizeof cmd, fmt, id);
    char *o = NULL;
    int rc = pl_testnode_cli(&o, &s_net, i, "--as staff%d %s", i, cmd);
    if (rc != 0)
        fprintf(stderr, "'%s' failed: %s\n", cmd, o ? o : "");
    PL_CHECK(rc == 0);
    free(o);
}

static void
s_refused(int i, const char *fmt, const char *id, const char *needle)
{
    char cmd[512];
    s_fill(cmd, sizeof cmd, fmt, id);
    long before = s_audit_count(i), refusals = s_refusal_count(i);
    char *o = NULL;
    int rc = pl_testnode_cli(&o, &s_net, i, "--as staff%d %s", i, cmd);
    if (rc != 1 || !o || !strstr(o, needle))
        fprintf(stderr, "'%s': rc=%d out=%s (want '%s')\n", cmd, rc, o ? o : "",
                needle);
    PL_CHECK(rc == 1 && o && strstr(o, needle));
    free(o);
    // the refusal is audited: exactly one more refusal entry
    PL_CHECK(s_audit_count(i) >= before + 1);
    PL_CHECK(s_refusal_count(i) == refusals + 1);
}

int
main(void)
{
    uint64_t rng = pl_test_seed();
    char marker[40];
    snprintf(marker, sizeof marker, "MRK%016llx",
             (unsigned long long) pl_test_rand(&rng));
    const char *const specs[] = {"agency:agency", "clinic:health",
                                 "school:education"};
    pl_test_net_init(&s_net, "refflow", specs, 3);
    pl_test_net_start_broker(&s_net, NULL);
    pl_testnode_start(&s_net, AG, s_fast, s_hooks);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    pl_testnode_start(&s_net, SC, s_fast, NULL);
    for (int i = 0; i < 3; i++)
        s_wait_directory(i);

    // a case, personal data on stdin; the marker is in the family name
    char *o = NULL;
    PL_CHECK(pl_test_sh(&o,
                        "printf '%%s' '{\"given\":\"Aminata\",\"family\":"
                        "\"Diallo%s\",\"birth\":\"1988-04-12\",\"sex\":"
                        "\"female\",\"phone\":\"+221770001122\","
                        "\"language\":\"wo\"}' | '%s' --home '%s' case add "
                        "--stdin",
                        marker, pl_test_bin("passerelle"), s_net.home[AG])
             == 0);
    o[strcspn(o, "\n")] = 0;
    char case_id[64];
    snprintf(case_id, sizeof case_id, "%s", o);
    free(o);
    PL_CHECK(strlen(case_id) == 32);
    json_t *l =
        pl_testnode_json(&s_net, AG, "case list --search %.12s", marker);
    PL_CHECK(json_array_size(l) == 1);
    json_decref(l);

    // ---- the consent gate, before anything is sealed
    char *err = NULL;
    PL_CHECK(!s_refer(CL, case_id, NULL, &err) && strstr(err, "consent"));
    free(err);
    PL_CHECK(pl_testnode_cli(
                 NULL, &s_net, AG,
                 "consent add --case %s --sectors education --given-by "
                 "returnee --expires $(date -u -d '+1 day' +%%Y-%%m-%%d)",
                 case_id)
             == 0);
    PL_CHECK(!s_refer(CL, case_id, NULL, &err) && strstr(err, "consent")
             && strstr(err, "health"));
    free(err);
    PL_CHECK(!s_refer(CL, case_id,
                      "--override-justification '' --approved-by Chief", &err)
             && strstr(err, "consent"));
    free(err);
    PL_CHECK(!s_refer(CL, case_id, "--approved-by Chief", &err)
             && strstr(err, "consent"));
    free(err);
    // expired: the agency's clock three days ahead (the gate runs first)
    pl_test_net_stop_node(&s_net, AG, false);
    const char *const later[] = {"PASSERELLE_TEST_CLOCK_OFFSET=259200", NULL};
    pl_testnode_start(&s_net, AG, s_fast, later);
    s_wait_directory(AG);
    PL_CHECK(!s_refer(SC, case_id, NULL, &err) && strstr(err, "consent")
             && strstr(err, "expired"));
    free(err);
    pl_test_net_stop_node(&s_net, AG, false);
    pl_testnode_start(&s_net, AG, s_fast, s_hooks);
    s_wait_directory(AG);
    PL_CHECK(s_outbox_empty(AG));
    PL_CHECK(pl_testnode_cli(NULL, &s_net, AG,
                             "consent add --case %s --sectors health,education "
                             "--given-by returnee --expires 2099-12-31",
                             case_id)
             == 0);

    // ---- the recipient re-checks: no consent reference -> refused
    {
        json_t *args = json_pack("{s:s, s:s, s:s, s:b}", "case", case_id, "to",
                                 s_net.address[CL], "service", "svc",
                                 "test_omit_consent", 1);
        json_t *res = NULL;
        char e[256];
        PL_CHECK(cli_control_call(s_net.home[AG], "refer", args, NULL, 10000,
                                  &res, e, sizeof e)
                 == CLI_CONTROL_OK);
        char nc[64];
        snprintf(nc, sizeof nc, "%s",
                 json_string_value(json_object_get(res, "id")));
        json_decref(res);
        json_decref(args);
        s_wait_status(AG, nc, "rejected");
        json_t *d = pl_testnode_json(&s_net, CL, "show %s", nc);
        PL_CHECK(json_object_size(json_object_get(d, "person")) == 0);
        json_t *a = pl_testnode_json(&s_net, AG, "show %s", nc);
        char *hs = json_dumps(json_object_get(a, "history"), 0);
        PL_CHECK(hs && strstr(hs, "no-consent"));
        free(hs);
        json_decref(a);
        json_decref(d);
    }

    // ---- minimum data; a case with an open referral cannot be closed
    char *r1 = s_refer(CL, case_id, "--priority urgent", NULL);
    char *r2 = s_refer(SC, case_id, NULL, NULL);
    PL_CHECK(r1 && r2);
    PL_CHECK(
        pl_testnode_cli(&o, &s_net, AG, "case close %s --reason done", case_id)
            == 1
        && strstr(o, "open referral"));
    free(o);
    s_wait_status(AG, r1, "received");
    s_wait_status(AG, r2, "received");
    json_t *v1 = pl_testnode_json(&s_net, CL, "show %s", r1),
           *v2 = pl_testnode_json(&s_net, SC, "show %s", r2);
    json_t *p1 = json_object_get(v1, "person"),
           *p2 = json_object_get(v2, "person");
    PL_CHECK(json_object_get(p1, "phone") && !json_object_get(p2, "phone"));
    PL_CHECK(strstr(json_string_value(json_object_get(p1, "family")), marker));
    PL_CHECK(strstr(json_string_value(json_object_get(p2, "family")), marker));
    PL_CHECK(json_object_size(p2) == 5);    // given family birth sex language
    PL_CHECK(!json_object_get(v1, "case")); // never the sender's case id
    json_decref(v1);
    json_decref(v2);

    // ---- transitions: wrong side, wrong state, allowed, terminal
    s_refused(AG, "accept %s", r1, "only the recipient");
    s_refused(CL, "cancel %s --reason x", r1, "only the sender");
    s_refused(CL, "start %s", r1, "referral:");
    s_refused(CL, "resume %s", r1, "referral:");
    s_refused(CL, "complete %s --outcome successful", r1, "referral:");
    long ag0 = s_audit_count(AG);
    s_ok(CL, "accept %s", r1);
    s_wait_status(AG, r1, "accepted");
    s_refused(CL, "resume %s", r1, "referral:");
    s_refused(CL, "accept %s", r1, "referral:");
    s_ok(CL, "start %s", r1);
    s_ok(CL, "hold %s --reason waiting-results", r1);
    s_refused(CL, "complete %s --outcome successful", r1, "referral:");
    s_ok(CL, "resume %s", r1);
    s_ok(CL, "complete %s --outcome successful", r1);
    s_wait_status(AG, r1, "completed");
    s_wait_audit(AG, ag0 + 5); // one entry per update received
    s_refused(CL, "start %s", r1, "terminal");
    s_refused(AG, "cancel %s --reason x", r1, "terminal");
    s_ok(SC, "reject %s --reason no-capacity", r2);
    s_wait_status(AG, r2, "rejected");
    s_refused(SC, "accept %s", r2, "terminal");
    char *r3 = s_refer(SC, case_id, NULL, NULL);
    PL_CHECK(r3);
    s_ok(AG, "cancel %s --reason duplicate", r3);
    s_wait_status(SC, r3, "cancelled");
    s_refused(SC, "accept %s", r3, "terminal");
    char *r4 = s_refer(SC, case_id, NULL, NULL);
    PL_CHECK(r4);
    s_wait_status(AG, r4, "received");
    s_ok(SC, "accept %s", r4);
    s_ok(SC, "complete %s --outcome not-successful --reason moved", r4);
    s_wait_status(AG, r4, "completed");

    // ---- out of order: the broker is down while the clinic acts
    char *r5 = s_refer(CL, case_id, NULL, NULL);
    PL_CHECK(r5);
    s_wait_status(AG, r5, "received");
    pl_test_net_stop_broker(&s_net, false);
    s_ok(CL, "accept %s", r5);
    s_ok(CL, "start %s", r5);
    s_ok(CL, "hold %s --reason waiting", r5);
    s_ok(CL, "resume %s", r5);
    s_ok(CL, "complete %s --outcome successful", r5);
    pl_test_net_start_broker(&s_net, NULL);
    s_wait_status(AG, r5, "completed");
    json_t *d5 = pl_testnode_json(&s_net, AG, "show %s", r5);
    PL_CHECK(json_array_size(json_object_get(d5, "history")) == 7);
    json_decref(d5);
    fprintf(stderr, "out of order: %ld updates were buffered at the agency\n",
            pl_testnode_count_in_file(pl_testnode_log(&s_net, AG),
                                      "result=buffered"));

    // ---- the case closes once nothing is open; audit chains verify
    PL_CHECK(pl_testnode_cli(NULL, &s_net, AG,
                             "--as 'Fatou Sarr' case close %s --reason done",
                             case_id)
             == 0);
    for (int i = 0; i < 3; i++)
        PL_CHECK(s_audit_count(i) > 0);

    // ---- the marker: readable at the recipient, in no file
    for (int i = 0; i < 3; i++)
        pl_test_net_stop_node(&s_net, i, false);
    pl_test_net_stop_broker(&s_net, false);
    long hits = pl_test_grep_tree(s_net.root, marker, strlen(marker));
    if (hits)
        fprintf(stderr, "marker found %ld times under %s\n", hits, s_net.root);
    PL_CHECK(hits == 0);
    free(r1);
    free(r2);
    free(r3);
    free(r4);
    free(r5);
    pl_test_net_destroy(&s_net);
    printf("ok: referral flow\n");
    return 0;
}
