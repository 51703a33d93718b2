// cmd_broker - `passerelle broker status|nodes|reload --home BROKERDIR`:
// the operator's commands, through the broker's own control socket
// ipc://BROKERDIR/control. Layer: adapters.
//
// No node identity is involved: the control socket lives in the broker's
// home (mode 0700), so whoever may read that folder may ask. One request
// {"cmd": "status"|"nodes"|"reload"} on a REQ socket, one answer
// {"ok": true, "result": ...} or {"ok": false, "error": "..."}. Before
// connecting, the broker's daemon.lock tells whether a broker runs at all
// (a REQ socket would otherwise wait for a peer that never comes).
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_control.h"
#include "adapters/cli/cli_opts.h"

#define S_WARN_DAYS 30 // certificates expiring within: warn

static const char s_broker_help[] =
    "usage: passerelle broker status|nodes|reload|federation --home BROKERDIR\n"
    "       [--json]\n"
    "\n"
    "Operator commands for a running passerelle-broker, through its control\n"
    "socket BROKERDIR/control (no node identity needed; access is the\n"
    "access to BROKERDIR).\n"
    "\n"
    "  status   uptime, store size and map use, envelopes routed in the\n"
    "           last minute, revocation list number, and per node: online,\n"
    "           last seen, queued envelopes and the oldest one's age,\n"
    "           accepted/delivered/taken/expired/rejected counters, and the\n"
    "           median and 95th percentile time from accepted to taken\n"
    "  nodes    enrolled certificates: address, sector, serial, valid until,\n"
    "           days left, status, revoked, online; warns about certificates\n"
    "           expiring within 30 days\n"
    "  reload   re-read BROKERDIR/certs/ and BROKERDIR/revoked (as SIGHUP);\n"
    "           an older revocation list never replaces a newer one; and\n"
    "           BROKERDIR/federation/*.anchor\n"
    "  federation  per federated network: link state and since when, queued\n"
    "           envelopes and the oldest one's age, sent/accepted/received\n"
    "           counts, expired notices, the foreign directory's size, age\n"
    "           and revocation number\n"
    "\n"
    "  --home BROKERDIR  the broker's home folder\n"
    "  --json            print the broker's answer as one JSON document\n"
    "  --help            this text ('passerelle broker COMMAND --help' too)\n"
    "\n"
    "exit status: 0 ok, 1 failure (broker not running, no answer within\n"
    "10 s, refused), 2 usage error\n";

static const char s_status_help[] =
    "usage: passerelle broker status --home BROKERDIR [--json]\n"
    "\n"
    "The broker's transport figures (metadata only: the broker never reads\n"
    "an envelope). Per node:\n"
    "  presence   active (a packet in the last minute), quiet (connected\n"
    "             and idle: idle nodes ping every 160 s by default), lost\n"
    "             (silent for the broker's --session-ms, 400 s by default)\n"
    "             or offline\n"
    "  last seen  when the broker last received a packet from it\n"
    "  queued     envelopes waiting for it; oldest = age of the oldest one\n"
    "  acc/dlv/tkn/exp/rej  envelopes it sent that were accepted, envelopes\n"
    "             delivered to it, taken (committed) by it, expired in its\n"
    "             queue, and packets of its that were rejected\n"
    "  p50/p95    median and 95th percentile time from accepted to taken\n"
    "Counters and latencies count since the broker started.\n"
    "\n"
    "--json prints the broker's object: address, time, uptime_s,\n"
    "store_bytes, map_use_pct, routed_per_minute, online,\n"
    "revocation_number, session_timeout_s, nodes [{address, sector,\n"
    "online, presence, connected_since,\n"
    "last_seen, queued, oldest_queued_age, accepted, delivered, taken,\n"
    "expired, rejected, latency_p50_ms, latency_p95_ms}].\n";

static const char s_nodes_help[] =
    "usage: passerelle broker nodes --home BROKERDIR [--json]\n"
    "\n"
    "The certificates enrolled at the broker (BROKERDIR/certs/, including\n"
    "the broker's own): address, sector, serial, valid until, days left,\n"
    "status (valid | expiring-soon | expired | not-yet-valid | revoked),\n"
    "revoked, online. A WARNING line follows for every certificate that\n"
    "expires within 30 days: ask the authority to enroll that node again.\n"
    "\n"
    "--json prints the broker's array: [{address, display_name, sector,\n"
    "region, serial, valid_until, revoked, days_left, status,\n"
    "expiring_soon, box_key_id, online}].\n";

