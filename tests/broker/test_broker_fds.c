// test_broker_fds - the real passerelle-broker under a 1,024 open-files
// limit (hard and soft, through prlimit), flooded with 6,000 TCP connects
// from 127.0.0.1 that never say a byte, and a SIGHUP in the middle of the
// flood. The broker must survive, its operator must get `broker status`,
// an enrolled node connected before the flood must still be served, the
// reload must keep the certificates, and once the flood is gone a new
// node connection must get in again.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

#define S_FLOOD    6000
#define S_FLOODERS 3

// an envelope from 'c' to 'to_home' is accepted within 'ms'
static bool
s_served(pl_rawclient_t *c, const char *to_home, int ms)
{
    return pl_testnet_served(c, to_home, "fd", NULL, ms);
}

// `passerelle broker CMD --json` answers; returns the parsed reply
static json_t *
s_broker_cmd(pl_test_net_t *net, const char *cmd)
{
    char *out = NULL;
    int rc = pl_test_sh(&out, "timeout 30 '%s' --json broker %s --home '%s'",
                        pl_test_bin("passerelle"), cmd, net->broker);
    json_t *j = rc == 0 && out ? json_loads(out, 0, NULL) : NULL;
    if (!j)
        fprintf(stderr, "broker %s: rc=%d out=%s\n", cmd, rc, out ? out : "");
    free(out);
    return j;
}

static void
test_fd_flood(void **state)
{
    (void) state;
    // this process holds the flood's client ends: it needs the room
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < S_FLOOD / S_FLOODERS + 256) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < S_FLOOD / S_FLOODERS + 256) {
        fprintf(stderr, "fd_flood: open-files limit %llu too low: skipped\n",
                (unsigned long long) rl.rlim_cur);
        skip();
    }
    pl_test_net_t net;
    pl_test_net_init(&net, "fds", s_specs, 2);
    // prlimit execs the broker: its pid is the broker's
    const char *const pre[] = {"/usr/bin/prlimit", "--nofile=1024:1024", NULL};
    pl_testnet_spawn_broker(&net, pre, NULL, NULL);
    pl_rawclient_t *a = pl_testnet_client(&net, 0, 50);
    assert_non_null(a);
    assert_true(s_served(a, net.home[1], 5000));

    // the flood: S_FLOODERS processes at once (a burst faster than the
    // broker's loop), each with its share of non-blocking connects that
    // never send a byte, held open until told to go
    int ready[2], quit[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(quit), 0);
    pid_t kids[S_FLOODERS];
    for (int k = 0; k < S_FLOODERS; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(ready[0]);
            close(quit[1]);
            struct sockaddr_in sa = {.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t) net.port)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int open_n = 0;
            for (int i = 0; i < S_FLOOD / S_FLOODERS; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                if (fd < 0)
                    break;
                if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0
                    || errno == EINPROGRESS)
                    open_n++;
                else
                    close(fd);
            }
            char c = (char) (open_n > 0);
            ssize_t w = write(ready[1], &c, 1);
            (void) w;
            char q;
            ssize_t r = read(quit[0], &q, 1); // until the parent closes it
            (void) r;
            _exit(0);
        }
    }
    close(ready[1]);
    close(quit[0]);
    for (int k = 0; k < S_FLOODERS; k++) {
        char c = 0;
        assert_int_equal(read(ready[0], &c, 1), 1);
        if (k == 0)
            kill(net.broker_pid, SIGHUP); // a reload during the flood
    }
    close(ready[0]);
    fprintf(stderr, "fd_flood: %d connects from %d processes\n", S_FLOOD,
            S_FLOODERS);
    // the operator is answered while the flood is still open, and sees
    // the descriptor figures
    json_t *st = s_broker_cmd(&net, "status");
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "fd_limit")), 1024);
    assert_true(json_integer_value(json_object_get(st, "open_fds")) < 1024);
    assert_true(json_is_boolean(json_object_get(st, "door_closed")));
    json_decref(st);
    assert_true(pl_test_alive(net.broker_pid));
    // the node connected before the flood is still served
    assert_true(s_served(a, net.home[1], 10000));
    // the reload kept the registry, and an explicit one still sees both
    assert_int_equal(
        pl_testnet_log_count(&net, "registry_loaded certificates=0"), 0);
    json_t *rl_j = s_broker_cmd(&net, "reload");
    assert_non_null(rl_j);
    json_t *certs = json_object_get(rl_j, "certificates");
    fprintf(stderr, "fd_flood: reload certificates=%lld\n",
            (long long) json_integer_value(certs));
    assert_true(json_integer_value(certs) >= 2);
    json_decref(rl_j);
    // the flood goes away; a new node connection gets in again
    close(quit[1]);
    for (int k = 0; k < S_FLOODERS; k++)
        waitpid(kids[k], NULL, 0);
    pl_rawclient_t *b = NULL;
    uint64_t deadline = pl_mono_ms() + 30000;
    while (!b && pl_mono_ms() < deadline) {
        b = pl_rawclient_open(net.home[1], net.endpoint);
        if (b && pl_rawclient_hello(b, 1000) != PL_OK)
            pl_rawclient_close(&b);
    }
    assert_non_null(b);
    assert_true(s_served(b, net.home[0], 10000));
    assert_true(pl_test_alive(net.broker_pid));
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_test_net_destroy(&net);
}

