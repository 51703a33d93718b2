// test_revoked_sender - a node whose OWN certificate is revoked closes the
// loop of its waiting referral, with real processes: a broker, an agency
// and a clinic. The agency refers a case to the clinic while the broker is
// down (the referral waits sealed in its outbox); the authority revokes
// the AGENCY, and its operator copies the list to the agency's home and
// reloads it (SIGHUP). The broker would refuse the agency at the door from
// then on, so no answer will ever come: the agency itself refuses the
// waiting envelope (pl_node_self_revoked, nodes/pl_inbound.c), the
// referral shows `"delivery": "refused-by-broker"`, `"delivery_reason":
// "revoked"` (show, history, audit, the chain verifies), `stats` says
// `"revoked": true`, and a new `refer` is refused with a clear error; a
// restart changes nothing more. Then the clinic, connected, is revoked at
// the broker: the broker's reload sends it the list before dropping it,
// and it says `"revoked": true` without any step at its own home. Layer:
// tests.
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 30000
#define S_CANARY  "Qzselfrevvx" // the case's given name: in no file in clear
enum { AG = 0, CL = 1 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

// pl_test_wait predicates: the broker's log has more clinic sessions than
// *(long *) arg (the clinic's session is up again); node *(int *) arg is
// revoked (its daemon's stats).
static bool
s_clinic_online(void *arg)
{
    return pl_testnet_log_count(&s_net, "node_online address=sn/clinic")
           > *(long *) arg;
}

static bool
s_is_revoked(void *arg)
{
    return pl_testnode_revoked(s_net.home[*(int *) arg]);
}

// The audit chain of node i verifies; its length.
static long
s_audit_count(int i)
{
    json_t *v = pl_testnode_json(&s_net, i, "audit verify");
    PL_CHECK(json_is_true(json_object_get(v, "ok")));
    long n = (long) json_integer_value(json_object_get(v, "count"));
    json_decref(v);
    return n;
}

// History lines of referral 'ref' at the agency.
static size_t
s_history(const char *ref)
{
    json_t *d = pl_testnode_json(&s_net, AG, "show %s", ref);
    PL_CHECK(d != NULL);
    size_t n = json_array_size(json_object_get(d, "history"));
    json_decref(d);
    return n;
}

int
main(void)
{
    PL_CHECK(pl_crypto_init() == 0);
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_init(&s_net, "revokedsender", specs, 2);
    pl_testnet_start_broker(&s_net, NULL, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_directory(&s_net, AG, 2, S_WAIT_MS));
    PL_CHECK(!pl_testnode_revoked(s_net.home[AG]));
    char *c = pl_testnode_case_for_health(&s_net, AG, S_CANARY);

    // the broker goes down; the referral waits in the agency's outbox
    pl_test_net_stop_broker(&s_net, false);
    char *ref = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.pending") == 1);

    // the authority revokes the agency; its operator reloads the list
    pl_testnode_revoke(&s_net, AG, s_net.home[AG]);
    PL_CHECK(kill(s_net.node_pid[AG], SIGHUP) == 0);

    // the loop closes: the referral shows it (show, history, audit, the
    // chain verifies); the outbox entry is rejected, nothing pending
    pl_testnode_expect_undelivered(&s_net, AG, ref, "refused-by-broker",
                                   "revoked", S_WAIT_MS);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.pending") == 0);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.rejected") == 1);
    PL_CHECK(pl_testnode_revoked(s_net.home[AG]));
    const char *agl = pl_testnode_log(&s_net, AG);
    PL_CHECK(pl_testnode_count_in_file(agl, "node_revoked serial=") == 1);

    // a new referral is refused at once, with the reason
    char *out = NULL;
    int rc = pl_testnode_cli(&out, &s_net, AG,
                             "refer --case %s --to clinic --service svc", c);
    PL_CHECK(rc != 0);
    PL_CHECK(out
             && strstr(out, "this node's certificate is revoked: enrol "
                            "again"));
    fprintf(stderr, "refer after revocation: %s", out);
    free(out);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.pending") == 0);

    // a restart (and the same list read again) changes nothing more
    long audits = s_audit_count(AG);
    size_t lines = s_history(ref);
    pl_test_net_stop_node(&s_net, AG, false);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(agl, "node_revoked serial=", 2, S_WAIT_MS));
    PL_CHECK(pl_testnode_revoked(s_net.home[AG]));
    PL_CHECK(s_audit_count(AG) == audits);
    PL_CHECK(s_history(ref) == lines);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.rejected") == 1);

    // a node revoked while it is connected learns it from the broker: the
    // broker's reload sends the list to each session it drops, before the
    // door refuses the node for good (no SIGHUP at the clinic)
    long seen = pl_testnet_log_count(&s_net, "node_online address=sn/clinic");
    pl_testnet_start_broker(&s_net, NULL, NULL);
    int cl = CL;
    PL_CHECK(pl_test_wait(s_clinic_online, &seen, S_WAIT_MS));
    PL_CHECK(!pl_testnode_revoked(s_net.home[CL]));
    pl_testnode_revoke(&s_net, CL, s_net.broker);
    PL_CHECK(kill(s_net.broker_pid, SIGHUP) == 0);
    PL_CHECK(pl_test_wait(s_is_revoked, &cl, S_WAIT_MS));
    PL_CHECK(pl_testnode_count_in_file(pl_testnode_log(&s_net, CL),
                                       "node_revoked serial=")
             == 1);

    pl_test_net_stop_node(&s_net, AG, false);
    pl_test_net_stop_node(&s_net, CL, false);
    PL_CHECK(pl_test_grep_tree(s_net.root, S_CANARY, strlen(S_CANARY)) == 0);
    fprintf(stderr,
            "revoked sender: referral %s closed as refused-by-broker "
            "(revoked)\n",
            ref);
    free(ref);
    free(c);
    pl_test_net_destroy(&s_net);
    printf("ok: revoked_sender\n");
    return 0;
}
