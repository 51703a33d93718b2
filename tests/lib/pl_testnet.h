// pl_testnet - the broker of a test network (pl_test_net_t, pl_test.h) as
// the broker and fault tests start and watch it: started with extra
// arguments, under a wrapper (prlimit) or an environment of their own,
// waited for until it listens, its log counted, its packets awaited.
// Layer: tests.
#ifndef PL_TESTNET_H
#define PL_TESTNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"

// Starts the broker of 'net' (log: root/broker.log, appended): 'pre'
// (NULL-ended, may be NULL; a wrapper that execs the broker, so that the
// pid is the broker's, e.g. {"/usr/bin/prlimit", "--nofile=200:200",
// NULL}), then the broker with --home and --listen, then 'extra'
// (NULL-ended, may be NULL); 'env' as pl_test_spawn. Does not wait.
void pl_testnet_spawn_broker(pl_test_net_t *net, const char *const pre[],
                             const char *const extra[],
                             const char *const env[]);
// true once something accepts a TCP connection on 127.0.0.1:'port'.
bool pl_testnet_port_open(int port);
// Waits up to 'timeout_ms' until the broker listens: true. false when the
// time ran out, or when the broker exited (then broker_pid is set to 0).
bool pl_testnet_wait_broker(pl_test_net_t *net, int timeout_ms);
// Spawns (no wrapper) and waits up to 15 s; aborts the test when the
// broker does not listen by then.
void pl_testnet_start_broker(pl_test_net_t *net, const char *const extra[],
                             const char *const env[]);
// Lines of root/broker.log that 'needle' (a grep pattern) matches.
long pl_testnet_log_count(const pl_test_net_t *net, const char *needle);
// Waits up to 'ms' for a packet of 'kind' on 'c', dropping the others;
// returns it (free with pl_wire_free) or NULL.
pl_packet_t *pl_testnet_expect(pl_rawclient_t *c,
                               Passerelle__V1__Packet__KindCase kind, int ms);

// A raw client of node 'i' of 'net' that the broker welcomed: up to
// 'tries' connects with a hello each (500 ms); NULL if none was welcomed.
pl_rawclient_t *pl_testnet_client(const pl_test_net_t *net, int i, int tries);
// Seals 'payload' from 'c' to the node of 'to_home', sends it and waits up
// to 'ms' for the broker's "accepted" of it ('id', may be NULL, gets its
// id): true when it came.
bool pl_testnet_served(pl_rawclient_t *c, const char *to_home,
                       const char *payload, uint8_t *id, int ms);
// Sends an envelope of 'len' random bytes (at most 60,000) from 'c' to the
// node of 'to_home' ('id' gets its id) and waits up to 'ms' for the
// broker's answer: 1 accepted, 0 refused store-full, -1 no answer. Any
// other answer to it fails the test.
int pl_testnet_offer(pl_rawclient_t *c, const char *to_home, size_t len,
                     uint8_t id[PL_MSG_ID_BYTES], int ms);

// The authority of 'net' issues 'n' more certificates (serials 100000
// on, names n0, n1, ..., sector health) straight into the broker's certs/
// (taken at its start or reload); the first 'nkeys' get CurveZMQ key pairs
// written to pk[i], sk[i] (NULL when nkeys is 0). Aborts on failure.
void pl_testnet_issue(const pl_test_net_t *net, long n, long nkeys,
                      uint8_t (*pk)[32], uint8_t (*sk)[32]);

// The broker's CurveZMQ public key (its node.cert, checked against its
// authority.pub), for raw clients with keys of their own. Aborts on
// failure.
void pl_testnet_broker_key(const pl_test_net_t *net, uint8_t pk[32]);

// The main of a broker test: SIGPIPE ignored, the crypto library started,
// PL_TEST_FILTER (a cmocka test filter) applied, then the tests run.
struct CMUnitTest;
int pl_testnet_main(const struct CMUnitTest *tests, size_t n);
#define PL_TESTNET_MAIN(tests)                                                 \
    pl_testnet_main(tests, sizeof(tests) / sizeof((tests)[0]))

#endif
