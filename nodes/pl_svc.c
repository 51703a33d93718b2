// pl_svc - service catalogue entries, the signed catalogue, capacity and
// matching. Layer: nodes, domain.
#include "nodes/pl_svc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

static const char s_tag[] = "passerelle-catalogue-v1"; // NUL included

// ---- entries

static bool
s_in(const char *v, const char *const *set)
{
    for (; v && *set; set++)
        if (strcmp(v, *set) == 0)
            return true;
    return false;
}

// A text member: absent, or a string of 1..max bytes.
static bool
s_text_ok(const json_t *e, const char *key, size_t max)
{
    const json_t *v = json_object_get(e, key);
    return !v
           || (json_is_string(v) && json_string_length(v) > 0
               && json_string_length(v) <= max);
}

// An array member: absent, or an array of at most 16 short strings.
static bool
s_list_ok(const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key), *x;
    size_t i;
    if (!v)
        return true;
    if (!json_is_array(v) || json_array_size(v) > 16)
        return false;
    json_array_foreach(v, i, x) if (!json_is_string(x)
                                    || json_string_length(x) == 0
                                    || json_string_length(x) > 64) return false;
    return true;
}

static bool
s_age_ok(const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key);
    return !v
           || (json_is_integer(v) && json_integer_value(v) >= 0
               && json_integer_value(v) <= 130);
}

static const char *
s_check_place(const json_t *e)
{
    const char *region = json_string_value(json_object_get(e, "region"));
    if (json_object_get(e, "region") && (!region || !pl_slug_valid(region)))
        return "region is a slug (a-z, 0-9, -)";
    const json_t *lat = json_object_get(e, "lat"),
                 *lon = json_object_get(e, "lon");
    if (!lat != !lon)
        return "give lat and lon together";
    if (lat
        && (!json_is_number(lat) || !json_is_number(lon)
            || fabs(json_number_value(lat)) > 90
            || fabs(json_number_value(lon)) > 180))
        return "lat is -90..90 and lon -180..180 degrees";
    return NULL;
}

const char *
pl_svc_entry_check(json_t *e)
{
    static const char *const sexes[] = {"any", "female", "male", NULL};
    static const char *const st[] = {"active", "inactive", NULL};
    if (!json_is_object(e))
        return "an entry is a JSON object";
    const char *code = json_string_value(json_object_get(e, "code"));
    if (!code || !pl_slug_valid(code))
        return "code is a slug (a-z, 0-9, -)";
    if (!json_object_get(e, "name_fr") && !json_object_get(e, "name_en"))
        return "give a name (name_fr or name_en)";
    static const char *const texts[] = {"name_fr", "name_en", "cost",
                                        "hours",   "reach",   NULL};
    for (const char *const *t = texts; *t; t++)
        if (!s_text_ok(e, *t, 200))
            return "names, cost, hours and reach are texts of 1 to 200 bytes";
    const char *sector = json_string_value(json_object_get(e, "sector"));
    if (!sector || !pl_sector_valid(sector) || !strcmp(sector, "broker"))
        return "sector is one of the contract sectors";
    if (!s_age_ok(e, "min_age") || !s_age_ok(e, "max_age"))
        return "ages are whole years 0..130";
    const json_t *mn = json_object_get(e, "min_age"),
                 *mx = json_object_get(e, "max_age");
    if (mn && mx && json_integer_value(mn) > json_integer_value(mx))
        return "min_age is above max_age";
    if (!json_object_get(e, "sex"))
        json_object_set_new(e, "sex", json_string("any"));
    if (!s_in(json_string_value(json_object_get(e, "sex")), sexes))
        return "sex is any, female or male";
    if (!json_object_get(e, "status"))
        json_object_set_new(e, "status", json_string("active"));
    if (!s_in(json_string_value(json_object_get(e, "status")), st))
        return "status is active or inactive";
    if (!s_list_ok(e, "languages") || !s_list_ok(e, "documents"))
        return "languages and documents are lists of at most 16 short texts";
    const char *why = s_check_place(e);
    if (why)
        return why;
    const char *dim = pl_sector_dimension(sector);
    json_object_set_new(e, "dimension", dim ? json_string(dim) : json_null());
    return NULL;
}

