// passerelle-broker - routes sealed envelopes between enrolled nodes.
// Layer: broker (main). Picks the log sink, handles signals and the lock.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "broker/pl_broker.h"
#include "proto/pl_conf.h"
#include "proto/pl_home.h"
#include "proto/pl_notify.h"
#include "proto/pl_util.h"

#define S_MAP_MIB_MAX ((uint64_t) 1 << 24) // 16 TiB: MiB << 20 stays exact
enum { S_OPT_LOG_FORMAT = 0x1000, S_OPT_CONFIG, S_OPT_CHECK_CONFIG };
#define S_MS_MAX ((uint64_t) 86400000) // one day, fits unsigned

// Parses a decimal number for 'flag' in [min, max]: digits only (no sign,
// no space, no suffix), no overflow. Prints a usage error and returns
// false otherwise.
static bool
s_number(const char *flag, const char *text, uint64_t min, uint64_t max,
         uint64_t *out)
{
    bool ok = text[0] >= '0' && text[0] <= '9';
    char *end = NULL;
    errno = 0;
    unsigned long long n = ok ? strtoull(text, &end, 10) : 0;
    ok = ok && errno == 0 && end && *end == 0 && n >= min && n <= max;
    if (!ok) {
        fprintf(stderr,
                "passerelle-broker: %s wants a whole number from %llu to "
                "%llu, not '%s'\n",
                flag, (unsigned long long) min, (unsigned long long) max, text);
        return false;
    }
    *out = n;
    return true;
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
        "  --sender-quota MIB   bytes queued from one sender at most\n"
        "                       (default a quarter of the map)\n"
        "  --recipient-quota MIB  bytes queued for one recipient at most\n"
        "                       (default a quarter of the map)\n"
        "  --window N           unconfirmed deliveries per node (default 256)\n"
        "  --redeliver-ms MS    redeliver unconfirmed after MS (default "
        "30000,\n"
        "                       100..86400000)\n"
        "  --verify-signatures  also verify each envelope's outer signature\n"
        "  --session-ms MS      a silent node is lost after MS (default "
        "400000,\n"
        "                       1000..86400000); idle nodes ping every "
        "160 s by\n"
        "                       default (passerelle-node --heartbeat-ms): "
        "keep MS\n"
        "                       above twice their interval\n"
        "  --federation-listen ENDPOINT  the federation port: admits only the\n"
        "                       brokers named in DIR/federation/*.anchor\n"
        "  --federation-window N  unconfirmed envelopes over a federation "
        "link\n"
        "                       (default 256)\n"
        "  --federation-dir-max-age S  a foreign directory older than S "
        "seconds\n"
        "                       refuses new cross-border sends (default "
        "86400)\n"
        "  --log-level LEVEL    error|warn|info|debug (default info)\n"
        "  --log-format FORMAT  text (key=value lines, default) or json (one\n"
        "                       object per line)\n"
        "  --config FILE        read options from FILE, one 'key = value' a\n"
        "                       line (keys: the long options above; '#'\n"
        "                       comments); the command line overrides it\n"
        "  --check-config       print the effective settings and exit\n"
        "  --help               this text\n"
        "\n"
        "Store: new envelopes are refused (store-full, the sender retries\n"
        "later) above 90 %% of the map in use (small ones, such as receipts,\n"
        "up to 95 %%), or when their sender or recipient is over its quota;\n"
        "takens always fit. A store that cannot be written safely (an I/O\n"
        "error, a failed sync) stops the broker with status 74 (EX_IOERR),\n"
        "nothing of that pass acknowledged: restart it.\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads certs/ and\n"
        "revoked (also: passerelle broker reload --home DIR), and\n"
        "DIR/federation/*.anchor (federation anchors, docs/federation.md).\n");
}

// --check-config: the effective settings, as a file --config reads; a
// setting left to the broker's default is a comment (the default is the
// broker's to choose: see --help)
static void
s_setting(const char *key, bool set, unsigned long long value)
{
    if (set)
        printf("%s = %llu\n", key, value);
    else
        printf("# %s = default\n", key);
}

