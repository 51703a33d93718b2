// pl_node_msg - the node's side of delivery (DESIGN.md §4): the outbox and
// its resends, inbound envelopes (verify, open, dedupe, store, receipt),
// receipts, the directory and the revocation list. Layer: nodes.
//
// Inbound order of checks: header, recipient, expiry, sender certificate
// (known, valid, not revoked), outer signature (cheap, before any
// decryption), dedupe by id (same id with other bytes = attack), then open
// (inner signer == outer signer is checked inside pl_envelope_open), then
// the message. The effect (inbox record), the seen id and the receipt
// (outbox) are written in one nested transaction; "taken" and the receipt
// go out only after the pass commits.
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_node_int.h"

#define S_OUTREC_FIXED 144 // bytes before 'to' in an outbox record
#define S_INREC_FIXED  128 // bytes before the header in an inbox record
#define S_SEEN_BYTES   64  // a seen record
#define S_REC_VERSION  1

// ---- little helpers

static void
s_hexid(char out[2 * PL_MSG_ID_BYTES + 1], const uint8_t *id)
{
    pl_hex(out, id, PL_MSG_ID_BYTES);
}

static void
s_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t
s_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static bool
s_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

// ---- record codecs (native byte order: the store never leaves the host)

int
pl_outrec_encode(const pl_outrec_t *r, pl_buf_t *out)
{
    size_t tolen = strlen(r->to);
    if (tolen == 0 || tolen > PL_ADDRESS_MAX)
        return PL_EINVAL;
    uint8_t fixed[S_OUTREC_FIXED] = {0};
    fixed[0] = S_REC_VERSION;
    fixed[1] = r->state;
    fixed[2] = r->kind;
    fixed[3] = r->reason;
    fixed[4] = (uint8_t) tolen;
    s_put64(fixed + 8, r->created_at);
    s_put64(fixed + 16, r->updated_at);
    s_put64(fixed + 24, r->expires_at);
    memcpy(fixed + 32, &r->attempts, 4);
    memcpy(fixed + 40, r->digest, PL_DIGEST_BYTES);
    s_put64(fixed + 72, r->receipt_at);
    memcpy(fixed + 80, r->receipt_sig, PL_SIG_BYTES);
    int rc = pl_buf_append(out, fixed, sizeof fixed);
    if (rc == PL_OK)
        rc = pl_buf_append(out, r->to, tolen);
    if (rc == PL_OK && r->packet_len)
        rc = pl_buf_append(out, r->packet, r->packet_len);
    return rc;
}

int
pl_outrec_decode(const uint8_t *v, size_t len, pl_outrec_t *r)
{
    memset(r, 0, sizeof *r);
    if (len < S_OUTREC_FIXED || v[0] != S_REC_VERSION)
        return PL_EPROTO;
    size_t tolen = v[4];
    if (tolen == 0 || tolen > PL_ADDRESS_MAX || len < S_OUTREC_FIXED + tolen)
        return PL_EPROTO;
    r->state = v[1];
    r->kind = v[2];
    r->reason = v[3];
    r->created_at = s_get64(v + 8);
    r->updated_at = s_get64(v + 16);
    r->expires_at = s_get64(v + 24);
    memcpy(&r->attempts, v + 32, 4);
    memcpy(r->digest, v + 40, PL_DIGEST_BYTES);
    r->receipt_at = s_get64(v + 72);
    memcpy(r->receipt_sig, v + 80, PL_SIG_BYTES);
    memcpy(r->to, v + S_OUTREC_FIXED, tolen);
    r->to[tolen] = 0;
    r->packet_len = len - S_OUTREC_FIXED - tolen;
    r->packet = r->packet_len ? v + S_OUTREC_FIXED + tolen : NULL;
    return PL_OK;
}

int
pl_inrec_decode(const uint8_t *v, size_t len, pl_inrec_t *r)
{
    memset(r, 0, sizeof *r);
    if (len < S_INREC_FIXED || v[0] != S_REC_VERSION)
        return PL_EPROTO;
    uint16_t hlen;
    memcpy(&hlen, v + 2, 2);
    if (hlen == 0 || len < S_INREC_FIXED + (size_t) hlen + PL_SEAL_OVERHEAD)
        return PL_EPROTO;
    r->kind = v[1];
    r->received_at = s_get64(v + 8);
    memcpy(r->dkid, v + 112, PL_DATAKEY_ID_BYTES);
    r->header = v + S_INREC_FIXED;
    r->header_len = hlen;
    r->sealed = v + S_INREC_FIXED + hlen;
    r->sealed_len = len - S_INREC_FIXED - hlen;
    return PL_OK;
}

// Writes an outbox record (the packet bytes are copied).
static int
s_outrec_put(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES],
             const pl_outrec_t *r)
{
    pl_buf_t v = {0};
    int rc = pl_outrec_encode(r, &v);
    if (rc == PL_OK)
        rc =
            pl_store_put(txn, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, v.data, v.len);
    pl_buf_free(&v);
    return rc;
}

// ---- nested transactions

// Begins the nested transaction of one packet; notes the after-send mark.
static pl_txn_t *
s_child(pl_node_t *self, pl_txn_t *pass, size_t *mark)
{
    pl_txn_t *c = NULL;
    *mark = pl_node_after_mark(self);
    if (pl_store_begin(self->store, pass, true, &c) != PL_OK)
        return NULL;
    return c;
}

// Ends it: commit into the pass, or abort and forget its sends.
static int
s_child_end(pl_node_t *self, pl_txn_t **c, size_t mark, int rc)
{
    if (rc == PL_OK) {
        rc = pl_store_commit(c);
        if (rc == PL_OK)
            return PL_OK;
    } else {
        pl_store_abort(c);
    }
    pl_node_after_truncate(self, mark);
    return rc;
}

// ---- replies to the broker (sent after the pass commits)

static void
s_taken(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES])
{
    pl_buf_t b = {0};
    if (pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, id, &b) == PL_OK)
        PL_IGNORE(pl_node_send_after(self, b.data, b.len));
    pl_buf_free(&b);
}

