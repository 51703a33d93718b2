// test_revoked_accepted - the loop of a referral the broker had already
// accepted when its SENDER was revoked, with real processes: a broker, an
// agency and a clinic. The clinic is down; the agency refers a case to it
// and the broker accepts (queued for the clinic). The authority revokes
// the agency at the broker (reload): the broker sends the agency the list
// and drops it, and the agency says revoked and stops dialling (the
// broker hears nothing more from it). The clinic comes up, gets the
// queued envelope, and refuses it (its sender is revoked); the broker keeps
// the notice for the agency's address. The agency, enrolled again (new
// certificate, same address) and restarted, connects and gets the notice:
// its referral shows `"delivery": "refused-by-recipient"`, `"delivery_
// reason": "revoked"`, so the loop closes and the case manager knows to
// refer again; the chain verifies and the case's name is in no file in
// clear. Layer: tests.
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/pl_crypto.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 30000
#define S_CANARY  "Qzrevaccvx" // the case's given name: in no file in clear
enum { AG = 0, CL = 1 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static bool
s_is_revoked(void *arg)
{
    return pl_testnode_revoked(s_net.home[*(int *) arg]);
}

// "delivery" of referral 'ref' at the agency (a copy).
static char *
s_delivery(const char *ref)
{
    json_t *d = pl_testnode_json(&s_net, AG, "show %s", ref);
    PL_CHECK(d != NULL);
    const char *v = json_string_value(json_object_get(d, "delivery"));
    char *copy = strdup(v ? v : "");
    json_decref(d);
    return copy;
}

// With the clinic down, the agency refers case 'c' to it and the broker
// accepts (queued for the clinic); the referral's id (owned).
static char *
s_refer_while_down(const char *c)
{
    pl_test_net_stop_node(&s_net, CL, false);
    char *ref = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    PL_CHECK(
        pl_testnode_wait_stat(s_net.home[AG], "outbox.accepted", 1, S_WAIT_MS)
        == 1);
    return ref;
}

int
main(void)
{
    PL_CHECK(pl_crypto_init() == 0);
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_init(&s_net, "revokedaccepted", specs, 2);
    pl_testnet_start_broker(&s_net, NULL, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_directory(&s_net, AG, 2, S_WAIT_MS));
    PL_CHECK(pl_testnode_wait_directory(&s_net, CL, 2, S_WAIT_MS));
    char *c = pl_testnode_case_for_health(&s_net, AG, S_CANARY);

    // the clinic is down: the broker accepts the referral and queues it
    char *ref = s_refer_while_down(c);

    // the authority revokes the agency at the broker: it is told and dropped
    pl_testnode_revoke(&s_net, AG, s_net.broker);
    PL_CHECK(kill(s_net.broker_pid, SIGHUP) == 0);
    int ag = AG;
    PL_CHECK(pl_test_wait(s_is_revoked, &ag, S_WAIT_MS));
    // and it stops dialling: the broker hears nothing more from it (it
    // said "rejected ... revoked" to each of its hellos, once a second here)
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&s_net, AG),
                                  "link_closed reason=revoked", 1, S_WAIT_MS));
    long heard = pl_testnet_log_count(&s_net, "rejected from=sn/agency");
    sleep(3);
    PL_CHECK(pl_testnet_log_count(&s_net, "rejected from=sn/agency") == heard);
    char *before = s_delivery(ref);
    fprintf(stderr, "accepted, then its sender revoked: delivery \"%s\"\n",
            before);
    PL_CHECK(strstr(before, "refused") == NULL); // nothing has answered yet
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.accepted") == 1);
    free(before);

    // the clinic comes up: the queued envelope's sender is revoked, refused
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_stat(s_net.home[CL], "counters.in_refused", 1,
                                   S_WAIT_MS)
             == 1);
    PL_CHECK(pl_testnode_stat(s_net.home[CL], "inbox") == 0);
    // it waited for the broker's newer list, then refused: as revoked
    const char *cll = pl_testnode_log(&s_net, CL);
    PL_CHECK(pl_testnode_count_in_file(cll, "reason=directory_refresh") >= 1);
    PL_CHECK(pl_testnode_count_in_file(cll, "envelope_refused") == 1);
    PL_CHECK(pl_testnode_count_in_file(cll, "reason=revoked detail=\"sender "
                                            "certificate revoked\"")
             == 1);

    // the agency enrolled again (same address, new certificate), restarted
    pl_test_net_stop_node(&s_net, AG, false);
    pl_testnode_enrol_again(&s_net, AG, "agency", "agency-again.cert");
    PL_CHECK(kill(s_net.broker_pid, SIGHUP) == 0);
    char blog[1100];
    snprintf(blog, sizeof blog, "%s/broker.log", s_net.root);
    PL_CHECK(
        pl_testnode_wait_log(blog, "reloaded certificates=", 2, S_WAIT_MS));
    pl_testnode_start(&s_net, AG, s_fast, NULL);

    // the notice reaches it: the referral's loop closes as refused, revoked
    pl_testnode_expect_undelivered(&s_net, AG, ref, "refused-by-recipient",
                                   "revoked", S_WAIT_MS);
    PL_CHECK(!pl_testnode_revoked(s_net.home[AG]));
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.accepted") == 0);
    json_t *v = pl_testnode_json(&s_net, AG, "audit verify");
    PL_CHECK(json_is_true(json_object_get(v, "ok")));
    json_decref(v);

    // the broker's list no newer than the clinic's: at its next start its
    // first deliveries go on at the welcome, and a referral queued while it
    // was down (from the agency's new certificate) reaches it
    char *ref2 = s_refer_while_down(c);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(cll, "referral_received", 1, S_WAIT_MS));
    PL_CHECK(pl_testnode_count_in_file(cll, "envelope_refused") == 1);
    free(ref2);

    pl_test_net_stop_node(&s_net, AG, false);
    pl_test_net_stop_node(&s_net, CL, false);
    PL_CHECK(pl_test_grep_tree(s_net.root, S_CANARY, strlen(S_CANARY)) == 0);
    fprintf(stderr,
            "revoked after accepted: referral %s closed as "
            "refused-by-recipient (revoked)\n",
            ref);
    free(ref);
    free(c);
    pl_test_net_destroy(&s_net);
    printf("ok: revoked_accepted\n");
    return 0;
}
