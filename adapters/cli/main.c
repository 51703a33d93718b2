// main - the `passerelle` command line: global options and dispatch.
// Layer: adapters.
//
// Global options (--home, --as, --json, --help, --version) are parsed up to
// the command word (cli_opts_parse with CLI_OPTS_STOP); the
// command's function then parses its own options from argv[0] = command
// word, with its own option table. To add a command: write
// cli_cmd_<name>() (an option table + a handler) in its own cmd_<name>.c,
// declare it in cli.h and add one row to s_commands below.
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"

#ifndef PL_VERSION
#define PL_VERSION "0.0.0" // set by CMake from project(VERSION)
#endif

static int s_cmd_help(cli_t *cli, int argc, char **argv);

// One row per top-level command word, in the order --help lists them.
static const struct command {
    const char *name;    // command word
    cli_fn fn;           // entry point; argv[0] is the command word
    const char *summary; // one line for `passerelle --help`
} s_commands[] = {
    {"init", cli_cmd_init, "make this node's keys in --home DIR"},
    {"whoami", cli_cmd_whoami,
     "address, sector, keys, serial and validity of this node"},
    {"authority", cli_cmd_authority,
     "network authority: init, enroll, revoke, list (offline machine)"},
    {"broker", cli_cmd_broker,
     "operator: broker status, nodes, reload --home BROKERDIR"},
    {"directory", cli_cmd_directory,
     "nodes of the network, from the running daemon's directory"},
    {"network", cli_cmd_network,
     "the broker's transport status, through the running daemon"},
    {"case", cli_cmd_case,
     "cases: add, show, list, close (personal data, "
     "encrypted)"},
    {"consent", cli_cmd_consent, "consent of a case: add, withdraw"},
    {"refer", cli_cmd_refer,
     "refer a case to a provider (consent gate, minimum data)"},
    {"referrals", cli_cmd_referrals,
     "referrals sent and received, with FHIR status and overdue flag"},
    {"show", cli_cmd_show, "one referral: person as far as visible, history"},
    {"fhir", cli_cmd_fhir,
     "fhir import FILE: a FHIR ServiceRequest becomes a case and a draft"},
    {"accept", cli_cmd_act, "recipient: accept a received referral"},
    {"reject", cli_cmd_act, "recipient: reject a referral --reason CODE"},
    {"start", cli_cmd_act, "recipient: start an accepted referral"},
    {"hold", cli_cmd_act, "recipient: put in-progress on hold --reason CODE"},
    {"resume", cli_cmd_act, "recipient: resume a referral on hold"},
    {"complete", cli_cmd_act,
     "recipient: complete --outcome successful|not-successful"},
    {"cancel", cli_cmd_act, "sender: cancel an open referral --reason CODE"},
    {"erase", cli_cmd_erase,
     "erase --case C: destroy a case's key and records (crypto-shredding)"},
    {"notifications", cli_cmd_notifications,
     "child-protection notifications received by this node"},
    {"handover", cli_cmd_handover,
     "hand a case over across the border; show, ack, accept, ... H"},
    {"handovers", cli_cmd_handovers, "handovers sent and received, by state"},
    {"audit", cli_cmd_audit_ops,
     "audit verify|export|check: the chain, running or stopped"},
    {"backup", cli_cmd_backup,
     "backup --to DIR2: compact copy of the store (never the master key)"},
    {"rotate-box-key", cli_cmd_rotate_box_key,
     "new box (encryption) key; the old one kept for a grace period"},
    {"staff", cli_cmd_staff,
     "staff accounts: add, list, disable, enable, passwd"},
    {"token", cli_cmd_token, "API tokens for other systems: add, list, revoke"},
    {"assess", cli_cmd_assess, "assessments of a case (record on --stdin)"},
    {"plan", cli_cmd_plan, "the reintegration plan of a case: set (versions)"},
    {"followup", cli_cmd_followup,
     "follow-up schedule and records; list due and overdue"},
    {"rss", cli_cmd_rss, "sustainability survey: add, skip, weights"},
    {"timeline", cli_cmd_timeline, "a case's casework on one page"},
    {"report", cli_cmd_report,
     "aggregate report: send (now), show [--json], request (coordination)"},
    {"coordination", cli_cmd_coordination,
     "coordination node: the suppressed figures of the reports it keeps"},
    {"service", cli_cmd_service,
     "services: add, capacity, list, export, import, match"},
    {"slip", cli_cmd_slip, "the returnee's referral slip: make, check"},
    {"help", s_cmd_help, "help on a command: passerelle help COMMAND"},
};