// Refuses an envelope for good: logged, counted, answered "rejected" so the
// broker drops it. Nothing is stored.
static void
s_refuse(pl_node_t *self, const uint8_t *id, const char *from,
         Passerelle__V1__RejectReason reason, const char *detail)
{
    char hex[2 * PL_MSG_ID_BYTES + 1] = "-";
    if (id)
        s_hexid(hex, id);
    pl_log_warn(self->log,
                "envelope_refused id=%s from=%s reason=%s detail=\"%s\"", hex,
                from ? from : "-", pl_wire_reason_name(reason), detail);
    self->n.in_refused++;
    pl_buf_t b = {0};
    if (pl_wire_rejected(id, reason, detail, &b) == PL_OK)
        PL_IGNORE(pl_node_send_after(self, b.data, b.len));
    pl_buf_free(&b);
}

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
    int rc = c ? pl_cert_check(c, pl_now(), &self->revoked) : PL_ENOTFOUND;
    if (why)
        *why = rc;
    return rc == PL_OK ? c : NULL;
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
    if (pl_cert_decode(val, vlen, d->node->authority_pk, &d->v[d->n]) == PL_OK)
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

void
pl_node_reload_revoked(pl_node_t *self)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/revoked", self->home);
    pl_revlist_t cand;
    int rc = pl_revlist_load(path, self->authority_pk, &cand);
    if (rc == PL_ENOTFOUND)
        return;
    if (rc != PL_OK) {
        pl_log_warn(self->log, "revoked_file_refused path=%s reason=%s", path,
                    pl_strerror(rc));
        return;
    }
    if (!s_take_revlist(self, &cand, "file"))
        return;
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, true, &t) != PL_OK)
        return;
    if (s_store_revlist(self, t) == PL_OK)
        PL_IGNORE(pl_store_commit(&t));
    else
        pl_store_abort(&t);
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

static int
s_clear_dir(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) k;
    (void) kl;
    (void) v;
    (void) vl;
    (void) arg;
    return PL_STORE_DELETE;
}

static int
s_on_directory(pl_node_t *self, pl_txn_t *txn,
               const Passerelle__V1__DirectoryResponse *r)
{
    int rc = PL_OK;
    uint64_t now = pl_now();
    if (r->revoked) {
        size_t n = passerelle__v1__revocation_list__get_packed_size(r->revoked);
        pl_buf_t raw = {0};
        rc = pl_buf_reserve(&raw, n + 1);
        if (rc == PL_OK) {
            raw.len =
                passerelle__v1__revocation_list__pack(r->revoked, raw.data);
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
        int crc = pl_cert_decode(raw.data, raw.len, self->authority_pk, &v[n]);
        if (crc == PL_OK)
            crc = pl_cert_check(&v[n], now, &self->revoked);
        if (crc == PL_EEXPIRED && now < v[n].not_before) {
            // not valid yet by our clock: kept, so that a send says so
            // (the clock may be behind) rather than "unknown recipient"
            pl_log_warn(self->log,
                        "certificate_not_yet_valid address=%s serial=%llu "
                        "starts_in_s=%llu: if it was issued just now, this "
                        "node's clock is behind",
                        v[n].address, (unsigned long long) v[n].serial,
                        (unsigned long long) (v[n].not_before - now));
            crc = PL_OK;
        }
        if (crc != PL_OK) {
            pl_log_warn(self->log,
                        "certificate_dropped address=%s serial=%llu reason=%s",
                        crc == PL_EAUTH || crc == PL_EPROTO ? "?"
                                                            : v[n].address,
                        (unsigned long long) v[n].serial, pl_strerror(crc));
            dropped++;
            pl_buf_free(&raw);
            continue;
        }
        raws[n] = raw;
        n++;
    }
    // the response is the broker's whole directory: replace ours
    if (rc == PL_OK)
        rc = pl_store_each(txn, PL_DB_DIRECTORY, s_clear_dir, NULL);
    for (size_t i = 0; rc == PL_OK && i < n; i++) {
        // one record per address: the one s_dir_sort keeps
        bool skip = false;
        for (size_t j = 0; !skip && j < n; j++)
            skip = j != i && strcmp(v[i].address, v[j].address) == 0
                   && (s_cert_better(&v[j], &v[i], now)
                       || (j > i && !s_cert_better(&v[i], &v[j], now)));
        if (!skip)
            rc = pl_store_put(txn, PL_DB_DIRECTORY, v[i].address,
                              strlen(v[i].address), raws[i].data, raws[i].len);
    }
    for (size_t i = 0; i < n; i++)
        pl_buf_free(&raws[i]);
    free(raws);
    if (rc != PL_OK) {
        free(v);
        return rc;
    }
    free(self->dir);
    self->dir = v;
    self->ndir = s_dir_sort(v, n);
    self->dir_gen++;
    if (self->npark)
        self->park_replay = true;
    pl_log_info(self->log,
                "directory_updated certs=%zu dropped=%zu revocation=%llu",
                self->ndir, dropped, (unsigned long long) self->revoked.number);
    return PL_OK;
}

// ---- outbox

// ---- the resend schedule: one entry per outbox id, so that every path
// that (re)schedules an id replaces its entry (a second entry for the same
// id would send it twice as often, and each store-full answer to those
// sends would add more: the retry storm of issue 11). The array is sorted
// by id up to rs_sorted; new ids go to a short unsorted tail, sorted in
// when it grows past a sixteenth of the rest, so neither an insert nor a
// lookup costs more than a search and a short scan.

static int
s_rs_cmp(const void *a, const void *b)
{
    return memcmp(((const pl_resend_t *) a)->id, ((const pl_resend_t *) b)->id,
                  PL_MSG_ID_BYTES);
}

// Index of the entry of 'id', or SIZE_MAX.
static size_t
s_rs_index(const pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES])
{
    size_t lo = 0, hi = self->rs_sorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(self->rs[mid].id, id, PL_MSG_ID_BYTES);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = self->rs_sorted; i < self->nrs; i++)
        if (memcmp(self->rs[i].id, id, PL_MSG_ID_BYTES) == 0)
            return i;
    return SIZE_MAX;
}

// Keeps the entries whose 'dead' flag is clear, in order (what was in the
// sorted part stays sorted).
static void
s_rs_compact(pl_node_t *self)
{
    size_t w = 0, sorted = 0;
    for (size_t i = 0; i < self->nrs; i++) {
        if (self->rs[i].dead)
            continue;
        if (i < self->rs_sorted)
            sorted++;
        self->rs[w++] = self->rs[i];
    }
    self->nrs = w;
    self->rs_sorted = sorted;
}

// 'backoff_ms' less a random part of up to a quarter of it: senders that
// were refused together do not come back together.
static uint64_t
s_jitter(uint32_t backoff_ms)
{
    uint32_t spread = backoff_ms / 4;
    return backoff_ms - (spread ? randombytes_uniform(spread + 1) : 0);
}

