// pl_directory - the node's directory cache (sorted by address, loaded from
// and saved to the store), the revocation list (DIR/revoked and the
// broker's), and the park of envelopes from senders not yet in the
// directory. Layer: services.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_int.h"
#include "proto/pl_anchor.h"

// ---- directory

static int
s_cert_cmp(const void *a, const void *b)
{
    return strcmp(((const pl_cert_t *) a)->address,
                  ((const pl_cert_t *) b)->address);
}

const pl_cert_t *
pl_node_dir_find(pl_node_t *self, const char *address, int *why)
{
    pl_cert_t key;
    snprintf(key.address, sizeof key.address, "%s", address);
    const pl_cert_t *c = self->ndir ? bsearch(&key, self->dir, self->ndir,
                                              sizeof *self->dir, s_cert_cmp)
                                    : NULL;
    // a foreign certificate: its own authority's list was applied when the
    // broker's directory came (pl_node_dir_foreign); serials are per
    // authority, so ours says nothing about it
    const pl_revlist_t *rl =
        c && strcmp(c->network, self->me.network) != 0 ? NULL : &self->revoked;
    int rc = c ? pl_cert_check(c, pl_now(), rl) : PL_ENOTFOUND;
    for (size_t i = 0; !c && i < self->ngone; i++)
        if (strcmp(self->gone[i], address) == 0)
            rc = PL_EREVOKED;
    if (why)
        *why = rc;
    return rc == PL_OK ? c : NULL;
}

bool
pl_node_dir_has_network(const pl_node_t *self, const char *address)
{
    const char *slash = strchr(address, '/');
    size_t n = slash ? (size_t) (slash - address) : strlen(address);
    if (strlen(self->me.network) == n
        && memcmp(self->me.network, address, n) == 0)
        return true;
    // a foreign broker comes with its anchor, not with its network's
    // directory: only a published node shows that directory arrived
    for (size_t i = 0; i < self->ndir; i++)
        if (strlen(self->dir[i].network) == n
            && memcmp(self->dir[i].network, address, n) == 0
            && strcmp(self->dir[i].sector, "broker") != 0)
            return true;
    return false;
}

// Is 'a' a better certificate for its address than 'b'? One valid now
// wins over one that is not (yet), then the higher serial: a renewal that
// starts tomorrow does not hide today's certificate.
static bool
s_cert_better(const pl_cert_t *a, const pl_cert_t *b, uint64_t now)
{
    bool va = now >= a->not_before && now <= a->not_after;
    bool vb = now >= b->not_before && now <= b->not_after;
    if (va != vb)
        return va;
    return a->serial > b->serial;
}

// Sorts a fresh array, keeping the best certificate per address.
static size_t
s_dir_sort(pl_cert_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cert_cmp);
    uint64_t now = pl_now();
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(v[w - 1].address, v[i].address) == 0) {
            if (s_cert_better(&v[i], &v[w - 1], now))
                v[w - 1] = v[i];
            continue;
        }
        if (w != i)
            v[w] = v[i];
        w++;
    }
    return w;
}

typedef struct {
    pl_node_t *node; // owner
    pl_cert_t *v;    // growing array
    size_t n, cap;   // used, allocated
} s_dirload_t;

static int
s_dir_load_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
               void *arg)
{
    (void) key;
    (void) klen;
    s_dirload_t *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        pl_cert_t *p = realloc(d->v, cap * sizeof *p);
        if (!p)
            return PL_ENOMEM;
        d->v = p;
        d->cap = cap;
    }
    // certificates are verified again: the store is not a trust anchor
    // (and remembered: the first directory taken then checks only what
    // changed)
    if (pl_cert_decode_memo(val, vlen, d->node->authority_pk, NULL,
                            &d->node->dir_memo, &d->v[d->n])
        == PL_OK)
        d->n++;
    return PL_STORE_NEXT;
}

int
pl_node_dir_load(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    int rc = pl_store_begin(self->store, NULL, false, &t);
    if (rc != PL_OK)
        return rc;
    s_dirload_t d = {self, NULL, 0, 0};
    rc = pl_store_each(t, PL_DB_DIRECTORY, s_dir_load_one, &d);
    pl_store_abort(&t);
    if (rc != PL_OK) {
        free(d.v);
        return rc;
    }
    free(self->dir);
    self->dir = d.v;
    self->ndir = s_dir_sort(d.v, d.n);
    pl_cert_memo_finish(&self->dir_memo);
    pl_log_info(self->log, "directory_loaded certs=%zu", self->ndir);
    return PL_OK;
}

