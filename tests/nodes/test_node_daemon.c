// test_node_daemon - the daemon's guard rails, with real processes:
//   a second daemon on one home is refused; a 0644 secret is refused; a
//   home whose control path is too long is refused (daemon and CLI); a CLI
//   call to a stopped daemon says "not running"; a CLI call to a frozen
//   daemon (SIGSTOP) fails within about 10 s; a kill -9 leaves a stale
//   LMDB reader that the restarted daemon clears (mdb_reader_list shows
//   no dead reader); a skewed clock refuses sealing; an unknown recipient
//   is refused clearly; directory and network answer; a passphrase store.
// Layer: tests.
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { A = 0, B = 1 };

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static long
s_ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

// Runs a daemon that must refuse to start: returns its exit code, its
// output in 'out' (caller frees).
static int
s_refused_start(const char *home, const char *endpoint, char **out,
                const char *env)
{
    return pl_test_sh(out, "%s timeout 30 '%s' --home '%s' --broker '%s' 2>&1",
                      env ? env : "", pl_test_bin("passerelle-node"), home,
                      endpoint);
}

// Counts reader slots of dead processes in an environment.
typedef struct {
    int dead, total;
} s_readers_t;

static int
s_reader_line(const char *msg, void *ctx)
{
    s_readers_t *r = ctx;
    long pid = 0;
    // lines: "    pid     thread     txnid" then one per reader
    if (sscanf(msg, " %ld", &pid) == 1 && pid > 0) {
        r->total++;
        if (kill((pid_t) pid, 0) != 0 && errno == ESRCH)
            r->dead++;
    }
    return 0;
}

// Opens 'home's store as a witness: while some process keeps the
// environment open, LMDB does not reset its reader table, so a reader slot
// left by a killed process stays visible (as it would in a running
// daemon's environment after, say, a backup tool was killed).
static MDB_env *
s_witness(const char *home)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/store", home);
    MDB_env *env;
    PL_CHECK(mdb_env_create(&env) == 0);
    PL_CHECK(mdb_env_set_maxdbs(env, 32) == 0);
    PL_CHECK(mdb_env_set_mapsize(env, (size_t) 1 << 30) == 0);
    PL_CHECK(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600) == 0);
    return env;
}

static s_readers_t
s_readers(MDB_env *env)
{
    s_readers_t r = {0, 0};
    PL_CHECK(mdb_reader_list(env, s_reader_line, &r) >= 0);
    return r;
}

