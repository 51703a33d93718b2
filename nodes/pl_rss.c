// pl_rss - RSS scoring (see pl_rss.h). Layer: nodes, domain. Pure.
#include "nodes/pl_rss.h"

#include <math.h> // isfinite (a macro)
#include <stdio.h>
#include <string.h>

static const char *const s_dims[PL_RSS_DIMS] = {"economic", "social",
                                                "psychosocial"};
static const char *const s_sectors[PL_RSS_DIMS] = {
    "livelihood", "social-protection", "mhpss"};

// data/rss-weights-v1.json, compact (tests/nodes/test_rss.c checks that
// both say the same)
static const char s_default[] =
    "{\"weights_version\":\"placeholder-equal-v1\",\"placeholder\":true,\"note"
    "\":\"PLACEHOLDER weights: equal item weights within each dimension a"
    "nd equal dimension weights. This is NOT IOM's Annex 4 method; load"
    " the programme's verified table with 'passerelle rss weights --loa"
    "d FILE'.\",\"instrument_version\":\"RSS-Annex4-2019 (items recalled, n"
    "ot verified)\",\"missing_max_permille\":300,\"dimensions\":{\"economic\":"
    "{\"weight\":1,\"items\":{\"E1\":{\"scale\":5,\"weight\":1},\"E2\":{"
    "\"scale\":5,\""
    "weight\":1,\"reverse\":true},\"E3\":{\"scale\":2,\"weight\":1},\"E4\":{"
    "\"scale"
    "\":5,\"weight\":1,\"reverse\":true},\"E5\":{\"scale\":3,\"weight\":1},"
    "\"E6\":{\""
    "scale\":2,\"weight\":1},\"E7\":{\"scale\":5,\"weight\":1},\"E8\":{"
    "\"scale\":2,\""
    "weight\":1}}},\"social\":{\"weight\":1,\"items\":{\"S1\":{\"scale\":5,"
    "\"weight"
    "\":1},\"S2\":{\"scale\":5,\"weight\":1},\"S3\":{\"scale\":2,\"weight\":1},"
    "\"S4\":"
    "{\"scale\":5,\"weight\":1},\"S5\":{\"scale\":5,\"weight\":1},\"S6\":{"
    "\"scale\":2"
    ",\"weight\":1},\"S7\":{\"scale\":5,\"weight\":1},\"S8\":{\"scale\":5,"
    "\"weight\":"
    "1},\"S9\":{\"scale\":5,\"weight\":1}}},\"psychosocial\":{\"weight\":1,"
    "\"items"
    "\":{\"P1\":{\"scale\":5,\"weight\":1},\"P2\":{\"scale\":5,\"weight\":1},"
    "\"P3\":{\""
    "scale\":5,\"weight\":1},\"P4\":{\"scale\":5,\"weight\":1,\"reverse\":true}"
    ",\"P"
    "5\":{\"scale\":5,\"weight\":1,\"reverse\":true},\"P6\":{\"scale\":2,"
    "\"weight\":"
    "1,\"reverse\":true},\"P7\":{\"scale\":5,\"weight\":1},\"P8\":{\"scale\":2,"
    "\"wei"
    "ght\":1,\"reverse\":true}}}}}";

const char *
pl_rss_dim_name(int i)
{
    return i >= 0 && i < PL_RSS_DIMS ? s_dims[i] : NULL;
}

const char *
pl_rss_sector(int i)
{
    return i >= 0 && i < PL_RSS_DIMS ? s_sectors[i] : NULL;
}

const char *
pl_rss_default_text(void)
{
    return s_default;
}

static int
s_fail(char *err, size_t n, const char *what, const char *name)
{
    snprintf(err, n, "%s%s%s", what, name ? " " : "", name ? name : "");
    return -1;
}

static bool
s_positive(const json_t *v, double *out)
{
    if (!json_is_number(v) || json_number_value(v) <= 0
        || !isfinite(json_number_value(v)))
        return false;
    *out = json_number_value(v);
    return true;
}

static int
s_parse_items(const json_t *items, int d, pl_rss_weights_t *w, char *err,
              size_t n)
{
    const char *code;
    json_t *it;
    if (!json_is_object(items) || !json_object_size(items))
        return s_fail(err, n, "weights: no items in dimension", s_dims[d]);
    json_object_foreach((json_t *) items, code, it)
    {
        if (w->n == PL_RSS_ITEMS)
            return s_fail(err, n, "weights: too many items", NULL);
        pl_rss_item_t *x = &w->items[w->n];
        json_int_t k = json_integer_value(json_object_get(it, "scale"));
        json_t *rev = json_object_get(it, "reverse");
        if (strlen(code) == 0 || strlen(code) >= sizeof x->code || k < 2
            || k > 11 || !s_positive(json_object_get(it, "weight"), &x->w)
            || (rev && !json_is_boolean(rev)))
            return s_fail(err, n, "weights: bad item", code);
        for (size_t i = 0; i < w->n; i++)
            if (strcmp(w->items[i].code, code) == 0)
                return s_fail(err, n, "weights: item twice:", code);
        snprintf(x->code, sizeof x->code, "%s", code);
        x->dim = d;
        x->scale = (unsigned) k;
        x->reverse = json_is_true(rev);
        w->n++;
    }
    return 0;
}

