// cmd_case - cases, consent and referrals from the command line
// (DESIGN.md §6, §9): `case`, `consent`, `refer`, `referrals`, `show`,
// `accept|start|resume|hold|reject|cancel|complete` and `audit verify`.
// Layer: adapters.
//
// Everything goes through the running daemon (cli_control): the CLI never
// opens the store. Personal data can come on stdin (`case add --stdin`) so
// that it never shows in `ps`. The global --as NAME travels with every
// request and is recorded in the referral history and the audit chain.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_control.h"
#include "adapters/cli/cli_opts.h"
#include "adapters/cli/cli_stdin.h"
#include "nodes/pl_consent.h"
#include "nodes/pl_referral.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

// Options of the commands of this file: the row indexes of s_table.
enum {
    O_END = -1, // ends an allowed list
    O_GIVEN,
    O_FAMILY,
    O_BIRTH,
    O_SEX,
    O_PHONE,
    O_LANGUAGE,
    O_UASC,
    O_NEEDS,
    O_FLAGS,
    O_STDIN,
    O_SEARCH,
    O_REASON,
    O_CASE,
    O_SECTORS,
    O_PURPOSE,
    O_GIVEN_BY,
    O_GUARDIAN,
    O_VIEWS,
    O_EXPIRES,
    O_TO,
    O_SERVICE,
    O_PRIORITY,
    O_DUE,
    O_NOTE,
    O_OVERRIDE,
    O_APPROVED,
    O_STATUS,
    O_OVERDUE,
    O_DIRECTION,
    O_OUTCOME,
    O_REF,
    O_DATE,
    O_CONFIRM_FULL, // issue 18: refer to a service signalled full
    O_DRAFT,        // issue 16: refer from a FHIR import's draft
    O_COUNT
};

// Parsed options of one command.
typedef struct {
    json_t *args;    // control request args
    bool stdin_json; // --stdin
    const char *pos; // the one positional argument, if any
    int npos;        // positional arguments seen
} s_opts_t;

// Whether 'v' is a comma-separated list of reintegration needs (the three
// dimensions of DESIGN.md §6), at least one.
static bool
s_needs_ok(const char *v)
{
    static const char *const dims[] = {"economic", "social", "psychosocial"};
    if (!*v)
        return false;
    for (const char *p = v; p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t) (c - p) : strlen(p);
        bool ok = false;
        for (size_t i = 0; i < 3; i++)
            ok = ok || (strlen(dims[i]) == n && !strncmp(dims[i], p, n));
        if (!ok)
            return false;
        p = c ? c + 1 : NULL;
    }
    return true;
}

// Checks of the values the daemon would refuse anyway, so that a typo is
// a usage error (exit 2) even when the node is not running: NULL when 'v'
// is fine, else what is expected.
static const char *
s_status_check(const char *v)
{
    pl_referral_state_t st;
    return pl_referral_state_parse(v, &st) == PL_OK
               ? NULL
               : "a FHIR status: requested, received, accepted, "
                 "rejected, in-progress, on-hold, completed, cancelled";
}

static const char *
s_priority_check(const char *v)
{
    pl_referral_priority_t pr;
    return pl_referral_priority_parse(v, &pr) == PL_OK
               ? NULL
               : "emergency, urgent or normal";
}

static const char *
s_outcome_check(const char *v)
{
    pl_referral_outcome_t oc;
    return pl_referral_outcome_parse(v, &oc) == PL_OK
               ? NULL
               : "successful or not-successful";
}

static const char *
s_giver_check(const char *v)
{
    pl_consent_giver_t gv;
    return pl_consent_giver_parse(v, &gv) == PL_OK ? NULL
                                                   : "returnee or guardian";
}

static const char *
s_uasc_check(const char *v)
{
    pl_uasc_t ua;
    return pl_uasc_parse(v, &ua) == PL_OK ? NULL : "unaccompanied or separated";
}

static const char *
s_needs_check(const char *v)
{
    return s_needs_ok(v) ? NULL
                         : "a comma-separated list of economic, social, "
                           "psychosocial";
}

static const char *const s_directions[] = {"in", "out", NULL};

#define S_TEXT(name, key)                                                      \
    {                                                                          \
        name, CLI_OPT_TEXT, key, 0, 0, NULL, NULL, NULL                        \
    }
#define S_DATE(name, key)                                                      \
    {                                                                          \
        name, CLI_OPT_DATE, key, 0, 0, NULL, NULL, NULL                        \
    }
#define S_CHECK(name, key, fn)                                                 \
    {                                                                          \
        name, CLI_OPT_TEXT, key, 0, 0, NULL, fn, NULL                          \
    }