const char *
pl_svc_capacity(json_t *e, const char *state, long long free, uint64_t until,
                uint64_t now)
{
    static const char *const states[] = {"open", "limited", "full", NULL};
    if (!s_in(state, states))
        return "capacity is open, limited or full";
    if (free > 100000)
        return "free places: at most 100000";
    if (until && until <= now)
        return "until is a date in the future";
    json_t *c = json_object();
    json_object_set_new(c, "state", json_string(state));
    if (free >= 0)
        json_object_set_new(c, "free", json_integer(free));
    if (until)
        json_object_set_new(c, "until", json_integer((json_int_t) until));
    json_object_set_new(c, "set_at", json_integer((json_int_t) now));
    json_object_set_new(e, "capacity", c);
    return NULL;
}

// ---- the signed catalogue

// tag || NUL || text into 'b' (caller frees).
static int
s_message(const char *text, size_t n, pl_buf_t *b)
{
    int rc = pl_buf_append(b, s_tag, sizeof s_tag);
    return rc == PL_OK ? pl_buf_append(b, text, n) : rc;
}

json_t *
pl_svc_sign(const json_t *doc, const pl_keys_t *keys)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    pl_buf_t b = {0};
    if (!text || s_message(text, strlen(text), &b) != PL_OK) {
        free(text);
        pl_buf_free(&b);
        return NULL;
    }
    uint8_t sig[PL_SIG_BYTES];
    char hex[2 * PL_SIG_BYTES + 1];
    pl_sign(sig, b.data, b.len, keys);
    pl_buf_free(&b);
    pl_hex(hex, sig, sizeof sig);
    json_t *s = json_pack("{s:s, s:s}", "doc", text, "sig", hex);
    free(text);
    return s;
}

// The entries of 'doc': an array of well-formed entries, codes unique.
static bool
s_entries_ok(json_t *doc)
{
    json_t *a = json_object_get(doc, "services"), *e;
    size_t i;
    if (!json_is_array(a) || json_array_size(a) > PL_SVC_MAX)
        return false;
    json_array_foreach(a, i, e)
    {
        if (pl_svc_entry_check(e))
            return false;
        const char *code = json_string_value(json_object_get(e, "code"));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(code, json_string_value(json_object_get(
                                  json_array_get(a, j), "code"))))
                return false;
    }
    return true;
}

int
pl_svc_verify(const json_t *s, const pl_cert_t *cert, json_t **doc,
              const char **why)
{
    *doc = NULL;
    const json_t *t = json_object_get(s, "doc");
    const char *sh = json_string_value(json_object_get(s, "sig"));
    uint8_t sig[PL_SIG_BYTES];
    if (!json_is_string(t) || json_string_length(t) > PL_SVC_SIGNED_MAX || !sh
        || strlen(sh) != 2 * PL_SIG_BYTES || pl_unhex(sig, sizeof sig, sh)) {
        *why = "not a signed catalogue ({doc, sig})";
        return PL_EPROTO;
    }
    pl_buf_t b = {0};
    int rc = s_message(json_string_value(t), json_string_length(t), &b);
    if (rc == PL_OK)
        rc = pl_verify(sig, b.data, b.len, cert->keys.sign);
    pl_buf_free(&b);
    if (rc != PL_OK) {
        *why = "the signature is not by the key of the node's certificate";
        return PL_EAUTH;
    }
    json_t *d = json_loads(json_string_value(t), JSON_REJECT_DUPLICATES, NULL);
    const char *addr = json_string_value(json_object_get(d, "address"));
    if (!addr || strcmp(addr, cert->address) != 0) {
        json_decref(d);
        *why = "the catalogue names another address than its certificate";
        return PL_EAUTH;
    }
    if (!json_is_integer(json_object_get(d, "version")) || !s_entries_ok(d)) {
        json_decref(d);
        *why = "a malformed catalogue";
        return PL_EPROTO;
    }
    *doc = d;
    return PL_OK;
}
