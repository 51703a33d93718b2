// test_faultfs - the power-loss simulator itself, without LMDB: a child
// process (this program re-executed with LD_PRELOAD=libpl_faultfs.so)
// writes a file through pwrite, lseek+writev and an O_DSYNC descriptor,
// with one fsync in the middle, and is "powered off" at its 5th data write.
// What must be on disk afterwards:
//   page 0: 'A' (written and synced; the later 'B' over it is undone)
//   page 1: 'C' (written through O_DSYNC after the sync: durable)
//   no page 2 or 3 (appended after the sync: truncated away)
// With PL_FAULT_NOSYNC=1 (the negative control) the file is back to what
// it was before the child started: empty. Then the injector: EIO on the
// 1st fsync, ENOSPC on the 2nd data write; a persistent EIO switched on by
// the arm file and off by the disarm file, each for the very next write;
// the slow disk (PL_FAULT_SLOW_SYNC_MS) until the disarm. Layer: tests
// (faults).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"

#define S_PAGE 4096

static void
s_page(char *buf, char c)
{
    memset(buf, c, S_PAGE);
}

static int
s_touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    return fd >= 0 ? close(fd) : -1;
}

static long
s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long) t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

// The arm and disarm files, each for the very next write (no waiting for
// the watcher thread): 10 when all held, 20 + the step that did not.
static int
s_child_switch(int fd, const char *a)
{
    const char *arm = getenv("PL_FAULT_ARM");
    const char *disarm = getenv("PL_FAULT_DISARM");
    if (!arm || !disarm)
        return 3;
    if (pwrite(fd, a, S_PAGE, 0) != S_PAGE) // not armed yet
        return 21;
    if (s_touch(arm) != 0)
        return 3;
    for (int i = 0; i < 3; i++) // armed, persistent
        if (pwrite(fd, a, S_PAGE, 0) != -1 || errno != EIO)
            return 22;
    if (s_touch(disarm) != 0)
        return 3;
    for (int i = 0; i < 3; i++) // healthy again
        if (pwrite(fd, a, S_PAGE, 0) != S_PAGE)
            return 23;
    return 10;
}

// The slow disk: a sync takes at least PL_FAULT_SLOW_SYNC_MS (300) until
// the disarm: 10, or 20 + the step that did not hold.
static int
s_child_slow(int fd, const char *a)
{
    const char *disarm = getenv("PL_FAULT_DISARM");
    if (!disarm || pwrite(fd, a, S_PAGE, 0) != S_PAGE)
        return 3;
    long t0 = s_now_ms();
    if (fsync(fd) != 0)
        return 3;
    if (s_now_ms() - t0 < 300)
        return 21;
    if (s_touch(disarm) != 0)
        return 3;
    return fdatasync(fd) == 0 ? 10 : 3;
}

// The child's writes; exits 0 if it was never killed (a simulator that did
// not fire), 3 on an unexpected error, or reports errno codes for the
// injection runs.
static int
s_child(const char *path, const char *mode)
{
    char a[S_PAGE], b[2 * S_PAGE], c[S_PAGE];
    s_page(a, 'A');
    s_page(b, 'B');
    s_page(b + S_PAGE, 'B');
    s_page(c, 'C');
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        return 3;
    if (strcmp(mode, "inject-sync") == 0) {
        if (pwrite(fd, a, S_PAGE, 0) != S_PAGE)
            return 3;
        return fsync(fd) == -1 && errno == EIO ? 10 : 11;
    }
    if (strcmp(mode, "switch") == 0)
        return s_child_switch(fd, a);
    if (strcmp(mode, "slow") == 0)
        return s_child_slow(fd, a);
    if (strcmp(mode, "inject-write") == 0) {
        if (pwrite(fd, a, S_PAGE, 0) != S_PAGE)
            return 3;
        return pwrite(fd, a, S_PAGE, S_PAGE) == -1 && errno == ENOSPC ? 10 : 11;
    }
    if (pwrite(fd, a, S_PAGE, 0) != S_PAGE         // data write 1
        || pwrite(fd, a, S_PAGE, S_PAGE) != S_PAGE // data write 2
        || fdatasync(fd) != 0                      // sync 1
        || pwrite(fd, b, S_PAGE, 0) != S_PAGE)     // data write 3
        return 3;
    struct iovec v[2] = {{b, S_PAGE}, {b + S_PAGE, S_PAGE}};
    if (lseek(fd, 2 * S_PAGE, SEEK_SET) != 2 * S_PAGE
        || writev(fd, v, 2) != 2 * S_PAGE) // data write 4
        return 3;
    int dfd = open(path, O_WRONLY | O_DSYNC);
    if (dfd < 0 || pwrite(dfd, c, S_PAGE, S_PAGE) != S_PAGE) // durable
        return 3;
    if (pwrite(fd, b, S_PAGE, 0) != S_PAGE) // data write 5: power loss
        return 3;
    return 0;
}

