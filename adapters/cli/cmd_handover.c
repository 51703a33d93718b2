// cmd_handover - handing a case over across the border from the command
// line (DESIGN.md §7.2, §9; issue 13): `handover --case C --to ADDRESS`,
// `handover show|ack|accept|reject|arrived|no-show|withdraw|cp-ack H` and
// `handovers`. Layer: adapters. Everything goes through the running
// daemon (cli_control); free text (escort, note) can come on stdin so
// that it never shows in `ps`.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"
#include "adapters/cli/cli_stdin.h"
#include "proto/pl_crypto.h"

enum {
    O_END = -1,
    O_CASE,
    O_TO,
    O_ARRIVAL,
    O_CONSENT,
    O_ESCORT,
    O_BID_REF,
    O_BID_DATE,
    O_BID_OUTCOME,
    O_NOTE,
    O_REASON,
    O_STDIN,
    O_DIRECTION,
    O_STATUS,
    O_COUNT
};

static const char *const s_yes[] = {"yes", NULL};
static const char *const s_outcomes[] = {"return", "reunification", NULL};
static const char *const s_directions[] = {"in", "out", NULL};
static const char *const s_statuses[] = {
    "sent",    "acknowledged", "accepted",  "rejected",
    "arrived", "no-show",      "withdrawn", NULL};

static const char *
s_slug_check(const char *v)
{
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-'))
            return "a code of a-z, 0-9 and -";
    return *v ? NULL : "a code of a-z, 0-9 and -";
}

#define S_TEXT(name, key)                                                      \
    {                                                                          \
        name, CLI_OPT_TEXT, key, 0, 0, NULL, NULL, NULL                        \
    }
#define S_ENUM(name, key, list, want)                                          \
    {                                                                          \
        name, CLI_OPT_ENUM, key, 0, 0, list, NULL, want                        \
    }

static const cli_opt_t s_table[O_COUNT] = {
    [O_CASE] = S_TEXT("case", "case"),
    [O_TO] = {"to", CLI_OPT_ADDR, "to", 0, 0, NULL, NULL, NULL},
    [O_ARRIVAL] = {"arrival", CLI_OPT_DATE, "arrival", 0, 0, NULL, NULL, NULL},
    [O_CONSENT] = S_ENUM("consent-transfer", "consent_transfer", s_yes,
                         "yes (the recorded consent to transfer)"),
    [O_ESCORT] = S_TEXT("escort", "escort"),
    [O_BID_REF] = S_TEXT("bid-ref", "bid_ref"),
    [O_BID_DATE] = {"bid-date", CLI_OPT_DATE, "bid_date", 0, 0, NULL, NULL,
                    NULL},
    [O_BID_OUTCOME] = S_ENUM("bid-outcome", "bid_outcome", s_outcomes,
                             "return or reunification"),
    [O_NOTE] = S_TEXT("note", "note"),
    [O_REASON] = {"reason", CLI_OPT_TEXT, "reason", 0, 0, NULL, s_slug_check,
                  NULL},
    [O_STDIN] = {"stdin", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
    [O_DIRECTION] = S_ENUM("direction", "direction", s_directions, "in or out"),
    [O_STATUS] = S_ENUM("status", "status", s_statuses,
                        "sent, acknowledged, accepted, rejected, arrived, "
                        "no-show or withdrawn"),
};

static const char s_help[] =
    "usage: passerelle --home DIR [--as NAME] handover --case CASE --to "
    "ADDRESS\n"
    "           --arrival YYYY-MM-DD --consent-transfer yes [--escort T]\n"
    "           [--bid-ref REF --bid-date YYYY-MM-DD --bid-outcome "
    "return|reunification]\n"
    "           [--note T] [--stdin] [--json]\n"
    "       passerelle --home DIR handover show H [--json]\n"
    "       passerelle --home DIR [--as NAME] handover ack|accept|arrived|"
    "no-show H [--note T]\n"
    "       passerelle --home DIR [--as NAME] handover reject|withdraw H "
    "--reason CODE [--note T]\n"
    "       passerelle --home DIR [--as NAME] handover cp-ack H\n"
    "\n"
    "Hands a case over to the agency node of the country of origin: the\n"
    "package (the case, its assessments and pending referrals, the travel\n"
    "details, the consent to transfer and, for a child, the best-interests\n"
    "determination) travels sealed end to end. The states:\n"
    "  sent -> acknowledged (ack) -> accepted | rejected -> arrived | "
    "no-show\n"
    "  withdrawn: by the sender, any time before arrival\n"
    "ack, accept, reject, arrived and no-show are made at the receiving\n"
    "node, withdraw at the sending node; each step is a signed envelope and\n"
    "an audit entry on both sides.\n"
    "A child (under 18, or --uasc at 'case add') needs a completed\n"
    "best-interests determination recommending return or reunification;\n"
    "the receiving node notifies the child-protection node of its region,\n"
    "and cannot accept before that node's 'handover cp-ack H' (H as its\n"
    "'notifications' lists it, in the REFERRAL column).\n"
    "On acceptance the receiving node opens a case of its own (a new id,\n"
    "the data it was sent); the sending node closes its case as\n"
    "transferred and erases it after --handover-keep-days (a daemon flag,\n"
    "default 90), keeping a minimal record and its audit entries.\n"
    "With --stdin, free text comes as one JSON object on stdin (keys\n"
    "escort, note, reason, bid_ref), so that it never shows in 'ps'.\n"
    "H is a handover id or a unique prefix of it (6 hex digits or more).\n";

static const char s_list_help[] =
    "usage: passerelle --home DIR handovers [--direction in|out] [--status "
    "S] [--json]\n"
    "\n"
    "The handovers this node sent (out) and received (in), with their state\n"
    "(sent, acknowledged, accepted, rejected, arrived, no-show, withdrawn).\n"
    "  --json   an array of {id, direction, peer, status, child, arrival,\n"
    "           created, updated, case, accepted_at, purge_after, purged,\n"
    "           cp, cp_notified, cp_ack}\n";

static const char *
s_s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : "-";
}

