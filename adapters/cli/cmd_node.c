// cmd_node - `passerelle directory` and `passerelle network`: what the
// running node daemon knows of the network. Layer: adapters.
//
// Both ask the daemon over its control socket (cli_control): the CLI never
// opens the store while the daemon runs.
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_control.h"
#include "adapters/cli/cli_opts.h"
#include "proto/pl_cert.h"

// --sector of `directory` (`network` takes no option of its own).
static const cli_opt_t s_sector_opt[] = {
    {"sector", CLI_OPT_WORD, NULL, 0, 0, NULL, NULL, NULL},
};

// Parses the options of 'cmd'; 'sector' is NULL when the command has no
// --sector. Returns -1 to go on, else the exit code.
static int
s_parse(cli_t *cli, const char *cmd, const char *help, const char **sector,
        int argc, char **argv)
{
    cli_opts_t o;
    int rc = cli_opts_parse(cli, cmd, s_sector_opt, sector ? 1 : 0, NULL, help,
                            CLI_OPTS_NO_OPERANDS, argc, argv, &o);
    cli_opts_free(&o);
    if (rc >= 0 || !sector || !o.val[0].given)
        return rc;
    // the sector names come from the certificate code: its own message
    // lists them
    if (!pl_sector_valid(o.val[0].text))
        return cli_usage_error(cmd, "--sector '%s' is not a sector (one of %s)",
                               o.val[0].text, pl_sector_list());
    *sector = o.val[0].text;
    return -1;
}

static const char *
s_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : "-";
}

// ---- directory

static const char s_directory_help[] =
    "usage: passerelle --home DIR directory [--sector S] [--json]\n"
    "       passerelle --home DIR directory --hsds | import --hsds FILE\n"
    "\n"
    "Lists the nodes of the network as this node's daemon knows them: the\n"
    "certificates the broker published, each verified against the network\n"
    "authority; revoked and expired ones are left out. The daemon must be\n"
    "running.\n"
    "\n"
    "  --sector S   only nodes of sector S (agency, health, mhpss, ...)\n"
    "  --json       an array of {address, display_name, organisation,\n"
    "               sector, dimension, country, region, services, serial,\n"
    "               not_after, box_key_id}\n"
    "  --hsds       Open Referral HSDS 3.0 (see directory --hsds --help)\n";

int
cli_cmd_directory(cli_t *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) // issue 16: HSDS (cmd_fhir.c)
        if (!strcmp(argv[i], "--hsds")
            || (i == 1 && !strcmp(argv[i], "import")))
            return cli_directory_hsds(cli, argc, argv);
    const char *sector = NULL;
    int rc = s_parse(cli, "directory", s_directory_help, &sector, argc, argv);
    if (rc >= 0)
        return rc;
    json_t *args = json_object();
    if (sector)
        json_object_set_new(args, "sector", json_string(sector));
    json_t *res = NULL;
    rc = cli_node_call(cli, "directory", "directory", args, &res);
    json_decref(args);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    size_t i;
    json_t *e;
    printf("%-32s %-18s %-8s %-7s %s\n", "ADDRESS", "SECTOR", "COUNTRY",
           "SERIAL", "NAME");
    json_array_foreach(res, i, e)
    {
        printf("%-32s %-18s %-8s %-7lld %s\n", s_str(e, "address"),
               s_str(e, "sector"), s_str(e, "country"),
               (long long) json_integer_value(json_object_get(e, "serial")),
               s_str(e, "display_name"));
    }
    if (json_array_size(res) == 0)
        printf("(no nodes%s%s)\n", sector ? " in sector " : "",
               sector ? sector : "");
    json_decref(res);
    return 0;
}

// ---- network

static const char s_network_help[] =
    "usage: passerelle --home DIR network [--json]\n"
    "\n"
    "Asks the broker, through this node's daemon, for its transport status:\n"
    "per node whether it is online, when it was last seen, how many\n"
    "envelopes are queued for it and the age of the oldest. Exits with 1 if\n"
    "the broker did not answer within 5 s.\n"
    "\n"
    "  --json   one object {time, uptime, address, nodes: [{address, online,\n"
    "           last_seen, queued, oldest_queued_age, ...}], federation:\n"
    "           [{network, up, since, queued}], ...}; federation lists the\n"
    "           broker's links to federated networks\n";

int
cli_cmd_network(cli_t *cli, int argc, char **argv)
{
    int rc = s_parse(cli, "network", s_network_help, NULL, argc, argv);
    if (rc >= 0)
        return rc;
    json_t *res = NULL;
    rc = cli_node_call(cli, "network", "network", NULL, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("broker %s, time %s, up %llds\n", s_str(res, "address"),
           s_str(res, "time"),
           (long long) json_integer_value(json_object_get(res, "uptime")));
    printf("%-32s %-7s %-21s %7s %11s\n", "NODE", "ONLINE", "LAST SEEN",
           "QUEUED", "OLDEST (s)");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "nodes"), i, e)
    {
        json_t *oldest = json_object_get(e, "oldest_queued_age");
        char age[32] = "-";
        if (oldest)
            snprintf(age, sizeof age, "%lld",
                     (long long) json_integer_value(oldest));
        printf("%-32s %-7s %-21s %7lld %11s\n", s_str(e, "address"),
               json_is_true(json_object_get(e, "online")) ? "yes" : "no",
               s_str(e, "last_seen"),
               (long long) json_integer_value(json_object_get(e, "queued")),
               age);
    }
    json_array_foreach(json_object_get(res, "federation"), i, e)
    {
        printf("federation link %s: %s since %s, %lld queued for it\n",
               s_str(e, "network"),
               json_is_true(json_object_get(e, "up")) ? "up" : "DOWN",
               s_str(e, "since"),
               (long long) json_integer_value(json_object_get(e, "queued")));
    }
    json_decref(res);
    return 0;
}
