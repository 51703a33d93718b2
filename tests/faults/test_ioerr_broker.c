// test_ioerr_broker - I/O errors injected into the broker's store
// (pl_faultfs) while a node streams envelopes, then a restart without the
// fault. What the project's conventions require:
//   * EIO on a meta-page write (the O_DSYNC fd; LMDB then marks the
//     environment MDB_FATAL_ERROR), on fdatasync (persistent: a dead
//     disk), or on a data-page write: the broker stops acknowledging, logs
//     ONE `store_failed` line and exits with status 74 (EX_IOERR) within
//     seconds; it never spins (its log stays short);
//   * ENOSPC on data writes (a short burst): not fatal; the senders of
//     those passes are answered `rejected` store-full (never silence), the
//     broker stays up and accepts again once writes succeed;
//   * after a restart without the fault, every envelope ever acknowledged
//     is delivered exactly once.
// Short form: each fault once; long form (PL_FAULTS_LONG=1): three times,
// at other moments. Layer: tests (faults).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

typedef struct {
    const char *name; // result row
    const char *err;  // PL_FAULT_ERR
    const char *errno_name;
    bool persist; // every one from the Nth on
    int count;    // or this many in a row
    bool fatal;   // expect exit 74, else store-full and recovery
} s_case_t;

static const s_case_t s_cases[] = {
    {"broker-eio-meta-write", "meta", "EIO", false, 1, true},
    {"broker-eio-fdatasync", "sync", "EIO", true, 1, true},
    {"broker-eio-data-write", "write", "EIO", false, 1, true},
    {"broker-enospc-data-write", "write", "ENOSPC", false, 5, false},
};

static void
s_touch(const char *path)
{
    FILE *f = fopen(path, "w");
    PL_CHECK(f != NULL);
    fclose(f);
}

typedef struct {
    long acked, lost, dups;
    int failures; // checks of the expected behaviour that did not hold
} s_outcome_t;

