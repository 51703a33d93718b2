// test_broker_iofault - the real passerelle-broker when its disk fails:
// real fdatasync / meta-page write / page write calls on data.mdb fail
// (pl_faultfs, LD_PRELOAD: tests/faults/pl_faultfs.c, armed and disarmed by
// trigger files while the broker runs) or a real small tmpfs fills up. A failed
// sync or meta-page write: nothing of that pass is acknowledged, one
// `store_failed` line, exit 74 within seconds, and after a restart every
// acknowledged envelope is delivered once. A full disk: store-full refusals,
// the broker stays up and serves again once the recipient drained its queue. A
// slow disk under a flood from a node that then vanishes: the broker stays up.
// Layer: tests (faults). cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

// the fault injector's trigger files and log, under the net's root
static char s_arm[700], s_disarm[700], s_flog[700];
static char s_mounted[700]; // a tmpfs to unmount even if a check failed

static int
s_teardown(void **state)
{
    (void) state;
    if (s_mounted[0] && umount(s_mounted) == 0)
        s_mounted[0] = 0;
    return 0;
}

// The fault modes of this test, as pl_faultfs settings (each one from the
// arm on, until the disarm):
//   sync-eio      fdatasync/fsync of data.mdb fail with EIO
//   meta-eio      writes through the O_DSYNC fd of data.mdb (LMDB's
//                 meta-page write, after the data sync) fail with EIO:
//                 LMDB then marks the environment MDB_FATAL_ERROR
//   write-enospc  page writes through the other fds fail with ENOSPC
//   sync-slow     fdatasync/fsync of data.mdb take one second more, from
//                 the start (no arm file)
static void
s_mode_env(pl_test_net_t *net, const char *mode, pl_faults_env_t *env)
{
    snprintf(s_arm, sizeof s_arm, "%s/fault.on", net->root);
    snprintf(s_disarm, sizeof s_disarm, "%s/fault.off", net->root);
    snprintf(s_flog, sizeof s_flog, "%s/faultfs.log", net->root);
    memset(env, 0, sizeof *env);
    // an ASan build checks that its runtime comes first; ours is a plain
    // interposer below it
    pl_faults_env_add(env, "ASAN_OPTIONS=verify_asan_link_order=0:"
                           "detect_leaks=1:abort_on_error=1");
    pl_faults_env_add(env, "LD_PRELOAD=%s", pl_faults_lib());
    pl_faults_env_add(env, "PL_FAULT_MATCH=%s/store/data.mdb", net->broker);
    pl_faults_env_add(env, "PL_FAULT_LOG=%s", s_flog);
    pl_faults_env_add(env, "PL_FAULT_DISARM=%s", s_disarm);
    if (strcmp(mode, "sync-slow") == 0) {
        pl_faults_env_add(env, "PL_FAULT_SLOW_SYNC_MS=1000");
        return;
    }
    pl_faults_env_add(env, "PL_FAULT_ARM=%s", s_arm);
    pl_faults_env_add(env, "PL_FAULT_ERR_AT=1");
    pl_faults_env_add(env, "PL_FAULT_ERR_PERSIST=1");
    if (strcmp(mode, "sync-eio") == 0) {
        pl_faults_env_add(env, "PL_FAULT_ERR=sync");
    } else if (strcmp(mode, "meta-eio") == 0) {
        pl_faults_env_add(env, "PL_FAULT_ERR=meta");
    } else {
        assert_string_equal(mode, "write-enospc");
        pl_faults_env_add(env, "PL_FAULT_ERR=write");
        pl_faults_env_add(env, "PL_FAULT_ERR_ERRNO=ENOSPC");
    }
}

static void
s_touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

// the fault on (the arm file) or off for good (the disarm file)
static void
s_fault(bool on)
{
    s_touch(on ? s_arm : s_disarm);
}

// starts the broker; under the fault injector in 'mode' if not NULL
static void
s_broker(pl_test_net_t *net, const char *extra, const char *mode)
{
    const char *const args[] = {extra, NULL};
    pl_faults_env_t env;
    if (mode)
        s_mode_env(net, mode, &env);
    pl_testnet_start_broker(net, args, mode ? env.v : NULL);
}

