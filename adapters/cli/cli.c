// cli - helpers shared by every command of the `passerelle` CLI: error
// and usage messages, the home folder, JSON output. Layer: adapters.
#include "adapters/cli/cli.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"
#include "proto/pl_home.h"

// ---- errors shared by every command

static void s_vreport(const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
s_vreport(const char *cmd, const char *fmt, va_list ap)
{
    fflush(stdout); // keep the order of stdout and stderr on a terminal
    if (cmd)
        fprintf(stderr, "passerelle: %s: ", cmd);
    else
        fputs("passerelle: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void
cli_fmt(char *buf, size_t n, const char *fmt, ...)
{
    if (!buf || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

char *
cli_help_text(void (*print)(FILE *out))
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return NULL;
    print(mem);
    if (fclose(mem) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

int
cli_node_call(cli_t *cli, const char *cmd, const char *ctl, json_t *args,
              json_t **res)
{
    int home_rc;
    const char *home = cli_need_home(cli, cmd, &home_rc);
    if (!home)
        return home_rc;
    char err[PATH_MAX + 256];
    int rc = cli_control_call_id(home, cli->request_id, ctl, args, cli->as,
                                 CLI_CONTROL_TIMEOUT_MS, res, err, sizeof err,
                                 NULL, 0);
    if (rc != CLI_CONTROL_OK)
        return cli_error(cmd, "%s", err);
    return -1;
}

int
cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vreport(cmd, fmt, ap);
    va_end(ap);
    return 1;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vreport(cmd, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "try 'passerelle %s --help'\n", cmd);
    else
        fputs("try 'passerelle --help'\n", stderr);
    return 2;
}

const char *
cli_need_home(const cli_t *cli, const char *cmd, int *rc)
{
    if (!cli->home || !cli->home[0]) {
        *rc = cli_usage_error(cmd, "--home DIR is required");
        return NULL;
    }
    // a home another user owns or can write is never used (issue 11,
    // item 9); a home that does not exist yet is the command's business
    char err[PATH_MAX + 256];
    int hrc = pl_home_check(cli->home, err, sizeof err);
    if (hrc != PL_OK && hrc != PL_ENOTFOUND) {
        *rc = cli_error(cmd, "%s", err);
        return NULL;
    }
    *rc = 0;
    return cli->home;
}

int
cli_print_json(json_t *doc)
{
    if (!doc)
        return cli_error(NULL, "out of memory building the JSON output");
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2));
    json_decref(doc);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return cli_error(NULL, "cannot write the JSON output");
    return 0;
}
