// test_node_iofail - I/O faults under a real node's store (issue 11, items
// 3 and 7, node side), injected by pl_faultfs (tests/faults/pl_faultfs.c,
// LD_PRELOAD), armed and disarmed by trigger files at a chosen moment:
//   - a failed meta-page write, a failed fdatasync or a failed data-page
//     write (EIO) in the recipient or the sender: the node acknowledges
//     nothing of that commit, logs one "store_failed" line and exits with
//     status 74 within seconds (main stayed alive for ever, committing
//     nothing); restarted without the fault, every envelope the sender
//     acknowledged reaches the recipient exactly once and is receipted;
//   - no space (ENOSPC on the page writes): the node stays up, the control
//     client is told the store is full (not a generic failure), the log
//     says "store_full" at most once per 10 s, and once space is back
//     sends succeed again and everything is delivered. Layer: tests.
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/pl_util.h"
#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 60000
enum { AG = 0, CL = 1 };

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static void
s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

// The environment of a node under the fault injector, in one of the modes
// (each one fails every such call of the node's data.mdb from the arm on,
// until the disarm):
//   meta    EIO on the writes through the O_DSYNC fd: LMDB's meta-page
//           write at the end of a commit
//   sync    EIO on fdatasync/fsync
//   data    EIO on the page writes (the other fds: pwrite, lseek+writev)
//   enospc  ENOSPC on the page writes (a full disk: LMDB aborts the
//           commit, the environment stays usable)
static void
s_env(pl_faults_env_t *e, const pl_test_net_t *net, int who, const char *mode)
{
    memset(e, 0, sizeof *e);
    // an ASan build wants its runtime first; the injector comes before it
    const char *old = getenv("ASAN_OPTIONS");
    pl_faults_env_add(e, "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                      old ? old : "", old && *old ? ":" : "");
    pl_faults_env_add(e, "LD_PRELOAD=%s", pl_faults_lib());
    pl_faults_env_add(e, "PL_FAULT_MATCH=%s/store/data.mdb", net->home[who]);
    pl_faults_env_add(e, "PL_FAULT_LOG=%s/faultfs.log", net->root);
    pl_faults_env_add(e, "PL_FAULT_ARM=%s/fault.on", net->root);
    pl_faults_env_add(e, "PL_FAULT_DISARM=%s/fault.off", net->root);
    pl_faults_env_add(e, "PL_FAULT_ERR_AT=1");
    pl_faults_env_add(e, "PL_FAULT_ERR_PERSIST=1");
    if (strcmp(mode, "meta") == 0) {
        pl_faults_env_add(e, "PL_FAULT_ERR=meta");
    } else if (strcmp(mode, "sync") == 0) {
        pl_faults_env_add(e, "PL_FAULT_ERR=sync");
    } else if (strcmp(mode, "data") == 0) {
        pl_faults_env_add(e, "PL_FAULT_ERR=write");
    } else {
        PL_CHECK(strcmp(mode, "enospc") == 0);
        pl_faults_env_add(e, "PL_FAULT_ERR=write");
        pl_faults_env_add(e, "PL_FAULT_ERR_ERRNO=ENOSPC");
    }
}

// The fault on (the arm file) or off for good (the disarm file).
static void
s_fault(const pl_test_net_t *net, bool on)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", net->root,
             on ? "fault.on" : "fault.off");
    FILE *f = fopen(path, "w");
    PL_CHECK(f);
    fclose(f);
}

// Faults injected so far (pl_faultfs logs one line each).
static long
s_hits(const pl_test_net_t *net)
{
    char path[700];
    snprintf(path, sizeof path, "%s/faultfs.log", net->root);
    return pl_faults_count(path, "event=inject");
}

// Waits (bounded) for our child 'pid' to exit by itself; its exit code, or
// -1 (still running after timeout_ms: then it is killed) or -2 (a signal).
static int
s_wait_exit(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
        s_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

// Sends 'n' test messages from AG; appends the ids to 'ids'. The tool's
// exit code.
static int
s_send(pl_test_net_t *net, int n, const char *tag, json_t *ids, char **err)
{
    char errp[700];
    snprintf(errp, sizeof errp, "%s/send.err", net->root);
    unlink(errp);
    json_t *r = NULL;
    int rc = pl_testnode_tool(&r, errp, net->home[AG],
                              "send --to '%s' --payload '%s' --count %d --json",
                              net->address[CL], tag, n);
    if (rc == 0)
        json_array_extend(ids, json_object_get(r, "ids"));
    json_decref(r);
    if (err) {
        *err = NULL;
        pl_test_sh(err, "cat '%s' 2>/dev/null", errp);
    }
    return rc;
}

// Every id of 'ids' is in CL's inbox exactly once, and nothing else.
static void
s_check_delivered(pl_test_net_t *net, json_t *ids)
{
    long total = (long) json_array_size(ids);
    long got = pl_testnode_wait_stat(net->home[CL], "inbox", total, S_WAIT_MS);
    long rcv = pl_testnode_wait_stat(net->home[AG], "outbox.receipted", total,
                                     S_WAIT_MS);
    fprintf(stderr, "  delivered %ld/%ld, receipted %ld\n", got, total, rcv);
    PL_CHECK(got == total);
    PL_CHECK(rcv == total);
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net->home[CL], "list --json") == 0);
    PL_CHECK((long) json_array_size(list) == total);
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
}