// The entry of 'id', inserted (due now, no backoff yet) when absent; NULL
// when memory runs out (the next welcome rebuilds the schedule). The
// pointer is valid until the next insert or compaction.
static pl_resend_t *
s_rs_get(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES])
{
    size_t i = s_rs_index(self, id);
    if (i != SIZE_MAX)
        return &self->rs[i];
    size_t tail = self->nrs - self->rs_sorted;
    if (tail >= 64 && tail > self->rs_sorted / 16) {
        qsort(self->rs, self->nrs, sizeof *self->rs, s_rs_cmp);
        self->rs_sorted = self->nrs;
    }
    if (self->nrs == self->caprs) {
        size_t cap = self->caprs ? self->caprs * 2 : 256;
        pl_resend_t *p = realloc(self->rs, cap * sizeof *p);
        if (!p)
            return NULL;
        self->rs = p;
        self->caprs = cap;
    }
    pl_resend_t *e = &self->rs[self->nrs++];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, PL_MSG_ID_BYTES);
    e->due_ms = pl_mono_ms();
    return e;
}

void
pl_node_resend_add(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES],
                   uint32_t delay_ms)
{
    pl_resend_t *e = s_rs_get(self, id);
    if (!e)
        return;
    e->backoff_ms = delay_ms < S_RESEND_FIRST_MS ? S_RESEND_FIRST_MS : delay_ms;
    e->due_ms = pl_mono_ms() + delay_ms;
}

size_t
pl_node_resend_count(const pl_node_t *self)
{
    return self->nrs;
}

// 'id' left "pending" in this pass: its entry goes once the pass commits.
static void
s_rs_settled(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES])
{
    // no memory: the entry is dropped lazily when it comes due
    PL_IGNORE(pl_buf_append(&self->settled, id, PL_MSG_ID_BYTES));
}

void
pl_node_resend_settle(pl_node_t *self, bool committed)
{
    bool any = false;
    for (size_t o = 0; committed && o + PL_MSG_ID_BYTES <= self->settled.len;
         o += PL_MSG_ID_BYTES) {
        size_t i = s_rs_index(self, self->settled.data + o);
        if (i != SIZE_MAX) {
            self->rs[i].dead = true;
            any = true;
        }
    }
    if (any)
        s_rs_compact(self);
    self->settled.len = 0;
}

// The broker could not take 'id' now (store full or store error): the
// entry's next send moves out by its backoff (at least S_RETRY_FULL_MS, at
// most S_RETRY_FULL_MAX_MS, jittered). Never a second entry.
static void
s_rs_refused(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES])
{
    pl_resend_t *e = s_rs_get(self, id);
    if (!e)
        return;
    uint32_t b =
        e->backoff_ms < S_RETRY_FULL_MS ? S_RETRY_FULL_MS : e->backoff_ms;
    if (b > S_RETRY_FULL_MAX_MS)
        b = S_RETRY_FULL_MAX_MS;
    e->backoff_ms = b;
    e->due_ms = pl_mono_ms() + s_jitter(b);
}

// One line per S_LOG_GAP_MS at most for the broker's "retry later"
// answers, however many there are: a full broker answers every resend.
static void
s_refused_log(pl_node_t *self, int reason)
{
    self->refused_n++;
    uint64_t now = pl_mono_ms();
    if (self->refused_logged_ms && now - self->refused_logged_ms < S_LOG_GAP_MS)
        return;
    pl_log_warn(self->log,
                "outbox_retry_later reason=%s refusals=%llu pending=%zu: the "
                "broker cannot take envelopes now; they are resent with "
                "backoff",
                pl_wire_reason_name(reason),
                (unsigned long long) self->refused_n, self->nrs);
    self->refused_logged_ms = now;
    self->refused_n = 0;
}

// Audits an envelope sent or received (no personal data: ids, kind,
// digest and the peer's address only).
static int
s_audit_env(pl_node_t *self, pl_txn_t *txn, pl_audit_dir_t dir,
            const char *peer, const uint8_t *id, int kind,
            const uint8_t *digest, const char *event)
{
    pl_audit_entry_t e = {.dir = dir,
                          .peer = peer,
                          .msg_id = id,
                          .kind = pl_kind_name(kind),
                          .digest = digest,
                          .by = "system",
                          .event = event,
                          .result = "applied"};
    return pl_audit_append(txn, self->keys, &e, pl_now(), NULL);
}

// Seals an encoded message to 'cert' and writes it to the outbox.
static int
s_seal_store(pl_node_t *self, pl_txn_t *txn, const pl_cert_t *cert, int kind,
             const uint8_t *msg, size_t msg_len, uint64_t ttl,
             uint8_t id[PL_MSG_ID_BYTES])
{
    pl_seal_args_t a = {
        .sender = self->keys,
        .from = self->me.address,
        .to = cert->address,
        .to_box_pk = cert->keys.box,
        .id = NULL,
        .now = pl_now(),
        .ttl = ttl,
    };
    pl_buf_t packet = {0};
    int rc = pl_envelope_seal(&a, msg, msg_len, id, &packet);
    pl_packet_t *pkt = NULL;
    if (rc == PL_OK)
        rc = pl_wire_decode(packet.data, packet.len, &pkt);
    pl_outrec_t r = {0};
    if (rc == PL_OK) {
        pl_envelope_t view;
        pl_envelope_view(pkt->envelope, &view);
        pl_envelope_digest(&view, r.digest);
        pl_header_t h;
        rc = pl_header_decode(view.header, view.header_len, &h);
        r.created_at = h.created_at;
        r.expires_at = h.expires_at;
    }
    pl_wire_free(&pkt);
    if (rc == PL_OK) {
        r.state = S_OUT_PENDING;
        r.kind = (uint8_t) kind;
        r.updated_at = r.created_at;
        r.attempts = 1;
        snprintf(r.to, sizeof r.to, "%s", cert->address);
        r.packet = packet.data;
        r.packet_len = packet.len;
        rc = s_outrec_put(txn, id, &r);
    }
    // every envelope sent is audited in the same transaction (referrals
    // and status updates by pl_node_case.c, which knows their referral)
    if (rc == PL_OK && (kind == S_KIND_TEST || kind == S_KIND_RECEIPT))
        rc = s_audit_env(self, txn, PL_AUDIT_OUT, cert->address, id, kind,
                         r.digest, "sent");
    if (rc == PL_OK)
        rc = pl_node_send_after(self, packet.data, packet.len);
    if (rc == PL_OK)
        pl_node_resend_add(self, id, S_RESEND_FIRST_MS);
    pl_buf_free(&packet);
    return rc;
}

