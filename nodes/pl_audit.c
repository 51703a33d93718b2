// pl_audit - the node's append-only audit chain (see pl_audit.h).
// Layer: nodes. BLAKE2b and Ed25519 through proto/pl_crypto.h; the chain
// itself is a store format of this layer.
#include "nodes/pl_audit.h"

#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

static const char s_tag[] = "passerelle-audit-v1";
static const char s_head_tag[] = PL_AUDIT_HEAD_TAG;
static const char s_head_key[] = PL_AUDIT_HEAD_KEY;
#define S_HEAD_BYTES PL_AUDIT_HEAD_BYTES

void
pl_audit_chain_hash(const uint8_t prev[PL_AUDIT_HASH_BYTES],
                    const uint8_t *bytes, size_t len,
                    uint8_t out[PL_AUDIT_HASH_BYTES])
{
    pl_hash_state_t st;
    pl_hash_init(&st, PL_AUDIT_HASH_BYTES);
    pl_hash_update(&st, s_tag, sizeof s_tag - 1);
    pl_hash_update(&st, prev, PL_AUDIT_HASH_BYTES);
    pl_hash_update(&st, bytes, len);
    pl_hash_final(&st, out);
}

void
pl_audit_head_input(uint8_t m[PL_AUDIT_HEAD_INPUT_BYTES], uint64_t count,
                    const uint8_t hash[PL_AUDIT_HASH_BYTES])
{
    memcpy(m, s_head_tag, sizeof s_head_tag - 1);
    pl_be64_put(m + sizeof s_head_tag - 1, count);
    memcpy(m + sizeof s_head_tag - 1 + 8, hash, PL_AUDIT_HASH_BYTES);
}

int
pl_audit_head(pl_txn_t *txn, uint64_t *count, uint8_t hash[PL_AUDIT_HASH_BYTES],
              uint8_t *sig)
{
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_SETTINGS, s_head_key,
                          sizeof s_head_key - 1, &v, &vlen);
    if (rc == PL_ENOTFOUND) {
        *count = 0;
        memset(hash, 0, PL_AUDIT_HASH_BYTES);
        if (sig)
            memset(sig, 0, PL_SIG_BYTES);
        return PL_OK;
    }
    if (rc != PL_OK)
        return rc;
    if (vlen != S_HEAD_BYTES)
        return PL_EPROTO;
    *count = pl_be64_get(v);
    memcpy(hash, v + 8, PL_AUDIT_HASH_BYTES);
    if (sig)
        memcpy(sig, v + 8 + PL_AUDIT_HASH_BYTES, PL_SIG_BYTES);
    return PL_OK;
}

static void
s_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
    char hex[2 * 32 + 1];
    assert(n <= 32);
    pl_hex(hex, p, n);
    json_object_set_new(o, key, json_string(hex));
}

static void
s_set_str(json_t *o, const char *key, const char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
}

int
pl_audit_append(pl_txn_t *txn, const pl_keys_t *keys, const pl_audit_entry_t *e,
                uint64_t now, uint64_t *seq)
{
    assert(txn && keys && e);
    uint64_t count;
    uint8_t prev[PL_AUDIT_HASH_BYTES];
    int rc = pl_audit_head(txn, &count, prev, NULL);
    if (rc != PL_OK)
        return rc;
    static const char *const dirs[] = {"in", "out", "local"};
    char at[32];
    pl_time_fmt(at, now);
    json_t *o = json_object();
    if (!o)
        return PL_ENOMEM;
    json_object_set_new(o, "seq", json_integer((json_int_t) (count + 1)));
    json_object_set_new(o, "at", json_string(at));
    json_object_set_new(o, "dir", json_string(dirs[e->dir]));
    s_set_str(o, "peer", e->peer);
    if (e->msg_id)
        s_set_hex(o, "msg", e->msg_id, 16);
    s_set_str(o, "kind", e->kind);
    if (e->digest)
        s_set_hex(o, "digest", e->digest, 32);
    s_set_str(o, "by", e->by);
    if (e->ref)
        s_set_hex(o, "ref", e->ref, 16);
    s_set_str(o, "event", e->event);
    s_set_str(o, "result", e->result);
    s_set_str(o, "detail", e->detail);
    s_set_hex(o, "prev", prev, PL_AUDIT_HASH_BYTES);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        return PL_ENOMEM;
    size_t len = strlen(text);
    uint8_t key[8], hash[PL_AUDIT_HASH_BYTES];
    pl_be64_put(key, count + 1);
    pl_audit_chain_hash(prev, (const uint8_t *) text, len, hash);
    rc = pl_store_put(txn, PL_DB_AUDIT, key, sizeof key, text, len);
    free(text);
    if (rc != PL_OK)
        return rc;
    uint8_t head[S_HEAD_BYTES], m[PL_AUDIT_HEAD_INPUT_BYTES];
    pl_be64_put(head, count + 1);
    memcpy(head + 8, hash, PL_AUDIT_HASH_BYTES);
    pl_audit_head_input(m, count + 1, hash);
    pl_sign(head + 8 + PL_AUDIT_HASH_BYTES, m, sizeof m, keys);
    rc = pl_store_put(txn, PL_DB_SETTINGS, s_head_key, sizeof s_head_key - 1,
                      head, sizeof head);
    if (rc == PL_OK && seq)
        *seq = count + 1;
    return rc;
}

