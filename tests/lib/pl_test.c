// pl_test - test helpers. Layer: tests.
#include "tests/lib/pl_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/pl_testnet.h"

void
pl_test_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

char *
pl_test_tmpdir(const char *tag)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/pl-%s-XXXXXX", tag);
    char *dir = mkdtemp(tmpl);
    PL_CHECK(dir != NULL);
    char *copy = strdup(dir);
    PL_CHECK(copy != NULL);
    return copy;
}

void
pl_test_rmrf(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0 || strstr(path, ".."))
        return;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

const char *
pl_test_bin(const char *name)
{
    static char slots[4][1024];
    static int next;
    char *out = slots[next++ % 4];
    const char *dir = getenv("PL_BIN_DIR");
#ifdef PL_BIN_DIR
    if (!dir)
        dir = PL_BIN_DIR;
#endif
    snprintf(out, 1024, "%s/%s", dir ? dir : ".", name);
    return out;
}

pid_t
pl_test_spawn(const char *const argv[], const char *log_path,
              const char *const env[])
{
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    PL_CHECK(pid >= 0);
    if (pid == 0) {
        // if the test dies (abort, failed check), its daemons die with it:
        // nothing a test starts outlives it
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); // the parent died before prctl took effect
        int fd = open(log_path ? log_path : "/dev/null",
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        for (int i = 0; env && env[i]; i++)
            putenv((char *) env[i]);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    return pid;
}

int
pl_test_stop(pid_t pid, int sig, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    int status = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    if (waitpid(pid, &status, 0) == pid)
        return status;
    return -1;
}

bool
pl_test_alive(pid_t pid)
{
    int status;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

int
pl_test_sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    PL_CHECK(n > 0 && (size_t) n < sizeof cmd);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    PL_CHECK(buf != NULL);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            PL_CHECK(buf != NULL);
        }
    }
    buf[len] = 0;
    int status = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool
pl_test_wait(bool (*pred)(void *), void *arg, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (pred(arg))
            return true;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return pred(arg);
}