int
pl_node_outbox_add(pl_node_t *self, pl_txn_t *txn, const char *to, int kind,
                   const uint8_t *msg, size_t msg_len, uint64_t ttl,
                   uint8_t id[PL_MSG_ID_BYTES])
{
    if (self->skewed)
        return PL_ESTATE;
    if (pl_node_store_full(self))
        return PL_EFULL;
    int why = PL_ENOTFOUND;
    const pl_cert_t *cert = pl_node_dir_find(self, to, &why);
    if (!cert)
        return why;
    return s_seal_store(self, txn, cert, kind, msg, msg_len, ttl, id);
}

typedef struct {
    pl_node_t *node;  // owner
    pl_resend_t *old; // the schedule before the rebuild (sorted)
    size_t nold;      // its entries
    size_t queued;    // pending entries found
    uint64_t now;     // when the rebuild started
} s_resync_t;

static int
s_resync_one(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
             void *arg)
{
    s_resync_t *s = arg;
    pl_outrec_t r;
    if (klen != PL_MSG_ID_BYTES || pl_outrec_decode(val, vlen, &r) != PL_OK
        || r.state != S_OUT_PENDING || !r.packet)
        return PL_STORE_NEXT;
    // the outbox is walked in key order and each key once: appending keeps
    // the new schedule sorted; a known id keeps its backoff
    pl_node_t *self = s->node;
    if (self->nrs == self->caprs) {
        size_t cap = self->caprs ? self->caprs * 2 : 256;
        pl_resend_t *p = realloc(self->rs, cap * sizeof *p);
        if (!p)
            return PL_STORE_NEXT; // the next welcome tries again
        self->rs = p;
        self->caprs = cap;
    }
    pl_resend_t *e = &self->rs[self->nrs++];
    self->rs_sorted = self->nrs;
    memset(e, 0, sizeof *e);
    memcpy(e->id, key, PL_MSG_ID_BYTES);
    e->backoff_ms = 0;
    for (size_t lo = 0, hi = s->nold; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->old[mid].id, key, PL_MSG_ID_BYTES);
        if (c == 0) {
            e->backoff_ms = s->old[mid].backoff_ms;
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    e->due_ms = s->now; // sent by pl_node_resend_due, a batch per pass
    s->queued++;
    return PL_STORE_NEXT;
}

void
pl_node_resync(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, false, &t) != PL_OK)
        return;
    // rebuilt from the store, the source of truth
    s_resync_t s = {self, self->rs, self->nrs, 0, pl_mono_ms()};
    if (s.nold) // searched below (qsort wants a non-NULL array)
        qsort(s.old, s.nold, sizeof *s.old, s_rs_cmp);
    self->rs = NULL;
    self->nrs = self->caprs = self->rs_sorted = 0;
    PL_IGNORE(pl_store_each(t, PL_DB_OUTBOX, s_resync_one, &s));
    pl_store_abort(&t);
    free(s.old);
    if (s.queued)
        pl_log_info(self->log, "resync pending=%zu", s.queued);
    if (pl_node_resend_due(self))
        self->rs_next_ms = 0; // more is due: the next pass goes on
    else
        self->rs_next_ms = pl_mono_ms() + 500;
}

bool
pl_node_resend_due(pl_node_t *self)
{
    uint64_t now = pl_mono_ms();
    bool any = false;
    for (size_t i = 0; i < self->nrs && !any; i++)
        any = self->rs[i].due_ms <= now;
    if (!any)
        return false;
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, false, &t) != PL_OK)
        return false;
    bool blocked = false, more = false;
    size_t sent = 0;
    for (size_t i = 0; i < self->nrs; i++) {
        pl_resend_t *e = &self->rs[i];
        if (e->due_ms > now || more)
            continue;
        const uint8_t *v;
        size_t vlen;
        pl_outrec_t r;
        if (pl_store_get(t, PL_DB_OUTBOX, e->id, PL_MSG_ID_BYTES, &v, &vlen)
                != PL_OK
            || pl_outrec_decode(v, vlen, &r) != PL_OK
            || r.state != S_OUT_PENDING || !r.packet) {
            e->dead = true; // settled: forget it
            continue;
        }
        if (sent >= S_RESEND_BATCH) {
            // bounded work per pass: the rest waits for the next pass, after
            // the broker socket has been read again
            more = true;
            continue;
        }
        if (blocked
            || pl_node_send_now(self, r.packet, r.packet_len) != PL_OK) {
            blocked = true; // not connected or the pipe is full
            e->due_ms = now + 1000;
        } else {
            sent++;
            self->n.sent++;
            self->n.resent++;
            char hex[33];
            s_hexid(hex, e->id);
            pl_log_debug(self->log, "resend id=%s backoff_ms=%u", hex,
                         e->backoff_ms);
            uint32_t b = e->backoff_ms ? e->backoff_ms * 2 : S_RESEND_FIRST_MS;
            e->backoff_ms = b > S_RESEND_MAX_MS ? S_RESEND_MAX_MS : b;
            e->due_ms = now + s_jitter(e->backoff_ms);
        }
    }
    s_rs_compact(self);
    pl_store_abort(&t);
    return more;
}

