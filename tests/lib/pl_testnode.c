// pl_testnode - node daemon test helpers. Layer: tests.
#include "tests/lib/pl_testnode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
pl_testnode_start(pl_test_net_t *net, int i, const char *const extra[],
                  const char *const env[])
{
    char log[700], ctl[600], bin[1024];
    snprintf(log, sizeof log, "%s/%s.log", net->root, net->name[i]);
    snprintf(ctl, sizeof ctl, "%s/control", net->home[i]);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("passerelle-node"));
    unlink(ctl); // a socket file left by a kill -9 must not fool the wait
    const char *argv[32] = {bin, "--home", net->home[i], "--broker",
                            net->endpoint};
    int n = 5;
    for (int k = 0; extra && extra[k] && n < 31; k++)
        argv[n++] = extra[k];
    argv[n] = NULL;
    net->node_pid[i] = pl_test_spawn(argv, log, env);
    PL_CHECK(pl_test_wait_file(ctl, 20000));
}

int
pl_testnode_tool(json_t **out, const char *err_path, const char *home,
                 const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    PL_CHECK(n > 0 && (size_t) n < sizeof args);
    char tool[1024];
    snprintf(tool, sizeof tool, "%s", pl_test_bin("pl-testmsg"));
    char redirect[700] = "";
    if (err_path)
        snprintf(redirect, sizeof redirect, "2>>'%s'", err_path);
    char *text = NULL;
    int rc =
        pl_test_sh(&text, "'%s' --home '%s' %s %s", tool, home, args, redirect);
    if (out) {
        json_error_t jerr;
        *out = text ? json_loads(text, 0, &jerr) : NULL;
    }
    free(text);
    return rc;
}

