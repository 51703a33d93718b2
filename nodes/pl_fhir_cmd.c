// pl_fhir_cmd - the control commands of FHIR R4 and HSDS 3.0 (issue 16):
//   fhir.bundle {id}            a referral as a FHIR Bundle (show --fhir)
//   fhir.tasks [{status, count}]  the Tasks a session may list (searchset)
//   fhir.import {doc}           a ServiceRequest (+ Patient): a new case
//                               and a referral draft in it (fhir import)
//   hsds.services [{page, per_page}]  the directory as HSDS services
//   hsds.import {doc}           display fields from an HSDS document
// Layer: nodes, handlers. The documents are pl_fhir.c's and pl_hsds.c's;
// the person fields of a Bundle are those of referral.show, which holds
// only the sector table's (pl_sector_data.h).
#include "nodes/pl_fhir_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_fhir.h"
#include "nodes/pl_hsds.h"
#include "nodes/pl_node_svc.h"
#include "nodes/pl_roles.h"
#include "nodes/pl_session.h"
#include "proto/pl_crypto.h"

#define S_ENRICH_KEY   "hsds.enrich"
#define S_SERVICES_MAX 1024
#define S_PAGE_MAX     200

// Parses a handler's reply text (freed); NULL when it is no JSON.
static json_t *
s_reply(char *text)
{
    json_error_t jerr;
    json_t *r = text ? json_loads(text, 0, &jerr) : NULL;
    free(text);
    return r;
}

static void
s_org(pl_fhir_org_t *o, const pl_cert_t *c, const char *address)
{
    *o = (pl_fhir_org_t){.address = address};
    if (!c) {
        pl_fhir_uuid(o->uuid, "organization-address", address, strlen(address));
        return;
    }
    o->address = c->address;
    o->display_name = c->display_name;
    o->organisation = c->organisation;
    o->sector = c->sector;
    o->country = c->country;
    o->region = c->region;
    pl_fhir_uuid(o->uuid, "organization", c->keys.sign, sizeof c->keys.sign);
}

static char *
s_bundle(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    char *text = pl_case_referral_show(ctx, txn, args, as, rc_out);
    json_t *r = s_reply(text ? strdup(text) : NULL);
    if (!r || !json_is_true(json_object_get(r, "ok"))) {
        json_decref(r);
        return text;
    }
    free(text);
    const json_t *ref = json_object_get(r, "result");
    const char *peer = pl_case_str(ref, "peer");
    pl_fhir_org_t me, other;
    s_org(&me, ctx->me, ctx->me->address);
    s_org(&other, peer ? pl_ctx_dir_find(ctx, peer, NULL) : NULL,
          peer ? peer : "unknown/unknown");
    json_t *b = pl_fhir_bundle(ref, &me, &other);
    json_decref(r);
    return b ? pl_node_ctl_ok(b)
             : pl_node_ctl_error(PL_ENOMEM, "out of memory");
}

// The Tasks of the referrals a session may list (a case manager the
// outgoing, a provider the incoming, a supervisor and the Unix owner
// every one), of Task.status 'status' if given: a searchset Bundle.
static char *
s_tasks(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    const char *want = pl_case_str(args, "status");
    json_int_t count = json_integer_value(json_object_get(args, "count"));
    count = count > 0 && count <= 500 ? count : 100;
    pl_session_info_t si;
    json_t *la = json_object();
    if (ctx->sessions && ctx->session
        && pl_sessions_resolve(ctx->sessions, ctx->session, false, &si) == PL_OK
        && !(si.role & PL_ROLE_SUPERVISOR))
        json_object_set_new(
            la, "direction",
            json_string(si.role & PL_ROLE_CASE_MANAGER ? "out" : "in"));
    json_t *list = s_reply(pl_case_referrals(ctx, txn, la, as, rc_out));
    json_decref(la);
    json_t *entries = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(list, "result"), i, e)
    {
        if ((json_int_t) json_array_size(entries) >= count)
            break;
        json_t *a = json_pack("{s:s}", "id", pl_case_str(e, "id"));
        json_t *b = s_reply(s_bundle(ctx, txn, a, as, rc_out));
        json_decref(a);
        const json_t *t = json_object_get(
            json_array_get(
                json_object_get(json_object_get(b, "result"), "entry"), 1),
            "resource");
        const char *ts = pl_case_str(t, "status");
        if (t && (!want || (ts && !strcmp(ts, want))))
            json_array_append_new(entries,
                                  json_pack("{s:O, s:{s:s}}", "resource", t,
                                            "search", "mode", "match"));
        json_decref(b);
    }
    json_decref(list);
    *rc_out = PL_OK;
    return pl_node_ctl_ok(json_pack(
        "{s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type", "searchset",
        "total", (json_int_t) json_array_size(entries), "entry", entries));
}

