// pl_fhir_read - reads an imported FHIR R4 ServiceRequest and its Patient
// (issue 16), refusing the first fault with its FHIR path
// ("ServiceRequest.subject.reference: ..."). Layer: nodes, domain. See
// pl_fhir.h. Only the elements Passerelle keeps are read, and each of
// them is checked for its FHIR type; other elements are left alone.
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nodes/pl_fhir.h"
#include "nodes/pl_fhir_map.h"
#include "proto/pl_util.h"

#define S_TEXT_MAX  200  // a person field, a code
#define S_NOTE_MAX  2000 // a note
#define S_ENTRY_MAX 64   // entries of a Bundle
#define S_PAT_MAX   8    // Patients and Organizations kept for references

typedef struct {
    pl_fhir_fault_t f;              // the first fault
    const json_t *pat[S_PAT_MAX];   // candidate Patients
    const json_t *org[S_PAT_MAX];   // Organizations
    const char *pat_url[S_PAT_MAX]; // their fullUrl (may be NULL)
    const char *org_url[S_PAT_MAX]; //
    size_t npat, norg;              //
    bool contained;                 // the ServiceRequest came alone
} s_rd_t;

static const char *
s_tname(json_type t)
{
    switch (t) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    default:
        return "a boolean";
    }
}

// Member 'key' of 'o' (path 'base') of JSON type 't'; NULL when absent
// (a fault when 'req') or of another type (a fault).
static const json_t *
s_get(s_rd_t *r, const json_t *o, const char *base, const char *key,
      json_type t, bool req)
{
    if (r->f.bad)
        return NULL;
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (req)
            pl_fhir_fault(&r->f, "%s.%s: is required", base, key);
        return NULL;
    }
    bool ok = t == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == t;
    if (!ok) {
        pl_fhir_fault(&r->f, "%s.%s: must be %s", base, key, s_tname(t));
        return NULL;
    }
    if (t == JSON_ARRAY && json_array_size(v) == 0) {
        pl_fhir_fault(&r->f, "%s.%s: must not be an empty array", base, key);
        return NULL;
    }
    return v;
}

// A string member, non-empty, at most 'max' bytes.
static const char *
s_str(s_rd_t *r, const json_t *o, const char *base, const char *key, bool req,
      size_t max)
{
    const json_t *v = s_get(r, o, base, key, JSON_STRING, req);
    if (!v)
        return NULL;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 || strlen(s) != len)
        pl_fhir_fault(&r->f, "%s.%s: must be a non-empty string", base, key);
    else if (len > max)
        pl_fhir_fault(&r->f, "%s.%s: is longer than %zu bytes", base, key, max);
    return r->f.bad ? NULL : s;
}

// Element 0 of array member 'key' as an object; its path into 'path'.
static const json_t *
s_first(s_rd_t *r, const json_t *o, const char *base, const char *key, bool req,
        char *path, size_t n)
{
    const json_t *a = s_get(r, o, base, key, JSON_ARRAY, req);
    snprintf(path, n, "%s.%s[0]", base, key);
    if (!a)
        return NULL;
    const json_t *e = json_array_get(a, 0);
    if (!json_is_object(e)) {
        pl_fhir_fault(&r->f, "%s: must be an object", path);
        return NULL;
    }
    return e;
}

// 'v' is one of the NULL-ended 'codes' (a fault otherwise).
static void
s_code_in(s_rd_t *r, const char *v, const char *path, const char *const *codes)
{
    if (!v || r->f.bad)
        return;
    for (size_t i = 0; codes[i]; i++)
        if (!strcmp(v, codes[i]))
            return;
    pl_fhir_fault(&r->f, "%s: '%s' is not a code of its value set", path, v);
}

// A FHIR date or dateTime whose date part YYYY-MM-DD is a real date; the
// date part into 'out' (11 bytes).
static void
s_date(s_rd_t *r, const char *v, const char *path, bool past, char out[11])
{
    uint64_t t;
    if (!v || r->f.bad)
        return;
    snprintf(out, 11, "%s", v);
    if (strlen(v) < 10 || (v[10] && v[10] != 'T')
        || pl_date_parse(out, &t) != PL_OK)
        pl_fhir_fault(&r->f, "%s: '%s' is not a full date YYYY-MM-DD", path, v);
    else if (past && t > pl_now())
        pl_fhir_fault(&r->f, "%s: '%s' is in the future", path, v);
}