// Every option of this file, by O_ row; each command lists those it takes.
static const cli_opt_t s_table[O_COUNT] = {
    [O_GIVEN] = S_TEXT("given", "given"),
    [O_FAMILY] = S_TEXT("family", "family"),
    [O_BIRTH] = S_DATE("birth", "birth"),
    [O_SEX] = S_TEXT("sex", "sex"),
    [O_PHONE] = S_TEXT("phone", "phone"),
    [O_LANGUAGE] = S_TEXT("language", "language"),
    [O_UASC] = S_CHECK("uasc", "uasc", s_uasc_check),
    [O_NEEDS] = S_CHECK("needs", "needs", s_needs_check),
    [O_FLAGS] = S_TEXT("flags", "flags"),
    [O_STDIN] = {"stdin", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
    [O_SEARCH] = S_TEXT("search", "search"),
    [O_REASON] = S_TEXT("reason", "reason"),
    [O_CASE] = S_TEXT("case", "case"),
    [O_SECTORS] = S_TEXT("sectors", "sectors"),
    [O_PURPOSE] = S_TEXT("purpose", "purpose"),
    [O_GIVEN_BY] = S_CHECK("given-by", "given_by", s_giver_check),
    [O_GUARDIAN] = S_TEXT("guardian-name", "guardian_name"),
    [O_VIEWS] = S_TEXT("child-views", "child_views"),
    [O_EXPIRES] = S_DATE("expires", "expires"),
    [O_TO] = S_TEXT("to", "to"),
    [O_SERVICE] = S_TEXT("service", "service"),
    [O_PRIORITY] = S_CHECK("priority", "priority", s_priority_check),
    [O_DUE] = S_DATE("due", "due"),
    [O_NOTE] = S_TEXT("note", "note"),
    [O_OVERRIDE] = S_TEXT("override-justification", "override_justification"),
    [O_APPROVED] = S_TEXT("approved-by", "approved_by"),
    [O_STATUS] = S_CHECK("status", "status", s_status_check),
    [O_OVERDUE] = {"overdue", CLI_OPT_FLAG, "overdue", 0, 0, NULL, NULL, NULL},
    [O_DIRECTION] = {"direction", CLI_OPT_ENUM, "direction", 0, 0, s_directions,
                     NULL, "in or out"},
    [O_OUTCOME] = S_CHECK("outcome", "outcome", s_outcome_check),
    [O_REF] = S_TEXT("ref", "ref"),
    [O_DATE] = S_DATE("date", "date"),
    [O_CONFIRM_FULL] = {"confirm-full", CLI_OPT_FLAG, "confirm_full", 0, 0,
                        NULL, NULL, NULL},
    [O_DRAFT] = S_TEXT("draft", "draft"),
};

// Parses argv with the options listed in 'allowed' (O_END-ended) into
// o->args (cli_opts). Returns -1 to go on, else the exit code (help
// printed: 0).
static int
s_parse(cli_t *cli, const char *cmd, const char *help, const int *allowed,
        int argc, char **argv, s_opts_t *o)
{
    memset(o, 0, sizeof *o);
    cli_opts_t p;
    int rc = cli_opts_parse(cli, cmd, s_table, O_COUNT, allowed, help, 0, argc,
                            argv, &p);
    o->args = p.args;
    o->stdin_json = p.val[O_STDIN].given;
    o->npos = p.noperands;
    o->pos = p.noperands ? p.operands[0] : NULL;
    return rc;
}

// The option that fills args key 'key' (NULL if none).
static const cli_opt_t *
s_row_of(const char *key)
{
    for (size_t i = 0; i < O_COUNT; i++)
        if (s_table[i].key && !strcmp(s_table[i].key, key))
            return &s_table[i];
    return NULL;
}

// With --stdin: reads the JSON object on standard input (cli_stdin) and
// adds its fields to o->args. 'keys' (NULL-ended; NULL: this command
// takes no --stdin) are those the command takes. A key also given on the
// command line, an unknown key, a bad value or a document over 64 KiB is a
// usage error. Returns -1 to go on, else the exit code.
static int
s_stdin(cli_t *cli, const char *cmd, s_opts_t *o, const char *const *keys)
{
    if (!o->stdin_json)
        return -1;
    if (!keys)
        return cli_usage_error(cmd, "--stdin does not apply here");
    static const char *const lists[] = {"needs", "flags", NULL};
    // every document may also carry "as", the staff member acting (a
    // person's name too)
    const char *all[24];
    size_t na = 0;
    while (keys[na] && na < 22) {
        all[na] = keys[na];
        na++;
    }
    all[na++] = "as";
    all[na] = NULL;
    keys = all;
    char err[768];
    char *text = NULL;
    size_t len = 0;
    json_t *in = NULL;
    if (cli_stdin_read(0, &text, &len, err, sizeof err) != 0
        || cli_stdin_parse(text, len, keys, lists, &in, err, sizeof err) != 0) {
        if (text)
            pl_wipe(text, len);
        free(text);
        return cli_usage_error(cmd, "%s", err);
    }
    pl_wipe(text, len); // personal data: wipe the raw copy
    free(text);
    json_t *jas = json_object_get(in, "as");
    if (jas && (cli->as || json_string_length(jas) > 200)) {
        json_decref(in);
        return cli_usage_error(cmd, cli->as ? "\"as\" is given both as --as "
                                              "and in --stdin"
                                            : "\"as\" is longer than 200 "
                                              "bytes");
    }
    if (jas) {
        static char as_buf[201]; // lives until the process ends
        snprintf(as_buf, sizeof as_buf, "%s", json_string_value(jas));
        cli->as = as_buf;
        json_object_del(in, "as");
    }
    const char *k;
    json_t *v;
    int rc = -1;
    json_object_foreach(in, k, v)
    {
        if (json_object_get(o->args, k)) {
            rc = cli_usage_error(cmd,
                                 "\"%s\" is given both on the command line "
                                 "and in --stdin",
                                 k);
            break;
        }
        const cli_opt_t *row = s_row_of(k);
        const char *want = json_is_string(v) && row
                               ? cli_opt_check(row, json_string_value(v), NULL)
                               : NULL;
        if (want) {
            rc = cli_usage_error(cmd, "--stdin: \"%s\": expected %s", k, want);
            break;
        }
        if (!strcmp(k, "needs") && json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(
                v, i, e) if (rc < 0 && !s_needs_ok(json_string_value(e))) rc =
                cli_usage_error(cmd, "--stdin: \"needs\": expected economic, "
                                     "social or psychosocial");
            if (rc >= 0)
                break;
        }
        json_object_set(o->args, k, v);
    }
    json_decref(in);
    return rc;
}

static const char *
s_s(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : "-";
}

// Prints {"id": ...} (--json) or the id alone.
static int
s_print_id(cli_t *cli, json_t *res)
{
    if (cli->json) {
        json_t *doc = json_pack("{s:O}", "id", json_object_get(res, "id"));
        json_decref(res);
        return cli_print_json(doc);
    }
    printf("%s\n", s_s(res, "id"));
    json_decref(res);
    return 0;
}

static void
s_free(s_opts_t *o)
{
    json_decref(o->args);
    o->args = NULL;
}

// ---- case

static const char s_case_help[] =
    "usage: passerelle --home DIR case add --given G --family F --birth "
    "YYYY-MM-DD\n"
    "           [--sex S] [--phone P] [--language L] "
    "[--uasc unaccompanied|separated]\n"
    "           [--needs economic,social,psychosocial] [--flags a,b] "
    "[--stdin] [--json]\n"
    "       passerelle --home DIR case show CASE [--json]\n"
    "       passerelle --home DIR case list [--search TEXT] [--stdin] "
    "[--json]\n"
    "       passerelle --home DIR case close CASE --reason CODE\n"
    "       passerelle --home DIR case bia --case CASE --ref REF --date "
    "YYYY-MM-DD\n"
    "\n"
    "Cases hold a returnee's personal data, encrypted under the case's own\n"
    "key in this node's store. 'case add' prints the new case's random id.\n"
    "With --stdin the fields come as one JSON object on stdin (keys given,\n"
    "family, birth, sex, phone, language, uasc, needs, flags), so personal\n"
    "data never shows in 'ps'. Every subcommand with text takes --stdin:\n"
    "  case add    given, family, birth, sex, phone, language, uasc, needs,\n"
    "              flags (needs and flags: \"a,b\" or [\"a\", \"b\"])\n"
    "  case list   search\n"
    "  case close  reason\n"
    "  case bia    case, ref, date\n"
    "Values are strings; an unknown key, a key also given as an option, or\n"
    "a document over 64 KiB is refused; every document may also carry \"as\"\n"
    "(the staff member acting) instead of --as. 'case list --search'\n"
    "matches given and family names inside the daemon (nothing searchable\n"
    "is stored in clear).\n"
    "'case close' is refused while the case has open referrals. 'case bia'\n"
    "records a best-interests assessment (reference and date), required to\n"
    "refer an unaccompanied or separated child. CASE is the id or a unique\n"
    "prefix of it (at least 6 hex digits).\n";

static int
s_case_add(cli_t *cli, s_opts_t *o)
{
    if (o->npos)
        return cli_usage_error("case add", "unexpected argument '%s'", o->pos);
    static const char *const need[] = {"given", "family", "birth"};
    for (size_t i = 0; i < 3; i++)
        if (!json_is_string(json_object_get(o->args, need[i])))
            return cli_usage_error("case add", "--%s is required", need[i]);
    json_t *res = NULL;
    int rc = cli_node_call(cli, "case add", "case.add", o->args, &res);
    return rc >= 0 ? rc : s_print_id(cli, res);
}

static void
s_print_case(json_t *c)
{
    printf("case %s (%s)\n", s_s(c, "id"), s_s(c, "status"));
    if (!strcmp(s_s(c, "status"), "erased")) {
        printf("  erased    %s by %s\n", s_s(c, "erased"), s_s(c, "erased_by"));
        printf("  (its key was destroyed: nothing of it can be read any more)"
               "\n");
        return;
    }
    printf("  name      %s %s\n", s_s(c, "given"), s_s(c, "family"));
    printf("  birth     %s   sex %s   language %s\n", s_s(c, "birth"),
           s_s(c, "sex"), s_s(c, "language"));
    printf("  phone     %s\n", s_s(c, "phone"));
    if (json_object_get(c, "uasc"))
        printf("  uasc      %s\n", s_s(c, "uasc"));
    printf("  created   %s by %s\n", s_s(c, "created"), s_s(c, "by"));
    if (json_object_get(c, "closed"))
        printf("  closed    %s (%s) by %s\n", s_s(c, "closed"),
               s_s(c, "close_reason"), s_s(c, "closed_by"));
    json_t *bia = json_object_get(c, "bia");
    if (bia)
        printf("  bia       %s of %.10s\n", s_s(bia, "ref"), s_s(bia, "date"));
    size_t i;
    json_t *e;
    printf("consents:\n");
    json_array_foreach(json_object_get(c, "consents"), i, e)
    {
        char *sect = json_dumps(json_object_get(e, "sectors"), JSON_COMPACT);
        printf(
            "  %.12s given by %s%s%s, sectors %s, expires %s%s\n", s_s(e, "id"),
            s_s(e, "given_by"), json_object_get(e, "guardian_name") ? " " : "",
            json_object_get(e, "guardian_name") ? s_s(e, "guardian_name") : "",
            sect ? sect : "?", s_s(e, "expires"),
            json_is_true(json_object_get(e, "valid")) ? "" : " (not valid)");
        free(sect);
    }
    if (!json_array_size(json_object_get(c, "consents")))
        printf("  (none)\n");
    printf("referrals:\n");
    json_array_foreach(json_object_get(c, "referrals"), i, e)
        printf("  %.12s  %-12s to %-20s %s\n", s_s(e, "id"), s_s(e, "status"),
               s_s(e, "peer"), s_s(e, "service"));
    if (!json_array_size(json_object_get(c, "referrals")))
        printf("  (none)\n");
    json_array_foreach(json_object_get(c, "withdrawals"), i, e)
    {
        printf("consent withdrawn %s by %s; erasure at the holders:\n",
               s_s(e, "at"), s_s(e, "by"));
        const char *k;
        json_t *h;
        json_object_foreach(json_object_get(e, "holders"), k, h)
        {
            if (!strcmp(s_s(h, "status"), "confirmed"))
                printf("  %-28s confirmed %s\n", k, s_s(h, "confirmed"));
            else
                printf("  %-28s pending\n", k);
        }
    }
}

int
cli_cmd_case(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_GIVEN, O_FAMILY,   O_BIRTH,  O_SEX,
                                  O_PHONE, O_LANGUAGE, O_UASC,   O_NEEDS,
                                  O_FLAGS, O_STDIN,    O_SEARCH, O_REASON,
                                  O_CASE,  O_REF,      O_DATE,   O_END};
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2
            && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(s_case_help, stdout);
            return 0;
        }
        return cli_usage_error("case",
                               "which one: add, show, list, close, bia?");
    }
    const char *sub = argv[1];
    char name[32];
    snprintf(name, sizeof name, "case %s", sub);
    static const char *const add_keys[] = {
        "given",    "family", "birth", "sex",   "phone",
        "language", "uasc",   "needs", "flags", NULL};
    static const char *const list_keys[] = {"search", NULL};
    static const char *const close_keys[] = {"reason", NULL};
    static const char *const bia_keys[] = {"case", "ref", "date", NULL};
    const char *const *keys = !strcmp(sub, "add")     ? add_keys
                              : !strcmp(sub, "list")  ? list_keys
                              : !strcmp(sub, "close") ? close_keys
                              : !strcmp(sub, "bia")   ? bia_keys
                                                      : NULL;
    s_opts_t o;
    int rc = s_parse(cli, name, s_case_help, allowed, argc - 1, argv + 1, &o);
    if (rc < 0)
        rc = s_stdin(cli, name, &o, keys);
    if (rc >= 0) {
        s_free(&o);
        return rc;
    }
    json_t *res = NULL;
    if (!strcmp(sub, "add")) {
        rc = s_case_add(cli, &o);
    } else if (!strcmp(sub, "show") || !strcmp(sub, "close")) {
        if (o.npos != 1) {
            s_free(&o);
            return cli_usage_error(name, "give one CASE id");
        }
        json_object_set_new(o.args, "id", json_string(o.pos));
        bool show = !strcmp(sub, "show");
        if (!show && !json_object_get(o.args, "reason")) {
            s_free(&o);
            return cli_usage_error(name, "--reason CODE is required");
        }
        rc = cli_node_call(cli, name, show ? "case.show" : "case.close", o.args,
                           &res);
        if (rc < 0 && show && !cli->json) {
            s_print_case(res);
            json_decref(res);
            rc = 0;
        } else if (rc < 0 && (show || cli->json)) {
            rc = cli_print_json(res);
        } else if (rc < 0) {
            printf("case %s closed\n", s_s(res, "id"));
            json_decref(res);
            rc = 0;
        }
    } else if (!strcmp(sub, "list")) {
        rc = cli_node_call(cli, name, "case.list", o.args, &res);
        if (rc < 0 && cli->json) {
            rc = cli_print_json(res);
        } else if (rc < 0) {
            size_t i;
            json_t *e;
            printf("%-32s %-7s %-10s %s\n", "CASE", "STATUS", "BIRTH", "NAME");
            json_array_foreach(res, i, e) printf(
                "%-32s %-7s %-10s %s %s\n", s_s(e, "id"), s_s(e, "status"),
                s_s(e, "birth"), s_s(e, "given"), s_s(e, "family"));
            json_decref(res);
            rc = 0;
        }
    } else if (!strcmp(sub, "bia")) {
        static const char *const need[] = {"case", "ref", "date"};
        for (size_t i = 0; i < 3 && rc < 0; i++)
            if (!json_object_get(o.args, need[i]))
                rc = cli_usage_error(name, "--%s is required", need[i]);
        if (rc < 0)
            rc = cli_node_call(cli, name, "case.bia", o.args, &res);
        if (rc < 0 && cli->json) {
            rc = cli_print_json(res);
        } else if (rc < 0) {
            printf("best-interests assessment recorded for case %s\n",
                   s_s(res, "id"));
            json_decref(res);
            rc = 0;
        }
    } else {
        rc = cli_usage_error("case", "unknown subcommand '%s'", sub);
    }
    s_free(&o);
    return rc;
}

