// test_node_storm - a node facing a broker whose store is full (issue 11,
// items 2 and 5). The broker runs with --map-size=2 and the recipient is
// offline, so the sender's envelopes fill the broker's map and every
// further send is answered "store-full". For S_STORM_S seconds (60 with
// PL_FAULTS_LONG=1), with short heartbeats (500 ms):
//   - the sender keeps answering its control socket and stays alive;
//   - its resend schedule never holds more entries than it has pending
//     outbox entries (one entry per id: main appended one per refusal and
//     grew without bound);
//   - its resends stay bounded (each id is retried with a capped,
//     jittered backoff) and so does its log (one "retry later" line per
//     10 s, not one per refusal);
//   - stopped for a few heartbeats (SIGSTOP) and continued, it goes on;
//   - with the broker stopped for a few heartbeats, it notices the silent
//     link itself, re-creates it and gets a new session.
// Then space is made (the broker is restarted with a larger map, the
// recipient starts) and every envelope the sender acknowledged reaches the
// recipient exactly once and is receipted. Layer: tests.
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/pl_util.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_SENDS   60 // envelopes sent, about 64 KiB each
#define S_BATCH   5
#define S_WAIT_MS 180000
enum { AG = 0, CL = 1 };

static void
s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

// Starts the broker with 'map' (e.g. "--map-size=2"), waits until it
// listens.
static void
s_broker(pl_test_net_t *net, const char *map)
{
    char log[600], bin[1024];
    snprintf(log, sizeof log, "%s/broker.log", net->root);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("passerelle-broker"));
    const char *argv[] = {bin,           "--home", net->broker, "--listen",
                          net->endpoint, map,      NULL};
    net->broker_pid = pl_test_spawn(argv, log, NULL);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "for i in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/%d) "
             "2>/dev/null && exit 0; sleep 0.05; done; exit 1",
             net->port);
    PL_CHECK(pl_test_sh(NULL, "bash -c '%s'", cmd) == 0);
}

static long
s_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long) st.st_size : 0;
}

