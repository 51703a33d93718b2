// cmd_casework - `passerelle assess|plan|followup|rss|timeline`: the
// agency's casework on a case (issue 17), through the running daemon.
// Layer: adapters. Every personal or sensitive field (assessment notes,
// plan goals, follow-up notes, survey answers) comes as one JSON object
// on stdin (--stdin), never as an argument: options carry only ids,
// codes and dates.
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
    O_CASE = 0,
    O_TYPE,
    O_DATE,
    O_STDIN,
    O_RETURN,
    O_MONTHS,
    O_OVERDUE,
    O_TP,
    O_REASON,
    O_LOAD,
    O_COUNT
};

static const char *const s_types[] = {"rapid_vuln", "health", "mhpss", "risk",
                                      "family",     "skills", NULL};
static const char *const s_tps[] = {"baseline", "midline", "endline", "ad-hoc",
                                    NULL};

static const cli_opt_t s_table[O_COUNT] = {
    [O_CASE] = {"case", CLI_OPT_WORD, "case", 0, 0, NULL, NULL, NULL},
    [O_TYPE] = {"type", CLI_OPT_ENUM, "type", 0, 0, s_types, NULL, NULL},
    [O_DATE] = {"date", CLI_OPT_DATE, "date", 0, 0, NULL, NULL, NULL},
    [O_STDIN] = {"stdin", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
    [O_RETURN] = {"return-date", CLI_OPT_DATE, "return_date", 0, 0, NULL, NULL,
                  NULL},
    [O_MONTHS] = {"months", CLI_OPT_WORD, "months", 0, 0, NULL, NULL, NULL},
    [O_OVERDUE] = {"overdue", CLI_OPT_FLAG, "overdue", 0, 0, NULL, NULL, NULL},
    [O_TP] = {"timepoint", CLI_OPT_ENUM, "timepoint", 0, 0, s_tps, NULL, NULL},
    [O_REASON] = {"reason", CLI_OPT_WORD, "reason", 0, 0, NULL, NULL, NULL},
    [O_LOAD] = {"load", CLI_OPT_WORD, NULL, 0, 0, NULL, NULL, NULL},
};

// One subcommand: its words, the control command, the options it takes,
// whether its record comes on stdin, and its help.
typedef struct {
    const char *word, *sub, *ctl;
    int allowed[8];
    bool record; // takes --stdin (required)
    const char *help;
} s_sub_t;

static const s_sub_t s_subs[] = {
    {"assess",
     "add",
     "assess.add",
     {O_CASE, O_TYPE, O_DATE, O_STDIN, O_END},
     true,
     "usage: passerelle --home DIR assess add --case CASE --type TYPE "
     "[--date YYYY-MM-DD] --stdin [--json]\n"
     "\nRecords an assessment of the case (sealed under the case key).\n"
     "TYPE: rapid_vuln, health, mhpss, risk, family, skills. On stdin one\n"
     "JSON object: outcome, level (risk: low|medium|high), flags (codes;\n"
     "violence, exploitation, abuse, trafficking open a safeguarding item\n"
     "until a protection referral or safeguarding_reason is recorded),\n"
     "notes, family_tracing (a child's family assessment), safeguarding_\n"
     "reason, protection_referral (referral id), revises (an earlier id).\n"},
    {"plan",
     "set",
     "plan.set",
     {O_CASE, O_STDIN, O_END},
     true,
     "usage: passerelle --home DIR plan set --case CASE --stdin [--json]\n"
     "\nRecords a new version of the reintegration plan (earlier versions\n"
     "are kept). On stdin: goals {economic, social, psychosocial}, own_goals\n"
     "(the returnee's words), items [{dimension, kind referral|direct,\n"
     "referral (id), assistance cash|in_kind, amount (minor units),\n"
     "currency, description, status planned|in_progress|done|dropped}];\n"
     "for a child also child_participation and bia_revisited (YYYY-MM-DD).\n"},
    {"followup",
     "schedule",
     "followup.schedule",
     {O_CASE, O_RETURN, O_MONTHS, O_END},
     false,
     "usage: passerelle --home DIR followup schedule --case CASE "
     "--return-date YYYY-MM-DD [--months 1,3,6,9,12,18]\n"
     "\nSets the case's follow-up schedule: months after the return date\n"
     "(default: the programme's, see 'followup months').\n"},
    {"followup",
     "add",
     "followup.add",
     {O_CASE, O_STDIN, O_END},
     true,
     "usage: passerelle --home DIR followup add --case CASE --stdin [--json]\n"
     "\nRecords a follow-up (DOMAIN.md a7). On stdin: mode (home_visit,\n"
     "office, phone, remote, third_party), contact_made (true/false), and\n"
     "optionally date, months (the scheduled one it answers; default the\n"
     "first not done), plan_item_progress [{item, status}],\n"
     "services_received, referral_ids, satisfaction (1-5), new_needs,\n"
     "safeguarding_concern (true: an open safeguarding item until a\n"
     "protection referral or safeguarding_reason), protection_referral,\n"
     "notes.\n"},
    {"followup",
     "list",
     "followup.list",
     {O_OVERDUE, O_END},
     false,
     "usage: passerelle --home DIR followup list [--overdue] [--json]\n"
     "\nFollow-ups due now (from a week before their date) and overdue\n"
     "(two weeks after it, none recorded), over every case. The daemon\n"
     "also logs each newly overdue one once (followup_overdue).\n"},
    {"followup",
     "months",
     "followup.months",
     {O_MONTHS, O_END},
     false,
     "usage: passerelle --home DIR followup months --months 1,3,6,9,12,18\n"
     "\nSets the programme's default schedule for new 'followup schedule'.\n"},
    {"rss",
     "add",
     "rss.add",
     {O_CASE, O_TP, O_STDIN, O_END},
     true,
     "usage: passerelle --home DIR rss add --case CASE --timepoint "
     "baseline|midline|endline|ad-hoc --stdin [--json]\n"
     "\nScores a Reintegration Sustainability Survey (DOMAIN.md c). On\n"
     "stdin: answers {\"E1\": 4, \"E3\": \"yes\", \"P5\": \"refused\", ...}\n"
     "(a rank 1..scale, yes/no, dont_know, refused, n_a), respondent\n"
     "self|proxy, mode in_person|phone|remote, date. Prints the per-mille\n"
     "scores, the lowest dimension and the sector it suggests.\n"},
    {"rss",
     "skip",
     "rss.skip",
     {O_CASE, O_REASON, O_END},
     false,
     "usage: passerelle --home DIR rss skip --case CASE --reason CODE\n"
     "\nRecords why the case has no endline survey (needed to close it).\n"},
    {"rss",
     "weights",
     "rss.weights",
     {O_LOAD, O_END},
     false,
     "usage: passerelle --home DIR rss weights [--load FILE] [--json]\n"
     "\nShows the weights table in force, or loads the programme's own\n"
     "(JSON, the format of share/passerelle/rss-weights-v1.json, whose\n"
     "equal weights are PLACEHOLDERS, not IOM's Annex 4 method).\n"},
    {"timeline",
     NULL,
     "case.timeline",
     {O_END},
     false,
     "usage: passerelle --home DIR timeline CASE [--json]\n"
     "\nThe case's casework on one page: assessments, plan, referrals,\n"
     "follow-up schedule and records, survey scores and change from\n"
     "baseline, safeguarding items.\n"},
};

#define S_NSUBS (sizeof s_subs / sizeof s_subs[0])

// The record on stdin into args "record" (0), else the exit code.
static int
s_record(const char *name, json_t *args)
{
    char *text = NULL, err[160];
    size_t len = 0;
    if (cli_stdin_read(0, &text, &len, err, sizeof err) != 0) {
        free(text);
        return cli_usage_error(name, "%s", err);
    }
    json_error_t jerr;
    json_t *rec = json_loadb(text, len, 0, &jerr);
    pl_wipe(text, len); // personal data: wipe the raw copy
    free(text);
    if (!json_is_object(rec)) {
        json_decref(rec);
        return cli_usage_error(name, "--stdin: one JSON object expected");
    }
    json_object_set_new(args, "record", rec);
    return 0;
}

// --load FILE: the table into args "table" (0), else the exit code.
static int
s_table_file(const char *name, const char *path, json_t *args)
{
    json_error_t jerr;
    json_t *t = json_load_file(path, 0, &jerr);
    if (!json_is_object(t)) {
        json_decref(t);
        return cli_error(name, "%s: not a JSON weights table (%s)", path,
                         jerr.text);
    }
    json_object_set_new(args, "table", t);
    return 0;
}

static const char *
s_s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : "-";
}