static const char s_reload_help[] =
    "usage: passerelle broker reload --home BROKERDIR [--json]\n"
    "\n"
    "Makes the broker re-read BROKERDIR/certs/*.cert and BROKERDIR/revoked,\n"
    "the same as sending it SIGHUP, and waits for it to finish. A\n"
    "revocation list replaces the current one only if its number is higher.\n"
    "Connected nodes whose certificate is no longer valid are refused at\n"
    "once; every connected node is sent the current revocation list.\n"
    "\n"
    "--json prints {certificates, revocation_number}.\n";

// One subcommand.
typedef struct {
    const char *name;              // status, nodes, reload
    const char *help;              // its --help text
    void (*print)(json_t *result); // human output of the result
} s_sub_t;

// ---- small formatting helpers

static const char *
s_str(json_t *o, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : dflt;
}

static long long
s_int(json_t *o, const char *key)
{
    return (long long) json_integer_value(json_object_get(o, key));
}

// "3d 04h", "2h 05m", "4m 07s", "12s"
static void
s_duration(char *out, size_t n, long long s)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(out, n, "%lldd %02lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%lldh %02lldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, n, "%lldm %02llds", s / 60, s % 60);
    else
        snprintf(out, n, "%llds", s);
}

// Parses the broker's "YYYY-MM-DDTHH:MM:SSZ"; false on anything else.
static bool
s_time_parse(const char *text, long long *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char z = 0;
    if (!text
        || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z)
               != 7
        || z != 'Z')
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *t = (long long) timegm(&tm);
    return true;
}

// Width of the widest "address" in an array (at least 'min').
static int
s_address_width(json_t *arr, int min)
{
    size_t i;
    json_t *o;
    int w = min;
    json_array_foreach(arr, i, o)
    {
        int len = (int) strlen(s_str(o, "address", ""));
        if (len > w)
            w = len;
    }
    return w;
}

// ---- status

static void
s_print_status(json_t *r)
{
    char up[32];
    s_duration(up, sizeof up, s_int(r, "uptime_s"));
    json_t *nodes = json_object_get(r, "nodes");
    long long store = s_int(r, "store_bytes");
    printf("broker %s at %s\n", s_str(r, "address", "?"),
           s_str(r, "time", "?"));
    printf("  uptime              %s\n", up);
    printf("  store               %lld bytes (%.1f MiB), map %lld %% used\n",
           store, (double) store / (1024.0 * 1024.0), s_int(r, "map_use_pct"));
    printf("  routed              %lld envelopes in the last minute\n",
           s_int(r, "routed_per_minute"));
    printf("  online              %lld of %zu nodes\n", s_int(r, "online"),
           json_array_size(nodes));
    long long rev = s_int(r, "revocation_number");
    if (rev > 0)
        printf("  revocation list     number %lld\n", rev);
    else
        printf("  revocation list     none\n");
    if (json_array_size(nodes) == 0) {
        printf("\nno nodes enrolled (put certificates in certs/ and run "
               "'passerelle broker reload')\n");
        return;
    }
    long long now = 0;
    bool have_now = s_time_parse(s_str(r, "time", NULL), &now);
    int aw = s_address_width(nodes, 7);
    printf("\n%-*s  %-8s  %-10s  %6s  %-8s  %8s  %9s  %8s  %7s  %8s  %7s  "
           "%7s\n",
           aw, "ADDRESS", "PRESENCE", "LAST SEEN", "QUEUED", "OLDEST",
           "ACCEPTED", "DELIVERED", "TAKEN", "EXPIRED", "REJECTED", "P50 ms",
           "P95 ms");
    size_t i;
    json_t *o;
    json_array_foreach(nodes, i, o)
    {
        char seen[32] = "never", oldest[32] = "-";
        long long t;
        if (s_time_parse(s_str(o, "last_seen", NULL), &t)) {
            if (have_now) {
                char d[24];
                s_duration(d, sizeof d, now - t);
                snprintf(seen, sizeof seen, "%s ago", d);
            } else {
                snprintf(seen, sizeof seen, "%s", s_str(o, "last_seen", "?"));
            }
        }
        if (s_int(o, "queued") > 0)
            s_duration(oldest, sizeof oldest, s_int(o, "oldest_queued_age"));
        // no envelope taken yet: no latency to show (not "0 ms")
        char p50[24] = "-", p95[24] = "-";
        if (s_int(o, "taken") > 0) {
            snprintf(p50, sizeof p50, "%lld", s_int(o, "latency_p50_ms"));
            snprintf(p95, sizeof p95, "%lld", s_int(o, "latency_p95_ms"));
        }
        printf("%-*s  %-8s  %-10s  %6lld  %-8s  %8lld  %9lld  %8lld  %7lld  "
               "%8lld  %7s  %7s\n",
               aw, s_str(o, "address", "?"),
               s_str(o, "presence",
                     json_is_true(json_object_get(o, "online")) ? "yes" : "no"),
               seen, s_int(o, "queued"), oldest, s_int(o, "accepted"),
               s_int(o, "delivered"), s_int(o, "taken"), s_int(o, "expired"),
               s_int(o, "rejected"), p50, p95);
    }
}

