// test_audit_verify - the node's one audit verifier (pl_audit_verify),
// on a real encrypted store: a good chain verifies; a changed entry, a
// removed last entry and an entry appended behind the head's back are each
// named; the offline export check shares the entry check. Layer: tests.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_audit_tools.h"
#include "nodes/pl_store.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"
#include "tests/lib/pl_test.h"

#define S_N 10 // entries in the chain

static pl_store_t *
s_open(const char *home)
{
    char dir[600], key[600], err[256];
    snprintf(dir, sizeof dir, "%s/store", home);
    snprintf(key, sizeof key, "%s/master.secret", home);
    pl_store_opts_t o = {.map_bytes = (size_t) 64 << 20, .master_path = key};
    pl_store_t *s = NULL;
    PL_CHECK(pl_store_open(dir, &o, &s, err, sizeof err) == PL_OK);
    return s;
}

static void
s_fill(pl_store_t *s, const pl_keys_t *keys)
{
    pl_txn_t *t = NULL;
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    for (int i = 0; i < S_N; i++) {
        pl_audit_entry_t e = {.dir = PL_AUDIT_LOCAL,
                              .by = "system",
                              .event = "received",
                              .result = "applied"};
        uint64_t seq = 0;
        PL_CHECK(pl_audit_append(t, keys, &e, pl_now(), &seq) == PL_OK);
        PL_CHECK(seq == (uint64_t) i + 1);
    }
    PL_CHECK(pl_store_commit(&t) == PL_OK);
}

// Verifies in a read transaction of its own; returns the code.
static int
s_verify(pl_store_t *s, const pl_keys_t *keys, pl_audit_report_t *rep)
{
    pl_txn_t *t = NULL;
    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    int rc = pl_audit_verify(t, keys->pub.sign, rep);
    pl_store_abort(&t);
    fprintf(stderr, "  verify: rc %d, %llu entries, bad %llu: %s\n", rc,
            (unsigned long long) rep->count, (unsigned long long) rep->bad_seq,
            rep->error);
    return rc;
}

// Reads entry 'seq' into 'buf' (NUL-terminated); returns its length.
static size_t
s_get(pl_store_t *s, uint64_t seq, char *buf, size_t cap)
{
    pl_txn_t *t = NULL;
    uint8_t k[8];
    const uint8_t *v;
    size_t vl = 0;
    pl_be64_put(k, seq);
    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    PL_CHECK(pl_store_get(t, PL_DB_AUDIT, k, sizeof k, &v, &vl) == PL_OK);
    PL_CHECK(vl < cap);
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    pl_store_abort(&t);
    return vl;
}

static void
s_put(pl_store_t *s, uint64_t seq, const char *text, size_t len)
{
    pl_txn_t *t = NULL;
    uint8_t k[8];
    pl_be64_put(k, seq);
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    if (text)
        PL_CHECK(pl_store_put(t, PL_DB_AUDIT, k, sizeof k, text, len) == PL_OK);
    else
        PL_CHECK(pl_store_del(t, PL_DB_AUDIT, k, sizeof k) == PL_OK);
    PL_CHECK(pl_store_commit(&t) == PL_OK);
}

static void
test_named(void)
{
    char *home = pl_test_tmpdir("audit-verify");
    pl_keys_t *keys = NULL;
    PL_CHECK(pl_keys_generate(&keys) == PL_OK);
    pl_store_t *s = s_open(home);
    s_fill(s, keys);
    pl_audit_report_t rep;
    PL_CHECK(s_verify(s, keys, &rep) == PL_OK);
    PL_CHECK(rep.count == S_N && rep.bad_seq == 0 && rep.error[0] == '\0');

    // change entry 4 (same length): entry 5's link names entry 4
    char orig[1024], text[1024];
    size_t len = s_get(s, 4, orig, sizeof orig);
    memcpy(text, orig, len + 1);
    char *p = strstr(text, "received");
    PL_CHECK(p != NULL);
    memcpy(p, "rejected", 8);
    s_put(s, 4, text, len);
    PL_CHECK(s_verify(s, keys, &rep) == PL_EAUTH);
    PL_CHECK(rep.bad_seq == 4);
    PL_CHECK(strstr(rep.error, "entry 4 was changed") != NULL);
    s_put(s, 4, orig, len);
    PL_CHECK(s_verify(s, keys, &rep) == PL_OK);

    // the offline export check uses the same entry check: a changed
    // entry's text in an export is named by its own number
    pl_txn_t *t = NULL;
    json_t *doc = NULL;
    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    PL_CHECK(pl_audit_export(t, "sn/test", keys->pub.sign, 1, 0, &doc)
             == PL_OK);
    pl_store_abort(&t);
    PL_CHECK(pl_audit_check_export(doc, &rep) == PL_OK && rep.count == S_N);
    json_t *e7 = json_array_get(json_object_get(doc, "entries"), 6);
    PL_CHECK(json_object_set_new(e7, "text", json_string(text)) == 0);
    PL_CHECK(pl_audit_check_export(doc, &rep) == PL_EAUTH);
    PL_CHECK(rep.bad_seq == 7);
    json_decref(doc);

    // the last entry removed: named as missing under the signed head
    char last[1024];
    size_t ll = s_get(s, S_N, last, sizeof last);
    s_put(s, S_N, NULL, 0);
    PL_CHECK(s_verify(s, keys, &rep) == PL_EAUTH);
    PL_CHECK(rep.bad_seq == S_N && strstr(rep.error, "is missing") != NULL);
    s_put(s, S_N, last, ll);
    PL_CHECK(s_verify(s, keys, &rep) == PL_OK);

    // an entry appended without the key (head not re-signed)
    uint8_t h[PL_AUDIT_HASH_BYTES] = {0};
    for (uint64_t i = 1; i <= S_N; i++) {
        size_t el = s_get(s, i, text, sizeof text);
        pl_audit_chain_hash(h, (const uint8_t *) text, el, h);
    }
    char hex[2 * PL_AUDIT_HASH_BYTES + 1], extra[1024];
    pl_hex(hex, h, sizeof h);
    int n = snprintf(extra, sizeof extra, "{\"prev\":\"%s\",\"seq\":%d}", hex,
                     S_N + 1);
    s_put(s, S_N + 1, extra, (size_t) n);
    PL_CHECK(s_verify(s, keys, &rep) == PL_EAUTH);
    PL_CHECK(rep.bad_seq == S_N + 1);

    pl_store_close(&s);
    pl_keys_destroy(&keys);
    pl_test_rmrf(home);
    free(home);
}

int
main(void)
{
    test_named();
    printf("test_audit_verify: ok\n");
    return 0;
}
