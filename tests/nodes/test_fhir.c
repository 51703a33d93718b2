// test_fhir - FHIR R4 and HSDS 3.0 (issue 16) on a fake handler context:
// a temp store, fresh keys, a fake outbox and a directory of two peers;
// no daemon. The Bundle of a real referral (sender side) and of every
// status (pl_fhir_bundle on referral.show replies), the sector's minimum
// data in the Patient, the round trip export -> import (every field the
// sector may see), 200+ malformed documents refused with their FHIR path
// and nothing stored, the HSDS export (ids, nesting, taxonomy, pages) and
// its enrichment import. With PL_FHIR_OUT=DIR it writes every exported
// document there, for tests/web/test_fhir_hsds.sh's offline validators.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_fhir.h"
#include "nodes/pl_fhir_map.h"
#include "nodes/pl_hsds.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_node_ctl.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"
#include "tests/lib/pl_test.h"

// What this file's certificates carry beyond the fake's
// (tests/lib/nodes/pl_fakectx.h): a display name, services, a sign key of
// one repeated byte (the FHIR Organization ids), a serial and a validity.
static void
s_more(pl_cert_t *c, const char *svcs, uint8_t key)
{
    snprintf(c->display_name, sizeof c->display_name, "The %s", c->name);
    snprintf(c->services, sizeof c->services, "%s", svcs);
    memset(c->keys.sign, key, sizeof c->keys.sign);
    c->serial = key;
    c->not_before = 1;
    c->not_after = (uint64_t) 1 << 40;
}

// This node, an agency; the directory: itself, a clinic (health), a
// school (education).
static int
s_setup(void **state)
{
    pl_fakectx_t *f = pl_fakectx_new("fhir", "agency", "agency");
    pl_fakectx_cert(&f->me, "agency", "agency", NULL);
    s_more(&f->me, "", 1);
    s_more(pl_fakectx_peer(f, "agency", "agency", false), "", 1);
    s_more(pl_fakectx_peer(f, "clinic", "health", false),
           "primary-care,maternal", 2);
    s_more(pl_fakectx_peer(f, "school", "education", false), "", 3);
    *state = f;
    return 0;
}

// Runs 'cmd' (args stolen) as Awa through the one walker; the parsed reply.
static json_t *
s_run(pl_fakectx_t *f, const char *cmd, json_t *args, int *rc)
{
    return pl_fakectx_run(f, cmd, args, "Awa", rc);
}

// The result of a command that must succeed (reference owned by 'reply').
static json_t *
s_ok(pl_fakectx_t *f, const char *cmd, json_t *args, json_t **reply)
{
    int rc;
    *reply = s_run(f, cmd, args, &rc);
    if (!json_is_true(json_object_get(*reply, "ok")))
        fail_msg("%s: %s", cmd,
                 json_string_value(json_object_get(*reply, "error")));
    assert_int_equal(rc, PL_OK);
    return json_object_get(*reply, "result");
}

// Writes 'doc' to $PL_FHIR_OUT/name when the variable is set.
static void
s_save(const char *name, const json_t *doc)
{
    const char *dir = getenv("PL_FHIR_OUT");
    if (!dir || !*dir)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2)), 0);
}

// The resource of type 'type' in a Bundle (the n-th: 0 first).
static const json_t *
s_res(const json_t *bundle, const char *type, int nth)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(bundle, "entry"), i, e)
    {
        const json_t *r = json_object_get(e, "resource");
        const char *t = json_string_value(json_object_get(r, "resourceType"));
        if (t && !strcmp(t, type) && nth-- == 0)
            return r;
    }
    return NULL;
}

static const char *
s_at(const json_t *o, const char *path)
{
    // "a.b.0.c": members and array indexes
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *v = o;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v;
         k = strtok_r(NULL, ".", &save))
        v = (*k >= '0' && *k <= '9') ? json_array_get(v, (size_t) atoi(k))
                                     : json_object_get(v, k);
    return json_string_value(v);
}

// A case, its consent for 'sectors', a referral to 'to': the referral id.
static void
s_referral(pl_fakectx_t *f, const char *sectors, const char *to, char rid[33])
{
    json_t *reply, *r;
    r = s_ok(f, "case.add",
             json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "given", "Aminata",
                       "family", "Diallo", "birth", "1988-04-12", "phone",
                       "+221770001122", "sex", "F", "language", "wo"),
             &reply);
    char cid[33];
    snprintf(cid, sizeof cid, "%s",
             json_string_value(json_object_get(r, "id")));
    json_decref(reply);
    s_ok(f, "consent.add",
         json_pack("{s:s, s:s, s:s, s:s}", "case", cid, "sectors", sectors,
                   "given_by", "returnee", "expires", "2099-12-31"),
         &reply);
    json_decref(reply);
    r = s_ok(f, "refer",
             json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "case", cid, "to", to,
                       "service", "primary-care", "priority", "urgent", "due",
                       "2099-06-30", "note", "needs a follow-up visit"),
             &reply);
    snprintf(rid, 33, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(reply);
}