// Runs the child with the simulator; returns its wait status.
static int
s_run(const char *self, const char *path, const char *mode,
      const char *const fault[])
{
    pl_faults_env_t env;
    pl_faults_env_init(&env, true);
    pl_faults_env_add(&env, "PL_FAULT_MATCH=%s", path);
    for (int i = 0; fault[i]; i++)
        pl_faults_env_add(&env, "%s", fault[i]);
    const char *argv[] = {self, "child", path, mode, NULL};
    pid_t pid = pl_test_spawn(argv, NULL, env.v);
    int status = 0;
    PL_CHECK(pl_faults_wait_exit(pid, 10000, &status));
    return status;
}

static void
s_expect_page(int fd, int page, char want)
{
    char buf[S_PAGE];
    PL_CHECK(pread(fd, buf, S_PAGE, (off_t) page * S_PAGE) == S_PAGE);
    for (int i = 0; i < S_PAGE; i++)
        PL_CHECK(buf[i] == want);
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return s_child(argv[2], argv[3]);
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    PL_CHECK(n > 0);
    self[n] = 0;
    char *dir = pl_test_tmpdir("faultfs");
    char path[1200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);

    // a power loss at the 5th data write
    const char *crash[] = {"PL_FAULT_CRASH=write:5", NULL};
    int st = s_run(self, path, "powerloss", crash);
    PL_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    struct stat sb;
    PL_CHECK(stat(path, &sb) == 0);
    fprintf(stderr, "faultfs: after the loss the file has %lld bytes\n",
            (long long) sb.st_size);
    PL_CHECK(sb.st_size == 2 * S_PAGE);
    int fd = open(path, O_RDONLY);
    PL_CHECK(fd >= 0);
    s_expect_page(fd, 0, 'A');
    s_expect_page(fd, 1, 'C');
    close(fd);
    unlink(path);

    // the negative control: nothing was durable
    const char *ctl[] = {"PL_FAULT_CRASH=write:5", "PL_FAULT_NOSYNC=1", NULL};
    st = s_run(self, path, "powerloss", ctl);
    PL_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    PL_CHECK(stat(path, &sb) == 0);
    fprintf(stderr, "faultfs: control (no sync): %lld bytes left\n",
            (long long) sb.st_size);
    PL_CHECK(sb.st_size == 0);
    unlink(path);

    // injected errors
    const char *esync[] = {"PL_FAULT_ERR=sync", "PL_FAULT_ERR_AT=1", NULL};
    st = s_run(self, path, "inject-sync", esync);
    PL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
    unlink(path);
    const char *ewrite[] = {"PL_FAULT_ERR=write", "PL_FAULT_ERR_AT=2",
                            "PL_FAULT_ERR_ERRNO=ENOSPC", NULL};
    st = s_run(self, path, "inject-write", ewrite);
    PL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
    unlink(path);

    // armed and disarmed by files, while the process runs
    char arm[1200], disarm[1200], flog[1200], a1[1300], a2[1300], a3[1300];
    snprintf(arm, sizeof arm, "%s/arm", dir);
    snprintf(disarm, sizeof disarm, "%s/disarm", dir);
    snprintf(flog, sizeof flog, "%s/faultfs.log", dir);
    snprintf(a1, sizeof a1, "PL_FAULT_ARM=%s", arm);
    snprintf(a2, sizeof a2, "PL_FAULT_DISARM=%s", disarm);
    snprintf(a3, sizeof a3, "PL_FAULT_LOG=%s", flog);
    const char *eswitch[] = {
        "PL_FAULT_ERR=write", "PL_FAULT_ERR_PERSIST=1", a1, a2, a3, NULL};
    st = s_run(self, path, "switch", eswitch);
    fprintf(stderr, "faultfs: arm/disarm child status %d, %ld injections\n",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1,
            pl_faults_count(flog, "event=inject"));
    PL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
    PL_CHECK(pl_faults_count(flog, "event=inject") == 3);
    PL_CHECK(pl_faults_count(flog, "event=disarmed") == 1);
    unlink(path);
    unlink(arm);
    unlink(disarm);
    unlink(flog);

    // the slow disk, until the disarm (armed from the start: no arm file)
    const char *eslow[] = {"PL_FAULT_SLOW_SYNC_MS=300", a2, a3, NULL};
    st = s_run(self, path, "slow", eslow);
    fprintf(stderr, "faultfs: slow-sync child status %d, %ld slow syncs\n",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1,
            pl_faults_count(flog, "event=slow_sync"));
    PL_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
    PL_CHECK(pl_faults_count(flog, "event=slow_sync") == 1);
    pl_test_rmrf(dir);
    free(dir);
    printf("test_faultfs: ok\n");
    return 0;
}