int
pl_rss_weights_parse(const json_t *j, pl_rss_weights_t *w, char *err, size_t n)
{
    memset(w, 0, sizeof *w);
    const char *v = json_string_value(json_object_get(j, "weights_version"));
    const char *iv =
        json_string_value(json_object_get(j, "instrument_version"));
    json_t *mm = json_object_get(j, "missing_max_permille");
    json_t *dims = json_object_get(j, "dimensions");
    if (!v || !*v || strlen(v) >= sizeof w->version)
        return s_fail(err, n, "weights: weights_version (1-63 bytes) missing",
                      NULL);
    if (!json_is_integer(mm) || json_integer_value(mm) < 0
        || json_integer_value(mm) > 1000)
        return s_fail(err, n, "weights: missing_max_permille not in 0-1000",
                      NULL);
    if (!json_is_object(dims) || json_object_size(dims) != PL_RSS_DIMS)
        return s_fail(err, n,
                      "weights: dimensions must be exactly economic, "
                      "social, psychosocial",
                      NULL);
    snprintf(w->version, sizeof w->version, "%s", v);
    snprintf(w->instrument, sizeof w->instrument, "%s", iv ? iv : "");
    w->placeholder = json_is_true(json_object_get(j, "placeholder"));
    w->missing_max = (unsigned) json_integer_value(mm);
    for (int d = 0; d < PL_RSS_DIMS; d++) {
        json_t *o = json_object_get(dims, s_dims[d]);
        if (!o || !s_positive(json_object_get(o, "weight"), &w->dw[d]))
            return s_fail(err, n, "weights: no weight for dimension",
                          s_dims[d]);
        if (s_parse_items(json_object_get(o, "items"), d, w, err, n) != 0)
            return -1;
    }
    return 0;
}

int
pl_rss_permille(double x)
{
    // half up; the epsilon keeps an exact half (0.5625 -> 563) from being
    // lost to a binary fraction just below it
    // x >= 0: the cast truncates, which is floor here (no libm needed)
    return (int) (x * 1000.0 + 0.5 + 1e-9);
}

int
pl_rss_bin(int pm)
{
    if (pm < 0)
        return -1;
    return pm >= 800 ? 4 : pm / 200;
}

// x of one answer: 0 with *x, 1 when missing, -1 on a bad value.
static int
s_value(const pl_rss_item_t *it, const json_t *a, double *x)
{
    json_int_t rank;
    const char *s = json_string_value(a);
    if (!a
        || (s
            && (!strcmp(s, "dont_know") || !strcmp(s, "refused")
                || !strcmp(s, "n_a"))))
        return 1;
    if (s && it->scale == 2 && (!strcmp(s, "yes") || !strcmp(s, "no")))
        rank = !strcmp(s, "yes") ? 2 : 1;
    else if (json_is_integer(a))
        rank = json_integer_value(a);
    else
        return -1;
    if (rank < 1 || rank > (json_int_t) it->scale)
        return -1;
    *x = (double) (rank - 1) / (double) (it->scale - 1);
    if (it->reverse)
        *x = 1.0 - *x;
    return 0;
}

static int
s_unknown(const pl_rss_weights_t *w, const json_t *answers, char *err, size_t n)
{
    const char *code;
    json_t *a;
    json_object_foreach((json_t *) answers, code, a)
    {
        size_t i = 0;
        while (i < w->n && strcmp(w->items[i].code, code) != 0)
            i++;
        if (i == w->n)
            return s_fail(err, n, "unknown survey item", code);
    }
    return 0;
}

int
pl_rss_score(const pl_rss_weights_t *w, const json_t *answers,
             pl_rss_score_t *out, char *err, size_t n)
{
    double sum[PL_RSS_DIMS] = {0}, tot[PL_RSS_DIMS] = {0},
           miss[PL_RSS_DIMS] = {0};
    memset(out, 0, sizeof *out);
    if (!json_is_object(answers))
        return s_fail(err, n, "the answers must be a JSON object", NULL);
    if (s_unknown(w, answers, err, n) != 0)
        return -1;
    for (size_t i = 0; i < w->n; i++) {
        const pl_rss_item_t *it = &w->items[i];
        double x = 0;
        int r = s_value(it, json_object_get(answers, it->code), &x);
        if (r < 0)
            return s_fail(err, n,
                          "bad answer (a rank 1..scale, yes/no, "
                          "dont_know, refused or n_a) for",
                          it->code);
        tot[it->dim] += it->w;
        if (r == 1) {
            miss[it->dim] += it->w;
            out->missing++;
        } else {
            sum[it->dim] += it->w * x;
        }
    }
    double c = 0, cw = 0, low = 2;
    out->valid = true;
    out->lowest = -1;
    for (int d = 0; d < PL_RSS_DIMS; d++) {
        out->dim[d] = PL_RSS_NONE;
        double answered = tot[d] - miss[d];
        if (answered <= 0 || miss[d] * 1000.0 > tot[d] * w->missing_max) {
            out->valid = false;
            continue;
        }
        double dv = sum[d] / answered;
        out->dim[d] = pl_rss_permille(dv);
        c += w->dw[d] * dv;
        cw += w->dw[d];
        if (dv < low) {
            low = dv;
            out->lowest = d;
        }
    }
    out->composite = cw > 0 ? pl_rss_permille(c / cw) : PL_RSS_NONE;
    return 0;
}