// ---- consent

static const char s_consent_help[] =
    "usage: passerelle --home DIR consent add --case CASE --sectors "
    "health,housing\n"
    "           [--purpose services] --given-by returnee|guardian\n"
    "           [--guardian-name N] [--child-views T] --expires YYYY-MM-DD "
    "[--stdin] [--json]\n"
    "       passerelle --home DIR consent withdraw --case CASE\n"
    "\n"
    "Records the returnee's (or, for a child, the guardian's) consent to\n"
    "share the case with the listed sectors for a purpose (default\n"
    "services), valid through the expiry day. A referral is refused unless\n"
    "a valid consent covers the recipient's sector. The record is stored\n"
    "encrypted under the case key. 'withdraw' marks every consent of the\n"
    "case withdrawn (new referrals are refused from then on), cancels the\n"
    "open referrals made under consent (reason consent-withdrawn) and asks\n"
    "every node that received the case's data to erase it; 'case show'\n"
    "lists which of them confirmed and which are pending.\n"
    "With --stdin the options come as one JSON object on stdin, so that a\n"
    "guardian's name or a child's views never show in 'ps': keys case,\n"
    "sectors, purpose, given_by, guardian_name, child_views, expires (for\n"
    "withdraw: case). Values are strings; an unknown key, a key also given\n"
    "as an option, or a document over 64 KiB is refused; \"as\" (the staff\n"
    "member acting) may come this way too, instead of --as.\n";

