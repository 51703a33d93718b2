// pl_hsds_merge - the merge of an imported HSDS 3.0 document's display
// fields into the node's enrichment (issue 16). Layer: nodes, domain. See
// pl_hsds.h. Each field taken is checked for the type and format that the
// HSDS 3.0 compiled service schema gives it (uuid ids, email, uri; an
// address's required members); ids, certificates' fields and taxonomy are
// never taken.
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nodes/pl_fhir.h"
#include "nodes/pl_hsds.h"

#define S_TEXT_MAX 1000
#define S_LIST_MAX 32

typedef pl_fhir_fault_t s_mg_t; // the first fault (pl_fhir.h)

static bool
s_uuid_ok(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
            return false;
    }
    return true;
}

static bool
s_email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at > s && !strchr(at + 1, '@') && strchr(at + 1, '.')
           && at[1] != '.' && s[strlen(s) - 1] != '.' && !strpbrk(s, " \t<>");
}

static bool
s_uri_ok(const char *s)
{
    if (!isalpha((unsigned char) s[0]))
        return false;
    size_t i = 1;
    while (isalnum((unsigned char) s[i]) || s[i] == '+' || s[i] == '-'
           || s[i] == '.')
        i++;
    return s[i] == ':' && s[i + 1] && !strpbrk(s, " \t<>\"");
}

enum { S_STR, S_UUID, S_EMAIL, S_URI, S_NUM };

// Checks member 'key' of 'from' (path 'base') and copies it into 'to' (if
// not NULL). 'req': a fault when absent.
static void
s_take(s_mg_t *m, json_t *to, const json_t *from, const char *base,
       const char *key, int kind, bool req)
{
    json_t *v = json_object_get(from, key);
    if (m->bad || !v || json_is_null(v)) {
        if (req && !m->bad)
            pl_fhir_fault(m, "%s.%s: is required", base, key);
        return;
    }
    if (kind == S_NUM) {
        if (!json_is_number(v))
            pl_fhir_fault(m, "%s.%s: must be a number", base, key);
    } else if (!json_is_string(v)) {
        pl_fhir_fault(m, "%s.%s: must be a string", base, key);
    } else {
        const char *s = json_string_value(v);
        if (json_string_length(v) > S_TEXT_MAX
            || strlen(s) != json_string_length(v))
            pl_fhir_fault(m, "%s.%s: longer than %d bytes", base, key,
                          S_TEXT_MAX);
        else if (kind == S_UUID && !s_uuid_ok(s))
            pl_fhir_fault(m, "%s.%s: '%s' is not a uuid", base, key, s);
        else if (kind == S_EMAIL && !s_email_ok(s))
            pl_fhir_fault(m, "%s.%s: '%s' is not an email address", base, key,
                          s);
        else if (kind == S_URI && !s_uri_ok(s))
            pl_fhir_fault(m, "%s.%s: '%s' is not a uri", base, key, s);
    }
    if (!m->bad && to)
        json_object_set(to, key, v);
}

typedef struct {
    const char *key;
    int kind;
    bool req;
} s_field_t;

// Each object of list 'key' of 'from', its 'fields' checked and copied;
// the list into 'to' (if not NULL).
static void
s_take_list(s_mg_t *m, json_t *to, const json_t *from, const char *base,
            const char *key, const s_field_t *fields)
{
    const json_t *a = json_object_get(from, key);
    if (m->bad || !a || json_is_null(a))
        return;
    if (!json_is_array(a) || json_array_size(a) > S_LIST_MAX) {
        pl_fhir_fault(m, "%s.%s: must be an array of at most %d", base, key,
                      S_LIST_MAX);
        return;
    }
    json_t *out = json_array();
    char path[256];
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        snprintf(path, sizeof path, "%s.%s[%zu]", base, key, i);
        if (!json_is_object(e)) {
            pl_fhir_fault(m, "%s: must be an object", path);
            break;
        }
        json_t *c = json_object();
        for (const s_field_t *f = fields; f->key; f++)
            s_take(m, c, e, path, f->key, f->kind, f->req);
        json_array_append_new(out, c);
    }
    if (!m->bad && to)
        json_object_set(to, key, out);
    json_decref(out);
}

