// pl_outbox - the node's outbox (DESIGN.md §4): records and their codecs,
// seal + commit of a new envelope (sent after the pass commits), the resend
// schedule (one entry per id, with backoff), the broker's answers
// (accepted, expired, rejected: the lifecycle of pl_outbox_state.h) and the
// pruning of settled records and seen ids. Layer: services.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_node_int.h"
#include "proto/pl_crypto.h"

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
    pl_node_put64(fixed + 8, r->created_at);
    pl_node_put64(fixed + 16, r->updated_at);
    pl_node_put64(fixed + 24, r->expires_at);
    memcpy(fixed + 32, &r->attempts, 4);
    memcpy(fixed + 40, r->digest, PL_DIGEST_BYTES);
    pl_node_put64(fixed + 72, r->receipt_at);
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
    r->created_at = pl_node_get64(v + 8);
    r->updated_at = pl_node_get64(v + 16);
    r->expires_at = pl_node_get64(v + 24);
    memcpy(&r->attempts, v + 32, 4);
    memcpy(r->digest, v + 40, PL_DIGEST_BYTES);
    r->receipt_at = pl_node_get64(v + 72);
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
    r->received_at = pl_node_get64(v + 8);
    memcpy(r->dkid, v + 112, PL_DATAKEY_ID_BYTES);
    r->header = v + S_INREC_FIXED;
    r->header_len = hlen;
    r->sealed = v + S_INREC_FIXED + hlen;
    r->sealed_len = len - S_INREC_FIXED - hlen;
    return PL_OK;
}

// Writes an outbox record (the packet bytes are copied).
int
pl_node_outrec_put(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES],
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
    return backoff_ms - (spread ? pl_random_uniform(spread + 1) : 0);
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
void
pl_node_resend_settled(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES])
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
int
pl_node_audit_env(pl_node_t *self, pl_txn_t *txn, pl_audit_dir_t dir,
                  const char *peer, const uint8_t id[PL_MSG_ID_BYTES], int kind,
                  const uint8_t digest[PL_DIGEST_BYTES], const char *event)
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
int
pl_node_outbox_seal(pl_node_t *self, pl_txn_t *txn, const pl_cert_t *cert,
                    int kind, const uint8_t *msg, size_t msg_len, uint64_t ttl,
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
        rc = pl_node_outrec_put(txn, id, &r);
    }
    // every envelope sent is audited in the same transaction (referrals
    // and status updates by pl_node_case.c, which knows their referral)
    if (rc == PL_OK && (kind == S_KIND_TEST || kind == S_KIND_RECEIPT))
        rc = pl_node_audit_env(self, txn, PL_AUDIT_OUT, cert->address, id, kind,
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
    return pl_node_outbox_seal(self, txn, cert, kind, msg, msg_len, ttl, id);
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
            pl_node_hexid(hex, e->id);
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

// The broker's `expired` for our envelope (reason -1) or the recipient
// node's refusal for good: audited here, except a referral's (its room
// records and audits it: pl_inbound.c calls it after this).
static int
s_undelivered(pl_node_t *self, pl_txn_t *txn, const uint8_t *id,
              const pl_outrec_t *r, int reason)
{
    if (r->kind == S_KIND_REFERRAL)
        return PL_OK;
    return pl_node_audit_env(self, txn, PL_AUDIT_IN, r->to, id, r->kind,
                             r->digest,
                             reason >= 0 ? "refused-by-recipient" : "expired");
}

// The outbox record of 'id' into *r (its packet borrowed from 'txn'):
// PL_OK, PL_ENOTFOUND (logged at debug) or a store error.
static int
s_outrec_get(pl_node_t *self, pl_txn_t *txn, const uint8_t *id,
             const char *what, pl_outrec_t *r)
{
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, &v, &vlen);
    if (rc == PL_ENOTFOUND) {
        char hex[33];
        pl_node_hexid(hex, id);
        pl_log_debug(self->log, "answer_unknown_id id=%s kind=%s", hex, what);
        return rc;
    }
    return rc == PL_OK ? pl_outrec_decode(v, vlen, r) : rc;
}