int
pl_audit_entry_link(const uint8_t *bytes, size_t len, uint64_t seq,
                    uint8_t prev[PL_AUDIT_HASH_BYTES])
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *) bytes, len, 0, &jerr);
    const char *p = json_string_value(json_object_get(o, "prev"));
    json_int_t s = json_integer_value(json_object_get(o, "seq"));
    bool ok = o && p && pl_unhex(prev, PL_AUDIT_HASH_BYTES, p) == PL_OK
              && s == (json_int_t) seq;
    json_decref(o);
    return ok ? PL_OK : PL_EPROTO;
}

typedef struct {
    uint64_t n;                        // entries seen
    uint8_t prev[PL_AUDIT_HASH_BYTES]; // chain hash of the previous entry
    pl_audit_report_t *r;              // where a failure goes
} s_verify_t;

static int
s_verify_fail(s_verify_t *s, uint64_t seq, const char *fmt, uint64_t a,
              uint64_t b)
{
    s->r->bad_seq = seq;
    // 'fmt' is always one of this file's literals with two %llu
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(s->r->error, sizeof s->r->error, fmt, (unsigned long long) a,
             (unsigned long long) b);
#pragma GCC diagnostic pop
    return PL_EAUTH;
}

static int
s_verify_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
             void *arg)
{
    s_verify_t *s = arg;
    uint64_t want = s->n + 1;
    if (kl != 8 || pl_be64_get(k) != want)
        return s_verify_fail(s, want,
                             "audit: entry %llu is missing or out of place "
                             "(after entry %llu)",
                             want, s->n);
    uint8_t p[PL_AUDIT_HASH_BYTES];
    if (pl_audit_entry_link(v, vl, want, p) != PL_OK)
        return s_verify_fail(s, want,
                             "audit: entry %llu is malformed or altered "
                             "(entries before it verify: %llu)",
                             want, s->n);
    if (memcmp(p, s->prev, sizeof p) != 0) {
        if (want == 1)
            return s_verify_fail(s, 1,
                                 "audit: entry %llu does not start the chain "
                                 "(%llu entries before it)",
                                 1, 0);
        // entry want-1 no longer hashes to the link entry 'want' recorded:
        // it is the first entry that may have changed
        return s_verify_fail(s, want - 1,
                             "audit: entry %llu was changed: it no longer "
                             "matches the hash recorded in entry %llu",
                             want - 1, want);
    }
    pl_audit_chain_hash(s->prev, v, vl, s->prev);
    s->n = want;
    return PL_STORE_NEXT;
}

int
pl_audit_verify(pl_txn_t *txn, const uint8_t sign_pk[PL_SIGN_PK_BYTES],
                pl_audit_report_t *report)
{
    assert(txn && sign_pk && report);
    memset(report, 0, sizeof *report);
    s_verify_t s = {.r = report};
    int rc = pl_store_each(txn, PL_DB_AUDIT, s_verify_one, &s);
    report->count = s.n;
    if (rc != PL_OK)
        return rc;
    uint64_t count;
    uint8_t hash[PL_AUDIT_HASH_BYTES], sig[PL_SIG_BYTES];
    rc = pl_audit_head(txn, &count, hash, sig);
    if (rc == PL_EPROTO)
        return s_verify_fail(&s, s.n,
                             "audit: the signed head is malformed "
                             "(%llu entries, %llu)",
                             s.n, 0);
    if (rc != PL_OK)
        return rc;
    if (count == 0 && s.n == 0)
        return PL_OK; // an empty chain
    uint8_t m[PL_AUDIT_HEAD_INPUT_BYTES];
    pl_audit_head_input(m, count, hash);
    if (pl_verify(sig, m, sizeof m, sign_pk) != PL_OK)
        return s_verify_fail(&s, count ? count : s.n,
                             "audit: the signed head does not verify with "
                             "the node's sign key: entry %llu (the last "
                             "signed) or the head was changed without the "
                             "key (%llu entries in the chain)",
                             count ? count : s.n, s.n);
    if (s.n < count)
        return s_verify_fail(&s, s.n + 1,
                             "audit: entry %llu is missing: the signed head "
                             "covers %llu entries",
                             s.n + 1, count);
    if (s.n > count)
        return s_verify_fail(&s, count + 1,
                             "audit: entry %llu and later were added after "
                             "the signed head (%llu entries)",
                             count + 1, count);
    if (memcmp(hash, s.prev, sizeof hash) != 0)
        return s_verify_fail(&s, count,
                             "audit: entry %llu (the last) was changed: it "
                             "does not match the signed head (%llu entries)",
                             count, count);
    return PL_OK;
}