int
cli_cmd_consent(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_CASE,     O_SECTORS,  O_PURPOSE,
                                  O_GIVEN_BY, O_GUARDIAN, O_VIEWS,
                                  O_EXPIRES,  O_STDIN,    O_END};
    static const char *const add_keys[] = {
        "case",          "sectors",     "purpose", "given_by",
        "guardian_name", "child_views", "expires", NULL};
    static const char *const withdraw_keys[] = {"case", NULL};
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2
            && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(s_consent_help, stdout);
            return 0;
        }
        return cli_usage_error("consent", "which one: add or withdraw?");
    }
    const char *sub = argv[1];
    char name[32];
    snprintf(name, sizeof name, "consent %s", sub);
    s_opts_t o;
    int rc =
        s_parse(cli, name, s_consent_help, allowed, argc - 1, argv + 1, &o);
    if (rc < 0)
        rc = s_stdin(cli, name, &o,
                     !strcmp(sub, "add")        ? add_keys
                     : !strcmp(sub, "withdraw") ? withdraw_keys
                                                : NULL);
    if (rc >= 0) {
        s_free(&o);
        return rc;
    }
    json_t *res = NULL;
    if (!json_object_get(o.args, "case")) {
        rc = cli_usage_error(name, "--case CASE is required");
    } else if (!strcmp(sub, "add")) {
        static const char *const need[] = {"sectors", "given_by", "expires"};
        static const char *const flag[] = {"--sectors", "--given-by",
                                           "--expires"};
        for (size_t i = 0; i < 3 && rc < 0; i++)
            if (!json_object_get(o.args, need[i]))
                rc = cli_usage_error(name, "%s is required", flag[i]);
        if (rc < 0)
            rc = cli_node_call(cli, name, "consent.add", o.args, &res);
        if (rc < 0)
            rc = s_print_id(cli, res);
    } else if (!strcmp(sub, "withdraw")) {
        rc = cli_node_call(cli, name, "consent.withdraw", o.args, &res);
        if (rc < 0 && cli->json) {
            rc = cli_print_json(res);
        } else if (rc < 0) {
            printf("%lld consent record(s) withdrawn, %lld referral(s) "
                   "cancelled, erasure asked of %zu node(s)\n",
                   (long long) json_integer_value(
                       json_object_get(res, "withdrawn")),
                   (long long) json_integer_value(
                       json_object_get(res, "cancelled")),
                   json_array_size(json_object_get(res, "holders")));
            json_decref(res);
            rc = 0;
        }
    } else {
        rc = cli_usage_error("consent", "unknown subcommand '%s'", sub);
    }
    s_free(&o);
    return rc;
}

