// test_broker_refused - a referral the BROKER refuses for good closes its
// loop at the sender, with real processes: a broker, an agency, a clinic and
// a school. The agency refers a case to the clinic while the broker is down
// (its directory, fetched before, still lists the clinic; the referral waits
// sealed in its outbox); meanwhile the authority revokes the clinic and the
// broker restarts with the new revocation list. When the agency reconnects
// and sends the waiting envelope, the broker refuses it at the door as
// unknown_recipient (broker/pl_broker.c, s_handle_envelope: a revoked
// certificate is not in the registry's view); the agency's referral shows
// `"delivery": "refused-by-broker"` with that code, its business status
// unchanged, the outbox entry is rejected and never sent again (not even
// after the agency restarts), history and audit chain record it, and no file
// of the network (homes, stores, logs) holds the case's name in clear.
// Before that, a temporary refusal (the clinic's broker quota full) is not
// reported as a refusal: the referral waits and is delivered once there is
// room. Layer: tests.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 30000
#define S_CANARY  "Qzcanaryvx" // the case's given name: in no file in clear
enum { AG = 0, CL = 1, SC = 2 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

// true when string member 'key' of 'o' is 'want'
static bool
s_is(const json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

// true when node i's directory lists 'address'
static bool
s_dir_lists(int i, const char *address)
{
    json_t *d = pl_testnode_json(&s_net, i, "directory");
    bool found = false;
    size_t k;
    json_t *e;
    json_array_foreach(d, k, e)
    {
        found = found || s_is(e, "address", address);
    }
    json_decref(d);
    return found;
}

// Waits (bounded) until node i's daemon is online (its stats).
static bool
s_wait_online(int i)
{
    for (int k = 0; k < S_WAIT_MS / 100; k++) {
        json_t *w = pl_testnode_stats(s_net.home[i]);
        bool on = json_is_true(json_object_get(w, "online"));
        json_decref(w);
        if (on)
            return true;
        pl_test_sh(NULL, "sleep 0.1");
    }
    return false;
}

// the agency's referral envelopes in outbox state 'state'
// (pl-testmsg outbox)
static json_t *
s_outbox(const char *state)
{
    json_t *o = NULL;
    PL_CHECK(pl_testnode_tool(&o, NULL, s_net.home[AG],
                              "outbox --kind referral --state %s --json", state)
             == 0);
    PL_CHECK(json_is_array(o));
    return o;
}

// `show ID` has no delivery problem
static bool
s_no_delivery(const char *id)
{
    json_t *d = pl_testnode_json(&s_net, AG, "show %s", id);
    bool none = d && !json_object_get(d, "delivery")
                && !json_object_get(d, "delivery_reason");
    json_decref(d);
    return none;
}

// A new case of the canary, with health consent; its id (owned).
static char *
s_case(void)
{
    return pl_testnode_case_for_health(&s_net, AG, S_CANARY);
}

// Fills the clinic's broker quota (1 MiB, and the reserve of small
// envelopes) with envelopes offered as the school (a raw client; the
// school's node is not running yet) until the broker refuses even one of
// 64 bytes as store_full.
static void
s_fill_clinic(void)
{
    pl_rawclient_t *x = pl_rawclient_open(s_net.home[SC], s_net.endpoint);
    PL_CHECK(x && pl_rawclient_hello(x, 5000) == PL_OK);
    uint8_t id[PL_MSG_ID_BYTES];
    int refused = 0;
    // large ones first, then small ones (PL_SPOOL_SMALL, broker/pl_spool.h:
    // they have a reserve of their own), halved on each refusal: what is
    // left is less room than a referral takes
    for (size_t len = 60000, k = 0; len >= 64 && k < 200; k++) {
        int got = pl_testnet_offer(x, s_net.home[CL], len, id, 5000);
        PL_CHECK(got >= 0);
        if (got == 0) {
            refused++;
            len = len > 4096 ? 4096 : len / 2;
        }
    }
    PL_CHECK(refused > 0);
    pl_rawclient_close(&x);
}

// A temporary refusal is no refusal: the clinic's quota is full while the
// clinic is offline; the broker answers the referral "store_full, retry
// later"; the referral shows no delivery problem, its outbox entry stays
// pending, and it is delivered once the clinic has drained its queue.
// Returns the referral's id (owned).
static char *
s_temporary(void)
{
    pl_test_net_stop_node(&s_net, CL, false);
    s_fill_clinic();
    char *c = s_case();
    char *ref = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    free(c);
    // until the agency logs the broker's "retry later" (or, wrongly,
    // records a delivery problem)
    const char *agl = pl_testnode_log(&s_net, AG);
    const char *later = "outbox_retry_later reason=store_full";
    for (int k = 0; k < S_WAIT_MS / 100; k++) {
        if (pl_testnode_count_in_file(agl, later) > 0 || !s_no_delivery(ref))
            break;
        pl_test_sh(NULL, "sleep 0.1");
    }
    PL_CHECK(s_no_delivery(ref));
    PL_CHECK(pl_testnode_count_in_file(agl, later) > 0);
    json_t *ob = s_outbox("pending");
    PL_CHECK(json_array_size(ob) == 1);
    json_decref(ob);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_stat(s_net.home[AG], "outbox.receipted", 1,
                                   2 * S_WAIT_MS)
             == 1);
    PL_CHECK(s_no_delivery(ref));
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.rejected") == 0);
    fprintf(stderr, "temporary refusal: referral %s waited, delivered\n", ref);
    return ref;
}

int
main(void)
{
    PL_CHECK(pl_crypto_init() == 0);
    const char *const specs[] = {"agency:agency", "clinic:health",
                                 "school:education"};
    pl_test_net_init(&s_net, "brokerrefused", specs, 3);
    const char *const quota[] = {"--map-size=32", "--recipient-quota=1", NULL};
    pl_testnet_start_broker(&s_net, quota, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_directory(&s_net, AG, 3, S_WAIT_MS));
    char *ref1 = s_temporary();
    pl_testnode_start(&s_net, SC, s_fast, NULL);
    char *c = s_case();

    // the broker goes down; the agency still lists the clinic and refers
    pl_test_net_stop_broker(&s_net, false);
    PL_CHECK(s_dir_lists(AG, "sn/clinic"));
    char *ref = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    json_t *ob = s_outbox("pending");
    PL_CHECK(json_array_size(ob) == 1);
    json_decref(ob);

    // the clinic is revoked; the broker comes back knowing it (and with
    // its default quotas)
    pl_testnode_revoke(&s_net, CL, s_net.broker);
    pl_test_net_start_broker(&s_net, NULL);

    // the referral shows the broker's refusal, its loop closed (show,
    // history, audit, the chain verifies), its business status unchanged
    pl_testnode_expect_undelivered(&s_net, AG, ref, "refused-by-broker",
                                   "unknown_recipient", S_WAIT_MS);
    json_t *d = pl_testnode_json(&s_net, AG, "show %s", ref);
    PL_CHECK(s_is(d, "status", "requested"));
    json_decref(d);
    // the name is there to find (decrypted for the case manager only)
    char *human = pl_testnode_line(&s_net, AG, "show %s | grep -c '%s Fall'",
                                   ref, S_CANARY);
    PL_CHECK(strcmp(human, "1") == 0);
    free(human);
    // the list: this one refused by the broker, the first one not
    json_t *l = pl_testnode_json(&s_net, AG, "referrals");
    PL_CHECK(json_array_size(l) == 2);
    int seen = 0;
    size_t k;
    json_t *li;
    json_array_foreach(l, k, li)
    {
        if (s_is(li, "id", ref)) {
            PL_CHECK(s_is(li, "delivery", "refused-by-broker"));
            PL_CHECK(s_is(li, "delivery_reason", "unknown_recipient"));
            PL_CHECK(s_is(li, "status", "requested"));
            seen |= 1;
        } else if (s_is(li, "id", ref1)) {
            PL_CHECK(!json_object_get(li, "delivery"));
            seen |= 2;
        }
    }
    PL_CHECK(seen == 3);
    json_decref(l);
    // what the case manager reads (into the test's log)
    PL_CHECK(pl_test_sh(NULL,
                        "cd '%s' && '%s' --home agency show %s >&2 && '%s' "
                        "--home agency referrals >&2",
                        s_net.root, pl_test_bin("passerelle"), ref,
                        pl_test_bin("passerelle"))
             == 0);

    // the outbox entry is rejected with the broker's code, nothing pending
    ob = s_outbox("rejected");
    PL_CHECK(json_array_size(ob) == 1);
    json_t *e = json_array_get(ob, 0);
    PL_CHECK(s_is(e, "reason", "unknown_recipient"));
    char msg[64];
    snprintf(msg, sizeof msg, "%s",
             json_string_value(json_object_get(e, "id")));
    json_decref(ob);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.rejected") == 1);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.pending") == 0);

    // and never sent again: the agency restarts (a welcome resends what is
    // pending) and sends a probe to the school; once the school's receipt
    // of it is back (the broker handled what came before it on the same
    // connection), the broker has still refused the referral once
    pl_test_net_stop_node(&s_net, AG, false);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    PL_CHECK(s_wait_online(AG));
    json_t *r = NULL;
    PL_CHECK(pl_testnode_tool(&r, NULL, s_net.home[AG],
                              "send --to '%s' --payload probe --json",
                              s_net.address[SC])
             == 0);
    json_decref(r);
    PL_CHECK(
        pl_testnode_wait_stat(s_net.home[AG], "outbox.receipted", 2, S_WAIT_MS)
        == 2);
    char needle[128];
    snprintf(needle, sizeof needle,
             "rejected from=sn/agency id=%s reason=unknown_recipient", msg);
    PL_CHECK(pl_testnet_log_count(&s_net, needle) == 1);
    PL_CHECK(pl_testnode_stat(s_net.home[AG], "outbox.rejected") == 1);

    // the broker's and the agency's logs name the code; no file anywhere
    // (homes, stores, logs) holds the name in clear
    snprintf(needle, sizeof needle,
             "referral_undelivered id=%s to=sn/clinic "
             "delivery=refused-by-broker reason=unknown_recipient",
             ref);
    PL_CHECK(pl_testnode_count_in_file(pl_testnode_log(&s_net, AG), needle)
             == 1);
    for (int i = AG; i <= SC; i++)
        pl_test_net_stop_node(&s_net, i, false);
    pl_test_net_stop_broker(&s_net, false);
    PL_CHECK(pl_test_grep_tree(s_net.root, S_CANARY, strlen(S_CANARY)) == 0);
    fprintf(stderr,
            "broker refusal: referral %s closed as refused-by-broker "
            "(unknown_recipient)\n",
            ref);

    free(ref);
    free(ref1);
    free(c);
    pl_test_net_destroy(&s_net);
    printf("ok: broker_refused\n");
    return 0;
}
