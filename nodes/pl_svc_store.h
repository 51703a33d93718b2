// pl_svc_store - where the service catalogues live in the node's store
// (issue 18): "settings" keys "svc/own" (this node's signed catalogue) and
// "svc/peer/ADDRESS" (a peer's, exactly as it signed it). Catalogues are
// public: nothing personal is kept there. Layer: nodes, domain.
#ifndef PL_SVC_STORE_H
#define PL_SVC_STORE_H
#include <jansson.h>

#include "nodes/pl_store.h"
#include "proto/pl_cert.h"

#define PL_SVC_OWN  "svc/own"
#define PL_SVC_PEER "svc/peer/"

// The signed catalogue stored under 'key' (new reference) or NULL.
json_t *pl_svc_get(pl_txn_t *txn, const char *key);
// Stores 'signed_doc' under 'key'. PL_ENOMEM, PL_EFULL, PL_ETOOBIG (over
// PL_CATALOGUE_MAX bytes).
PL_MUST_CHECK int pl_svc_put(pl_txn_t *txn, const char *key,
                             const json_t *signed_doc);

// The address a signed catalogue names (not yet trusted) into 'out'.
bool pl_svc_claimed(const json_t *s, char out[PL_ADDRESS_MAX + 1]);

// The version of the catalogue held for 'address' (0: none). Read from
// the stored copy, which was checked when it was taken.
uint64_t pl_svc_held_version(pl_txn_t *txn, const char *address);

// Checks peer catalogue 's' against 'cert' (the certificate of the
// address it names, found by the caller; NULL: none valid) and keeps it if
// it is newer than the one held. '*doc' (may be NULL) gets the document.
// PL_EAUTH, PL_EPROTO, PL_ENOTFOUND (no certificate), PL_EINVAL (this
// node's own, 'me'), PL_EEXIST (not newer), or PL_OK; 'why' a reason.
PL_MUST_CHECK int pl_svc_peer_take(pl_txn_t *txn, const pl_cert_t *cert,
                                   const char *me, const json_t *s,
                                   json_t **doc, const char **why);

#endif