// waits up to 'ms' for our child to exit; its status, or -1
static int
s_wait_exit(pid_t pid, int ms)
{
    int status = 0;
    for (int waited = 0; waited <= ms; waited += 20) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

// 'b' takes what arrives until 'want' distinct ids of 'acked' were seen
// (or 20 s pass, then 1 s more of quiet); counts each id's deliveries
static void
s_drain_check(pl_rawclient_t *b, uint8_t (*acked)[16], int nacked)
{
    int *times = calloc((size_t) nacked + 1, sizeof *times);
    int distinct = 0, others = 0;
    uint64_t deadline = pl_mono_ms() + 20000;
    while (pl_mono_ms() < deadline) {
        pl_packet_t *r = NULL;
        int wait = distinct == nacked ? 1000 : 500;
        if (pl_rawclient_recv(b, &r, wait) != PL_OK) {
            if (distinct == nacked)
                break; // all there, and a quiet second after
            continue;
        }
        if (r->kind_case != PASSERELLE__V1__PACKET__KIND_ENVELOPE) {
            pl_wire_free(&r);
            continue;
        }
        pl_envelope_t v;
        pl_header_t h;
        pl_envelope_view(r->envelope, &v);
        assert_int_equal(pl_header_decode(v.header, v.header_len, &h), 0);
        int k = -1;
        for (int i = 0; i < nacked && k < 0; i++)
            if (memcmp(acked[i], h.id, 16) == 0)
                k = i;
        if (k >= 0) {
            if (times[k]++ == 0)
                distinct++;
        } else {
            others++;
        }
        pl_buf_t out = {0};
        assert_int_equal(
            pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, h.id, &out),
            0);
        assert_int_equal(pl_rawclient_send(b, out.data, out.len), 0);
        pl_buf_free(&out);
        pl_wire_free(&r);
    }
    int twice = 0;
    for (int i = 0; i < nacked; i++)
        twice += times[i] > 1;
    fprintf(stderr,
            "iofault: acknowledged=%d delivered=%d twice=%d "
            "unacknowledged_delivered=%d\n",
            nacked, distinct, twice, others);
    assert_int_equal(distinct, nacked); // nothing acknowledged is lost
    assert_int_equal(twice, 0);
    free(times);
}

// A fault that must stop the broker: acknowledged before, silence after,
// exit 74, one line; a restart on the same store delivers each
// acknowledged envelope once.
static void
s_fatal_case(const char *tag, const char *mode)
{
    pl_test_net_t net;
    pl_test_net_init(&net, tag, s_specs, 2);
    s_broker(&net, "--map-size=64", mode);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    enum { N = 20 };
    uint8_t acked[N + 8][16];
    int nacked = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(
            pl_testnet_offer(a, net.home[1], 2000, acked[nacked], 5000), 1);
        nacked++;
    }
    s_fault(true);
    // from now on nothing may be acknowledged
    for (int i = 0; i < 5; i++) {
        uint8_t id[16];
        int got = pl_testnet_offer(a, net.home[1], 2000, id, 600);
        assert_true(got < 0); // neither accepted nor refused: silence
    }
    int status = s_wait_exit(net.broker_pid, 10000);
    assert_true(status != -1); // exited within seconds, not spinning
    net.broker_pid = 0;
    assert_true(WIFEXITED(status));
    fprintf(stderr, "iofault %s: exit status %d\n", mode, WEXITSTATUS(status));
    assert_int_equal(WEXITSTATUS(status), 74);
    assert_int_equal(pl_testnet_log_count(&net, "store_failed"), 1);
    assert_int_equal(pl_testnet_log_count(&net, "pass_skipped"), 0);
    // the fault really was injected
    assert_true(pl_faults_count(s_flog, "event=inject") >= 1);
    pl_rawclient_close(&a);
    // a restart on the same store, faults off
    s_broker(&net, "--map-size=64", NULL);
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 5000), PL_OK);
    s_drain_check(b, acked, nacked);
    pl_rawclient_close(&b);
    pl_test_net_destroy(&net);
}