// Moves entry 'id' (record *r) on event 'ev' (not retry). 'gone': the
// broker says it will never be delivered (expired, or refused by the
// recipient's node with 'reason' when ev is rejected): recorded for a
// referral and audited.
static int
s_outrec_move(pl_node_t *self, pl_txn_t *txn, const uint8_t *id, pl_outrec_t *r,
              pl_out_event_t ev, int reason, const char *detail, bool gone)
{
    int next = pl_outbox_next(r->state, ev);
    if (next == 0 || next == r->state)
        return PL_OK; // a late or repeated answer
    char hex[33];
    pl_node_hexid(hex, id);
    const char *rname = pl_wire_reason_name(reason);
    if (next == S_OUT_EXPIRED)
        pl_log_warn(self->log, "outbox_expired id=%s to=%s", hex, r->to);
    else if (next == S_OUT_REJECTED && gone)
        pl_log_warn(self->log,
                    "outbox_refused_by_recipient id=%s to=%s reason=%s", hex,
                    r->to, rname);
    else if (next == S_OUT_REJECTED)
        pl_log_warn(self->log,
                    "outbox_rejected id=%s to=%s reason=%s detail=\"%s\"", hex,
                    r->to, rname, detail ? detail : "");
    if (next == S_OUT_REJECTED)
        r->reason = (uint8_t) reason;
    if (gone) { // never delivered: a referral shows it; audited
        int rc = s_undelivered(self, txn, id, r,
                               next == S_OUT_REJECTED ? reason : -1);
        if (rc != PL_OK)
            return rc;
    }
    if (r->state == S_OUT_PENDING)
        pl_node_resend_settled(self, id);
    r->state = (uint8_t) next;
    r->updated_at = pl_now();
    // a refused or expired test/referral envelope will never be receipted:
    // its bytes are no longer needed
    if (!pl_outbox_keeps_packet(next)) {
        r->packet = NULL;
        r->packet_len = 0;
    }
    pl_log_debug(self->log, "outbox_state id=%s state=%s", hex,
                 pl_outrec_state_name(next));
    return pl_node_outrec_put(txn, id, r);
}

// Changes the state of an outbox entry after a broker answer.
int
pl_node_outbox_answer(pl_node_t *self, pl_txn_t *txn, const uint8_t *id,
                      int kind, int reason, const char *detail)
{
    pl_outrec_t r;
    int rc = s_outrec_get(self, txn, id, pl_wire_kind_name(kind), &r);
    if (rc != PL_OK)
        return rc == PL_ENOTFOUND ? PL_OK : rc;
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
        char hex[33];
        pl_node_hexid(hex, id);
        s_refused_log(self, reason);
        pl_log_debug(self->log, "outbox_retry_later id=%s reason=%s", hex,
                     pl_wire_reason_name(reason));
        if (r.state == S_OUT_PENDING)
            s_rs_refused(self, id);
        return PL_OK;
    }
    return s_outrec_move(self, txn, id, &r, ev, reason, detail,
                         kind == PASSERELLE__V1__PACKET__KIND_EXPIRED);
}

int
pl_node_outbox_refused(pl_node_t *self, pl_txn_t *txn, const uint8_t *id,
                       int reason)
{
    pl_outrec_t r;
    int rc = s_outrec_get(self, txn, id, "expired", &r);
    if (rc != PL_OK)
        return rc == PL_ENOTFOUND ? PL_OK : rc;
    // final whatever the code: the broker has dropped it
    return s_outrec_move(self, txn, id, &r, PL_OUT_EV_REJECTED, reason, NULL,
                         true);
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
    if (vl != S_SEEN_BYTES || pl_node_get64(v + 8) < p->now) {
        if (vl == S_SEEN_BYTES && !pl_node_zero(v + 48, PL_MSG_ID_BYTES)
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

// ---- room in the store for new work

bool
pl_node_store_full(const pl_node_t *self)
{
    return self->usage_pct >= PL_STORE_FULL_PCT;
}

// No space (a commit failed with ENOSPC, EDQUOT or a full map, or an
// envelope was deferred because the map is near full): nothing of it is
// acknowledged, the node goes on and recovers by itself when space comes
// back. One line per S_LOG_GAP_MS at most, with the count in between.
void
pl_node_full_log(pl_node_t *self, const char *what)
{
    self->full_n++;
    uint64_t now = pl_mono_ms();
    if (self->full_logged_ms && now - self->full_logged_ms < S_LOG_GAP_MS)
        return;
    pl_log_error(self->log,
                 "store_full what=%s count=%llu use_pct=%u: the node's store "
                 "(disk or map) has no room; nothing of it was acknowledged; "
                 "it goes on when space is freed",
                 what, (unsigned long long) self->full_n, self->usage_pct);
    self->full_logged_ms = now;
    self->full_n = 0;
}