// A fault that makes the store unusable, in node 'who' (AG or CL).
static void
s_fatal(const char *mode, int who)
{
    fprintf(stderr, "fatal fault: %s in the %s\n", mode,
            who == AG ? "sender" : "recipient");
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "iofail", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_faults_env_t env;
    s_env(&env, &net, who, mode);
    pl_testnode_start(&net, AG, s_fast, who == AG ? env.v : NULL);
    pl_testnode_start(&net, CL, s_fast, who == CL ? env.v : NULL);
    const char *log = pl_testnode_log(&net, who);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, 30000));
    json_t *ids = json_array();
    PL_CHECK(s_send(&net, 20, "before", ids, NULL) == 0);
    PL_CHECK(
        pl_testnode_wait_stat(net.home[AG], "outbox.receipted", 20, S_WAIT_MS)
        == 20);

    // the fault; the next commit of 'who' fails
    s_fault(&net, true);
    char *err = NULL;
    int rc = s_send(&net, 10, "during", ids, &err);
    if (who == AG) {
        // the sender's own commit failed: nothing is acknowledged
        fprintf(stderr, "  send during the fault: rc=%d %s", rc,
                err ? err : "");
        PL_CHECK(rc != 0);
    }
    free(err);
    int code = s_wait_exit(net.node_pid[who], 15000);
    net.node_pid[who] = 0;
    fprintf(stderr, "  exit code %d, faults injected %ld\n", code,
            s_hits(&net));
    PL_CHECK(s_hits(&net) > 0);
    PL_CHECK(code == 74);
    PL_CHECK(pl_testnode_count_in_file(log, "store_failed") == 1);
    PL_CHECK(pl_testnode_count_in_file(log, "pass_skipped") == 0);

    // restarted on a clean environment: nothing acknowledged is lost
    s_fault(&net, false);
    pl_testnode_start(&net, who, s_fast, NULL);
    s_check_delivered(&net, ids);
    json_decref(ids);
    pl_test_net_destroy(&net);
}

// No space on the sender's disk, then space again.
static void
s_nospace(void)
{
    fprintf(stderr, "no space in the sender\n");
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "nospace", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_faults_env_t env;
    s_env(&env, &net, AG, "enospc");
    pl_testnode_start(&net, AG, s_fast, env.v);
    pl_testnode_start(&net, CL, s_fast, NULL);
    const char *log = pl_testnode_log(&net, AG);
    PL_CHECK(pl_testnode_wait_log(log, "directory_updated certs=2", 1, 30000));
    json_t *ids = json_array();
    PL_CHECK(s_send(&net, 10, "before", ids, NULL) == 0);

    s_fault(&net, true);
    for (int i = 0; i < 5; i++) {
        char *err = NULL;
        int rc = s_send(&net, 3, "full", ids, &err);
        if (i == 0)
            fprintf(stderr, "  send without space: rc=%d %s", rc,
                    err ? err : "");
        PL_CHECK(rc != 0);
        PL_CHECK(err && strstr(err, "store is full"));
        free(err);
    }
    PL_CHECK(s_hits(&net) > 0);
    PL_CHECK(pl_test_alive(net.node_pid[AG]));
    long lines = pl_testnode_count_in_file(log, "store_full");
    fprintf(stderr, "  store_full lines: %ld\n", lines);
    PL_CHECK(lines >= 1 && lines <= 2);
    PL_CHECK(pl_testnode_count_in_file(log, "store_failed") == 0);

    // space again: the same daemon goes on
    s_fault(&net, false);
    PL_CHECK(s_send(&net, 10, "after", ids, NULL) == 0);
    PL_CHECK(pl_test_alive(net.node_pid[AG]));
    s_check_delivered(&net, ids);
    json_decref(ids);
    pl_test_net_destroy(&net);
}

// PL_TEST_FILTER=N runs case N (1..5) only.
static bool
s_run(int n)
{
    const char *f = getenv("PL_TEST_FILTER");
    return !f || !*f || atoi(f) == n;
}

int
main(void)
{
    if (s_run(1))
        s_fatal("meta", CL);
    if (s_run(2))
        s_fatal("sync", AG);
    if (s_run(3))
        s_fatal("data", CL);
    if (s_run(4))
        s_fatal("meta", AG);
    if (s_run(5))
        s_nospace();
    fprintf(stderr, "test_node_iofail: ok\n");
    return 0;
}