// A per-mille score or "-" (invalid) into buf.
static const char *
s_pm(const json_t *o, const char *key, char buf[16])
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return "-";
    snprintf(buf, 16, "%lld", (long long) json_integer_value(v));
    return buf;
}

static void
s_print_scores(const json_t *r)
{
    char a[16], b[16], c[16], d[16];
    printf("  economic %s  social %s  psychosocial %s  composite %s "
           "(per mille)%s\n",
           s_pm(r, "economic", a), s_pm(r, "social", b),
           s_pm(r, "psychosocial", c), s_pm(r, "composite", d),
           json_is_true(json_object_get(r, "valid")) ? "" : "  NOT VALID");
    if (json_object_get(r, "lowest"))
        printf("  lowest: %s -> suggests a %s referral\n", s_s(r, "lowest"),
               s_s(r, "suggested_sector"));
    if (json_is_true(json_object_get(r, "placeholder_weights")))
        printf("  weights %s: PLACEHOLDER equal weights, not IOM's method\n",
               s_s(r, "weights_version"));
}

static void
s_print_timeline(const json_t *t)
{
    size_t i;
    json_t *e;
    printf("case %s (%s)%s\n", s_s(t, "id"), s_s(t, "status"),
           json_is_true(json_object_get(t, "child")) ? "  child" : "");
    printf("assessments:\n");
    json_array_foreach(json_object_get(t, "assessments"), i, e)
    {
        // a record received with a handover names the node it came from
        json_t *got = json_object_get(e, "received");
        printf("  %s  %-10s %s %s\n", s_s(e, "id"), s_s(e, "type"),
               got ? "received from" : "by",
               got ? s_s(got, "from") : s_s(e, "by"));
    }
    json_t *p = json_object_get(t, "plan");
    printf("plan: %s\n", p ? "" : "(none)");
    if (p)
        printf("  version %lld, %zu item(s)%s%s\n",
               (long long) json_integer_value(json_object_get(p, "version")),
               json_array_size(json_object_get(p, "items")),
               json_object_get(p, "received") ? ", received from " : "",
               json_object_get(p, "received")
                   ? s_s(json_object_get(p, "received"), "from")
                   : "");
    printf("referrals:\n");
    json_array_foreach(json_object_get(t, "referrals"), i, e)
        printf("  %.12s  %-12s %s\n", s_s(e, "id"), s_s(e, "status"),
               s_s(e, "sector"));
    printf("follow-up schedule (return %.10s):\n", s_s(t, "return_date"));
    json_array_foreach(json_object_get(t, "schedule"), i, e)
        printf("  month %-3lld due %.10s  %s\n",
               (long long) json_integer_value(json_object_get(e, "months")),
               s_s(e, "due"), s_s(e, "state"));
    printf("surveys:\n");
    json_array_foreach(json_object_get(t, "rss"), i, e)
    {
        printf("  %s %s\n", s_s(e, "id"), s_s(e, "timepoint"));
        s_print_scores(e);
    }
    json_t *c = json_object_get(t, "change");
    char a[16], b[16], d[16], f[16];
    if (c)
        printf("change from baseline to %s: economic %s social %s "
               "psychosocial %s composite %s\n",
               s_s(c, "to"), s_pm(c, "economic", a), s_pm(c, "social", b),
               s_pm(c, "psychosocial", d), s_pm(c, "composite", f));
    printf("safeguarding: %lld open\n",
           (long long) json_integer_value(
               json_object_get(t, "open_safeguarding")));
    json_array_foreach(json_object_get(t, "safeguarding"), i, e)
        printf("  %-10s %s  %s\n", s_s(e, "source"), s_s(e, "at"),
               json_is_true(json_object_get(e, "open")) ? "OPEN" : "closed");
}

