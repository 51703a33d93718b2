// pl_svc - the service catalogue (issue 18): entries a provider node
// offers, its capacity signals, the signed catalogue document that travels
// to other nodes, and the needs-to-services matching. Layer: nodes, domain
// (no daemon state; JSON in, JSON out).
//
// An entry (JSON object; DOMAIN.md §4, HSDS service fields):
//   code        slug, unique in the catalogue
//   name_fr, name_en   names (at least one)
//   sector      contract sector (pl_sector_valid); dimension from it
//   min_age, max_age   years (optional)
//   sex         "any" | "female" | "male" (default any)
//   languages, documents   arrays of short codes / texts
//   cost, hours, reach     free texts (how to reach it)
//   region      region slug; lat, lon   optional WGS84 degrees
//   status      "active" | "inactive" (default active)
//   capacity    {state: open|limited|full, free, until, set_at} (optional)
//
// The catalogue document: {"v": 1, "address", "version", "signed_at",
// "services": [entries]}. It travels as {"doc": its exact text, "sig":
// hex of Ed25519 by the node's sign key over "passerelle-catalogue-v1"
// 0x00 || text}; a receiver checks it against the certificate of
// "address" (the certificate stays the only source of trust).
#ifndef PL_SVC_H
#define PL_SVC_H

#include <jansson.h>
#include <stdint.h>

#include "proto/pl_cert.h"
#include "proto/pl_keys.h"

#define PL_SVC_MAX 64 // entries in one catalogue
#define PL_SVC_SIGNED_MAX                                                      \
    12288 // bytes of one catalogue text (signed:
          // within PL_CATALOGUE_MAX)
#define PL_SVC_STALE_S                                                         \
    (14 * 86400) // a capacity signal this old
                 // counts as unknown

// Checks and normalises an entry in place (defaults, dimension). NULL when
// fine, else a static reason.
const char *pl_svc_entry_check(json_t *e);

// Signs catalogue 'doc' with 'keys': a new {"doc", "sig"} or NULL.
json_t *pl_svc_sign(const json_t *doc, const pl_keys_t *keys);

// Checks signed catalogue 's' against 'cert': the signature by cert's sign
// key, its "address" equal to cert's, every entry well formed. '*doc' gets
// the document (new reference). PL_EAUTH (signature or address),
// PL_EPROTO (malformed). 'why' gets a static reason.
PL_MUST_CHECK int pl_svc_verify(const json_t *s, const pl_cert_t *cert,
                                json_t **doc, const char **why);

// Sets the capacity of 'e': state open|limited|full, 'free' places (<0:
// none given), 'until' (0: none), at 'now'. NULL or a static reason.
const char *pl_svc_capacity(json_t *e, const char *state, long long free,
                            uint64_t until, uint64_t now);

// The person and context a match is for.
typedef struct {
    json_t *needs;        // array of dimensions (economic, social, ...)
    const char *lowest;   // lowest survey dimension (issue 17), or NULL
    const char *region;   // where the person is, or NULL
    int age;              // years, <0 unknown
    const char *sex;      // "female" | "male" | NULL
    const char *language; // or NULL
    bool child;           // under 18
} pl_svc_person_t;

// Ranks the services 'offers' (array of {address, entry}) for 'p' with the
// feasibility grid 'grid' (may be NULL) at 'now'. Returns a new array of
// {address, code, name_fr, name_en, score, capacity, reasons[]} best
// first, and the excluded ones in "excluded" of 'out' (new object
// {"suggestions": [...], "excluded": [...]}).
json_t *pl_svc_match(const json_t *offers, const pl_svc_person_t *p,
                     const json_t *grid, uint64_t now);

#endif