static const s_field_t s_schedule[] = {
    {"opens_at", S_STR, false},
    {"closes_at", S_STR, false},
    {"byday", S_STR, false},
    {"freq", S_STR, false},
    {"wkst", S_STR, false},
    {"interval", S_NUM, false},
    {"valid_from", S_STR, false},
    {"valid_to", S_STR, false},
    {"dtstart", S_STR, false},
    {"until", S_STR, false},
    {"description", S_STR, false},
    {"notes", S_STR, false},
    {"attending_type", S_STR, false},
    {"schedule_link", S_URI, false},
    {NULL, 0, false},
};
static const s_field_t s_language[] = {
    {"name", S_STR, false},
    {"code", S_STR, false},
    {"note", S_STR, false},
    {NULL, 0, false},
};
// an address: the members HSDS 3.0 requires, and the optional ones
static const s_field_t s_address[] = {
    {"address_1", S_STR, true},      {"city", S_STR, true},
    {"state_province", S_STR, true}, {"postal_code", S_STR, true},
    {"country", S_STR, true},        {"address_type", S_STR, true},
    {"attention", S_STR, false},     {"address_2", S_STR, false},
    {"region", S_STR, false},        {NULL, 0, false},
};

// The ids of the directory (37 bytes each, n of each), and those met in
// this document already ({id: true}).
typedef struct {
    char *sids, *oids, *lids;
    size_t n;
    json_t *seen;
} s_ids_t;

// A fresh object for 'kind' / 'id' in 'enrich', or NULL when 'id' is none
// of 'ids' or came earlier in the document (an organization nested in two
// services: its first occurrence is kept).
static json_t *
s_slot(json_t *enrich, const char *kind, const char *id, const char *ids,
       size_t nids, json_t *seen)
{
    bool known = false;
    for (size_t i = 0; id && i < nids; i++)
        known |= !strcmp(ids + 37 * i, id);
    if (!known || json_object_get(seen, id))
        return NULL;
    json_object_set_new(seen, id, json_true());
    json_t *k = json_object_get(enrich, kind);
    if (!k) {
        k = json_object();
        json_object_set_new(enrich, kind, k);
    }
    json_t *o = json_object();
    json_object_set_new(k, id, o);
    return o;
}

static const char *
s_idof(s_mg_t *m, const json_t *o, const char *base)
{
    s_take(m, NULL, o, base, "id", S_UUID, true);
    return m->bad ? NULL : json_string_value(json_object_get(o, "id"));
}

static void
s_location(s_mg_t *m, json_t *enr, const json_t *sal, const char *base,
           const s_ids_t *ids, size_t *hit)
{
    char path[200];
    s_idof(m, sal, base);
    const json_t *loc = json_object_get(sal, "location");
    if (m->bad || !loc)
        return;
    snprintf(path, sizeof path, "%s.location", base);
    if (!json_is_object(loc)) {
        pl_fhir_fault(m, "%s: must be an object", path);
        return;
    }
    json_t *to = s_slot(enr, "locations", s_idof(m, loc, path), ids->lids,
                        ids->n, ids->seen);
    *hit += to != NULL;
    s_take(m, to, loc, path, "name", S_STR, false);
    s_take(m, to, loc, path, "description", S_STR, false);
    s_take_list(m, to, loc, path, "addresses", s_address);
    s_take_list(m, to, sal, base, "schedules", s_schedule);
}