// Changes the state of an outbox entry after a broker answer.
static int
s_out_answer(pl_node_t *self, pl_txn_t *txn, const uint8_t *id, int kind,
             int reason, const char *detail)
{
    const uint8_t *v;
    size_t vlen;
    char hex[33];
    s_hexid(hex, id);
    int rc = pl_store_get(txn, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, &v, &vlen);
    if (rc == PL_ENOTFOUND) {
        pl_log_debug(self->log, "answer_unknown_id id=%s kind=%s", hex,
                     pl_wire_kind_name(kind));
        return PL_OK;
    }
    pl_outrec_t r;
    if (rc == PL_OK)
        rc = pl_outrec_decode(v, vlen, &r);
    if (rc != PL_OK)
        return rc;
    pl_out_event_t ev;
    switch (kind) {
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        ev = PL_OUT_EV_ACCEPTED;
        break;
    case PASSERELLE__V1__PACKET__KIND_EXPIRED:
        ev = PL_OUT_EV_EXPIRED;
        break;
    case PASSERELLE__V1__PACKET__KIND_REJECTED:
        ev = pl_outbox_reason_retry(reason) ? PL_OUT_EV_RETRY
                                            : PL_OUT_EV_REJECTED;
        break;
    default:
        return PL_OK;
    }
    if (ev == PL_OUT_EV_RETRY) {
        // the broker could not take it now: try again later (the entry
        // of this id moves; one summary line per interval)
        s_refused_log(self, reason);
        pl_log_debug(self->log, "outbox_retry_later id=%s reason=%s", hex,
                     pl_wire_reason_name(reason));
        if (r.state == S_OUT_PENDING)
            s_rs_refused(self, id);
        return PL_OK;
    }
    int next = pl_outbox_next(r.state, ev);
    if (next == 0 || next == r.state)
        return PL_OK; // a late or repeated answer
    if (next == S_OUT_EXPIRED)
        pl_log_warn(self->log, "outbox_expired id=%s to=%s", hex, r.to);
    if (next == S_OUT_REJECTED) {
        r.reason = (uint8_t) reason;
        pl_log_warn(self->log,
                    "outbox_rejected id=%s to=%s reason=%s detail=\"%s\"", hex,
                    r.to, pl_wire_reason_name(reason), detail ? detail : "");
    }
    if (r.state == S_OUT_PENDING)
        s_rs_settled(self, id);
    r.state = (uint8_t) next;
    r.updated_at = pl_now();
    // a refused or expired test/referral envelope will never be receipted:
    // its bytes are no longer needed
    if (!pl_outbox_keeps_packet(next)) {
        r.packet = NULL;
        r.packet_len = 0;
    }
    pl_log_debug(self->log, "outbox_state id=%s state=%s", hex,
                 pl_outrec_state_name(next));
    return s_outrec_put(txn, id, &r);
}

// ---- inbound

// Finds the box key pair named by a header's key id: the current one or a
// rotated one kept in DIR/keys/box-old/. 'sk' is sodium-guarded memory of
// the caller when an old key is loaded. Returns false when unknown.
static bool
s_box_key(pl_node_t *self, const uint8_t kid[PL_KEY_ID_BYTES], uint8_t pk[32],
          uint8_t *sk_old, const uint8_t **sk)
{
    uint8_t cur[PL_KEY_ID_BYTES];
    pl_key_id(self->keys->pub.box, cur);
    if (memcmp(cur, kid, PL_KEY_ID_BYTES) == 0) {
        memcpy(pk, self->keys->pub.box, 32);
        *sk = self->keys->sec->box;
        return true;
    }
    char hex[2 * PL_KEY_ID_BYTES + 1], path[PATH_MAX + 64];
    pl_hex(hex, kid, PL_KEY_ID_BYTES);
    snprintf(path, sizeof path, "%s/keys/box-old/%s.public", self->home, hex);
    if (pl_keyfile_read(path, pk, 32, false) != PL_OK)
        return false;
    uint8_t check[PL_KEY_ID_BYTES];
    pl_key_id(pk, check);
    if (memcmp(check, kid, PL_KEY_ID_BYTES) != 0)
        return false;
    snprintf(path, sizeof path, "%s/keys/box-old/%s.secret", self->home, hex);
    if (pl_keyfile_read(path, sk_old, 32, true) != PL_OK)
        return false;
    *sk = sk_old;
    return true;
}

// Parks an envelope from an unknown sender until the directory is fresh.
static void
s_park(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES], const uint8_t *data,
       size_t len)
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

// A receipt for one of our envelopes: verify and settle the outbox entry.
static int
s_on_receipt(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
             const pl_cert_t *cert, const Passerelle__V1__Receipt *rc_msg,
             bool *refused)
{
    const uint8_t *rid = rc_msg->message_id.data;
    char hex[33];
    s_hexid(hex, rid);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_OUTBOX, rid, PL_MSG_ID_BYTES, &v, &vlen);
    pl_outrec_t r;
    if (rc == PL_OK)
        rc = pl_outrec_decode(v, vlen, &r);
    if (rc == PL_ENOTFOUND || rc == PL_EPROTO) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN,
                 "receipt for an unknown message");
        *refused = true;
        return PL_OK;
    }
    if (rc != PL_OK)
        return rc;
    if (strcmp(r.to, h->from) != 0 || r.kind == S_KIND_RECEIPT) {
        pl_log_error(self->log,
                     "attack reason=receipt_from_wrong_node id=%s from=%s "
                     "to=%s",
                     hex, h->from, r.to);
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN,
                 "receipt from a node that was not the recipient");
        *refused = true;
        return PL_OK;
    }
    if (pl_receipt_verify(cert->keys.sign, rid, rc_msg->digest.data,
                          rc_msg->received_at, rc_msg->signature.data)
        != PL_OK) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 "receipt signature does not verify");
        *refused = true;
        return PL_OK;
    }
    if (r.state != S_OUT_RECEIPTED
        && memcmp(rc_msg->digest.data, r.digest, PL_DIGEST_BYTES) != 0) {
        pl_log_error(self->log,
                     "attack reason=receipt_digest_mismatch id=%s from=%s", hex,
                     h->from);
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN,
                 "receipt digest differs from the envelope sent");
        *refused = true;
        return PL_OK;
    }
    if (pl_outbox_next(r.state, PL_OUT_EV_RECEIPT) == r.state)
        return PL_OK; // a second receipt for the same message: nothing new
    if (r.kind != S_KIND_REFERRAL) {
        // a receipt for a test (or status) envelope: audited here; a
        // referral's is audited by pl_node_case.c
        rc = s_audit_env(self, txn, PL_AUDIT_IN, h->from, h->id, S_KIND_RECEIPT,
                         rc_msg->digest.data, "receipted");
        if (rc != PL_OK)
            return rc;
    }
    if (r.kind == S_KIND_REFERRAL) {
        // the referral becomes `received` at the sender (pl_node_case.c)
        int crc = pl_node_case_on_receipt(self, txn, rid, h->from,
                                          rc_msg->received_at);
        if (crc != PL_OK)
            return crc;
    }
    // keep a small record: the evidence, not the envelope
    if (r.state == S_OUT_PENDING)
        s_rs_settled(self, rid);
    r.state = S_OUT_RECEIPTED;
    r.updated_at = pl_now();
    r.receipt_at = rc_msg->received_at;
    memcpy(r.receipt_sig, rc_msg->signature.data, PL_SIG_BYTES);
    r.packet = NULL;
    r.packet_len = 0;
    self->n.receipts_ok++;
    pl_log_debug(self->log, "receipted id=%s by=%s", hex, h->from);
    return s_outrec_put(txn, rid, &r);
}