static json_t *
s_bundle(pl_fakectx_t *f, const char *rid, json_t **reply)
{
    return s_ok(f, "fhir.bundle", json_pack("{s:s}", "id", rid), reply);
}

static void
test_bundle_of_referral(void **state)
{
    pl_fakectx_t *f = *state;
    char rid[33];
    s_referral(f, "health", "clinic", rid);
    json_t *reply, *b = s_bundle(f, rid, &reply);
    s_save("bundle-out.json", b);
    assert_string_equal(s_at(b, "resourceType"), "Bundle");
    assert_string_equal(s_at(b, "type"), "collection");
    const json_t *sr = s_res(b, "ServiceRequest", 0), *t = s_res(b, "Task", 0);
    const json_t *p = s_res(b, "Patient", 0);
    assert_non_null(sr);
    assert_non_null(t);
    assert_non_null(p);
    assert_non_null(s_res(b, "Organization", 1));
    assert_string_equal(s_at(sr, "id"), rid);
    assert_string_equal(s_at(sr, "intent"), "order");
    assert_string_equal(s_at(sr, "priority"), "urgent");
    assert_string_equal(s_at(sr, "code.coding.0.code"), "primary-care");
    assert_string_equal(s_at(sr, "note.0.text"), "needs a follow-up visit");
    assert_string_equal(s_at(t, "intent"), "order");
    assert_string_equal(s_at(t, "code.coding.0.code"), "fulfill");
    assert_string_equal(s_at(t, "status"), "requested");
    char focus[64];
    snprintf(focus, sizeof focus, "ServiceRequest/%s", rid);
    assert_string_equal(s_at(t, "focus.reference"), focus);
    // requester: this node (sender), owner: the clinic, both Organizations
    // whose ids are the HSDS organization ids (the signing keys')
    const json_t *o0 = s_res(b, "Organization", 0);
    const json_t *o1 = s_res(b, "Organization", 1);
    char ref[80];
    snprintf(ref, sizeof ref, "Organization/%s", s_at(o0, "id"));
    assert_string_equal(s_at(t, "requester.reference"), ref);
    snprintf(ref, sizeof ref, "Organization/%s", s_at(o1, "id"));
    assert_string_equal(s_at(t, "owner.reference"), ref);
    assert_string_equal(s_at(o1, "identifier.0.value"), "sn/clinic");
    char uuid[37];
    pl_fhir_uuid(uuid, "organization", f->dir[1].keys.sign,
                 sizeof f->dir[1].keys.sign);
    assert_string_equal(s_at(o1, "id"), uuid);
    // health may see the phone: the Patient has it
    assert_string_equal(s_at(p, "telecom.0.value"), "+221770001122");
    assert_string_equal(s_at(p, "name.0.family"), "Diallo");
    assert_string_equal(s_at(p, "gender"), "female");
    json_decref(reply);
    // the Tasks as a FHIR search gives them, and filtered by status
    json_t *ts = s_ok(f, "fhir.tasks", NULL, &reply);
    s_save("tasks.json", ts);
    assert_string_equal(s_at(ts, "type"), "searchset");
    assert_int_equal(json_integer_value(json_object_get(ts, "total")), 1);
    assert_string_equal(s_at(ts, "entry.0.resource.resourceType"), "Task");
    assert_string_equal(s_at(ts, "entry.0.resource.focus.reference"), focus);
    json_decref(reply);
    ts = s_ok(f, "fhir.tasks", json_pack("{s:s}", "status", "completed"),
              &reply);
    assert_int_equal(json_integer_value(json_object_get(ts, "total")), 0);
    json_decref(reply);
}

// A school (education) may not see the phone: neither the referral nor
// its Patient carries it.
static void
test_bundle_sector_minimum(void **state)
{
    pl_fakectx_t *f = *state;
    char rid[33];
    s_referral(f, "education", "school", rid);
    json_t *reply, *b = s_bundle(f, rid, &reply);
    s_save("bundle-education.json", b);
    const json_t *p = s_res(b, "Patient", 0);
    assert_non_null(p);
    assert_null(json_object_get(p, "telecom"));
    assert_string_equal(s_at(p, "birthDate"), "1988-04-12");
    char *text = json_dumps(b, 0);
    assert_non_null(text);
    assert_null(strstr(text, "+221770001122"));
    free(text);
    json_decref(reply);
}