// A code Passerelle keeps as a slug (service, purpose).
static void
s_slug(s_rd_t *r, const char *v, const char *path)
{
    if (v && !r->f.bad && !pl_slug_valid(v))
        pl_fhir_fault(
            &r->f,
            "%s: '%s' is not a code of lower-case letters, digits and "
            "'-'",
            path, v);
}

// The coding of 'cc' (path 'base') of 'system', else its first coding.
static const char *
s_coding(s_rd_t *r, const json_t *cc, const char *base, const char *system,
         bool req)
{
    char path[160];
    const json_t *a = s_get(r, cc, base, "coding", JSON_ARRAY, req);
    if (!a)
        return NULL;
    size_t i, pick = 0;
    json_t *c;
    json_array_foreach(a, i, c)
    {
        snprintf(path, sizeof path, "%s.coding[%zu]", base, i);
        if (!json_is_object(c)) {
            pl_fhir_fault(&r->f, "%s: must be an object", path);
            return NULL;
        }
        const char *sys = s_str(r, c, path, "system", false, 512);
        if (sys && !strcmp(sys, system))
            pick = i;
    }
    snprintf(path, sizeof path, "%s.coding[%zu]", base, pick);
    return s_str(r, json_array_get(a, pick), path, "code", true, S_TEXT_MAX);
}

// ---- the document's resources

// Registers a Patient or an Organization of the document.
static void
s_keep(s_rd_t *r, const json_t *res, const char *type, const char *url)
{
    if (!strcmp(type, "Patient") && r->npat < S_PAT_MAX) {
        r->pat_url[r->npat] = url;
        r->pat[r->npat++] = res;
    } else if (!strcmp(type, "Organization") && r->norg < S_PAT_MAX) {
        r->org_url[r->norg] = url;
        r->org[r->norg++] = res;
    }
}

// The resource 'ref' names among the kept ones of 'type', or NULL.
static const json_t *
s_resolve(s_rd_t *r, const char *ref, const char *type)
{
    bool pat = !strcmp(type, "Patient");
    size_t n = pat ? r->npat : r->norg, tl = strlen(type);
    for (size_t i = 0; ref && i < n; i++) {
        const json_t *res = pat ? r->pat[i] : r->org[i];
        const char *url = pat ? r->pat_url[i] : r->org_url[i];
        const char *id = json_string_value(json_object_get(res, "id"));
        if (url && !strcmp(url, ref))
            return res;
        if (!id)
            continue;
        if (ref[0] == '#' && r->contained && !strcmp(ref + 1, id))
            return res;
        if (!strncmp(ref, type, tl) && ref[tl] == '/'
            && !strcmp(ref + tl + 1, id))
            return res;
    }
    return NULL;
}

// The entries of a Bundle: its one ServiceRequest, Patients and
// Organizations kept.
static const json_t *
s_bundle(s_rd_t *r, const json_t *doc)
{
    static const char *const types[] = {"document",    "message",
                                        "transaction", "transaction-response",
                                        "batch",       "batch-response",
                                        "history",     "searchset",
                                        "collection",  NULL};
    s_code_in(r, s_str(r, doc, "Bundle", "type", true, 64), "Bundle.type",
              types);
    const json_t *entries = s_get(r, doc, "Bundle", "entry", JSON_ARRAY, true);
    const json_t *sr = NULL;
    char path[96];
    if (json_array_size(entries) > S_ENTRY_MAX)
        pl_fhir_fault(&r->f, "Bundle.entry: more than %d entries", S_ENTRY_MAX);
    for (size_t i = 0; !r->f.bad && i < json_array_size(entries); i++) {
        const json_t *e = json_array_get(entries, i);
        snprintf(path, sizeof path, "Bundle.entry[%zu]", i);
        if (!json_is_object(e)) {
            pl_fhir_fault(&r->f, "%s: must be an object", path);
            break;
        }
        const char *url = s_str(r, e, path, "fullUrl", false, 512);
        const json_t *res = s_get(r, e, path, "resource", JSON_OBJECT, true);
        snprintf(path, sizeof path, "Bundle.entry[%zu].resource", i);
        const char *type = s_str(r, res, path, "resourceType", true, 64);
        if (!type)
            break;
        if (!strcmp(type, "ServiceRequest") && sr)
            pl_fhir_fault(
                &r->f, "%s: a second ServiceRequest (one referral a document)",
                path);
        else if (!strcmp(type, "ServiceRequest"))
            sr = res;
        s_keep(r, res, type, url);
    }
    if (!r->f.bad && !sr)
        pl_fhir_fault(&r->f, "Bundle.entry: holds no ServiceRequest");
    return r->f.bad ? NULL : sr;
}