// With --stdin: adds the document's keys (those in 'keys') to 'args'.
// Returns -1 to go on, else the exit code.
static int
s_stdin(cli_t *cli, const char *cmd, json_t *args, const char *const *keys)
{
    (void) cli;
    char err[768];
    char *text = NULL;
    size_t len = 0;
    json_t *in = NULL;
    if (cli_stdin_read(0, &text, &len, err, sizeof err) != 0
        || cli_stdin_parse(text, len, keys, NULL, &in, err, sizeof err) != 0) {
        if (text)
            pl_wipe(text, len);
        free(text);
        return cli_usage_error(cmd, "%s", err);
    }
    pl_wipe(text, len); // free text may name people: wipe the raw copy
    free(text);
    const char *k;
    json_t *v;
    int rc = -1;
    json_object_foreach(in, k, v)
    {
        if (json_object_get(args, k)) {
            rc = cli_usage_error(cmd,
                                 "\"%s\" is given both on the command line "
                                 "and in --stdin",
                                 k);
            break;
        }
        if (!strcmp(k, "reason") && s_slug_check(json_string_value(v))) {
            rc = cli_usage_error(cmd, "--stdin: \"reason\": expected a code "
                                      "of a-z, 0-9 and -");
            break;
        }
        json_object_set(args, k, v);
    }
    json_decref(in);
    return rc;
}

