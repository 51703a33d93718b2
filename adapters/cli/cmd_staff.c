// cmd_staff - `passerelle staff`: the node's staff accounts (issue 14,
// DESIGN.md §12), through the running daemon's control socket as the Unix
// owner. Layer: adapters.
//
//   passerelle --home DIR staff add NAME --role ROLE [--lang fr|en]
//   passerelle --home DIR staff list [--json]
//   passerelle --home DIR staff disable|enable NAME
//   passerelle --home DIR staff passwd NAME
//
// A password is never an argument (it would show in `ps`): add and passwd
// read it from standard input, one line; on a terminal it is asked twice
// with echo off.
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_opts.h"
#include "proto/pl_crypto.h"

#define S_PASS_MAX 1024 // bytes, as the daemon (pl_staff.h)

enum { O_END = -1, O_ROLE = 0, O_LANG, O_COUNT };

static const char *const s_roles[] = {"case-manager", "provider", "supervisor",
                                      "coordinator",  "admin",    NULL};
static const char *const s_langs[] = {"fr", "en", NULL};

static const cli_opt_t s_table[O_COUNT] = {
    [O_ROLE] = {"role", CLI_OPT_ENUM, "role", 0, 0, s_roles, NULL, NULL},
    [O_LANG] = {"lang", CLI_OPT_ENUM, "lang", 0, 0, s_langs, NULL, NULL},
};

static const char s_help[] =
    "usage: passerelle --home DIR staff add NAME --role ROLE [--lang fr|en]\n"
    "       passerelle --home DIR staff list [--json]\n"
    "       passerelle --home DIR staff disable|enable NAME\n"
    "       passerelle --home DIR staff passwd NAME\n"
    "\n"
    "The node's staff accounts (for passerelle-web and its sessions). The\n"
    "node daemon must be running; these commands are the Unix owner's.\n"
    "\n"
    "  add NAME     a new account; NAME is 1 to 64 of a-z 0-9 . _ -\n"
    "    --role R   case-manager, provider, supervisor, coordinator or admin\n"
    "    --lang L   fr or en (default en): the language of its screens\n"
    "  list         every account: role, language, disabled, created, last\n"
    "               login, failures, locked until (never a password hash)\n"
    "  disable NAME no more logins; its open sessions end at once\n"
    "  enable NAME  logins again (also lifts a lockout)\n"
    "  passwd NAME  a new password; its open sessions end at once\n"
    "\n"
    "A password (10 to 1024 bytes) is read from standard input, one line; on\n"
    "a terminal it is asked twice without echo. It is never an argument.\n";

// Reads one line from 'in' into 'buf' (without its newline). Returns its
// length, or -1 when nothing was read or the line is too long.
static long
s_line(FILE *in, char *buf, size_t n)
{
    if (!fgets(buf, (int) n, in))
        return -1;
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '\n')
        buf[--len] = 0;
    else if (len == n - 1 && !feof(in))
        return -1;
    if (len && buf[len - 1] == '\r')
        buf[--len] = 0;
    return (long) len;
}

// Asks for a password on the terminal without echo.
static long
s_ask(const char *prompt, char *buf, size_t n)
{
    struct termios old, quiet;
    fputs(prompt, stderr);
    fflush(stderr);
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    long len = s_line(stdin, buf, n);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    return len;
}

// The password from standard input into 'buf'; 0, or the exit code.
static int
s_password(const char *cmd, char *buf, size_t n)
{
    long len;
    if (isatty(STDIN_FILENO)) {
        char again[S_PASS_MAX + 2];
        len = s_ask("password: ", buf, n);
        long len2 = len >= 0 ? s_ask("again: ", again, sizeof again) : -1;
        bool same = len >= 0 && len == len2 && strcmp(buf, again) == 0;
        pl_wipe(again, sizeof again);
        if (!same) {
            pl_wipe(buf, n);
            return cli_error(cmd, "the two passwords differ");
        }
    } else {
        len = s_line(stdin, buf, n);
    }
    if (len < 0) {
        pl_wipe(buf, n);
        return cli_error(cmd,
                         "give the password on standard input, one line of at "
                         "most %d bytes",
                         S_PASS_MAX);
    }
    return 0;
}

static const char *
s_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static void
s_print_list(const json_t *res)
{
    printf("%-24s %-13s %-4s %-8s %-20s %-8s %s\n", "NAME", "ROLE", "LANG",
           "STATE", "LAST LOGIN", "FAILURES", "LOCKED UNTIL");
    size_t i;
    json_t *a;
    json_array_foreach(res, i, a)
    {
        printf("%-24s %-13s %-4s %-8s %-20s %-8lld %s\n", s_str(a, "name"),
               s_str(a, "role"), s_str(a, "lang"),
               json_is_true(json_object_get(a, "disabled")) ? "disabled"
                                                            : "active",
               s_str(a, "last_login"),
               (long long) json_integer_value(json_object_get(a, "failures")),
               s_str(a, "locked_until"));
    }
    if (i == 0)
        puts("(no staff accounts)");
}

int
cli_cmd_staff(cli_t *cli, int argc, char **argv)
{
    static const char *const subs[] = {"add",    "list",   "disable",
                                       "enable", "passwd", NULL};
    static const int add_ok[] = {O_ROLE, O_LANG, O_END};
    static const cli_subcmd_t sc = {
        .cmd = "staff",
        .usage = "which one: add, list, disable, enable, passwd?",
        .subs = subs,
        .unnamed = "list",
        .what = "account",
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
    bool add = !strcmp(sub, "add"), list = !strcmp(sub, "list"),
         passwd = !strcmp(sub, "passwd");
    json_t *args = o.args;
    char pw[S_PASS_MAX + 2];
    if (add || passwd) {
        int home_rc;
        if (!cli_need_home(cli, name, &home_rc)) {
            cli_opts_free(&o);
            return home_rc;
        }
        rc = s_password(name, pw, sizeof pw);
        if (rc != 0) {
            cli_opts_free(&o);
            return rc;
        }
        json_object_set_new(args, "password", json_string(pw));
        pl_wipe(pw, sizeof pw);
    }
    const char *ctl = add                       ? "staff.add"
                      : list                    ? "staff.list"
                      : passwd                  ? "staff.passwd"
                      : !strcmp(sub, "disable") ? "staff.disable"
                                                : "staff.enable";
    json_t *res = NULL;
    rc = cli_node_call(cli, name, ctl, args, &res);
    json_t *jp = json_object_get(args, "password");
    if (json_is_string(jp))
        pl_wipe((char *) json_string_value(jp), json_string_length(jp));
    cli_opts_free(&o);
    if (rc >= 0)
        return rc;
    if (cli->json)
        return cli_print_json(res);
    if (list)
        s_print_list(res);
    else if (add)
        printf("staff account %s added (%s, %s)\n", s_str(res, "name"),
               s_str(res, "role"), s_str(res, "lang"));
    else if (passwd)
        printf("password of %s changed; %lld session(s) ended\n",
               s_str(res, "name"),
               (long long) json_integer_value(
                   json_object_get(res, "sessions_ended")));
    else
        printf("staff account %s %s\n", s_str(res, "name"),
               json_is_true(json_object_get(res, "disabled")) ? "disabled"
                                                              : "enabled");
    json_decref(res);
    return 0;
}
