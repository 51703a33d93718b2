// pl_sealed - one sealed JSON record (see pl_sealed.h). Layer: nodes.
#include "nodes/pl_sealed.h"

#include <stdlib.h>
#include <string.h>

int
pl_sealed_put(pl_txn_t *txn, pl_db_t db, const uint8_t *key, size_t klen,
              const uint8_t hdr[PL_SEALED_HDR],
              const uint8_t dk[PL_DATAKEY_BYTES], const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return PL_ENOMEM;
    pl_buf_t v = {0};
    int rc = pl_buf_append(&v, hdr, PL_SEALED_HDR);
    if (rc == PL_OK)
        rc = pl_store_seal(dk, db, key, klen, text, strlen(text), &v);
    pl_store_wipe(text, strlen(text));
    free(text);
    if (rc == PL_OK)
        rc = pl_store_put(txn, db, key, klen, v.data, v.len);
    pl_buf_free(&v);
    return rc;
}

int
pl_sealed_get(pl_txn_t *txn, pl_db_t db, const uint8_t *key, size_t klen,
              const uint8_t *dk_in, uint8_t hdr[PL_SEALED_HDR],
              uint8_t dk_out[PL_DATAKEY_BYTES], json_t **doc)
{
    const uint8_t *v;
    size_t vlen;
    *doc = NULL;
    int rc = pl_store_get(txn, db, key, klen, &v, &vlen);
    if (rc != PL_OK)
        return rc;
    if (vlen < PL_SEALED_HDR + PL_SEAL_OVERHEAD || v[0] != PL_SEALED_VER)
        return PL_EPROTO;
    memcpy(hdr, v, PL_SEALED_HDR);
    uint8_t dk[PL_DATAKEY_BYTES];
    if (dk_in)
        memcpy(dk, dk_in, sizeof dk);
    else if ((rc = pl_store_datakey_get(txn, hdr + 1, dk)) != PL_OK)
        return rc;
    pl_buf_t plain = {0};
    rc = pl_store_unseal(dk, db, key, klen, v + PL_SEALED_HDR,
                         vlen - PL_SEALED_HDR, &plain);
    if (rc == PL_OK && dk_out)
        memcpy(dk_out, dk, sizeof dk);
    pl_store_wipe(dk, sizeof dk);
    if (rc != PL_OK) {
        pl_buf_wipe(&plain);
        return rc;
    }
    json_error_t jerr;
    *doc = json_loadb((const char *) plain.data, plain.len, 0, &jerr);
    pl_buf_wipe(&plain);
    return *doc ? PL_OK : PL_EPROTO;
}

int
pl_sealed_open(pl_sealed_t *s, pl_txn_t *txn, pl_db_t db, const uint8_t *key,
               size_t klen, const uint8_t *dk_in)
{
    pl_sealed_release(s);
    int rc = pl_sealed_get(txn, db, key, klen, dk_in, s->hdr, s->dk, &s->doc);
    if (rc != PL_OK)
        pl_sealed_release(s);
    return rc;
}

int
pl_sealed_save(const pl_sealed_t *s, pl_txn_t *txn, pl_db_t db,
               const uint8_t *key, size_t klen)
{
    if (!s->doc)
        return PL_EINVAL;
    return pl_sealed_put(txn, db, key, klen, s->hdr, s->dk, s->doc);
}

void
pl_sealed_release(pl_sealed_t *s)
{
    if (!s)
        return;
    pl_store_wipe(s->dk, sizeof s->dk);
    json_decref(s->doc);
    s->doc = NULL;
}

json_t *
pl_sealed_take(pl_sealed_t *s)
{
    json_t *doc = s->doc;
    s->doc = NULL;
    pl_sealed_release(s);
    return doc;
}