// Every status, on the recipient's side, through pl_fhir_bundle.
static void
test_bundle_every_status(void **state)
{
    (void) state;
    pl_fhir_org_t me = {.address = "sn/clinic", .sector = "health"};
    pl_fhir_org_t peer = {.address = "sn/agency", .sector = "agency"};
    pl_fhir_uuid(me.uuid, "t", "a", 1);
    pl_fhir_uuid(peer.uuid, "t", "b", 1);
    for (const pl_fhir_status_t *s = pl_fhir_status_table(); s->status; s++) {
        json_t *ref = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s},"
            " s:[{s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}",
            "id", "0123456789abcdef0123456789abcdef", "status", s->status,
            "direction", "in", "peer", "sn/agency", "priority", "emergency",
            "service", "primary-care", "sector", "health", "created",
            "2026-01-02T03:04:05Z", "updated", "2026-01-03T03:04:05Z", "person",
            "given", "Awa", "family", "Ndiaye", "birth", "2001-02-03",
            "history", "status", "received", "at", "2026-01-02T03:04:05Z",
            "status", s->status, "at", "2026-01-03T03:04:05Z", "reason",
            "no-capacity", "note", "full until March", "outcome", "successful");
        json_t *b = pl_fhir_bundle(ref, &me, &peer);
        assert_non_null(b);
        const json_t *t = s_res(b, "Task", 0),
                     *sr = s_res(b, "ServiceRequest", 0);
        assert_string_equal(s_at(t, "status"), s->task_status);
        assert_string_equal(s_at(t, "businessStatus.text"), s->business);
        assert_string_equal(s_at(sr, "status"), s->sr_status);
        assert_string_equal(s_at(sr, "priority"), "stat");
        // in: the agency asked (requester), this clinic owns it
        char own[64];
        snprintf(own, sizeof own, "Organization/%s", me.uuid);
        assert_string_equal(s_at(t, "owner.reference"), own);
        if (s->with_reason)
            assert_string_equal(s_at(t, "statusReason.text"),
                                "no-capacity: full until March");
        else
            assert_null(json_object_get(t, "statusReason"));
        if (!strcmp(s->status, "completed"))
            assert_string_equal(
                s_at(t, "output.0.valueCodeableConcept.coding.0.code"),
                "successful");
        else
            assert_null(json_object_get(t, "output"));
        char name[64];
        snprintf(name, sizeof name, "bundle-%s.json", s->status);
        s_save(name, b);
        json_decref(b);
        json_decref(ref);
    }
    assert_string_equal(pl_fhir_status("received")->task_status, "requested");
    assert_string_equal(pl_fhir_status("received")->business, "received");
}