// The referral draft of an import, in the new case's record ("drafts").
static json_t *
s_draft(const pl_fhir_import_t *in, const char *as, char did[33])
{
    uint8_t id[PL_CASE_ID];
    pl_random(id, sizeof id);
    pl_hex(did, id, sizeof id);
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "id", did, "source",
                          "fhir", "service", in->service, "purpose",
                          in->purpose ? in->purpose : "services", "created",
                          pl_node_json_time(pl_now()), "priority",
                          in->priority ? in->priority : "normal");
    if (in->to)
        json_object_set_new(d, "to", json_string(in->to));
    if (in->due[0])
        json_object_set_new(d, "due", json_string(in->due));
    if (in->note)
        json_object_set_new(d, "note", json_string(in->note));
    if (in->identifier)
        json_object_set_new(d, "identifier", json_string(in->identifier));
    if (as)
        json_object_set_new(d, "by", json_string(as));
    return d;
}

// Adds draft 'd' (stolen) to case 'case_id'.
static int
s_draft_save(pl_txn_t *txn, const char *case_id, json_t *d)
{
    uint8_t id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    int rc;
    char *err = pl_case_rec_open(txn, case_id, id, &cs, &rc);
    if (err) {
        free(err);
        json_decref(d);
        return rc;
    }
    if (!cs.rec.extra)
        cs.rec.extra = json_object();
    json_t *list = json_object_get(cs.rec.extra, "drafts");
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(cs.rec.extra, "drafts", list);
    }
    rc = json_array_append_new(list, d) ? PL_ENOMEM : PL_OK;
    if (rc == PL_OK)
        rc = pl_case_rec_save(txn, id, &cs);
    pl_case_rec_release(&cs);
    return rc;
}

static char *
s_import(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    pl_fhir_import_t in;
    char why[400];
    if (pl_fhir_read(json_object_get(args, "doc"), &in, why, sizeof why)) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "FHIR: %s", why);
    }
    json_t *ca = json_pack("{s:s, s:s, s:s}", "given", in.given, "family",
                           in.family, "birth", in.birth);
    const char *opt[][2] = {
        {"sex", in.sex}, {"phone", in.phone}, {"language", in.language}};
    for (size_t i = 0; ca && i < sizeof opt / sizeof *opt; i++)
        if (opt[i][1])
            json_object_set_new(ca, opt[i][0], json_string(opt[i][1]));
    json_t *r = s_reply(pl_case_add(ctx, txn, ca, as, rc_out));
    json_decref(ca);
    const char *case_id = pl_case_str(json_object_get(r, "result"), "id");
    if (!r || *rc_out != PL_OK || !case_id) {
        char *out = r ? pl_case_dump(r) : NULL;
        json_decref(r);
        if (*rc_out == PL_OK)
            *rc_out = PL_ENOMEM;
        return out ? out : pl_node_ctl_error(*rc_out, "cannot add the case");
    }
    char did[33], cid[33];
    snprintf(cid, sizeof cid, "%s", case_id);
    json_decref(r);
    int rc = s_draft_save(txn, cid, s_draft(&in, pl_case_by(as), did));
    uint8_t raw[PL_CASE_ID];
    if (rc == PL_OK && pl_unhex(raw, sizeof raw, cid) == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, raw, "fhir-import", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the draft: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:s, s:s, s:s}", "case", cid, "draft",
                                    did, "service", in.service));
}

// ---- HSDS

// The valid certificates of the directory and their service list; the
// stored enrichment. *svcs malloc'd (free it), *enrich a new reference.
// The export's service list: the certificates' services, the published
// catalogues in their place (*cat holds them: json_decref it after use),
// and the stored enrichment.
static int
s_hsds_load(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_hsds_svc_t **svcs, size_t *n,
            json_t **enrich, json_t **cat)
{
    *cat = NULL;
    const pl_cert_t **certs = calloc(ctx->ndir + 1, sizeof *certs);
    *svcs = calloc(S_SERVICES_MAX, sizeof **svcs);
    if (!certs || !*svcs) {
        free(certs);
        free(*svcs);
        *svcs = NULL;
        return PL_ENOMEM;
    }
    size_t k = 0;
    uint64_t now = pl_now();
    for (size_t i = 0; i < ctx->ndir; i++)
        if (pl_cert_check(&ctx->dir[i], now, ctx->revoked) == PL_OK)
            certs[k++] = &ctx->dir[i];
    *n = pl_hsds_service_list(certs, k, *svcs, S_SERVICES_MAX);
    if (*n > S_SERVICES_MAX)
        *n = S_SERVICES_MAX;
    free(certs);
    *cat = pl_svc_catalogue(ctx, txn); // NULL (unreadable): certificates only
    *n = pl_hsds_with_catalogue(*svcs, *n, S_SERVICES_MAX, *cat);
    const uint8_t *v;
    size_t vlen;
    json_error_t jerr;
    *enrich = NULL;
    if (pl_store_get(txn, PL_DB_SETTINGS, S_ENRICH_KEY, strlen(S_ENRICH_KEY),
                     &v, &vlen)
        == PL_OK)
        *enrich = json_loadb((const char *) v, vlen, 0, &jerr);
    if (!json_is_object(*enrich)) {
        json_decref(*enrich);
        *enrich = json_object();
    }
    return PL_OK;
}

