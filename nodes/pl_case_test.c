// pl_case_test - test builds only (PL_TEST_BUILD): the test.probe command,
// which counts the sealed records that still open and the needles found
// in what opens (crypto-shredding checks of the integration tests).
// Layer: nodes, handlers.
#ifdef PL_TEST_BUILD
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes/pl_case_int.h"
#include "proto/pl_crypto.h"

// ---- test hook: which sealed records still open (PASSERELLE_TEST_HOOKS=1)

typedef struct {
    pl_txn_t *txn;
    uint8_t (*keys)[PL_DATAKEY_BYTES]; // every data key still in the store
    size_t nkeys, cap;
    pl_db_t db;            // the database walked
    const json_t *needles; // strings searched in what opens
    size_t records, opened, matches;
} s_probe_t;

static int
s_probe_key(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_probe_t *p = arg;
    if (kl != PL_DATAKEY_ID_BYTES)
        return PL_STORE_NEXT;
    if (p->nkeys == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        void *n = realloc(p->keys, cap * PL_DATAKEY_BYTES);
        if (!n)
            return PL_ENOMEM;
        p->keys = n;
        p->cap = cap;
    }
    if (pl_store_datakey_get(p->txn, k, p->keys[p->nkeys]) == PL_OK)
        p->nkeys++;
    return PL_STORE_NEXT;
}

static void
s_probe_plain(s_probe_t *p, const pl_buf_t *b)
{
    p->opened++;
    size_t i;
    json_t *e;
    json_array_foreach(p->needles, i, e)
    {
        const char *s = json_string_value(e);
        if (s && *s && memmem(b->data, b->len, s, strlen(s)))
            p->matches++;
    }
}

static int
s_probe_rec(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    s_probe_t *p = arg;
    p->records++;
    const uint8_t *sealed = NULL;
    size_t slen = 0;
    pl_inrec_t in;
    if (p->db == PL_DB_INBOX && pl_inrec_decode(v, vl, &in) == PL_OK) {
        sealed = in.sealed;
        slen = in.sealed_len;
    } else if (vl > PL_CASE_HDR + PL_SEAL_OVERHEAD) {
        sealed = v + PL_CASE_HDR;
        slen = vl - PL_CASE_HDR;
    }
    for (size_t i = 0; sealed && i < p->nkeys; i++) {
        pl_buf_t b = {0};
        if (pl_store_unseal(p->keys[i], p->db, k, kl, sealed, slen, &b)
            == PL_OK)
            s_probe_plain(p, &b);
        pl_buf_wipe(&b);
    }
    pl_buf_t b = {0};
    if (p->db == PL_DB_REQUESTS && kl == PL_REQUEST_ID_BYTES) {
        if (pl_store_request_get(p->txn, k, &b) == PL_OK)
            s_probe_plain(p, &b);
    } else if (pl_store_get_secret(p->txn, p->db, k, kl, &b) == PL_OK) {
        s_probe_plain(p, &b);
    }
    pl_buf_wipe(&b);
    return PL_STORE_NEXT;
}

char *
pl_case_test_probe(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                   const char *as, int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    s_probe_t p = {.txn = txn, .needles = json_object_get(args, "needles")};
    int rc = pl_store_each(txn, PL_DB_KEYS, s_probe_key, &p);
    static const pl_db_t dbs[] = {PL_DB_CASES, PL_DB_CONSENTS, PL_DB_REFERRALS,
                                  PL_DB_INBOX, PL_DB_REQUESTS, PL_DB_HANDOVERS};
    for (size_t i = 0; rc == PL_OK && i < sizeof dbs / sizeof *dbs; i++) {
        p.db = dbs[i];
        rc = pl_store_each(txn, dbs[i], s_probe_rec, &p);
    }
    if (p.keys)
        pl_store_wipe(p.keys, p.cap * PL_DATAKEY_BYTES);
    free(p.keys);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "probe: %s", pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:I, s:I, s:I, s:I}", "keys", (json_int_t) p.nkeys,
                  "records", (json_int_t) p.records, "opened",
                  (json_int_t) p.opened, "matches", (json_int_t) p.matches));
}

#endif // PL_TEST_BUILD
