// cmd_report - aggregate reports and the coordination view from the
// command line (issue 15, DESIGN.md §8, §9): `report send`, `report show
// [--period YYYY-MM] [--json]` and `coordination [--json]`. Layer:
// adapters. Everything goes through the running daemon (cli_control);
// the figures `coordination` prints are the daemon's suppressed ones.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"

enum { O_END = -1, O_PERIOD, O_COUNT };

static const cli_opt_t s_table[O_COUNT] = {
    [O_PERIOD] = {"period", CLI_OPT_WORD, "period", 0, 0, NULL, NULL,
                  "a month YYYY-MM"},
};

static const char s_report_help[] =
    "usage: passerelle --home DIR report send\n"
    "       passerelle --home DIR report show [--period YYYY-MM] [--json]\n"
    "       passerelle --home COORD report request\n"
    "\n"
    "send: sends this node's aggregate reports (this month and the one\n"
    "before) now to every coordination node of the network; the daemon\n"
    "also sends them every --report-hours (24 by default).\n"
    "show: the report this node would send for the month (default: this\n"
    "one): counts of referrals by direction, status, peer sector,\n"
    "dimension and priority, overdue, cases opened and closed, medians\n"
    "over at least 5 referrals. No name, id or free text.\n"
    "request: at a coordination node, asks every node of the network to\n"
    "send its reports now.\n";

static const char s_coord_help[] =
    "usage: passerelle --home COORD coordination [--json]\n"
    "\n"
    "At a coordination node: the figures of the aggregate reports it keeps,\n"
    "as the dashboard shows them: counts of 1-4 as <5, and '*' where a\n"
    "figure is hidden so that a <5 cannot be worked out from a total.\n"
    "Also the nodes that reported and the date of their last report.\n";

// Parses the options of 'name' (only 'allowed' of the table) and calls
// 'ctl': -1 with *res, else the exit code (as cli_node_call).
static int
s_call(cli_t *cli, const char *name, const char *ctl, const int *allowed,
       const char *help, int argc, char **argv, json_t **res)
{
    cli_opts_t o;
    int rc = cli_opts_parse(cli, name, s_table, O_COUNT, allowed, help,
                            CLI_OPTS_NO_OPERANDS, argc, argv, &o);
    if (rc < 0)
        rc = cli_node_call(cli, name, ctl, o.args, res);
    cli_opts_free(&o);
    return rc;
}

static int
s_show(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_PERIOD, O_END};
    json_t *res = NULL;
    int rc = s_call(cli, "report show", "report.show", allowed, s_report_help,
                    argc, argv, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    char *text = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(res);
    if (!text)
        return cli_error("report show", "out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

static int
s_send(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_END};
    json_t *res = NULL;
    int rc = s_call(cli, "report send", "report.send", allowed, s_report_help,
                    argc, argv, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    size_t i;
    json_t *e;
    json_array_foreach(res, i, e)
        printf("sent %s report to %s (%lld bytes)\n",
               json_string_value(json_object_get(e, "period")),
               json_string_value(json_object_get(e, "to")),
               (long long) json_integer_value(json_object_get(e, "bytes")));
    if (!json_array_size(res))
        printf("no coordination node in the directory: nothing sent\n");
    json_decref(res);
    return 0;
}

static int
s_request(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_END};
    json_t *res = NULL;
    int rc = s_call(cli, "report request", "report.request", allowed,
                    s_report_help, argc, argv, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    size_t i;
    json_t *e;
    json_array_foreach(res, i, e) printf("asked %s\n", json_string_value(e));
    if (!json_array_size(res))
        printf("no node to ask in the directory\n");
    json_decref(res);
    return 0;
}

int
cli_cmd_report(cli_t *cli, int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "show") == 0)
        return s_show(cli, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "send") == 0)
        return s_send(cli, argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "request") == 0)
        return s_request(cli, argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(s_report_help, stdout);
        return 0;
    }
    return cli_usage_error("report", "expected send, show or request");
}

// A column's width: its whole name, at least 8 (a code is never cut).
static int
s_width(const json_t *cols, size_t j)
{
    const char *c = json_string_value(json_array_get(cols, j));
    size_t n = c ? strlen(c) : 0;
    return n > 8 ? (int) (n > 40 ? 40 : n) : 8;
}

static void
s_cell(const json_t *v, int w)
{
    if (json_is_string(v))
        printf(" %*s", w, json_string_value(v));
    else
        printf(" %*lld", w, (long long) json_integer_value(v));
}

static void
s_print_table(const char *name, const json_t *t)
{
    const json_t *cols = json_object_get(t, "cols");
    const json_t *rows = json_object_get(t, "rows");
    size_t i, j;
    json_t *e;
    int lw = 24; // the row names' column: the longest name, whole
    json_array_foreach(rows, i, e)
    {
        const char *r = json_string_value(e);
        if (r && (int) strlen(r) > lw)
            lw = strlen(r) > 80 ? 80 : (int) strlen(r);
    }
    printf("\n%s\n%-*s", name, lw, "");
    json_array_foreach(cols, j, e) printf(
        " %*.*s", s_width(cols, j), s_width(cols, j), json_string_value(e));
    printf(" %8s\n", "total");
    json_array_foreach(rows, i, e)
    {
        printf("%-*.*s", lw, lw, json_string_value(e));
        const json_t *row = json_array_get(json_object_get(t, "cells"), i);
        for (j = 0; j < json_array_size(row); j++)
            s_cell(json_array_get(row, j), s_width(cols, j));
        s_cell(json_array_get(json_object_get(t, "row_totals"), i), 8);
        printf("\n");
    }
    printf("%-*s", lw, "total");
    json_array_foreach(json_object_get(t, "col_totals"), j, e)
        s_cell(e, s_width(cols, j));
    s_cell(json_object_get(t, "total"), 8);
    printf("\n");
}

int
cli_cmd_coordination(cli_t *cli, int argc, char **argv)
{
    static const int allowed[] = {O_END};
    json_t *res = NULL;
    int rc = s_call(cli, "coordination", "coordination", allowed, s_coord_help,
                    argc, argv, &res);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    printf("%lld reports kept\n%-28s %-12s %-10s %s\n",
           (long long) json_integer_value(json_object_get(res, "reports")),
           "NODE", "REGION", "LAST", "AGE (days)");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "nodes"), i, e)
    {
        char day[32];
        time_t t =
            (time_t) json_integer_value(json_object_get(e, "last_report"));
        strftime(day, sizeof day, "%Y-%m-%d", gmtime(&t));
        printf("%-28s %-12s %-10s %lld\n",
               json_string_value(json_object_get(e, "node")),
               json_string_value(json_object_get(e, "region")), day,
               (long long) json_integer_value(json_object_get(e, "age_days")));
    }
    const char *k;
    json_object_foreach(json_object_get(res, "tables"), k, e)
        s_print_table(k, e);
    const json_t *lc = json_object_get(res, "loop_closure");
    const json_t *rate = json_object_get(lc, "rate");
    printf("\nloop closure:");
    s_cell(json_object_get(lc, "closed"), 8);
    printf(" of");
    s_cell(json_object_get(lc, "sent"), 8);
    if (json_is_real(rate))
        printf(" (%.0f%%)", 100.0 * json_real_value(rate));
    printf("\n");
    json_decref(res);
    return 0;
}
