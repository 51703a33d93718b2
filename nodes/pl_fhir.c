// pl_fhir - FHIR R4 Bundle of a referral, and the reading of an imported
// ServiceRequest (issue 16). Layer: nodes, domain. See pl_fhir.h; the
// reader is pl_fhir_read.c.
#include "nodes/pl_fhir.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nodes/pl_fhir_map.h"
#include "proto/pl_util.h"

void
pl_fhir_fault(pl_fhir_fault_t *f, const char *fmt, ...)
{
    if (f->bad)
        return;
    f->bad = true;
    va_list ap;
    va_start(ap, fmt);
    if (f->err && f->n)
        vsnprintf(f->err, f->n, fmt, ap);
    va_end(ap);
}

void
pl_fhir_uuid(char out[37], const char *kind, const void *key, size_t len)
{
    uint8_t h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *) "passerelle:", 11);
    crypto_generichash_update(&st, (const uint8_t *) kind, strlen(kind));
    crypto_generichash_update(&st, (const uint8_t *) ":", 1);
    crypto_generichash_update(&st, key, len);
    crypto_generichash_final(&st, h, sizeof h);
    h[6] = (uint8_t) ((h[6] & 0x0f) | 0x80); // version 8
    h[8] = (uint8_t) ((h[8] & 0x3f) | 0x80); // variant 10
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < sizeof h; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[h[i] >> 4];
        out[o++] = hex[h[i] & 15];
    }
    out[o] = 0;
}

// ---- small builders

static const char *
s_s(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : NULL;
}

static void
s_set(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

static json_t *
s_ref(const char *type, const char *id)
{
    char ref[128];
    snprintf(ref, sizeof ref, "%s/%s", type, id);
    return json_pack("{s:s}", "reference", ref);
}

static json_t *
s_cc(const char *system, const char *code, const char *text)
{
    json_t *c =
        json_pack("{s:[{s:s, s:s}]}", "coding", "system", system, "code", code);
    s_set(c, "text", text);
    return c;
}

static json_t *
s_ident(const char *system, const char *value)
{
    return json_pack("[{s:s, s:s}]", "system", system, "value", value);
}

// ---- resources

static json_t *
s_org(const pl_fhir_org_t *o)
{
    json_t *r = json_pack(
        "{s:s, s:s, s:o, s:b}", "resourceType", "Organization", "id", o->uuid,
        "identifier", s_ident(PL_FHIR_SYS_ADDRESS, o->address), "active", 1);
    const char *name =
        o->display_name && *o->display_name ? o->display_name : o->address;
    s_set(r, "name", name);
    if (o->organisation && *o->organisation)
        json_object_set_new(r, "alias", json_pack("[s]", o->organisation));
    const pl_hsds_sector_t *sec = pl_hsds_sector(o->sector);
    if (sec)
        json_object_set_new(
            r, "type",
            json_pack("[o]", s_cc(PL_FHIR_SYS_SECTOR, sec->sector, sec->name)));
    if (o->country && *o->country) {
        json_t *a = json_pack("{s:s}", "country", o->country);
        s_set(a, "district", o->region);
        json_object_set_new(r, "address", json_pack("[o]", a));
    }
    return r;
}

static json_t *
s_patient(const json_t *ref, const char *pid)
{
    const json_t *p = json_object_get(ref, "person");
    json_t *r = json_pack("{s:s, s:s}", "resourceType", "Patient", "id", pid);
    if (s_s(ref, "pseudonym"))
        json_object_set_new(r, "identifier",
                            s_ident(PL_FHIR_SYS_PSEUDO, s_s(ref, "pseudonym")));
    if (s_s(p, "given") || s_s(p, "family")) {
        json_t *n = json_object();
        s_set(n, "family", s_s(p, "family"));
        if (s_s(p, "given"))
            json_object_set_new(n, "given", json_pack("[s]", s_s(p, "given")));
        json_object_set_new(r, "name", json_pack("[o]", n));
    }
    const char *sex = s_s(p, "sex"), *g = pl_fhir_gender_out(sex);
    s_set(r, "gender", g);
    if (sex && strcmp(sex, g))
        json_object_set_new(r, "extension",
                            json_pack("[{s:s, s:s}]", "url", PL_FHIR_EXT_SEX,
                                      "valueString", sex));
    s_set(r, "birthDate", s_s(p, "birth"));
    if (s_s(p, "phone"))
        json_object_set_new(r, "telecom",
                            json_pack("[{s:s, s:s}]", "system", "phone",
                                      "value", s_s(p, "phone")));
    if (s_s(p, "language"))
        json_object_set_new(
            r, "communication",
            json_pack("[{s:o}]", "language",
                      s_cc(PL_FHIR_SYS_LANG, s_s(p, "language"), NULL)));
    return r;
}

// The due date as the day it was given (YYYY-MM-DD: Period.end of a
// date is that whole day): a referral's deadline is the midnight that
// ends that day (pl_referral_due_parse). 0: none.
static int
s_due(const char *text, char out[11])
{
    uint64_t t;
    char day[11];
    if (!text || strlen(text) < 10)
        return 0;
    snprintf(day, sizeof day, "%s", text);
    if (pl_date_parse(day, &t) != PL_OK)
        return 0;
    if (!strcmp(text + 10, "T00:00:00Z") && t >= 86400) {
        char full[32];
        pl_time_fmt(full, t - 86400);
        memcpy(day, full, 10);
    }
    memcpy(out, day, 11);
    return 1;
}

static json_t *
s_service_request(const json_t *ref, const char *pid, const char *req_id,
                  const char *perf_id)
{
    const char *id = s_s(ref, "id"), *service = s_s(ref, "service");
    const pl_fhir_status_t *st = pl_fhir_status(s_s(ref, "status"));
    const pl_hsds_sector_t *sec = pl_hsds_sector(s_s(ref, "sector"));
    json_t *r = json_pack(
        "{s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o}", "resourceType",
        "ServiceRequest", "id", id, "identifier",
        s_ident(PL_FHIR_SYS_REFERRAL, id), "status",
        st ? st->sr_status : "unknown", "intent", "order", "code",
        s_cc(PL_FHIR_SYS_SERVICE, service ? service : "unknown", service),
        "subject", s_ref("Patient", pid), "requester",
        s_ref("Organization", req_id), "performer",
        json_pack("[o]", s_ref("Organization", perf_id)));
    if (sec)
        json_object_set_new(
            r, "category",
            json_pack("[o]", s_cc(PL_FHIR_SYS_SECTOR, sec->sector, sec->name)));
    s_set(r, "priority", pl_fhir_priority_out(s_s(ref, "priority")));
    s_set(r, "authoredOn", s_s(ref, "created"));
    char due[11];
    if (s_due(s_s(ref, "due"), due))
        json_object_set_new(r, "occurrencePeriod",
                            json_pack("{s:s}", "end", due));
    if (s_s(ref, "purpose"))
        json_object_set_new(r, "reasonCode",
                            json_pack("[o]", s_cc(PL_FHIR_SYS_PURPOSE,
                                                  s_s(ref, "purpose"), NULL)));
    if (s_s(ref, "note"))
        json_object_set_new(r, "note",
                            json_pack("[{s:s}]", "text", s_s(ref, "note")));
    return r;
}

// The newest history line of status 'status', or NULL.
static const json_t *
s_last(const json_t *ref, const char *status)
{
    const json_t *h = json_object_get(ref, "history"), *last = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(h, i, e)
    {
        const char *s = s_s(e, "status");
        if (s && !strcmp(s, status))
            last = e;
    }
    return last;
}

// Task.statusReason (rejected, cancelled, on-hold) and Task.output (the
// outcome of a completed referral) from the history.
static void
s_task_reason_output(json_t *t, const json_t *ref, const pl_fhir_status_t *st)
{
    const json_t *e = st ? s_last(ref, st->status) : NULL;
    if (!e)
        return;
    const char *reason = s_s(e, "reason"), *note = s_s(e, "note");
    if (st->with_reason && (reason || note)) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s%s", reason ? reason : "",
                 reason && note ? ": " : "", note ? note : "");
        json_t *sr = reason ? s_cc(PL_FHIR_SYS_REASON, reason, text)
                            : json_pack("{s:s}", "text", text);
        json_object_set_new(t, "statusReason", sr);
    }
    const char *outcome = s_s(e, "outcome");
    if (!strcmp(st->status, "completed") && outcome) {
        json_t *out = json_pack(
            "[{s:o, s:o}]", "type",
            s_cc(PL_FHIR_SYS_OUTCOME, "outcome", "outcome"),
            "valueCodeableConcept",
            s_cc(PL_FHIR_SYS_OUTCOME, outcome, reason ? reason : outcome));
        json_object_set_new(t, "output", out);
    }
}

