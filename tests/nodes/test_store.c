// test_store - the node store: record encryption, AD binding, durability
// flags, master key handling, request-id replay. Layer: tests.
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodes/pl_store.h"
#include "tests/lib/pl_test.h"

// Opens a store in home/store with the key file home/keys/master.secret.
static int
s_open(const char *home, pl_store_t **out, size_t map)
{
    char dir[600], key[600], keys[600], err[256];
    snprintf(dir, sizeof dir, "%s/store", home);
    snprintf(keys, sizeof keys, "%s/keys", home);
    snprintf(key, sizeof key, "%s/keys/master.secret", home);
    mkdir(keys, 0700);
    pl_store_opts_t o = {.map_bytes = map, .master_path = key};
    int rc = pl_store_open(dir, &o, out, err, sizeof err);
    if (rc != PL_OK)
        fprintf(stderr, "store open: %s (%s)\n", err, pl_strerror(rc));
    return rc;
}

static void
test_roundtrip_and_ad(void)
{
    uint8_t key[PL_DATAKEY_BYTES] = {1, 2, 3};
    const char pt[] = "a record that must not be readable";
    pl_buf_t a = {0}, b = {0}, out = {0};
    PL_CHECK(pl_store_seal(key, PL_DB_INBOX, "k1", 2, pt, sizeof pt, &a)
             == PL_OK);
    PL_CHECK(a.len == sizeof pt + PL_SEAL_OVERHEAD);
    PL_CHECK(memmem(a.data, a.len, "readable", 8) == NULL);
    PL_CHECK(pl_store_unseal(key, PL_DB_INBOX, "k1", 2, a.data, a.len, &out)
             == PL_OK);
    PL_CHECK(out.len == sizeof pt && memcmp(out.data, pt, out.len) == 0);
    pl_buf_wipe(&out);
    PL_CHECK(pl_store_seal(key, PL_DB_INBOX, "k2", 2, "other", 5, &b) == PL_OK);
    // swapped values: each opens only under its own record key
    PL_CHECK(pl_store_unseal(key, PL_DB_INBOX, "k1", 2, b.data, b.len, &out)
             == PL_EAUTH);
    PL_CHECK(pl_store_unseal(key, PL_DB_INBOX, "k2", 2, a.data, a.len, &out)
             == PL_EAUTH);
    // the same key in another database
    PL_CHECK(pl_store_unseal(key, PL_DB_OUTBOX, "k1", 2, a.data, a.len, &out)
             == PL_EAUTH);
    // a flipped bit
    a.data[a.len - 1] ^= 1;
    PL_CHECK(pl_store_unseal(key, PL_DB_INBOX, "k1", 2, a.data, a.len, &out)
             == PL_EAUTH);
    PL_CHECK(out.len == 0);
    pl_buf_free(&a);
    pl_buf_free(&b);
    pl_buf_free(&out);
}

