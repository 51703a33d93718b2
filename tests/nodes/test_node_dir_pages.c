// test_node_dir_pages - real nodes with a directory larger than a packet
// (issue 20: a national network of thousands of nodes; before, such a
// directory was never sent and no node could reach a node enrolled after
// it started). A broker with 6,000 certificates besides an agency and a
// clinic: both nodes take the directory in pages, and a referral from the
// agency reaches the clinic. The broker restarts: both reconnect and are
// told "unchanged" (no directory sent again). A reload that drops a
// certificate: the change comes to both as a delta (one name removed, not
// the directory again). The agency restarts: it names the directory it
// stored, is told "unchanged", takes it from its store and its referral
// still reaches the clinic. A certificate leaves while the broker is down:
// after its restart the change still comes as a delta (the broker kept
// its directories' names in STORE/dirhist). Layer: tests.
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
#define S_MORE    6000
#define S_CANARY  "Qzdirpagesx" // the case's given name: in no file in clear
enum { AG = 0, CL = 1 };
static pl_test_net_t s_net;
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

// the number of entries of node i's directory is 'n' within S_WAIT_MS
static bool
s_directory_is(int i, size_t n)
{
    for (int waited = 0; waited <= S_WAIT_MS; waited += 200) {
        json_t *d = pl_testnode_json(&s_net, i, "directory");
        size_t have = json_array_size(d);
        json_decref(d);
        if (have == n)
            return true;
        usleep(200 * 1000);
    }
    return false;
}

int
main(void)
{
    PL_CHECK(pl_crypto_init() == 0);
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_init(&s_net, "nodedirpages", specs, 2);
    pl_testnet_issue(&s_net, S_MORE, 0, NULL, NULL);
    pl_testnet_start_broker(&s_net, NULL, NULL);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    pl_testnode_start(&s_net, CL, s_fast, NULL);
    PL_CHECK(s_directory_is(AG, S_MORE + 2));
    PL_CHECK(s_directory_is(CL, S_MORE + 2));
    const char *agl = pl_testnode_log(&s_net, AG);
    const char *cll = pl_testnode_log(&s_net, CL);
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_pages pages=") == 1);
    PL_CHECK(pl_testnet_log_count(&s_net, "directory_paged") >= 1);

    // a referral goes through
    char *c = pl_testnode_case_for_health(&s_net, AG, S_CANARY);
    char *ref = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    PL_CHECK(pl_testnode_wait_log(cll, "referral_received", 1, S_WAIT_MS));

    // the broker restarts: the nodes hold its directory, told "unchanged"
    pl_test_net_stop_broker(&s_net, false);
    pl_testnet_start_broker(&s_net, NULL, NULL);
    PL_CHECK(pl_testnode_wait_log(agl, "directory_unchanged", 1, S_WAIT_MS));
    PL_CHECK(pl_testnode_wait_log(cll, "directory_unchanged", 1, S_WAIT_MS));
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_pages pages=") == 1);
    PL_CHECK(s_directory_is(AG, S_MORE + 2));

    // a certificate leaves: the new directory reaches both
    char path[700];
    snprintf(path, sizeof path, "%s/certs/n0.cert", s_net.broker);
    PL_CHECK(remove(path) == 0);
    PL_CHECK(kill(s_net.broker_pid, SIGHUP) == 0);
    PL_CHECK(s_directory_is(AG, S_MORE + 1));
    PL_CHECK(s_directory_is(CL, S_MORE + 1));
    PL_CHECK(pl_testnode_wait_log(agl, "directory_delta removed=1 added=0", 1,
                                  S_WAIT_MS));
    PL_CHECK(pl_testnode_wait_log(cll, "directory_delta removed=1 added=0", 1,
                                  S_WAIT_MS));
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_pages pages=") == 1);
    PL_CHECK(pl_testnode_count_in_file(cll, "directory_pages pages=") == 1);
    PL_CHECK(pl_testnet_log_count(&s_net, "directory_delta removed=1") == 1);
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_delta_refused") == 0);

    // the agency restarts: "unchanged", taken from its store
    pl_test_net_stop_node(&s_net, AG, false);
    pl_testnode_start(&s_net, AG, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(agl, "directory_unchanged", 2, S_WAIT_MS));
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_pages pages=") == 1);
    PL_CHECK(s_directory_is(AG, S_MORE + 1));
    char *ref2 = pl_testnode_line(
        &s_net, AG, "refer --case %s --to clinic --service svc", c);
    PL_CHECK(pl_testnode_wait_log(cll, "referral_received", 2, S_WAIT_MS));
    free(ref2);

    // a certificate leaves while the broker is down: the broker kept the
    // names of its directories (STORE/dirhist), so after its restart both
    // nodes get the change as a delta, not the whole directory again
    pl_test_net_stop_broker(&s_net, false);
    PL_CHECK(pl_testnet_log_count(&s_net, "directory_history_kept") >= 1);
    snprintf(path, sizeof path, "%s/certs/n1.cert", s_net.broker);
    PL_CHECK(remove(path) == 0);
    pl_testnet_start_broker(&s_net, NULL, NULL);
    PL_CHECK(s_directory_is(AG, S_MORE));
    PL_CHECK(s_directory_is(CL, S_MORE));
    PL_CHECK(pl_testnode_wait_log(agl, "directory_delta removed=1 added=0", 2,
                                  S_WAIT_MS));
    PL_CHECK(pl_testnode_wait_log(cll, "directory_delta removed=1 added=0", 2,
                                  S_WAIT_MS));
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_pages pages=") == 1);
    PL_CHECK(pl_testnode_count_in_file(cll, "directory_pages pages=") == 1);
    PL_CHECK(pl_testnet_log_count(&s_net, "directory_history_loaded") >= 1);
    PL_CHECK(pl_testnode_count_in_file(agl, "directory_delta_refused") == 0);
    PL_CHECK(pl_testnode_count_in_file(cll, "directory_delta_refused") == 0);

    pl_test_net_stop_node(&s_net, AG, false);
    pl_test_net_stop_node(&s_net, CL, false);
    PL_CHECK(pl_test_grep_tree(s_net.root, S_CANARY, strlen(S_CANARY)) == 0);
    fprintf(stderr, "directory of %d in pages: referral %s received\n",
            S_MORE + 2, ref);
    free(ref);
    free(c);
    pl_test_net_destroy(&s_net);
    printf("ok: node_dir_pages\n");
    return 0;
}
