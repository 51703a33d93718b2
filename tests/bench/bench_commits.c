// bench_commits - may two LMDB write transactions commit at once on this
// machine's disk? Issue 20 item 4 (docs/performance.md, fifth round): at
// a sender window of 1,000 the broker's gap to RabbitMQ's quorum queue is
// the cost of its one commit at a time (fdatasync and the synchronous meta
// page write of each pass). LMDB has one writer per environment, so the
// only way to two commits in flight is two environments. This measures
// what that would buy, on raw LMDB, before anyone rewrites the broker for
// it: passes of 110 records of 4,347 bytes (a pass at window 1,000: the
// CURVE packet of a 4 KiB bucket plus the queue header) each deleting the
// records of two passes before (the takens), so the file stays its size;
// one environment on one thread, then two environments on two threads at
// once, in temporary folders of TMPDIR. Figures only, no assertion.
//
// usage: bench_commits [SECONDS]   (default 3 a configuration)
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_PER   110  // records a pass
#define S_BYTES 4347 // bytes a record
#define S_MAP   ((size_t) 1 << 30)
#define S_MAXP  100000 // passes at most a run (a bound on the loop)

typedef struct {
    char dir[512];
    unsigned flags; // extra environment flags
    double secs;    // how long to run
    long passes;    // commits done
    double took;    // seconds taken
    int failed;     // an LMDB code, or 0
} s_job_t;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_key(uint8_t k[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t) (v >> (56 - 8 * i));
}

// One pass: S_PER new records, the ones of pass p - 2 deleted, one commit.
static int
s_pass(MDB_env *env, MDB_dbi dbi, long p)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc)
        return rc;
    uint8_t kb[8];
    for (int i = 0; rc == 0 && i < S_PER; i++) {
        s_key(kb, (uint64_t) p * S_PER + (uint64_t) i);
        MDB_val k = {8, kb}, v = {S_BYTES, NULL};
        rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
        if (rc == 0)
            memset(v.mv_data, (int) (p & 0xff), S_BYTES);
    }
    for (int i = 0; rc == 0 && p >= 2 && i < S_PER; i++) {
        s_key(kb, (uint64_t) (p - 2) * S_PER + (uint64_t) i);
        MDB_val k = {8, kb};
        rc = mdb_del(txn, dbi, &k, NULL);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static void *
s_run(void *arg)
{
    s_job_t *j = arg;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, S_MAP);
    if (rc == 0)
        rc = mdb_env_open(env, j->dir, MDB_NOTLS | j->flags, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    // warm: the file at its working size before the clock starts
    for (long p = 0; rc == 0 && p < 20; p++)
        rc = s_pass(env, dbi, p);
    double t0 = s_now();
    long p = 20;
    while (rc == 0 && p < S_MAXP && s_now() - t0 < j->secs)
        rc = s_pass(env, dbi, p++);
    j->took = s_now() - t0;
    j->passes = p - 20;
    j->failed = rc;
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return NULL;
}

// Runs 'n' jobs at once; returns passes a second over all of them.
static double
s_config(s_job_t *jobs, int n, const char *what)
{
    pthread_t t[4];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, s_run, &jobs[i]);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    double rate = 0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].failed) {
            fprintf(stderr, "bench_commits: %s: %s\n", what,
                    mdb_strerror(jobs[i].failed));
            exit(1);
        }
        rate += (double) jobs[i].passes / jobs[i].took;
    }
    printf("  %-44s %7.0f commits/s %9.0f records/s\n", what, rate,
           rate * S_PER);
    return rate;
}

static void
s_dirs(s_job_t *jobs, int n, const char *root, const char *tag, double secs,
       unsigned flags)
{
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        snprintf(jobs[i].dir, sizeof jobs[i].dir, "%s/%s%d", root, tag, i);
        if (mkdir(jobs[i].dir, 0700) != 0) {
            fprintf(stderr, "bench_commits: cannot make %s\n", jobs[i].dir);
            exit(1);
        }
        jobs[i].secs = secs;
        jobs[i].flags = flags;
    }
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? strtod(argv[1], NULL) : 3;
    if (!(secs > 0 && secs <= 60)) {
        fprintf(stderr, "usage: bench_commits [SECONDS (0-60]]\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    char root[400];
    snprintf(root, sizeof root, "%s/pl-commits-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        fprintf(stderr, "bench_commits: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    printf("bench_commits: passes of %d records of %d bytes, each deleting "
           "the records of two passes before; LMDB defaults (fdatasync and "
           "a synchronous meta write a commit); %.0f s a configuration, in "
           "%s\n",
           S_PER, S_BYTES, secs, root);
    s_job_t one[1], two[2], nosync[1];
    s_dirs(one, 1, root, "one", secs, 0);
    double r1 = s_config(one, 1, "one environment, one thread");
    s_dirs(two, 2, root, "two", secs, 0);
    double r2 = s_config(two, 2, "two environments, two threads at once");
    s_dirs(nosync, 1, root, "nosync", secs, MDB_NOSYNC);
    double r0 =
        s_config(nosync, 1, "one environment, MDB_NOSYNC (no durability)");
    printf("  ratio two environments / one                 %7.2f\n", r2 / r1);
    printf("  ratio no sync / one (hiding the sync, at best)   %7.2f\n",
           r0 / r1);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 1;
}
