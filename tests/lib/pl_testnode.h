// pl_testnode - helpers for tests of node daemons: start a node with extra
// options, drive it with the pl-testmsg tool, read its counters, wait for
// counts, count lines in logs. Layer: tests.
//
// Every wait has a deadline; every process is stopped by its PID (the
// pl_test_net_* functions own the PIDs).
#ifndef PL_TESTNODE_H
#define PL_TESTNODE_H

#include <jansson.h>
#include <stdbool.h>

#include "tests/lib/pl_test.h"

// Starts node i of 'net' like pl_test_net_start_node, with 'extra'
// arguments (NULL-ended, may be NULL; e.g. "--heartbeat-ms", "1000").
void pl_testnode_start(pl_test_net_t *net, int i, const char *const extra[],
                       const char *const env[]);
// Runs `pl-testmsg --home HOME ARGS...` (ARGS is a printf format, already
// shell-quoted by the caller) and parses its stdout as JSON into *out
// (NULL when the output is not JSON). Returns the tool's exit code; its
// stderr goes to 'err_path' (NULL: the test's stderr).
int pl_testnode_tool(json_t **out, const char *err_path, const char *home,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// The node's stats object (pl-testmsg stats), or NULL if it did not answer.
json_t *pl_testnode_stats(const char *home);
// A number in the stats by dotted path ("inbox", "outbox.receipted");
// -1 when the node did not answer.
long pl_testnode_stat(const char *home, const char *path);
// Polls pl_testnode_stat every 200 ms until it equals 'want' or the
// deadline passes; returns the last value seen.
long pl_testnode_wait_stat(const char *home, const char *path, long want,
                           int timeout_ms);
// Occurrences of 'needle' in a file (0 if missing).
long pl_testnode_count_in_file(const char *path, const char *needle);
// Polls until 'needle' occurs at least 'n' times in the file.
bool pl_testnode_wait_log(const char *path, const char *needle, long n,
                          int timeout_ms);
// Runs `passerelle --home HOME(i) ARGS` (ARGS a printf format, already
// shell-quoted by the caller) with stderr merged into *out (malloc'd; may
// pass NULL). Returns the exit code.
int pl_testnode_cli(char **out, const pl_test_net_t *net, int i,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
// The same with --json; returns the parsed document, or NULL when the
// command failed or printed no JSON.
json_t *pl_testnode_json(const pl_test_net_t *net, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Runs `passerelle --home HOME(i) ARGS` (ARGS as above; stderr left to the
// test's), which must exit 0 (else the test fails); its first stdout line,
// without the newline (malloc'd).
char *pl_testnode_line(const pl_test_net_t *net, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Polls `show ID` at node i (bounded by 'ms') until the referral has a
// delivery problem ("delivery"); that document (json_decref), or NULL.
json_t *pl_testnode_wait_delivery(const pl_test_net_t *net, int i,
                                  const char *id, int ms);
// true when the history of a `show --json` document has a line of
// 'status' with 'reason'.
bool pl_testnode_history_has(const json_t *show, const char *status,
                             const char *reason);
// Checks, at node i, that referral 'ref' closed its loop as never
// delivered (waiting up to 'ms' for it): `show --json` has 'delivery'
// ("refused-by-broker", ...) and 'code' (delivery_reason), its history the
// "undelivered" line, `show` the NEVER DELIVERED line, the audit export an
// entry naming both, and `audit verify` is ok. Fails the test otherwise.
void pl_testnode_expect_undelivered(const pl_test_net_t *net, int i,
                                    const char *ref, const char *delivery,
                                    const char *code, int ms);
// Waits (polls `directory`, bounded by 'ms') until node i's directory
// lists at least 'n' nodes; true when it did.
bool pl_testnode_wait_directory(const pl_test_net_t *net, int i, size_t n,
                                int ms);
// Revokes node i's certificate at the authority of 'net' and copies the
// new revocation list to 'to_home'/revoked (a broker's or a node's home:
// it takes it when it starts or reloads). Fails the test otherwise.
void pl_testnode_revoke(const pl_test_net_t *net, int i, const char *to_home);
// Enrols node i again at the authority of 'net' (a new certificate for
// the same address and keys, sector 'sector') and puts it in the broker's
// certs/ as 'cert_name' (the broker takes it on reload). Fails otherwise.
void pl_testnode_enrol_again(const pl_test_net_t *net, int i,
                             const char *sector, const char *cert_name);
// A new case at node i (given name 'given', family Fall, born
// 1990-01-01) with the returnee's consent for the health sector; its id
// (owned by the caller).
char *pl_testnode_case_for_health(const pl_test_net_t *net, int i,
                                  const char *given);
// The `stats` of the node at 'home' say "revoked": true.
bool pl_testnode_revoked(const char *home);
// Path of node i's log (root/<name>.log), in a static buffer.
const char *pl_testnode_log(const pl_test_net_t *net, int i);

#endif
