// pl_fhir_map - the mapping tables between Passerelle's codes and those of
// FHIR R4 and Open Referral HSDS 3.0 (issue 16): the one place where they
// are written down (docs/fhir-hsds.md prints the same tables). Layer:
// nodes, domain. Pure logic, static text.
//
// Sources: FHIR R4 (4.0.1) value sets task-status, request-status,
// request-priority, administrative-gender; the Gravity Project's SDOH
// Clinical Care implementation guide (Task for referral management:
// intent "order", code "fulfill", businessStatus); HSDS 3.0 schema/
// compiled/service.json (taxonomy_term: id, name, description required).
#ifndef PL_FHIR_MAP_H
#define PL_FHIR_MAP_H
#include <stddef.h>

// Code systems Passerelle names its own codes with (URNs: no web address
// is implied).
#define PL_FHIR_SYS_SERVICE  "urn:passerelle:service"
#define PL_FHIR_SYS_SECTOR   "urn:passerelle:sector"
#define PL_FHIR_SYS_PURPOSE  "urn:passerelle:purpose"
#define PL_FHIR_SYS_REASON   "urn:passerelle:reason"
#define PL_FHIR_SYS_OUTCOME  "urn:passerelle:outcome"
#define PL_FHIR_SYS_STATUS   "urn:passerelle:referral-status"
#define PL_FHIR_SYS_ADDRESS  "urn:passerelle:address"
#define PL_FHIR_SYS_REFERRAL "urn:passerelle:referral"
#define PL_FHIR_SYS_PSEUDO   "urn:passerelle:pseudonym"
#define PL_FHIR_SYS_TASKCODE "http://hl7.org/fhir/CodeSystem/task-code"
#define PL_FHIR_EXT_SEX      "urn:passerelle:sex-as-recorded"
#define PL_FHIR_SYS_LANG     "urn:ietf:bcp:47"

// One referral status: Passerelle's code, FHIR Task.status, Task's
// businessStatus text, ServiceRequest.status, and whether Task.statusReason
// carries the reason (rejected, cancelled, on-hold).
typedef struct {
    const char *status;      // Passerelle (pl_referral.h state name)
    const char *task_status; // FHIR R4 task-status
    const char *business;    // Task.businessStatus.text
    const char *sr_status;   // FHIR R4 request-status
    int with_reason;         // 1: Task.statusReason from the history
} pl_fhir_status_t;
// The row of Passerelle status 'status', or NULL.
const pl_fhir_status_t *pl_fhir_status(const char *status);
// The whole table (NULL-ended by status), for docs and tests.
const pl_fhir_status_t *pl_fhir_status_table(void);

// Priority: Passerelle (emergency, urgent, normal) to FHIR request-priority
// (stat, urgent, routine) and back (asap reads as urgent). NULL: unknown.
const char *pl_fhir_priority_out(const char *priority);
const char *pl_fhir_priority_in(const char *fhir);

// Sex as recorded (free text) to FHIR administrative-gender: male,
// female, other, unknown (m/f/man/woman/... read as male/female; anything
// else "other"). NULL for NULL.
const char *pl_fhir_gender_out(const char *sex);
// A FHIR gender code is one of the four (1) or not (0).
int pl_fhir_gender_valid(const char *gender);

// One sector as an HSDS taxonomy term: the contract sector code, its
// English name and description. The term's id is derived (pl_hsds.h).
typedef struct {
    const char *sector;      // contract sector code (pl_cert.h)
    const char *name;        // HSDS taxonomy_term.name
    const char *description; // HSDS taxonomy_term.description
} pl_hsds_sector_t;
// The row of 'sector', or NULL.
const pl_hsds_sector_t *pl_hsds_sector(const char *sector);
// The whole table (NULL-ended by sector).
const pl_hsds_sector_t *pl_hsds_sector_table(void);
// The name of the taxonomy the sector terms belong to.
#define PL_HSDS_TAXONOMY_SECTOR  "passerelle-sector"
#define PL_HSDS_TAXONOMY_SERVICE "passerelle-service"
// the capacity signal of a catalogue entry (issue 18): open, limited, full
#define PL_HSDS_TAXONOMY_CAPACITY "passerelle-capacity"
#endif
