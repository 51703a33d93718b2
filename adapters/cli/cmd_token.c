// cmd_token - `passerelle token`: the node's API tokens (issue 16,
// DESIGN.md §12), through the running daemon's control socket as the Unix
// owner. Layer: adapters.
//
//   passerelle --home DIR token add NAME --role ROLE [--expires D]
//   passerelle --home DIR token list [--json]
//   passerelle --home DIR token revoke NAME
//
// The token is printed once, by add; the node keeps only its hash.
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"

enum { O_END = -1, O_ROLE = 0, O_EXPIRES, O_COUNT };

static const char *const s_roles[] = {"case-manager", "provider", "supervisor",
                                      "coordinator",  "admin",    NULL};

static const cli_opt_t s_table[O_COUNT] = {
    [O_ROLE] = {"role", CLI_OPT_ENUM, "role", 0, 0, s_roles, NULL, NULL},
    [O_EXPIRES] = {"expires", CLI_OPT_UINT, "expires_days", 1, 3650, NULL, NULL,
                   "a number of days, 1 to 3650"},
};

static const char s_help[] =
    "usage: passerelle --home DIR token add NAME --role ROLE [--expires D]\n"
    "       passerelle --home DIR token list [--json]\n"
    "       passerelle --home DIR token revoke NAME\n"
    "\n"
    "API tokens for other systems calling passerelle-web's /api/v1/ with\n"
    "'Authorization: Bearer TOKEN'. The node daemon must be running; these\n"
    "commands are the Unix owner's.\n"
    "\n"
    "  add NAME      a new token, printed ONCE (the node keeps its hash);\n"
    "                NAME is 1 to 60 of a-z 0-9 . _ -; actions done with it\n"
    "                are recorded as api:NAME\n"
    "    --role R    case-manager, provider, supervisor, coordinator or "
    "admin\n"
    "    --expires D valid D days (1 to 3650; default: until revoked)\n"
    "  list          every token: role, created, expires, revoked (never "
    "a\n"
    "                token or its hash)\n"
    "  revoke NAME   the token stops working at once\n";

static const char *
s_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static void
s_print(const char *sub, json_t *res)
{
    if (!strcmp(sub, "add")) {
        printf("token %s (%s), expires %s; it is shown only now:\n%s\n",
               s_str(res, "name"), s_str(res, "role"), s_str(res, "expires"),
               s_str(res, "token"));
        return;
    }
    if (!strcmp(sub, "revoke")) {
        printf("token %s revoked\n", s_str(res, "name"));
        return;
    }
    printf("%-24s %-13s %-20s %-20s %s\n", "NAME", "ROLE", "CREATED", "EXPIRES",
           "STATE");
    size_t i;
    json_t *a;
    json_array_foreach(res, i, a)
    {
        printf("%-24s %-13s %-20s %-20s %s\n", s_str(a, "name"),
               s_str(a, "role"), s_str(a, "created"), s_str(a, "expires"),
               json_is_true(json_object_get(a, "revoked")) ? "revoked"
                                                           : "active");
    }
    if (i == 0)
        puts("(no API tokens)");
}

int
cli_cmd_token(cli_t *cli, int argc, char **argv)
{
    static const char *const subs[] = {"add", "list", "revoke", NULL};
    static const int add_ok[] = {O_ROLE, O_EXPIRES, O_END};
    static const cli_subcmd_t sc = {
        .cmd = "token",
        .usage = "which one: add, list, revoke?",
        .subs = subs,
        .unnamed = "list",
        .what = "token",
        .with = "add",
        .table = s_table,
        .n = O_COUNT,
        .help = s_help,
        .with_opts = add_ok,
        .required = O_ROLE,
        .required_as = "--role ROLE",
    };
    const char *sub = NULL;
    char name[32];
    cli_opts_t o;
    int rc = cli_subcmd_parse(cli, &sc, argc, argv, &sub, name, &o);
    if (rc >= 0)
        return rc;
    bool add = !strcmp(sub, "add"), list = !strcmp(sub, "list");
    json_t *res = NULL;
    rc = cli_node_call(cli, name,
                       add    ? "token.add"
                       : list ? "token.list"
                              : "token.revoke",
                       o.args, &res);
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res); // it releases 'res'
    s_print(sub, res);
    json_decref(res);
    return 0;
}
