// pl_faults - helpers shared by the fault tests: the environment that loads
// the pl_faultfs simulator into a daemon, a streaming sender and a draining
// recipient over the raw client (counting acknowledged, lost, duplicated),
// the TCP proxy, and the result line `make faults` turns into its table.
// Layer: tests (faults).
#ifndef PL_FAULTS_H
#define PL_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"

// true when the long form is asked for (PL_FAULTS_LONG=1, `make faults`)
bool pl_faults_long(void);
// Path of libpl_faultfs.so of this build.
const char *pl_faults_lib(void);

// An environment for pl_test_spawn: LD_PRELOAD of the simulator, ASan
// options that tolerate it, and the "K=V" fault settings given (NULL-ended).
// The strings live in 'env' (at most PL_FAULTS_ENV_MAX entries).
#define PL_FAULTS_ENV_MAX 24
typedef struct {
    char buf[PL_FAULTS_ENV_MAX][1100];
    const char *v[PL_FAULTS_ENV_MAX + 1];
    int n;
} pl_faults_env_t;
void pl_faults_env_init(pl_faults_env_t *e, bool preload);
void pl_faults_env_add(pl_faults_env_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Starts the broker of 'net' with extra arguments (NULL-ended, may be NULL)
// and environment, waits until it listens (or exits: then returns false).
bool pl_faults_start_broker(pl_test_net_t *net, const char *const extra[],
                            const char *const env[]);
// Waits for 'pid' to exit within timeout_ms; true and *status when it did.
bool pl_faults_wait_exit(pid_t pid, int timeout_ms, int *status);

// ---- a streaming sender over the raw client: a pool of pre-sealed
// envelopes from node 'from' to node 'to', each either acknowledged
// (accepted by the broker) or not yet.
typedef struct {
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt;
    bool accepted;
    bool refused;   // rejected store-full at least once
    bool delivered; // seen by a pl_faults_drain
} pl_faults_item_t;
typedef struct {
    pl_rawclient_t *c;
    pl_faults_item_t *items;
    int n, accepted, refused_full, other_rejects;
} pl_faults_stream_t;
void pl_faults_stream_open(pl_faults_stream_t *s, const pl_test_net_t *net,
                           int from, int to, int n, size_t payload);
void pl_faults_stream_close(pl_faults_stream_t *s);
// Sends up to 'burst' envelopes not acknowledged yet and reads replies for
// 'ms' milliseconds. Returns the number of new acknowledgements.
int pl_faults_stream_pump(pl_faults_stream_t *s, int burst, int ms);

// The recipient drains its queue at the broker (a fresh raw client for
// node 'to'), taking each envelope; counts unique ids and duplicates, then
// compares with the acknowledged ones of 's': *lost = acknowledged ids never
// delivered (by this drain or an earlier one; marks them delivered). Stops when
// 'want' unique arrived or after idle_ms of silence.
void pl_faults_drain(const pl_test_net_t *net, int to, pl_faults_stream_t *s,
                     int want, int idle_ms, int *unique, int *dups, int *lost);

// The stream's item of message 'id' (len bytes), or NULL.
pl_faults_item_t *pl_faults_find(pl_faults_stream_t *s, const uint8_t *id,
                                 size_t len);
// Answers 'taken' for message 'id' on 'c' (a recipient's raw client).
void pl_faults_taken(pl_rawclient_t *c, const uint8_t *id);

// ---- node daemons of 'net' (node 0 sends, node 1 receives)
// One batch of 'count' test messages from node 0 to node 1 through
// pl-testmsg; appends the ids node 0 committed to 'ids' (a JSON array).
// false when the node refused or did not answer.

bool pl_faults_node_send(pl_test_net_t *net, json_t *ids, int count);
// Waits until node 1 holds every id of 'ids' or its inbox did not change
// for stable_ms (at most 120 s + stable_ms in all), then counts the ids
// missing from its store (*lost) and the ids it holds twice (*dups).
void pl_faults_node_settle(pl_test_net_t *net, json_t *ids, int stable_ms,
                           long *lost, long *dups);

// Occurrences of 'needle' in a file (0 if missing).
long pl_faults_count(const char *path, const char *needle);
// Lines in a file (0 if missing).
long pl_faults_lines(const char *path);

// One result line on stdout (flushed), read by `make faults` for its table:
// FAULT-RESULT fault=NAME runs=R acknowledged=A lost=L duplicated=D
//   control_lost=C checks=ok|failed:N
// (-1 = not measured, e.g. C when the fault has no negative control;
// N = behaviour checks of the test that did not hold: exit status, answers,
// bounds)
void pl_faults_result(const char *fault, int runs, long acknowledged, long lost,
                      long duplicated, long control_lost, int failed_checks);
// A "FAULT-NOTE ..." line on stdout (flushed): a measurement for the table.
void pl_faults_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Sleeps ms milliseconds.
void pl_faults_sleep_ms(long ms);

#endif