// Writes a seen record for 'h' (kept until expires_at + 1 day).
static int
s_seen_put(pl_txn_t *txn, const pl_header_t *h,
           const uint8_t digest[PL_DIGEST_BYTES], const uint8_t *receipt_id)
{
    uint8_t rec[S_SEEN_BYTES] = {0};
    rec[0] = S_REC_VERSION;
    s_put64(rec + 8, h->expires_at + S_SEEN_GRACE);
    memcpy(rec + 16, digest, PL_DIGEST_BYTES);
    if (receipt_id)
        memcpy(rec + 48, receipt_id, PL_MSG_ID_BYTES);
    return pl_store_put(txn, PL_DB_SEEN, h->id, PL_MSG_ID_BYTES, rec,
                        sizeof rec);
}

// Stores a new message: inbox record (content re-encrypted under a fresh
// data key; the ciphertext is not kept), receipt to the sender, seen id.
static int
s_store_message(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                const pl_envelope_t *env, const uint8_t digest[PL_DIGEST_BYTES],
                int kind, const pl_buf_t *msg, const pl_cert_t *sender)
{
    uint64_t now = pl_now();
    uint8_t dkid[PL_DATAKEY_ID_BYTES], dk[PL_DATAKEY_BYTES];
    int rc = pl_store_datakey_new(txn, dkid, dk);
    if (rc != PL_OK)
        return rc;
    uint8_t fixed[S_INREC_FIXED] = {0};
    fixed[0] = S_REC_VERSION;
    fixed[1] = (uint8_t) kind;
    uint16_t hlen = (uint16_t) env->header_len;
    memcpy(fixed + 2, &hlen, 2);
    s_put64(fixed + 8, now);
    memcpy(fixed + 16, env->sig, PL_SIG_BYTES);
    memcpy(fixed + 80, digest, PL_DIGEST_BYTES);
    memcpy(fixed + 112, dkid, PL_DATAKEY_ID_BYTES);
    pl_buf_t rec = {0};
    rc = pl_buf_append(&rec, fixed, sizeof fixed);
    if (rc == PL_OK)
        rc = pl_buf_append(&rec, env->header, env->header_len);
    if (rc == PL_OK)
        rc = pl_store_seal(dk, PL_DB_INBOX, h->id, PL_MSG_ID_BYTES, msg->data,
                           msg->len, &rec);
    pl_store_wipe(dk, sizeof dk);
    if (rc == PL_OK)
        rc = pl_store_put(txn, PL_DB_INBOX, h->id, PL_MSG_ID_BYTES, rec.data,
                          rec.len);
    pl_buf_free(&rec); // sealed content only: nothing to wipe

    // the receipt: signed over the id and the digest as received
    uint8_t sig[PL_SIG_BYTES], rid[PL_MSG_ID_BYTES];
    pl_receipt_sign(self->keys, h->id, digest, now, sig);
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__Receipt rcpt = PASSERELLE__V1__RECEIPT__INIT;
    rcpt.message_id.data = (uint8_t *) h->id;
    rcpt.message_id.len = PL_MSG_ID_BYTES;
    rcpt.digest.data = (uint8_t *) digest;
    rcpt.digest.len = PL_DIGEST_BYTES;
    rcpt.received_at = now;
    rcpt.signature.data = sig;
    rcpt.signature.len = PL_SIG_BYTES;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_RECEIPT;
    m.receipt = &rcpt;
    pl_buf_t enc = {0};
    if (rc == PL_OK)
        rc = pl_message_encode(&m, &enc);
    if (rc == PL_OK)
        rc = s_seal_store(self, txn, sender, S_KIND_RECEIPT, enc.data, enc.len,
                          0, rid);
    pl_buf_free(&enc);
    if (rc == PL_OK)
        rc = s_seen_put(txn, h, digest, rid);
    return rc;
}

// A duplicate: the stored receipt goes out again, then taken.
static void
s_duplicate(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
            const uint8_t *seen)
{
    char hex[33];
    s_hexid(hex, h->id);
    self->n.in_duplicates++;
    pl_log_info(self->log, "envelope_duplicate id=%s from=%s", hex, h->from);
    const uint8_t *rid = seen + 48;
    if (!s_zero(rid, PL_MSG_ID_BYTES)) {
        const uint8_t *v;
        size_t vlen;
        pl_outrec_t r;
        if (pl_store_get(txn, PL_DB_OUTBOX, rid, PL_MSG_ID_BYTES, &v, &vlen)
                == PL_OK
            && pl_outrec_decode(v, vlen, &r) == PL_OK && r.packet)
            PL_IGNORE(pl_node_send_after(self, r.packet, r.packet_len));
    }
    s_taken(self, h->id);
}

// ---- the inbound body kinds

// A body kind's effect, in the nested transaction that stores the envelope
// (after its inbox record and receipt are written, when it is receipted).
// PL_OK for every business outcome; an error only when the store fails.
// *refused: the envelope was refused (rejected, no "taken").
typedef int (*s_kind_fn)(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                         const pl_cert_t *cert,
                         const uint8_t digest[PL_DIGEST_BYTES],
                         const pl_message_t *m, bool *refused);

static int
s_in_test(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
          const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES],
          const pl_message_t *m, bool *refused)
{
    (void) cert, (void) m, (void) refused;
    return s_audit_env(self, txn, PL_AUDIT_IN, h->from, h->id, S_KIND_TEST,
                       digest, "received");
}

static int
s_in_referral(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
              const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES],
              const pl_message_t *m, bool *refused)
{
    (void) cert, (void) refused;
    return pl_node_case_on_referral(self, txn, h, digest, m->referral);
}

static int
s_in_status(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
            const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES],
            const pl_message_t *m, bool *refused)
{
    (void) cert, (void) refused;
    return pl_node_case_on_status(self, txn, h, digest, m->status_update);
}

// A receipt is never receipted; it only settles our outbox.
static int
s_in_receipt(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
             const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES],
             const pl_message_t *m, bool *refused)
{
    int rc = s_on_receipt(self, txn, h, cert, m->receipt, refused);
    if (rc == PL_OK && !*refused)
        rc = s_seen_put(txn, h, digest, NULL);
    return rc;
}

// issue 8: withdrawal, erasure, cp-notification (and unknown bodies, which
// are stored and receipted, and do nothing more)
static int
s_in_other(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
           const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES],
           const pl_message_t *m, bool *refused)
{
    (void) cert, (void) refused;
    return pl_node_case_on_other(self, txn, h, digest, m);
}

