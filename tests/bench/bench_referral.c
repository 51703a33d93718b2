// bench_referral - referral closed loops on loopback (issue 7): a real
// broker and two real node daemons (agency, clinic = health); each loop is
// refer (agency) -> `received` seen at the agency -> accept (clinic) ->
// `accepted` seen at the agency -> complete (clinic) -> `completed` seen at
// the agency, every step waited for at the sender before the next one.
// Loops run with some concurrency, twice: once through the real
// `passerelle` CLI (a process per command, polls included, as a user or a
// script would drive it) and once straight on the daemons' control sockets
// (cli_control, what the CLI does inside), which separates the CLI's
// process cost from the daemons' and the network's. Prints closed loops
// per second, median and p95 latency per loop, the CPU per loop of the
// three daemons (from /proc/PID/stat) and of the client side, the
// envelopes and receipts a loop really sends (from the nodes' outbox
// counts), and the same run's protocol floor: the protocol library's
// seal + verify + open + receipt (sign, seal, verify, open, check) per
// envelope, times the envelopes per loop, with the ratios. Layer: tests
// (run by hand: make bench; never by ctest).
//
//   bench_referral [referrals] [concurrency]     default 200 4
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "adapters/cli/cli_control.h"
#include "proto/pl_envelope.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

extern char **environ;

enum { AG = 0, CL = 1 };
#define S_MAX_CONC  32
#define S_PAYLOAD   512   // floor: bytes of one message (a referral or update)
#define S_POLL_MAX  20000 // us between polls at most
#define S_STEP_WAIT 60.0  // s a step may take before the bench gives up

typedef struct {
    pl_test_net_t *net;
    bool cli;          // through the passerelle CLI, else cli_control
    char case_id[64];  // the one case every referral is made from
    long n;            // loops to run
    atomic_long next;  // next loop index to take
    atomic_long polls; // show requests made while waiting
    double *lat;       // per loop latency, s
    char bin[1024];    // the passerelle CLI
} s_run_t;

// CPU seconds of this process (self) or of its reaped children.
static double
s_rusage(int who)
{
    struct rusage u;
    getrusage(who, &u);
    return (double) u.ru_utime.tv_sec + (double) u.ru_utime.tv_usec / 1e6
           + (double) u.ru_stime.tv_sec + (double) u.ru_stime.tv_usec / 1e6;
}

static void
s_sleep_us(long us)
{
    struct timespec d = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&d, NULL);
}

