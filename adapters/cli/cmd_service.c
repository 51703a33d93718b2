// cmd_service - `passerelle service` and `passerelle slip` (issue 18): the
// node's service catalogue, capacity signals, matching a case to services,
// and the returnee's referral slip, through the running daemon. Layer:
// adapters.
//
//   passerelle --home DIR service add --code C --sector S --name-en T ...
//   passerelle --home DIR service remove CODE
//   passerelle --home DIR service capacity CODE open|limited|full
//                                            [--free N] [--until DATE]
//   passerelle --home DIR service list [filters] [--json]
//   passerelle --home DIR service export [--out FILE]
//   passerelle --home DIR service import FILE
//   passerelle --home DIR service match --case C [--region R]
//                                       [--lowest DIM] [--grid FILE] [--json]
//   passerelle --home DIR slip REFERRAL [--days N] [--png F | --svg F | --text]
//   passerelle --home DIR slip check CODE [--json]
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"
#include "adapters/cli/cli_qr.h"
#include "proto/pl_util.h"

#ifndef PL_GRID_INSTALLED
#define PL_GRID_INSTALLED "/usr/share/passerelle/feasibility-grid.json"
#endif

enum {
    O_END = -1,
    O_CODE = 0,
    O_SECTOR,
    O_NAME_FR,
    O_NAME_EN,
    O_MIN_AGE,
    O_MAX_AGE,
    O_SEX,
    O_LANGS,
    O_DOCS,
    O_COST,
    O_HOURS,
    O_REGION,
    O_LAT,
    O_LON,
    O_REACH,
    O_STATUS,
    O_STDIN,
    O_FREE,
    O_UNTIL,
    O_DIM,
    O_ADDRESS,
    O_CAPACITY,
    O_OUT,
    O_CASE,
    O_LOWEST,
    O_GRID,
    O_DAYS,
    O_PNG,
    O_SVG,
    O_TEXT,
    O_COUNT
};

static const char *const s_sexes[] = {"any", "female", "male", NULL};
static const char *const s_states[] = {"active", "inactive", NULL};
static const char *const s_caps[] = {"open", "limited", "full", NULL};
static const char *const s_dims[] = {"economic", "social", "psychosocial",
                                     "protection", NULL};

#define S_T(n, k)                                                              \
    {                                                                          \
        n, CLI_OPT_TEXT, k, 0, 0, NULL, NULL, NULL                             \
    }
#define S_W(n, k)                                                              \
    {                                                                          \
        n, CLI_OPT_WORD, k, 0, 0, NULL, NULL, NULL                             \
    }
#define S_E(n, k, c)                                                           \
    {                                                                          \
        n, CLI_OPT_ENUM, k, 0, 0, c, NULL, NULL                                \
    }
#define S_U(n, k, lo, hi)                                                      \
    {                                                                          \
        n, CLI_OPT_UINT, k, lo, hi, NULL, NULL, NULL                           \
    }