// Export -> import: the new case has every person field the sector may
// see, and the draft the referral's service, priority, due date, note,
// purpose and recipient.
static void
test_round_trip(void **state)
{
    pl_fakectx_t *f = *state;
    char rid[33];
    s_referral(f, "health", "clinic", rid);
    json_t *r1, *r2, *r3;
    json_t *show = s_ok(f, "referral.show", json_pack("{s:s}", "id", rid), &r1);
    json_t *b = s_bundle(f, rid, &r2);
    json_t *imp = s_ok(f, "fhir.import", json_pack("{s:O}", "doc", b), &r3);
    const char *cid = s_at(imp, "case"), *did = s_at(imp, "draft");
    assert_non_null(cid);
    assert_non_null(did);
    json_t *r4, *c = s_ok(f, "case.show", json_pack("{s:s}", "id", cid), &r4);
    const json_t *person = json_object_get(show, "person");
    const char *key;
    json_t *v;
    size_t nfields = 0;
    json_object_foreach((json_t *) person, key, v)
    {
        assert_non_null(s_at(c, key));
        assert_string_equal(s_at(c, key), json_string_value(v));
        nfields++;
    }
    assert_int_equal(nfields, 6); // health: given .. phone (sector table)
    const json_t *d = json_array_get(json_object_get(c, "drafts"), 0);
    assert_string_equal(s_at(d, "id"), did);
    assert_string_equal(s_at(d, "service"), s_at(show, "service"));
    assert_string_equal(s_at(d, "priority"), s_at(show, "priority"));
    assert_string_equal(s_at(d, "note"), s_at(show, "note"));
    assert_string_equal(s_at(d, "purpose"), s_at(show, "purpose"));
    assert_string_equal(s_at(d, "to"), s_at(show, "peer"));
    // the deadline is the end of the day given to refer (2099-06-30)
    assert_string_equal(s_at(show, "due"), "2099-07-01T00:00:00Z");
    assert_string_equal(s_at(d, "due"), "2099-06-30");
    assert_string_equal(s_at(d, "identifier"), rid);
    // the draft becomes a referral once: its recipient, service, priority
    // and due date, unless the call gives them
    json_t *r5, *r6, *r7, *r8;
    s_ok(f, "consent.add",
         json_pack("{s:s, s:s, s:s, s:s}", "case", cid, "sectors", "health",
                   "given_by", "returnee", "expires", "2099-12-31"),
         &r5);
    json_t *ref = s_ok(f, "refer",
                       json_pack("{s:s, s:s}", "case", cid, "draft", did), &r6);
    const char *nid = s_at(ref, "id");
    json_t *shown =
        s_ok(f, "referral.show", json_pack("{s:s}", "id", nid), &r7);
    assert_string_equal(s_at(shown, "service"), s_at(show, "service"));
    assert_string_equal(s_at(shown, "peer"), s_at(show, "peer"));
    assert_string_equal(s_at(shown, "priority"), s_at(show, "priority"));
    assert_string_equal(s_at(shown, "due"), s_at(show, "due"));
    json_t *c2 = s_ok(f, "case.show", json_pack("{s:s}", "id", cid), &r8);
    assert_string_equal(
        s_at(json_array_get(json_object_get(c2, "drafts"), 0), "referral"),
        nid);
    int rc;
    json_t *again = s_run(
        f, "refer", json_pack("{s:s, s:s}", "case", cid, "draft", did), &rc);
    assert_int_equal(rc, PL_ESTATE);
    json_decref(again);
    again = s_run(f, "refer",
                  json_pack("{s:s, s:s}", "case", cid, "draft", "00ff"), &rc);
    assert_int_equal(rc, PL_ENOTFOUND);
    json_decref(again);
    json_decref(r5), json_decref(r6), json_decref(r7), json_decref(r8);
    json_decref(r1), json_decref(r2), json_decref(r3), json_decref(r4);
}

// ---- 200+ malformed documents

static const char s_base[] =
    "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
    "{\"resource\":{\"resourceType\":\"ServiceRequest\",\"id\":\"sr1\","
    "\"status\":\"active\",\"intent\":\"order\",\"code\":{\"coding\":[{"
    "\"system\":\"urn:passerelle:service\",\"code\":\"primary-care\"}]},"
    "\"subject\":{\"reference\":\"Patient/p1\"},\"priority\":\"urgent\","
    "\"occurrencePeriod\":{\"end\":\"2099-06-30\"},\"note\":[{\"text\":"
    "\"hello\"}],\"reasonCode\":[{\"coding\":[{\"system\":"
    "\"urn:passerelle:purpose\",\"code\":\"services\"}]}],\"performer\":[{"
    "\"reference\":\"Organization/o1\"}]}},"
    "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{"
    "\"family\":\"Diallo\",\"given\":[\"Awa\"]}],\"birthDate\":"
    "\"1990-01-02\",\"gender\":\"female\",\"telecom\":[{\"system\":"
    "\"phone\",\"value\":\"+221\"}],\"communication\":[{\"language\":{"
    "\"coding\":[{\"system\":\"urn:ietf:bcp:47\",\"code\":\"wo\"}]}}]}},"
    "{\"resource\":{\"resourceType\":\"Organization\",\"id\":\"o1\","
    "\"identifier\":[{\"system\":\"urn:passerelle:address\",\"value\":"
    "\"sn/clinic\"}]}}]}";

// Value sets of a mutation: "-" deletes the member.
static const char *const s_req_str[] = {"-",  "42",   "true", "[]",
                                        "{}", "\"\"", NULL};
static const char *const s_opt_str[] = {"42", "true", "[]", "{}", "\"\"", NULL};
static const char *const s_req_arr[] = {"-",  "42", "\"s\"", "true",
                                        "{}", "[]", NULL};
static const char *const s_opt_arr[] = {"42", "\"s\"", "true",
                                        "{}", "[]",    NULL};
static const char *const s_req_obj[] = {"-", "42", "\"s\"", "true", "[]", NULL};
static const char *const s_opt_obj[] = {"42", "\"s\"", "true", "[]", NULL};
static const char *const s_elem[] = {"42", "\"s\"", "[]", NULL};

typedef struct {
    const char *path;          // members and indexes, '.'-separated
    const char *const *values; // the value set
    const char *bad1, *bad2;   // further wrong values (JSON text) or NULL
    const char *expect;        // the FHIR path the refusal must name
} s_mut_t;

