// pl_hsds - the directory as HSDS 3.0 service objects, and the merge of
// an imported HSDS document's display fields (issue 16). Layer: nodes,
// domain. See pl_hsds.h. Written from the HSDS 3.0 specification's
// schema/compiled/service.json (openreferral/specification, branch 3.0);
// the required members and formats it names are those built here.
#include "nodes/pl_hsds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_fhir.h"
#include "nodes/pl_fhir_map.h"

size_t
pl_hsds_service_list(const pl_cert_t *const *certs, size_t n,
                     pl_hsds_svc_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const pl_cert_t *c = certs[i];
        if (!strcmp(c->sector, "broker") || !strcmp(c->sector, "coordination"))
            continue;
        const char *s = c->services[0] ? c->services : c->sector;
        while (*s) {
            size_t len = strcspn(s, ",");
            if (len && len < sizeof out->code) {
                if (k < max) {
                    out[k].cert = c;
                    memcpy(out[k].code, s, len);
                    out[k].code[len] = 0;
                }
                k++;
            }
            s += len + (s[len] == ',');
        }
    }
    return k;
}

static const pl_cert_t *
s_cert_of(const pl_hsds_svc_t *svcs, size_t n, const char *address)
{
    for (size_t i = 0; address && i < n; i++)
        if (!strcmp(svcs[i].cert->address, address))
            return svcs[i].cert;
    return NULL;
}

size_t
pl_hsds_with_catalogue(pl_hsds_svc_t *svcs, size_t n, size_t max,
                       const json_t *cat)
{
    size_t nc = json_array_size(cat), na = 0, k = 0;
    pl_hsds_svc_t *add = calloc(nc ? nc : 1, sizeof *add);
    if (!add)
        return n;
    for (size_t i = 0; i < nc; i++) {
        const json_t *o = json_array_get(cat, i);
        const json_t *e = json_object_get(o, "entry");
        const char *code = json_string_value(json_object_get(e, "code"));
        const pl_cert_t *c = s_cert_of(
            svcs, n, json_string_value(json_object_get(o, "address")));
        if (!c || !code || !*code || strlen(code) >= sizeof add->code)
            continue;
        add[na].cert = c;
        add[na].entry = e;
        snprintf(add[na].code, sizeof add[na].code, "%s", code);
        na++;
    }
    for (size_t i = 0; i < n; i++) {
        bool listed = false;
        for (size_t j = 0; j < na && !listed; j++)
            listed = add[j].cert == svcs[i].cert;
        if (!listed)
            svcs[k++] = svcs[i];
    }
    for (size_t j = 0; j < na && k < max; j++)
        svcs[k++] = add[j];
    free(add);
    return k;
}

// ---- ids: stable UUIDs from the node's signing key (pl_fhir_uuid)

static void
s_id(char out[37], const char *kind, const pl_cert_t *c, const char *code)
{
    uint8_t key[sizeof c->keys.sign + 64];
    size_t len = sizeof c->keys.sign, cl = code ? strlen(code) : 0;
    memcpy(key, c->keys.sign, len);
    if (cl > 64)
        cl = 64;
    if (cl)
        memcpy(key + len, code, cl);
    pl_fhir_uuid(out, kind, key, len + cl);
}

static void
s_sub_id(char out[37], const char *kind, const char *owner, size_t i)
{
    char key[64];
    int len = snprintf(key, sizeof key, "%s:%zu", owner, i);
    pl_fhir_uuid(out, kind, key, (size_t) len);
}

static const json_t *
s_enr(const json_t *enrich, const char *kind, const char *id)
{
    return json_object_get(json_object_get(enrich, kind), id);
}

static const char *
s_pick(const json_t *e, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(e, key));
    return v && *v ? v : dflt;
}

// Copies the optional string members 'keys' of 'from' into 'to'.
static void
s_copy(json_t *to, const json_t *from, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(from, keys[i]);
        if (v)
            json_object_set(to, keys[i], v);
    }
}