// ---- refer

static const char s_refer_help[] =
    "usage: passerelle --home DIR [--as NAME] refer --case CASE --to ADDRESS "
    "--service CODE\n"
    "           [--purpose services] [--priority emergency|urgent|normal] "
    "[--due YYYY-MM-DD]\n"
    "           [--note T] [--override-justification T --approved-by NAME] "
    "[--confirm-full] [--stdin] [--json]\n"
    "       passerelle --home DIR [--as NAME] refer --case CASE --draft D "
    "[the options above]\n"
    "\n"
    "Refers the case to another node (ADDRESS is network/name, or name in\n"
    "this network). The consent gate runs first: unless a valid consent of\n"
    "the case covers the recipient's sector, the purpose and the data the\n"
    "sector receives, the referral is refused before anything is encrypted\n"
    "(an override needs both --override-justification and --approved-by,\n"
    "and is audited). Only the sector table's personal fields travel, under\n"
    "a referral-scoped pseudonym:\n"
    "  every service sector   given, family, birth, sex, language\n"
    "  health, mhpss, housing, child-protection, gbv   + phone\n"
    "  coordination           nothing identifying\n"
    "Prints the referral id as soon as the referral is committed to the\n"
    "outbox (it never waits for the broker). Priority windows for the next\n"
    "step: emergency 24 h, urgent 72 h, normal 14 days (or --due).\n"
    "A service its provider signalled full (passerelle service capacity) is\n"
    "refused with a warning unless --confirm-full is given.\n"
    "--draft D refers from the case's draft D (fhir import): its recipient,\n"
    "service, purpose, priority, due date and note, unless given here; a\n"
    "draft is referred once.\n"
    "With --stdin the options come as one JSON object on stdin, so that a\n"
    "note or a justification never shows in 'ps': keys case, to, service,\n"
    "purpose, priority, due, note, override_justification, approved_by,\n"
    "draft.\n"
    "Values are strings; an unknown key, a key also given as an option, or\n"
    "a document over 64 KiB is refused; \"as\" (the staff member acting)\n"
    "may come this way too, instead of --as.\n";

