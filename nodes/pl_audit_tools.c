// pl_audit_tools - signed head, export and offline check of the audit
// chain (see pl_audit_tools.h). Layer: nodes. Ed25519 through
// proto/pl_crypto.h, as pl_audit.c does.
#include "nodes/pl_audit_tools.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

static json_t *
s_hex(const uint8_t *p, size_t n)
{
    char hex[2 * PL_SIG_BYTES + 1];
    assert(n <= PL_SIG_BYTES);
    pl_hex(hex, p, n);
    return json_string(hex);
}

json_t *
pl_audit_head_json(pl_txn_t *txn)
{
    uint64_t count;
    uint8_t hash[PL_AUDIT_HASH_BYTES], sig[PL_SIG_BYTES];
    if (pl_audit_head(txn, &count, hash, sig) != PL_OK)
        return json_null();
    return json_pack("{s:I, s:o, s:o}", "count", (json_int_t) count, "hash",
                     s_hex(hash, sizeof hash), "signature",
                     s_hex(sig, sizeof sig));
}

json_t *
pl_audit_store_counts(pl_txn_t *txn)
{
    json_t *o = json_object();
    for (int db = 0; o && db < PL_DB_COUNT; db++) {
        size_t n = 0;
        if (pl_store_count(txn, (pl_db_t) db, &n) == PL_OK)
            json_object_set_new(o, pl_store_db_name((pl_db_t) db),
                                json_integer((json_int_t) n));
    }
    return o;
}

typedef struct {
    uint64_t from, to;                 // range wanted
    uint64_t n;                        // entries visited
    uint8_t prev[PL_AUDIT_HASH_BYTES]; // chain hash of the previous entry
    json_t *entries;                   // output array
    int err;                           // PL_EPROTO on a malformed entry
} s_export_t;

static int
s_export_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
             void *arg)
{
    s_export_t *x = arg;
    if (kl != 8)
        return PL_STORE_NEXT;
    uint64_t seq = pl_be64_get(k);
    uint8_t h[PL_AUDIT_HASH_BYTES];
    pl_audit_chain_hash(x->prev, v, vl, h);
    memcpy(x->prev, h, sizeof h);
    x->n++;
    if (seq < x->from)
        return PL_STORE_NEXT;
    if (seq > x->to)
        return PL_STORE_STOP;
    json_t *text = json_stringn((const char *) v, vl);
    if (!text) {
        // not UTF-8: a damaged entry; give its bytes as hex instead
        char *hex = malloc(2 * vl + 1);
        if (!hex)
            return PL_ENOMEM;
        pl_hex(hex, v, vl);
        json_array_append_new(
            x->entries, json_pack("{s:I, s:o, s:s}", "seq", (json_int_t) seq,
                                  "hash", s_hex(h, sizeof h), "hex", hex));
        free(hex);
        return PL_STORE_NEXT;
    }
    json_array_append_new(x->entries,
                          json_pack("{s:I, s:o, s:o}", "seq", (json_int_t) seq,
                                    "hash", s_hex(h, sizeof h), "text", text));
    return PL_STORE_NEXT;
}

int
pl_audit_export(pl_txn_t *txn, const char *address,
                const uint8_t sign_pk[PL_SIGN_PK_BYTES], uint64_t from,
                uint64_t to, json_t **out)
{
    *out = NULL;
    uint64_t count;
    uint8_t hash[PL_AUDIT_HASH_BYTES], sig[PL_SIG_BYTES];
    int rc = pl_audit_head(txn, &count, hash, sig);
    if (rc != PL_OK)
        return rc;
    size_t stored = 0;
    rc = pl_store_count(txn, PL_DB_AUDIT, &stored);
    if (rc != PL_OK)
        return rc;
    uint64_t last = stored > count ? stored : count;
    if (to == 0 || to > last)
        to = last;
    if (from == 0 || from > to || to - from >= PL_AUDIT_EXPORT_MAX)
        return PL_EINVAL;
    s_export_t x = {.from = from, .to = to, .entries = json_array()};
    if (!x.entries)
        return PL_ENOMEM;
    // the chain is walked from entry 1 so that each exported hash is the
    // node's own (an auditor recomputes them from the texts)
    rc = pl_store_each(txn, PL_DB_AUDIT, s_export_one, &x);
    if (rc != PL_OK) {
        json_decref(x.entries);
        return rc;
    }
    char z85[PL_Z85_32];
    if (pl_z85_encode(z85, sizeof z85, sign_pk, PL_SIGN_PK_BYTES) != PL_OK) {
        json_decref(x.entries);
        return PL_EINVAL;
    }
    json_t *head = json_pack("{s:I, s:o, s:o}", "count", (json_int_t) count,
                             "hash", s_hex(hash, sizeof hash), "signature",
                             s_hex(sig, sizeof sig));
    *out = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:o}", "format",
                     "passerelle-audit-export-v1", "node",
                     address ? address : "", "sign_public_key", z85, "head",
                     head, "from", (json_int_t) from, "to", (json_int_t) to,
                     "entries", x.entries);
    return *out ? PL_OK : PL_ENOMEM;
}