static const cli_opt_t s_table[O_COUNT] = {
    [O_CODE] = S_W("code", "code"),
    [O_SECTOR] = S_W("sector", "sector"),
    [O_NAME_FR] = S_T("name-fr", "name_fr"),
    [O_NAME_EN] = S_T("name-en", "name_en"),
    [O_MIN_AGE] = S_U("min-age", "min_age", 0, 130),
    [O_MAX_AGE] = S_U("max-age", "max_age", 0, 130),
    [O_SEX] = S_E("sex", "sex", s_sexes),
    [O_LANGS] = S_T("languages", "languages"),
    [O_DOCS] = S_T("documents", "documents"),
    [O_COST] = S_T("cost", "cost"),
    [O_HOURS] = S_T("hours", "hours"),
    [O_REGION] = S_W("region", "region"),
    [O_LAT] = S_W("lat", "lat"),
    [O_LON] = S_W("lon", "lon"),
    [O_REACH] = S_T("reach", "reach"),
    [O_STATUS] = S_E("status", "status", s_states),
    [O_STDIN] = {"stdin", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
    [O_FREE] = S_U("free", "free", 0, 100000),
    [O_UNTIL] = {"until", CLI_OPT_DATE, "until", 0, 0, NULL, NULL, NULL},
    [O_DIM] = S_E("dimension", "dimension", s_dims),
    [O_ADDRESS] = S_W("address", "address"),
    [O_CAPACITY] = S_E("capacity", "capacity", s_caps),
    [O_OUT] = S_W("out", NULL),
    [O_CASE] = S_W("case", "case"),
    [O_LOWEST] = S_E("lowest", "lowest", s_dims),
    [O_GRID] = S_W("grid", NULL),
    [O_DAYS] = S_U("days", "days", 1, 365),
    [O_PNG] = S_W("png", NULL),
    [O_SVG] = S_W("svg", NULL),
    [O_TEXT] = {"text", CLI_OPT_FLAG, NULL, 0, 0, NULL, NULL, NULL},
};

static const char s_help[] =
    "usage: passerelle --home DIR service add --code C --sector S "
    "[--name-fr T] [--name-en T]\n"
    "           [--min-age N] [--max-age N] [--sex any|female|male] "
    "[--languages a,b]\n"
    "           [--documents a,b] [--cost T] [--hours T] [--region R] "
    "[--lat X --lon Y]\n"
    "           [--reach T] [--status active|inactive] [--stdin]\n"
    "       passerelle --home DIR service remove CODE\n"
    "       passerelle --home DIR service capacity CODE open|limited|full "
    "[--free N] [--until DATE]\n"
    "       passerelle --home DIR service list [--sector S] [--dimension D] "
    "[--region R]\n"
    "           [--address A] [--capacity STATE] [--json]\n"
    "       passerelle --home DIR service export [--out FILE]\n"
    "       passerelle --home DIR service import FILE\n"
    "       passerelle --home DIR service match --case C [--region R] "
    "[--lowest DIM] [--grid FILE] [--json]\n"
    "\n"
    "This node's service catalogue, signed by its own key, and the\n"
    "catalogues of other nodes, each checked against that node's\n"
    "certificate (changed, or signed by another key: refused).\n"
    "  add       a service (same code: replaced); --stdin reads the entry\n"
    "            as one JSON object instead of the options\n"
    "  capacity  the capacity signal, with its time; a referral to a full\n"
    "            service then needs refer --confirm-full\n"
    "  export    the signed catalogue (JSON) for other nodes; import takes "
    "one\n"
    "  list      every service known, with the age of its capacity signal\n"
    "  match     services ranked for a case's needs, age, sex, language and\n"
    "            region, each with its reasons; --lowest is the case's lowest\n"
    "            survey dimension; --grid the feasibility grid "
    "(default " PL_GRID_INSTALLED ")\n"
    "See docs/services.md.\n";

static const char s_slip_help[] =
    "usage: passerelle --home DIR slip REFERRAL [--days N] "
    "[--png FILE | --svg FILE | --text] [--json]\n"
    "       passerelle --home DIR slip check CODE [--json]\n"
    "\n"
    "The returnee's referral slip: a QR code and a printable code (Base45,\n"
    "RFC 9285) of a token signed by this node, holding no personal data:\n"
    "the referral id, a hash of the recipient's address, issue and expiry\n"
    "dates (--days, default 30), this node's key id. check tells, without\n"
    "any network, whether a slip is valid, which referral and sender, and\n"
    "whether it expired or the referral was cancelled; it exits 1 when the\n"
    "slip is not valid.\n";

// "a,b" in args[key] into an array of strings.
static void
s_split(json_t *args, const char *key)
{
    const char *v = json_string_value(json_object_get(args, key));
    if (!v)
        return;
    json_t *a = json_array();
    for (const char *p = v; p && *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t) (c - p) : strlen(p);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p = c ? c + 1 : NULL;
    }
    json_object_set_new(args, key, a);
}

// args[key] (text) as a number; false when it is not one.
static bool
s_number(json_t *args, const char *key)
{
    const char *v = json_string_value(json_object_get(args, key));
    if (!v)
        return true;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end)
        return false;
    json_object_set_new(args, key, json_real(d));
    return true;
}

// The entry of `service add`: the options, or one JSON object on stdin.
static int
s_entry(cli_opts_t *o, json_t **entry)
{
    if (o->val[O_STDIN].given) {
        json_error_t je;
        json_t *e = json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(e)) {
            json_decref(e);
            return cli_error("service add",
                             "--stdin: one JSON object, please "
                             "(line %d: %s)",
                             je.line, je.text);
        }
        *entry = e;
        return -1;
    }
    if (!o->val[O_CODE].given || !o->val[O_SECTOR].given)
        return cli_usage_error("service add",
                               "--code and --sector are required");
    s_split(o->args, "languages");
    s_split(o->args, "documents");
    if (!s_number(o->args, "lat") || !s_number(o->args, "lon"))
        return cli_usage_error("service add", "--lat and --lon are numbers");
    *entry = json_incref(o->args);
    return -1;
}