static void
s_print_show(const json_t *h)
{
    printf("handover %s (%s, %s)\n", s_s(h, "id"), s_s(h, "status"),
           !strcmp(s_s(h, "direction"), "out") ? "sent by this node"
                                               : "received by this node");
    printf("  %-10s %s\n", !strcmp(s_s(h, "direction"), "out") ? "to" : "from",
           s_s(h, "peer"));
    printf("  arrival    %s%s%s\n", s_s(h, "arrival"),
           json_object_get(h, "escort") ? ", escort " : "",
           json_object_get(h, "escort") ? s_s(h, "escort") : "");
    const json_t *p = json_object_get(h, "person");
    if (p)
        printf("  person     %s %s, born %s\n", s_s(p, "given"),
               s_s(p, "family"), s_s(p, "birth"));
    if (json_is_true(json_object_get(h, "child"))) {
        const json_t *b = json_object_get(h, "bid");
        printf("  child      yes%s%s", json_object_get(h, "uasc") ? ", " : "",
               json_object_get(h, "uasc") ? s_s(h, "uasc") : "");
        if (b)
            printf("; best-interests determination %s of %s: %s", s_s(b, "ref"),
                   s_s(b, "date"), s_s(b, "outcome"));
        printf("\n");
        if (!strcmp(s_s(h, "direction"), "in"))
            printf("  child protection %s: notified %s, acknowledged %s\n",
                   s_s(h, "cp"), s_s(h, "cp_notified"), s_s(h, "cp_ack"));
    }
    if (json_object_get(h, "note"))
        printf("  note       %s\n", s_s(h, "note"));
    if (json_object_get(h, "case"))
        printf("  case       %s\n", s_s(h, "case"));
    if (json_object_get(h, "purge_after"))
        printf("  %s %s\n",
               json_object_get(h, "purged") ? "erased    " : "erased on ",
               json_object_get(h, "purged") ? s_s(h, "purged")
                                            : s_s(h, "purge_after"));
    printf("history:\n");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(h, "history"), i, e)
    {
        printf("  %-20s %-13s", s_s(e, "at"), s_s(e, "status"));
        if (json_is_string(json_object_get(e, "by")))
            printf(" by %s", s_s(e, "by"));
        if (json_object_get(e, "reason"))
            printf(" (%s)", s_s(e, "reason"));
        if (json_object_get(e, "result"))
            printf(" [%s]", s_s(e, "result"));
        if (json_object_get(e, "note"))
            printf(": %s", s_s(e, "note"));
        printf("\n");
    }
}

// handover --case C --to ADDRESS ...
static int
s_send(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {
        O_CASE,     O_TO,          O_ARRIVAL, O_CONSENT, O_ESCORT, O_BID_REF,
        O_BID_DATE, O_BID_OUTCOME, O_NOTE,    O_STDIN,   O_END};
    static const char *const keys[] = {"escort", "note", "bid_ref", "as", NULL};
    cli_opts_t o;
    int rc = cli_opts_parse(cli, "handover", s_table, O_COUNT, allowed, s_help,
                            CLI_OPTS_NO_OPERANDS, argc, argv, &o);
    if (rc < 0 && o.val[O_STDIN].given)
        rc = s_stdin(cli, "handover", o.args, keys);
    if (rc < 0 && json_object_get(o.args, "as")) {
        static char as_buf[201];
        snprintf(as_buf, sizeof as_buf, "%s",
                 json_string_value(json_object_get(o.args, "as")));
        cli->as = as_buf;
        json_object_del(o.args, "as");
    }
    static const struct {
        int row;
        const char *key, *text;
    } need[] = {
        {O_CASE, "case", "--case CASE"},
        {O_TO, "to", "--to ADDRESS"},
        {O_ARRIVAL, "arrival", "--arrival YYYY-MM-DD"},
        {O_CONSENT, "consent_transfer",
         "--consent-transfer yes (the recorded, explicit consent to transfer "
         "the case across the border)"},
    };
    for (size_t i = 0; rc < 0 && i < sizeof need / sizeof *need; i++)
        if (!json_object_get(o.args, need[i].key))
            rc = cli_usage_error("handover", "%s is required", need[i].text);
    json_t *res = NULL;
    if (rc < 0)
        rc = cli_node_call(cli, "handover", "handover", o.args, &res);
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(json_pack("{s:O, s:O}", "id",
                                        json_object_get(res, "id"), "status",
                                        json_object_get(res, "status")));
    printf("%s\n", s_s(res, "id"));
    json_decref(res);
    return 0;
}