int
main(void)
{
    static const char *const fast[] = {"--heartbeat-ms", "500", NULL};
    const char *specs[] = {"agency:agency", "clinic:health"};
    const char *lf = getenv("PL_FAULTS_LONG");
    int storm_s = lf && *lf && strcmp(lf, "0") != 0 ? 60 : 20;
    pl_test_net_t net;
    pl_test_net_init(&net, "storm", specs, 2);
    s_broker(&net, "--map-size=2");
    pl_testnode_start(&net, AG, fast, NULL);
    const char *alog = pl_testnode_log(&net, AG);
    PL_CHECK(pl_testnode_wait_log(alog, "directory_updated certs=2", 1, 30000));

    // fill the broker: the recipient is offline, so nothing drains
    // a 60,000-character payload made by the shell (the tool's argument
    // list is built with a small buffer): each envelope pads to 64 KiB
    char err[700];
    snprintf(err, sizeof err, "%s/send.err", net.root);
    json_t *acked = json_array();
    for (int b = 0; b < S_SENDS / S_BATCH; b++) {
        json_t *r = NULL;
        int rc = pl_testnode_tool(&r, err, net.home[AG],
                                  "send --to '%s' --payload "
                                  "\"storm-%d-$(printf '%%060000d' 0)\" "
                                  "--count %d --json",
                                  net.address[CL], b, S_BATCH);
        PL_CHECK(rc == 0);
        json_array_extend(acked, json_object_get(r, "ids"));
        json_decref(r);
    }
    long total = (long) json_array_size(acked);
    PL_CHECK(total == S_SENDS);
    PL_CHECK(pl_testnode_wait_log(alog, "outbox_retry_later", 1, 30000));

    // the storm: every resend is refused
    long lines0 = pl_testnode_count_in_file(alog, "outbox_retry_later");
    long size0 = s_file_size(alog);
    long resent0 = pl_testnode_stat(net.home[AG], "counters.resent");
    long max_rs = 0, min_pending = S_SENDS;
    bool stopped_once = false;
    long sessions0 = 0, resets0 = 0;
    uint64_t end = pl_mono_ms() + (uint64_t) storm_s * 1000;
    while (pl_mono_ms() < end) {
        json_t *st = pl_testnode_stats(net.home[AG]);
        PL_CHECK(st); // answers throughout
        long rs =
            (long) json_integer_value(json_object_get(st, "resend_queue"));
        long pending = (long) json_integer_value(
            json_object_get(json_object_get(st, "outbox"), "pending"));
        json_decref(st);
        PL_CHECK(pending > 0); // the broker really is full
        if (rs > max_rs)
            max_rs = rs;
        if (pending < min_pending)
            min_pending = pending;
        // one entry per pending id, never more
        if (rs > pending)
            fprintf(stderr, "storm: resend_queue=%ld > pending=%ld\n", rs,
                    pending);
        PL_CHECK(rs <= pending);
        PL_CHECK(pl_test_alive(net.node_pid[AG]));
        if (!stopped_once && pl_mono_ms() + (uint64_t) storm_s * 500 > end) {
            // halfway: the node's own process stops for 8 heartbeats (its
            // receive side falls behind; whether it then finds its link
            // silent depends on what was in flight, so nothing is required
            // of it but to go on); then the broker stops for 8 heartbeats:
            // the node hears nothing, must notice by itself (no ZMTP
            // heartbeat timeout helps it) and re-create its link
            stopped_once = true;
            PL_CHECK(kill(net.node_pid[AG], SIGSTOP) == 0);
            s_sleep_ms(4000);
            PL_CHECK(kill(net.node_pid[AG], SIGCONT) == 0);
            s_sleep_ms(1000);
            sessions0 = pl_testnode_count_in_file(alog, "session_up");
            resets0 = pl_testnode_count_in_file(alog, "link_reset");
            PL_CHECK(kill(net.broker_pid, SIGSTOP) == 0);
            s_sleep_ms(4000);
            PL_CHECK(kill(net.broker_pid, SIGCONT) == 0);
        }
        s_sleep_ms(1000);
    }
    long resent = pl_testnode_stat(net.home[AG], "counters.resent") - resent0;
    long lines = pl_testnode_count_in_file(alog, "outbox_retry_later") - lines0;
    long grown = s_file_size(alog) - size0;
    fprintf(stderr,
            "storm: %d s, pending>=%ld, max resend_queue=%ld, resends=%ld, "
            "retry lines=%ld, log grew %ld bytes\n",
            storm_s, min_pending, max_rs, resent, lines, grown);
    // each pending id: at most one send per 3.75 s (5 s less jitter), plus
    // one per session (a welcome resends everything once)
    PL_CHECK(resent <= (long) S_SENDS * (storm_s * 4 / 15 + 3));
    // one summary line per 10 s
    PL_CHECK(lines <= storm_s / 10 + 2);
    PL_CHECK(grown < 64 * 1024);
    // the silent link was noticed and re-created, and a session came back
    PL_CHECK(pl_testnode_wait_log(alog, "link_reset", resets0 + 1, 20000));
    PL_CHECK(pl_testnode_wait_log(alog, "session_up", sessions0 + 1, 20000));

    // space: a larger map, and the recipient comes online
    pl_test_net_stop_broker(&net, false);
    s_broker(&net, "--map-size=64");
    pl_testnode_start(&net, CL, fast, NULL);
    long got = pl_testnode_wait_stat(net.home[CL], "inbox", total, S_WAIT_MS);
    long rcv = pl_testnode_wait_stat(net.home[AG], "outbox.receipted", total,
                                     S_WAIT_MS);
    fprintf(stderr, "storm: delivered %ld/%ld, receipted %ld\n", got, total,
            rcv);
    PL_CHECK(got == total);
    PL_CHECK(rcv == total);
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net.home[CL], "list --json") == 0);
    PL_CHECK((long) json_array_size(list) == total);
    size_t i;
    json_t *e;
    json_array_foreach(acked, i, e)
    {
        int found = 0;
        size_t j;
        json_t *m;
        json_array_foreach(list, j, m)
        {
            found += strcmp(json_string_value(json_object_get(m, "id")),
                            json_string_value(e))
                     == 0;
        }
        PL_CHECK(found == 1); // every acknowledged id, exactly once
    }
    PL_CHECK(pl_testnode_stat(net.home[AG], "outbox.pending") == 0);
    json_decref(list);
    json_decref(acked);
    PL_CHECK(pl_test_alive(net.node_pid[AG]));
    pl_test_net_destroy(&net);
    fprintf(stderr, "test_node_storm: ok\n");
    return 0;
}