#define E0 "entry.0.resource."
#define E1 "entry.1.resource."
static const s_mut_t s_muts[] = {
    {"type", s_req_str, "\"bogus\"", NULL, "Bundle.type"},
    {"entry", s_req_arr, NULL, NULL, "Bundle.entry"},
    {"entry.0", s_elem, NULL, NULL, "Bundle.entry[0]"},
    {"entry.0.resource", s_req_obj, NULL, NULL, "Bundle.entry[0].resource"},
    {E0 "resourceType", s_req_str, "\"Observation\"", NULL, "Bundle.entry"},
    {E0 "status", s_req_str, "\"bogus\"", NULL, "ServiceRequest.status"},
    {E0 "intent", s_req_str, "\"bogus\"", NULL, "ServiceRequest.intent"},
    {E0 "code", s_req_obj, NULL, NULL, "ServiceRequest.code"},
    {E0 "code.coding", s_req_arr, NULL, NULL, "ServiceRequest.code.coding"},
    {E0 "code.coding.0.code", s_req_str, "\"Not A Slug\"", NULL,
     "ServiceRequest.code.coding"},
    {E0 "subject", s_req_obj, NULL, NULL, "ServiceRequest.subject"},
    {E0 "subject.reference", s_req_str, "\"Patient/nobody\"", NULL,
     "ServiceRequest.subject.reference"},
    {E0 "priority", s_opt_str, "\"whenever\"", NULL, "ServiceRequest.priority"},
    {E0 "occurrencePeriod", s_opt_obj, NULL, NULL,
     "ServiceRequest.occurrencePeriod"},
    {E0 "occurrencePeriod.end", s_opt_str, "\"2099-13-45\"", NULL,
     "ServiceRequest.occurrence"},
    {E0 "note", s_opt_arr, NULL, NULL, "ServiceRequest.note"},
    {E0 "note.0", s_elem, "null", NULL, "ServiceRequest.note[0]"},
    {E0 "note.0.text", s_req_str, NULL, NULL, "ServiceRequest.note[0].text"},
    {E0 "performer.0.reference", s_req_str, "\"Organization/zz\"", NULL,
     "ServiceRequest.performer[0].reference"},
    {E0 "reasonCode.0.coding.0.code", s_req_str, "\"Not Slug\"", NULL,
     "ServiceRequest.reasonCode"},
    {E1 "name", s_req_arr, NULL, NULL, "Patient.name"},
    {E1 "name.0", s_elem, "true", NULL, "Patient.name[0]"},
    {E1 "name.0.family", s_req_str, NULL, NULL, "Patient.name[0].family"},
    {E1 "name.0.given", s_req_arr, NULL, NULL, "Patient.name[0].given"},
    {E1 "name.0.given.0", s_opt_str, NULL, NULL, "Patient.name[0].given[0]"},
    {E1 "birthDate", s_req_str, "\"1990\"", "\"2999-01-01\"",
     "Patient.birthDate"},
    {E1 "gender", s_opt_str, "\"f\"", NULL, "Patient.gender"},
    {E1 "telecom.0.value", s_req_str, NULL, NULL, "Patient.telecom[0].value"},
    {E1 "telecom.0.system", s_opt_str, NULL, NULL, "Patient.telecom[0].system"},
    {E1 "communication.0.language", s_req_obj, NULL, NULL,
     "Patient.communication[0].language"},
    {E1 "communication.0.language.coding", s_req_arr, NULL, NULL,
     "Patient.communication[0].language.coding"},
    {E1 "id", s_req_str, "\"other\"", NULL, "ServiceRequest.subject.reference"},
    {E1 "resourceType", s_req_str, NULL, NULL,
     "Bundle.entry[1].resource.resourceType"},
    {E1 "extension", s_opt_arr,
     "[{\"url\":\"urn:passerelle:sex-as-recorded\"}]", NULL,
     "Patient.extension"},
    {"entry.2.resource.identifier.0.value", s_opt_str, "\"not an address\"",
     NULL, "ServiceRequest.performer[0].reference"},
    {"resourceType", s_req_str, "\"Observation\"", NULL, "resourceType"},
};

// 'doc' with 'path' set to 'value' (JSON text; "-": deleted).
static void
s_mutate(json_t *doc, const char *path, const char *value)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *last = strrchr(buf, '.');
    json_t *parent = doc;
    const char *key = buf;
    if (last) {
        *last = 0;
        key = last + 1;
        char *save = NULL;
        for (char *k = strtok_r(buf, ".", &save); k && parent;
             k = strtok_r(NULL, ".", &save))
            parent = json_is_array(parent)
                         ? json_array_get(parent, (size_t) atoi(k))
                         : json_object_get(parent, k);
    }
    assert_non_null(parent);
    json_error_t jerr;
    json_t *v =
        strcmp(value, "-") ? json_loads(value, JSON_DECODE_ANY, &jerr) : NULL;
    if (json_is_array(parent)) {
        size_t i = (size_t) atoi(key);
        assert_int_equal(v ? json_array_set_new(parent, i, v)
                           : json_array_remove(parent, i),
                         0);
    } else {
        assert_int_equal(v ? json_object_set_new(parent, key, v)
                           : json_object_del(parent, key),
                         0);
    }
}