// handover show|ack|accept|reject|arrived|no-show|withdraw|cp-ack H
static int
s_sub(cli_t *cli, const char *sub, int argc, char **argv)
{
    static const int none[] = {O_END};
    static const int step[] = {O_NOTE, O_STDIN, O_END};
    static const int why[] = {O_REASON, O_NOTE, O_STDIN, O_END};
    bool show = !strcmp(sub, "show"), cpack = !strcmp(sub, "cp-ack");
    bool reason = !strcmp(sub, "reject") || !strcmp(sub, "withdraw");
    char cmd[32];
    snprintf(cmd, sizeof cmd, "handover %s", sub);
    cli_opts_t o;
    int rc = cli_opts_parse(cli, cmd, s_table, O_COUNT,
                            show || cpack ? none
                            : reason      ? why
                                          : step,
                            s_help, 0, argc, argv, &o);
    if (rc < 0 && o.noperands != 1)
        rc = cli_usage_error(cmd, "give one handover id H");
    static const char *const keys[] = {"note", "reason", NULL};
    if (rc < 0 && o.val[O_STDIN].given)
        rc = s_stdin(cli, cmd, o.args, keys);
    if (rc < 0 && reason && !json_object_get(o.args, "reason"))
        rc = cli_usage_error(cmd, "--reason CODE is required");
    json_t *res = NULL;
    if (rc < 0) {
        json_object_set_new(o.args, "id", json_string(o.operands[0]));
        if (!show && !cpack)
            json_object_set_new(o.args, "event", json_string(sub));
        rc = cli_node_call(cli, cmd,
                           show    ? "handover.show"
                           : cpack ? "handover.cp-ack"
                                   : "handover.act",
                           o.args, &res);
    }
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    if (show)
        s_print_show(res);
    else if (cpack)
        printf("handover %s: child protection acknowledged (sent to %s)\n",
               s_s(res, "id"), s_s(res, "to"));
    else
        printf("handover %s: %s%s%s\n", s_s(res, "id"), s_s(res, "status"),
               json_object_get(res, "case") ? ", new case " : "",
               json_object_get(res, "case") ? s_s(res, "case") : "");
    json_decref(res);
    return 0;
}

int
cli_cmd_handover(cli_t *cli, int argc, char **argv)
{
    static const char *const subs[] = {"show",     "ack",     "accept",
                                       "reject",   "arrived", "no-show",
                                       "withdraw", "cp-ack",  NULL};
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; subs[i]; i++)
            if (!strcmp(argv[1], subs[i]))
                return s_sub(cli, subs[i], argc - 1, argv + 1);
        return cli_usage_error("handover", "unknown subcommand '%s'", argv[1]);
    }
    return s_send(cli, argc, argv);
}

int
cli_cmd_handovers(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_DIRECTION, O_STATUS, O_END};
    cli_opts_t o;
    int rc = cli_opts_parse(cli, "handovers", s_table, O_COUNT, allowed,
                            s_list_help, CLI_OPTS_NO_OPERANDS, argc, argv, &o);
    json_t *res = NULL;
    if (rc < 0)
        rc = cli_node_call(cli, "handovers", "handovers", o.args, &res);
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("%-32s %-3s %-13s %-24s %-10s %-5s %s\n", "HANDOVER", "DIR",
           "STATUS", "PEER", "ARRIVAL", "CHILD", "UPDATED");
    size_t i;
    json_t *e;
    json_array_foreach(res, i, e)
        printf("%-32s %-3s %-13s %-24s %-10s %-5s %s\n", s_s(e, "id"),
               s_s(e, "direction"), s_s(e, "status"), s_s(e, "peer"),
               s_s(e, "arrival"),
               json_is_true(json_object_get(e, "child")) ? "yes" : "no",
               s_s(e, "updated"));
    if (!json_array_size(res))
        printf("(no handovers)\n");
    json_decref(res);
    return 0;
}
