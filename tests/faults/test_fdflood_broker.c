// test_fdflood_broker - file-descriptor exhaustion (issue 11 item 4): the
// broker runs under a 1,024 open-files limit (soft and hard, a common
// service default); 6,000 TCP connections that never handshake arrive;
// then, during the flood, its operator asks `passerelle broker status`, a
// SIGHUP reloads the registry and a node connected before the flood sends
// an envelope; after the flood a new connection says hello. Required: the
// broker survives (main aborted in libzmq: "Too many open files
// (src/ipc_listener.cpp:325)"), still answers its operator and serves the
// connected node, lets a node in once the flood is gone, and a reload that
// cannot read certs/ keeps the registry it has (main logged `registry_loaded
// certificates=0` and de-enrolled every node). Short and long form are the
// same. Layer: tests (faults).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_testnet.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

#define S_FLOOD 6000

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    PL_CHECK(pl_crypto_init() == PL_OK);
    struct rlimit rl;
    PL_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max < S_FLOOD + 200) {
        printf("test_fdflood_broker: skipped (this process may open only "
               "%llu files)\n",
               (unsigned long long) rl.rlim_max);
        return 77;
    }
    rl.rlim_cur = rl.rlim_max > 16384 ? 16384 : rl.rlim_max;
    PL_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    pl_test_net_t net;
    pl_test_net_init(&net, "fdflood", s_specs, 2);
    const char *const pre[] = {"/usr/bin/prlimit", "--nofile=1024:1024", "--",
                               NULL};
    pl_faults_env_t env;
    pl_faults_env_init(&env, false);
    pl_testnet_spawn_broker(&net, pre, NULL, env.v);
    pl_faults_sleep_ms(1500); // it listens (a hello below proves it)
    PL_CHECK(pl_test_alive(net.broker_pid));
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    PL_CHECK(a && pl_rawclient_hello(a, 10000) == PL_OK);

    // the flood: connects that never send a byte
    int *fds = calloc(S_FLOOD, sizeof *fds);
    PL_CHECK(fds != NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) net.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int opened = 0;
    for (int i = 0; i < S_FLOOD; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[i] < 0)
            break;
        if (connect(fds[i], (struct sockaddr *) &sa, sizeof sa) != 0
            && errno != EINPROGRESS) {
            close(fds[i]);
            fds[i] = -1;
            continue;
        }
        opened++;
    }
    fprintf(stderr, "fdflood: %d silent connections opened\n", opened);
    PL_CHECK(opened >= S_FLOOD - 100);
    int failures = 0;
    // the operator, during the flood
    char *out = NULL;
    int rc = pl_test_sh(&out, "timeout 30 '%s' broker status --home '%s' 2>&1",
                        pl_test_bin("passerelle"), net.broker);
    fprintf(stderr, "fdflood: broker status exit=%d\n", rc);
    free(out);
    if (rc != 0)
        failures++;
    // a reload during the flood keeps (or reloads) the registry
    kill(net.broker_pid, SIGHUP);
    pl_faults_sleep_ms(1500);
    long zero = pl_testnet_log_count(&net, "registry_loaded certificates=0");
    if (zero)
        failures++;
    // the node connected before the flood is still served during it
    uint8_t id[PL_MSG_ID_BYTES];
    pl_buf_t pkt = {0};
    PL_CHECK(pl_rawclient_seal(a, net.home[1], NULL, "flood", 5, 0, id, &pkt)
             == PL_OK);
    pl_rawclient_send(a, pkt.data, pkt.len);
    pl_buf_free(&pkt);
    bool served = false;
    uint64_t until = pl_mono_ms() + 15000;
    while (!served && pl_mono_ms() < until) {
        pl_packet_t *r = NULL;
        if (pl_rawclient_recv(a, &r, 200) != PL_OK)
            continue;
        served = r->kind_case == PASSERELLE__V1__PACKET__KIND_ACCEPTED;
        pl_wire_free(&r);
    }
    bool alive = pl_test_alive(net.broker_pid);
    fprintf(stderr,
            "fdflood: during the flood: connected node served=%d, registry "
            "emptied by the reload=%d, broker alive=%d\n",
            served, zero > 0, alive);
    if (!served)
        failures++;
    if (!alive)
        failures++;
    for (int i = 0; i < S_FLOOD; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    // after the flood: a node that connects now gets in
    pl_rawclient_t *b = pl_rawclient_open(net.home[1], net.endpoint);
    int hello = b ? pl_rawclient_hello(b, 20000) : PL_EIO;
    fprintf(stderr, "fdflood: a new connection after the flood: %s\n",
            hello == PL_OK ? "welcome" : "no answer");
    if (hello != PL_OK)
        failures++;
    alive = pl_test_alive(net.broker_pid);
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_faults_result("broker-fd-flood", 1, -1, -1, -1, -1, failures);
    pl_faults_note("fault=broker-fd-flood connects=%d limit=1024 survived=%d",
                   opened, alive);
    pl_test_net_destroy(&net);
    PL_CHECK(failures == 0);
    printf("test_fdflood_broker: ok\n");
    return 0;
}