// The stored list 'key' of 'e' (schedules, addresses, languages), each
// given its id and its owner's link.
static json_t *
s_list(const json_t *e, const char *key, const char *kind, const char *owner,
       const char *link_key)
{
    const json_t *a = json_object_get(e, key);
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        json_t *c = json_deep_copy(v);
        char id[37];
        s_sub_id(id, kind, owner, i);
        json_object_set_new(c, "id", json_string(id));
        if (link_key)
            json_object_set_new(c, link_key, json_string(owner));
        json_array_append_new(out, c);
    }
    return out;
}

// A taxonomy term of 'taxonomy' as an attribute of service 'sid'.
static json_t *
s_attr(const char *sid, const char *taxonomy, const char *code,
       const char *name, const char *desc)
{
    char tid[37], aid[128], id[37];
    char key[128];
    int len = snprintf(key, sizeof key, "%s:%s", taxonomy, code);
    pl_fhir_uuid(tid, "taxonomy_term", key, (size_t) len);
    snprintf(aid, sizeof aid, "%s:%s", sid, tid);
    pl_fhir_uuid(id, "attribute", aid, strlen(aid));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, "
                     "s:s}}",
                     "id", id, "link_id", sid, "link_type", "taxonomy",
                     "link_entity", "service", "taxonomy_term_id", tid, "value",
                     code, "taxonomy_term", "id", tid, "code", code, "name",
                     name, "description", desc, "taxonomy", taxonomy);
}

static json_t *
s_org(const pl_cert_t *c, const char *oid, const json_t *enrich)
{
    static const char *const keys[] = {"alternate_name", "email", "website",
                                       NULL};
    const json_t *e = s_enr(enrich, "organizations", oid);
    const pl_hsds_sector_t *sec = pl_hsds_sector(c->sector);
    char desc[512], uri[200];
    snprintf(desc, sizeof desc, "%s node %s (%s%s%s)",
             sec ? sec->name : c->sector, c->address, c->country,
             c->region[0] ? ", " : "", c->region);
    snprintf(uri, sizeof uri, "%s:%s", PL_FHIR_SYS_ADDRESS, c->address);
    const char *name = c->organisation[0]   ? c->organisation
                       : c->display_name[0] ? c->display_name
                                            : c->address;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", oid, "name",
                          s_pick(e, "name", name), "description",
                          s_pick(e, "description", desc), "uri", uri);
    s_copy(o, e, keys);
    return o;
}

static json_t *
s_sal(const pl_hsds_svc_t *s, const char *sid, const char *oid,
      const json_t *enrich)
{
    char lid[37], salid[37];
    s_id(lid, "location", s->cert, NULL);
    s_id(salid, "service_at_location", s->cert, s->code);
    const json_t *e = s_enr(enrich, "locations", lid);
    const char *name = s->cert->region[0] ? s->cert->region : s->cert->country;
    json_t *loc = json_pack("{s:s, s:s, s:s, s:s}", "id", lid, "location_type",
                            "physical", "organization_id", oid, "name",
                            s_pick(e, "name", name));
    static const char *const keys[] = {"description", NULL};
    s_copy(loc, e, keys);
    json_object_set_new(loc, "addresses",
                        s_list(e, "addresses", "address", lid, "location_id"));
    json_t *sal = json_pack("{s:s, s:s, s:s, s:o}", "id", salid, "service_id",
                            sid, "location_id", lid, "location", loc);
    json_object_set_new(
        sal, "schedules",
        s_list(e, "schedules", "schedule", salid, "service_at_location_id"));
    return sal;
}