// The body kinds, named in this one place: the stored kind (S_KIND_*), the
// Message oneof case, the name (outbox listing, logs), whether it is
// receipted (stored in the inbox and receipted before its handler runs) and
// the handler. The last row (kind 0) stands for any other body. Adding a
// kind is one row and one function.
static const struct {
    int kind;         // S_KIND_*
    int body;         // PASSERELLE__V1__MESSAGE__BODY_*
    const char *name; // as listed and logged
    bool receipted;   // stored + receipted, then handled
    s_kind_fn fn;     // its effect
} s_kinds[] = {
    {S_KIND_TEST, PASSERELLE__V1__MESSAGE__BODY_TEST, "test", true, s_in_test},
    {S_KIND_REFERRAL, PASSERELLE__V1__MESSAGE__BODY_REFERRAL, "referral", true,
     s_in_referral},
    {S_KIND_STATUS, PASSERELLE__V1__MESSAGE__BODY_STATUS_UPDATE,
     "status-update", true, s_in_status},
    {S_KIND_RECEIPT, PASSERELLE__V1__MESSAGE__BODY_RECEIPT, "receipt", false,
     s_in_receipt},
    {S_KIND_WITHDRAWAL, PASSERELLE__V1__MESSAGE__BODY_CONSENT_WITHDRAWAL,
     "consent-withdrawal", true, s_in_other},
    {S_KIND_ERASURE, PASSERELLE__V1__MESSAGE__BODY_ERASURE_CONFIRMATION,
     "erasure-confirmation", true, s_in_other},
    {S_KIND_CP, PASSERELLE__V1__MESSAGE__BODY_CP_NOTIFICATION,
     "cp-notification", true, s_in_other},
    {0, 0, "unknown", true, s_in_other},
};
#define S_NKINDS (sizeof s_kinds / sizeof s_kinds[0])

// The row of a decoded message's body (the last row for an unknown one).
static size_t
s_kind_row(const pl_message_t *m)
{
    size_t i = 0;
    while (i + 1 < S_NKINDS && s_kinds[i].body != (int) m->body_case)
        i++;
    return i;
}

const char *
pl_kind_name(int kind)
{
    size_t i = 0;
    while (i + 1 < S_NKINDS && s_kinds[i].kind != kind)
        i++;
    return s_kinds[i].name;
}

// One inbound envelope, in its own nested transaction 'txn'.
static int
s_on_envelope(pl_node_t *self, pl_txn_t *txn, const pl_packet_t *pkt,
              const uint8_t *data, size_t len, bool replayed)
{
    self->n.in_envelopes++;
    pl_envelope_t env;
    pl_envelope_view(pkt->envelope, &env);
    pl_header_t h;
    if (pl_header_decode(env.header, env.header_len, &h) != PL_OK) {
        s_refuse(self, NULL, NULL,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 "header does not decode");
        return PL_OK;
    }
    char hex[33];
    s_hexid(hex, h.id);
    if (strcmp(h.to, self->me.address) != 0) {
        s_refuse(self, h.id, h.from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "addressed to another node");
        return PL_OK;
    }
    uint64_t now = pl_now();
    if (h.expires_at < now) {
        s_refuse(self, h.id, h.from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_EXPIRED,
                 "envelope expired");
        return PL_OK;
    }
    int why = PL_ENOTFOUND;
    const pl_cert_t *cert = pl_node_dir_find(self, h.from, &why);
    if (!cert && why == PL_ENOTFOUND && !replayed) {
        // maybe enrolled since our last refresh: ask, answer nothing yet
        pl_log_info(self->log,
                    "envelope_deferred id=%s from=%s reason=unknown_sender",
                    hex, h.from);
        self->n.in_deferred++;
        s_park(self, h.id, data, len);
        pl_node_ask_directory(self, false);
        return PL_OK;
    }
    if (!cert) {
        s_refuse(self, h.id, h.from,
                 why == PL_EREVOKED
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED
                     : PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED,
                 why == PL_EREVOKED   ? "sender certificate revoked"
                 : why == PL_EEXPIRED ? "sender certificate expired"
                                      : "sender not in the directory");
        return PL_OK;
    }
    if (pl_envelope_verify(&env, cert->keys.sign) != PL_OK) {
        s_refuse(self, h.id, h.from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 "outer signature does not verify");
        return PL_OK;
    }
    uint8_t digest[PL_DIGEST_BYTES];
    pl_envelope_digest(&env, digest);
    const uint8_t *seen;
    size_t seen_len;
    int rc =
        pl_store_get(txn, PL_DB_SEEN, h.id, PL_MSG_ID_BYTES, &seen, &seen_len);
    if (rc == PL_OK && seen_len == S_SEEN_BYTES) {
        if (memcmp(seen + 16, digest, PL_DIGEST_BYTES) == 0) {
            s_duplicate(self, txn, &h, seen);
            return PL_OK;
        }
        pl_log_error(self->log,
                     "attack reason=same_id_other_bytes id=%s from=%s", hex,
                     h.from);
        s_refuse(self, h.id, h.from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT,
                 "same id with other bytes");
        return PL_OK;
    }
    if (rc != PL_OK && rc != PL_ENOTFOUND)
        return rc;
    if (self->skewed) {
        // a receipt would carry a wrong time: wait for a good clock
        pl_log_warn(self->log,
                    "envelope_deferred id=%s from=%s reason=clock_skew", hex,
                    h.from);
        self->n.in_deferred++;
        return PL_OK;
    }
    uint8_t pk[32];
    const uint8_t *sk = NULL;
    // a rotated key (rare) is read into this buffer and wiped at once; the
    // current one stays in its guarded memory
    uint8_t sk_old[32];
    if (!s_box_key(self, h.key_id, pk, sk_old, &sk)) {
        pl_store_wipe(sk_old, sizeof sk_old);
        s_refuse(self, h.id, h.from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "not sealed to a key of this node");
        return PL_OK;
    }
    pl_buf_t msg = {0};
    rc = pl_envelope_open(&env, self->me.address, pk, sk, cert->keys.sign, NULL,
                          &msg);
    pl_store_wipe(sk_old, sizeof sk_old);
    if (rc != PL_OK) {
        pl_buf_wipe(&msg);
        s_refuse(self, h.id, h.from,
                 rc == PL_EINVAL
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT
                 : rc == PL_EPROTO
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED
                     : PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 rc == PL_EINVAL   ? "not sealed for this node"
                 : rc == PL_EPROTO ? "malformed content"
                                   : "decryption or inner signature failed");
        return PL_OK;
    }
    pl_message_t *m = NULL;
    rc = pl_message_decode(msg.data, msg.len, &m);
    if (rc != PL_OK) {
        pl_buf_wipe(&msg);
        s_refuse(self, h.id, h.from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 "malformed message");
        return PL_OK;
    }
    size_t row = s_kind_row(m);
    int kind = s_kinds[row].kind;
    bool refused = false;
    if (!s_kinds[row].receipted) {
        rc = s_kinds[row].fn(self, txn, &h, cert, digest, m, &refused);
    } else if (pl_node_store_full(self)) {
        // not taken: the broker keeps it and redelivers; said once per
        // interval, not once per redelivery
        pl_node_full_log(self, "envelope");
        pl_log_debug(self->log,
                     "envelope_deferred id=%s from=%s reason=store_full", hex,
                     h.from);
        self->n.in_deferred++;
        pl_message_free(&m);
        pl_buf_wipe(&msg);
        return PL_OK;
    } else {
        rc = s_store_message(self, txn, &h, &env, digest, kind, &msg, cert);
        // the kind's effect, in the same nested transaction
        if (rc == PL_OK)
            rc = s_kinds[row].fn(self, txn, &h, cert, digest, m, &refused);
        if (rc == PL_OK) {
            self->n.in_stored++;
            pl_log_debug(self->log, "envelope_stored id=%s from=%s kind=%s",
                         hex, h.from, s_kinds[row].name);
        }
    }
    pl_message_free(&m);
    pl_buf_wipe(&msg);
    if (rc == PL_OK && !refused)
        s_taken(self, h.id);
    return rc;
}