#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

// ---- global help

static void
s_usage(FILE *out)
{
    fputs("usage: passerelle [--home DIR] [--as NAME] [--json] COMMAND "
          "[OPTIONS]\n"
          "       passerelle --help | --version\n"
          "\n"
          "Passerelle: referrals between the organisations that help "
          "returning\nmigrants, over a broker that cannot read them.\n"
          "\n"
          "global options:\n"
          "  --home DIR   this node's (or authority's) home folder; "
          "commands accept it too\n"
          "  --as NAME    staff member acting (recorded in history and "
          "audit)\n"
          "  --json       read commands print one JSON document on stdout\n"
          "  --request-id HEX  the request id of an attempt that timed out "
          "(the\n"
          "               daemon carries a request id out once: a retry with "
          "it is\n"
          "               safe)\n"
          "  -h, --help   this help; 'passerelle COMMAND --help' for a "
          "command\n"
          "  --version    print the version\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", s_commands[i].name, s_commands[i].summary);
    fputs("\nexit status: 0 ok, 1 failure, 2 usage error\n", out);
}

static const struct command *
s_find(const char *name)
{
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        if (strcmp(s_commands[i].name, name) == 0)
            return &s_commands[i];
    return NULL;
}

// `passerelle help [COMMAND [SUB]]`: same as `passerelle COMMAND [SUB] --help`.
static int
s_cmd_help(cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0) {
        s_usage(stdout);
        return 0;
    }
    const struct command *c = s_find(argv[1]);
    if (!c || c->fn == s_cmd_help)
        return cli_usage_error("help", "unknown command '%s'", argv[1]);
    char *sub[4] = {argv[1], NULL, NULL, NULL};
    int n = 1;
    if (argc > 2 && argv[2][0] != '-')
        sub[n++] = argv[2];
    sub[n++] = "--help";
    return c->fn(cli, n, sub);
}

int
main(int argc, char **argv)
{
    cli_t cli = {.prog = "passerelle"};
    enum { G_AS, G_REQUEST_ID, G_VERSION, G_COUNT };
    static const cli_opt_t opts[G_COUNT] = {
        [G_AS] = {"as", CLI_OPT_TEXT, NULL, 0, 0, NULL, NULL, NULL},
        [G_REQUEST_ID] = {"request-id", CLI_OPT_WORD, NULL, 0, 0, NULL, NULL,
                          NULL},
        [G_VERSION] = {"version", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
    };
    // the usage text lists the command table
    char *help = cli_help_text(s_usage);
    if (!help)
        return cli_error(NULL, "out of memory");
    // global options up to the command word (CLI_OPTS_STOP)
    cli_opts_t o;
    int prc = cli_opts_parse(&cli, NULL, opts, G_COUNT, NULL, help,
                             CLI_OPTS_STOP, argc, argv, &o);
    cli_opts_free(&o);
    free(help);
    if (prc >= 0)
        return prc;
    if (o.val[G_VERSION].given) {
        printf("passerelle %s\n", PL_VERSION);
        return 0;
    }
    if (o.val[G_AS].given) {
        if (!o.val[G_AS].text[0])
            return cli_usage_error(NULL, "--as needs a staff name");
        cli.as = o.val[G_AS].text;
    }
    if (o.val[G_REQUEST_ID].given) {
        const char *rid = o.val[G_REQUEST_ID].text;
        if (strlen(rid) != 32 || strspn(rid, "0123456789abcdef") != 32)
            return cli_usage_error(NULL, "--request-id needs the 32 "
                                         "lower-case hex digits of an "
                                         "earlier attempt");
        cli.request_id = rid;
    }
    if (o.noperands == 0) {
        s_usage(stderr);
        return 2;
    }
    int w = argc - o.noperands; // the command word
    const struct command *cmd = s_find(argv[w]);
    if (!cmd)
        return cli_usage_error(NULL, "unknown command '%s'", argv[w]);
    int cargc = argc - w;
    char **cargv = argv + w;
    int rc = cmd->fn(&cli, cargc, cargv);
    if (fflush(stdout) != 0 && rc == 0)
        rc = cli_error(NULL, "cannot write the output");
    return rc;
}