static const char *
s_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

// "open (12 free, until 2026-12-31) 3 h ago" for a capacity signal.
static void
s_cap_text(const json_t *c, json_int_t age, char *buf, size_t n)
{
    if (!c) {
        snprintf(buf, n, "unknown");
        return;
    }
    char fr[32] = "", un[32] = "";
    const json_t *f = json_object_get(c, "free"),
                 *u = json_object_get(c, "until");
    if (f)
        snprintf(fr, sizeof fr, " %lld free",
                 (long long) json_integer_value(f));
    if (u) {
        char t[21];
        pl_time_fmt(t, (uint64_t) json_integer_value(u));
        snprintf(un, sizeof un, " until %.10s", t);
    }
    bool hours = age >= 7200;
    snprintf(buf, n, "%s%s%s, %lld %s old", s_str(c, "state"), fr, un,
             (long long) (hours ? age / 3600 : age / 60), hours ? "h" : "min");
}

static void
s_print_list(const json_t *res)
{
    printf("%-28s %-20s %-16s %-12s %-10s %s\n", "ADDRESS", "CODE", "SECTOR",
           "DIMENSION", "REGION", "CAPACITY");
    size_t i;
    json_t *o;
    json_array_foreach(res, i, o)
    {
        const json_t *e = json_object_get(o, "entry");
        char cap[96];
        s_cap_text(json_object_get(e, "capacity"),
                   json_integer_value(json_object_get(o, "capacity_age_s")),
                   cap, sizeof cap);
        printf("%-28s %-20s %-16s %-12s %-10s %s\n", s_str(o, "address"),
               s_str(e, "code"), s_str(e, "sector"), s_str(e, "dimension"),
               s_str(e, "region"), cap);
    }
    if (i == 0)
        puts("(no services known)");
}

static void
s_print_match(const json_t *res)
{
    size_t i, j;
    json_t *o, *r;
    json_array_foreach(json_object_get(res, "suggestions"), i, o)
    {
        printf("%zu. %s %s (score %lld)\n", i + 1, s_str(o, "address"),
               s_str(o, "code"),
               (long long) json_integer_value(json_object_get(o, "score")));
        json_array_foreach(json_object_get(o, "reasons"), j, r)
            printf("     %s\n", json_string_value(r));
    }
    if (i == 0)
        puts("(no service fits)");
    json_array_foreach(json_object_get(res, "excluded"), i, o) printf(
        "   not suggested: %s %s: %s\n", s_str(o, "address"), s_str(o, "code"),
        json_string_value(json_array_get(json_object_get(o, "reasons"), 0)));
}

// Reads a JSON file of at most 1 MiB into '*out'. -1, or the exit code.
static int
s_json_file(const char *cmd, const char *path, json_t **out)
{
    pl_buf_t b = {0};
    int rc = pl_file_read(path, 1 << 20, &b);
    if (rc != PL_OK)
        return cli_error(cmd, "cannot read %s: %s", path, pl_strerror(rc));
    json_error_t je;
    *out =
        json_loadb((const char *) b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    pl_buf_free(&b);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cli_error(cmd, "%s: not a JSON object (line %d: %s)", path,
                         je.line, je.text);
    }
    return -1;
}

json_t *
cli_grid_installed(void)
{
    json_t *g = json_load_file(PL_GRID_INSTALLED, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(g))
        return g;
    json_decref(g);
    return NULL;
}

// One subcommand: its control command, options and operands.
typedef struct {
    const char *sub, *ctl;
    int operands; // how many operands it needs
    int allowed[20];
} s_sub_t;

static const s_sub_t s_subs[] = {
    {"add",
     "service.add",
     0,
     {O_CODE, O_SECTOR, O_NAME_FR, O_NAME_EN, O_MIN_AGE, O_MAX_AGE, O_SEX,
      O_LANGS, O_DOCS, O_COST, O_HOURS, O_REGION, O_LAT, O_LON, O_REACH,
      O_STATUS, O_STDIN, O_END}},
    {"remove", "service.remove", 1, {O_END}},
    {"capacity", "service.capacity", 2, {O_FREE, O_UNTIL, O_END}},
    {"list",
     "service.list",
     0,
     {O_SECTOR, O_DIM, O_REGION, O_ADDRESS, O_CAPACITY, O_CODE, O_END}},
    {"export", "service.export", 0, {O_OUT, O_END}},
    {"import", "service.import", 1, {O_END}},
    {"match", "service.match", 0, {O_CASE, O_REGION, O_LOWEST, O_GRID, O_END}},
};

