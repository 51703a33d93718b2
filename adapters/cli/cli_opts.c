// cli_opts - the one option parser of the CLI. Layer: adapters.
#include "adapters/cli/cli_opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_util.h"

// getopt_long values: row i of the table is S_ROW + i
enum { S_HOME = 1, S_JSON, S_HELP, S_ROW = 256 };

bool
cli_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!text || !isdigit((unsigned char) text[0]))
        return false; // no sign, no space, no empty string
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    if (out)
        *out = v;
    return true;
}

bool
cli_utf8_valid(const char *text)
{
    json_t *j = json_string(text); // jansson refuses invalid UTF-8
    json_decref(j);
    return j != NULL;
}

// The wording of a CLI_OPT_UINT range ("a number from 1", "a number from
// 1 to 3650"), in one of two static buffers (two calls may be in flight
// in one message).
static const char *
s_uint_want(const cli_opt_t *opt)
{
    static char buf[2][64];
    static int which;
    char *b = buf[which++ & 1];
    if (opt->max == UINT64_MAX)
        snprintf(b, sizeof buf[0], "a number from %llu",
                 (unsigned long long) opt->min);
    else
        snprintf(b, sizeof buf[0], "a number from %llu to %llu",
                 (unsigned long long) opt->min, (unsigned long long) opt->max);
    return b;
}

const char *
cli_opt_check(const cli_opt_t *opt, const char *value, uint64_t *num)
{
    uint64_t t;
    const char *bad = NULL;
    switch (opt->type) {
    case CLI_OPT_FLAG:
    case CLI_OPT_WORD:
    case CLI_OPT_TEXT:
        break;
    case CLI_OPT_UINT:
        if (!cli_parse_uint(value, opt->min, opt->max, num))
            bad = opt->want ? opt->want : s_uint_want(opt);
        break;
    case CLI_OPT_DATE:
        if (pl_date_parse(value, &t) != PL_OK)
            bad = "a date YYYY-MM-DD";
        break;
    case CLI_OPT_ENUM: {
        bool ok = false;
        for (const char *const *c = opt->choices; c && *c && !ok; c++)
            ok = strcmp(*c, value) == 0;
        if (!ok)
            bad = opt->want ? opt->want : "one of the listed values";
        break;
    }
    case CLI_OPT_ADDR:
        if (!pl_address_valid(value))
            bad = "a node address NETWORK/NODE";
        break;
    }
    if (!bad && opt->check)
        bad = opt->check(value);
    return bad;
}

// Reports what getopt_long (opterr = 0, option string starting with ':')
// refused: 'opt' is its return value, '?' or ':'. Returns 2.
static int
s_bad_option(const char *cmd, int opt, char **argv)
{
    // opterr is 0 and getopt_long has moved optind past the faulty word
    // (within a cluster of short options "-xy" it may not have: then the
    // character in optopt is the better name)
    const char *word = optind > 0 ? argv[optind - 1] : NULL;
    bool long_word = word && strncmp(word, "--", 2) == 0;
    if (opt == ':') {
        if (long_word || !optopt)
            return cli_usage_error(cmd, "option '%s' needs a value",
                                   word ? word : "?");
        return cli_usage_error(cmd, "option '-%c' needs a value", optopt);
    }
    if (!long_word && optopt)
        return cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return cli_usage_error(cmd, "unknown option '%s'", word ? word : "?");
}

// Whether row 'i' is one this command takes.
static bool
s_allowed(const int *allowed, size_t i)
{
    if (!allowed)
        return true;
    for (const int *a = allowed; *a >= 0; a++)
        if ((size_t) *a == i)
            return true;
    return false;
}