// One imported service: its fields, its organization's, its locations'.
static void
s_one(s_mg_t *m, json_t *enr, const json_t *s, size_t i, const s_ids_t *ids,
      size_t *hit)
{
    char base[64], path[160];
    snprintf(base, sizeof base, "[%zu]", i);
    if (!json_is_object(s)) {
        pl_fhir_fault(m, "%s: must be an object", base);
        return;
    }
    json_t *to = s_slot(enr, "services", s_idof(m, s, base), ids->sids, ids->n,
                        ids->seen);
    *hit += to != NULL;
    s_take(m, to, s, base, "name", S_STR, true);
    s_take(m, to, s, base, "alternate_name", S_STR, false);
    s_take(m, to, s, base, "description", S_STR, false);
    s_take(m, to, s, base, "email", S_EMAIL, false);
    s_take(m, to, s, base, "url", S_URI, false);
    s_take_list(m, to, s, base, "languages", s_language);
    s_take_list(m, to, s, base, "schedules", s_schedule);
    const json_t *org = json_object_get(s, "organization");
    snprintf(path, sizeof path, "%s.organization", base);
    if (org && !json_is_object(org))
        pl_fhir_fault(m, "%s: must be an object", path);
    if (org && !m->bad) {
        json_t *ot = s_slot(enr, "organizations", s_idof(m, org, path),
                            ids->oids, ids->n, ids->seen);
        s_take(m, ot, org, path, "name", S_STR, true);
        s_take(m, ot, org, path, "alternate_name", S_STR, false);
        s_take(m, ot, org, path, "description", S_STR, false);
        s_take(m, ot, org, path, "email", S_EMAIL, false);
        s_take(m, ot, org, path, "website", S_URI, false);
    }
    const json_t *sals = json_object_get(s, "service_at_locations");
    if (sals && (!json_is_array(sals) || json_array_size(sals) > S_LIST_MAX))
        pl_fhir_fault(m,
                      "%s.service_at_locations: must be an array of at most %d",
                      base, S_LIST_MAX);
    size_t k;
    json_t *e;
    json_array_foreach(sals, k, e)
    {
        snprintf(path, sizeof path, "%s.service_at_locations[%zu]", base, k);
        if (!json_is_object(e))
            pl_fhir_fault(m, "%s: must be an object", path);
        else
            s_location(m, enr, e, path, ids, hit);
    }
}

int
pl_hsds_merge(json_t *enrich, const json_t *doc, const pl_hsds_svc_t *svcs,
              size_t nsvcs, size_t *matched, size_t *ignored, char *err,
              size_t n)
{
    s_mg_t m = {.err = err, .n = n};
    *matched = *ignored = 0;
    const json_t *list =
        json_is_object(doc) ? json_object_get(doc, "contents") : doc;
    if (!json_is_array(list)) {
        pl_fhir_fault(
            &m, "(document): must be an array of HSDS service objects or a "
                "page with \"contents\"");
        return -1;
    }
    // the ids of this directory, as the export derives them
    json_t *all = pl_hsds_services(svcs, nsvcs, NULL);
    s_ids_t ids = {.n = nsvcs, .seen = json_object()};
    char buf[3 * 37 * 256];
    if (!all || nsvcs > 256) {
        json_decref(all);
        json_decref(ids.seen);
        pl_fhir_fault(&m, "(directory): too many services");
        return -1;
    }
    ids.sids = buf, ids.oids = buf + 37 * 256, ids.lids = buf + 2 * 37 * 256;
    for (size_t i = 0; i < nsvcs; i++) {
        const json_t *s = json_array_get(all, i);
        const json_t *sal =
            json_array_get(json_object_get(s, "service_at_locations"), 0);
        snprintf(ids.sids + 37 * i, 37, "%s",
                 json_string_value(json_object_get(s, "id")));
        snprintf(ids.oids + 37 * i, 37, "%s",
                 json_string_value(json_object_get(s, "organization_id")));
        snprintf(ids.lids + 37 * i, 37, "%s",
                 json_string_value(json_object_get(sal, "location_id")));
    }
    json_decref(all);
    json_t *work = json_deep_copy(enrich);
    size_t hit = 0, i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        size_t before = hit;
        s_one(&m, work, s, i, &ids, &hit);
        if (m.bad)
            break;
        *ignored += hit == before;
    }
    if (!m.bad)
        json_object_update(enrich, work);
    json_decref(work);
    json_decref(ids.seen);
    *matched = hit;
    return m.bad ? -1 : 0;
}