// Runs the CLI without a shell (argv, NULL-ended); stdout (and stderr) into
// *out (malloc'd). Returns the exit code, -1 if it did not exit normally.
static int
s_spawn_cli(const char *const argv[], char **out)
{
    int fds[2];
    PL_CHECK(pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int e =
        posix_spawn(&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    PL_CHECK(e == 0);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    PL_CHECK(buf != NULL);
    for (;;) {
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            PL_CHECK(buf != NULL);
        }
        ssize_t r = read(fds[0], buf + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t) r;
    }
    buf[len] = 0;
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// One command on node i: the CLI (`passerelle --home H --as bench --json
// WORDS...`) or cli_control_call(ctl, args). Returns the result document
// (the CLI's JSON output), aborting on any failure.
static json_t *
s_do(s_run_t *r, int i, const char *const words[], const char *ctl,
     json_t *args)
{
    json_t *res = NULL;
    if (r->cli) {
        const char *argv[16] = {r->bin, "--home", r->net->home[i],
                                "--as", "bench",  "--json"};
        int k = 6;
        for (const char *const *w = words; *w && k < 15; w++)
            argv[k++] = *w;
        argv[k] = NULL;
        char *o = NULL;
        int rc = s_spawn_cli(argv, &o);
        json_error_t jerr;
        res = rc == 0 ? json_loads(o, 0, &jerr) : NULL;
        if (!res)
            fprintf(stderr, "bench_referral: passerelle %s %s: rc=%d %s\n",
                    words[0], words[1] ? words[1] : "", rc, o);
        free(o);
    } else {
        char err[640];
        int rc =
            cli_control_call(r->net->home[i], ctl, args, "bench",
                             CLI_CONTROL_TIMEOUT_MS, &res, err, sizeof err);
        if (rc != CLI_CONTROL_OK) {
            fprintf(stderr, "bench_referral: %s: %s\n", ctl, err);
            res = NULL;
        }
    }
    json_decref(args);
    PL_CHECK(res != NULL);
    return res;
}

// Polls the agency's view of referral 'id' until its status is 'want';
// returns the last document.
static json_t *
s_wait_status(s_run_t *r, const char *id, const char *want)
{
    double t0 = pl_bench_now();
    long us = 500;
    for (;;) {
        const char *w[] = {"show", id, NULL};
        json_t *d =
            s_do(r, AG, w, "referral.show", json_pack("{s:s}", "id", id));
        atomic_fetch_add(&r->polls, 1);
        const char *s = json_string_value(json_object_get(d, "status"));
        if (s && strcmp(s, want) == 0)
            return d;
        if (pl_bench_now() - t0 > S_STEP_WAIT) {
            fprintf(stderr, "bench_referral: %s stays '%s', want '%s'\n", id,
                    s ? s : "?", want);
            PL_CHECK(false);
        }
        json_decref(d);
        s_sleep_us(us);
        us = us * 3 / 2 < S_POLL_MAX ? us * 3 / 2 : S_POLL_MAX;
    }
}

// The agency's history of a closed loop holds received, accepted and
// completed, in that order.
static bool
s_history_ok(json_t *doc)
{
    static const char *const want[] = {"received", "accepted", "completed"};
    size_t k = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "history"), i, e)
    {
        const char *s = json_string_value(json_object_get(e, "status"));
        if (k < 3 && s && strcmp(s, want[k]) == 0)
            k++;
    }
    return k == 3;
}

// One closed loop; returns its latency in seconds.
static double
s_loop(s_run_t *r)
{
    double t0 = pl_bench_now();
    const char *to = r->cli ? r->net->name[CL] : r->net->address[CL];
    const char *wr[] = {"refer", "--case",    r->case_id,     "--to",
                        to,      "--service", "primary-care", NULL};
    json_t *res = s_do(r, AG, wr, "refer",
                       json_pack("{s:s, s:s, s:s}", "case", r->case_id, "to",
                                 to, "service", "primary-care"));
    char id[64];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(res, "id")));
    json_decref(res);
    PL_CHECK(strlen(id) == 32);
    json_decref(s_wait_status(r, id, "received"));
    const char *wa[] = {"accept", id, NULL};
    json_decref(s_do(r, CL, wa, "referral.act",
                     json_pack("{s:s, s:s}", "id", id, "event", "accept")));
    json_decref(s_wait_status(r, id, "accepted"));
    const char *wc[] = {"complete", id, "--outcome", "successful", NULL};
    json_decref(s_do(r, CL, wc, "referral.act",
                     json_pack("{s:s, s:s, s:s}", "id", id, "event", "complete",
                               "outcome", "successful")));
    json_t *d = s_wait_status(r, id, "completed");
    double lat = pl_bench_now() - t0;
    PL_CHECK(s_history_ok(d));
    json_decref(d);
    return lat;
}