// ---- nodes

static void
s_print_nodes(json_t *arr)
{
    if (json_array_size(arr) == 0) {
        printf("no certificates enrolled\n");
        return;
    }
    int aw = s_address_width(arr, 7);
    printf("%-*s  %-17s  %6s  %-20s  %9s  %-13s  %-7s  %s\n", aw, "ADDRESS",
           "SECTOR", "SERIAL", "VALID UNTIL", "DAYS LEFT", "STATUS", "REVOKED",
           "ONLINE");
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        printf("%-*s  %-17s  %6lld  %-20s  %9lld  %-13s  %-7s  %s\n", aw,
               s_str(o, "address", "?"), s_str(o, "sector", "?"),
               s_int(o, "serial"), s_str(o, "valid_until", "?"),
               s_int(o, "days_left"), s_str(o, "status", "?"),
               json_is_true(json_object_get(o, "revoked")) ? "yes" : "no",
               json_is_true(json_object_get(o, "online")) ? "yes" : "no");
    }
    // the warnings come last, where an operator's eye ends
    json_array_foreach(arr, i, o)
    {
        const char *status = s_str(o, "status", "");
        long long left = s_int(o, "days_left");
        if (json_is_true(json_object_get(o, "expiring_soon"))
            || strcmp(status, "expiring-soon") == 0)
            printf("WARNING: the certificate of %s (serial %lld) expires in "
                   "%lld day%s, on %s (less than %d days): ask the authority "
                   "to enroll it again\n",
                   s_str(o, "address", "?"), s_int(o, "serial"), left,
                   left == 1 ? "" : "s", s_str(o, "valid_until", "?"),
                   S_WARN_DAYS);
        else if (strcmp(status, "expired") == 0)
            printf("WARNING: the certificate of %s (serial %lld) expired on "
                   "%s: that node cannot connect\n",
                   s_str(o, "address", "?"), s_int(o, "serial"),
                   s_str(o, "valid_until", "?"));
    }
}

// ---- reload

static void
s_print_reload(json_t *r)
{
    long long rev = s_int(r, "revocation_number");
    printf("reloaded: %lld certificate%s, ", s_int(r, "certificates"),
           s_int(r, "certificates") == 1 ? "" : "s");
    if (rev > 0)
        printf("revocation list number %lld\n", rev);
    else
        printf("no revocation list\n");
}

// ---- federation (issue 13)

static const char s_federation_help[] =
    "usage: passerelle broker federation --home BROKERDIR [--json]\n"
    "\n"
    "The broker's federation links (DESIGN.md §7.1), one line per foreign\n"
    "network named by an anchor in BROKERDIR/federation/:\n"
    "  state      up or down, and since when\n"
    "  queued     envelopes committed here for that network, not yet\n"
    "             accepted by its broker; oldest = age of the oldest one\n"
    "  sent/acc   wraps sent over the link / accepted (committed) there\n"
    "  recv       envelopes from that network committed here\n"
    "  exp        envelopes that expired there or were refused, told to\n"
    "             their senders\n"
    "  directory  foreign certificates held, their age, stale or not, and\n"
    "             the foreign revocation list number\n";