// One malformed document: refused, naming 'expect'. Returns 1.
static int
s_refused(pl_fakectx_t *f, json_t *doc, const char *expect, const char *what)
{
    int rc;
    json_t *r = s_run(f, "fhir.import", json_pack("{s:o}", "doc", doc), &rc);
    const char *err = json_string_value(json_object_get(r, "error"));
    if (json_is_true(json_object_get(r, "ok")) || rc != PL_EINVAL || !err
        || !strstr(err, expect))
        fail_msg("%s: expected a refusal naming %s, got %s", what, expect,
                 err ? err : "success");
    json_decref(r);
    return 1;
}

static void
test_malformed_refused(void **state)
{
    pl_fakectx_t *f = *state;
    json_error_t jerr;
    json_t *base = json_loads(s_base, 0, &jerr);
    assert_non_null(base);
    // the base document itself is taken (the mutations are the faults)
    json_t *reply;
    s_ok(f, "fhir.import", json_pack("{s:O}", "doc", base), &reply);
    json_decref(reply);
    size_t cases = pl_fakectx_count(f, PL_DB_CASES),
           audit = pl_fakectx_count(f, PL_DB_AUDIT);
    int n = 0;
    for (size_t m = 0; m < sizeof s_muts / sizeof *s_muts; m++) {
        const s_mut_t *mu = &s_muts[m];
        const char *extra[] = {mu->bad1, mu->bad2};
        for (size_t v = 0; mu->values[v]; v++) {
            const char *val = mu->values[v];
            json_t *doc = json_deep_copy(base);
            s_mutate(doc, mu->path, val);
            char what[160];
            snprintf(what, sizeof what, "%s = %s", mu->path, val);
            n += s_refused(f, doc, mu->expect, what);
        }
        for (size_t x = 0; x < 2; x++) {
            if (!extra[x])
                continue;
            json_t *doc = json_deep_copy(base);
            s_mutate(doc, mu->path, extra[x]);
            n += s_refused(f, doc, mu->expect, mu->path);
        }
    }
    // a second ServiceRequest; a ServiceRequest alone with no Patient;
    // documents that are no object
    json_t *doc = json_deep_copy(base);
    json_array_append(json_object_get(doc, "entry"),
                      json_array_get(json_object_get(base, "entry"), 0));
    n += s_refused(f, doc, "Bundle.entry[3].resource", "two requests");
    doc = json_deep_copy(json_object_get(
        json_array_get(json_object_get(base, "entry"), 0), "resource"));
    n += s_refused(f, json_deep_copy(doc), "ServiceRequest.subject.reference",
                   "alone");
    // ... but taken with its Patient in "contained" ("#p1")
    json_t *pat = json_deep_copy(json_object_get(
        json_array_get(json_object_get(base, "entry"), 1), "resource"));
    json_object_set_new(doc, "contained", json_pack("[o]", pat));
    json_object_set_new(json_object_get(doc, "subject"), "reference",
                        json_string("#p1"));
    json_object_del(doc, "performer");
    json_t *res =
        s_ok(f, "fhir.import", json_pack("{s:o}", "doc", doc), &reply);
    assert_non_null(s_at(res, "case"));
    json_decref(reply);
    cases++;
    audit += 2; // case-add and fhir-import
    n += s_refused(f, json_array(), "resourceType", "array");
    n += s_refused(f, json_integer(7), "resourceType", "number");
    printf("%d malformed documents refused, each with its FHIR path\n", n);
    assert_true(n >= 200);
    assert_int_equal(pl_fakectx_count(f, PL_DB_CASES), cases);
    assert_int_equal(pl_fakectx_count(f, PL_DB_AUDIT), audit);
    json_decref(base);
}

// ---- HSDS 3.0

static json_t *
s_hsds(pl_fakectx_t *f, json_t *args, json_t **reply)
{
    return s_ok(f, "hsds.services", args, reply);
}

