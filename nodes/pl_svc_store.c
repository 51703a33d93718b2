// pl_svc_store - the service catalogues in the node's store (issue 18).
// Layer: nodes, domain.
#include "nodes/pl_svc_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_svc.h"
#include "proto/pl_wire.h"

// The signed catalogue stored under 'key' (new reference) or NULL.
json_t *
pl_svc_get(pl_txn_t *txn, const char *key)
{
    const uint8_t *v;
    size_t n;
    if (pl_store_get(txn, PL_DB_SETTINGS, key, strlen(key), &v, &n) != PL_OK)
        return NULL;
    return json_loadb((const char *) v, n, 0, NULL);
}

int
pl_svc_put(pl_txn_t *txn, const char *key, const json_t *signed_doc)
{
    char *t = json_dumps(signed_doc, JSON_COMPACT);
    if (!t)
        return PL_ENOMEM;
    if (strlen(t) > PL_CATALOGUE_MAX) {
        free(t);
        return PL_ETOOBIG;
    }
    int rc = pl_store_put(txn, PL_DB_SETTINGS, key, strlen(key), t, strlen(t));
    free(t);
    return rc;
}

// The address a signed catalogue claims (not yet trusted) into 'out'.
bool
pl_svc_claimed(const json_t *s, char out[PL_ADDRESS_MAX + 1])
{
    const json_t *t = json_object_get(s, "doc");
    json_t *d = json_is_string(t) && json_string_length(t) <= PL_SVC_SIGNED_MAX
                    ? json_loads(json_string_value(t), 0, NULL)
                    : NULL;
    const char *a = json_string_value(json_object_get(d, "address"));
    bool ok = a && pl_address_valid(a);
    if (ok)
        snprintf(out, PL_ADDRESS_MAX + 1, "%s", a);
    json_decref(d);
    return ok;
}

uint64_t
pl_svc_held_version(pl_txn_t *txn, const char *address)
{
    char key[sizeof PL_SVC_PEER + PL_ADDRESS_MAX];
    snprintf(key, sizeof key, "%s%s", PL_SVC_PEER, address);
    json_t *s = pl_svc_get(txn, key);
    const json_t *t = json_object_get(s, "doc");
    json_t *d =
        json_is_string(t) ? json_loads(json_string_value(t), 0, NULL) : NULL;
    json_int_t v = json_integer_value(json_object_get(d, "version"));
    json_decref(d), json_decref(s);
    return v > 0 ? (uint64_t) v : 0;
}

int
pl_svc_peer_take(pl_txn_t *txn, const pl_cert_t *cert, const char *me,
                 const json_t *s, json_t **doc, const char **why)
{
    char addr[PL_ADDRESS_MAX + 1], key[sizeof PL_SVC_PEER + PL_ADDRESS_MAX];
    *why = "not a signed catalogue";
    if (!pl_svc_claimed(s, addr))
        return PL_EPROTO;
    if (!strcmp(addr, me)) {
        *why = "this is this node's own catalogue";
        return PL_EINVAL;
    }
    if (!cert || strcmp(cert->address, addr)) {
        *why = "no valid certificate for its address in the directory";
        return PL_ENOTFOUND;
    }
    json_t *d = NULL, *old = NULL, *od = NULL;
    int rc = pl_svc_verify(s, cert, &d, why);
    snprintf(key, sizeof key, "%s%s", PL_SVC_PEER, addr);
    if (rc == PL_OK && (old = pl_svc_get(txn, key))
        && pl_svc_verify(old, cert, &od, why) == PL_OK
        && json_integer_value(json_object_get(od, "version"))
               >= json_integer_value(json_object_get(d, "version"))) {
        *why = "not newer than the catalogue held";
        rc = PL_EEXIST;
    }
    if (rc == PL_OK)
        rc = pl_svc_put(txn, key, s);
    json_decref(old), json_decref(od);
    if (rc == PL_OK && doc)
        *doc = d;
    else
        json_decref(d);
    return rc;
}