static int
s_bad(pl_audit_report_t *r, uint64_t seq, const char *what)
{
    r->bad_seq = seq;
    snprintf(r->error, sizeof r->error, "audit export: entry %llu %s",
             (unsigned long long) seq, what);
    return PL_EAUTH;
}

int
pl_audit_check_export(const json_t *doc, pl_audit_report_t *report)
{
    memset(report, 0, sizeof *report);
    const json_t *entries = json_object_get(doc, "entries");
    const json_t *head = json_object_get(doc, "head");
    const char *pk_z85 =
        json_string_value(json_object_get(doc, "sign_public_key"));
    uint8_t pk[PL_SIGN_PK_BYTES];
    if (!json_is_array(entries) || !json_is_object(head) || !pk_z85
        || pl_z85_decode(pk, sizeof pk, pk_z85) != PL_OK) {
        snprintf(report->error, sizeof report->error,
                 "audit export: not an export document");
        return PL_EPROTO;
    }
    uint8_t prev[PL_AUDIT_HASH_BYTES];
    uint64_t want = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(entries, i, e)
    {
        uint64_t seq = (uint64_t) json_integer_value(json_object_get(e, "seq"));
        const json_t *jt = json_object_get(e, "text");
        if (i == 0)
            want = seq;
        if (seq != want || !json_is_string(jt))
            return s_bad(report, want, "is missing or out of place");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt);
        uint8_t pv[PL_AUDIT_HASH_BYTES];
        if (pl_audit_entry_link((const uint8_t *) text, len, seq, pv) != PL_OK)
            return s_bad(report, seq, "is malformed");
        if (i == 0)
            memcpy(prev, pv, sizeof prev); // the range starts from here
        else if (memcmp(pv, prev, sizeof pv) != 0)
            return s_bad(report, seq, "does not chain to the one before");
        pl_audit_chain_hash(prev, (const uint8_t *) text, len, prev);
        uint8_t claimed[PL_AUDIT_HASH_BYTES];
        const char *hh = json_string_value(json_object_get(e, "hash"));
        if (!hh || pl_unhex(claimed, sizeof claimed, hh) != PL_OK
            || memcmp(claimed, prev, sizeof prev) != 0)
            return s_bad(report, seq, "does not match its hash");
        report->count++;
        want = seq + 1;
    }
    uint64_t count =
        (uint64_t) json_integer_value(json_object_get(head, "count"));
    uint8_t hash[PL_AUDIT_HASH_BYTES], sig[PL_SIG_BYTES];
    const char *hh = json_string_value(json_object_get(head, "hash"));
    const char *hs = json_string_value(json_object_get(head, "signature"));
    if (!hh || !hs || pl_unhex(hash, sizeof hash, hh) != PL_OK
        || pl_unhex(sig, sizeof sig, hs) != PL_OK) {
        snprintf(report->error, sizeof report->error,
                 "audit export: the head is malformed");
        return PL_EPROTO;
    }
    uint8_t m[PL_AUDIT_HEAD_INPUT_BYTES];
    pl_audit_head_input(m, count, hash);
    if (count > 0 && pl_verify(sig, m, sizeof m, pk) != PL_OK) {
        snprintf(report->error, sizeof report->error,
                 "audit export: the head signature does not verify with the "
                 "node's sign key");
        return PL_EAUTH;
    }
    // an export that reaches the head must end exactly at it
    if (report->count && want - 1 >= count
        && (want - 1 != count || memcmp(hash, prev, sizeof hash) != 0)) {
        report->bad_seq = count < want - 1 ? count + 1 : count;
        snprintf(report->error, sizeof report->error,
                 "audit export: the signed head (%llu entries) does not match "
                 "the last entry",
                 (unsigned long long) count);
        return PL_EAUTH;
    }
    return PL_OK;
}
