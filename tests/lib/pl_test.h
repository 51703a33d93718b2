// pl_test - helpers for tests: temp folders, real processes, CLI runs,
// a whole local network set up as DESIGN.md §9 does it. Layer: tests.
//
// Every process a test starts is stopped by its PID; every wait has a
// deadline; nothing sleeps blindly (waits poll with a deadline).
#ifndef PL_TEST_H
#define PL_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// A check that ignores NDEBUG: prints file:line and the expression, aborts.
#define PL_CHECK(expr)                                                         \
    do {                                                                       \
        if (!(expr))                                                           \
            pl_test_fail(__FILE__, __LINE__, #expr);                           \
    } while (0)
void pl_test_fail(const char *file, int line, const char *expr)
    __attribute__((noreturn));

// Fresh folder /tmp/pl-<tag>-XXXXXX; caller frees the string. Aborts on error.
char *pl_test_tmpdir(const char *tag);
// rm -rf 'path' (refuses anything outside /tmp).
void pl_test_rmrf(const char *path);
// Path of an executable of this build (PL_BIN_DIR/name), static buffer per call
// slot: copy it if you keep it.
const char *pl_test_bin(const char *name);

// Starts argv (argv[0] a full path) with stdout+stderr appended to
// 'log_path' (NULL: /dev/null) and 'env' extra "K=V" strings (NULL-ended,
// may be NULL). Returns the pid; aborts on failure.
pid_t pl_test_spawn(const char *const argv[], const char *log_path,
                    const char *const env[]);
// Sends 'sig' to 'pid' and waits up to timeout_ms, then SIGKILLs. Returns the
// exit status as from waitpid (or -1 if the pid was not ours).
int pl_test_stop(pid_t pid, int sig, int timeout_ms);
// true while 'pid' (our child) has not exited; reaps it when it has.
bool pl_test_alive(pid_t pid);

// Runs a shell command line; captures stdout into *out (malloc'd, NUL
// terminated; may pass NULL) and returns the exit code (or -1).
int pl_test_sh(char **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Polls 'pred(arg)' every 20 ms until true or timeout_ms passes.
bool pl_test_wait(bool (*pred)(void *), void *arg, int timeout_ms);
// Waits for a file to exist.
bool pl_test_wait_file(const char *path, int timeout_ms);
// A TCP port on 127.0.0.1 that was free a moment ago.
int pl_test_free_port(void);
// Seeded PRNG: seed from PL_TEST_SEED or the clock; the seed is printed.
uint64_t pl_test_seed(void);
uint64_t pl_test_rand(uint64_t *state);

// Counts occurrences of 'needle' in every regular file under 'dir'
// (recursively, binary-safe). Used for "marker in no file" checks.
long pl_test_grep_tree(const char *dir, const void *needle, size_t len);

// ---- a local network (DESIGN.md §9 by hand, through the real CLI)
#define PL_TEST_MAX_NODES 16
typedef struct {
    char *root;                           // temp folder holding everything
    char auth[512];                       // authority home
    char broker[512];                     // broker home
    char endpoint[64];                    // tcp://127.0.0.1:PORT
    int port;                             // broker port
    int n;                                // number of nodes
    char name[PL_TEST_MAX_NODES][64];     // node names
    char home[PL_TEST_MAX_NODES][512];    // node homes
    char address[PL_TEST_MAX_NODES][128]; // network/name
    pid_t broker_pid;                     // 0 when stopped
    pid_t node_pid[PL_TEST_MAX_NODES];    // 0 when stopped
} pl_test_net_t;

// Creates the authority (network "sn"), the broker home and one home per
// "name:sector[:region]" spec, enrols all of them exactly as DESIGN.md §9
// (authority enroll, copy certs to broker/certs and broker.cert to nodes).
// Nothing is started. Aborts on failure.
void pl_test_net_init(pl_test_net_t *net, const char *tag,
                      const char *const specs[], int n);
// Starts the broker (log: root/broker.log), waits until it listens.
void pl_test_net_start_broker(pl_test_net_t *net, const char *const env[]);
// Starts node i (log: root/<name>.log), waits until its control socket is up.
void pl_test_net_start_node(pl_test_net_t *net, int i, const char *const env[]);
// Stops (SIGTERM, then SIGKILL after 10 s) or kills (SIGKILL) a process.
void pl_test_net_stop_broker(pl_test_net_t *net, bool kill9);
void pl_test_net_stop_node(pl_test_net_t *net, int i, bool kill9);
// Stops everything and removes the folder unless PL_TEST_KEEP is set.
void pl_test_net_destroy(pl_test_net_t *net);

#endif