static void
s_print_config(const char *home, const char *listen, const char *level,
               pl_log_format_t format, const pl_broker_config_t *cfg)
{
    printf("# passerelle-broker: effective settings\n");
    printf("home = %s\nlisten = %s\n", home, listen);
    s_setting("map-size", cfg->map_bytes, cfg->map_bytes >> 20);
    s_setting("sender-quota", cfg->sender_quota, cfg->sender_quota >> 20);
    s_setting("recipient-quota", cfg->recipient_quota,
              cfg->recipient_quota >> 20);
    s_setting("window", cfg->window, cfg->window);
    s_setting("redeliver-ms", cfg->redeliver_ms, cfg->redeliver_ms);
    printf("verify-signatures = %s\n", cfg->verify_outer ? "true" : "false");
    s_setting("session-ms", cfg->session_ms, cfg->session_ms);
    if (cfg->federation_listen)
        printf("federation-listen = %s\n", cfg->federation_listen);
    else
        printf("# federation-listen = (none)\n");
    s_setting("federation-window", cfg->fed_window, cfg->fed_window);
    s_setting("federation-dir-max-age", cfg->fed_dir_max_age,
              cfg->fed_dir_max_age);
    printf("log-level = %s\n", level);
    printf("log-format = %s\n", pl_log_format_name(format));
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"listen", required_argument, NULL, 'l'},
        {"map-size", required_argument, NULL, 'm'},
        {"sender-quota", required_argument, NULL, 'S'},
        {"recipient-quota", required_argument, NULL, 'R'},
        {"window", required_argument, NULL, 'w'},
        {"redeliver-ms", required_argument, NULL, 'r'},
        {"verify-signatures", no_argument, NULL, 'v'},
        {"session-ms", required_argument, NULL, 's'},
        {"log-level", required_argument, NULL, 'L'},
        {"federation-listen", required_argument, NULL, 'F'},
        {"federation-window", required_argument, NULL, 'W'},
        {"federation-dir-max-age", required_argument, NULL, 'D'},
        // long-only codes above the char range: no clash with letters
        {"log-format", required_argument, NULL, S_OPT_LOG_FORMAT},
        {"config", required_argument, NULL, S_OPT_CONFIG},
        {"check-config", no_argument, NULL, S_OPT_CHECK_CONFIG},
#ifdef PL_TEST_BUILD
        {"test-no-zap", no_argument, NULL, 'Z'}, // test builds only
#endif
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *home = NULL, *listen = NULL, *level = "info";
    pl_broker_config_t cfg = {0};
    uint64_t v = 0;
    bool check_config = false;
    pl_log_format_t format = PL_LOG_TEXT;
    // --config FILE: its lines become options before the command line's
    // (which so override them); static, so that what optarg points into
    // lives as long as the process
    static pl_conf_t conf;
    char conf_err[512];
    if (pl_conf_load(&conf, pl_conf_path(argc, argv), opts, argc, argv,
                     conf_err, sizeof conf_err)
        != PL_OK) {
        fprintf(stderr, "passerelle-broker: %s\n", conf_err);
        return 2;
    }
    argc = conf.argc;
    argv = conf.argv;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            home = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'm':
            // MiB, shifted by 20 below: the bound keeps the shift exact
            if (!s_number("--map-size", optarg, 1, S_MAP_MIB_MAX, &v))
                goto bad_option;
            cfg.map_bytes = (size_t) v << 20;
            break;
        case 'S':
            if (!s_number("--sender-quota", optarg, 1, S_MAP_MIB_MAX, &v))
                goto bad_option;
            cfg.sender_quota = (size_t) v << 20;
            break;
        case 'R':
            if (!s_number("--recipient-quota", optarg, 1, S_MAP_MIB_MAX, &v))
                goto bad_option;
            cfg.recipient_quota = (size_t) v << 20;
            break;
        case 'w':
            if (!s_number("--window", optarg, 1, 10000, &v))
                goto bad_option;
            cfg.window = (unsigned) v;
            break;
        case 'r':
            if (!s_number("--redeliver-ms", optarg, 100, S_MS_MAX, &v))
                goto bad_option;
            cfg.redeliver_ms = (unsigned) v;
            break;
        case 'v':
            cfg.verify_outer = true;
            break;
        case 'F':
            cfg.federation_listen = optarg;
            break;
        case 'W':
            if (!s_number("--federation-window", optarg, 1, 10000, &v))
                goto bad_option;
            cfg.fed_window = (unsigned) v;
            break;
        case 'D':
            if (!s_number("--federation-dir-max-age", optarg, 5, 90 * 86400,
                          &v))
                goto bad_option;
            cfg.fed_dir_max_age = v;
            break;
        case 's':
            if (!s_number("--session-ms", optarg, 1000, S_MS_MAX, &v))
                goto bad_option;
            cfg.session_ms = (unsigned) v;
            break;
        case 'L':
            if (strcmp(optarg, "error") != 0 && strcmp(optarg, "warn") != 0
                && strcmp(optarg, "info") != 0
                && strcmp(optarg, "debug") != 0) {
                fprintf(stderr,
                        "passerelle-broker: --log-level wants "
                        "error|warn|info|debug, not '%s'\n",
                        optarg);
                goto bad_option;
            }
            level = optarg;
            break;