// Stores a revocation list that was accepted as the newest.
static int
s_store_revlist(pl_node_t *self, pl_txn_t *txn)
{
    return pl_store_put(txn, PL_DB_SETTINGS, "revlist", 7,
                        self->revoked.raw.data, self->revoked.raw.len);
}

// Takes a candidate list if it is newer; returns true when taken.
static bool
s_take_revlist(pl_node_t *self, pl_revlist_t *cand, const char *source)
{
    uint64_t old = self->revoked.number;
    bool taken = pl_revlist_replace(&self->revoked, cand) == PL_OK;
    if (taken)
        pl_log_info(self->log,
                    "revocation_updated number=%llu previous=%llu "
                    "serials=%zu source=%s",
                    (unsigned long long) self->revoked.number,
                    (unsigned long long) old, self->revoked.count, source);
    pl_revlist_free(cand);
    return taken;
}

int
pl_node_reload_revoked(pl_node_t *self, pl_txn_t *txn)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/revoked", self->home);
    pl_revlist_t cand;
    int rc = pl_revlist_load(path, self->authority_pk, &cand);
    if (rc == PL_ENOTFOUND)
        return PL_OK;
    if (rc != PL_OK) {
        pl_log_warn(self->log, "revoked_file_refused path=%s reason=%s", path,
                    pl_strerror(rc));
        return PL_OK;
    }
    if (!s_take_revlist(self, &cand, "file"))
        return PL_OK;
    return s_store_revlist(self, txn);
}

// Re-encodes a Certificate message to the bytes pl_cert_decode reads (the
// signature covers the body bytes, which travel untouched).
static int
s_cert_bytes(const Passerelle__V1__Certificate *c, pl_buf_t *out)
{
    size_t n = passerelle__v1__certificate__get_packed_size(c);
    if (n > PL_CERT_MAX)
        return PL_ETOOBIG;
    int rc = pl_buf_reserve(out, n + 1);
    if (rc != PL_OK)
        return rc;
    out->len = passerelle__v1__certificate__pack(c, out->data);
    return PL_OK;
}

// The revocation list of a directory response, when newer than ours: taken
// and stored in 'txn'. An error only when the store fails.
static int
s_dir_revlist(pl_node_t *self, pl_txn_t *txn,
              const Passerelle__V1__RevocationList *revoked)
{
    size_t n = passerelle__v1__revocation_list__get_packed_size(revoked);
    pl_buf_t raw = {0};
    int rc = pl_buf_reserve(&raw, n + 1);
    if (rc == PL_OK) {
        raw.len = passerelle__v1__revocation_list__pack(revoked, raw.data);
        pl_revlist_t cand;
        int drc =
            pl_revlist_decode(raw.data, raw.len, self->authority_pk, &cand);
        if (drc != PL_OK)
            pl_log_warn(self->log, "revocation_refused reason=%s",
                        pl_strerror(drc));
        else if (s_take_revlist(self, &cand, "broker"))
            rc = s_store_revlist(self, txn);
    }
    pl_buf_free(&raw);
    return rc;
}

// Decodes and checks one certificate of a response into 'c': PL_OK when
// it is kept (valid, or not valid yet by our clock), else why it is
// dropped (logged).
// One certificate of a directory response: its signature checked unless
// the last directory had these very bytes (self->dir_memo); added to
// 'next' when it decodes.
static int
s_dir_cert(pl_node_t *self, const pl_buf_t *raw, uint64_t now, pl_cert_t *c,
           pl_cert_memo_t *next)
{
    int crc = pl_cert_decode_memo(raw->data, raw->len, self->authority_pk,
                                  &self->dir_memo, next, c);
    if (crc == PL_OK)
        crc = pl_cert_check(c, now, &self->revoked);
    if (crc == PL_EEXPIRED && now < c->not_before) {
        // not valid yet by our clock: kept, so that a send says so
        // (the clock may be behind) rather than "unknown recipient"
        pl_log_warn(self->log,
                    "certificate_not_yet_valid address=%s serial=%llu "
                    "starts_in_s=%llu: if it was issued just now, this "
                    "node's clock is behind",
                    c->address, (unsigned long long) c->serial,
                    (unsigned long long) (c->not_before - now));
        crc = PL_OK;
    }
    if (crc != PL_OK)
        pl_log_warn(self->log,
                    "certificate_dropped address=%s serial=%llu reason=%s",
                    crc == PL_EAUTH || crc == PL_EPROTO ? "?" : c->address,
                    (unsigned long long) c->serial, pl_strerror(crc));
    return crc;
}