static void
s_print_federation(json_t *r)
{
    json_t *peers = json_object_get(r, "peers");
    const char *listen = s_str(r, "listen", NULL);
    printf("federation port: %s\n", listen ? listen : "none (not listening)");
    if (json_array_size(peers) == 0) {
        printf("no federation anchors\n");
        return;
    }
    printf("%-8s %-14s %-7s %-5s %-20s %7s %7s %7s %7s %7s %4s %-21s %s\n",
           "NETWORK", "PEER", "ROLE", "STATE", "SINCE", "QUEUED", "OLDEST",
           "SENT", "ACC", "RECV", "EXP", "DIRECTORY", "REVOKED#");
    size_t i;
    json_t *o;
    json_array_foreach(peers, i, o)
    {
        char dir[64];
        snprintf(dir, sizeof dir, "%lld certs%s", s_int(o, "directory_certs"),
                 json_is_true(json_object_get(o, "directory_stale")) ? " STALE"
                                                                     : "");
        printf("%-8s %-14s %-7s %-5s %-20s %7lld %6llds %7lld %7lld %7lld "
               "%4lld %-21s %lld\n",
               s_str(o, "network", "?"), s_str(o, "peer_broker", "?"),
               s_str(o, "role", "?"), s_str(o, "state", "?"),
               s_str(o, "since", "-"), s_int(o, "queued"),
               s_int(o, "oldest_queued_age_s"), s_int(o, "sent"),
               s_int(o, "accepted"), s_int(o, "delivered_from_peer"),
               s_int(o, "expired_back"), dir, s_int(o, "revocation_number"));
    }
}

static const s_sub_t s_subs[] = {
    {"status", s_status_help, s_print_status},
    {"nodes", s_nodes_help, s_print_nodes},
    {"reload", s_reload_help, s_print_reload},
    {"federation", s_federation_help, s_print_federation},
};

int
cli_cmd_broker(cli_t *cli, int argc, char **argv)
{
    // GNU getopt moves the subcommand word behind the options, so both
    // "broker status --home B" and "broker --home B status" work
    cli_opts_t o;
    int prc =
        cli_opts_parse(cli, "broker", NULL, 0, NULL, NULL, 0, argc, argv, &o);
    cli_opts_free(&o);
    if (prc >= 0)
        return prc;
    bool help = o.help;
    const s_sub_t *sub = NULL;
    if (o.noperands > 0) {
        for (size_t i = 0; i < sizeof s_subs / sizeof s_subs[0]; i++)
            if (strcmp(o.operands[0], s_subs[i].name) == 0)
                sub = &s_subs[i];
        if (!sub)
            return cli_usage_error("broker",
                                   "unknown command '%s' (status, "
                                   "nodes, reload or federation)",
                                   o.operands[0]);
    }
    if (help) {
        fputs(sub ? sub->help : s_broker_help, stdout);
        return 0;
    }
    if (!sub)
        return cli_usage_error("broker", "which command: status, nodes, "
                                         "reload or federation?");
    char cmd[32];
    snprintf(cmd, sizeof cmd, "broker %s", sub->name);
    if (o.noperands > 1)
        return cli_usage_error(cmd, "unexpected argument '%s'", o.operands[1]);
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;

    // the one control client (cli_control): home checks, daemon.lock,
    // the 10 s limit, as for the node
    json_t *result = NULL;
    char err[PATH_MAX + 256];
    int rc = cli_control_request(CLI_PEER_BROKER, home, NULL, sub->name, NULL,
                                 NULL, 0, &result, err, sizeof err, NULL, 0);
    if (rc == CLI_CONTROL_ERROR)
        return cli_error(cmd, "the broker refused: %s", err);
    if (rc != CLI_CONTROL_OK)
        return cli_error(cmd, "%s", err);
    if (cli->json)
        return cli_print_json(result); // exactly the broker's result
    sub->print(result);
    json_decref(result);
    return 0;
}