// A process that holds a read transaction on 'home's store and is then
// killed with SIGKILL: its reader slot stays behind.
static void
s_leave_stale_reader(const char *home)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/store", home);
    int fds[2];
    PL_CHECK(pipe(fds) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    PL_CHECK(pid >= 0);
    if (pid == 0) {
        MDB_env *env;
        MDB_txn *txn;
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 32)
            || mdb_env_set_mapsize(env, (size_t) 1 << 30)
            || mdb_env_open(env, dir, MDB_NOTLS, 0600)
            || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
            _exit(1);
        if (write(fds[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    PL_CHECK(read(fds[0], &c, 1) == 1);
    close(fds[0]);
    close(fds[1]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

int
main(void)
{
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "daemon", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, A, s_fast, NULL);
    pl_testnode_start(&net, B, s_fast, NULL);
    const char *alog_tmp = pl_testnode_log(&net, A);
    char alog[700];
    snprintf(alog, sizeof alog, "%s", alog_tmp);
    PL_CHECK(pl_testnode_wait_log(alog, "directory_updated certs=2", 1, 20000));
    const char *cli = pl_test_bin("passerelle");
    char cli_path[1024];
    snprintf(cli_path, sizeof cli_path, "%s", cli);
    char *out = NULL;

    // directory and network answer through the daemon
    PL_CHECK(pl_test_sh(&out,
                        "'%s' --home '%s' directory --sector health "
                        "--json",
                        cli_path, net.home[A])
             == 0);
    json_error_t jerr;
    json_t *dir = json_loads(out, 0, &jerr);
    free(out);
    PL_CHECK(json_array_size(dir) == 1);
    json_t *e0 = json_array_get(dir, 0);
    PL_CHECK(strcmp(json_string_value(json_object_get(e0, "address")),
                    net.address[B])
             == 0);
    PL_CHECK(strcmp(json_string_value(json_object_get(e0, "dimension")), "")
             != 0);
    PL_CHECK(json_string_length(json_object_get(e0, "box_key_id")) == 16);
    json_decref(dir);
    PL_CHECK(pl_test_sh(&out, "'%s' --home '%s' network --json", cli_path,
                        net.home[A])
             == 0);
    json_t *netw = json_loads(out, 0, &jerr);
    free(out);
    PL_CHECK(json_array_size(json_object_get(netw, "nodes")) == 2);
    json_decref(netw);
    PL_CHECK(pl_test_sh(&out, "'%s' --home '%s' network", cli_path, net.home[A])
             == 0);
    PL_CHECK(strstr(out, net.address[B]) != NULL);
    free(out);

    // an unknown recipient is refused clearly
    PL_CHECK(pl_testnode_tool(NULL, NULL, net.home[A],
                              "send --to sn/nobody --payload x 2>&1")
             == 1);

    // a second daemon on the same home is refused
    PL_CHECK(s_refused_start(net.home[A], net.endpoint, &out, NULL) == 1);
    PL_CHECK(strstr(out, "already running") != NULL);
    free(out);

    // network with the broker gone: non-zero exit, clearly
    pl_test_net_stop_broker(&net, false);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = pl_test_sh(&out, "'%s' --home '%s' network 2>&1", cli_path,
                        net.home[A]);
    PL_CHECK(rc != 0 && strstr(out, "broker") != NULL);
    PL_CHECK(s_ms_since(&t0) < 9000);
    free(out);
    pl_test_net_start_broker(&net, NULL);

    // a frozen daemon: the CLI gives up after about 10 s
    PL_CHECK(kill(net.node_pid[A], SIGSTOP) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = pl_test_sh(&out, "'%s' --home '%s' directory 2>&1", cli_path,
                    net.home[A]);
    long ms = s_ms_since(&t0);
    fprintf(stderr, "frozen daemon: exit %d after %ld ms: %s", rc, ms, out);
    PL_CHECK(rc != 0 && ms < 15000 && ms >= 9000);
    PL_CHECK(strstr(out, "did not answer within 10 s") != NULL);
    free(out);
    PL_CHECK(kill(net.node_pid[A], SIGCONT) == 0);

    // a stopped daemon: "not running"
    pl_test_net_stop_node(&net, A, false);
    rc = pl_test_sh(&out, "'%s' --home '%s' directory 2>&1", cli_path,
                    net.home[A]);
    PL_CHECK(rc != 0 && strstr(out, "not running") != NULL);
    free(out);

    // a secret readable by others is refused
    char secret[700];
    snprintf(secret, sizeof secret, "%s/keys/sign.secret", net.home[A]);
    PL_CHECK(chmod(secret, 0644) == 0);
    PL_CHECK(s_refused_start(net.home[A], net.endpoint, &out, NULL) == 1);
    PL_CHECK(strstr(out, "readable by group or others") != NULL);
    free(out);
    PL_CHECK(chmod(secret, 0600) == 0);
    snprintf(secret, sizeof secret, "%s/keys/master.secret", net.home[A]);
    PL_CHECK(chmod(secret, 0640) == 0);
    PL_CHECK(s_refused_start(net.home[A], net.endpoint, &out, NULL) == 1);
    PL_CHECK(strstr(out, "master.secret") != NULL);
    free(out);
    PL_CHECK(chmod(secret, 0600) == 0);

    // a home whose control socket path is too long is refused
    char longhome[400];
    int n = snprintf(longhome, sizeof longhome, "%s/", net.root);
    while (n < 110)
        longhome[n++] = 'x';
    longhome[n] = 0;
    PL_CHECK(mkdir(longhome, 0700) == 0);
    PL_CHECK(s_refused_start(longhome, net.endpoint, &out, NULL) == 1);
    PL_CHECK(strstr(out, "too long") != NULL);
    free(out);
    rc =
        pl_test_sh(&out, "'%s' --home '%s' directory 2>&1", cli_path, longhome);
    PL_CHECK(rc != 0 && strstr(out, "too long") != NULL);
    free(out);

    // a kill -9 leaves a stale reader; the restarted daemon clears it
    MDB_env *witness = s_witness(net.home[A]);
    s_leave_stale_reader(net.home[A]);
    s_readers_t r = s_readers(witness);
    fprintf(stderr, "before restart: %d readers, %d dead\n", r.total, r.dead);
    PL_CHECK(r.dead >= 1);
    // counted while it is stopped: the restart's session_up is the next one
    long ups = pl_testnode_count_in_file(alog, "session_up");
    pl_testnode_start(&net, A, s_fast, NULL);
    r = s_readers(witness);
    fprintf(stderr, "after restart: %d readers, %d dead\n", r.total, r.dead);
    PL_CHECK(r.dead == 0);
    PL_CHECK(pl_testnode_count_in_file(alog, "store_stale_readers cleared=")
             >= 1);
    // its session is up before the count below (the control socket comes
    // first): else that session_up, logged late, would pass for the next
    PL_CHECK(pl_testnode_wait_log(alog, "session_up", ups + 1, 20000));
    // and the daemon itself killed with -9 restarts fine, no dead reader
    ups = pl_testnode_count_in_file(alog, "session_up");
    pl_test_net_stop_node(&net, A, true);
    pl_testnode_start(&net, A, s_fast, NULL);
    r = s_readers(witness);
    PL_CHECK(r.dead == 0);
    mdb_env_close(witness);
    // still works
    PL_CHECK(pl_testnode_wait_log(alog, "session_up", ups + 1, 20000));
    PL_CHECK(pl_testnode_tool(NULL, NULL, net.home[A],
                              "send --to '%s' --payload after-restart",
                              net.address[B])
             == 0);
    PL_CHECK(pl_testnode_wait_stat(net.home[A], "outbox.receipted", 1, 30000)
             == 1);

    // a clock 20 minutes off: loud, and nothing is sealed
    pl_test_net_stop_node(&net, A, false);
    const char *skew_env[] = {"PASSERELLE_TEST_CLOCK_OFFSET=1200", NULL};
    pl_testnode_start(&net, A, s_fast, skew_env);
    PL_CHECK(pl_testnode_wait_log(alog, "ERROR node clock_skew", 1, 20000));
    char errf[700];
    snprintf(errf, sizeof errf, "%s/skew.err", net.root);
    PL_CHECK(pl_testnode_tool(NULL, errf, net.home[A],
                              "send --to '%s' --payload skewed", net.address[B])
             == 1);
    PL_CHECK(pl_testnode_count_in_file(errf, "clock") >= 1);
    pl_test_net_stop_node(&net, A, false);
    ups = pl_testnode_count_in_file(alog, "session_up");
    pl_testnode_start(&net, A, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(alog, "session_up", ups + 1, 20000));
    PL_CHECK(pl_testnode_tool(NULL, NULL, net.home[A],
                              "send --to '%s' --payload fixed", net.address[B])
             == 0);
    pl_test_net_stop_node(&net, A, false);

    // a small map fills up: new messages are refused clearly, the daemon
    // goes on answering (and settling what it has)
    // (--map-max-mib 1: no growth; growth is test_node_mapgrow's)
    const char *small[] = {"--heartbeat-ms", "1000", "--map-mib", "1",
                           "--map-max-mib",  "1",    NULL};
    pl_testnode_start(&net, A, small, NULL);
    char big[2100];
    memset(big, 'f', 2048);
    big[2048] = 0;
    snprintf(errf, sizeof errf, "%s/full.err", net.root);
    int full = 0;
    for (int k = 0; k < 40 && !full; k++)
        full = pl_testnode_tool(NULL, errf, net.home[A],
                                "send --to '%s' --payload '%s' --count 50",
                                net.address[B], big)
               != 0;
    PL_CHECK(full);
    PL_CHECK(pl_testnode_count_in_file(errf, "full") >= 1);
    PL_CHECK(pl_testnode_stat(net.home[A], "inbox") >= 0); // still answers
    PL_CHECK(pl_test_alive(net.node_pid[A]));
    pl_test_net_stop_node(&net, A, false);

    // a passphrase store (B): made at the first start, required after
    pl_test_net_stop_node(&net, B, false);
    PL_CHECK(pl_test_sh(NULL, "rm -rf '%s/store' '%s/keys/master.secret'",
                        net.home[B], net.home[B])
             == 0);
    const char *pw[] = {"PASSERELLE_PASSPHRASE=correct horse battery", NULL};
    pl_testnode_start(&net, B, s_fast, pw);
    snprintf(secret, sizeof secret, "%s/keys/master.secret", net.home[B]);
    PL_CHECK(access(secret, F_OK) != 0);
    pl_test_net_stop_node(&net, B, false);
    PL_CHECK(s_refused_start(net.home[B], net.endpoint, &out, NULL) == 1);
    PL_CHECK(strstr(out, "passphrase") != NULL);
    free(out);
    PL_CHECK(s_refused_start(net.home[B], net.endpoint, &out,
                             "PASSERELLE_PASSPHRASE=wrong")
             == 1);
    PL_CHECK(strstr(out, "wrong passphrase") != NULL);
    free(out);
    // on a file descriptor
    char pwfile[700];
    snprintf(pwfile, sizeof pwfile, "%s/pw", net.root);
    FILE *f = fopen(pwfile, "w");
    PL_CHECK(f != NULL);
    fputs("correct horse battery\n", f);
    fclose(f);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "7");
    char shcmd[2048];
    snprintf(shcmd, sizeof shcmd,
             "exec '%s' --home '%s' --broker '%s' --passphrase-fd 7 "
             "7<'%s'",
             pl_test_bin("passerelle-node"), net.home[B], net.endpoint, pwfile);
    const char *argv[] = {"/bin/sh", "-c", shcmd, NULL};
    char ctl[600];
    snprintf(ctl, sizeof ctl, "%s/control", net.home[B]);
    unlink(ctl);
    net.node_pid[B] = pl_test_spawn(argv, pl_testnode_log(&net, B), NULL);
    PL_CHECK(pl_test_wait_file(ctl, 20000));
    (void) fdarg;
    pl_test_net_stop_node(&net, B, false);

    pl_test_net_destroy(&net);
    printf("test_node_daemon: ok\n");
    return 0;
}
