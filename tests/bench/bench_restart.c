// bench_restart - a broker restarted with a full spool (issue 20 item 5):
// how long from its start until a node gets its first delivery. Layer:
// tests (run by hand: `make bench`; prints figures, asserts none).
//
// A network of an agency and 10 clinics is enrolled (the real CLI); the
// broker's store is filled directly through pl_spool with N envelopes
// (default 100,000), spread round robin over the 10 clinics' queues, each
// a real sealed envelope from the agency (one seal; the spool ids differ,
// the broker forwards the bytes). Then a real passerelle-broker process
// is started on that store, and a raw CurveZMQ client with clinic 0's keys
// (tests/lib/pl_rawclient), started at the same moment, says hello and
// waits for its first envelope. Printed: the fill, the time until the
// broker listens, until the welcome, until the first delivery (target
// < 2 s), and the broker's RSS then.
// Usage: bench_restart [N]
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/pl_spool.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"

#define S_CLINICS 10
#define S_BATCH   2000 // envelopes per commit while filling

// Starts the broker on the filled store and, at once, a client for
// clinic 0; prints the times; stops the broker. 'cold': the store's pages
// are dropped from the page cache first (posix_fadvise DONTNEED on this
// file only, after an fsync), as after a reboot. Returns the time to the
// first delivery in seconds, or -1.
static double
s_restart(pl_test_net_t *net, const char *store, bool cold)
{
    if (cold) {
        char file[800];
        snprintf(file, sizeof file, "%s/data.mdb", store);
        int fd = open(file, O_RDONLY);
        PL_CHECK(fd >= 0);
        (void) fdatasync(fd);
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    char log[600], bin[1024];
    snprintf(log, sizeof log, "%s/broker.log", net->root);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("passerelle-broker"));
    const char *bargv[] = {bin,        "--home",      net->broker,
                           "--listen", net->endpoint, NULL};
    double t0 = pl_bench_now();
    net->broker_pid = pl_test_spawn(bargv, log, NULL);
    pl_rawclient_t *cl = pl_rawclient_open(net->home[1], net->endpoint);
    PL_CHECK(cl);
    double t_welcome = -1, t_first = -1;
    // the hello is queued until the connection is up; resent each second
    for (int k = 0; k < 30 && t_welcome < 0; k++)
        if (pl_rawclient_hello(cl, 1000) == PL_OK)
            t_welcome = pl_bench_now() - t0;
    for (int k = 0; k < 300 && t_welcome >= 0 && t_first < 0; k++) {
        pl_packet_t *p = NULL;
        if (pl_rawclient_recv(cl, &p, 100) != PL_OK)
            continue;
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_ENVELOPE)
            t_first = pl_bench_now() - t0;
        pl_wire_free(&p);
    }
    long rss = pl_bench_proc_kib(net->broker_pid, "VmRSS:");
    printf("restart (%s page cache): welcome after %.3f s, first delivery "
           "after %.3f s (target < 2 s: %s); broker RSS %.1f MiB\n",
           cold ? "cold" : "warm", t_welcome, t_first,
           t_first >= 0 && t_first < 2.0 ? "met" : "NOT met",
           (double) rss / 1024);
    if (!cold) {
        // the steady cost of a full spool: CPU while nothing happens (the
        // expiry sweep runs every 5 s)
        double c0 = pl_bench_proc_cpu(net->broker_pid), w0 = pl_bench_now();
        sleep(12);
        double c1 = pl_bench_proc_cpu(net->broker_pid), w1 = pl_bench_now();
        printf("restart: broker CPU while idle with the spool full: %.1f %% "
               "of a core\n",
               100.0 * (c1 - c0) / (w1 - w0));
    }
    pl_rawclient_close(&cl);
    pl_test_net_stop_broker(net, false);
    return t_first;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    if (n < S_CLINICS || pl_crypto_init() != PL_OK)
        return 1;
    const char *specs[S_CLINICS + 1];
    char spec[S_CLINICS][32];
    specs[0] = "agency:agency";
    for (int i = 0; i < S_CLINICS; i++) {
        snprintf(spec[i], sizeof spec[i], "clinic%d:health", i);
        specs[i + 1] = spec[i];
    }
    pl_test_net_t net;
    pl_test_net_init(&net, "bench-restart", specs, S_CLINICS + 1);

    // one real envelope, agency -> clinic0 (sealing needs no broker)
    pl_rawclient_t *ag = pl_rawclient_open(net.home[0], net.endpoint);
    PL_CHECK(ag);
    pl_buf_t packet = {0};
    uint8_t id0[PL_MSG_ID_BYTES];
    PL_CHECK(
        pl_rawclient_seal(ag, net.home[1], NULL, "restart", 7, 0, id0, &packet)
        == PL_OK);
    pl_rawclient_close(&ag);

    char store[700];
    snprintf(store, sizeof store, "%s/store", net.broker);
    size_t map = (size_t) 1 << 30;
    pl_spool_t *sp = pl_spool_open(store, map, NULL);
    PL_CHECK(sp);
    pl_spool_set_quotas(sp, map, map); // the whole map for this one sender
    pl_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.from, sizeof h.from, "%s", net.address[0]);
    uint64_t now = (uint64_t) time(NULL);
    h.expires_at = now + 30 * 86400;
    double t0 = pl_bench_now();
    for (long done = 0; done < n;) {
        PL_CHECK(pl_spool_begin(sp) == PL_OK);
        for (int i = 0; i < S_BATCH && done < n; i++, done++) {
            randombytes_buf(h.id, sizeof h.id);
            snprintf(h.to, sizeof h.to, "%s",
                     net.address[1 + done % S_CLINICS]);
            bool dup = false;
            pl_spool_refusal_t why = PL_SPOOL_ROOM;
            PL_CHECK(pl_spool_nest(sp) == PL_OK);
            PL_CHECK(pl_spool_put(sp, &h, packet.data, packet.len, now * 1000,
                                  &dup, &why)
                     == PL_OK);
            PL_CHECK(pl_spool_nest_commit(sp) == PL_OK);
        }
        PL_CHECK(pl_spool_commit(sp) == PL_OK);
    }
    double fill_s = pl_bench_now() - t0;
    uint64_t file = pl_spool_file_bytes(sp);
    pl_spool_close(&sp);
    printf("restart: %ld envelopes of %zu bytes queued for %d nodes "
           "(store %.0f MiB, filled in %.1f s)\n",
           n, packet.len, S_CLINICS, (double) file / (1 << 20), fill_s);

    double cold = s_restart(&net, store, true);
    double warm = s_restart(&net, store, false);
    pl_buf_free(&packet);
    pl_test_net_destroy(&net);
    return cold >= 0 && warm >= 0 ? 0 : 1;
}