int
cli_cmd_refer(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {
        O_CASE,         O_TO,    O_SERVICE,  O_PURPOSE,  O_PRIORITY,
        O_DUE,          O_NOTE,  O_OVERRIDE, O_APPROVED, O_STDIN,
        O_CONFIRM_FULL, O_DRAFT, O_END};
    static const char *const keys[] = {
        "case",        "to",    "service", "purpose",
        "priority",    "due",   "note",    "override_justification",
        "approved_by", "draft", NULL};
    s_opts_t o;
    int rc = s_parse(cli, "refer", s_refer_help, allowed, argc, argv, &o);
    if (rc < 0)
        rc = s_stdin(cli, "refer", &o, keys);
    if (rc < 0 && o.npos)
        rc = cli_usage_error("refer", "unexpected argument '%s'", o.pos);
    static const char *const need[] = {"case", "to", "service"};
    size_t nneed = json_object_get(o.args, "draft") ? 1 : 3; // the draft's
    for (size_t i = 0; i < nneed && rc < 0; i++)
        if (!json_object_get(o.args, need[i]))
            rc = cli_usage_error("refer", "--%s is required", need[i]);
    if (rc < 0
        && (!json_object_get(o.args, "override_justification"))
               != (!json_object_get(o.args, "approved_by")))
        rc = cli_error("refer", "consent: an override needs both "
                                "--override-justification and --approved-by");
    json_t *res = NULL;
    if (rc < 0)
        rc = cli_node_call(cli, "refer", "refer", o.args, &res);
    if (rc < 0)
        rc = s_print_id(cli, res);
    s_free(&o);
    return rc;
}

// ---- referrals, show

static const char s_referrals_help[] =
    "usage: passerelle --home DIR referrals [--status S] [--overdue] "
    "[--direction in|out] [--json]\n"
    "\n"
    "Lists the referrals this node sent (out) and received (in), with their\n"
    "status as a FHIR Task.status code (requested, received, accepted,\n"
    "rejected, in-progress, on-hold, completed, cancelled). A referral is\n"
    "overdue when its next step is late for its priority (24 h / 72 h /\n"
    "14 days) or its due date.\n"
    "  --json   an array of {id, status, overdue, direction, peer, priority,\n"
    "           created, updated, service, sector, ...}\n";

int
cli_cmd_referrals(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_STATUS, O_OVERDUE, O_DIRECTION, O_END};
    s_opts_t o;
    int rc =
        s_parse(cli, "referrals", s_referrals_help, allowed, argc, argv, &o);
    if (rc < 0 && o.npos)
        rc = cli_usage_error("referrals", "unexpected argument '%s'", o.pos);
    json_t *res = NULL;
    if (rc < 0)
        rc = cli_node_call(cli, "referrals", "referrals", o.args, &res);
    s_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("%-32s %-12s %-3s %-20s %-9s %-20s %s\n", "REFERRAL", "STATUS",
           "DIR", "PEER", "PRIORITY", "UPDATED", "SERVICE");
    size_t i;
    json_t *e;
    json_array_foreach(res, i, e)
    {
        printf("%-32s %-12s %-3s %-20s %-9s %-20s %s%s", s_s(e, "id"),
               s_s(e, "status"), s_s(e, "direction"), s_s(e, "peer"),
               s_s(e, "priority"), s_s(e, "updated"), s_s(e, "service"),
               json_is_true(json_object_get(e, "overdue")) ? "  OVERDUE" : "");
        if (json_object_get(e, "delivery")) // its envelope will never arrive
            printf("  UNDELIVERED (%s: %s)", s_s(e, "delivery"),
                   s_s(e, "delivery_reason"));
        printf("\n");
    }
    if (!json_array_size(res))
        printf("(no referrals)\n");
    json_decref(res);
    return 0;
}