// The request of subcommand 's' from the parsed options. -1 or exit code.
static int
s_request(const s_sub_t *s, cli_opts_t *o, json_t **args)
{
    const char *name = s->sub;
    if (!strcmp(name, "add")) {
        json_t *e = NULL;
        int rc = s_entry(o, &e);
        if (rc < 0)
            *args = json_pack("{s:o}", "entry", e);
        return rc;
    }
    *args = json_incref(o->args);
    if (!strcmp(name, "remove"))
        json_object_set_new(*args, "code", json_string(o->operands[0]));
    if (!strcmp(name, "capacity")) {
        json_object_set_new(*args, "code", json_string(o->operands[0]));
        json_object_set_new(*args, "state", json_string(o->operands[1]));
    }
    if (!strcmp(name, "import")) {
        json_t *c = NULL;
        int rc = s_json_file("service import", o->operands[0], &c);
        if (rc >= 0)
            return rc;
        json_object_set_new(*args, "catalogue", c);
    }
    if (!strcmp(name, "match")) {
        if (!o->val[O_CASE].given)
            return cli_usage_error("service match", "--case CASE is required");
        const char *g =
            o->val[O_GRID].given ? o->val[O_GRID].text : PL_GRID_INSTALLED;
        json_t *grid = NULL;
        int rc = s_json_file("service match", g, &grid);
        if (rc >= 0 && o->val[O_GRID].given)
            return rc;
        if (grid)
            json_object_set_new(*args, "grid", grid);
    }
    return -1;
}

static int
s_output(cli_t *cli, const s_sub_t *s, const cli_opts_t *o, json_t *res)
{
    const char *name = s->sub;
    if (!strcmp(name, "export")) {
        FILE *f = o->val[O_OUT].given ? fopen(o->val[O_OUT].text, "w") : stdout;
        if (!f)
            return cli_error("service export", "cannot write %s",
                             o->val[O_OUT].text);
        json_dumpf(res, f, JSON_INDENT(2));
        fputc('\n', f);
        int bad = f != stdout ? fclose(f) != 0 : fflush(f) != 0;
        json_decref(res);
        return bad ? cli_error("service export", "write failed") : 0;
    }
    if (cli->json)
        return cli_print_json(res);
    if (!strcmp(name, "list"))
        s_print_list(res);
    else if (!strcmp(name, "match"))
        s_print_match(res);
    else if (!strcmp(name, "import"))
        printf(
            "catalogue of %s version %lld imported (%lld services)\n",
            s_str(res, "address"),
            (long long) json_integer_value(json_object_get(res, "version")),
            (long long) json_integer_value(json_object_get(res, "services")));
    else
        printf("catalogue version %lld: %s %s\n",
               (long long) json_integer_value(json_object_get(res, "version")),
               !strcmp(name, "remove") ? "removed" : "service",
               !strcmp(name, "remove")
                   ? s_str(res, "removed")
                   : s_str(json_object_get(res, "entry"), "code"));
    json_decref(res);
    return 0;
}

int
cli_cmd_service(cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2
            && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(s_help, stdout);
            return 0;
        }
        return cli_usage_error("service", "which one: add, remove, capacity, "
                                          "list, export, import, match?");
    }
    const s_sub_t *s = NULL;
    for (size_t i = 0; i < sizeof s_subs / sizeof *s_subs; i++)
        if (!strcmp(argv[1], s_subs[i].sub))
            s = &s_subs[i];
    if (!s)
        return cli_usage_error("service", "unknown subcommand '%s'", argv[1]);
    char name[32];
    snprintf(name, sizeof name, "service %s", s->sub);
    cli_opts_t o;
    int rc = cli_opts_parse(cli, name, s_table, O_COUNT, s->allowed, s_help,
                            s->operands ? 0 : CLI_OPTS_NO_OPERANDS, argc - 1,
                            argv + 1, &o);
    if (rc < 0 && o.noperands != s->operands)
        rc = cli_usage_error(name, "%s",
                             !strcmp(s->sub, "capacity")
                                 ? "give CODE and open|limited|full"
                                 : "give one operand");
    json_t *args = NULL, *res = NULL;
    if (rc < 0)
        rc = s_request(s, &o, &args);
    if (rc < 0)
        rc = cli_node_call(cli, name, s->ctl, args, &res);
    if (rc < 0)
        rc = s_output(cli, s, &o, res);
    json_decref(args);
    cli_opts_free(&o);
    return rc;
}

