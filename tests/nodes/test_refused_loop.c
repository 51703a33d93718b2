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

int
main(void)
{
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_init(&s_net, "refusedloop", specs, 2);
    pl_test_net_start_broker(&s_net, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, s_ahead);
    PL_CHECK(pl_testnode_wait_directory(&s_net, AG, 2, 30000));
    char *c = pl_testnode_case_for_health(&s_net, AG, "Ousmane");
    char *ref = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    json_t *r = NULL;
    PL_CHECK(pl_testnode_tool(&r, NULL, s_net.home[AG],
                              "send --to '%s' --payload probe --json",
                              s_net.address[CL])
             == 0);
    json_decref(r);

    // the referral shows the delivery problem, its loop closed (show,
    // history, audit, the chain verifies)
    pl_testnode_expect_undelivered(&s_net, AG, ref, "refused-by-recipient",
                                   "expired", S_WAIT_MS);
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
