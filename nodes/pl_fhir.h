// pl_fhir - FHIR R4 documents of a referral (issue 16): the export of a
// referral as a Bundle (ServiceRequest, Task, Patient, Organizations), and
// the reading of an imported ServiceRequest (+ Patient) with the FHIR path
// of the first fault. Layer: nodes, domain: pure JSON in, JSON out (no
// store, no daemon). The code tables are pl_fhir_map.h's.
//
// The Task follows the Gravity Project SDOH Clinical Care Task for
// referral management: intent "order", code "fulfill", focus the
// ServiceRequest, status and businessStatus, statusReason (text) for
// rejected / cancelled / on-hold, owner and requester as Organization
// references, output for the outcome.
#ifndef PL_FHIR_H
#define PL_FHIR_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// An organisation as a certificate names it (strings borrowed; NULL or ""
// when unknown). 'uuid' is its stable id (pl_fhir_uuid of the signing key,
// or of the address when the certificate is not at hand).
typedef struct {
    const char *address;      // network/name
    const char *display_name; // human name
    const char *organisation; // the organisation running the node
    const char *sector;       // contract sector code
    const char *country;      // ISO 3166-1 alpha-2
    const char *region;       // region slug
    char uuid[37];            // 8-4-4-4-12, lower case
} pl_fhir_org_t;

// The first fault of a document check (the FHIR reader, the HSDS merge):
// its text into 'err' (size 'n'), later ones dropped.
typedef struct {
    char *err;
    size_t n;
    bool bad; // a fault was found
} pl_fhir_fault_t;
void pl_fhir_fault(pl_fhir_fault_t *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// A stable UUID (version 8, RFC 9562: custom) of 'kind' and 'len' bytes
// of 'key': the first 16 bytes of BLAKE2b("passerelle:" kind ":" key)
// with the version and variant bits set, into out (37 bytes).
void pl_fhir_uuid(char out[37], const char *kind, const void *key, size_t len);

// The Bundle (type "collection") of referral 'ref', which is the reply of
// referral.show (id, status, direction, peer, priority, created, updated,
// service, sector, due, person, pseudonym, purpose, note, history, ...):
// its person holds only the sector table's fields, and so does the
// Patient. 'me' is this node, 'peer' the other one. New reference, NULL
// when memory runs out.
json_t *pl_fhir_bundle(const json_t *ref, const pl_fhir_org_t *me,
                       const pl_fhir_org_t *peer);

// What an imported document asks for (strings borrowed from the document;
// NULL: not given).
typedef struct {
    const char *given, *family, *birth; // Patient: required
    const char *sex;                    // Patient.gender (or as recorded)
    const char *phone;                  // Patient.telecom (phone)
    const char *language;               // Patient.communication
    const char *service;                // ServiceRequest.code: required
    const char *priority;               // Passerelle's code
    char due[11];                       // YYYY-MM-DD ("": none)
    const char *note;                   // ServiceRequest.note[0].text
    const char *purpose;                // ServiceRequest.reasonCode
    const char *to;                     // the performer's address
    const char *identifier;             // ServiceRequest.identifier value
} pl_fhir_import_t;

// Reads a ServiceRequest and its Patient from 'doc' (a Bundle holding
// exactly one ServiceRequest and the Patient its subject names, or a
// ServiceRequest with the Patient in "contained"). 0 and 'out' filled, or
// -1 with 'err' (size n) holding the FHIR path of the first fault and
// why, e.g. "ServiceRequest.subject.reference: names no Patient of the
// document".
int pl_fhir_read(const json_t *doc, pl_fhir_import_t *out, char *err, size_t n);
#endif
