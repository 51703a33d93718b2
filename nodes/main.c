// main - passerelle-node: the node daemon's command line. Layer: nodes.
//
//   passerelle-node --home DIR --broker ENDPOINT [--log-level L]
//                   [--heartbeat-ms N] [--heartbeat-timeout-ms N]
//                   [--map-mib N] [--map-max-mib N]
//                   [--box-grace-days N] [--passphrase-fd N]
//                   [--session-idle-min N] [--session-max-hours N]
//
// Runs in the foreground, logs one line per event to stderr, stops cleanly
// on SIGTERM/SIGINT (exit 0) and reloads DIR/revoked on SIGHUP. Core dumps
// are off: the process holds secret keys.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nodes/pl_node.h"
#include "proto/pl_conf.h"
#include "proto/pl_crypto.h"
#include "proto/pl_home.h"
#include "proto/pl_notify.h"

#define S_PASSPHRASE_MAX 1024
enum { S_OPT_LOG_FORMAT = 0x1000, S_OPT_CONFIG, S_OPT_CHECK_CONFIG };

// The only process-wide state: what the signal handlers set.
static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload;
static int s_wake_fd = -1; // write end of the self-pipe

static void
s_on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        s_reload = 1;
    else
        s_stop = 1;
    if (s_wake_fd >= 0) {
        char c = 1;
        ssize_t n = write(s_wake_fd, &c, 1);
        (void) n;
    }
    errno = saved;
}

static void
s_usage(FILE *out)
{
    fputs("usage: passerelle-node --home DIR --broker ENDPOINT [options]\n"
          "\n"
          "The Passerelle node daemon: keeps this organisation's store, "
          "talks to\nits broker, delivers and receives signed, encrypted "
          "envelopes, and\nanswers the `passerelle` CLI on ipc://DIR/control.\n"
          "\n"
          "options:\n"
          "  --home DIR          the node's home folder (keys, certificates, "
          "store)\n"
          "  --broker ENDPOINT   the home broker, e.g. tcp://127.0.0.1:7700\n"
          "  --log-level L       error|warn|info|debug (default info)\n"
          "  --heartbeat-ms N    idle ping after N ms quiet, 100..600000 "
          "(default 160000)\n"
          "  --heartbeat-timeout-ms N  unanswered N ms: dead link "
          "(default min(2N, 15000))\n"
          "  --map-mib N         store map size in MiB (default 1024)\n"
          "  --map-max-mib N     the map grows (doubling) when 75% full, up "
          "to N MiB\n"
          "                      (default 8192); past 90% new work is "
          "refused\n"
          "  --box-grace-days N  old box secrets (keys/box-old/) are wiped "
          "N days\n"
          "                      after a rotation (default 14), never while "
          "node.cert\n"
          "                      still names them\n"
          "  --session-idle-min N   a staff session ends after N minutes "
          "unused,\n"
          "                      1..1440 (default 15)\n"
          "  --session-max-hours N  ... and N hours after its login, 1..168 "
          "(default 12)\n"
          "  --handover-keep-days N  after a handover is accepted, the "
          "host node erases\n"
          "                      the rest of the case (crypto-shredding) "
          "after N days\n"
          "                      (default 90); its minimal record and "
          "audit stay\n"
          "  --report-hours N    send the aggregate reports every N hours "
          "(default 24;\n"
          "                      0: only on `passerelle report send`)\n"
          "  --passphrase-fd N   read the store passphrase from file "
          "descriptor N\n"
          "                      (else PASSERELLE_PASSPHRASE, else "
          "DIR/keys/master.secret)\n"
          "  --log-format F      text (default) or json (an object a line)\n"
          "  --config FILE       options from FILE, 'key = value' lines "
          "(see man)\n"
          "  --check-config      print the effective settings and exit\n"
          "  -h, --help          this help\n"
          "\n"
          "signals: SIGTERM/SIGINT stop cleanly; SIGHUP reloads "
          "DIR/revoked.\n"
          "exit status: 0 stopped, 1 could not start, 2 usage, 74 the store "
          "failed (an\nI/O error): restart the node; nothing acknowledged "
          "is lost.\n",
          out);
}