// Patient: names, birth date (required), gender, phone, language.
static void
s_patient(s_rd_t *r, const json_t *p, pl_fhir_import_t *out)
{
    static const char *const genders[] = {"male", "female", "other", "unknown",
                                          NULL};
    char path[96], date[11];
    const json_t *n = s_first(r, p, "Patient", "name", true, path, sizeof path);
    out->family = s_str(r, n, path, "family", true, S_TEXT_MAX);
    const json_t *given = s_get(r, n, path, "given", JSON_ARRAY, true);
    if (given && !json_is_string(json_array_get(given, 0)))
        pl_fhir_fault(&r->f, "%s.given[0]: must be a string", path);
    if (given && !r->f.bad) {
        out->given = json_string_value(json_array_get(given, 0));
        if (!*out->given || strlen(out->given) > S_TEXT_MAX)
            pl_fhir_fault(&r->f, "%s.given[0]: must be 1 to %d bytes", path,
                          S_TEXT_MAX);
    }
    out->birth = s_str(r, p, "Patient", "birthDate", true, 10);
    s_date(r, out->birth, "Patient.birthDate", true, date);
    out->sex = s_str(r, p, "Patient", "gender", false, 16);
    s_code_in(r, out->sex, "Patient.gender", genders);
    const json_t *x =
        s_first(r, p, "Patient", "extension", false, path, sizeof path);
    const char *url = s_str(r, x, path, "url", x != NULL, 512);
    if (url && !strcmp(url, PL_FHIR_EXT_SEX))
        out->sex = s_str(r, x, path, "valueString", true, S_TEXT_MAX);
    const json_t *t =
        s_first(r, p, "Patient", "telecom", false, path, sizeof path);
    const char *sys = s_str(r, t, path, "system", false, 16);
    const char *val = s_str(r, t, path, "value", t != NULL, S_TEXT_MAX);
    if (sys && !strcmp(sys, "phone"))
        out->phone = val;
    const json_t *c =
        s_first(r, p, "Patient", "communication", false, path, sizeof path);
    const json_t *lang = s_get(r, c, path, "language", JSON_OBJECT, c != NULL);
    strncat(path, ".language", sizeof path - strlen(path) - 1);
    if (lang)
        out->language = s_coding(r, lang, path, PL_FHIR_SYS_LANG, true);
}

// ServiceRequest.performer[0]: the address of the Organization it names.
static void
s_performer(s_rd_t *r, const json_t *sr, pl_fhir_import_t *out)
{
    char path[96];
    const json_t *p =
        s_first(r, sr, "ServiceRequest", "performer", false, path, sizeof path);
    const char *ref = s_str(r, p, path, "reference", p != NULL, 512);
    if (!ref)
        return;
    const json_t *org = s_resolve(r, ref, "Organization");
    if (!org) {
        pl_fhir_fault(
            &r->f, "%s.reference: '%s' names no Organization of the document",
            path, ref);
        return;
    }
    const json_t *ids = json_object_get(org, "identifier");
    size_t i;
    json_t *e;
    json_array_foreach(ids, i, e)
    {
        const char *sys = json_string_value(json_object_get(e, "system"));
        const char *v = json_string_value(json_object_get(e, "value"));
        if (sys && !strcmp(sys, PL_FHIR_SYS_ADDRESS) && !v)
            pl_fhir_fault(
                &r->f,
                "%s.reference: the Organization's identifier of system "
                "%s has no text value",
                path, sys);
        else if (sys && !strcmp(sys, PL_FHIR_SYS_ADDRESS))
            out->to = v;
    }
    if (out->to && !pl_address_valid(out->to))
        pl_fhir_fault(&r->f,
                      "%s.reference: the Organization's address '%s' is not a "
                      "node address",
                      path, out->to);
}

