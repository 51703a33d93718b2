// passerelle-web - the staff web application of one node (issue 14,
// DESIGN.md §12): options, TLS, listening address checks, start and stop.
// Layer: adapters.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/web/web.h"
#include "adapters/web/web_http.h"
#include "proto/pl_crypto.h"

static const char s_help[] =
    "usage: passerelle-web --home DIR [--listen ADDR:PORT]\n"
    "       passerelle-web --list-routes\n"
    "       passerelle-web --broker-home B [--listen ADDR:PORT]\n"
    "                      [--tls-cert FILE --tls-key FILE]\n"
    "                      [--max-conns N] [--per-ip N] [--timeout S]\n"
    "                      [--assets DIR] [--api-rate N]\n"
    "                      [--smtp-url URL --smtp-from ADDR --notify-to ADDR\n"
    "                       --public-url URL --notify-account NAME\n"
    "                       --notify-password-file FILE\n"
    "                       [--smtp-credentials FILE] [--notify-state FILE]\n"
    "                       [--notify-every S]]\n"
    "\n"
    "Serves the staff application (case managers, providers, supervisors,\n"
    "admins) of the node whose home is DIR, talking to its daemon over the\n"
    "control socket DIR/control. Accounts are the node's staff accounts\n"
    "(passerelle --home DIR staff add NAME --role ROLE). A coordinator sees\n"
    "the coordination dashboard; /metrics has the transport figures.\n"
    "\n"
    "  --broker-home B     instead of --home: the broker operator's read-only\n"
    "                      status page (/) and /metrics of the broker whose\n"
    "                      home is B, from its control socket; no login\n"
    "  --listen ADDR:PORT  IP address and port (default 127.0.0.1:8080; port\n"
    "                      0 picks a free one, printed at start). An address\n"
    "                      other than loopback needs --tls-cert/--tls-key.\n"
    "  --tls-cert, --tls-key  PEM files: serve HTTPS (Secure, __Host- cookie)\n"
    "  --max-conns N       connections at once (default 1024)\n"
    "  --per-ip N          connections at once from one address (default 64)\n"
    "  --timeout S         idle connection timeout in seconds (default 15)\n"
    "  --assets DIR        the stylesheet folder (default: next to the\n"
    "                      executable, web-assets/, else the installed one)\n"
    "  --api-rate N        /api/v1/ requests per token or session a minute\n"
    "                      (default 600; then 429)\n"
    "  --list-routes       print the routes (method, path, roles) and exit\n"
    "\n"
    "Email notifications (optional; off without --smtp-url): a count, the\n"
    "priorities and a link to the incoming page when referrals arrive or\n"
    "become overdue, and a count and a link to the handovers page when a\n"
    "case is handed over to this node; never a name, an id or a note.\n"
    "  --smtp-url URL      smtp://HOST:PORT (or smtps://) of the mail server\n"
    "  --smtp-from ADDR    the sender address\n"
    "  --notify-to ADDR[,ADDR]  who gets the messages\n"
    "  --public-url URL    the address staff open (http(s)://HOST[:PORT]);\n"
    "                      the links are URL/in and URL/handovers\n"
    "  --notify-account NAME  the staff account whose session reads them:\n"
    "                      a provider (incoming referrals) or a case\n"
    "                      manager (incoming handovers)\n"
    "  --notify-password-file FILE  its password, first line (mode 0600)\n"
    "  --smtp-credentials FILE  SMTP user (line 1) and password (line 2),\n"
    "                      mode 0600; sent only over TLS\n"
    "  --notify-state FILE what was notified (default DIR/web-notify.json,\n"
    "                      mode 0600): a restart does not resend\n"
    "  --notify-every S    poll interval in seconds (default 60)\n"
    "A server that is down is retried after 2, 4, 8 ... up to 300 s; the\n"
    "count waits, nothing is dropped.\n"
    "\n"
    "Logs one line per request to stderr: method, route, status, duration.\n"
    "Stops cleanly on SIGTERM or SIGINT.\n";

static int
s_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "passerelle-web: %s%s%s\n", msg, arg ? " " : "",
            arg ? arg : "");
    fprintf(stderr, "try 'passerelle-web --help'\n");
    return 2;
}

// Reads a whole small file (PEM) into a new string; NULL on failure.
static char *
s_read_small(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    bool whole = feof(f);
    fclose(f);
    if (!buf || !n || !whole) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

// Parses "A.B.C.D:PORT" or "[::1]:PORT" into 'ss'; sets '*loopback'.
static int
s_parse_listen(const char *s, struct sockaddr_storage *ss, bool *loopback)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t) (colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = 0;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) ss;
        host[hl - 1] = 0;
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -1;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t) port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *) ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -1;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t) port);
    // 127.0.0.0/8 is loopback (RFC 1122, section 3.2.1.3)
    *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

