// pl_records - the documents inside sealed records (see pl_records.h).
// Layer: nodes.
#include "nodes/pl_records.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"

static const char *
s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static uint64_t
s_u64(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t) v : 0;
}

json_t *
pl_consent_rec_encode(const pl_consent_t *rec, const char *by)
{
    json_t *doc = json_object();
    json_t *sa = json_array(), *pa = json_array();
    for (size_t i = 0; i < rec->nsectors; i++)
        json_array_append_new(sa, json_string(rec->sectors[i]));
    for (size_t i = 0; i < rec->npurposes; i++)
        json_array_append_new(pa, json_string(rec->purposes[i]));
    json_object_set_new(doc, "sectors", sa);
    json_object_set_new(doc, "purposes", pa);
    json_object_set_new(doc, "given_by",
                        json_string(pl_consent_giver_name(rec->given_by)));
    if (rec->guardian_name[0])
        json_object_set_new(doc, "guardian_name",
                            json_string(rec->guardian_name));
    if (rec->child_views[0])
        json_object_set_new(doc, "child_views", json_string(rec->child_views));
    json_object_set_new(doc, "created",
                        json_integer((json_int_t) rec->created_at));
    json_object_set_new(doc, "expires",
                        json_integer((json_int_t) rec->expires_at));
    if (by && *by)
        json_object_set_new(doc, "by", json_string(by));
    if (rec->withdrawn_at)
        json_object_set_new(doc, "withdrawn",
                            json_integer((json_int_t) rec->withdrawn_at));
    return doc;
}

void
pl_consent_rec_decode(const json_t *j, const uint8_t id[16],
                      const uint8_t case_id[16], pl_consent_t *rec)
{
    memset(rec, 0, sizeof *rec);
    memcpy(rec->id, id, 16);
    memcpy(rec->case_id, case_id, 16);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "sectors"), i, e)
    {
        if (rec->nsectors < PL_CONSENT_SECTORS_MAX && json_is_string(e))
            snprintf(rec->sectors[rec->nsectors++], PL_CONSENT_CODE_MAX + 1,
                     "%s", json_string_value(e));
    }
    json_array_foreach(json_object_get(j, "purposes"), i, e)
    {
        if (rec->npurposes < PL_CONSENT_PURPOSES_MAX && json_is_string(e))
            snprintf(rec->purposes[rec->npurposes++], PL_CONSENT_CODE_MAX + 1,
                     "%s", json_string_value(e));
    }
    const char *gb = s_str(j, "given_by");
    if (!gb || pl_consent_giver_parse(gb, &rec->given_by) != PL_OK)
        rec->given_by = PL_GIVEN_BY_RETURNEE;
    const char *gn = s_str(j, "guardian_name"), *cv = s_str(j, "child_views");
    if (gn)
        snprintf(rec->guardian_name, sizeof rec->guardian_name, "%s", gn);
    if (cv)
        snprintf(rec->child_views, sizeof rec->child_views, "%s", cv);
    rec->created_at = s_u64(j, "created");
    rec->expires_at = s_u64(j, "expires");
    rec->withdrawn_at = s_u64(j, "withdrawn");
}

// ---- the case record (pl_case_rec_t)

// Where a known key of the case document lives in pl_case_rec_t.
typedef enum { S_STR, S_TIME, S_ARRAY } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t off; // offset of the char * / uint64_t / json_t * field
} s_field_t;

#define S_F(k, kind, field)                                                    \
    {                                                                          \
        k, kind, offsetof(pl_case_rec_t, field)                                \
    }

// In the order the node writes them (case.add, then close); "bia" and
// "withdrawals" are handled apart.
static const s_field_t s_case_fields[] = {
    S_F("given", S_STR, given),
    S_F("family", S_STR, family),
    S_F("birth", S_STR, birth),
    S_F("sex", S_STR, sex),
    S_F("phone", S_STR, phone),
    S_F("language", S_STR, language),
    S_F("uasc", S_STR, uasc),
    S_F("needs", S_ARRAY, needs),
    S_F("flags", S_ARRAY, flags),
    S_F("created", S_TIME, created),
    S_F("by", S_STR, by),
    S_F("closed", S_TIME, closed),
    S_F("close_reason", S_STR, close_reason),
    S_F("closed_by", S_STR, closed_by),
};