// The fields of catalogue entry 'e' (issue 18) that HSDS 3.0's service
// has: name, status, fees_description (cost), application_process (how to
// reach it), minimum_age / maximum_age, languages and schedules (opening
// hours as a schedule's description) unless the enrichment gave them, and
// the capacity signal as a "passerelle-capacity" attribute.
static void
s_from_entry(json_t *o, const json_t *e, const char *sid, const json_t *enr)
{
    const char *name = s_pick(e, "name_en", s_pick(e, "name_fr", NULL));
    if (name && !json_object_get(enr, "name"))
        json_object_set_new(o, "name", json_string(name));
    if (!strcmp(s_pick(e, "status", "active"), "inactive"))
        json_object_set_new(o, "status", json_string("inactive"));
    static const char *const map[][2] = {{"cost", "fees_description"},
                                         {"reach", "application_process"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (s_pick(e, map[i][0], NULL))
            json_object_set(o, map[i][1], json_object_get(e, map[i][0]));
    if (json_is_integer(json_object_get(e, "min_age")))
        json_object_set(o, "minimum_age", json_object_get(e, "min_age"));
    if (json_is_integer(json_object_get(e, "max_age")))
        json_object_set(o, "maximum_age", json_object_get(e, "max_age"));
    json_t *langs = json_object_get(o, "languages");
    size_t i;
    json_t *v;
    char id[37];
    if (!json_array_size(langs))
        json_array_foreach(json_object_get(e, "languages"), i, v)
        {
            s_sub_id(id, "language", sid, i);
            json_array_append_new(langs,
                                  json_pack("{s:s, s:s, s:O}", "id", id,
                                            "service_id", sid, "code", v));
        }
    json_t *sched = json_object_get(o, "schedules");
    if (!json_array_size(sched) && s_pick(e, "hours", NULL)) {
        s_sub_id(id, "schedule", sid, 0);
        json_array_append_new(sched, json_pack("{s:s, s:s, s:O}", "id", id,
                                               "service_id", sid, "description",
                                               json_object_get(e, "hours")));
    }
    const char *cap = json_string_value(
        json_object_get(json_object_get(e, "capacity"), "state"));
    if (cap)
        json_array_append_new(json_object_get(o, "attributes"),
                              s_attr(sid, PL_HSDS_TAXONOMY_CAPACITY, cap, cap,
                                     "Capacity signalled by the provider"));
}

static json_t *
s_service(const pl_hsds_svc_t *s, const json_t *enrich)
{
    char sid[37], oid[37], name[256];
    s_id(sid, "service", s->cert, s->code);
    s_id(oid, "organization", s->cert, NULL);
    const json_t *e = s_enr(enrich, "services", sid);
    const char *dn =
        s->cert->display_name[0] ? s->cert->display_name : s->cert->address;
    snprintf(name, sizeof name, "%s (%s)", s->code, dn);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s}", "id", sid, "organization_id", oid,
                  "name", s_pick(e, "name", name), "status", "active");
    static const char *const keys[] = {"alternate_name", "description", "email",
                                       "url", NULL};
    s_copy(o, e, keys);
    json_object_set_new(o, "languages",
                        s_list(e, "languages", "language", sid, "service_id"));
    json_object_set_new(o, "schedules",
                        s_list(e, "schedules", "schedule", sid, "service_id"));
    const pl_hsds_sector_t *sec = pl_hsds_sector(s->cert->sector);
    json_t *attrs = json_array();
    if (sec)
        json_array_append_new(attrs,
                              s_attr(sid, PL_HSDS_TAXONOMY_SECTOR, sec->sector,
                                     sec->name, sec->description));
    json_array_append_new(attrs,
                          s_attr(sid, PL_HSDS_TAXONOMY_SERVICE, s->code,
                                 s->code, "A service code of a certificate"));
    json_object_set_new(o, "attributes", attrs);
    if (s->entry)
        s_from_entry(o, s->entry, sid, e);
    json_object_set_new(o, "organization", s_org(s->cert, oid, enrich));
    json_object_set_new(o, "service_at_locations",
                        json_pack("[o]", s_sal(s, sid, oid, enrich)));
    return o;
}

json_t *
pl_hsds_services(const pl_hsds_svc_t *svcs, size_t n, const json_t *enrich)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *s = s_service(&svcs[i], enrich);
        if (!s || json_array_append_new(a, s) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