static void
test_sync_error_exits(void **state)
{
    (void) state;
    s_fatal_case("fsync", "sync-eio");
}

static void
test_meta_write_error_exits(void **state)
{
    (void) state;
    s_fatal_case("metaeio", "meta-eio");
}

// ENOSPC on the page writes: refused store-full, not fatal, recovers
static void
test_write_enospc_recovers(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "enospc", s_specs, 2);
    s_broker(&net, "--map-size=64", "write-enospc");
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    uint8_t acked[64][16];
    int nacked = 0;
    for (int i = 0; i < 10; i++)
        assert_int_equal(
            pl_testnet_offer(a, net.home[1], 2000, acked[nacked++], 5000), 1);
    s_fault(true);
    for (int i = 0; i < 30; i++) {
        uint8_t id[16];
        assert_int_equal(pl_testnet_offer(a, net.home[1], 2000, id, 5000), 0);
    }
    assert_true(pl_test_alive(net.broker_pid));
    long lines = pl_testnet_log_count(&net, "store_full");
    fprintf(stderr, "enospc: 30 refusals, %ld store_full lines\n", lines);
    assert_true(lines >= 1 && lines <= 3);
    assert_int_equal(pl_testnet_log_count(&net, "store_failed"), 0);
    assert_true(pl_faults_count(s_flog, "event=inject") >= 1);
    // space is back: served again, same process
    s_fault(false);
    uint64_t deadline = pl_mono_ms() + 10000;
    int got = 0;
    while (got != 1 && pl_mono_ms() < deadline)
        got = pl_testnet_offer(a, net.home[1], 2000, acked[nacked], 5000);
    assert_int_equal(got, 1);
    nacked++;
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 5000), PL_OK);
    s_drain_check(b, acked, nacked);
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_test_net_destroy(&net);
}

// a real full file system: the store on a 6 MiB tmpfs, a 64 MiB map
static void
test_disk_full_tmpfs(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "diskfull", s_specs, 2);
    char store[700];
    snprintf(store, sizeof store, "%s/store", net.broker);
    assert_int_equal(mkdir(store, 0700), 0);
    if (mount("tmpfs", store, "tmpfs", 0, "size=6m,mode=0700") != 0) {
        fprintf(stderr, "disk_full: cannot mount a tmpfs (%s): skipped\n",
                strerror(errno));
        pl_test_net_destroy(&net);
        skip();
    }
    snprintf(s_mounted, sizeof s_mounted, "%s", store);
    const char *args[] = {"--map-size=64", NULL};
    s_broker(&net, args[0], NULL);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    uint8_t acked[200][16];
    int nacked = 0, refused = 0;
    // 60 kB each until the first store-full (the broker keeps 2 MiB of
    // the disk free for takens)
    for (int i = 0; i < 200 && refused == 0; i++) {
        int got = pl_testnet_offer(a, net.home[1], 60000, acked[nacked], 5000);
        assert_true(got >= 0);
        if (got == 1)
            nacked++;
        else
            refused++;
    }
    fprintf(stderr, "disk_full: accepted=%d before the disk was full\n",
            nacked);
    assert_int_equal(refused, 1);
    assert_true(nacked > 10);
    // another process takes the rest of the disk: not a byte left
    assert_int_equal(pl_test_sh(NULL,
                                "dd if=/dev/zero of='%s/filler' bs=64k "
                                "2>/dev/null; true",
                                store),
                     0);
    for (int i = 0; i < 10; i++) {
        uint8_t id[16];
        assert_int_equal(pl_testnet_offer(a, net.home[1], 2000, id, 5000), 0);
    }
    assert_true(pl_test_alive(net.broker_pid));
    long lines = pl_testnet_log_count(&net, "store_full");
    assert_true(lines >= 1 && lines <= 4);
    assert_int_equal(pl_testnet_log_count(&net, "store_failed"), 0);
    // the recipient drains on the full disk: every acknowledged one once
    // (takens free pages inside data.mdb; they commit without growing it)
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 5000), PL_OK);
    s_drain_check(b, acked, nacked);
    // room again inside data.mdb (its preallocated tail and the pages the
    // takens freed): served while the disk is still 100 % full
    uint64_t deadline = pl_mono_ms() + 15000;
    int got = 0;
    uint8_t id[16];
    while (got != 1 && pl_mono_ms() < deadline) {
        got = pl_testnet_offer(a, net.home[1], 2000, id, 5000);
        if (got != 1)
            pl_test_sh(NULL, "sleep 0.2");
    }
    assert_int_equal(got, 1);
    // and the disk freed: big ones again too
    assert_int_equal(pl_test_sh(NULL, "rm -f '%s/filler'", store), 0);
    deadline = pl_mono_ms() + 15000;
    got = 0;
    while (got != 1 && pl_mono_ms() < deadline) {
        got = pl_testnet_offer(a, net.home[1], 60000, id, 5000);
        if (got != 1)
            pl_test_sh(NULL, "sleep 0.2");
    }
    assert_int_equal(got, 1);
    assert_int_equal(pl_testnet_log_count(&net, "store_failed"), 0);
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_test_net_stop_broker(&net, false);
    assert_int_equal(umount(store), 0);
    s_mounted[0] = 0;
    pl_test_net_destroy(&net);
}

