// main - the `passerelle` command line: global options and dispatch.
// Layer: adapters.
//
// Global options (--home, --as, --json, --help, --version) are parsed up to
// the command word ("+" in the option string stops getopt_long there); the
// command's function then parses its own options from argv[0] = command
// word. To add a command: write cli_cmd_<name>() in its own cmd_<name>.c,
// declare it in cli.h and add one row to s_commands below.
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "adapters/cli/cli.h"

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
    {"audit", cli_cmd_audit_ops,
     "audit verify|export|check: the chain, running or stopped"},
    {"backup", cli_cmd_backup,
     "backup --to DIR2: compact copy of the store (never the master key)"},
    {"rotate-box-key", cli_cmd_rotate_box_key,
     "new box (encryption) key; the old one kept for a grace period"},
    {"help", s_cmd_help, "help on a command: passerelle help COMMAND"},
};

#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

// Whether 's' is valid UTF-8 (jansson's own check: it refuses the rest).
static bool
s_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

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
    optind = 0;
    return c->fn(cli, n, sub);
}

int
main(int argc, char **argv)
{
    cli_t cli = {.prog = "passerelle"};
    enum { OPT_VERSION = 256, OPT_AS, OPT_REQUEST_ID };
    static const struct option longopts[] = {
        {"home", required_argument, NULL, 'H'},
        {"as", required_argument, NULL, OPT_AS},
        {"request-id", required_argument, NULL, OPT_REQUEST_ID},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    opterr = 0; // we word the errors ourselves
    int c;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            cli.home = optarg;
            break;
        case OPT_AS:
            if (!optarg[0])
                return cli_usage_error(NULL, "--as needs a staff name");
            if (!s_utf8(optarg))
                return cli_usage_error(NULL, "invalid UTF-8 in --as");
            cli.as = optarg;
            break;
        case OPT_REQUEST_ID:
            if (strlen(optarg) != 32
                || strspn(optarg, "0123456789abcdef") != 32)
                return cli_usage_error(NULL, "--request-id needs the 32 "
                                             "lower-case hex digits of an "
                                             "earlier attempt");
            cli.request_id = optarg;
            break;
        case 'j':
            cli.json = true;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("passerelle %s\n", PL_VERSION);
            return 0;
        default:
            return cli_bad_option(NULL, c, argv);
        }
    }
    if (optind >= argc) {
        s_usage(stderr);
        return 2;
    }
    const struct command *cmd = s_find(argv[optind]);
    if (!cmd)
        return cli_usage_error(NULL, "unknown command '%s'", argv[optind]);
    int cargc = argc - optind;
    char **cargv = argv + optind;
    optind = 0; // full re-initialisation of getopt for the command
    int rc = cmd->fn(&cli, cargc, cargv);
    if (fflush(stdout) != 0 && rc == 0)
        rc = cli_error(NULL, "cannot write the output");
    return rc;
}
