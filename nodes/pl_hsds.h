// pl_hsds - the directory as Open Referral HSDS 3.0 JSON (issue 16): an
// array of HSDS `service` objects, each with its organization and
// service_at_locations nested, as schema/compiled/service.json of the HSDS
// 3.0 specification describes them; and the checks of an imported HSDS
// document that enriches display fields. Layer: nodes, domain (pure).
//
// Trust never comes from HSDS: certificates stay the only source of keys,
// addresses and sectors. An import only adds display fields (names,
// descriptions, addresses, opening hours, languages, contacts' emails and
// web sites), kept in the node's settings ("hsds.enrich").
#ifndef PL_HSDS_H
#define PL_HSDS_H
#include <jansson.h>
#include <stddef.h>

#include "proto/pl_cert.h"

// One service of the directory: the node offering it and its code.
typedef struct {
    const pl_cert_t *cert; // the node (borrowed)
    char code[64];         // the service code (a slug)
    const json_t *entry;   // its catalogue entry (issue 18), or NULL
} pl_hsds_svc_t;

// THE service list of the export: today the services of each certificate
// (its comma-joined "services"; a node with none offers one service named
// after its sector); broker and coordination nodes offer none. A service
// catalogue feeds in here. Fills at most 'max' rows of 'out'; returns how
// many rows the full list has.
size_t pl_hsds_service_list(const pl_cert_t *const *certs, size_t n,
                            pl_hsds_svc_t *out, size_t max);

// The service catalogues (issue 18) in the list: a node that publishes a
// catalogue lists its services there, so its certificate's rows give way
// to its entries (same ids for the same code). 'cat' is the array of
// pl_svc_catalogue ({address, entry, ...}; borrowed: keep it alive while
// 'svcs' is used); an entry whose address has no row (no valid
// certificate) is left out: the certificate stays the source of trust.
// Returns the new count (at most 'max').
size_t pl_hsds_with_catalogue(pl_hsds_svc_t *svcs, size_t n, size_t max,
                              const json_t *cat);

// The HSDS service objects of 'svcs', with the display fields of
// 'enrich' (the stored enrichment, may be NULL). New reference, NULL when
// memory runs out.
json_t *pl_hsds_services(const pl_hsds_svc_t *svcs, size_t n,
                         const json_t *enrich);

// Merges the display fields of imported HSDS document 'doc' (an array of
// service objects, or a page {"contents": [...]}) into 'enrich' (an
// object, changed only on success), for the services and organizations
// of 'svcs' (matched by their ids). 0 and *matched / *ignored set, or -1
// with 'err' (size n) naming the first fault ("[3].organization.email:
// ...").
int pl_hsds_merge(json_t *enrich, const json_t *doc, const pl_hsds_svc_t *svcs,
                  size_t nsvcs, size_t *matched, size_t *ignored, char *err,
                  size_t n);
#endif
