// pl_fhir_map - the mapping tables of FHIR R4 and HSDS 3.0 (issue 16).
// Layer: nodes, domain. See pl_fhir_map.h.
#include "nodes/pl_fhir_map.h"

#include <string.h>
#include <strings.h>

// clang-format off
static const pl_fhir_status_t s_status[] = {
    // Passerelle    Task.status    businessStatus  ServiceRequest  reason
    {"requested",   "requested",   "sent",         "active",       0},
    {"received",    "requested",   "received",     "active",       0},
    {"accepted",    "accepted",    "accepted",     "active",       0},
    {"rejected",    "rejected",    "rejected",     "revoked",      1},
    {"in-progress", "in-progress", "in progress",  "active",       0},
    {"on-hold",     "on-hold",     "on hold",      "on-hold",      1},
    {"completed",   "completed",   "completed",    "completed",    0},
    {"cancelled",   "cancelled",   "cancelled",    "revoked",      1},
    {NULL, NULL, NULL, NULL, 0},
};

static const struct {
    const char *ours, *fhir;
} s_priority[] = {
    {"emergency", "stat"}, {"urgent", "urgent"}, {"normal", "routine"},
};

static const struct {
    const char *sex, *gender;
} s_gender[] = {
    {"male", "male"},     {"m", "male"},     {"man", "male"},
    {"homme", "male"},    {"female", "female"}, {"f", "female"},
    {"woman", "female"},  {"femme", "female"},  {"other", "other"},
    {"unknown", "unknown"},
};

static const pl_hsds_sector_t s_sector[] = {
    {"agency", "Reintegration agency",
     "Case management and referral of returnees (IOM or national agency)"},
    {"health", "Health care", "Clinics and hospitals: medical care"},
    {"mhpss", "Mental health and psychosocial support",
     "Counselling, psychosocial support and mental health care"},
    {"education", "Education", "Schools and education programmes"},
    {"tvet", "Technical and vocational training",
     "Vocational education and training"},
    {"housing", "Housing and shelter", "Shelter, housing and accommodation"},
    {"child-protection", "Child protection",
     "Protection of children, best-interests procedures"},
    {"gbv", "Gender-based violence services",
     "Support to survivors of gender-based violence"},
    {"legal", "Legal aid", "Legal counselling, documents and representation"},
    {"livelihood", "Livelihood", "Income generation, business support, jobs"},
    {"social-protection", "Social protection",
     "Cash transfers and social assistance schemes"},
    {"basic-needs", "Basic needs", "Food, water, clothing, hygiene"},
    {"family-tracing", "Family tracing",
     "Tracing and reunification of families"},
    {"coordination", "Coordination",
     "Coordination of the referral network (no personal data)"},
    {"broker", "Network broker", "Transport of the referral network"},
    {NULL, NULL, NULL},
};
// clang-format on

const pl_fhir_status_t *
pl_fhir_status(const char *status)
{
    for (const pl_fhir_status_t *s = s_status; status && s->status; s++)
        if (!strcmp(s->status, status))
            return s;
    return NULL;
}

const pl_fhir_status_t *
pl_fhir_status_table(void)
{
    return s_status;
}

const char *
pl_fhir_priority_out(const char *priority)
{
    for (size_t i = 0; priority && i < sizeof s_priority / sizeof *s_priority;
         i++)
        if (!strcmp(s_priority[i].ours, priority))
            return s_priority[i].fhir;
    return NULL;
}

const char *
pl_fhir_priority_in(const char *fhir)
{
    if (fhir && !strcmp(fhir, "asap"))
        return "urgent";
    for (size_t i = 0; fhir && i < sizeof s_priority / sizeof *s_priority; i++)
        if (!strcmp(s_priority[i].fhir, fhir))
            return s_priority[i].ours;
    return NULL;
}

const char *
pl_fhir_gender_out(const char *sex)
{
    if (!sex)
        return NULL;
    for (size_t i = 0; i < sizeof s_gender / sizeof *s_gender; i++)
        if (!strcasecmp(s_gender[i].sex, sex))
            return s_gender[i].gender;
    return "other";
}

int
pl_fhir_gender_valid(const char *gender)
{
    static const char *const codes[] = {"male", "female", "other", "unknown"};
    for (size_t i = 0; gender && i < sizeof codes / sizeof *codes; i++)
        if (!strcmp(codes[i], gender))
            return 1;
    return 0;
}

const pl_hsds_sector_t *
pl_hsds_sector(const char *sector)
{
    for (const pl_hsds_sector_t *s = s_sector; sector && s->sector; s++)
        if (!strcmp(s->sector, sector))
            return s;
    return NULL;
}

const pl_hsds_sector_t *
pl_hsds_sector_table(void)
{
    return s_sector;
}