typedef struct {
    const char *address;
    size_t i; // index in the array saved
} s_by_addr_t;

// by address, then by index (qsort is not stable)
static int
s_by_addr_cmp(const void *a, const void *b)
{
    const s_by_addr_t *x = a, *y = b;
    int c = strcmp(x->address, y->address);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

// Replaces the store's directory with the kept certificates 'v' (their
// bytes 'raws'), one record per address: the best (s_cert_better), of
// equals the last. Sorted, not compared pairwise: a national directory
// has 10,000 entries (issue 20).
static int
s_dir_save(pl_txn_t *txn, const pl_cert_t *v, const pl_buf_t *raws, size_t n,
           uint64_t now)
{
    int rc = pl_store_clear(txn, PL_DB_DIRECTORY);
    s_by_addr_t *idx = calloc(n ? n : 1, sizeof *idx);
    if (!idx)
        return rc == PL_OK ? PL_ENOMEM : rc;
    for (size_t i = 0; i < n; i++)
        idx[i] = (s_by_addr_t){v[i].address, i};
    qsort(idx, n, sizeof *idx, s_by_addr_cmp);
    for (size_t k = 0; rc == PL_OK && k < n;) {
        size_t best = idx[k++].i;
        for (; k < n && strcmp(idx[k].address, v[best].address) == 0; k++)
            if (!s_cert_better(&v[best], &v[idx[k].i], now))
                best = idx[k].i;
        rc = pl_store_put(txn, PL_DB_DIRECTORY, v[best].address,
                          strlen(v[best].address), raws[best].data,
                          raws[best].len);
    }
    free(idx);
    return rc;
}

// ---- foreign directory entries (issue 13, DESIGN.md §7.1)

// Appends to *v (n used) the foreign brokers of the anchors our authority
// signed and the foreign certificates each anchor admits (signed by its
// foreign key, under its prefix, not in its authority's revocation list).
// Kept in memory only: the broker sends them again on every connect.
// Returns the new count (the old one when out of memory).
static size_t
s_dir_foreign(pl_node_t *self, const Passerelle__V1__DirectoryResponse *r,
              pl_cert_t **v, size_t n)
{
    if (r->n_anchors == 0)
        return n;
    size_t cap = n + r->n_anchors + r->n_foreign;
    pl_cert_t *nv = realloc(*v, (cap ? cap : 1) * sizeof *nv);
    pl_anchor_t *an = calloc(r->n_anchors, sizeof *an);
    if (!nv || !an) {
        if (nv)
            *v = nv;
        free(an);
        return n;
    }
    *v = nv;
    uint64_t now = pl_now();
    size_t na = 0, nf = 0, refused = 0;
    for (size_t i = 0; i < r->n_anchors; i++) {
        pl_buf_t raw = {0};
        size_t sz = protobuf_c_message_get_packed_size(&r->anchors[i]->base);
        if (sz > PL_ANCHOR_MAX || pl_buf_reserve(&raw, sz + 1) != PL_OK) {
            pl_buf_free(&raw);
            continue;
        }
        raw.len = protobuf_c_message_pack(&r->anchors[i]->base, raw.data);
        int rc =
            pl_anchor_decode(raw.data, raw.len, self->authority_pk, &an[na]);
        pl_buf_free(&raw);
        if (rc == PL_OK && pl_anchor_check(&an[na], now) == PL_OK
            && strcmp(an[na].network, self->me.network) == 0) {
            nv[n++] = an[na].peer_broker; // to open its transit wraps
            na++;
        } else {
            if (rc == PL_OK)
                pl_anchor_free(&an[na]);
            pl_log_warn(self->log, "anchor_refused reason=%s",
                        rc == PL_OK ? "expired_or_other_network"
                                    : pl_strerror(rc));
        }
    }
    for (size_t i = 0; i < r->n_foreign; i++) {
        pl_buf_t raw = {0};
        if (s_cert_bytes(r->foreign[i], &raw) != PL_OK) {
            pl_buf_free(&raw);
            continue;
        }
        int rc = PL_ENOTFOUND;
        for (size_t j = 0; j < na && rc != PL_OK; j++) {
            rc = pl_anchor_cert(&an[j], raw.data, raw.len, &nv[n]);
            if (rc != PL_OK)
                continue;
            // that authority's newest list, as the broker passed it on
            pl_revlist_t rl = {0};
            for (size_t k = 0; k < r->n_foreign_revoked; k++) {
                pl_buf_t rb = {0};
                pl_revlist_t cand;
                size_t sz = passerelle__v1__revocation_list__get_packed_size(
                    r->foreign_revoked[k]);
                if (pl_buf_reserve(&rb, sz + 1) == PL_OK) {
                    rb.len = passerelle__v1__revocation_list__pack(
                        r->foreign_revoked[k], rb.data);
                    if (pl_revlist_decode(rb.data, rb.len,
                                          an[j].peer_authority_pk, &cand)
                        == PL_OK) {
                        if (pl_revlist_replace(&rl, &cand) != PL_OK)
                            pl_revlist_free(&cand);
                    }
                }
                pl_buf_free(&rb);
            }
            rc = pl_cert_check(&nv[n], now, &rl);
            pl_revlist_free(&rl);
        }
        pl_buf_free(&raw);
        if (rc == PL_OK) {
            n++;
            nf++;
        } else {
            refused++;
        }
    }
    for (size_t j = 0; j < na; j++)
        pl_anchor_free(&an[j]);
    free(an);
    pl_log_info(self->log,
                "directory_foreign anchors=%zu certs=%zu refused=%zu", na, nf,
                refused);
    return n;
}

#define S_GONE_MAX 256 // revoked addresses remembered (the oldest go first)

// Before the directory becomes 'v' (n entries, sorted): an address of our
// network whose certificate the old one had, revoked in our newest list,
// and that 'v' lacks, is remembered as gone; one that 'v' has (enrolled
// again) is forgotten.
static void
s_dir_gone(pl_node_t *self, const pl_cert_t *v, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < self->ngone; i++) {
        pl_cert_t key;
        snprintf(key.address, sizeof key.address, "%s", self->gone[i]);
        if (!n || !bsearch(&key, v, n, sizeof *v, s_cert_cmp))
            memmove(self->gone[w++], self->gone[i], sizeof *self->gone);
    }
    self->ngone = w;
    for (size_t i = 0; i < self->ndir; i++) {
        const pl_cert_t *c = &self->dir[i];
        if (strcmp(c->network, self->me.network) != 0
            || !pl_revlist_contains(&self->revoked, c->serial)
            || (n && bsearch(c, v, n, sizeof *v, s_cert_cmp)))
            continue;
        bool known = false;
        for (size_t j = 0; !known && j < self->ngone; j++)
            known = strcmp(self->gone[j], c->address) == 0;
        if (known)
            continue;
        if (!self->gone) {
            self->gone = calloc(S_GONE_MAX, sizeof *self->gone);
            if (!self->gone)
                return; // only the refusal's reason is less precise
        }
        if (self->ngone == S_GONE_MAX) {
            memmove(self->gone[0], self->gone[1],
                    (S_GONE_MAX - 1) * sizeof *self->gone);
            self->ngone--;
        }
        snprintf(self->gone[self->ngone++], sizeof *self->gone, "%s",
                 c->address);
    }
}

