// test_node_clock - a recipient whose certificate is not valid yet by the
// sender's clock (issue 11, item 13: "a clock behind says 'not in this
// node's directory'"). The sender's clock is 200 s behind, so the
// recipient's certificate, issued just now, is not valid yet for it (the
// broker, on time, lists it). A send to it must say that the
// certificate is not valid yet, not that the recipient is unknown; the
// sender's directory keeps the certificate, and nothing reaches the
// outbox. Layer: tests.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { AG = 0, CL = 1 };

int
main(void)
{
    static const char *const fast[] = {"--heartbeat-ms", "1000", NULL};
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "clock", specs, 2);
    // the sender's clock runs 200 s behind (within the 300 s skew the
    // broker tolerates): every certificate issued just now starts, for
    // it, in the future
    static const char *const behind[] = {"PASSERELLE_TEST_CLOCK_OFFSET=-200",
                                         NULL};
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, AG, fast, behind);
    const char *log = pl_testnode_log(&net, AG);
    PL_CHECK(pl_testnode_wait_log(log, "directory_updated", 1, 30000));

    char err[700];
    snprintf(err, sizeof err, "%s/send.err", net.root);
    int rc = pl_testnode_tool(NULL, err, net.home[AG],
                              "send --to '%s' --payload clock --json",
                              net.address[CL]);
    char *text = NULL;
    pl_test_sh(&text, "cat '%s'", err);
    fprintf(stderr, "send to a not-yet-valid recipient: rc=%d %s", rc,
            text ? text : "");
    PL_CHECK(rc != 0);
    PL_CHECK(text && strstr(text, "not yet valid"));
    PL_CHECK(!strstr(text, "not in this node's directory"));
    free(text);
    PL_CHECK(pl_testnode_count_in_file(log, "certificate_not_yet_valid") >= 1);
    PL_CHECK(pl_testnode_stat(net.home[AG], "outbox.pending") == 0);
    PL_CHECK(pl_testnode_stat(net.home[AG], "directory") == 2);
    pl_test_net_destroy(&net);
    fprintf(stderr, "test_node_clock: ok\n");
    return 0;
}
