// test_node_mapfull - a recipient whose store map is full (issue 11, item
// 7, node side). The recipient runs with a 1 MiB map that may not grow;
// the sender sends more than fits. The recipient takes what fits, then
// acknowledges nothing more (the broker keeps the rest and redelivers),
// says so with at most one "store_full" line per 10 s (main logged one
// warning per envelope and redelivery), stays up and answers its control
// socket; restarted with a larger map it takes the rest, and every
// envelope the sender acknowledged arrives exactly once. Layer: tests.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

#define S_BATCH     20
#define S_BATCHES   15     // 300 messages of about 3 KB
#define S_REDELIVER "3000" // the broker's --redeliver-ms in this test
#define S_HOLD_S    12     // full for longer than several broker redeliveries
#define S_WAIT_MS   120000
enum { AG = 0, CL = 1 };

static void
s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

int
main(void)
{
    static const char *const fast[] = {"--heartbeat-ms", "1000", NULL};
    static const char *const tiny[] = {
        "--heartbeat-ms", "1000", "--map-mib", "1", "--map-max-mib", "1", NULL};
    static const char *const roomy[] = {"--heartbeat-ms", "1000", "--map-mib",
                                        "16", NULL};
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "mapfull", specs, 2);
    const char *const redeliver[] = {"--redeliver-ms", S_REDELIVER, NULL};
    pl_testnet_start_broker(&net, redeliver, NULL);
    pl_testnode_start(&net, AG, fast, NULL);
    pl_testnode_start(&net, CL, tiny, NULL);
    const char *clog = pl_testnode_log(&net, CL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, 30000));
    json_t *ids = json_array();
    for (int b = 0; b < S_BATCHES; b++) {
        json_t *r = NULL;
        PL_CHECK(pl_testnode_tool(&r, NULL, net.home[AG],
                                  "send --to '%s' --payload "
                                  "\"mapfull-%d-$(printf '%%03000d' 0)\" "
                                  "--count %d --json",
                                  net.address[CL], b, S_BATCH)
                 == 0);
        json_array_extend(ids, json_object_get(r, "ids"));
        json_decref(r);
    }
    long total = (long) json_array_size(ids);
    // it fills up: the inbox stops growing (bounded wait)
    long first = -1;
    for (int stable = 0, k = 0; stable < 3 && k < 30; k++) {
        s_sleep_ms(2000);
        long n = pl_testnode_stat(net.home[CL], "inbox");
        stable = n == first ? stable + 1 : 0;
        first = n;
    }
    // held full across broker redeliveries (every 3 s here, 30 s by
    // default): at least two while full, and S_HOLD_S in all
    long re0 = pl_testnet_log_count(&net, "redeliver address=");
    uint64_t held_from = pl_mono_ms();
    for (int k = 0; k < 100; k++) {
        if (pl_testnet_log_count(&net, "redeliver address=") >= re0 + 2
            && pl_mono_ms() - held_from >= S_HOLD_S * 1000L)
            break;
        s_sleep_ms(500);
    }
    PL_CHECK(pl_testnet_log_count(&net, "redeliver address=") >= re0 + 2);
    long held = pl_testnode_stat(net.home[CL], "inbox");
    long lines = pl_testnode_count_in_file(clog, "store_full");
    long noisy = pl_testnode_count_in_file(clog, "WARN node envelope_deferred")
                 + pl_testnode_count_in_file(clog, "packet_failed");
    fprintf(stderr,
            "mapfull: %ld sent, %ld..%ld taken while full, %ld store_full "
            "lines, %ld per-envelope lines\n",
            total, first, held, lines, noisy);
    PL_CHECK(held >= 0 && held < total); // it really was full
    PL_CHECK(pl_test_alive(net.node_pid[CL]));
    PL_CHECK(noisy == 0);
    PL_CHECK(lines >= 1 && lines <= S_HOLD_S / 10 + 5);
    PL_CHECK(pl_testnode_count_in_file(clog, "store_failed") == 0);

    // room: every acknowledged envelope arrives, once
    pl_test_net_stop_node(&net, CL, false);
    pl_testnode_start(&net, CL, roomy, NULL);
    long got = pl_testnode_wait_stat(net.home[CL], "inbox", total, S_WAIT_MS);
    long rcv = pl_testnode_wait_stat(net.home[AG], "outbox.receipted", total,
                                     S_WAIT_MS);
    fprintf(stderr, "mapfull: delivered %ld/%ld, receipted %ld\n", got, total,
            rcv);
    PL_CHECK(got == total);
    PL_CHECK(rcv == total);
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net.home[CL], "list --json") == 0);
    size_t i, j;
    json_t *e, *m;
    json_array_foreach(ids, i, e)
    {
        int found = 0;
        json_array_foreach(list, j, m)
        {
            found += strcmp(json_string_value(json_object_get(m, "id")),
                            json_string_value(e))
                     == 0;
        }
        PL_CHECK(found == 1);
    }
    json_decref(list);
    json_decref(ids);
    pl_test_net_destroy(&net);
    fprintf(stderr, "test_node_mapfull: ok\n");
    return 0;
}
