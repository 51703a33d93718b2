// test_overdue - the overdue follow-up of issue 8 with real processes: an
// agency refers one case three times (emergency 24 h, urgent 72 h, normal
// 14 days); the clinic receives them; the agency's daemon is restarted
// with its clock moved (PASSERELLE_TEST_CLOCK_OFFSET) past 24 h, 72 h and
// 14 days. Each time `referrals --overdue` lists exactly the late ones,
// `show` says since when, and the daemon logs each newly overdue referral
// once (`referral_overdue`), also across a restart at the same time.
// Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { AG = 0, CL = 1 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static char *
s_refer(const char *case_id, const char *prio)
{
    char *o = NULL;
    PL_CHECK(pl_test_sh(&o,
                        "'%s' --home '%s' refer --case %s --to clinic "
                        "--service svc --priority %s",
                        pl_test_bin("passerelle"), s_net.home[AG], case_id,
                        prio)
             == 0);
    o[strcspn(o, "\n")] = 0;
    return o;
}

static void
s_wait_received(const char *id)
{
    for (int k = 0; k < 300; k++) {
        json_t *d = pl_testnode_json(&s_net, AG, "show %s", id);
        const char *s = json_string_value(json_object_get(d, "status"));
        bool ok = s && strcmp(s, "received") == 0;
        json_decref(d);
        if (ok)
            return;
        pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(0);
}

// Restarts the agency with its clock moved by 'offset' seconds; checks
// the overdue list is exactly 'want' (ids, NULL-ended) and that the log
// holds 'logged' referral_overdue lines in all.
static void
s_at(long offset, const char *const want[], long logged)
{
    pl_test_net_stop_node(&s_net, AG, false);
    char env[64];
    snprintf(env, sizeof env, "PASSERELLE_TEST_CLOCK_OFFSET=%ld", offset);
    const char *const e[] = {env, NULL};
    pl_testnode_start(&s_net, AG, s_fast, e);
    const char *log = pl_testnode_log(&s_net, AG);
    PL_CHECK(pl_testnode_wait_log(log, "referral_overdue", logged, 20000));
    json_t *l = pl_testnode_json(&s_net, AG, "referrals --overdue");
    size_t n = 0;
    while (want[n])
        n++;
    if (json_array_size(l) != n)
        fprintf(stderr, "offset %ld: %zu overdue, want %zu\n", offset,
                json_array_size(l), n);
    PL_CHECK(json_array_size(l) == n);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        size_t k;
        json_t *x;
        json_array_foreach(l, k, x) found =
            found
            || !strcmp(json_string_value(json_object_get(x, "id")), want[i]);
        PL_CHECK(found);
        PL_CHECK(pl_testnode_count_in_file(log, want[i]) == 1);
        json_t *d = pl_testnode_json(&s_net, AG, "show %s", want[i]);
        PL_CHECK(json_is_true(json_object_get(d, "overdue")));
        PL_CHECK(json_is_string(json_object_get(d, "overdue_since")));
        json_decref(d);
    }
    json_decref(l);
    // one sweep period more: nothing is logged again
    pl_test_sh(NULL, "sleep 1");
    PL_CHECK(pl_testnode_count_in_file(log, "referral_overdue") == logged);
}

int
main(void)
{
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_init(&s_net, "overdue", specs, 2);
    pl_test_net_start_broker(&s_net, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_directory(&s_net, AG, 2, 30000));
    char *c = NULL;
    PL_CHECK(pl_test_sh(&c,
                        "'%s' --home '%s' case add --given Ousmane --family "
                        "Fall --birth 1990-01-01",
                        pl_test_bin("passerelle"), s_net.home[AG])
             == 0);
    c[strcspn(c, "\n")] = 0;
    PL_CHECK(pl_test_sh(NULL,
                        "'%s' --home '%s' consent add --case %s --sectors "
                        "health --given-by returnee --expires 2099-12-31",
                        pl_test_bin("passerelle"), s_net.home[AG], c)
             == 0);
    char *re = s_refer(c, "emergency"), *ru = s_refer(c, "urgent");
    char *rn = s_refer(c, "normal");
    s_wait_received(re);
    s_wait_received(ru);
    s_wait_received(rn);
    json_t *l = pl_testnode_json(&s_net, AG, "referrals --overdue");
    PL_CHECK(l && json_array_size(l) == 0);
    json_decref(l);

    const char *const none[] = {NULL};
    const char *const day[] = {re, NULL};
    const char *const three[] = {re, ru, NULL};
    const char *const all[] = {re, ru, rn, NULL};
    s_at(23 * 3600, none, 0);
    s_at(25 * 3600, day, 1);
    s_at(73 * 3600, three, 2);
    s_at(73 * 3600, three, 2); // a restart logs nothing again
    s_at(15 * 86400, all, 3);

    free(re);
    free(ru);
    free(rn);
    free(c);
    pl_test_net_destroy(&s_net);
    printf("ok: overdue\n");
    return 0;
}
