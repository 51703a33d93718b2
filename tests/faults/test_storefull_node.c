// test_storefull_node - real nodes against a broker whose store is full
// (--map-size 4, the recipient offline): the sender's retries must stay
// bounded (issue 11 item 2: every store-full refusal added another resend
// entry for the same id, 3,590 -> 137,988 entries in 61 s and logs in the
// gigabytes). Required: over the whole window (20 s short, 60 s long) the
// resend queue never holds more entries than the sender has messages, and
// the logs of the sender and the broker grow by a bounded number of lines;
// then the recipient comes online, drains, space frees, and every message
// is delivered exactly once and receipted. Layer: tests (faults).
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_testnode.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

#define S_TOTAL 1200 // 4 KiB envelopes: well over a 4 MiB map

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bool lng = pl_faults_long();
    pl_test_net_t net;
    pl_test_net_init(&net, "sfnode", s_specs, 2);
    pl_faults_env_t env;
    pl_faults_env_init(&env, false);
    const char *extra[] = {"--map-size", "4", NULL};
    PL_CHECK(pl_faults_start_broker(&net, extra, env.v));
    pl_testnode_start(&net, 0, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));
    char payload[3001];
    memset(payload, 'p', 3000);
    payload[3000] = 0;
    json_t *ids = json_array();
    char err[700];
    snprintf(err, sizeof err, "%s/tool.log", net.root);
    for (int b = 0; b < S_TOTAL / 100; b++) {
        json_t *out = NULL;
        PL_CHECK(pl_testnode_tool(&out, err, net.home[0],
                                  "send --to '%s' --payload %s --count 100 "
                                  "--json",
                                  net.address[1], payload)
                 == 0);
        json_array_extend(ids, json_object_get(out, "ids"));
        json_decref(out);
    }
    PL_CHECK(json_array_size(ids) == S_TOTAL);
    // the broker refuses once full; watch the sender's retries
    char blog[700];
    snprintf(blog, sizeof blog, "%s/broker.log", net.root);
    // refused for the map (store_full) or for the sender's or recipient's
    // quota (quota_exceeded): both answer the sender store-full
    bool refusing = false;
    for (int i = 0; i < 150 && !refusing; i++) {
        refusing = pl_testnode_wait_log(blog, "store_full", 1, 1)
                   || pl_testnode_wait_log(blog, "quota_exceeded", 1, 1);
        if (!refusing)
            pl_faults_sleep_ms(200);
    }
    PL_CHECK(refusing);
    long a0 = pl_faults_lines(pl_testnode_log(&net, 0));
    long b0 = pl_faults_lines(blog);
    long window = lng ? 60 : 20, max_rs = 0;
    for (long t = 0; t < window; t++) {
        long rs = pl_testnode_stat(net.home[0], "resend_queue");
        if (rs > max_rs)
            max_rs = rs;
        pl_faults_sleep_ms(1000);
    }
    long a_lines = pl_faults_lines(pl_testnode_log(&net, 0)) - a0;
    long b_lines = pl_faults_lines(blog) - b0;
    fprintf(stderr,
            "storefull: %ld s of store-full: resend queue max %ld (%d "
            "messages), log lines sender +%ld broker +%ld\n",
            window, max_rs, S_TOTAL, a_lines, b_lines);
    int failures = 0;
    if (max_rs > S_TOTAL)
        failures++; // more than one entry per id: a retry storm
    if (a_lines > 50 * window || b_lines > 50 * window)
        failures++; // more than ~50 lines a second: logs that fill a disk
    // the sender survived its retries (issue 11 item 5: it aborted twice in
    // libzmq during such a storm, zeromq/libzmq #4364)
    bool alive = pl_test_alive(net.node_pid[0]);
    if (!alive) {
        fprintf(stderr, "storefull: the sender died during the window\n");
        failures++;
        pl_testnode_start(&net, 0, s_fast, NULL);
    }
    // the recipient comes online; everything arrives once
    pl_testnode_start(&net, 1, s_fast, NULL);
    long lost = 0, dups = 0;
    // the sender's backoff may have grown during the window: wait long
    pl_faults_node_settle(&net, ids, 150000, &lost, &dups);
    long rcv =
        pl_testnode_wait_stat(net.home[0], "outbox.receipted", S_TOTAL, 30000);
    fprintf(stderr, "storefull: lost=%ld duplicated=%ld receipted=%ld\n", lost,
            dups, rcv);
    pl_faults_result("node-store-full-retries", 1, S_TOTAL, lost, dups, -1,
                     failures + (lost || dups || rcv != S_TOTAL));
    pl_faults_note("fault=node-store-full-retries window_s=%ld "
                   "resend_queue_max=%ld log_lines_sender=%ld",
                   window, max_rs, a_lines);
    json_decref(ids);
    pl_test_net_destroy(&net);
    PL_CHECK(failures == 0 && lost == 0 && dups == 0 && rcv == S_TOTAL);
    printf("test_storefull_node: ok\n");
    return 0;
}