static s_outcome_t
s_run(const s_case_t *c, int at, uint64_t *rng)
{
    s_outcome_t o = {0};
    pl_test_net_t net;
    pl_test_net_init(&net, "ioerr", s_specs, 2);
    char flog[700], store[700], arm[700], blog[700];
    snprintf(flog, sizeof flog, "%s/faultfs.log", net.root);
    snprintf(store, sizeof store, "%s/store/data.mdb", net.broker);
    snprintf(arm, sizeof arm, "%s/arm", net.root);
    snprintf(blog, sizeof blog, "%s/broker.log", net.root);
    pl_faults_env_t env;
    pl_faults_env_init(&env, true);
    pl_faults_env_add(&env, "PL_FAULT_MATCH=%s", store);
    pl_faults_env_add(&env, "PL_FAULT_LOG=%s", flog);
    pl_faults_env_add(&env, "PL_FAULT_ARM=%s", arm);
    pl_faults_env_add(&env, "PL_FAULT_ERR=%s", c->err);
    pl_faults_env_add(&env, "PL_FAULT_ERR_AT=%d", at);
    pl_faults_env_add(&env, "PL_FAULT_ERR_ERRNO=%s", c->errno_name);
    pl_faults_env_add(&env, "PL_FAULT_ERR_COUNT=%d", c->count);
    if (c->persist)
        pl_faults_env_add(&env, "PL_FAULT_ERR_PERSIST=1");
    PL_CHECK(pl_faults_start_broker(&net, NULL, env.v));
    pl_faults_stream_t s;
    pl_faults_stream_open(&s, &net, 0, 1, 2500, 300);
    for (int t = 0; t < 100 && s.accepted < 100; t++)
        pl_faults_stream_pump(&s, 50, 100);
    PL_CHECK(s.accepted >= 100);
    int refused_unarmed = s.refused_full; // must stay 0: no fault yet
    s_touch(arm);
    uint64_t t0 = pl_mono_ms();
    // keep streaming: the fault lands on one of the next passes
    while (!pl_faults_count(flog, "event=inject") && pl_mono_ms() - t0 < 20000)
        pl_faults_stream_pump(&s, 20, 50 + (int) (pl_test_rand(rng) % 50));
    PL_CHECK(pl_faults_count(flog, "event=inject") >= 1);
    long lines_at_fault = pl_faults_lines(blog);
    uint64_t t_fault = pl_mono_ms();
    if (c->fatal) {
        // the broker must go down by itself, loudly once, within 10 s
        int status = 0;
        bool exited = false;
        while (!exited && pl_mono_ms() - t_fault < 10000) {
            pl_faults_stream_pump(&s, 20, 50);
            exited = pl_faults_wait_exit(net.broker_pid, 0, &status);
        }
        long failed = pl_faults_count(blog, "store_failed");
        long extra = pl_faults_lines(blog) - lines_at_fault;
        fprintf(stderr,
                "%s (at %d): exited=%d status=%d after %llu ms, "
                "store_failed lines=%ld, log lines since the fault=%ld\n",
                c->name, at, exited,
                exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                (unsigned long long) (pl_mono_ms() - t_fault), failed, extra);
        if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 74)
            o.failures++;
        if (failed != 1)
            o.failures++;
        if (extra > 200)
            o.failures++; // a spin, not one line
        if (!exited)
            pl_test_stop(net.broker_pid, SIGKILL, 5000);
        net.broker_pid = 0;
        pl_test_net_start_broker(&net, NULL);
    } else {
        // a full disk: refusals, not silence; still up; recovers alone
        uint64_t until = pl_mono_ms() + 8000;
        while (pl_mono_ms() < until)
            pl_faults_stream_pump(&s, 20, 100);
        // refusals since the arming: the first may already have come back
        // while the loop above waited to see the injection
        int refused = s.refused_full - refused_unarmed;
        bool alive = pl_test_alive(net.broker_pid);
        int acked_before = s.accepted;
        for (int t = 0; t < 300 && s.accepted < acked_before + 50; t++)
            pl_faults_stream_pump(&s, 50, 100);
        long full_logs = pl_faults_count(blog, "store_full");
        fprintf(stderr,
                "%s: store-full answers=%d alive=%d accepted again=%d "
                "store_full log lines=%ld\n",
                c->name, refused, alive, s.accepted - acked_before, full_logs);
        if (refused == 0 || refused_unarmed > 0)
            o.failures++;
        if (!alive || s.accepted < acked_before + 50)
            o.failures++;
        if (full_logs < 1 || full_logs > 3)
            o.failures++;
        pl_test_net_stop_broker(&net, false);
        pl_test_net_start_broker(&net, NULL);
    }
    int unique = 0, dups = 0, lost = 0;
    pl_faults_drain(&net, 1, &s, s.accepted, 10000, &unique, &dups, &lost);
    fprintf(stderr, "%s: acknowledged=%d delivered=%d lost=%d dup=%d\n",
            c->name, s.accepted, unique, lost, dups);
    o.acked = s.accepted;
    o.lost = lost;
    o.dups = dups;
    pl_faults_stream_close(&s);
    pl_test_net_destroy(&net);
    return o;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    PL_CHECK(pl_crypto_init() == PL_OK);
    uint64_t rng = pl_test_seed();
    int reps = pl_faults_long() ? 3 : 1, failures = 0;
    const char *only = getenv("PL_TEST_FILTER");
    for (size_t k = 0; k < sizeof s_cases / sizeof s_cases[0]; k++) {
        const s_case_t *c = &s_cases[k];
        if (only && !strstr(c->name, only))
            continue;
        s_outcome_t sum = {0};
        for (int r = 0; r < reps; r++) {
            s_outcome_t o = s_run(c, 1 + (int) (pl_test_rand(&rng) % 5), &rng);
            sum.acked += o.acked;
            sum.lost += o.lost;
            sum.dups += o.dups;
            sum.failures += o.failures;
        }
        pl_faults_result(c->name, reps, sum.acked, sum.lost, sum.dups, -1,
                         sum.failures + (sum.lost || sum.dups));
        if (sum.failures || sum.lost || sum.dups) {
            fprintf(stderr,
                    "FAIL %s: %d behaviour checks failed, lost=%ld "
                    "duplicated=%ld\n",
                    c->name, sum.failures, sum.lost, sum.dups);
            failures++;
        }
    }
    PL_CHECK(failures == 0);
    printf("test_ioerr_broker: ok\n");
    return 0;
}