void
pl_node_on_packet(pl_node_t *self, pl_txn_t *pass, const pl_packet_t *pkt,
                  const uint8_t *data, size_t len, bool replayed)
{
    size_t mark;
    pl_txn_t *c = s_child(self, pass, &mark);
    if (!c) {
        pl_log_error(self->log, "packet_deferred reason=nested_txn_failed");
        return;
    }
    int rc = PL_OK;
    switch (pkt->kind_case) {
    case PASSERELLE__V1__PACKET__KIND_ENVELOPE:
        rc = s_on_envelope(self, c, pkt, data, len, replayed);
        break;
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        rc = s_out_answer(self, c, pkt->accepted->message_id.data,
                          pkt->kind_case, 0, NULL);
        break;
    case PASSERELLE__V1__PACKET__KIND_EXPIRED:
        rc = s_out_answer(self, c, pkt->expired->message_id.data,
                          pkt->kind_case, 0, NULL);
        break;
    case PASSERELLE__V1__PACKET__KIND_REJECTED: {
        const Passerelle__V1__Rejected *r = pkt->rejected;
        if (r->has_message_id)
            rc = s_out_answer(self, c, r->message_id.data, pkt->kind_case,
                              r->reason, r->detail);
        else
            pl_log_warn(self->log, "broker_rejected reason=%s detail=\"%s\"",
                        pl_wire_reason_name(r->reason),
                        r->detail ? r->detail : "");
        break;
    }
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE:
        rc = s_on_directory(self, c, pkt->directory_response);
        break;
    default:
        pl_log_warn(self->log, "packet_unexpected kind=%s",
                    pl_wire_kind_name(pkt->kind_case));
        break;
    }
    if (rc == PL_EFULL) // no room: nothing of it is acknowledged
        pl_node_full_log(self, pl_wire_kind_name(pkt->kind_case));
    else if (rc != PL_OK)
        pl_log_error(self->log, "packet_failed kind=%s err=%s",
                     pl_wire_kind_name(pkt->kind_case), pl_strerror(rc));
    (void) s_child_end(self, &c, mark, rc);
}

// ---- pruning

typedef struct {
    uint64_t now;        // current time
    pl_buf_t receipts;   // receipt ids whose seen record expired
    size_t seen, outbox; // deleted counts
} s_prune_t;

static int
s_prune_seen(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
             void *arg)
{
    (void) k;
    (void) kl;
    s_prune_t *p = arg;
    if (vl != S_SEEN_BYTES || s_get64(v + 8) < p->now) {
        if (vl == S_SEEN_BYTES && !s_zero(v + 48, PL_MSG_ID_BYTES)
            && pl_buf_append(&p->receipts, v + 48, PL_MSG_ID_BYTES) != PL_OK)
            return PL_ENOMEM;
        p->seen++;
        return PL_STORE_DELETE;
    }
    return PL_STORE_NEXT;
}

static int
s_prune_outbox(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
               void *arg)
{
    (void) k;
    (void) kl;
    s_prune_t *p = arg;
    pl_outrec_t r;
    if (pl_outrec_decode(v, vl, &r) != PL_OK)
        return PL_STORE_NEXT; // never delete what we cannot read
    if (pl_outbox_final(r.state) && r.updated_at + S_OUTBOX_KEEP < p->now) {
        p->outbox++;
        return PL_STORE_DELETE;
    }
    return PL_STORE_NEXT;
}

void
pl_node_prune(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, true, &t) != PL_OK)
        return;
    s_prune_t p = {.now = pl_now()};
    size_t reqs = 0;
    int rc = pl_store_each(t, PL_DB_SEEN, s_prune_seen, &p);
    // a receipt we sent is kept (to answer duplicates) as long as the
    // seen id of what it receipts
    for (size_t i = 0; rc == PL_OK && i < p.receipts.len;
         i += PL_MSG_ID_BYTES) {
        int d =
            pl_store_del(t, PL_DB_OUTBOX, p.receipts.data + i, PL_MSG_ID_BYTES);
        if (d != PL_OK && d != PL_ENOTFOUND)
            rc = d;
    }
    if (rc == PL_OK)
        rc = pl_store_each(t, PL_DB_OUTBOX, s_prune_outbox, &p);
    if (rc == PL_OK)
        rc = pl_store_request_prune(t, p.now, &reqs);
    pl_buf_free(&p.receipts);
    if (rc == PL_OK)
        rc = pl_store_commit(&t);
    else
        pl_store_abort(&t);
    if (rc != PL_OK)
        pl_log_error(self->log, "prune_failed err=%s", pl_strerror(rc));
    else if (p.seen || p.outbox || reqs)
        pl_log_info(self->log, "pruned seen=%zu outbox=%zu requests=%zu",
                    p.seen, p.outbox, reqs);
}
