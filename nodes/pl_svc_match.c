// pl_svc_match - from a person's needs and context to services ranked by
// fit and capacity, each with its reasons (issue 18). Layer: nodes,
// domain.
//
// Rules and weights (docs/services.md):
//   excluded  inactive; the person's age outside min_age..max_age; a sex
//             the service does not take; a service that meets none of the
//             needs, is not the lowest survey dimension and is not in the
//             grid for a need
//   +40       its dimension is one of the needs
//   +20       its dimension is the lowest survey dimension (issue 17)
//   +25       its code is in the feasibility grid for a need and context
//   +20       in the person's region
//   +10 / -10 speaks / does not list the person's language (no list: 0)
//   +15 / +5 / -30   capacity open / limited / full; a signal older than
//             14 days, or none, counts 0 ("unknown")
// Ties: by address, then code.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_svc.h"

typedef struct {
    json_t *reasons;
    int score;
} s_fit_t;

static void s_why(s_fit_t *f, int points, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Adds 'points' and the reason "+N text" to 'f'.
static void
s_why(s_fit_t *f, int points, const char *fmt, ...)
{
    char line[160], full[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (points)
        snprintf(full, sizeof full, "%+d %s", points, line);
    else
        snprintf(full, sizeof full, "%s", line);
    json_array_append_new(f->reasons, json_string(full));
    f->score += points;
}

static bool
s_has(const json_t *arr, const char *v)
{
    const json_t *x;
    size_t i;
    json_array_foreach(arr, i,
                       x) if (v && json_is_string(x)
                              && !strcmp(json_string_value(x), v)) return true;
    return false;
}

// Is 'code' in the grid for one of the needs in this context? Sets the
// need it is for.
static const char *
s_grid(const json_t *grid, const pl_svc_person_t *p, const char *code)
{
    const json_t *rules = json_object_get(grid, "rules"), *r;
    size_t i;
    json_array_foreach(rules, i, r)
    {
        const char *need = json_string_value(json_object_get(r, "need"));
        const char *cx = json_string_value(json_object_get(r, "context"));
        bool cx_ok = !cx || !strcmp(cx, "any")
                     || !strcmp(cx, p->child ? "child" : "adult");
        if (need && cx_ok && s_has(p->needs, need)
            && s_has(json_object_get(r, "services"), code))
            return need;
    }
    return NULL;
}

// The hard limits: NULL when the person may use it, else why not.
static const char *
s_excluded(const json_t *e, const pl_svc_person_t *p, char *buf, size_t n)
{
    const char *st = json_string_value(json_object_get(e, "status"));
    if (st && !strcmp(st, "inactive"))
        return "inactive";
    const json_t *mn = json_object_get(e, "min_age"),
                 *mx = json_object_get(e, "max_age");
    if (p->age >= 0 && mn && p->age < json_integer_value(mn)) {
        snprintf(buf, n, "from age %lld", (long long) json_integer_value(mn));
        return buf;
    }
    if (p->age >= 0 && mx && p->age > json_integer_value(mx)) {
        snprintf(buf, n, "up to age %lld", (long long) json_integer_value(mx));
        return buf;
    }
    const char *sex = json_string_value(json_object_get(e, "sex"));
    if (p->sex && sex && strcmp(sex, "any") && strcmp(sex, p->sex)) {
        snprintf(buf, n, "for %s only", sex);
        return buf;
    }
    return NULL;
}

static void
s_capacity(s_fit_t *f, const json_t *e, uint64_t now)
{
    const json_t *c = json_object_get(e, "capacity");
    const char *st = json_string_value(json_object_get(c, "state"));
    uint64_t at = (uint64_t) json_integer_value(json_object_get(c, "set_at"));
    uint64_t until = (uint64_t) json_integer_value(json_object_get(c, "until"));
    if (!st || (until && until <= now)) {
        s_why(f, 0, "capacity unknown");
        return;
    }
    if (at + PL_SVC_STALE_S < now) {
        s_why(f, 0, "capacity signal older than 14 days: unknown");
        return;
    }
    int pts = !strcmp(st, "open") ? 15 : !strcmp(st, "limited") ? 5 : -30;
    s_why(f, pts, "capacity %s", st);
}

// Scores one entry; false (with the reason in 'f') when excluded.
static bool
s_fit(const json_t *e, const pl_svc_person_t *p, const json_t *grid,
      uint64_t now, s_fit_t *f)
{
    char buf[64];
    const char *why = s_excluded(e, p, buf, sizeof buf);
    if (why) {
        s_why(f, 0, "excluded: %s", why);
        return false;
    }
    const char *dim = json_string_value(json_object_get(e, "dimension"));
    const char *code = json_string_value(json_object_get(e, "code"));
    bool need = s_has(p->needs, dim);
    bool low = dim && p->lowest && !strcmp(dim, p->lowest);
    const char *gneed = grid ? s_grid(grid, p, code) : NULL;
    if (!need && !low && !gneed) {
        s_why(f, 0, "excluded: meets none of the needs");
        return false;
    }
    if (need && dim)
        s_why(f, 40, "meets the %s need", dim);
    if (low && dim)
        s_why(f, 20, "%s is the lowest survey dimension", dim);
    if (gneed)
        s_why(f, 25, "in the feasibility grid for the %s need", gneed);
    const char *reg = json_string_value(json_object_get(e, "region"));
    if (p->region && reg && !strcmp(reg, p->region))
        s_why(f, 20, "in the region (%s)", reg);
    else if (p->region && reg)
        s_why(f, 0, "in another region (%s)", reg);
    const json_t *langs = json_object_get(e, "languages");
    if (p->language && json_array_size(langs)) {
        bool sp = s_has(langs, p->language);
        s_why(f, sp ? 10 : -10, "%s %s", sp ? "speaks" : "does not list",
              p->language);
    }
    s_capacity(f, e, now);
    return true;
}

static int
s_rank(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
    json_int_t sx = json_integer_value(json_object_get(x, "score"));
    json_int_t sy = json_integer_value(json_object_get(y, "score"));
    if (sx != sy)
        return sx > sy ? -1 : 1;
    int c = strcmp(json_string_value(json_object_get(x, "address")),
                   json_string_value(json_object_get(y, "address")));
    return c ? c
             : strcmp(json_string_value(json_object_get(x, "code")),
                      json_string_value(json_object_get(y, "code")));
}

// 'a' sorted by s_rank (a new array).
static json_t *
s_sorted(json_t *a)
{
    size_t n = json_array_size(a);
    json_t **v = n ? calloc(n, sizeof *v) : NULL;
    json_t *out = json_array();
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_array_get(a, i);
    if (v)
        qsort(v, n, sizeof *v, s_rank);
    for (size_t i = 0; v && i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(a);
    return out;
}

json_t *
pl_svc_match(const json_t *offers, const pl_svc_person_t *p, const json_t *grid,
             uint64_t now)
{
    json_t *ok = json_array(), *out = json_array(), *o;
    size_t i;
    json_array_foreach(offers, i, o)
    {
        const json_t *e = json_object_get(o, "entry");
        s_fit_t f = {.reasons = json_array(), .score = 0};
        bool fits = s_fit(e, p, grid, now, &f);
        json_t *r = json_pack("{s:O, s:O, s:O?, s:O?, s:O?, s:i, s:o}",
                              "address", json_object_get(o, "address"), "code",
                              json_object_get(e, "code"), "name_fr",
                              json_object_get(e, "name_fr"), "name_en",
                              json_object_get(e, "name_en"), "capacity",
                              json_object_get(e, "capacity"), "score", f.score,
                              "reasons", f.reasons);
        json_array_append_new(fits ? ok : out, r);
    }
    return json_pack("{s:o, s:o}", "suggestions", s_sorted(ok), "excluded",
                     out);
}