static void *
s_worker(void *arg)
{
    s_run_t *r = arg;
    for (;;) {
        long k = atomic_fetch_add(&r->next, 1);
        if (k >= r->n)
            break;
        r->lat[k] = s_loop(r);
    }
    return NULL;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

// The node's stats object (control socket), aborting if it does not answer.
static json_t *
s_stats(const char *home)
{
    json_t *res = NULL, *args = json_object();
    char err[640];
    int rc = cli_control_call(home, "stats", args, NULL, 10000, &res, err,
                              sizeof err);
    json_decref(args);
    if (rc != CLI_CONTROL_OK)
        fprintf(stderr, "bench_referral: stats: %s\n", err);
    PL_CHECK(rc == CLI_CONTROL_OK && json_is_object(res));
    return res;
}

// Envelopes and receipts node i has ever committed to its outbox.
static void
s_outbox_totals(const char *home, long *env, long *rcpt)
{
    json_t *st = s_stats(home);
    const char *k;
    json_t *v;
    *env = *rcpt = 0;
    json_object_foreach(json_object_get(st, "outbox"), k, v) *env +=
        (long) json_integer_value(v);
    json_object_foreach(json_object_get(st, "receipts_out"), k, v) *rcpt +=
        (long) json_integer_value(v);
    json_decref(st);
}

// Nothing of node i's waits for the broker or a receipt any more.
static bool
s_settled(const char *home)
{
    json_t *st = s_stats(home);
    json_t *o = json_object_get(st, "outbox");
    bool ok = json_integer_value(json_object_get(o, "pending")) == 0
              && json_integer_value(json_object_get(o, "accepted")) == 0;
    json_decref(st);
    return ok;
}

typedef struct {
    double wall, rate, med, p95, cpu[3], client, per_env, per_rcpt;
    long polls;
} s_result_t;

static void
s_run(pl_test_net_t *net, const char *case_id, bool cli, long n, int conc,
      s_result_t *out)
{
    s_run_t r = {.net = net, .cli = cli, .n = n};
    snprintf(r.case_id, sizeof r.case_id, "%s", case_id);
    snprintf(r.bin, sizeof r.bin, "%s", pl_test_bin("passerelle"));
    atomic_init(&r.next, 0);
    atomic_init(&r.polls, 0);
    r.lat = calloc((size_t) n, sizeof *r.lat);
    PL_CHECK(r.lat != NULL);
    long env0[2], rc0[2], env1[2], rc1[2];
    for (int i = 0; i < 2; i++)
        s_outbox_totals(net->home[i], &env0[i], &rc0[i]);
    pid_t pids[3] = {net->broker_pid, net->node_pid[AG], net->node_pid[CL]};
    double cpu0[3];
    for (int i = 0; i < 3; i++)
        cpu0[i] = pl_bench_proc_cpu(pids[i]);
    double self0 = s_rusage(RUSAGE_SELF), kids0 = s_rusage(RUSAGE_CHILDREN);
    double t0 = pl_bench_now();
    pthread_t th[S_MAX_CONC];
    for (int i = 0; i < conc; i++)
        PL_CHECK(pthread_create(&th[i], NULL, s_worker, &r) == 0);
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    out->wall = pl_bench_now() - t0;
    double client =
        s_rusage(RUSAGE_SELF) - self0 + s_rusage(RUSAGE_CHILDREN) - kids0;
    // the last receipts (of the completed updates) still count
    for (int k = 0;
         k < 500 && !(s_settled(net->home[AG]) && s_settled(net->home[CL]));
         k++)
        s_sleep_us(10000);
    for (int i = 0; i < 3; i++)
        out->cpu[i] = (pl_bench_proc_cpu(pids[i]) - cpu0[i]) / (double) n;
    for (int i = 0; i < 2; i++)
        s_outbox_totals(net->home[i], &env1[i], &rc1[i]);
    out->per_env =
        (double) (env1[AG] - env0[AG] + env1[CL] - env0[CL]) / (double) n;
    out->per_rcpt =
        (double) (rc1[AG] - rc0[AG] + rc1[CL] - rc0[CL]) / (double) n;
    out->client = client / (double) n;
    out->rate = (double) n / out->wall;
    out->polls = atomic_load(&r.polls);
    qsort(r.lat, (size_t) n, sizeof *r.lat, s_cmp);
    out->med = r.lat[n / 2];
    long i95 = (long) ((double) n * 0.95);
    out->p95 = r.lat[i95 < n ? i95 : n - 1];
    free(r.lat);
}

static void
s_print(const char *name, const char *client, long n, int conc,
        const s_result_t *x, double floor1)
{
    double daemons = x->cpu[0] + x->cpu[1] + x->cpu[2];
    double floor = floor1 * x->per_env;
    printf("%s: %ld loops, %d at a time, %.2f s\n", name, n, conc, x->wall);
    printf("  closed loops per second        %.1f\n", x->rate);
    printf("  latency per loop               median %.1f ms, p95 %.1f ms "
           "(%.1f polls of the agency per loop)\n",
           x->med * 1e3, x->p95 * 1e3, (double) x->polls / (double) n);
    printf("  daemon CPU per loop            %.2f ms (broker %.2f, agency "
           "%.2f, clinic %.2f)\n",
           daemons * 1e3, x->cpu[0] * 1e3, x->cpu[1] * 1e3, x->cpu[2] * 1e3);
    printf("  client CPU per loop            %.2f ms (%s)\n", x->client * 1e3,
           client);
    printf("  envelopes per loop             %.2f + %.2f receipts\n",
           x->per_env, x->per_rcpt);
    printf("  protocol floor per loop        %.1f us (%.2f x %.1f us)\n",
           floor * 1e6, x->per_env, floor1 * 1e6);
    printf("  ratio wall per loop / floor    %.1f (1 / (loops/s x floor))\n",
           1.0 / x->rate / floor);
    printf("  ratio daemon CPU / floor       %.1f\n", daemons / floor);
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 200;
    int conc = argc > 2 ? (int) strtol(argv[2], NULL, 10) : 4;
    if (n < 10)
        n = 10;
    if (conc < 1)
        conc = 1;
    if (conc > S_MAX_CONC)
        conc = S_MAX_CONC;
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "benchref", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, AG, NULL, NULL);
    pl_testnode_start(&net, CL, NULL, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, 20000));
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, CL),
                                  "directory_updated certs=2", 1, 20000));

    // one case with consent for health; every referral comes from it
    json_t *res = NULL;
    char err[640];
    json_t *args =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "given", "Aminata",
                  "family", "Diallo", "birth", "1988-04-12", "sex", "female",
                  "phone", "+221770001122", "language", "wo");
    PL_CHECK(cli_control_call(net.home[AG], "case.add", args, "bench", 10000,
                              &res, err, sizeof err)
             == CLI_CONTROL_OK);
    json_decref(args);
    char case_id[64];
    snprintf(case_id, sizeof case_id, "%s",
             json_string_value(json_object_get(res, "id")));
    json_decref(res);
    char *o = NULL;
    int rc = pl_test_sh(&o,
                        "'%s' --home '%s' consent add --case %s --sectors "
                        "health --given-by returnee --expires 2099-12-31 2>&1",
                        pl_test_bin("passerelle"), net.home[AG], case_id);
    if (rc != 0)
        fprintf(stderr, "consent add: %s\n", o ? o : "");
    PL_CHECK(rc == 0);
    free(o);

    // warm-up (both paths)
    s_result_t warm, cli, ctl;
    s_run(&net, case_id, false, 10, 2, &warm);
    s_run(&net, case_id, true, 10, 2, &warm);

    s_run(&net, case_id, true, n, conc, &cli);
    s_run(&net, case_id, false, n, conc, &ctl);
    double floor1 = pl_bench_floor(S_PAYLOAD, 500, true);

    printf("bench_referral: agency -> broker -> clinic on 127.0.0.1; a loop "
           "is refer -> received -> accepted -> completed, each step seen at "
           "the agency before the next\n");
    printf("protocol floor (same run): seal+verify+open+receipt "
           "sign+seal+verify+open+check = %.1f us CPU per envelope "
           "(%d-byte message)\n",
           floor1 * 1e6, S_PAYLOAD);
    s_print("cli (passerelle process per command)",
            "passerelle processes + bench", n, conc, &cli, floor1);
    s_print("control socket (cli_control, no CLI processes)",
            "bench threads in cli_control", n, conc, &ctl, floor1);
    printf("CLI process cost per loop (cli - control socket): wall %.2f ms, "
           "client CPU %.2f ms\n",
           (1.0 / cli.rate - 1.0 / ctl.rate) * 1e3,
           (cli.client - ctl.client) * 1e3);
    pl_test_net_destroy(&net);
    return 0;
}