static const char s_show_help[] =
    "usage: passerelle --home DIR show REFERRAL [--json] [--fhir]\n"
    "\n"
    "One referral: its status (FHIR code), whether it is overdue, the\n"
    "person as far as this node may see them (the sector table's fields),\n"
    "the service and the history of every status with when and by whom.\n"
    "A referral whose envelope will never arrive (refused for good by the\n"
    "recipient's node, or expired at the broker) says so (delivery).\n"
    "REFERRAL is the id or a unique prefix (at least 6 hex digits).\n"
    "  --fhir   a FHIR R4 Bundle: ServiceRequest, Task, Patient (the\n"
    "           sector's fields only), Organizations (docs/fhir-hsds.md)\n";

int
cli_cmd_show(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_END};
    // --fhir (issue 16): the referral as a FHIR R4 Bundle (cmd_fhir.c)
    char *av[64];
    int ac = 0;
    bool fhir = false;
    for (int i = 0; i < argc && ac < 63; i++)
        if (i && !strcmp(argv[i], "--fhir"))
            fhir = true;
        else
            av[ac++] = argv[i];
    av[ac] = NULL;
    s_opts_t o;
    int rc = s_parse(cli, "show", s_show_help, allowed, ac, av, &o);
    if (rc < 0 && o.npos != 1)
        rc = cli_usage_error("show", "give one REFERRAL id");
    json_t *res = NULL;
    if (rc < 0 && fhir) {
        rc = cli_show_fhir(cli, o.pos);
    } else if (rc < 0) {
        json_object_set_new(o.args, "id", json_string(o.pos));
        rc = cli_node_call(cli, "show", "referral.show", o.args, &res);
    }
    s_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    bool out = !strcmp(s_s(res, "direction"), "out");
    printf("referral %s  %s%s\n", s_s(res, "id"), s_s(res, "status"),
           json_is_true(json_object_get(res, "overdue")) ? "  (OVERDUE)" : "");
    printf("  %s %s   service %s (%s)   priority %s\n", out ? "to  " : "from",
           s_s(res, "peer"), s_s(res, "service"), s_s(res, "sector"),
           s_s(res, "priority"));
    json_t *p = json_object_get(res, "person");
    printf("  person    %s %s (%s), born %s, sex %s, language %s, phone %s\n",
           s_s(p, "given"), s_s(p, "family"), s_s(res, "pseudonym"),
           s_s(p, "birth"), s_s(p, "sex"), s_s(p, "language"), s_s(p, "phone"));
    if (json_object_get(res, "note"))
        printf("  note      %s\n", s_s(res, "note"));
    printf("  created   %s   updated %s\n", s_s(res, "created"),
           s_s(res, "updated"));
    if (json_object_get(res, "delivery"))
        printf("  delivery  NEVER DELIVERED: %s (%s); refer again or call the "
               "recipient\n",
               s_s(res, "delivery"), s_s(res, "delivery_reason"));
    printf("history:\n");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "history"), i, e)
    {
        printf("  %-20s %-12s by %s", s_s(e, "at"), s_s(e, "status"),
               s_s(e, "by"));
        if (json_object_get(e, "outcome"))
            printf("  outcome %s", s_s(e, "outcome"));
        if (json_object_get(e, "reason"))
            printf("  reason %s", s_s(e, "reason"));
        if (json_object_get(e, "result"))
            printf("  (%s)", s_s(e, "result"));
        if (json_object_get(e, "note"))
            printf("  \"%s\"", s_s(e, "note"));
        printf("\n");
    }
    json_decref(res);
    return 0;
}

// ---- accept | start | resume | hold | reject | cancel | complete

static const char s_act_help[] =
    "usage: passerelle --home DIR [--as NAME] accept|start|resume REFERRAL "
    "[--note T] [--stdin]\n"
    "       passerelle --home DIR [--as NAME] hold|reject|cancel REFERRAL "
    "--reason CODE [--note T] [--stdin]\n"
    "       passerelle --home DIR [--as NAME] complete REFERRAL --outcome "
    "successful|not-successful\n"
    "           [--reason CODE] [--note T]\n"
    "\n"
    "Moves a referral along its lifecycle (FHIR Task.status):\n"
    "  recipient: received -> accepted | rejected;  accepted -> in-progress\n"
    "             (start);  in-progress <-> on-hold (hold, resume);\n"
    "             accepted | in-progress -> completed\n"
    "  sender:    any open status -> cancelled\n"
    "Terminal states (rejected, completed, cancelled) never reopen. Each\n"
    "step is a signed envelope to the other node and an audit entry on\n"
    "both sides; the wrong side or the wrong state is refused.\n"
    "With --stdin the options come as one JSON object on stdin, so that a\n"
    "note never shows in 'ps': keys reason, note, outcome (REFERRAL stays\n"
    "an argument). Values are strings; an unknown key, a key also given as\n"
    "an option, or a document over 64 KiB is refused; \"as\" (the staff\n"
    "member acting) may come this way too, instead of --as.\n";

