// test_faults_node - a receiving node under the store faults of pl_faultfs,
// with the real broker and a real sending node (pl-testmsg through its
// control socket):
//   * power losses of the recipient B while envelopes stream to it: every
//     message whose send returned at A must end up in B's store exactly
//     once (B says `taken` only after its own commit, so a loss after a
//     taken would lose it for good); the negative control (no sync at B)
//     must lose some;
//   * EIO on B's meta-page write, a persistent EIO on its fdatasync, and
//     EIO on one of its data-page writes (a failed commit): B
//     logs one `store_failed`, exits 74 within seconds; restarted without
//     the fault it receives everything, once.
// Short form: 3 losses (+2 control) and each I/O error once; long form
// (PL_FAULTS_LONG=1): 20 losses (+5). Layer: tests (faults).
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_testnode.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static void
s_touch(const char *path)
{
    FILE *f = fopen(path, "w");
    PL_CHECK(f != NULL);
    fclose(f);
}

static pl_test_net_t *
s_net(const char *tag)
{
    static pl_test_net_t net;
    pl_test_net_init(&net, tag, s_specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, 0, s_fast, NULL);
    pl_testnode_start(&net, 1, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));
    return &net;
}

// ---- power losses of the recipient

static void
s_powerloss(int runs, bool nosync, uint64_t *rng, long *acked, long *lost,
            long *dups)
{
    pl_test_net_t *net = s_net(nosync ? "fn-ctl" : "fn-pl");
    char flog[700], store[700];
    snprintf(flog, sizeof flog, "%s/faultfs.log", net->root);
    snprintf(store, sizeof store, "%s/store/data.mdb", net->home[1]);
    json_t *ids = json_array();
    // some traffic before any loss, through a clean B
    PL_CHECK(pl_faults_node_send(net, ids, 20));
    PL_CHECK(pl_testnode_wait_stat(net->home[1], "inbox", 20, 30000) == 20);
    for (int r = 0; r < runs; r++) {
        pl_test_net_stop_node(net, 1, false);
        char arm[700];
        snprintf(arm, sizeof arm, "%s/arm-%d", net->root, r);
        pl_faults_env_t env;
        pl_faults_env_init(&env, true);
        pl_faults_env_add(&env, "PL_FAULT_MATCH=%s", store);
        pl_faults_env_add(&env, "PL_FAULT_LOG=%s", flog);
        pl_faults_env_add(&env, "PL_FAULT_ARM=%s", arm);
        if (pl_test_rand(rng) % 2) {
            pl_faults_env_add(&env, "PL_FAULT_CRASH=sync:%d",
                              1 + (int) (pl_test_rand(rng) % 6));
        } else {
            pl_faults_env_add(&env, "PL_FAULT_CRASH=ms:%d",
                              200 + (int) (pl_test_rand(rng) % 1500));
        }
        if (nosync)
            pl_faults_env_add(&env, "PL_FAULT_NOSYNC=1");
        pl_testnode_start(net, 1, s_fast, env.v);
        PL_CHECK(pl_faults_node_send(net, ids, 10));
        s_touch(arm);
        uint64_t t0 = pl_mono_ms();
        int st = 0;
        bool dead = false;
        while (!(dead = pl_faults_wait_exit(net->node_pid[1], 0, &st))
               && pl_mono_ms() - t0 < 20000)
            PL_CHECK(pl_faults_node_send(net, ids, 10));
        PL_CHECK(dead);
        net->node_pid[1] = 0;
        if (pl_faults_count(flog, "event=power_loss") != r + 1)
            fprintf(stderr, "recipient died without a power loss: %s %d\n",
                    WIFSIGNALED(st) ? "signal" : "exit",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        PL_CHECK(pl_faults_count(flog, "event=power_loss") == r + 1);
    }
    pl_testnode_start(net, 1, s_fast, NULL);
    pl_faults_node_settle(net, ids, nosync ? 8000 : 30000, lost, dups);
    *acked = (long) json_array_size(ids);
    fprintf(stderr,
            "node power loss%s: losses=%d sent=%ld lost=%ld duplicated=%ld\n",
            nosync ? " (control, no sync)" : "", runs, *acked, *lost, *dups);
    json_decref(ids);
    pl_test_net_destroy(net);
}

// ---- I/O errors at the recipient

static int
s_ioerr(const char *err, bool persist, int at, long *acked, long *lost,
        long *dups)
{
    int failures = 0;
    pl_test_net_t *net = s_net("fn-io");
    char flog[700], store[700], arm[700];
    snprintf(flog, sizeof flog, "%s/faultfs.log", net->root);
    snprintf(store, sizeof store, "%s/store/data.mdb", net->home[1]);
    snprintf(arm, sizeof arm, "%s/arm", net->root);
    pl_test_net_stop_node(net, 1, false);
    pl_faults_env_t env;
    pl_faults_env_init(&env, true);
    pl_faults_env_add(&env, "PL_FAULT_MATCH=%s", store);
    pl_faults_env_add(&env, "PL_FAULT_LOG=%s", flog);
    pl_faults_env_add(&env, "PL_FAULT_ARM=%s", arm);
    pl_faults_env_add(&env, "PL_FAULT_ERR=%s", err);
    pl_faults_env_add(&env, "PL_FAULT_ERR_AT=%d", at);
    if (persist)
        pl_faults_env_add(&env, "PL_FAULT_ERR_PERSIST=1");
    pl_testnode_start(net, 1, s_fast, env.v);
    json_t *ids = json_array();
    PL_CHECK(pl_faults_node_send(net, ids, 10));
    s_touch(arm);
    uint64_t t0 = pl_mono_ms();
    while (!pl_faults_count(flog, "event=inject") && pl_mono_ms() - t0 < 20000)
        PL_CHECK(pl_faults_node_send(net, ids, 5));
    PL_CHECK(pl_faults_count(flog, "event=inject") >= 1);
    uint64_t tf = pl_mono_ms();
    int status = 0;
    bool exited = pl_faults_wait_exit(net->node_pid[1], 10000, &status);
    long failed = pl_faults_count(pl_testnode_log(net, 1), "store_failed");
    fprintf(stderr,
            "node %s EIO (at %d): exited=%d status=%d after %llu ms, "
            "store_failed lines=%ld\n",
            err, at, exited,
            exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            (unsigned long long) (pl_mono_ms() - tf), failed);
    if (!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 74)
        failures++;
    if (failed != 1)
        failures++;
    if (!exited)
        pl_test_stop(net->node_pid[1], SIGKILL, 5000);
    net->node_pid[1] = 0;
    pl_testnode_start(net, 1, s_fast, NULL);
    PL_CHECK(pl_faults_node_send(net, ids, 10));
    pl_faults_node_settle(net, ids, 30000, lost, dups);
    *acked = (long) json_array_size(ids);
    fprintf(stderr, "node %s EIO: sent=%ld lost=%ld duplicated=%ld\n", err,
            *acked, *lost, *dups);
    json_decref(ids);
    pl_test_net_destroy(net);
    return failures;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    uint64_t rng = pl_test_seed();
    bool lng = pl_faults_long();
    const char *only = getenv("PL_TEST_FILTER");
    int bad = 0;
    if (!only || strstr("node-power-loss", only)) {
        long ca, cl = 0, cd, a, l, d;
        // The control must lose something to show the test can see a
        // loss; on a loaded machine a crash may fall where nothing
        // acknowledged is unsynced, so it gets up to three tries.
        for (int t = 0; t < 3 && cl <= 0; t++)
            s_powerloss(lng ? 5 : 2, true, &rng, &ca, &cl, &cd);
        s_powerloss(lng ? 20 : 3, false, &rng, &a, &l, &d);
        pl_faults_result("node-power-loss", lng ? 20 : 3, a, l, d, cl,
                         (cl <= 0) + (l || d));
        if (cl <= 0 || l || d) {
            fprintf(stderr,
                    "FAIL node power loss: control lost %ld (must "
                    "be > 0), lost %ld, duplicated %ld\n",
                    cl, l, d);
            bad++;
        }
    }
    const struct {
        const char *name, *err;
        bool persist;
    } io[] = {{"node-eio-meta-write", "meta", false},
              {"node-eio-fdatasync", "sync", true},
              {"node-eio-data-write", "write", false}};
    for (size_t k = 0; k < sizeof io / sizeof io[0]; k++) {
        if (only && !strstr(io[k].name, only))
            continue;
        long a, l, d;
        int f = s_ioerr(io[k].err, io[k].persist,
                        1 + (int) (pl_test_rand(&rng) % 3), &a, &l, &d);
        pl_faults_result(io[k].name, 1, a, l, d, -1, f + (l || d));
        if (f || l || d) {
            fprintf(stderr,
                    "FAIL %s: %d behaviour checks failed, lost=%ld "
                    "duplicated=%ld\n",
                    io[k].name, f, l, d);
            bad++;
        }
    }
    PL_CHECK(bad == 0);
    printf("test_faults_node: ok\n");
    return 0;
}