static void
s_print(const s_sub_t *s, const json_t *res)
{
    size_t i;
    json_t *e;
    if (!strcmp(s->ctl, "case.timeline")) {
        s_print_timeline(res);
    } else if (!strcmp(s->ctl, "followup.list")) {
        printf("%-32s %-6s %-10s %s\n", "CASE", "MONTH", "DUE", "STATE");
        json_array_foreach(res, i, e)
            printf("%-32s %-6lld %.10s %s\n", s_s(e, "case"),
                   (long long) json_integer_value(json_object_get(e, "months")),
                   s_s(e, "due"), s_s(e, "state"));
    } else if (!strcmp(s->ctl, "rss.weights")
               || !strcmp(s->ctl, "rss.weights.load")) {
        printf("weights %s (%lld items)%s\n", s_s(res, "weights_version"),
               (long long) json_integer_value(json_object_get(res, "items")),
               json_is_true(json_object_get(res, "placeholder"))
                   ? ": PLACEHOLDER equal weights, not IOM's Annex 4 method"
                   : "");
    } else if (!strcmp(s->ctl, "followup.schedule")) {
        printf("follow-ups of case %s due:", s_s(res, "case"));
        json_array_foreach(json_object_get(res, "due"), i, e)
            printf(" %.10s", json_string_value(e));
        printf("\n");
    } else {
        printf("%s %s recorded for case %s\n", s->word, s_s(res, "id"),
               s_s(res, "case"));
        if (!strcmp(s->ctl, "rss.add"))
            s_print_scores(res);
    }
}

