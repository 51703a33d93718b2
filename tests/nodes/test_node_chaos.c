// test_node_chaos - kill -9 of the sender, the recipient and the broker at
// random moments (bounded: S_KILLS kills, seeded PRNG printed) during
// S_TOTAL sends. Every message whose send command succeeded must end up in
// B's store exactly once and receipted at A: asserted by counts and ids.
//
// A send command interrupted by the death of A is retried with the same
// request id after A restarts: A either carried it out before dying (and
// returns the stored reply) or does it now, never both, so the ids
// recorded are exactly the ones committed. Layer: tests.
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_TOTAL   2000
#define S_BATCH   50
#define S_KILLS   20
#define S_WAIT_MS 150000

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static void
s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

// Starts `pl-testmsg send` in the background with its JSON on 'out'.
static pid_t
s_send_async(const pl_test_net_t *net, const char *rid, int batch,
             const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "exec '%s' --home '%s' send --to '%s' --payload 'chaos-%d' "
             "--count %d --request-id %s --json >'%s' 2>>'%s/tool.log'",
             pl_test_bin("pl-testmsg"), net->home[0], net->address[1], batch,
             S_BATCH, rid, out, net->root);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return pl_test_spawn(argv, NULL, NULL);
}

// Waits for a child with a deadline; returns its exit code or -1.
static int
s_wait_child(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        s_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void
s_kill_restart(pl_test_net_t *net, int target)
{
    if (target == 2) {
        pl_test_net_stop_broker(net, true);
        pl_test_net_start_broker(net, NULL);
    } else {
        pl_test_net_stop_node(net, target, true);
        pl_testnode_start(net, target, s_fast, NULL);
    }
}

int
main(void)
{
    uint64_t rng = pl_test_seed();
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "chaos", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, 0, s_fast, NULL);
    pl_testnode_start(&net, 1, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));

    // which batches get a kill: S_KILLS distinct of S_TOTAL / S_BATCH
    int nbatch = S_TOTAL / S_BATCH;
    bool kill_at[S_TOTAL / S_BATCH] = {0};
    for (int k = 0; k < S_KILLS;) {
        int b = (int) (pl_test_rand(&rng) % (uint64_t) nbatch);
        if (!kill_at[b]) {
            kill_at[b] = true;
            k++;
        }
    }
    json_t *ids = json_array();
    int kills[3] = {0}, retries = 0;
    char out[700];
    snprintf(out, sizeof out, "%s/send.json", net.root);
    for (int b = 0; b < nbatch; b++) {
        char rid[33];
        snprintf(rid, sizeof rid, "%016llx%016llx",
                 (unsigned long long) pl_test_rand(&rng),
                 (unsigned long long) pl_test_rand(&rng));
        pid_t pid = s_send_async(&net, rid, b, out);
        if (kill_at[b]) {
            s_sleep_ms((long) (pl_test_rand(&rng) % 120));
            int target = (int) (pl_test_rand(&rng) % 3);
            kills[target]++;
            s_kill_restart(&net, target);
        }
        int rc = s_wait_child(pid, 30000);
        // interrupted by A's death: the same request id again, A is back
        for (int t = 0; rc != 0 && t < 5; t++) {
            retries++;
            if (!pl_test_alive(net.node_pid[0]))
                pl_testnode_start(&net, 0, s_fast, NULL);
            pid = s_send_async(&net, rid, b, out);
            rc = s_wait_child(pid, 30000);
        }
        PL_CHECK(rc == 0);
        json_error_t jerr;
        json_t *r = json_load_file(out, 0, &jerr);
        json_t *a = json_object_get(r, "ids");
        PL_CHECK(json_array_size(a) == S_BATCH);
        json_array_extend(ids, a);
        json_decref(r);
    }
    fprintf(stderr, "chaos: kills A=%d B=%d broker=%d, send retries=%d\n",
            kills[0], kills[1], kills[2], retries);
    long total = (long) json_array_size(ids);
    PL_CHECK(total == S_TOTAL);

    // everything settles: B holds each once, A holds a receipt for each
    long got = pl_testnode_wait_stat(net.home[1], "inbox", total, S_WAIT_MS);
    long rcv = pl_testnode_wait_stat(net.home[0], "outbox.receipted", total,
                                     S_WAIT_MS);
    fprintf(stderr, "chaos: inbox=%ld receipted=%ld of %ld\n", got, rcv, total);
    PL_CHECK(got == total && rcv == total);
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net.home[1], "list --json") == 0);
    PL_CHECK((long) json_array_size(list) == total);
    json_t *seen = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        PL_CHECK(id && !json_object_get(seen, id));
        json_object_set_new(seen, id, json_true());
    }
    json_array_foreach(ids, i, e)
        PL_CHECK(json_object_get(seen, json_string_value(e)));
    // nothing left unsettled at A
    PL_CHECK(pl_testnode_stat(net.home[0], "outbox.pending") == 0);
    PL_CHECK(pl_testnode_stat(net.home[0], "outbox.accepted") == 0);
    PL_CHECK(pl_testnode_stat(net.home[0], "outbox.rejected") == 0);
    json_decref(seen);
    json_decref(list);
    json_decref(ids);
    pl_test_net_destroy(&net);
    printf("test_node_chaos: ok\n");
    return 0;
}
