// test_mapfull_broker - a broker with a small map (--map-size 8) filled to
// refusal by ONE sender, then drained, must serve every sender again
// WITHOUT a restart (issue 11 item 1: usage measured on LMDB's high-water
// page never went down, so one node could stop the whole network for
// ever). Also: the refusal is an answer (`rejected` store-full, never
// silence), and while that one sender is refused another sender to another
// recipient is still accepted (per-sender / per-recipient quotas). Every
// envelope accepted is delivered exactly once. Short and long form are the
// same (it is quick). Layer: tests (faults).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health",
                                      "school:education"};

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    PL_CHECK(pl_crypto_init() == PL_OK);
    pl_test_net_t net;
    pl_test_net_init(&net, "mapfull", s_specs, 3);
    pl_faults_env_t env;
    pl_faults_env_init(&env, false);
    const char *extra[] = {"--map-size", "8", NULL};
    PL_CHECK(pl_faults_start_broker(&net, extra, env.v));
    int failures = 0;

    // agency -> clinic, 60 KB each, one at a time, until refused
    pl_faults_stream_t a;
    pl_faults_stream_open(&a, &net, 0, 1, 200, 60000);
    int silent = 0;
    for (int i = 0; i < a.n && a.refused_full == 0; i++) {
        pl_rawclient_send(a.c, a.items[i].pkt.data, a.items[i].pkt.len);
        int before = a.accepted + a.refused_full + a.other_rejects;
        uint64_t until = pl_mono_ms() + 5000;
        while (a.accepted + a.refused_full + a.other_rejects == before
               && pl_mono_ms() < until)
            pl_faults_stream_pump(&a, 0, 50);
        if (a.accepted + a.refused_full + a.other_rejects == before)
            silent++;
    }
    fprintf(stderr,
            "mapfull: agency accepted=%d then store-full=%d, silent=%d\n",
            a.accepted, a.refused_full, silent);
    PL_CHECK(a.accepted > 3);
    if (a.refused_full == 0 || silent > 0)
        failures++;

    // another sender to another recipient while agency is refused
    pl_faults_stream_t c;
    pl_faults_stream_open(&c, &net, 2, 0, 40, 200);
    for (int t = 0; t < 50 && c.accepted + c.refused_full < 1; t++)
        pl_faults_stream_pump(&c, 1, 100);
    fprintf(stderr,
            "mapfull: school -> agency while agency is refused: "
            "accepted=%d store-full=%d\n",
            c.accepted, c.refused_full);
    if (c.accepted < 1)
        failures++;

    // the clinic drains its queue
    int unique = 0, dups = 0, lost = 0;
    pl_faults_drain(&net, 1, &a, a.accepted, 10000, &unique, &dups, &lost);
    fprintf(stderr, "mapfull: clinic drained %d (lost %d, duplicated %d)\n",
            unique, lost, dups);
    PL_CHECK(lost == 0 && dups == 0);
    pl_faults_sleep_ms(1500); // the takens are committed

    // without a restart: every sender is served again
    int a0 = a.accepted, c0 = c.accepted;
    for (int t = 0; t < 100 && (a.accepted < a0 + 5 || c.accepted < c0 + 5);
         t++) {
        if (a.accepted < a0 + 5)
            pl_faults_stream_pump(&a, 1, 50);
        if (c.accepted < c0 + 5)
            pl_faults_stream_pump(&c, 1, 50);
    }
    fprintf(stderr,
            "mapfull: after the drain, agency accepted %d more, school %d "
            "more (5 each wanted)\n",
            a.accepted - a0, c.accepted - c0);
    if (a.accepted < a0 + 5 || c.accepted < c0 + 5)
        failures++;
    // and all of it is delivered once
    pl_faults_drain(&net, 1, &a, a.accepted, 5000, &unique, &dups, &lost);
    long lost_total = lost, dups_total = dups;
    pl_faults_drain(&net, 0, &c, c.accepted, 5000, &unique, &dups, &lost);
    lost_total += lost;
    dups_total += dups;
    PL_CHECK(pl_test_alive(net.broker_pid));
    pl_faults_result("broker-map-full", 1, a.accepted + c.accepted, lost_total,
                     dups_total, -1, failures + (lost_total || dups_total));
    pl_faults_stream_close(&a);
    pl_faults_stream_close(&c);
    pl_test_net_destroy(&net);
    fprintf(stderr, "mapfull: %d behaviour checks failed\n", failures);
    PL_CHECK(failures == 0 && lost_total == 0 && dups_total == 0);
    printf("test_mapfull_broker: ok\n");
    return 0;
}