// The export: one service per certificate service (the agency, a
// coordination sector, offers its sector), ids stable and derived from
// the signing keys, organization and service_at_locations nested,
// taxonomy terms of the sector and the service.
static void
test_hsds_export(void **state)
{
    pl_fakectx_t *f = *state;
    json_t *r1, *r2;
    json_t *a = s_hsds(f, NULL, &r1);
    s_save("hsds.json", a);
    assert_int_equal(json_array_size(a), 4); // agency, 2 clinic, school
    const json_t *s = json_array_get(a, 1);
    assert_string_equal(s_at(s, "status"), "active");
    assert_string_equal(s_at(s, "name"), "primary-care (The clinic)");
    char oid[37];
    pl_fhir_uuid(oid, "organization", f->dir[1].keys.sign,
                 sizeof f->dir[1].keys.sign);
    assert_string_equal(s_at(s, "organization.id"), oid);
    assert_string_equal(s_at(s, "organization_id"), oid);
    assert_string_equal(s_at(s, "organization.uri"),
                        "urn:passerelle:address:sn/clinic");
    assert_string_equal(s_at(s, "service_at_locations.0.location.name"),
                        "dakar");
    assert_string_equal(s_at(s, "attributes.0.taxonomy_term.code"), "health");
    assert_string_equal(s_at(s, "attributes.1.taxonomy_term.code"),
                        "primary-care");
    // the same ids on every export; two services of one node, one
    // organization and location
    json_t *b = s_hsds(f, NULL, &r2);
    assert_true(json_equal(a, b));
    const json_t *s2 = json_array_get(a, 2);
    assert_string_equal(s_at(s2, "organization.id"), oid);
    assert_string_not_equal(s_at(s2, "id"), s_at(s, "id"));
    json_decref(r1), json_decref(r2);
    // a page as HSDS's API gives it
    json_t *p =
        s_hsds(f, json_pack("{s:i, s:i}", "page", 2, "per_page", 3), &r1);
    assert_int_equal(json_integer_value(json_object_get(p, "total_items")), 4);
    assert_int_equal(json_integer_value(json_object_get(p, "total_pages")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "page_number")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "size")), 1);
    assert_true(json_is_true(json_object_get(p, "last_page")));
    assert_true(json_is_false(json_object_get(p, "first_page")));
    json_decref(r1);
    int rc;
    r1 = s_run(f, "hsds.services", json_pack("{s:i}", "per_page", 9999), &rc);
    assert_false(json_is_true(json_object_get(r1, "ok")));
    json_decref(r1);
}

// The catalogue (issue 18) in the export: a node that publishes one lists
// its services there (its certificate's rows give way, same id for the
// same code), with the fields HSDS has; an entry of a node without a
// certificate in the directory is left out.
static void
test_hsds_catalogue(void **state)
{
    pl_fakectx_t *f = *state;
    const pl_cert_t *certs[] = {&f->dir[0], &f->dir[1], &f->dir[2]};
    pl_hsds_svc_t svcs[16] = {0};
    size_t n = pl_hsds_service_list(certs, 3, svcs, 16);
    assert_int_equal(n, 4); // agency, clinic x2, school
    json_t *before = pl_hsds_services(svcs, n, NULL);
    json_t *cat = json_pack(
        "[{s:s, s:{s:s, s:s, s:s, s:i, s:i, s:[s,s], s:s, s:s, s:s, "
        "s:{s:s}}}, {s:s, s:{s:s, s:s}}]",
        "address", "sn/clinic", "entry", "code", "primary-care", "name_en",
        "General practice", "cost", "free", "min_age", 0, "max_age", 120,
        "languages", "fr", "wo", "hours", "Mon-Fri 8:00-17:00", "reach",
        "Ask at the front desk", "status", "active", "capacity", "state",
        "full", "address", "xx/unknown", "entry", "code", "ghost", "name_en",
        "Not in the directory");
    n = pl_hsds_with_catalogue(svcs, n, 16, cat);
    assert_int_equal(n, 3); // agency, school, the clinic's one entry
    json_t *a = pl_hsds_services(svcs, n, NULL);
    s_save("hsds-catalogue.json", a);
    const json_t *s = json_array_get(a, 2);
    assert_string_equal(s_at(s, "name"), "General practice");
    assert_string_equal(s_at(s, "fees_description"), "free");
    assert_string_equal(s_at(s, "application_process"),
                        "Ask at the front desk");
    assert_int_equal(json_integer_value(json_object_get(s, "maximum_age")),
                     120);
    assert_string_equal(s_at(s, "languages.1.code"), "wo");
    assert_string_equal(s_at(s, "schedules.0.description"),
                        "Mon-Fri 8:00-17:00");
    assert_string_equal(s_at(s, "attributes.2.taxonomy_term.code"), "full");
    // the same service id as the certificate's row of the same code
    assert_string_equal(s_at(s, "id"), s_at(json_array_get(before, 1), "id"));
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(s_at(json_array_get(a, i), "name"),
                                "Not in the directory");
    json_decref(a);
    json_decref(before);
    json_decref(cat);
}