static json_t *
s_task(const json_t *ref, const char *pid, const char *req_id,
       const char *own_id)
{
    const char *id = s_s(ref, "id"), *status = s_s(ref, "status");
    const pl_fhir_status_t *st = pl_fhir_status(status);
    char tid[64];
    snprintf(tid, sizeof tid, "task-%s", id);
    json_t *t = json_pack(
        "{s:s, s:s, s:o, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}",
        "resourceType", "Task", "id", tid, "identifier",
        s_ident(PL_FHIR_SYS_REFERRAL, id), "status",
        st ? st->task_status : "requested", "businessStatus",
        s_cc(PL_FHIR_SYS_STATUS, status ? status : "requested",
             st ? st->business : NULL),
        "intent", "order", "code",
        s_cc(PL_FHIR_SYS_TASKCODE, "fulfill", "Fulfill the referral"), "focus",
        s_ref("ServiceRequest", id), "for", s_ref("Patient", pid), "requester",
        s_ref("Organization", req_id), "owner", s_ref("Organization", own_id));
    s_set(t, "priority", pl_fhir_priority_out(s_s(ref, "priority")));
    s_set(t, "authoredOn", s_s(ref, "created"));
    s_set(t, "lastModified", s_s(ref, "updated"));
    s_task_reason_output(t, ref, st);
    return t;
}

json_t *
pl_fhir_bundle(const json_t *ref, const pl_fhir_org_t *me,
               const pl_fhir_org_t *peer)
{
    const char *id = s_s(ref, "id");
    if (!id)
        return NULL;
    bool out = s_s(ref, "direction") && !strcmp(s_s(ref, "direction"), "out");
    const pl_fhir_org_t *req = out ? me : peer, *own = out ? peer : me;
    const char *pseudo = s_s(ref, "pseudonym");
    char pid[64];
    snprintf(pid, sizeof pid, "%s", pseudo ? pseudo : "patient");
    json_t *entries =
        json_pack("[{s:o}, {s:o}, {s:o}, {s:o}]", "resource",
                  s_service_request(ref, pid, req->uuid, own->uuid), "resource",
                  s_task(ref, pid, req->uuid, own->uuid), "resource",
                  s_patient(ref, pid), "resource", s_org(req));
    if (entries && strcmp(req->uuid, own->uuid))
        json_array_append_new(entries,
                              json_pack("{s:o}", "resource", s_org(own)));
    char bid[64];
    snprintf(bid, sizeof bid, "bundle-%s", id);
    return json_pack("{s:s, s:s, s:s, s:s*, s:o}", "resourceType", "Bundle",
                     "id", bid, "type", "collection", "timestamp",
                     s_s(ref, "updated"), "entry", entries);
}