static void
test_store_records(void)
{
    char *home = pl_test_tmpdir("store");
    pl_store_t *s = NULL;
    PL_CHECK(s_open(home, &s, 0) == PL_OK);

    // durability: no flag that would let a commit return before fsync
    unsigned flags = 0;
    PL_CHECK(pl_store_flags(s, &flags) == PL_OK);
    PL_CHECK((flags & (MDB_NOSYNC | MDB_MAPASYNC | MDB_NOMETASYNC)) == 0);
    PL_CHECK((flags & MDB_WRITEMAP) == 0);

    // data keys + sealed records in two databases, then a swap in LMDB
    pl_txn_t *t = NULL;
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    uint8_t id[PL_DATAKEY_ID_BYTES], key[PL_DATAKEY_BYTES];
    PL_CHECK(pl_store_datakey_new(t, id, key) == PL_OK);
    pl_buf_t v1 = {0}, v2 = {0};
    PL_CHECK(pl_store_seal(key, PL_DB_INBOX, "r1", 2, "one", 3, &v1) == PL_OK);
    PL_CHECK(pl_store_seal(key, PL_DB_INBOX, "r2", 2, "two", 3, &v2) == PL_OK);
    PL_CHECK(pl_store_put(t, PL_DB_INBOX, "r1", 2, v2.data, v2.len) == PL_OK);
    PL_CHECK(pl_store_put(t, PL_DB_INBOX, "r2", 2, v1.data, v1.len) == PL_OK);
    PL_CHECK(pl_store_put_secret(t, PL_DB_CASES, "c", 1, "secret", 6) == PL_OK);
    PL_CHECK(pl_store_commit(&t) == PL_OK && t == NULL);
    pl_store_wipe(key, sizeof key);
    pl_buf_free(&v1);
    pl_buf_free(&v2);

    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    uint8_t key2[PL_DATAKEY_BYTES];
    PL_CHECK(pl_store_datakey_get(t, id, key2) == PL_OK);
    const uint8_t *v;
    size_t vlen;
    pl_buf_t out = {0};
    PL_CHECK(pl_store_get(t, PL_DB_INBOX, "r1", 2, &v, &vlen) == PL_OK);
    PL_CHECK(pl_store_unseal(key2, PL_DB_INBOX, "r1", 2, v, vlen, &out)
             == PL_EAUTH);
    PL_CHECK(pl_store_get_secret(t, PL_DB_CASES, "c", 1, &out) == PL_OK);
    PL_CHECK(out.len == 6 && memcmp(out.data, "secret", 6) == 0);
    pl_buf_wipe(&out);
    pl_store_abort(&t);

    // crypto-shredding: a destroyed data key is gone
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    PL_CHECK(pl_store_datakey_destroy(t, id) == PL_OK);
    PL_CHECK(pl_store_datakey_get(t, id, key2) == PL_ENOTFOUND);
    PL_CHECK(pl_store_commit(&t) == PL_OK);

    // nested transactions: an aborted child leaves the parent unchanged
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    pl_txn_t *c = NULL;
    PL_CHECK(pl_store_begin(s, t, true, &c) == PL_OK);
    PL_CHECK(pl_store_put(c, PL_DB_SEEN, "x", 1, "1", 1) == PL_OK);
    pl_store_abort(&c);
    PL_CHECK(pl_store_begin(s, t, true, &c) == PL_OK);
    PL_CHECK(pl_store_put(c, PL_DB_SEEN, "y", 1, "2", 1) == PL_OK);
    PL_CHECK(pl_store_commit(&c) == PL_OK);
    PL_CHECK(pl_store_get(t, PL_DB_SEEN, "x", 1, &v, &vlen) == PL_ENOTFOUND);
    PL_CHECK(pl_store_get(t, PL_DB_SEEN, "y", 1, &v, &vlen) == PL_OK);
    PL_CHECK(pl_store_commit(&t) == PL_OK);

    // request ids: the stored reply comes back for the same id only
    uint8_t rid[PL_REQUEST_ID_BYTES] = {9}, rid2[PL_REQUEST_ID_BYTES] = {8};
    const char reply[] = "{\"ok\":true,\"result\":[\"ab\"]}";
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    PL_CHECK(pl_store_request_get(t, rid, &out) == PL_ENOTFOUND);
    PL_CHECK(pl_store_request_put(t, rid, pl_now(), reply, strlen(reply))
             == PL_OK);
    PL_CHECK(pl_store_request_put(t, rid2, pl_now() - 8 * 86400, "{}", 2)
             == PL_OK);
    PL_CHECK(pl_store_commit(&t) == PL_OK);
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    PL_CHECK(pl_store_request_get(t, rid, &out) == PL_OK);
    PL_CHECK(strcmp((char *) out.data, reply) == 0);
    pl_buf_free(&out);
    size_t pruned = 0;
    PL_CHECK(pl_store_request_prune(t, pl_now(), &pruned) == PL_OK);
    PL_CHECK(pruned == 1);
    PL_CHECK(pl_store_request_get(t, rid2, &out) == PL_ENOTFOUND);
    PL_CHECK(pl_store_request_get(t, rid, &out) == PL_OK);
    pl_buf_free(&out);
    PL_CHECK(pl_store_commit(&t) == PL_OK);
    pl_store_close(&s);
    PL_CHECK(s == NULL);

    // reopen: same key file works; the master key file is 0600
    char path[600];
    snprintf(path, sizeof path, "%s/keys/master.secret", home);
    struct stat st;
    PL_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    PL_CHECK(s_open(home, &s, 0) == PL_OK);
    pl_store_close(&s);

    // a master key readable by others is refused
    PL_CHECK(chmod(path, 0644) == 0);
    PL_CHECK(s_open(home, &s, 0) == PL_EPERM && s == NULL);
    PL_CHECK(chmod(path, 0600) == 0);

    // another master key does not open the store
    char saved[700];
    snprintf(saved, sizeof saved, "%s.saved", path);
    PL_CHECK(rename(path, saved) == 0);
    PL_CHECK(s_open(home, &s, 0) == PL_ESTATE); // missing for existing store
    FILE *f = fopen(path, "w");
    PL_CHECK(f != NULL);
    fputs("rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\n", f); // valid Z85
    fclose(f);
    PL_CHECK(chmod(path, 0600) == 0);
    PL_CHECK(s_open(home, &s, 0) == PL_EAUTH);
    PL_CHECK(rename(saved, path) == 0);

    // a passphrase for a key-file store is refused
    char dir[600], err[256];
    snprintf(dir, sizeof dir, "%s/store", home);
    pl_store_opts_t po = {.passphrase = "pw", .passphrase_len = 2};
    PL_CHECK(pl_store_open(dir, &po, &s, err, sizeof err) == PL_ESTATE);
    pl_test_rmrf(home);
    free(home);
}