int
pl_node_dir_on_response(pl_node_t *self, pl_txn_t *txn,
                        const Passerelle__V1__DirectoryResponse *r)
{
    int rc = PL_OK;
    uint64_t now = pl_now();
    if (r->revoked) {
        rc = s_dir_revlist(self, txn, r->revoked);
        if (rc != PL_OK)
            return rc;
    }
    pl_cert_t *v = calloc(r->n_certificates ? r->n_certificates : 1, sizeof *v);
    if (!v)
        return PL_ENOMEM;
    pl_buf_t *raws =
        calloc(r->n_certificates ? r->n_certificates : 1, sizeof *raws);
    if (!raws) {
        free(v);
        return PL_ENOMEM;
    }
    size_t n = 0, dropped = 0;
    pl_cert_memo_t memo = {0}; // this directory's, for the next one
    for (size_t i = 0; rc == PL_OK && i < r->n_certificates; i++) {
        pl_buf_t raw = {0};
        rc = s_cert_bytes(r->certificates[i], &raw);
        if (rc == PL_ETOOBIG) {
            rc = PL_OK;
            dropped++;
            pl_buf_free(&raw);
            continue;
        }
        if (rc != PL_OK) {
            pl_buf_free(&raw);
            break;
        }
        if (s_dir_cert(self, &raw, now, &v[n], &memo) != PL_OK) {
            dropped++;
            pl_buf_free(&raw);
            continue;
        }
        raws[n] = raw;
        n++;
    }
    // the response is the broker's whole directory: replace ours
    if (rc == PL_OK)
        rc = s_dir_save(txn, v, raws, n, now);
    for (size_t i = 0; i < n; i++)
        pl_buf_free(&raws[i]);
    free(raws);
    // (only bytes whose signature verified: true whatever happens next)
    pl_cert_memo_free(&self->dir_memo);
    pl_cert_memo_finish(&memo);
    self->dir_memo = memo;
    if (rc != PL_OK) {
        free(v);
        return rc;
    }
    n = s_dir_foreign(self, r, &v, n); // issue 13: across the border
    s_dir_gone(self, v, n);
    free(self->dir);
    self->dir = v;
    self->ndir = s_dir_sort(v, n);
    self->dir_gen++;
    rc = pl_node_cat_take(self, txn, r); // issue 18: service catalogues
    if (rc != PL_OK)
        return rc;
    self->dir_gate_ms = 0; // the list is as fresh as the broker's now
    if (self->npark)
        self->park_replay = true;
    pl_log_info(self->log,
                "directory_updated certs=%zu dropped=%zu revocation=%llu",
                self->ndir, dropped, (unsigned long long) self->revoked.number);
    return PL_OK;
}