static bool
s_file_exists(void *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool
pl_test_wait_file(const char *path, int timeout_ms)
{
    return pl_test_wait(s_file_exists, (void *) path, timeout_ms);
}

int
pl_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    PL_CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    PL_CHECK(bind(fd, (struct sockaddr *) &a, sizeof a) == 0);
    socklen_t len = sizeof a;
    PL_CHECK(getsockname(fd, (struct sockaddr *) &a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

uint64_t
pl_test_seed(void)
{
    const char *v = getenv("PL_TEST_SEED");
    uint64_t seed = v ? strtoull(v, NULL, 10) : (uint64_t) time(NULL);
    fprintf(stderr, "test seed: PL_TEST_SEED=%llu\n",
            (unsigned long long) seed);
    return seed ? seed : 1;
}

uint64_t
pl_test_rand(uint64_t *s)
{
    // xorshift64*
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static long
s_grep_file(const char *path, const void *needle, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    long hits = 0;
    size_t cap = 1 << 20;
    char *buf = malloc(cap + len);
    PL_CHECK(buf != NULL);
    size_t keep = 0, n;
    while ((n = fread(buf + keep, 1, cap, f)) > 0) {
        size_t total = keep + n;
        for (size_t i = 0; i + len <= total; i++)
            if (memcmp(buf + i, needle, len) == 0)
                hits++;
        // keep the last len-1 bytes for matches across chunks
        keep = total >= len - 1 ? len - 1 : total;
        memmove(buf, buf + total - keep, keep);
    }
    free(buf);
    fclose(f);
    return hits;
}

long
pl_test_grep_tree(const char *dir, const void *needle, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long hits = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            hits += pl_test_grep_tree(path, needle, len);
        else if (S_ISREG(st.st_mode))
            hits += s_grep_file(path, needle, len);
    }
    closedir(d);
    return hits;
}

// ---- local network

void
pl_test_net_init(pl_test_net_t *net, const char *tag, const char *const specs[],
                 int n)
{
    memset(net, 0, sizeof *net);
    PL_CHECK(n <= PL_TEST_MAX_NODES);
    net->root = pl_test_tmpdir(tag);
    net->n = n;
    snprintf(net->auth, sizeof net->auth, "%s/authority", net->root);
    snprintf(net->broker, sizeof net->broker, "%s/broker", net->root);
    const char *cli = pl_test_bin("passerelle");
    char cli_path[1024];
    snprintf(cli_path, sizeof cli_path, "%s", cli);
    PL_CHECK(pl_test_sh(NULL, "'%s' authority init --home '%s' --network sn",
                        cli_path, net->auth)
             == 0);
    PL_CHECK(pl_test_sh(NULL,
                        "'%s' authority enroll --home '%s' --node '%s' "
                        "--name broker --sector broker --country SN "
                        "--region dakar >/dev/null",
                        cli_path, net->auth, net->broker)
             == 0);
    char certs[600];
    snprintf(certs, sizeof certs, "%s/certs", net->broker);
    PL_CHECK(mkdir(certs, 0700) == 0 || errno == EEXIST);
    for (int i = 0; i < n; i++) {
        char spec[64], *region = "dakar";
        PL_CHECK(strlen(specs[i]) < sizeof spec);
        snprintf(spec, sizeof spec, "%s", specs[i]);
        char *sector = strchr(spec, ':');
        PL_CHECK(sector != NULL);
        *sector++ = 0;
        char *r = strchr(sector, ':');
        if (r) {
            *r++ = 0;
            region = r;
        }
        snprintf(net->name[i], sizeof net->name[i], "%.60s", spec);
        snprintf(net->home[i], sizeof net->home[i], "%s/%s", net->root, spec);
        snprintf(net->address[i], sizeof net->address[i], "sn/%.60s", spec);
        PL_CHECK(pl_test_sh(NULL, "'%s' init --home '%s' >/dev/null", cli_path,
                            net->home[i])
                 == 0);
        PL_CHECK(pl_test_sh(NULL,
                            "'%s' authority enroll --home '%s' --node '%s' "
                            "--name '%s' --sector '%s' --country SN "
                            "--region '%s' >/dev/null",
                            cli_path, net->auth, net->home[i], spec, sector,
                            region)
                 == 0);
        PL_CHECK(pl_test_sh(NULL,
                            "cp '%s/node.cert' '%s/%s.cert' && "
                            "cp '%s/node.cert' '%s/broker.cert'",
                            net->home[i], certs, spec, net->broker,
                            net->home[i])
                 == 0);
    }
    net->port = pl_test_free_port();
    snprintf(net->endpoint, sizeof net->endpoint, "tcp://127.0.0.1:%d",
             net->port);
}

void
pl_test_net_start_broker(pl_test_net_t *net, const char *const env[])
{
    pl_testnet_start_broker(net, NULL, env); // one start (pl_testnet.c)
}

void
pl_test_net_start_node(pl_test_net_t *net, int i, const char *const env[])
{
    char log[700], ctl[600], bin[1024];
    snprintf(log, sizeof log, "%s/%s.log", net->root, net->name[i]);
    snprintf(ctl, sizeof ctl, "%s/control", net->home[i]);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("passerelle-node"));
    unlink(ctl); // a stale socket file from a kill -9 must not fool the wait
    const char *argv[] = {bin,        "--home",      net->home[i],
                          "--broker", net->endpoint, NULL};
    net->node_pid[i] = pl_test_spawn(argv, log, env);
    PL_CHECK(pl_test_wait_file(ctl, 15000));
}

void
pl_test_net_stop_broker(pl_test_net_t *net, bool kill9)
{
    if (net->broker_pid)
        pl_test_stop(net->broker_pid, kill9 ? SIGKILL : SIGTERM, 10000);
    net->broker_pid = 0;
}

void
pl_test_net_stop_node(pl_test_net_t *net, int i, bool kill9)
{
    if (net->node_pid[i])
        pl_test_stop(net->node_pid[i], kill9 ? SIGKILL : SIGTERM, 10000);
    net->node_pid[i] = 0;
}

void
pl_test_net_destroy(pl_test_net_t *net)
{
    for (int i = 0; i < net->n; i++)
        pl_test_net_stop_node(net, i, false);
    pl_test_net_stop_broker(net, false);
    if (!getenv("PL_TEST_KEEP"))
        pl_test_rmrf(net->root);
    else
        fprintf(stderr, "kept %s\n", net->root);
    free(net->root);
    net->root = NULL;
}