static void
test_passphrase(void)
{
    char *home = pl_test_tmpdir("storepw");
    char dir[600], err[256];
    snprintf(dir, sizeof dir, "%s/store", home);
    pl_store_t *s = NULL;
    pl_store_opts_t o = {.passphrase = "correct horse", .passphrase_len = 13};
    PL_CHECK(pl_store_open(dir, &o, &s, err, sizeof err) == PL_OK);
    pl_txn_t *t;
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    PL_CHECK(pl_store_put_secret(t, PL_DB_CASES, "c", 1, "v", 1) == PL_OK);
    PL_CHECK(pl_store_commit(&t) == PL_OK);
    pl_store_close(&s);
    o.passphrase = "wrong horse!!";
    PL_CHECK(pl_store_open(dir, &o, &s, err, sizeof err) == PL_EAUTH);
    PL_CHECK(strstr(err, "passphrase") != NULL);
    // no passphrase at all: refused, the key file is not created
    char key[600];
    snprintf(key, sizeof key, "%s/master.secret", home);
    pl_store_opts_t ko = {.master_path = key};
    PL_CHECK(pl_store_open(dir, &ko, &s, err, sizeof err) == PL_ESTATE);
    PL_CHECK(access(key, F_OK) != 0);
    o.passphrase = "correct horse";
    PL_CHECK(pl_store_open(dir, &o, &s, err, sizeof err) == PL_OK);
    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    pl_buf_t out = {0};
    PL_CHECK(pl_store_get_secret(t, PL_DB_CASES, "c", 1, &out) == PL_OK);
    PL_CHECK(out.len == 1 && out.data[0] == 'v');
    pl_buf_wipe(&out);
    pl_store_abort(&t);
    pl_store_close(&s);
    pl_test_rmrf(home);
    free(home);
}

static void
test_near_full(void)
{
    char *home = pl_test_tmpdir("storefull");
    pl_store_t *s = NULL;
    PL_CHECK(s_open(home, &s, 1 << 20) == PL_OK); // 1 MiB map
    unsigned pct = 100;
    PL_CHECK(pl_store_usage(s, &pct) == PL_OK);
    PL_CHECK(pct < 50);
    // fill until the map refuses; the failed commit changes nothing
    uint8_t blob[2000] = {0};
    int rc = PL_OK;
    uint32_t i = 0;
    while (rc == PL_OK && i < 10000) {
        pl_txn_t *t;
        PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
        for (int j = 0; j < 20 && rc == PL_OK; j++, i++)
            rc = pl_store_put(t, PL_DB_OUTBOX, &i, 4, blob, sizeof blob);
        if (rc == PL_OK)
            rc = pl_store_commit(&t);
        else
            pl_store_abort(&t);
    }
    PL_CHECK(rc == PL_EFULL);
    PL_CHECK(pl_store_usage(s, &pct) == PL_OK);
    PL_CHECK(pct >= PL_STORE_FULL_PCT);
    // deletions still fit, and bring the figure down
    pl_txn_t *t;
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    for (uint32_t k = 0; k < i; k++) {
        int d = pl_store_del(t, PL_DB_OUTBOX, &k, 4);
        PL_CHECK(d == PL_OK || d == PL_ENOTFOUND);
    }
    PL_CHECK(pl_store_commit(&t) == PL_OK);
    // freed pages become free only once no reader can still see them:
    // one more commit moves them to the free list
    PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
    PL_CHECK(pl_store_put(t, PL_DB_SETTINGS, "x", 1, "y", 1) == PL_OK);
    PL_CHECK(pl_store_commit(&t) == PL_OK);
    PL_CHECK(pl_store_usage(s, &pct) == PL_OK);
    fprintf(stderr, "map use after deleting everything: %u%%\n", pct);
    PL_CHECK(pct < PL_STORE_FULL_PCT);
    pl_store_close(&s);
    pl_test_rmrf(home);
    free(home);
}

int
main(void)
{
    test_roundtrip_and_ad();
    test_store_records();
    test_passphrase();
    test_near_full();
    printf("test_store: ok\n");
    return 0;
}