// ServiceRequest: status, intent, code, subject (required); priority,
// occurrence, note, reasonCode, performer, identifier.
static const json_t *
s_request(s_rd_t *r, const json_t *sr, pl_fhir_import_t *out)
{
    static const char *const st[] = {"draft",   "active",    "on-hold",
                                     "revoked", "completed", "entered-in-error",
                                     "unknown", NULL};
    static const char *const in[] = {"proposal",       "plan",
                                     "directive",      "order",
                                     "original-order", "reflex-order",
                                     "filler-order",   "instance-order",
                                     "option",         NULL};
    static const char *const pr[] = {"routine", "urgent", "asap", "stat", NULL};
    const char *B = "ServiceRequest";
    char path[96];
    s_code_in(r, s_str(r, sr, B, "status", true, 32), "ServiceRequest.status",
              st);
    s_code_in(r, s_str(r, sr, B, "intent", true, 32), "ServiceRequest.intent",
              in);
    const json_t *code = s_get(r, sr, B, "code", JSON_OBJECT, true);
    out->service = s_coding(r, code, "ServiceRequest.code", PL_FHIR_SYS_SERVICE,
                            code != NULL);
    s_slug(r, out->service, "ServiceRequest.code.coding.code");
    const json_t *subj = s_get(r, sr, B, "subject", JSON_OBJECT, true);
    const char *sref = s_str(r, subj, "ServiceRequest.subject", "reference",
                             subj != NULL, 512);
    const json_t *pat = r->f.bad ? NULL : s_resolve(r, sref, "Patient");
    if (!r->f.bad && !pat)
        pl_fhir_fault(
            &r->f,
            "ServiceRequest.subject.reference: '%s' names no Patient of "
            "the document",
            sref);
    const char *p = s_str(r, sr, B, "priority", false, 16);
    s_code_in(r, p, "ServiceRequest.priority", pr);
    out->priority = pl_fhir_priority_in(p);
    const json_t *per = s_get(r, sr, B, "occurrencePeriod", JSON_OBJECT, false);
    const char *due =
        s_str(r, per, "ServiceRequest.occurrencePeriod", "end", false, 64);
    if (!due)
        due = s_str(r, sr, B, "occurrenceDateTime", false, 64);
    s_date(r, due, "ServiceRequest.occurrence", false, out->due);
    if (!due)
        out->due[0] = 0;
    const json_t *note = s_first(r, sr, B, "note", false, path, sizeof path);
    out->note = s_str(r, note, path, "text", note != NULL, S_NOTE_MAX);
    const json_t *rc =
        s_first(r, sr, B, "reasonCode", false, path, sizeof path);
    const char *purpose =
        rc ? s_coding(r, rc, path, PL_FHIR_SYS_PURPOSE, false) : NULL;
    const json_t *c0 = json_array_get(json_object_get(rc, "coding"), 0);
    const char *sys0 = json_string_value(json_object_get(c0, "system"));
    if (purpose && sys0 && !strcmp(sys0, PL_FHIR_SYS_PURPOSE))
        out->purpose = purpose;
    s_slug(r, out->purpose, "ServiceRequest.reasonCode.coding.code");
    const json_t *id =
        s_first(r, sr, B, "identifier", false, path, sizeof path);
    out->identifier = s_str(r, id, path, "value", false, S_TEXT_MAX);
    s_performer(r, sr, out);
    return pat;
}

int
pl_fhir_read(const json_t *doc, pl_fhir_import_t *out, char *err, size_t n)
{
    s_rd_t r = {.f = {.err = err, .n = n}};
    memset(out, 0, sizeof *out);
    if (!json_is_object(doc)) {
        pl_fhir_fault(
            &r.f, "resourceType: the document is not a FHIR resource (a JSON "
                  "object)");
        return -1;
    }
    const char *type = s_str(&r, doc, "(document)", "resourceType", true, 64);
    const json_t *sr = NULL;
    if (type && !strcmp(type, "Bundle")) {
        sr = s_bundle(&r, doc);
    } else if (type && !strcmp(type, "ServiceRequest")) {
        sr = doc;
        r.contained = true;
        const json_t *c =
            s_get(&r, doc, "ServiceRequest", "contained", JSON_ARRAY, false);
        size_t i;
        json_t *e;
        json_array_foreach(c, i, e)
        {
            const char *t =
                json_string_value(json_object_get(e, "resourceType"));
            if (t)
                s_keep(&r, e, t, NULL);
        }
    } else if (type) {
        pl_fhir_fault(&r.f,
                      "resourceType: '%s' is not taken (a Bundle or a "
                      "ServiceRequest)",
                      type);
    }
    const json_t *pat = sr ? s_request(&r, sr, out) : NULL;
    if (pat)
        s_patient(&r, pat, out);
    if (r.f.bad)
        return -1;
    return 0;
}