// ---- slip

static int
s_slip_check(cli_t *cli, cli_opts_t *o)
{
    json_t *args = json_pack("{s:s}", "code", o->operands[1]), *res = NULL;
    int rc = cli_node_call(cli, "slip check", "slip.check", args, &res);
    json_decref(args);
    if (rc >= 0)
        return rc;
    bool valid = json_is_true(json_object_get(res, "valid"));
    if (cli->json) {
        rc = cli_print_json(res);
        return rc ? rc : valid ? 0 : 1;
    }
    printf("%s: referral %s from %s (%s)\n", valid ? "valid" : "NOT VALID",
           s_str(res, "referral"), s_str(res, "sender"),
           s_str(res, "sender_name"));
    printf("issued %s, expires %s%s\n", s_str(res, "issued"),
           s_str(res, "expires"),
           json_is_true(json_object_get(res, "expired")) ? " (expired)" : "");
    printf("for this node: %s; status here: %s%s\n",
           json_is_true(json_object_get(res, "for_this_node")) ? "yes" : "no",
           s_str(res, "status"),
           json_is_true(json_object_get(res, "cancelled"))
               ? " (the referral was cancelled)"
               : "");
    json_decref(res);
    return valid ? 0 : 1;
}

static int
s_slip_make(cli_t *cli, cli_opts_t *o)
{
    int n = o->val[O_PNG].given + o->val[O_SVG].given + o->val[O_TEXT].given;
    if (n > 1)
        return cli_usage_error("slip", "give one of --png, --svg, --text");
    json_t *args = json_incref(o->args), *res = NULL;
    json_object_set_new(args, "id", json_string(o->operands[0]));
    int rc = cli_node_call(cli, "slip", "slip.make", args, &res);
    json_decref(args);
    if (rc >= 0)
        return rc;
    const char *fmt = o->val[O_PNG].given ? "png" : "svg";
    const char *path = o->val[O_PNG].given   ? o->val[O_PNG].text
                       : o->val[O_SVG].given ? o->val[O_SVG].text
                                             : NULL;
    char err[256];
    int version = 0;
    FILE *txt = tmpfile();
    if (!txt
        || cli_qr_write(s_str(res, "code"), fmt, path, txt, &version, err,
                        sizeof err)) {
        if (txt)
            fclose(txt);
        json_decref(res);
        return cli_error("slip", "%s", txt ? err : "no temporary file");
    }
    json_object_set_new(res, "qr_version", json_integer(version));
    json_object_set_new(res, "qr_level", json_string("M"));
    if (path)
        json_object_set_new(res, "file", json_string(path));
    if (cli->json) {
        fclose(txt);
        return cli_print_json(res);
    }
    if (o->val[O_TEXT].given) {
        rewind(txt);
        char buf[4096];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, txt)) > 0)
            fwrite(buf, 1, k, stdout);
    }
    fclose(txt);
    printf("%s\nreferral %s to %s, expires %s (QR version %d-M%s%s)\n",
           s_str(res, "code"), s_str(res, "referral"), s_str(res, "to"),
           s_str(res, "expires"), version, path ? ", written to " : "",
           path ? path : "");
    json_decref(res);
    return 0;
}

int
cli_cmd_slip(cli_t *cli, int argc, char **argv)
{
    static const int make_ok[] = {O_DAYS, O_PNG, O_SVG, O_TEXT, O_END};
    static const int none[] = {O_END};
    bool check = argc >= 2 && !strcmp(argv[1], "check");
    cli_opts_t o;
    int rc =
        cli_opts_parse(cli, check ? "slip check" : "slip", s_table, O_COUNT,
                       check ? none : make_ok, s_slip_help, 0, argc, argv, &o);
    if (rc < 0 && o.noperands != (check ? 2 : 1))
        rc = cli_usage_error(check ? "slip check" : "slip",
                             check ? "give the slip's CODE (quote it: it may "
                                     "hold spaces)"
                                   : "give one REFERRAL");
    if (rc < 0)
        rc = check ? s_slip_check(cli, &o) : s_slip_make(cli, &o);
    cli_opts_free(&o);
    return rc;
}
