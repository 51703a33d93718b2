// passerelle-broker - routes sealed envelopes between enrolled nodes.
// Layer: broker (main). Picks the log sink, handles signals and the lock.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker/pl_broker.h"
#include "proto/pl_home.h"
#include "proto/pl_util.h"

static volatile int s_interrupted; // set by SIGTERM/SIGINT
static pl_broker_t *s_broker;      // for SIGHUP only

static void
s_on_stop(int sig)
{
    (void) sig;
    s_interrupted = 1;
}

static void
s_on_hup(int sig)
{
    (void) sig;
    if (s_broker)
        pl_broker_request_reload(s_broker);
}

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: passerelle-broker --home DIR --listen ENDPOINT [options]\n"
        "\n"
        "Routes signed, end-to-end encrypted envelopes between the nodes\n"
        "enrolled in DIR/certs/ (certificates signed by DIR/authority.pub),\n"
        "keeping a durable queue per node in DIR/store/.\n"
        "\n"
        "  --home DIR           broker home folder (keys/, node.cert, certs/)\n"
        "  --listen ENDPOINT    e.g. tcp://127.0.0.1:7700\n"
        "  --map-size MIB       LMDB map size in MiB (default 1024)\n"
        "  --window N           unconfirmed deliveries per node (default 64)\n"
        "  --redeliver-ms MS    redeliver unconfirmed after MS (default "
        "30000)\n"
        "  --verify-signatures  also verify each envelope's outer signature\n"
        "  --session-ms MS      a silent node is offline after MS (default "
        "20000)\n"
        "  --log-level LEVEL    error|warn|info|debug (default info)\n"
        "  --help               this text\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads certs/ and\n"
        "revoked (also: passerelle broker reload --home DIR).\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"listen", required_argument, NULL, 'l'},
        {"map-size", required_argument, NULL, 'm'},
        {"window", required_argument, NULL, 'w'},
        {"redeliver-ms", required_argument, NULL, 'r'},
        {"verify-signatures", no_argument, NULL, 'v'},
        {"session-ms", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'L'},
        {"test-no-zap", no_argument, NULL, 'Z'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *home = NULL, *listen = NULL, *level = "info";
    pl_broker_config_t cfg = {0};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'H':
            home = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'm':
            cfg.map_bytes = (size_t) strtoull(optarg, &end, 10) << 20;
            if (!end || *end || cfg.map_bytes == 0) {
                fprintf(stderr, "passerelle-broker: --map-size wants MiB\n");
                return 2;
            }
            break;
        case 'w':
            cfg.window = (unsigned) strtoul(optarg, &end, 10);
            if (!end || *end || cfg.window == 0 || cfg.window > 10000) {
                fprintf(stderr, "passerelle-broker: --window wants 1..10000\n");
                return 2;
            }
            break;
        case 'r':
            cfg.redeliver_ms = (unsigned) strtoul(optarg, &end, 10);
            if (!end || *end || cfg.redeliver_ms < 100) {
                fprintf(stderr, "passerelle-broker: --redeliver-ms >= 100\n");
                return 2;
            }
            break;
        case 'v':
            cfg.verify_outer = true;
            break;
        case 's':
            cfg.session_ms = (unsigned) strtoul(optarg, &end, 10);
            if (!end || *end || cfg.session_ms < 1000) {
                fprintf(stderr, "passerelle-broker: --session-ms >= 1000\n");
                return 2;
            }
            break;
        case 'L':
            level = optarg;
            break;
        case 'Z':
            cfg.no_zap = true;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "try 'passerelle-broker --help'\n");
            return 2;
        }
    }
    if (!home || !listen || optind != argc) {
        fprintf(stderr, "passerelle-broker: --home and --listen are required\n"
                        "try 'passerelle-broker --help'\n");
        return 2;
    }
    char real[PATH_MAX];
    if (!realpath(home, real)) {
        fprintf(stderr, "passerelle-broker: home %s: %s\n", home,
                strerror(errno));
        return 1;
    }
    if (strlen("ipc://") + strlen(real) + strlen("/control") > 107) {
        fprintf(stderr,
                "passerelle-broker: home path %s is too long for its "
                "ipc control socket (107 bytes at most); use a "
                "shorter path\n",
                real);
        return 1;
    }
    char home_err[PATH_MAX + 256]; // a home others can write: refused (pl_home)
    if (pl_home_check(real, home_err, sizeof home_err) != PL_OK) {
        fprintf(stderr, "passerelle-broker: refusing to start: %s\n", home_err);
        return 1;
    }
    // no core dumps: secret keys live in this process
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    prctl(PR_SET_DUMPABLE, 0);

    char lock_path[PATH_MAX + 32];
    snprintf(lock_path, sizeof lock_path, "%s/daemon.lock", real);
    int lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr,
                "passerelle-broker: another daemon is running on %s "
                "(%s is locked)\n",
                real, lock_path);
        return 1;
    }
    pl_log_t log = {stderr, pl_log_level_parse(level), "broker"};
    cfg.home = real;
    cfg.listen = listen;
    cfg.log = &log;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pl_broker_t *broker = pl_broker_new(&cfg);
    if (!broker) {
        fprintf(stderr, "passerelle-broker: could not start (see the log "
                        "line above)\n");
        close(lock);
        return 1;
    }
    s_broker = broker;
    int rc = pl_broker_run(broker, &s_interrupted);
    s_broker = NULL;
    pl_broker_destroy(&broker);
    char ctl[PATH_MAX + 32];
    snprintf(ctl, sizeof ctl, "%s/control", real);
    unlink(ctl);
    close(lock);
    return rc == PL_OK ? 0 : 1;
}