// Reads a passphrase (up to a newline or end of file) from 'fd' into
// guarded memory.
static char *
s_read_passphrase(int fd, size_t *len)
{
    char *p = pl_secure_alloc(S_PASSPHRASE_MAX + 1);
    if (!p)
        return NULL;
    size_t n = 0;
    while (n < S_PASSPHRASE_MAX) {
        ssize_t r = read(fd, p + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || p[n] == '\n')
            break;
        n++;
    }
    p[n] = 0;
    *len = n;
    if (n == 0) {
        pl_secure_free(p);
        return NULL;
    }
    return p;
}

// Takes PASSERELLE_PASSPHRASE into guarded memory and wipes the variable.
static char *
s_env_passphrase(size_t *len)
{
    char *v = getenv("PASSERELLE_PASSPHRASE");
    if (!v || !*v)
        return NULL;
    size_t n = strlen(v);
    if (n > S_PASSPHRASE_MAX)
        n = S_PASSPHRASE_MAX;
    char *p = pl_secure_alloc(n + 1);
    if (p) {
        memcpy(p, v, n);
        p[n] = 0;
        *len = n;
    }
    pl_wipe(v, strlen(v));
    unsetenv("PASSERELLE_PASSPHRASE");
    return p;
}

// A decimal number in min..max, digits only (no sign, no spaces, no
// suffix); -1 otherwise.
static long
s_number(const char *text, long min, long max)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    return v;
}

// One of the log levels pl_log_level_parse knows (it falls back to "info"
// for anything else, which must not pass silently).
static bool
s_level_ok(const char *text)
{
    static const char *const ok[] = {"error", "warn", "warning", "info",
                                     "debug"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcasecmp(text, ok[i]) == 0)
            return true;
    return false;
}

// A ZeroMQ endpoint the node can connect to: tcp://HOST:PORT or
// ipc://PATH, with a printable, non-empty rest.
static bool
s_endpoint_ok(const char *text)
{
    size_t n = strlen(text);
    if (n < 7 || n >= 256
        || (strncmp(text, "tcp://", 6) != 0 && strncmp(text, "ipc://", 6) != 0))
        return false;
    for (size_t i = 6; i < n; i++)
        if ((unsigned char) text[i] <= ' ' || (unsigned char) text[i] >= 127)
            return false;
    if (strncmp(text, "tcp://", 6) == 0) {
        const char *colon = strrchr(text + 6, ':');
        if (!colon || colon == text + 6 || s_number(colon + 1, 1, 65535) < 0)
            return false;
    }
    return true;
}

