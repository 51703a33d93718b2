// pl_conf - "key = value" files read into getopt arguments. Layer: proto.
#include "proto/pl_conf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/pl_util.h"

static const char *const s_refused[] = {"config", "check-config", "help"};

const char *
pl_conf_path(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    return path;
}

static char *
s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

// The value of an option without argument: 1 true, 0 false, -1 neither.
static int
s_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return 1;
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static int
s_push(pl_conf_t *c, size_t *cap, char *arg, int line)
{
    if ((size_t) c->argc + 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **a = realloc(c->argv, ncap * sizeof *a);
        if (!a)
            return PL_ENOMEM;
        c->argv = a;
        int *l = realloc(c->line, ncap * sizeof *l);
        if (!l)
            return PL_ENOMEM;
        c->line = l;
        *cap = ncap;
    }
    c->argv[c->argc] = arg;
    c->line[c->argc] = line;
    c->argc++;
    c->argv[c->argc] = NULL;
    return PL_OK;
}

// One line "key = value" (already without comment and blanks) of the file.
static int
s_line(pl_conf_t *c, size_t *cap, const struct option *opts, int *seen,
       char *text, int ln, const char *path, char *err, size_t err_size)
{
    char *eq = strchr(text, '=');
    if (!eq) {
        pl_errf(err, err_size, "%s:%d: expected 'key = value', not '%.80s'",
                path, ln, text);
        return PL_EINVAL;
    }
    *eq = 0;
    char *key = s_trim(text), *val = s_trim(eq + 1);
    if (!*key) {
        pl_errf(err, err_size, "%s:%d: a line without a key", path, ln);
        return PL_EINVAL;
    }
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
        val[vl - 1] = 0;
        val++;
    } else if (strchr(val, '"')) {
        pl_errf(err, err_size, "%s:%d: %s: unbalanced quote", path, ln, key);
        return PL_EINVAL;
    }
    if (!*val) {
        pl_errf(err, err_size, "%s:%d: %s has no value", path, ln, key);
        return PL_EINVAL;
    }
    for (size_t i = 0; i < sizeof s_refused / sizeof s_refused[0]; i++)
        if (strcmp(key, s_refused[i]) == 0) {
            pl_errf(err, err_size,
                    "%s:%d: '%s' belongs on the command line, not in a file",
                    path, ln, key);
            return PL_EINVAL;
        }
    const struct option *o = opts;
    while (o->name && strcmp(o->name, key) != 0)
        o++;
    if (!o->name) {
        pl_errf(err, err_size, "%s:%d: unknown key '%.80s'", path, ln, key);
        return PL_EINVAL;
    }
    size_t idx = (size_t) (o - opts);
    if (idx < PL_CONF_MAX_KEYS && seen[idx]) {
        pl_errf(err, err_size, "%s:%d: %s is already set on line %d", path, ln,
                key, seen[idx]);
        return PL_EINVAL;
    }
    if (idx < PL_CONF_MAX_KEYS)
        seen[idx] = ln;
    char *arg = NULL;
    if (o->has_arg == no_argument) {
        int b = s_bool(val);
        if (b < 0) {
            pl_errf(err, err_size, "%s:%d: %s wants true or false, not '%.80s'",
                    path, ln, key, val);
            return PL_EINVAL;
        }
        if (b == 0) // false: the option is simply not given
            return PL_OK;
        if (asprintf(&arg, "--%s", key) < 0)
            return PL_ENOMEM;
    } else if (asprintf(&arg, "--%s=%s", key, val) < 0) {
        return PL_ENOMEM;
    }
    int rc = s_push(c, cap, arg, ln);
    if (rc != PL_OK)
        free(arg);
    return rc;
}

static int
s_read(pl_conf_t *c, size_t *cap, const char *path, const struct option *opts,
       char *err, size_t err_size)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        pl_errf(err, err_size, "%s: %s", path, strerror(errno));
        return PL_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > PL_CONF_MAX_BYTES) {
        pl_errf(err, err_size, "%s: not a regular file of at most %d bytes",
                path, PL_CONF_MAX_BYTES);
        fclose(f);
        return PL_EINVAL;
    }
    int seen[PL_CONF_MAX_KEYS] = {0}; // line of each option already set
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t got;
    int ln = 0, rc = PL_OK;
    while (rc == PL_OK && (got = getline(&buf, &bcap, f)) >= 0) {
        ln++;
        size_t n = (size_t) got;
        if (n && buf[n - 1] == '\n')
            buf[--n] = 0;
        if (n > PL_CONF_MAX_LINE) {
            pl_errf(err, err_size, "%s:%d: line longer than %d bytes", path, ln,
                    PL_CONF_MAX_LINE);
            rc = PL_EINVAL;
            break;
        }
        if (strlen(buf) != n) {
            pl_errf(err, err_size, "%s:%d: a NUL byte in the line", path, ln);
            rc = PL_EINVAL;
            break;
        }
        char *t = s_trim(buf);
        // a comment: '#' at the start or after a blank, outside quotes (a
        // value such as an ipc path may hold a '#' of its own)
        char *hash = t;
        bool quoted = false;
        for (; *hash; hash++) {
            if (*hash == '"')
                quoted = !quoted;
            if (*hash == '#' && !quoted
                && (hash == t || hash[-1] == ' ' || hash[-1] == '\t'))
                break;
        }
        *hash = 0;
        t = s_trim(t);
        if (!*t)
            continue;
        rc = s_line(c, cap, opts, seen, t, ln, path, err, err_size);
    }
    free(buf);
    if (rc == PL_OK && ferror(f)) {
        pl_errf(err, err_size, "%s: %s", path, strerror(errno));
        rc = PL_EIO;
    }
    fclose(f);
    return rc;
}

int
pl_conf_load(pl_conf_t *conf, const char *path, const struct option *opts,
             int argc, char **argv, char *err, size_t err_size)
{
    memset(conf, 0, sizeof *conf);
    conf->path = path;
    size_t cap = 0;
    char *a0 = strdup(argc > 0 ? argv[0] : "daemon");
    int rc = a0 ? s_push(conf, &cap, a0, 0) : PL_ENOMEM;
    if (rc != PL_OK)
        free(a0);
    if (rc == PL_OK && path)
        rc = s_read(conf, &cap, path, opts, err, err_size);
    for (int i = 1; rc == PL_OK && i < argc; i++) {
        char *a = strdup(argv[i]);
        rc = a ? s_push(conf, &cap, a, 0) : PL_ENOMEM;
        if (rc != PL_OK)
            free(a);
    }
    if (rc == PL_ENOMEM)
        pl_errf(err, err_size, "out of memory");
    if (rc != PL_OK)
        pl_conf_free(conf);
    return rc;
}

int
pl_conf_line(const pl_conf_t *conf, int index)
{
    if (!conf || !conf->line || index < 0 || index >= conf->argc)
        return 0;
    return conf->line[index];
}

void
pl_conf_blame(const pl_conf_t *conf, int index, const char *prog, FILE *out)
{
    int ln = pl_conf_line(conf, index);
    if (ln <= 0)
        return;
    const char *a = conf->argv[index] + 2;
    const char *eq = strchr(a, '=');
    int kl = eq ? (int) (eq - a) : (int) strlen(a);
    fprintf(out, "%s: %s:%d: bad value for %.*s (see above)\n", prog,
            conf->path, ln, kl, a);
}

void
pl_conf_free(pl_conf_t *conf)
{
    if (!conf)
        return;
    for (int i = 0; i < conf->argc; i++)
        free(conf->argv[i]);
    free(conf->argv);
    free(conf->line);
    memset(conf, 0, sizeof *conf);
}