// A page as HSDS 3.0's API gives one (components/schemas/Page of its
// openapi.json): total_items, total_pages, page_number, size, first_page,
// last_page, empty, contents.
static json_t *
s_page(json_t *all, size_t page, size_t per)
{
    size_t total = json_array_size(all), pages = (total + per - 1) / per;
    json_t *contents = json_array();
    for (size_t i = (page - 1) * per; i < total && i < page * per; i++)
        json_array_append(contents, json_array_get(all, i));
    json_t *p = json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:b, s:o}",
                          "total_items", (json_int_t) total, "total_pages",
                          (json_int_t) pages, "page_number", (json_int_t) page,
                          "size", (json_int_t) json_array_size(contents),
                          "first_page", page == 1, "last_page", page >= pages,
                          "empty", total == 0, "contents", contents);
    json_decref(all);
    return p;
}

static char *
s_hsds(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
       int *rc_out)
{
    (void) as, (void) rc_out;
    json_t *jp = json_object_get(args, "page"),
           *jn = json_object_get(args, "per_page");
    json_int_t page = jp ? json_integer_value(jp) : 0;
    json_int_t per = jn ? json_integer_value(jn) : 50;
    if ((jp && (!json_is_integer(jp) || page < 1 || page > 1000000))
        || (jn && (!json_is_integer(jn) || per < 1 || per > S_PAGE_MAX)))
        return pl_node_ctl_error(PL_EINVAL,
                                 "page is a number from 1, per_page from 1 "
                                 "to %d",
                                 S_PAGE_MAX);
    pl_hsds_svc_t *svcs;
    size_t n;
    json_t *enrich, *cat;
    if (s_hsds_load(ctx, txn, &svcs, &n, &enrich, &cat) != PL_OK)
        return pl_node_ctl_error(PL_ENOMEM, "out of memory");
    json_t *all = pl_hsds_services(svcs, n, enrich);
    free(svcs);
    json_decref(cat);
    json_decref(enrich);
    if (all && jp)
        all = s_page(all, (size_t) page, (size_t) per);
    return all ? pl_node_ctl_ok(all)
               : pl_node_ctl_error(PL_ENOMEM, "out of memory");
}

static char *
s_hsds_import(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    pl_hsds_svc_t *svcs;
    size_t n, matched = 0, ignored = 0;
    json_t *enrich, *cat;
    if (s_hsds_load(ctx, txn, &svcs, &n, &enrich, &cat) != PL_OK) {
        *rc_out = PL_ENOMEM;
        return pl_node_ctl_error(PL_ENOMEM, "out of memory");
    }
    char why[400];
    int bad = pl_hsds_merge(enrich, json_object_get(args, "doc"), svcs, n,
                            &matched, &ignored, why, sizeof why);
    free(svcs);
    json_decref(cat);
    char *text = bad ? NULL : json_dumps(enrich, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(enrich);
    if (bad) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "HSDS: %s", why);
    }
    int rc = text ? pl_store_put(txn, PL_DB_SETTINGS, S_ENRICH_KEY,
                                 strlen(S_ENRICH_KEY), text, strlen(text))
                  : PL_ENOMEM;
    free(text);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL,
                           "directory", as, NULL, "hsds-import", "applied",
                           NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc,
                                 "cannot store the directory's display "
                                 "fields: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:I, s:I}", "matched",
                                    (json_int_t) matched, "ignored",
                                    (json_int_t) ignored));
}

// The roles of the rows: as referral.show for a Bundle, case.add for an
// import, directory for HSDS; the Unix owner only for the HSDS import.
#define S_READERS                                                              \
    PL_CTL_ROLES(PL_ROLE_CASE_MANAGER | PL_ROLE_PROVIDER | PL_ROLE_SUPERVISOR)
const pl_ctl_cmd_t pl_fhir_cmds[] = {
    {"fhir.bundle", PL_CTL_STAFF | S_READERS, s_bundle},
    {"fhir.tasks", PL_CTL_STAFF | S_READERS, s_tasks},
    {"fhir.import",
     PL_CTL_CHANGES | PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_CASE_MANAGER),
     s_import},
    {"hsds.services", PL_CTL_ROLES(PL_ROLE_ALL), s_hsds},
    {"hsds.import", PL_CTL_CHANGES | PL_CTL_STAFF, s_hsds_import},
    {NULL, 0, NULL},
};
