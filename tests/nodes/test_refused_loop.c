// test_refused_loop - a referral refused for good by the recipient's node
// closes its loop at the sender, with real processes: a broker, an agency
// and a clinic whose clock runs 31 days ahead (PASSERELLE_TEST_CLOCK_OFFSET),
// so that it refuses what the agency seals (30-day TTL: expired for it)
// while the broker, on time, accepts and delivers it. The broker drops the
// refused envelope and tells the agency (an `expired` packet carrying the
// refusal code only); the agency's outbox marks both envelopes (a referral
// and a test message) rejected, `show` and `referrals` show the delivery
// problem, the history and the audit chain record it, and the broker's log
// names the code and no content. Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 30000
enum { AG = 0, CL = 1 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};
static const char *const s_ahead[] = {"PASSERELLE_TEST_CLOCK_OFFSET=2678400",
                                      NULL}; // 31 days

// `show ID` once it has a delivery problem (bounded), or NULL.
static json_t *
s_wait_delivery(const char *id)
{
    for (int k = 0; k < S_WAIT_MS / 100; k++) {
        json_t *d = pl_testnode_json(&s_net, AG, "show %s", id);
        if (json_object_get(d, "delivery"))
            return d;
        json_decref(d);
        pl_test_sh(NULL, "sleep 0.1");
    }
    return NULL;
}

// Runs `passerelle --home AGENCY ...`; its first stdout line (owned).
static char *s_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
s_out(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *o = NULL;
    PL_CHECK(pl_test_sh(&o, "'%s' --home '%s' %s", pl_test_bin("passerelle"),
                        s_net.home[AG], cmd)
             == 0);
    o[strcspn(o, "\n")] = 0;
    return o;
}

// the history has the "undelivered" line of a refusal
static bool
s_history_has(json_t *d)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(d, "history"), i, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        const char *re = json_string_value(json_object_get(e, "reason"));
        if (st && re && strcmp(st, "undelivered") == 0
            && strcmp(re, "refused-by-recipient") == 0)
            return true;
    }
    return false;
}

int
main(void)
{
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_init(&s_net, "refusedloop", specs, 2);
    pl_test_net_start_broker(&s_net, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, s_ahead);
    PL_CHECK(pl_testnode_wait_directory(&s_net, AG, 2, 30000));
    char *c = s_out("case add --given Ousmane --family Fall --birth "
                    "1990-01-01");
    free(s_out("consent add --case %s --sectors health --given-by returnee "
               "--expires 2099-12-31; echo",
               c));
    char *ref = s_out("refer --case %s --to clinic --service svc", c);
    json_t *r = NULL;
    PL_CHECK(pl_testnode_tool(&r, NULL, s_net.home[AG],
                              "send --to '%s' --payload probe --json",
                              s_net.address[CL])
             == 0);
    json_decref(r);

    // the referral shows the delivery problem, its loop closed
    json_t *d = s_wait_delivery(ref);
    PL_CHECK(d != NULL);
    PL_CHECK(strcmp(json_string_value(json_object_get(d, "delivery")),
                    "refused-by-recipient")
             == 0);
    PL_CHECK(strcmp(json_string_value(json_object_get(d, "delivery_reason")),
                    "expired")
             == 0);
    PL_CHECK(s_history_has(d));
    json_decref(d);
    char *human = s_out("show %s | grep -c 'NEVER DELIVERED: "
                        "refused-by-recipient (expired)'",
                        ref);
    PL_CHECK(strcmp(human, "1") == 0);
    free(human);
    // what the case manager reads (into the test's log)
    PL_CHECK(pl_test_sh(NULL,
                        "cd '%s' && '%s' --home agency show %s >&2 && '%s' "
                        "--home agency referrals >&2",
                        s_net.root, pl_test_bin("passerelle"), ref,
                        pl_test_bin("passerelle"))
             == 0);
    json_t *l = pl_testnode_json(&s_net, AG, "referrals");
    PL_CHECK(json_array_size(l) == 1);
    PL_CHECK(json_object_get(json_array_get(l, 0), "delivery"));
    json_decref(l);
    // both envelopes are rejected in the outbox, none left to retry
    PL_CHECK(
        pl_testnode_wait_stat(s_net.home[AG], "outbox.rejected", 2, S_WAIT_MS)
        == 2);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.pending") == 0);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.accepted") == 0);
    PL_CHECK(
        pl_testnode_wait_stat(s_net.home[CL], "counters.in_refused", 2, 1000)
        == 2);

    // audited, and the chain verifies
    char *a = NULL;
    PL_CHECK(pl_test_sh(&a, "'%s' --home '%s' audit export --json",
                        pl_test_bin("passerelle"), s_net.home[AG])
             == 0);
    PL_CHECK(a && strstr(a, "refused-by-recipient"));
    free(a);
    char *vt = s_out("audit verify --json | tr -d '\\n'");
    json_error_t je;
    json_t *v = json_loads(vt, 0, &je);
    PL_CHECK(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
    free(vt);

    // the broker logged the refusal with its code, never content
    PL_CHECK(pl_testnet_log_count(&s_net, "refused_by_recipient") == 2);
    PL_CHECK(pl_testnet_log_count(&s_net, "reason=expired") >= 2);
    PL_CHECK(pl_testnet_log_count(&s_net, "Ousmane") == 0);
    PL_CHECK(pl_testnet_log_count(&s_net, "probe") == 0);
    fprintf(stderr,
            "refused loop: referral %s closed as refused-by-recipient "
            "(expired)\n",
            ref);

    free(ref);
    free(c);
    pl_test_net_destroy(&s_net);
    printf("ok: refused_loop\n");
    return 0;
}