static bool
s_dir_has_css(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/style.css", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

// The default assets folder: web-assets/ next to the executable (build
// tree), else the installed share folder.
static void
s_default_assets(char *out, size_t size)
{
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, size, "%s/web-assets", exe);
            if (s_dir_has_css(out))
                return;
            snprintf(out, size, "%s/../share/passerelle/web", exe);
            if (s_dir_has_css(out))
                return;
        }
    }
    snprintf(out, size, "%s", WEB_ASSETS_INSTALLED);
}

static unsigned
s_num(const char *v, unsigned lo, unsigned hi, bool *ok)
{
    char *end;
    errno = 0;
    unsigned long n = v ? strtoul(v, &end, 10) : 0;
    if (!v || errno || *end || n < lo || n > hi)
        *ok = false;
    return (unsigned) n;
}

static web_ctx_t s_web;

int
main(int argc, char **argv)
{
    const char *home = NULL, *listen = "127.0.0.1:8080", *cert = NULL,
               *key = NULL, *assets = NULL, *broker_home = NULL;
    unsigned max_conns = 1024, per_ip = 64, timeout_s = 15,
             api_rate = WEB_API_RATE;
    web_mail_opts_t mo = {.every_s = 60};
    bool nums_ok = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(s_help, stdout);
            return 0;
        }
        if (!strcmp(a, "--list-routes")) {
            web_http_list_routes(stdout);
            return 0;
        }
        if (!v)
            return s_usage("missing value after", a);
        i++;
        if (!strcmp(a, "--home"))
            home = v;
        else if (!strcmp(a, "--broker-home"))
            broker_home = v;
        else if (!strcmp(a, "--listen"))
            listen = v;
        else if (!strcmp(a, "--tls-cert"))
            cert = v;
        else if (!strcmp(a, "--tls-key"))
            key = v;
        else if (!strcmp(a, "--assets"))
            assets = v;
        else if (!strcmp(a, "--max-conns"))
            max_conns = s_num(v, 1, 100000, &nums_ok);
        else if (!strcmp(a, "--per-ip"))
            per_ip = s_num(v, 1, 100000, &nums_ok);
        else if (!strcmp(a, "--timeout"))
            timeout_s = s_num(v, 1, 3600, &nums_ok);
        else if (!strcmp(a, "--smtp-url"))
            mo.smtp_url = v;
        else if (!strcmp(a, "--smtp-from"))
            mo.from = v;
        else if (!strcmp(a, "--notify-to"))
            mo.to = v;
        else if (!strcmp(a, "--public-url"))
            mo.public_url = v;
        else if (!strcmp(a, "--smtp-credentials"))
            mo.cred_file = v;
        else if (!strcmp(a, "--notify-account"))
            mo.account = v;
        else if (!strcmp(a, "--notify-password-file"))
            mo.account_pass_file = v;
        else if (!strcmp(a, "--notify-state"))
            mo.state_file = v;
        else if (!strcmp(a, "--notify-every"))
            mo.every_s = s_num(v, 1, 86400, &nums_ok);
        else if (!strcmp(a, "--api-rate"))
            api_rate = s_num(v, 1, 1000000, &nums_ok);
        else
            return s_usage("unknown option", a);
    }
    if (!nums_ok)
        return s_usage("--max-conns, --per-ip, --timeout, --notify-every and "
                       "--api-rate take a positive number",
                       NULL);
    if (home && broker_home)
        return s_usage("give --home DIR or --broker-home B, not both", NULL);
    if (!home && !broker_home)
        return s_usage("--home DIR (or --broker-home B) is required", NULL);
    if (broker_home && mo.smtp_url)
        return s_usage("--broker-home serves no notifications (--smtp-url)",
                       NULL);
    if (broker_home)
        home = broker_home;
    bool mail_flags = mo.from || mo.to || mo.public_url || mo.cred_file
                      || mo.account || mo.account_pass_file || mo.state_file;
    if (mail_flags && !mo.smtp_url)
        return s_usage("the notification flags need --smtp-url", NULL);
    char mail_err[256];
    if (mo.smtp_url && web_mail_check(&mo, mail_err, sizeof mail_err) != 0)
        return s_usage(mail_err, NULL);
    if (!cert != !key)
        return s_usage("--tls-cert and --tls-key go together", NULL);
    struct sockaddr_storage ss;
    bool loopback = false;
    if (s_parse_listen(listen, &ss, &loopback) != 0)
        return s_usage("--listen takes ADDR:PORT (an IP address), not", listen);
    if (!loopback && !cert) {
        fprintf(stderr,
                "passerelle-web: refusing to listen on %s without TLS: staff "
                "passwords and personal data would cross the network in "
                "clear (give --tls-cert and --tls-key, or a 127.x address)\n",
                listen);
        return 1;
    }
    if (pl_crypto_init() != 0) {
        fprintf(stderr, "passerelle-web: libsodium failed to start\n");
        return 1;
    }
    char *tls_cert = NULL, *tls_key = NULL;
    if (cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fprintf(stderr, "passerelle-web: this libmicrohttpd has no TLS "
                            "support\n");
            return 1;
        }
        tls_cert = s_read_small(cert);
        tls_key = s_read_small(key);
        if (!tls_cert || !tls_key) {
            fprintf(stderr,
                    "passerelle-web: cannot read the TLS %s file (a PEM "
                    "file under 64 KiB)\n",
                    !tls_cert ? "certificate" : "key");
            free(tls_cert);
            free(tls_key);
            return 1;
        }
    }
    char assets_dir[PATH_MAX];
    if (assets)
        snprintf(assets_dir, sizeof assets_dir, "%s", assets);
    else
        s_default_assets(assets_dir, sizeof assets_dir);
    if (web_http_init(assets_dir) != 0) {
        fprintf(stderr, "passerelle-web: cannot read %s/style.css\n",
                assets_dir);
        return 1;
    }
    char api_dir[PATH_MAX + 16], api_err[512];
    snprintf(api_dir, sizeof api_dir, "%s/openapi", assets_dir);
    if (web_api_doc_load(api_dir, api_err, sizeof api_err) != 0) {
        fprintf(stderr, "passerelle-web: the OpenAPI document: %s\n", api_err);
        return 1;
    }
    char home_real[PATH_MAX];
    if (!realpath(home, home_real)) {
        fprintf(stderr, "passerelle-web: cannot resolve the home %s: %s\n",
                home, strerror(errno));
        return 1;
    }

    web_ctx_t *w = &s_web;
    pthread_mutex_init(&w->lock, NULL);
    w->home = home_real;
    w->broker = broker_home != NULL; // issue 15: the operator's view
    w->tls = cert != NULL;
    // the __Host- prefix pins the cookie to this origin, path / and Secure
    // (RFC 6265bis, section 4.1.3.2); browsers accept it only over HTTPS
    w->cookie = w->tls ? "__Host-pl_session" : "pl_session";
    w->idle_s = 15 * 60; // DESIGN.md §12: idle timeout 15 minutes
    w->api_rate = api_rate;
    pl_random(w->api_key, sizeof w->api_key);

    // signals: handled by sigwait below, blocked in every thread
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    web_http_opts_t o = {
        .addr = (const struct sockaddr *) &ss,
        .max_conns = max_conns,
        .per_ip = per_ip,
        .timeout_s = timeout_s,
        .threads = 4,
        .tls_key = tls_key,
        .tls_cert = tls_cert,
    };
    struct MHD_Daemon *d = web_http_start(w, &o);
    if (!d) {
        fprintf(stderr, "passerelle-web: cannot listen on %s\n", listen);
        free(tls_cert);
        free(tls_key);
        return 1;
    }
    web_mail_t *mail = NULL;
    char state_path[PATH_MAX + 32];
    if (mo.smtp_url) {
        if (!mo.state_file) {
            snprintf(state_path, sizeof state_path, "%s/web-notify.json",
                     home_real);
            mo.state_file = state_path;
        }
        mo.home = home_real;
        // before any thread uses libcurl (curl_global_init(3))
        curl_global_init(CURL_GLOBAL_DEFAULT);
        mail = web_mail_start(&mo, mail_err, sizeof mail_err);
        if (!mail) {
            fprintf(stderr, "passerelle-web: %s\n", mail_err);
            MHD_stop_daemon(d);
            free(tls_cert);
            free(tls_key);
            curl_global_cleanup();
            return 1;
        }
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int) (strrchr(listen, ':') - listen),
             listen);
    fprintf(stderr, "passerelle-web: listening on %s://%s:%u for the %s %s\n",
            w->tls ? "https" : "http", host, di ? di->port : 0,
            w->broker ? "broker" : "node", home_real);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "passerelle-web: stopping (signal %d)\n", sig);
    web_mail_stop(mail);
    if (mo.smtp_url)
        curl_global_cleanup();
    MHD_stop_daemon(d);
    pl_wipe(w->sess, sizeof w->sess);
    if (tls_key)
        pl_wipe(tls_key, strlen(tls_key));
    free(tls_cert);
    free(tls_key);
    return 0;
}