// a reload that cannot read certs/ keeps the registry it has
static void
test_reload_unreadable_certs(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "certsgone", s_specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_int_equal(pl_rawclient_hello(a, 5000), PL_OK);
    assert_true(s_served(a, net.home[1], 5000));
    // certs/ becomes unreadable as a folder (root reads any mode, so a
    // plain file takes its place: scandir fails with ENOTDIR)
    assert_int_equal(pl_test_sh(NULL,
                                "cd '%s' && mv certs certs.away && "
                                "echo x > certs",
                                net.broker),
                     0);
    kill(net.broker_pid, SIGHUP);
    uint64_t deadline = pl_mono_ms() + 10000;
    while (pl_testnet_log_count(&net, "registry_reload_failed") < 1
           && pl_mono_ms() < deadline)
        pl_test_sh(NULL, "sleep 0.1");
    assert_true(pl_testnet_log_count(&net, "registry_reload_failed") >= 1);
    // still enrolled: served, and the operator's reload says it failed
    assert_true(s_served(a, net.home[1], 5000));
    char *out = NULL;
    int rc = pl_test_sh(&out, "'%s' broker reload --home '%s' 2>&1",
                        pl_test_bin("passerelle"), net.broker);
    fprintf(stderr, "reload with certs/ unreadable: rc=%d %s", rc,
            out ? out : "");
    assert_true(rc != 0);
    free(out);
    assert_int_equal(
        pl_testnet_log_count(&net, "registry_loaded certificates=0"), 0);
    // back in place: a reload works again
    assert_int_equal(pl_test_sh(NULL,
                                "cd '%s' && rm certs && "
                                "mv certs.away certs",
                                net.broker),
                     0);
    json_t *j = s_broker_cmd(&net, "reload");
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "certificates")), 2);
    json_decref(j);
    pl_rawclient_close(&a);
    pl_test_net_destroy(&net);
}

// a limit too low for the enrolled nodes is said at start
static void
test_fd_limit_low_warned(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "fdlow", s_specs, 2);
    // 200 descriptors: less than 2 nodes + the reserve the door keeps
    const char *const pre[] = {"/usr/bin/prlimit", "--nofile=200:200", NULL};
    pl_testnet_spawn_broker(&net, pre, NULL, NULL);
    uint64_t deadline = pl_mono_ms() + 10000;
    while (pl_testnet_log_count(&net, "fd_limit_low") < 1
           && pl_mono_ms() < deadline)
        pl_test_sh(NULL, "sleep 0.1");
    assert_int_equal(
        pl_testnet_log_count(&net, "fd_limit_low limit=200 enrolled=2"), 1);
    // and it still serves what it can
    pl_rawclient_t *a = pl_testnet_client(&net, 0, 50);
    assert_non_null(a);
    assert_true(s_served(a, net.home[1], 5000));
    pl_rawclient_close(&a);
    pl_test_net_destroy(&net);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_flood),
        cmocka_unit_test(test_reload_unreadable_certs),
        cmocka_unit_test(test_fd_limit_low_warned),
    };
    return PL_TESTNET_MAIN(tests); // SIGPIPE, crypto, PL_TEST_FILTER
}