int
main(int argc, char **argv)
{
    // secrets live in this process: no core files, no ptrace by others
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    prctl(PR_SET_DUMPABLE, 0);
    if (pl_crypto_init() != PL_OK) {
        fputs("passerelle-node: libsodium cannot start\n", stderr);
        return 1;
    }

    const char *home = NULL, *broker = NULL, *level = "info";
    long heartbeat = 0, hb_timeout = 0, map_mib = 0, pass_fd = -1;
    long grace_days = -1, map_max_mib = 0;
    long idle_min = 0, max_hours = 0;
    long keep_days = -1;
    long report_hours = -1;
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"broker", required_argument, NULL, 'b'},
        {"log-level", required_argument, NULL, 'l'},
        {"heartbeat-ms", required_argument, NULL, 'B'},
        {"heartbeat-timeout-ms", required_argument, NULL, 'T'},
        {"map-mib", required_argument, NULL, 'm'},
        {"passphrase-fd", required_argument, NULL, 'p'},
        {"box-grace-days", required_argument, NULL, 'g'},
        {"map-max-mib", required_argument, NULL, 'M'},
        {"session-idle-min", required_argument, NULL, 'I'},
        {"session-max-hours", required_argument, NULL, 'X'},
        {"handover-keep-days", required_argument, NULL, 'K'},
        {"report-hours", required_argument, NULL, 'R'},
        // long-only codes above the char range: no clash with letters
        {"log-format", required_argument, NULL, S_OPT_LOG_FORMAT},
        {"config", required_argument, NULL, S_OPT_CONFIG},
        {"check-config", no_argument, NULL, S_OPT_CHECK_CONFIG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
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
        fprintf(stderr, "passerelle-node: %s\n", conf_err);
        return 2;
    }
    argc = conf.argc;
    argv = conf.argv;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            home = optarg;
            break;
        case 'b':
            broker = optarg;
            break;
        case 'l':
            level = optarg;
            if (!s_level_ok(level)) {
                fprintf(stderr,
                        "passerelle-node: --log-level must be "
                        "error|warn|info|debug, not '%s'\n",
                        level);
                goto bad_option;
            }
            break;
        case 'B':
            heartbeat = s_number(optarg, 100, 600000);
            if (heartbeat < 0) {
                fputs("passerelle-node: --heartbeat-ms must be 100..600000\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'T':
            hb_timeout = s_number(optarg, 100, 600000);
            if (hb_timeout < 0) {
                fputs("passerelle-node: --heartbeat-timeout-ms must be "
                      "100..600000\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'm':
            map_mib = s_number(optarg, 1, 1024 * 1024);
            if (map_mib < 0) {
                fputs("passerelle-node: --map-mib must be 1..1048576\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'p':
            pass_fd = s_number(optarg, 0, 1 << 20);
            if (pass_fd < 0) {
                fputs("passerelle-node: --passphrase-fd needs a file "
                      "descriptor number\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'g':
            grace_days = s_number(optarg, 0, 3650);
            if (grace_days < 0) {
                fputs("passerelle-node: --box-grace-days must be 0..3650\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'R':
            report_hours = s_number(optarg, 0, 8760);
            if (report_hours < 0) {
                fputs("passerelle-node: --report-hours must be 0..8760 "
                      "(0: only on 'passerelle report send')\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'K':
            keep_days = s_number(optarg, 0, 3650);
            if (keep_days < 0) {
                fputs("passerelle-node: --handover-keep-days must be "
                      "0..3650\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'M':
            map_max_mib = s_number(optarg, 1, 1024 * 1024);
            if (map_max_mib < 0) {
                fputs("passerelle-node: --map-max-mib must be 1..1048576\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'I':
            idle_min = s_number(optarg, 1, 1440);
            if (idle_min < 0) {
                fputs("passerelle-node: --session-idle-min must be 1..1440\n",
                      stderr);
                goto bad_option;
            }
            break;
        case 'X':
            max_hours = s_number(optarg, 1, 168);
            if (max_hours < 0) {
                fputs("passerelle-node: --session-max-hours must be 1..168\n",
                      stderr);
                goto bad_option;
            }
            break;
        case S_OPT_LOG_FORMAT:
            if (pl_log_format_parse(optarg, &format) != 0) {
                fprintf(stderr,
                        "passerelle-node: --log-format must be text|json, "
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
        case ':':
            fprintf(stderr, "passerelle-node: option '%s' needs a value\n",
                    argv[optind - 1]);
            goto bad_option;
        default:
            fprintf(stderr,
                    "passerelle-node: unknown option '%s' (passerelle-node "
                    "--help lists them)\n",
                    argv[optind - 1]);
            goto bad_option;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "passerelle-node: unexpected argument '%s'\n",
                argv[optind]);
        return 2;
    }
    if (!home || !broker || !*home) {
        fputs("passerelle-node: --home DIR and --broker ENDPOINT are "
              "required (try --help)\n",
              stderr);
        return 2;
    }
    if (!s_endpoint_ok(broker)) {
        fputs("passerelle-node: --broker must be tcp://HOST:PORT or "
              "ipc://PATH\n",
              stderr);
        goto bad_option;
    }

    if (check_config) {
        // a setting left to the node's default is a comment (see --help)
        printf("# passerelle-node: effective settings\n");
        printf("home = %s\nbroker = %s\n", home, broker);
        printf("log-level = %s\nlog-format = %s\n", level,
               pl_log_format_name(format));
        const struct {
            const char *key;
            long v;
            bool set;
        } num[] = {
            {"heartbeat-ms", heartbeat, heartbeat > 0},
            {"heartbeat-timeout-ms", hb_timeout, hb_timeout > 0},
            {"session-idle-min", idle_min, idle_min > 0},
            {"session-max-hours", max_hours, max_hours > 0},
            {"handover-keep-days", keep_days, keep_days >= 0},
            {"report-hours", report_hours, report_hours >= 0},
            {"map-mib", map_mib, map_mib > 0},
            {"map-max-mib", map_max_mib, map_max_mib > 0},
            {"box-grace-days", grace_days, grace_days >= 0},
            {"passphrase-fd", pass_fd, pass_fd >= 0},
        };
        for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
            if (num[i].set)
                printf("%s = %ld\n", num[i].key, num[i].v);
            else if (strcmp(num[i].key, "passphrase-fd") != 0)
                printf("# %s = default\n", num[i].key);
        return 0;
    }
    char home_err[4352]; // a home others can write: refused (pl_home)
    if (pl_home_check(home, home_err, sizeof home_err) != PL_OK) {
        fprintf(stderr, "passerelle-node: refusing to start: %s\n", home_err);
        return 1;
    }
    size_t pass_len = 0;
    char *pass = NULL;
    if (pass_fd >= 0) {
        pass = s_read_passphrase((int) pass_fd, &pass_len);
        if (!pass) {
            fprintf(stderr,
                    "passerelle-node: no passphrase could be read from file "
                    "descriptor %ld\n",
                    pass_fd);
            return 1;
        }
        close((int) pass_fd);
    } else {
        pass = s_env_passphrase(&pass_len);
    }

    pl_log_t log = {stderr, pl_log_level_parse(level), "node"};
    pl_log_set_format(format);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "passerelle-node: pipe: %s\n", strerror(errno));
        return 1;
    }
    s_wake_fd = pipefd[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    pl_node_opts_t o = {
        .home = home,
        .broker = broker,
        .heartbeat_ms = (int) heartbeat,
        .hb_wait_ms = (int) hb_timeout,
        .map_bytes = (size_t) map_mib << 20,
        .passphrase = pass,
        .passphrase_len = pass_len,
        .log = &log,
        .box_grace_days = grace_days < 0    ? 0
                          : grace_days == 0 ? -1
                                            : (int) grace_days,
        .map_max_bytes = (size_t) map_max_mib << 20,
        .session_idle_s = (uint64_t) idle_min * 60,
        .session_max_s = (uint64_t) max_hours * 3600,
        .handover_keep_days = keep_days < 0    ? 0
                              : keep_days == 0 ? -1
                                               : (int) keep_days,
        .report_hours = report_hours < 0    ? 0
                        : report_hours == 0 ? -1
                                            : (int) report_hours,
    };
    char err[1024];
    pl_node_t *node = NULL;
    int rc = pl_node_new(&o, &node, err, sizeof err);
    if (pass)
        pl_secure_free(pass); // the store derived its key: wipe the passphrase
    if (rc != PL_OK) {
        fprintf(stderr, "passerelle-node: %s\n", err);
        return 1;
    }
    (void) pl_notify("READY=1"); // systemd Type=notify: store open
    rc = pl_node_run(node, pipefd[0], &s_stop, &s_reload);
    (void) pl_notify("STOPPING=1");
    bool store_failed = pl_node_store_failed(node);
    pl_node_destroy(&node);
    s_wake_fd = -1;
    close(pipefd[0]);
    close(pipefd[1]);
    if (rc == PL_OK)
        pl_log_info(&log, "node_stopped");
    if (rc != PL_OK && store_failed)
        return PL_NODE_EXIT_STORE; // a supervisor restarts us
    return rc == PL_OK ? 0 : 1;

bad_option: // a usage error: name the file line it came from, if any
    pl_conf_blame(&conf, optind - 1, "passerelle-node", stderr);
    return 2;
}