// Parses and runs subcommand 's' (argv[0] its last word).
static int
s_run_sub(cli_t *cli, const s_sub_t *s, const char *name, int argc, char **argv)
{
    cli_opts_t o;
    int rc = cli_opts_parse(cli, name, s_table, O_COUNT, s->allowed, s->help,
                            s->sub ? CLI_OPTS_NO_OPERANDS : 0, argc, argv, &o);
    if (rc < 0 && !s->sub && o.noperands != 1)
        rc = cli_usage_error(name, "give one CASE id");
    if (rc < 0 && !s->sub)
        json_object_set_new(o.args, "case", json_string(o.operands[0]));
    if (rc < 0 && s->record && !o.val[O_STDIN].given)
        rc = cli_usage_error(name, "the record comes on stdin: --stdin");
    if (rc < 0 && s->record)
        rc = s_record(name, o.args) ? 2 : -1;
    bool load = o.val[O_LOAD].given;
    if (rc < 0 && load)
        rc = s_table_file(name, o.val[O_LOAD].text, o.args) ? 1 : -1;
    json_t *res = NULL;
    if (rc < 0)
        rc = cli_node_call(cli, name, load ? "rss.weights.load" : s->ctl,
                           o.args, &res);
    if (rc < 0 && cli->json) {
        rc = cli_print_json(res);
    } else if (rc < 0) {
        s_print(s, res);
        json_decref(res);
        rc = 0;
    }
    cli_opts_free(&o);
    return rc;
}

static int
s_run(cli_t *cli, const char *word, int argc, char **argv)
{
    bool help =
        argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    if (argc < 2 && strcmp(word, "timeline") != 0)
        return cli_usage_error(word,
                               "which subcommand? (see 'passerelle %s "
                               "--help')",
                               word);
    for (size_t i = 0; i < S_NSUBS; i++) {
        const s_sub_t *s = &s_subs[i];
        if (strcmp(s->word, word) != 0)
            continue;
        if (!s->sub)
            return s_run_sub(cli, s, word, argc, argv);
        if (help) {
            fputs(s->help, stdout);
            continue;
        }
        if (strcmp(s->sub, argv[1]) == 0) {
            char name[48];
            snprintf(name, sizeof name, "%s %s", word, s->sub);
            return s_run_sub(cli, s, name, argc - 1, argv + 1);
        }
    }
    if (help)
        return 0;
    return cli_usage_error(word, "unknown subcommand '%s'", argv[1]);
}

int
cli_cmd_assess(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, "assess", argc, argv);
}

int
cli_cmd_plan(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, "plan", argc, argv);
}

int
cli_cmd_followup(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, "followup", argc, argv);
}

int
cli_cmd_rss(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, "rss", argc, argv);
}

int
cli_cmd_timeline(cli_t *cli, int argc, char **argv)
{
    return s_run(cli, "timeline", argc, argv);
}