// A node floods a broker whose disk is slow (its receive pipe fills, libzmq
// stops reading that connection), then vanishes. With ZMTP heartbeats on
// the broker's ROUTER, the next heartbeat timer wrote to the dead
// connection: 'Assertion failed: !_io_error (src/stream_engine_base.cpp)'
// and the broker aborted (libzmq 4.3.4; zeromq/libzmq #4364, #4767,
// #3937). The broker must stay up and serve the others.
static void
test_flood_then_vanish(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "vanish", s_specs, 2);
    s_broker(&net, "--map-size=256", "sync-slow");
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    // 20,000 distinct envelopes: far more than the broker's receive pipe
    // (10,000) and the socket buffers hold while it takes 1 s a pass
    enum { N = 20000 };
    int sent = 0;
    for (int i = 0; i < N; i++) {
        uint8_t id[16];
        pl_buf_t pkt = {0};
        assert_int_equal(
            pl_rawclient_seal(a, net.home[1], NULL, "flood", 5, 0, id, &pkt),
            0);
        sent += pl_rawclient_send(a, pkt.data, pkt.len) == 0;
        pl_buf_free(&pkt);
    }
    pl_test_sh(NULL, "sleep 2"); // let the pipe fill up
    pl_rawclient_close(&a);      // gone, with its pipe at the broker full
    fprintf(stderr, "vanish: sent=%d, the sender closed\n", sent);
    // three heartbeat intervals of the old setting (5 s) and more
    for (int i = 0; i < 16 && pl_test_alive(net.broker_pid); i++)
        pl_test_sh(NULL, "sleep 1");
    assert_true(pl_test_alive(net.broker_pid));
    assert_true(pl_faults_count(s_flog, "event=slow_sync") >= 1);
    // and it still serves
    s_fault(false);
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    assert_int_equal(pl_rawclient_hello(b, 30000), PL_OK);
    uint8_t id[16];
    assert_int_equal(pl_testnet_offer(b, net.home[0], 100, id, 30000), 1);
    assert_true(pl_test_alive(net.broker_pid));
    pl_rawclient_close(&b);
    pl_test_net_destroy(&net);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_error_exits),
        cmocka_unit_test(test_meta_write_error_exits),
        cmocka_unit_test(test_write_enospc_recovers),
        cmocka_unit_test(test_flood_then_vanish),
        cmocka_unit_test_teardown(test_disk_full_tmpfs, s_teardown),
    };
    return PL_TESTNET_MAIN(tests); // SIGPIPE, crypto, PL_TEST_FILTER
}