#ifdef PL_TEST_BUILD
        case 'Z':
            cfg.no_zap = true;
            break;
#endif
        case S_OPT_LOG_FORMAT:
            if (pl_log_format_parse(optarg, &format) != PL_OK) {
                fprintf(stderr,
                        "passerelle-broker: --log-format wants text|json, "
                        "not '%s'\n",
                        optarg);
                goto bad_option;
            }
            break;
        case S_OPT_CONFIG: // read by pl_conf_load above
            break;
        case S_OPT_CHECK_CONFIG:
            check_config = true;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            fprintf(stderr, "try 'passerelle-broker --help'\n");
            goto bad_option;
        }
    }
    if (cfg.map_bytes
        && (cfg.sender_quota > cfg.map_bytes
            || cfg.recipient_quota > cfg.map_bytes)) {
        fprintf(stderr, "passerelle-broker: a quota cannot exceed "
                        "--map-size\n");
        return 2;
    }
    if (!home || !listen || optind != argc) {
        fprintf(stderr, "passerelle-broker: --home and --listen are required\n"
                        "try 'passerelle-broker --help'\n");
        return 2;
    }
    if (check_config) {
        s_print_config(home, listen, level, format, &cfg);
        return 0;
    }
    char real[PATH_MAX];
    if (!realpath(home, real)) {
        fprintf(stderr, "passerelle-broker: home %s: %s\n", home,
                strerror(errno));
        return 1;
    }
    if (!pl_home_ipc_fits(real, NULL)) {
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

    int lock = -1; // one lock take for node, broker and CLI (pl_home)
    if (pl_home_lock_take(real, &lock, NULL, 0) != PL_OK) {
        fprintf(stderr,
                "passerelle-broker: another daemon is running on %s "
                "(%s/daemon.lock is locked)\n",
                real, real);
        return 1;
    }
    pl_log_t log = {stderr, pl_log_level_parse(level), "broker"};
    pl_log_set_format(format);
    cfg.home = real;
    cfg.listen = listen;
    cfg.log = &log;

    // Signals reach the loop as a readable fd, not through a handler: no
    // global, nothing async-signal-unsafe. signalfd(2) is the kernel's
    // self-pipe; the signals are blocked before the ZeroMQ context exists
    // so that its I/O threads inherit the mask and never take them.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    int sig_fd = -1;
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) != 0
        || (sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "passerelle-broker: cannot take signals: %s\n",
                strerror(errno));
        pl_home_lock_release(&lock);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    pl_broker_t *broker = pl_broker_new(&cfg);
    if (!broker) {
        fprintf(stderr, "passerelle-broker: could not start (see the log "
                        "line above)\n");
        close(sig_fd);
        pl_home_lock_release(&lock);
        return 1;
    }
    (void) pl_notify("READY=1"); // systemd Type=notify: listening now
    int rc = pl_broker_run(broker, sig_fd);
    (void) pl_notify("STOPPING=1");
    close(sig_fd);
    bool store_failed = pl_broker_store_failed(broker);
    pl_broker_destroy(&broker);
    char ctl[PATH_MAX + 32];
    snprintf(ctl, sizeof ctl, "%s/control", real);
    unlink(ctl);
    pl_home_lock_release(&lock);
    if (store_failed)
        return 74; // EX_IOERR: a supervisor restarts on a clean environment
    return rc == PL_OK ? 0 : 1;

bad_option: // a usage error: name the file line it came from, if any
    pl_conf_blame(&conf, optind - 1, "passerelle-broker", stderr);
    return 2;
}