int
cli_cmd_act(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_REASON, O_NOTE, O_OUTCOME, O_STDIN, O_END};
    static const char *const keys[] = {"reason", "note", "outcome", NULL};
    const char *ev = argv[0];
    s_opts_t o;
    int rc = s_parse(cli, ev, s_act_help, allowed, argc, argv, &o);
    if (rc < 0)
        rc = s_stdin(cli, ev, &o, keys);
    bool needs_reason =
        !strcmp(ev, "hold") || !strcmp(ev, "reject") || !strcmp(ev, "cancel");
    if (rc < 0 && o.npos != 1)
        rc = cli_usage_error(ev, "give one REFERRAL id");
    if (rc < 0 && needs_reason && !json_object_get(o.args, "reason"))
        rc = cli_usage_error(ev, "--reason CODE is required");
    if (rc < 0 && !strcmp(ev, "complete")
        && !json_object_get(o.args, "outcome"))
        rc = cli_usage_error(ev, "--outcome successful|not-successful is "
                                 "required");
    if (rc < 0 && strcmp(ev, "complete") && json_object_get(o.args, "outcome"))
        rc = cli_usage_error(ev, "only complete takes --outcome");
    json_t *res = NULL;
    if (rc < 0) {
        json_object_set_new(o.args, "id", json_string(o.pos));
        json_object_set_new(o.args, "event", json_string(ev));
        rc = cli_node_call(cli, ev, "referral.act", o.args, &res);
    }
    s_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("referral %s: %s\n", s_s(res, "id"), s_s(res, "status"));
    json_decref(res);
    return 0;
}

// ---- erase, notifications (issue 8)

static const char s_erase_help[] =
    "usage: passerelle --home DIR erase --case CASE\n"
    "\n"
    "Erases a case: destroys its key (crypto-shredding: every copy of its\n"
    "records, in old store pages and in backups, becomes unreadable),\n"
    "removes its records, consents and referral records, and commits with\n"
    "an fsync. Refused while the case has open referrals (cancel them or\n"
    "wait until they are completed). The audit chain keeps its entries and\n"
    "still verifies; 'case show CASE' then says when and by whom the case\n"
    "was erased.\n";

int
cli_cmd_erase(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_CASE, O_END};
    s_opts_t o;
    int rc = s_parse(cli, "erase", s_erase_help, allowed, argc, argv, &o);
    json_t *res = NULL;
    if (rc < 0 && o.npos)
        rc = cli_usage_error("erase", "unexpected argument '%s'", o.pos);
    if (rc < 0 && !json_object_get(o.args, "case"))
        rc = cli_usage_error("erase", "--case CASE is required");
    if (rc < 0)
        rc = cli_node_call(cli, "erase", "erase", o.args, &res);
    if (rc < 0 && cli->json) {
        rc = cli_print_json(res);
    } else if (rc < 0) {
        printf(
            "case %s erased (%lld referral record(s) removed)\n",
            s_s(res, "id"),
            (long long) json_integer_value(json_object_get(res, "referrals")));
        json_decref(res);
        rc = 0;
    }
    s_free(&o);
    return rc;
}

static const char s_notif_help[] =
    "usage: passerelle --home DIR notifications [--json]\n"
    "\n"
    "Child-protection notifications received by this node: one per referral\n"
    "of an unaccompanied or separated child made by a node of its region.\n"
    "Each gives the kind (unaccompanied or separated), the sending node,\n"
    "the sender's referral id, the region and the time; no name or birth\n"
    "date (ask the sending node, quoting the referral id).\n";

int
cli_cmd_notifications(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_END};
    s_opts_t o;
    int rc =
        s_parse(cli, "notifications", s_notif_help, allowed, argc, argv, &o);
    json_t *res = NULL;
    if (rc < 0 && o.npos)
        rc =
            cli_usage_error("notifications", "unexpected argument '%s'", o.pos);
    if (rc < 0)
        rc = cli_node_call(cli, "notifications", "notifications", o.args, &res);
    if (rc < 0 && cli->json) {
        rc = cli_print_json(res);
    } else if (rc < 0) {
        size_t i;
        json_t *e;
        printf("%-20s %-14s %-24s %-12s %s\n", "AT", "KIND", "FROM", "REGION",
               "REFERRAL");
        json_array_foreach(res, i, e)
            printf("%-20s %-14s %-24s %-12s %s\n", s_s(e, "at"), s_s(e, "kind"),
                   s_s(e, "from"), s_s(e, "region"), s_s(e, "referral"));
        if (!json_array_size(res))
            printf("(none)\n");
        json_decref(res);
        rc = 0;
    }
    s_free(&o);
    return rc;
}
