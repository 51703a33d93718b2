// pl_records - the documents inside sealed records (see pl_records.h).
// Layer: nodes.
#include "nodes/pl_records.h"

#include <stdio.h>
#include <string.h>

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
