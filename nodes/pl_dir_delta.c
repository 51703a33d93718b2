// pl_dir_delta - the broker's directory as the node last took it, kept as
// a set of items in DIRSET (proto/pl_dirset.h), so that (issue 20):
//   - its digest is known again after a restart: a node switched off for
//     the night asks with it, and is told "unchanged" or sent a delta
//     instead of the whole directory (megabytes in a national network);
//   - a delta (the items removed and added since) can be applied to it,
//     and the result checked against the broker's digest before it is
//     taken, as a whole directory, by pl_node_dir_on_response.
// DIRECTORY keeps what the node uses (verified, one certificate per
// address); DIRSET keeps what the broker sent (only the node's own checks
// make it usable). Certificates are not personal data. Layer: services.
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_int.h"
#include "proto/pl_dirset.h"

static int
s_put(pl_txn_t *txn, const pl_dirset_item_t *it)
{
    uint8_t *val = malloc(it->len + 1);
    if (!val)
        return PL_ENOMEM;
    val[0] = it->field;
    memcpy(val + 1, it->data, it->len);
    int rc = pl_store_put(txn, PL_DB_DIRSET, it->name, PL_DIRSET_NAME, val,
                          it->len + 1);
    free(val);
    return rc;
}

// DIRSET becomes s
static int
s_save(pl_txn_t *txn, const pl_dirset_t *s)
{
    int rc = pl_store_clear(txn, PL_DB_DIRSET);
    for (size_t i = 0; rc == PL_OK && i < s->n; i++)
        rc = s_put(txn, &s->v[i]);
    return rc;
}

static int
s_load_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
           void *arg)
{
    pl_dirset_t *s = arg;
    if (klen != PL_DIRSET_NAME || vlen < 1)
        return PL_STORE_NEXT; // not ours: the digest will not match
    size_t before = s->n;
    int rc = pl_dirset_add(s, val[0], val + 1, vlen - 1);
    if (rc == PL_ENOMEM)
        return rc;
    // a record whose name is not its bytes' is left out: the digest of
    // the rest then differs from the broker's, and the whole comes again
    if (rc == PL_OK && memcmp(s->v[before].name, key, PL_DIRSET_NAME) != 0) {
        free(s->v[before].data);
        s->n = before;
    }
    return PL_STORE_NEXT;
}

static int
s_load(pl_txn_t *txn, pl_dirset_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = pl_store_each(txn, PL_DB_DIRSET, s_load_one, out);
    if (rc != PL_OK) {
        pl_dirset_free(out);
        return rc;
    }
    pl_dirset_finish(out);
    return PL_OK;
}

void
pl_node_dirset_open(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, false, &t) != PL_OK)
        return;
    pl_dirset_t s;
    if (s_load(t, &s) == PL_OK && s.n > 0) {
        pl_dirset_digest(&s, self->dir_digest);
        self->dir_digest_set = true;
        pl_log_info(self->log, "directory_set items=%zu", s.n);
    }
    pl_dirset_free(&s);
    pl_store_abort(&t);
}

int
pl_node_dirset_keep(pl_node_t *self, pl_txn_t *txn,
                    const Passerelle__V1__DirectoryResponse *r)
{
    pl_dirset_t s;
    int rc = pl_dirset_from_response(r, &s);
    if (rc == PL_OK)
        rc = s_save(txn, &s);
    if (rc == PL_OK) {
        uint8_t d[PL_DIRSET_DIGEST];
        pl_dirset_digest(&s, d);
        bool theirs = r->has_digest && r->digest.len == sizeof d;
        if (theirs && memcmp(r->digest.data, d, sizeof d) != 0)
            // an older broker's digest (of the response's bytes): kept, so
            // that "unchanged" works until we restart
            pl_log_info(self->log, "directory_digest_other");
        memcpy(self->dir_digest, theirs ? r->digest.data : d, sizeof d);
        self->dir_digest_set = true;
        self->dir_taken = true;
    }
    pl_dirset_free(&s);
    return rc;
}

// s taken as the broker's whole directory
static int
s_take(pl_node_t *self, pl_txn_t *txn, const pl_dirset_t *s)
{
    Passerelle__V1__DirectoryResponse whole =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    int rc = pl_dirset_response(s, NULL, &whole);
    if (rc != PL_OK)
        return rc;
    rc = pl_node_dir_on_response(self, txn, &whole);
    pl_dirset_response_free(&whole);
    if (rc == PL_OK)
        self->dir_taken = true;
    return rc;
}

int
pl_node_dirset_take(pl_node_t *self, pl_txn_t *txn)
{
    if (self->dir_taken)
        return PL_OK; // what we hold came from it, since the start
    pl_dirset_t s;
    int rc = s_load(txn, &s);
    if (rc == PL_OK)
        rc = s_take(self, txn, &s);
    pl_dirset_free(&s);
    return rc;
}

int
pl_node_dir_on_delta(pl_node_t *self, pl_txn_t *txn,
                     const Passerelle__V1__DirectoryResponse *r)
{
    uint64_t now = pl_mono_ms();
    const char *why = NULL;
    pl_dirset_t s = {0}, add = {0};
    int rc = PL_OK;
    if (!self->dir_digest_set
        || memcmp(r->delta_from.data, self->dir_digest, PL_DIRSET_DIGEST) != 0)
        why = "from a directory we do not hold";
    else
        rc = s_load(txn, &s);
    for (size_t i = 0; rc == PL_OK && !why && i < r->n_removed; i++) {
        pl_dirset_item_t *it = pl_dirset_find(&s, r->removed[i].data);
        if (!it || it->gone)
            why = "removes an item we do not hold";
        else
            it->gone = true;
    }
    // the items added (r's fields 1-6), also into s
    if (rc == PL_OK && !why)
        rc = pl_dirset_from_response(r, &add);
    for (size_t i = 0; rc == PL_OK && !why && i < add.n; i++)
        rc = pl_dirset_add(&s, add.v[i].field, add.v[i].data, add.v[i].len);
    uint8_t d[PL_DIRSET_DIGEST];
    if (rc == PL_OK && !why) {
        pl_dirset_finish(&s);
        pl_dirset_digest(&s, d);
        if (memcmp(d, r->digest.data, sizeof d) != 0)
            why = "the result is not the broker's directory";
    }
    if (rc == PL_OK && why) {
        // nothing of it is taken: the next request asks for all of it
        pl_log_warn(self->log, "directory_delta_refused reason=\"%s\"", why);
        self->dir_digest_set = false;
        self->dir_next_ms = now + S_DIR_MIN_GAP_MS;
    } else if (rc == PL_OK) {
        // DIRSET as s: the names removed out, the items added in
        for (size_t i = 0; rc == PL_OK && i < r->n_removed; i++)
            rc = pl_store_del(txn, PL_DB_DIRSET, r->removed[i].data,
                              PL_DIRSET_NAME);
        for (size_t i = 0; rc == PL_OK && i < add.n; i++)
            rc = s_put(txn, &add.v[i]);
        if (rc == PL_OK)
            rc = s_take(self, txn, &s);
        if (rc == PL_OK) {
            memcpy(self->dir_digest, d, sizeof d);
            self->dir_next_ms = now + S_DIR_REFRESH_MS;
            pl_log_info(self->log, "directory_delta removed=%zu added=%zu",
                        r->n_removed, add.n);
        }
    }
    pl_dirset_free(&add);
    pl_dirset_free(&s);
    return rc;
}