static void
s_str_free(char **p)
{
    if (*p) {
        pl_wipe(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

int
pl_case_rec_set(char **field, const char *v)
{
    s_str_free(field);
    if (!v)
        return PL_OK;
    *field = strdup(v);
    return *field ? PL_OK : PL_ENOMEM;
}

// Reads one known field; false when 'v' has another type (then kept in
// extra). A time is a non-negative integer (the old code wrote
// json_integer of a uint64_t).
static bool
s_field_get(pl_case_rec_t *rec, const s_field_t *f, json_t *v, int *rc)
{
    char *base = (char *) rec + f->off;
    switch (f->kind) {
    case S_STR:
        if (!json_is_string(v))
            return false;
        *rc = pl_case_rec_set((char **) (void *) base, json_string_value(v));
        return true;
    case S_TIME:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return false;
        *(uint64_t *) (void *) base = (uint64_t) json_integer_value(v);
        return true;
    case S_ARRAY:
        if (!json_is_array(v))
            return false;
        *(json_t **) (void *) base = json_deep_copy(v);
        if (!*(json_t **) (void *) base)
            *rc = PL_ENOMEM;
        return true;
    }
    return false;
}

static int
s_extra_set(json_t **extra, const char *key, json_t *v)
{
    if (!*extra && !(*extra = json_object()))
        return PL_ENOMEM;
    return json_object_set_new(*extra, key, json_deep_copy(v)) == 0 ? PL_OK
                                                                    : PL_ENOMEM;
}

static int
s_bia_get(pl_case_rec_t *rec, json_t *b)
{
    rec->has_bia = true;
    int rc = PL_OK;
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        if (strcmp(k, "ref") == 0 && json_is_string(v))
            rc = pl_case_rec_set(&rec->bia.ref, json_string_value(v));
        else if (strcmp(k, "by") == 0 && json_is_string(v))
            rc = pl_case_rec_set(&rec->bia.by, json_string_value(v));
        else if (strcmp(k, "date") == 0 && json_is_integer(v)
                 && json_integer_value(v) >= 0)
            rec->bia.date = (uint64_t) json_integer_value(v);
        else if (strcmp(k, "recorded") == 0 && json_is_integer(v)
                 && json_integer_value(v) >= 0)
            rec->bia.recorded = (uint64_t) json_integer_value(v);
        else
            rc = s_extra_set(&rec->bia.extra, k, v);
        if (rc != PL_OK)
            return rc;
    }
    return PL_OK;
}

int
pl_case_rec_decode(const json_t *j, pl_case_rec_t *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!json_is_object(j))
        return PL_EPROTO;
    int rc = PL_OK;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) j, k, v)
    {
        bool known = false;
        for (size_t i = 0;
             !known && i < sizeof s_case_fields / sizeof *s_case_fields; i++)
            if (strcmp(k, s_case_fields[i].key) == 0)
                known = s_field_get(rec, &s_case_fields[i], v, &rc);
        if (!known && strcmp(k, "bia") == 0 && json_is_object(v)) {
            known = true;
            rc = s_bia_get(rec, v);
        } else if (!known && strcmp(k, "withdrawals") == 0
                   && json_is_array(v)) {
            known = true;
            if (!(rec->withdrawals = json_deep_copy(v)))
                rc = PL_ENOMEM;
        }
        if (!known)
            rc = s_extra_set(&rec->extra, k, v);
        if (rc != PL_OK) {
            pl_case_rec_free(rec);
            return rc;
        }
    }
    return PL_OK;
}

// Sets 'key' of 'o' to a copy of every key of 'extra' not already in it.
static void
s_extra_put(json_t *o, const json_t *extra)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) extra, k, v)
    {
        if (!json_object_get(o, k))
            json_object_set_new(o, k, json_deep_copy(v));
    }
}

json_t *
pl_case_rec_encode(const pl_case_rec_t *rec)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < sizeof s_case_fields / sizeof *s_case_fields; i++) {
        const s_field_t *f = &s_case_fields[i];
        const char *base = (const char *) rec + f->off;
        json_t *v = NULL;
        if (f->kind == S_STR && *(char *const *) (const void *) base)
            v = json_string(*(char *const *) (const void *) base);
        else if (f->kind == S_TIME && *(const uint64_t *) (const void *) base)
            v = json_integer((json_int_t)
                             * (const uint64_t *) (const void *) base);
        else if (f->kind == S_ARRAY && *(json_t *const *) (const void *) base)
            v = json_deep_copy(*(json_t *const *) (const void *) base);
        if (v)
            json_object_set_new(o, f->key, v);
    }
    if (rec->has_bia) {
        json_t *b = json_object();
        if (rec->bia.ref)
            json_object_set_new(b, "ref", json_string(rec->bia.ref));
        json_object_set_new(b, "date",
                            json_integer((json_int_t) rec->bia.date));
        json_object_set_new(b, "recorded",
                            json_integer((json_int_t) rec->bia.recorded));
        if (rec->bia.by)
            json_object_set_new(b, "by", json_string(rec->bia.by));
        s_extra_put(b, rec->bia.extra);
        json_object_set_new(o, "bia", b);
    }
    if (rec->withdrawals)
        json_object_set_new(o, "withdrawals", json_deep_copy(rec->withdrawals));
    s_extra_put(o, rec->extra);
    return o;
}

void
pl_case_rec_free(pl_case_rec_t *rec)
{
    if (!rec)
        return;
    for (size_t i = 0; i < sizeof s_case_fields / sizeof *s_case_fields; i++) {
        char *base = (char *) rec + s_case_fields[i].off;
        if (s_case_fields[i].kind == S_STR)
            s_str_free((char **) (void *) base);
        else if (s_case_fields[i].kind == S_ARRAY)
            json_decref(*(json_t **) (void *) base);
    }
    s_str_free(&rec->bia.ref);
    s_str_free(&rec->bia.by);
    json_decref(rec->bia.extra);
    json_decref(rec->withdrawals);
    json_decref(rec->extra);
    memset(rec, 0, sizeof *rec);
}
