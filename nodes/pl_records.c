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
typedef enum {
    S_STR,    // char * (owned)
    S_TIME,   // uint64_t, written when not 0
    S_TIMEZ,  // uint64_t, always written (0 too)
    S_ARRAY,  // json_t * array (owned)
    S_OBJECT, // json_t * object (owned)
    S_BOOL,   // bool, with its has_ flag just before it
} s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t off; // offset of the char * / uint64_t / json_t * / bool field
} s_field_t;

// clang-format off
#define S_F(k, kind, field) {k, kind, offsetof(pl_case_rec_t, field)}
#define S_R(k, kind, field) {k, kind, offsetof(pl_ref_rec_t, field)}
// clang-format on

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
s_field_get(void *rec, const s_field_t *f, json_t *v, int *rc)
{
    char *base = (char *) rec + f->off;
    switch (f->kind) {
    case S_BOOL:
        if (!json_is_boolean(v))
            return false;
        *(bool *) (void *) base = json_is_true(v);
        *(bool *) (void *) (base - sizeof(bool)) = true; // has_
        return true;
    case S_OBJECT:
        if (!json_is_object(v))
            return false;
        *(json_t **) (void *) base = json_deep_copy(v);
        if (!*(json_t **) (void *) base)
            *rc = PL_ENOMEM;
        return true;
    case S_STR:
        if (!json_is_string(v))
            return false;
        *rc = pl_case_rec_set((char **) (void *) base, json_string_value(v));
        return true;
    case S_TIME:
    case S_TIMEZ:
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

// The known field of 'tab' named 'k' read from 'v' into 'rec': false when
// there is none or 'v' has another type.
static bool
s_known(void *rec, const s_field_t *tab, size_t n, const char *k, json_t *v,
        int *rc)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, tab[i].key) == 0)
            return s_field_get(rec, &tab[i], v, rc);
    return false;
}

// The fields of 'tab' of 'rec' into 'o', in table order.
static void
s_fields_put(json_t *o, const void *rec, const s_field_t *tab, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const s_field_t *f = &tab[i];
        const char *base = (const char *) rec + f->off;
        json_t *v = NULL;
        uint64_t t = 0;
        switch (f->kind) {
        case S_STR:
            if (*(char *const *) (const void *) base)
                v = json_string(*(char *const *) (const void *) base);
            break;
        case S_TIME:
        case S_TIMEZ:
            t = *(const uint64_t *) (const void *) base;
            if (t || f->kind == S_TIMEZ)
                v = json_integer((json_int_t) t);
            break;
        case S_ARRAY:
        case S_OBJECT:
            if (*(json_t *const *) (const void *) base)
                v = json_deep_copy(*(json_t *const *) (const void *) base);
            break;
        case S_BOOL:
            if (*(const bool *) (const void *) (base - sizeof(bool)))
                v = json_boolean(*(const bool *) (const void *) base);
            break;
        }
        if (v)
            json_object_set_new(o, f->key, v);
    }
}

// Frees the owned fields of 'tab' in 'rec'.
static void
s_fields_free(void *rec, const s_field_t *tab, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *base = (char *) rec + tab[i].off;
        if (tab[i].kind == S_STR)
            s_str_free((char **) (void *) base);
        else if (tab[i].kind == S_ARRAY || tab[i].kind == S_OBJECT)
            json_decref(*(json_t **) (void *) base);
    }
}

#define S_N(tab) (sizeof tab / sizeof *tab)

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
        bool known = s_known(rec, s_case_fields, S_N(s_case_fields), k, v, &rc);
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
    s_fields_put(o, rec, s_case_fields, S_N(s_case_fields));
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
    s_fields_free(rec, s_case_fields, S_N(s_case_fields));
    s_str_free(&rec->bia.ref);
    s_str_free(&rec->bia.by);
    json_decref(rec->bia.extra);
    json_decref(rec->withdrawals);
    json_decref(rec->extra);
    memset(rec, 0, sizeof *rec);
}

// ---- the referral record (pl_ref_rec_t)

_Static_assert(offsetof(pl_ref_rec_t, child)
                   == offsetof(pl_ref_rec_t, has_child) + sizeof(bool),
               "has_child must come just before child");

// In the order the node writes them (refer, then the inbound referral's
// keys, then the lifecycle's).
static const s_field_t s_ref_fields[] = {
    S_R("dir", S_STR, dir),
    S_R("peer", S_STR, peer),
    S_R("case", S_STR, case_hex),
    S_R("pseudonym", S_STR, pseudonym),
    S_R("sector", S_STR, sector),
    S_R("service", S_STR, service),
    S_R("purpose", S_STR, purpose),
    S_R("priority", S_STR, priority),
    S_R("due", S_TIMEZ, due),
    S_R("note", S_STR, note),
    S_R("created", S_TIME, created),
    S_R("last_change", S_TIME, last_change),
    S_R("referred_by", S_STR, referred_by),
    S_R("legal_basis", S_STR, legal_basis),
    S_R("consent", S_OBJECT, consent),
    S_R("override", S_OBJECT, override),
    S_R("person", S_OBJECT, person),
    S_R("child", S_BOOL, child),
    S_R("uasc", S_STR, uasc),
    S_R("needs", S_ARRAY, needs),
    S_R("cp_notified", S_STR, cp_notified),
    S_R("msg", S_STR, msg),
    S_R("refused", S_STR, refused),
    S_R("track", S_STR, track),
    S_R("status", S_STR, status),
    S_R("history", S_ARRAY, history),
    S_R("updated", S_TIME, updated),
    S_R("pending", S_OBJECT, pending),
    S_R("overdue_logged", S_TIME, overdue_logged),
    S_R("delivery", S_STR, delivery),
    S_R("delivery_reason", S_STR, delivery_reason),
};

int
pl_ref_rec_decode(const json_t *j, pl_ref_rec_t *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!json_is_object(j))
        return PL_EPROTO;
    int rc = PL_OK;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) j, k, v)
    {
        if (!s_known(rec, s_ref_fields, S_N(s_ref_fields), k, v, &rc)
            && rc == PL_OK)
            rc = s_extra_set(&rec->extra, k, v);
        if (rc != PL_OK) {
            pl_ref_rec_free(rec);
            return rc;
        }
    }
    return PL_OK;
}

json_t *
pl_ref_rec_encode(const pl_ref_rec_t *rec)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    s_fields_put(o, rec, s_ref_fields, S_N(s_ref_fields));
    s_extra_put(o, rec->extra);
    return o;
}

void
pl_ref_rec_free(pl_ref_rec_t *rec)
{
    if (!rec)
        return;
    s_fields_free(rec, s_ref_fields, S_N(s_ref_fields));
    json_decref(rec->extra);
    memset(rec, 0, sizeof *rec);
}