// ---- the park of unknown senders

void
pl_node_park_add(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES],
                 const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < self->npark; i++)
        if (memcmp(self->park[i].id, id, PL_MSG_ID_BYTES) == 0)
            return; // already waiting
    if (self->npark == S_PARK_MAX)
        return; // the broker redelivers it later
    pl_parked_t *p = &self->park[self->npark];
    memset(p, 0, sizeof *p);
    if (pl_buf_append(&p->packet, data, len) != PL_OK)
        return;
    memcpy(p->id, id, PL_MSG_ID_BYTES);
    p->since_ms = pl_mono_ms();
    p->dir_gen = self->dir_gen;
    self->npark++;
}

void
pl_node_park_expire(pl_node_t *self)
{
    uint64_t now = pl_mono_ms();
    size_t w = 0;
    for (size_t i = 0; i < self->npark; i++) {
        if (now - self->park[i].since_ms > S_PARK_MS)
            pl_buf_free(&self->park[i].packet);
        else
            self->park[w++] = self->park[i];
    }
    self->npark = w;
}

// ---- directory requests

void
pl_node_ask_directory(pl_node_t *self, bool force)
{
    uint64_t now = pl_mono_ms();
    if (!force && self->dir_asked_ms
        && now - self->dir_asked_ms < S_DIR_MIN_GAP_MS)
        return;
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__DirectoryRequest req =
        PASSERELLE__V1__DIRECTORY_REQUEST__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST;
    pkt.directory_request = &req;
    req.has_directory_pages = req.directory_pages = true; // pl_dir_pages.c
    req.has_deltas = req.deltas = true;                   // pl_dir_delta.c
    if (self->dir_digest_set) { // "unchanged" is enough when it is
        req.has_have = true;
        req.have =
            (ProtobufCBinaryData){sizeof self->dir_digest, self->dir_digest};
    }
    if (force)
        pl_node_cat_send(self); // issue 18: before, so the answer has it
    pl_node_send_packet(self, &pkt);
    self->dir_asked_ms = now;
    self->dir_next_ms = now + S_DIR_REFRESH_MS;
}