int
cli_opts_parse(cli_t *cli, const char *cmd, const cli_opt_t *table, size_t n,
               const int *allowed, const char *help, unsigned flags, int argc,
               char **argv, cli_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->args = json_object();
    if (!o->args)
        return cli_error(cmd, "out of memory");
    if (n > CLI_OPTS_MAX)
        return cli_error(cmd, "internal: option table too long");
    struct option lo[2 * CLI_OPTS_MAX + 4];
    char alias[CLI_OPTS_MAX][64]; // the first spelling of an "a|b" row
    size_t k = 0;
    lo[k++] = (struct option){"home", required_argument, NULL, S_HOME};
    lo[k++] = (struct option){"json", no_argument, NULL, S_JSON};
    lo[k++] = (struct option){"help", no_argument, NULL, S_HELP};
    for (size_t i = 0; i < n; i++) {
        int has =
            table[i].type == CLI_OPT_FLAG ? no_argument : required_argument;
        const char *bar = strchr(table[i].name, '|');
        const char *first = table[i].name;
        if (bar) {
            // same flag and val: getopt_long takes an abbreviation that
            // fits both as the one option
            snprintf(alias[i], sizeof alias[i], "%.*s",
                     (int) (bar - table[i].name), table[i].name);
            first = alias[i];
            lo[k++] = (struct option){bar + 1, has, NULL, S_ROW + (int) i};
        }
        lo[k++] = (struct option){first, has, NULL, S_ROW + (int) i};
    }
    lo[k] = (struct option){NULL, 0, NULL, 0};

    optind = 0; // full re-initialisation (GNU getopt)
    opterr = 0; // we word the errors ourselves
    const char *shorts = (flags & CLI_OPTS_STOP) ? "+:h" : ":h";
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == 'h' || c == S_HELP) {
            if (!help) {
                o->help = true;
                continue;
            }
            fputs(help, stdout);
            return 0;
        }
        if (c == S_HOME) {
            cli->home = optarg;
            continue;
        }
        if (c == S_JSON) {
            cli->json = true;
            continue;
        }
        if (c < S_ROW || c >= S_ROW + (int) n)
            return s_bad_option(cmd, c, argv);
        size_t i = (size_t) (c - S_ROW);
        const cli_opt_t *opt = &table[i];
        if (!s_allowed(allowed, i))
            return cli_usage_error(cmd, "option '%s' does not apply here",
                                   argv[optind - 1]);
        cli_optval_t *v = &o->val[i];
        v->given = true;
        if (opt->type == CLI_OPT_FLAG) {
            if (opt->key)
                json_object_set_new(o->args, opt->key, json_true());
            continue;
        }
        v->text = optarg;
        if ((opt->type != CLI_OPT_WORD || opt->key) && !cli_utf8_valid(optarg))
            return cli_usage_error(cmd, "invalid UTF-8 in --%.*s",
                                   (int) strcspn(opt->name, "|"), opt->name);
        const char *want = cli_opt_check(opt, optarg, &v->num);
        if (want)
            return cli_usage_error(cmd, "--%.*s '%s': expected %s",
                                   (int) strcspn(opt->name, "|"), opt->name,
                                   optarg, want);
        if (opt->key) {
            json_t *j = opt->type == CLI_OPT_UINT
                            ? json_integer((json_int_t) v->num)
                            : json_string(optarg);
            if (!j || json_object_set_new(o->args, opt->key, j) != 0)
                return cli_error(cmd, "out of memory");
        }
    }
    o->operands = argv + optind;
    o->noperands = argc - optind;
    if ((flags & CLI_OPTS_NO_OPERANDS) && o->noperands > 0)
        return cli_usage_error(cmd, "unexpected argument '%s'", o->operands[0]);
    return -1;
}

void
cli_opts_free(cli_opts_t *o)
{
    json_decref(o->args);
    o->args = NULL;
}

static bool
s_in(const char *const *words, const char *w)
{
    for (; *words; words++)
        if (!strcmp(*words, w))
            return true;
    return false;
}

int
cli_subcmd_parse(cli_t *cli, const cli_subcmd_t *s, int argc, char **argv,
                 const char **sub, char name[32], cli_opts_t *o)
{
    memset(o, 0, sizeof *o);
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2
            && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(s->help, stdout);
            return 0;
        }
        return cli_usage_error(s->cmd, "%s", s->usage);
    }
    *sub = argv[1];
    if (!s_in(s->subs, *sub))
        return cli_usage_error(s->cmd, "unknown subcommand '%s'", *sub);
    snprintf(name, 32, "%s %s", s->cmd, *sub);
    static const int none[] = {-1};
    bool with = !strcmp(*sub, s->with), named = strcmp(*sub, s->unnamed) != 0;
    int rc = cli_opts_parse(
        cli, name, s->table, s->n, with ? s->with_opts : none, s->help,
        named ? 0 : CLI_OPTS_NO_OPERANDS, argc - 1, argv + 1, o);
    if (rc < 0 && named && o->noperands != 1)
        rc = cli_usage_error(name, "give one %s NAME", s->what);
    if (rc < 0 && with && s->required >= 0 && !o->val[s->required].given)
        rc = cli_usage_error(name, "%s is required", s->required_as);
    if (rc >= 0) {
        cli_opts_free(o);
        return rc;
    }
    if (named)
        json_object_set_new(o->args, "name", json_string(o->operands[0]));
    return -1;
}
