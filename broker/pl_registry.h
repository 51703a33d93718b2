// pl_registry - the broker's enrolment registry. Layer: broker.
//
// The registry is what admits a node: the certificates placed in
// BROKERDIR/certs/*.cert, signed by BROKERDIR/authority.pub, inside their
// validity window and not in the revocation list BROKERDIR/revoked. It is
// read at start and on reload (SIGHUP, `passerelle broker reload`); a
// revocation list only ever replaces an older one (higher number wins).
#ifndef PL_REGISTRY_H
#define PL_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pl_cert.h"
#include "proto/pl_log.h"

typedef struct pl_registry pl_registry_t;

// One enrolled certificate.
typedef struct {
    pl_cert_t cert; // decoded fields
    pl_buf_t raw;   // exact encoded Certificate, for the directory
} pl_reg_entry_t;

// Opens the registry of broker home 'home' and loads it. NULL on failure
// (no or bad authority.pub), reason logged.
pl_registry_t *pl_registry_open(const char *home, pl_log_t *log);
void pl_registry_close(pl_registry_t **self_p);
// Re-reads certs/ and revoked. Certificates that no longer verify are
// dropped; the previous set stays (PL_EIO, logged registry_reload_failed)
// if the folder or one of its files cannot be read now (EMFILE, EIO...).
// Returns the number of certificates loaded, or a negative PL_E* code.
int pl_registry_reload(pl_registry_t *self);
// Entry whose CurveZMQ key is 'curve_pk', newest serial first; NULL if none.
const pl_reg_entry_t *pl_registry_by_curve(const pl_registry_t *self,
                                           const uint8_t curve_pk[32]);
// Newest valid (at 'now', not revoked) entry for 'address'; NULL if none.
const pl_reg_entry_t *pl_registry_by_address(const pl_registry_t *self,
                                             const char *address, uint64_t now);
// PL_OK, PL_EEXPIRED or PL_EREVOKED for 'entry' at 'now'.
int pl_registry_check(const pl_registry_t *self, const pl_reg_entry_t *entry,
                      uint64_t now);
// Number of entries and entry i (0 <= i < count), for listings.
size_t pl_registry_count(const pl_registry_t *self);
const pl_reg_entry_t *pl_registry_at(const pl_registry_t *self, size_t i);
// The current revocation list (number 0 and no raw bytes if none).
const pl_revlist_t *pl_registry_revoked(const pl_registry_t *self);
// The authority's public key.
const uint8_t *pl_registry_authority(const pl_registry_t *self);

#endif