// The import keeps display fields for the export's ids, never trust: the
// organization's uri (the address) and the taxonomy stay the
// certificate's; a bad email is refused with its path, nothing stored.
static void
test_hsds_import(void **state)
{
    pl_fakectx_t *f = *state;
    json_t *r1, *r2, *r3;
    json_t *a = json_deep_copy(s_hsds(f, NULL, &r1));
    json_decref(r1);
    json_t *s = json_array_get(a, 1);
    json_object_set_new(s, "name",
                        json_string("Consultations de médecine générale"));
    json_object_set_new(s, "email", json_string("accueil@clinic.example.org"));
    json_object_set_new(
        s, "languages",
        json_pack("[{s:s, s:s}]", "name", "Wolof", "code", "wo"));
    json_t *org = json_object_get(s, "organization");
    json_object_set_new(org, "name", json_string("Centre de santé de Pikine"));
    json_object_set_new(org, "uri",
                        json_string("urn:passerelle:address:sn/evil"));
    json_t *sal = json_array_get(json_object_get(s, "service_at_locations"), 0);
    json_t *loc = json_object_get(sal, "location");
    json_object_set_new(loc, "addresses",
                        json_pack("[{s:s, s:s, s:s, s:s, s:s, s:s}]",
                                  "address_1", "Route de Rufisque", "city",
                                  "Pikine", "state_province", "Dakar",
                                  "postal_code", "12500", "country", "SN",
                                  "address_type", "physical"));
    json_object_set_new(sal, "schedules",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "freq", "WEEKLY",
                                  "byday", "MO,TU,WE,TH,FR", "opens_at",
                                  "08:00", "closes_at", "17:00"));
    // a bad email first: refused, nothing kept
    json_t *bad = json_deep_copy(a);
    json_object_set_new(json_array_get(bad, 1), "email",
                        json_string("not-an-email"));
    int rc;
    r1 = s_run(f, "hsds.import", json_pack("{s:o}", "doc", bad), &rc);
    assert_int_equal(rc, PL_EINVAL);
    assert_non_null(
        strstr(json_string_value(json_object_get(r1, "error")), "[1].email"));
    json_decref(r1);
    json_t *before = json_deep_copy(s_hsds(f, NULL, &r1));
    json_decref(r1);
    // an address without its city: refused
    bad = json_deep_copy(a);
    json_object_del(
        json_array_get(
            json_object_get(
                json_object_get(
                    json_array_get(json_object_get(json_array_get(bad, 1),
                                                   "service_at_locations"),
                                   0),
                    "location"),
                "addresses"),
            0),
        "city");
    r1 = s_run(f, "hsds.import", json_pack("{s:o}", "doc", bad), &rc);
    assert_int_equal(rc, PL_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r1, "error")),
                           "addresses[0].city: is required"));
    json_decref(r1);
    json_t *same = s_hsds(f, NULL, &r1);
    assert_true(json_equal(before, same));
    json_decref(r1);
    json_decref(before);
    // the good one, as a page
    json_t *res = s_ok(f, "hsds.import",
                       json_pack("{s:{s:o}}", "doc", "contents", a), &r2);
    assert_true(json_integer_value(json_object_get(res, "matched")) >= 3);
    json_t *after = s_hsds(f, NULL, &r3);
    s_save("hsds-enriched.json", after);
    const json_t *e = json_array_get(after, 1);
    assert_string_equal(s_at(e, "name"), "Consultations de médecine générale");
    assert_string_equal(s_at(e, "email"), "accueil@clinic.example.org");
    assert_string_equal(s_at(e, "languages.0.name"), "Wolof");
    assert_string_equal(s_at(e, "organization.name"),
                        "Centre de santé de Pikine");
    assert_string_equal(s_at(e, "organization.uri"),
                        "urn:passerelle:address:sn/clinic");
    assert_string_equal(
        s_at(e, "service_at_locations.0.location.addresses.0.city"), "Pikine");
    assert_string_equal(s_at(e, "service_at_locations.0.schedules.0.opens_at"),
                        "08:00");
    // the other service of the clinic shares its organization's name
    assert_string_equal(s_at(json_array_get(after, 2), "organization.name"),
                        "Centre de santé de Pikine");
    json_decref(r2), json_decref(r3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bundle_of_referral, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_bundle_sector_minimum, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test(test_bundle_every_status),
        cmocka_unit_test_setup_teardown(test_round_trip, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_refused, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_hsds_export, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_hsds_import, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_hsds_catalogue, s_setup,
                                        pl_fakectx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