json_t *
pl_testnode_stats(const char *home)
{
    json_t *s = NULL;
    if (pl_testnode_tool(&s, "/dev/null", home, "stats") != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

long
pl_testnode_stat(const char *home, const char *path)
{
    json_t *s = pl_testnode_stats(home);
    if (!s)
        return -1;
    json_t *v = s;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); v && tok; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    long r = json_is_integer(v) ? (long) json_integer_value(v) : -1;
    json_decref(s);
    return r;
}

long
pl_testnode_wait_stat(const char *home, const char *path, long want,
                      int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long v = -1;
    for (;;) {
        v = pl_testnode_stat(home, path);
        if (v == want)
            return v;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms =
            (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > timeout_ms)
            return v;
        struct timespec d = {0, 200 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
}

long
pl_testnode_count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    long hits = 0;
    char line[8192];
    while (fgets(line, sizeof line, f))
        for (char *p = line; (p = strstr(p, needle)); p += strlen(needle))
            hits++;
    fclose(f);
    return hits;
}

typedef struct {
    const char *path, *needle;
    long n;
} s_logwait_t;

static bool
s_log_has(void *arg)
{
    s_logwait_t *w = arg;
    return pl_testnode_count_in_file(w->path, w->needle) >= w->n;
}

bool
pl_testnode_wait_log(const char *path, const char *needle, long n,
                     int timeout_ms)
{
    s_logwait_t w = {path, needle, n};
    return pl_test_wait(s_log_has, &w, timeout_ms);
}

const char *
pl_testnode_log(const pl_test_net_t *net, int i)
{
    static char slots[4][700];
    static int next;
    char *out = slots[next++ % 4];
    snprintf(out, 700, "%s/%s.log", net->root, net->name[i]);
    return out;
}

int
pl_testnode_cli(char **out, const pl_test_net_t *net, int i, const char *fmt,
                ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = NULL;
    int rc = pl_test_sh(&o, "'%s' --home '%s' %s 2>&1",
                        pl_test_bin("passerelle"), net->home[i], args);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}

char *
pl_testnode_line(const pl_test_net_t *net, int i, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = NULL;
    PL_CHECK(pl_test_sh(&o, "'%s' --home '%s' %s", pl_test_bin("passerelle"),
                        net->home[i], args)
                 == 0
             && o);
    o[strcspn(o, "\n")] = 0;
    return o;
}

json_t *
pl_testnode_json(const pl_test_net_t *net, int i, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = NULL;
    int rc = pl_test_sh(&o, "'%s' --home '%s' --json %s",
                        pl_test_bin("passerelle"), net->home[i], args);
    json_error_t jerr;
    json_t *doc = rc == 0 && o ? json_loads(o, 0, &jerr) : NULL;
    free(o);
    return doc;
}

bool
pl_testnode_wait_directory(const pl_test_net_t *net, int i, size_t n, int ms)
{
    for (int waited = 0; waited <= ms; waited += 100) {
        json_t *d = pl_testnode_json(net, i, "directory");
        size_t have = json_array_size(d);
        json_decref(d);
        if (have >= n)
            return true;
        pl_test_sh(NULL, "sleep 0.1");
    }
    return false;
}

json_t *
pl_testnode_wait_delivery(const pl_test_net_t *net, int i, const char *id,
                          int ms)
{
    for (int waited = 0; waited <= ms; waited += 100) {
        json_t *d = pl_testnode_json(net, i, "show %s", id);
        if (json_object_get(d, "delivery"))
            return d;
        json_decref(d);
        pl_test_sh(NULL, "sleep 0.1");
    }
    return NULL;
}

bool
pl_testnode_history_has(const json_t *show, const char *status,
                        const char *reason)
{
    size_t k;
    const json_t *e;
    json_array_foreach(json_object_get(show, "history"), k, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        const char *re = json_string_value(json_object_get(e, "reason"));
        if (st && re && strcmp(st, status) == 0 && strcmp(re, reason) == 0)
            return true;
    }
    return false;
}

// true when string member 'key' of 'o' is 'want'
static bool
s_is(const json_t *o, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

void
pl_testnode_expect_undelivered(const pl_test_net_t *net, int i, const char *ref,
                               const char *delivery, const char *code, int ms)
{
    json_t *d = pl_testnode_wait_delivery(net, i, ref, ms);
    PL_CHECK(d != NULL);
    PL_CHECK(s_is(d, "delivery", delivery));
    PL_CHECK(s_is(d, "delivery_reason", code));
    PL_CHECK(pl_testnode_history_has(d, "undelivered", delivery));
    json_decref(d);
    char *n =
        pl_testnode_line(net, i, "show %s | grep -c 'NEVER DELIVERED: %s (%s)'",
                         ref, delivery, code);
    PL_CHECK(strcmp(n, "1") == 0);
    free(n);
    char *a = NULL;
    PL_CHECK(pl_test_sh(&a, "'%s' --home '%s' audit export --json",
                        pl_test_bin("passerelle"), net->home[i])
             == 0);
    PL_CHECK(a && strstr(a, delivery) && strstr(a, code));
    free(a);
    json_t *v = pl_testnode_json(net, i, "audit verify");
    PL_CHECK(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
}

void
pl_testnode_revoke(const pl_test_net_t *net, int i, const char *to_home)
{
    char *out = NULL;
    PL_CHECK(pl_test_sh(&out, "'%s' --home '%s' whoami --json",
                        pl_test_bin("passerelle"), net->home[i])
             == 0);
    json_error_t je;
    json_t *who = out ? json_loads(out, 0, &je) : NULL;
    free(out);
    json_int_t serial = json_integer_value(json_object_get(who, "serial"));
    json_decref(who);
    PL_CHECK(serial > 0);
    PL_CHECK(pl_test_sh(NULL,
                        "'%s' authority revoke --home '%s' --serial %lld "
                        ">/dev/null && cp '%s/revoked' '%s/revoked'",
                        pl_test_bin("passerelle"), net->auth,
                        (long long) serial, net->auth, to_home)
             == 0);
}

void
pl_testnode_enrol_again(const pl_test_net_t *net, int i, const char *sector,
                        const char *cert_name)
{
    PL_CHECK(pl_test_sh(NULL,
                        "'%s' authority enroll --home '%s' --node '%s' "
                        "--name '%s' --sector '%s' --country SN "
                        "--region dakar >/dev/null && cp '%s/node.cert' "
                        "'%s/certs/%s'",
                        pl_test_bin("passerelle"), net->auth, net->home[i],
                        net->name[i], sector, net->home[i], net->broker,
                        cert_name)
             == 0);
}

bool
pl_testnode_revoked(const char *home)
{
    json_t *w = pl_testnode_stats(home);
    PL_CHECK(w != NULL);
    bool v = json_is_true(json_object_get(w, "revoked"));
    json_decref(w);
    return v;
}

char *
pl_testnode_case_for_health(const pl_test_net_t *net, int i, const char *given)
{
    char *c = pl_testnode_line(
        net, i, "case add --given %s --family Fall --birth 1990-01-01", given);
    free(pl_testnode_line(net, i,
                          "consent add --case %s --sectors health --given-by "
                          "returnee --expires 2099-12-31; echo",
                          c));
    return c;
}
