// cli_stdin - the `--stdin` document. Layer: adapters.
#include "adapters/cli/cli_stdin.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/cli/cli.h"

int
cli_stdin_read(int fd, char **text, size_t *len, char *err, size_t n)
{
    *text = NULL;
    *len = 0;
    // one byte more than allowed tells "too large" without reading on
    char *buf = malloc(CLI_STDIN_MAX + 2);
    if (!buf) {
        cli_fmt(err, n, "out of memory");
        return -1;
    }
    size_t got = 0;
    while (got <= CLI_STDIN_MAX) {
        ssize_t r = read(fd, buf + got, CLI_STDIN_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cli_fmt(err, n, "cannot read standard input: %s", strerror(errno));
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t) r;
    }
    if (got > CLI_STDIN_MAX) {
        cli_fmt(err, n,
                "the --stdin document is larger than %d KiB: refused (it "
                "holds a few fields, not files)",
                CLI_STDIN_MAX / 1024);
        free(buf);
        return -1;
    }
    buf[got] = 0;
    *text = buf;
    *len = got;
    return 0;
}

static bool
s_in(const char *const *set, const char *key)
{
    for (; set && *set; set++)
        if (!strcmp(*set, key))
            return true;
    return false;
}

int
cli_stdin_parse(const char *text, size_t len, const char *const *keys,
                const char *const *lists, json_t **out, char *err, size_t n)
{
    *out = NULL;
    json_error_t jerr;
    // jansson refuses invalid UTF-8 and \u0000 (no JSON_ALLOW_NUL)
    json_t *in = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        cli_fmt(err, n, "--stdin needs one JSON object (line %d: %s)",
                jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_object(in)) {
        cli_fmt(err, n, "--stdin needs one JSON object, not %s",
                json_is_array(in) ? "an array" : "a single value");
        json_decref(in);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v)
    {
        if (!s_in(keys, k)) {
            char list[512] = "";
            size_t used = 0;
            for (const char *const *p = keys; p && *p && used < sizeof list;
                 p++) {
                int w = snprintf(list + used, sizeof list - used, "%s%s",
                                 used ? ", " : "", *p);
                if (w < 0)
                    break;
                used += (size_t) w;
            }
            cli_fmt(err, n,
                    "--stdin: unknown key \"%.64s\" (this command takes: %s)",
                    k, list);
            json_decref(in);
            return -1;
        }
        bool ok = json_is_string(v) && json_string_length(v) > 0;
        if (json_is_array(v) && s_in(lists, k)) {
            size_t i;
            json_t *e;
            ok = true;
            json_array_foreach(v, i, e) ok =
                ok && json_is_string(e) && json_string_length(e) > 0;
        }
        if (!ok) {
            cli_fmt(err, n, "--stdin: \"%s\" must be %s", k,
                    s_in(lists, k) ? "a non-empty string or an array of them"
                                   : "a non-empty string");
            json_decref(in);
            return -1;
        }
    }
    *out = in;
    return 0;
}
