// pl_inbound - the node's inbound dispatch (DESIGN.md §4): every packet
// from the broker in its nested transaction; envelopes are verified,
// opened, deduplicated, stored and receipted, then handed to the handler
// of their body kind (one table). Layer: dispatch.
//
// Inbound order of checks: header, recipient, expiry, sender certificate
// (known, valid, not revoked), outer signature (cheap, before any
// decryption), dedupe by id (same id with other bytes = attack), then open
// (inner signer == outer signer is checked inside pl_envelope_open), then
// the message. The effect (inbox record), the seen id and the receipt
// (outbox) are written in one nested transaction; "taken" and the receipt
// go out only after the pass commits.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_coord.h"
#include "nodes/pl_handover_cmd.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_node_int.h"

// ---- nested transactions

// What a nested transaction changed outside the store, to undo when it
// aborts: its after-commit sends and the outbox ids it settled.
typedef struct {
    size_t after;   // pl_node_after_mark
    size_t settled; // bytes of self->settled
} s_mark_t;

// Begins the nested transaction of one packet; notes the marks.
static pl_txn_t *
s_child(pl_node_t *self, pl_txn_t *pass, s_mark_t *mark)
{
    pl_txn_t *c = NULL;
    mark->after = pl_node_after_mark(self);
    mark->settled = self->settled.len;
    if (pl_store_begin(self->store, pass, true, &c) != PL_OK)
        return NULL;
    return c;
}

// Ends it: commit into the pass, or abort and forget its sends and the
// resends it settled (their outbox entries stay pending).
static int
s_child_end(pl_node_t *self, pl_txn_t **c, const s_mark_t *mark, int rc)
{
    if (rc == PL_OK) {
        rc = pl_store_commit(c);
        if (rc == PL_OK)
            return PL_OK;
    } else {
        pl_store_abort(c);
    }
    pl_node_after_truncate(self, mark->after);
    self->settled.len = mark->settled;
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

#define S_LOG_LINES  20    // envelope_refused (or _deferred) lines a window
#define S_LOG_WINDOW 60000 // ms

// Whether an inbound line of budget 'b' may be written; " left_out_before=N"
// into 'more' when some were not; *last when it is the window's last (the
// caller then writes s_log_quiet after it).
static bool
s_log_budget(pl_log_budget_t *b, char *more, size_t n, bool *last)
{
    uint64_t quiet = 0;
    *more = '\0';
    if (!pl_log_budget(b, pl_mono_ms(), S_LOG_LINES, S_LOG_WINDOW, &quiet,
                       last))
        return false;
    if (quiet)
        snprintf(more, n, " left_out_before=%llu", (unsigned long long) quiet);
    return true;
}

static void
s_log_quiet(pl_node_t *self, const char *event)
{
    pl_log_warn(self->log,
                "%s_quiet lines=%d window_s=%d: the next ones in this window "
                "are counted, not logged",
                event, S_LOG_LINES, S_LOG_WINDOW / 1000);
}

// Refuses an envelope for good: logged (within a budget: a peer's storm of
// bad envelopes must not fill the disk), counted, answered "rejected" so
// the broker drops it. Nothing is stored.
static void
s_refuse(pl_node_t *self, const uint8_t *id, const char *from,
         Passerelle__V1__RejectReason reason, const char *detail)
{
    char hex[2 * PL_MSG_ID_BYTES + 1] = "-", more[48];
    if (id)
        pl_node_hexid(hex, id);
    bool last = false;
    if (s_log_budget(&self->refuse_log, more, sizeof more, &last)) {
        pl_log_warn(self->log,
                    "envelope_refused id=%s from=%s reason=%s detail=\"%s\"%s",
                    hex, from ? from : "-", pl_wire_reason_name(reason), detail,
                    more);
        if (last)
            s_log_quiet(self, "envelope_refused");
    }
    self->n.in_refused++;
    pl_buf_t b = {0};
    if (pl_wire_rejected(id, reason, detail, &b) == PL_OK)
        PL_IGNORE(pl_node_send_after(self, b.data, b.len));
    pl_buf_free(&b);
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
// A receipt for one of our envelopes: verify and settle the outbox entry.
static int
s_on_receipt(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
             const pl_cert_t *cert, const Passerelle__V1__Receipt *rc_msg,
             bool *refused)
{
    const uint8_t *rid = rc_msg->message_id.data;
    char hex[33];
    pl_node_hexid(hex, rid);
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
        rc =
            pl_node_audit_env(self, txn, PL_AUDIT_IN, h->from, h->id,
                              S_KIND_RECEIPT, rc_msg->digest.data, "receipted");
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
        pl_node_resend_settled(self, rid);
    r.state = S_OUT_RECEIPTED;
    r.updated_at = pl_now();
    r.receipt_at = rc_msg->received_at;
    memcpy(r.receipt_sig, rc_msg->signature.data, PL_SIG_BYTES);
    r.packet = NULL;
    r.packet_len = 0;
    self->n.receipts_ok++;
    pl_log_debug(self->log, "receipted id=%s by=%s", hex, h->from);
    return pl_node_outrec_put(txn, rid, &r);
}

// Writes a seen record for 'h' (kept until expires_at + 1 day).
static int
s_seen_put(pl_txn_t *txn, const pl_header_t *h,
           const uint8_t digest[PL_DIGEST_BYTES], const uint8_t *receipt_id)
{
    uint8_t rec[S_SEEN_BYTES] = {0};
    rec[0] = S_REC_VERSION;
    pl_node_put64(rec + 8, h->expires_at + S_SEEN_GRACE);
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
    pl_node_put64(fixed + 8, now);
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
        rc = pl_node_outbox_seal(self, txn, sender, S_KIND_RECEIPT, enc.data,
                                 enc.len, 0, rid);
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
    pl_node_hexid(hex, h->id);
    self->n.in_duplicates++;
    pl_log_info(self->log, "envelope_duplicate id=%s from=%s", hex, h->from);
    const uint8_t *rid = seen + 48;
    if (!pl_node_zero(rid, PL_MSG_ID_BYTES)) {
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
    return pl_node_audit_env(self, txn, PL_AUDIT_IN, h->from, h->id,
                             S_KIND_TEST, digest, "received");
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

// What each body kind does on arrival (its name and Message case are
// pl_msg_kind.c's): whether it is receipted (stored in the inbox and
// receipted before its handler runs) and the handler. The last row (kind
// 0) stands for any other body. Adding a kind is one row here, one in
// pl_msg_kind.c and one function.
static const struct {
    int kind;       // S_KIND_*
    bool receipted; // stored + receipted, then handled
    s_kind_fn fn;   // its effect
} s_kinds[] = {
    {S_KIND_TEST, true, s_in_test},
    {S_KIND_REFERRAL, true, s_in_referral},
    {S_KIND_STATUS, true, s_in_status},
    {S_KIND_RECEIPT, false, s_in_receipt},
    {S_KIND_WITHDRAWAL, true, s_in_other},
    {S_KIND_ERASURE, true, s_in_other},
    {S_KIND_CP, true, s_in_other},
    {S_KIND_HANDOVER, true, pl_node_handover_on_msg}, // pl_handover_cmd.c
    {S_KIND_REPORT, true, pl_node_coord_on_msg},      // pl_coord.c
    {0, true, s_in_other},
};
#define S_NKINDS (sizeof s_kinds / sizeof s_kinds[0])

// The row of a decoded message's body (the last row for an unknown one).
static size_t
s_kind_row(const pl_message_t *m)
{
    int kind = pl_kind_of_body((int) m->body_case);
    size_t i = 0;
    while (i + 1 < S_NKINDS && s_kinds[i].kind != kind)
        i++;
    return i;
}

static int s_on_envelope(pl_node_t *self, pl_txn_t *txn, const pl_packet_t *pkt,
                         const uint8_t *data, size_t len, bool replayed);

// Is 'cert' a foreign network's broker (admitted through an anchor)?
static bool
s_foreign_broker(const pl_node_t *self, const pl_cert_t *cert)
{
    return strcmp(cert->sector, "broker") == 0
           && strcmp(cert->network, self->me.network) != 0;
}

// A transit wrap (issue 13, DESIGN.md §7.1): an envelope from the sender's
// home broker, sealed to us, holding the sender's envelope under the same
// id. Checked: the wrapping broker's signature (its certificate came
// through an anchor our authority signed), the inner envelope is for us,
// has the wrap's id and comes from the wrapping broker's own network;
// then the inner envelope goes through the ordinary path (dedupe, store,
// receipt of the inner id, taken of the same id).
static int
s_on_transit(pl_node_t *self, pl_txn_t *txn, const pl_envelope_t *env,
             const pl_header_t *h, const pl_cert_t *broker, bool replayed)
{
    if (pl_envelope_verify(env, broker->keys.sign) != PL_OK) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 "transit wrap signature does not verify");
        return PL_OK;
    }
    uint8_t pk[32], sk_old[32];
    const uint8_t *sk = NULL;
    if (!s_box_key(self, h->key_id, pk, sk_old, &sk)) {
        pl_store_wipe(sk_old, sizeof sk_old);
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "transit wrap not sealed to a key of this node");
        return PL_OK;
    }
    pl_buf_t msg = {0};
    int rc = pl_envelope_open(env, self->me.address, pk, sk, broker->keys.sign,
                              NULL, &msg);
    pl_store_wipe(sk_old, sizeof sk_old);
    pl_message_t *m = NULL;
    if (rc == PL_OK)
        rc = pl_message_decode(msg.data, msg.len, &m);
    if (rc == PL_OK && m->body_case != PASSERELLE__V1__MESSAGE__BODY_TRANSIT)
        rc = PL_EPROTO;
    pl_packet_t *inner = NULL;
    if (rc == PL_OK)
        rc = pl_wire_decode(m->transit->packet.data, m->transit->packet.len,
                            &inner);
    pl_header_t ih;
    if (rc == PL_OK
        && (inner->kind_case != PASSERELLE__V1__PACKET__KIND_ENVELOPE
            || pl_header_decode(inner->envelope->header.data,
                                inner->envelope->header.len, &ih)
                   != PL_OK))
        rc = PL_EPROTO;
    const char *why = NULL;
    if (rc != PL_OK)
        why = "transit wrap does not open or does not hold an envelope";
    else if (memcmp(ih.id, h->id, PL_MSG_ID_BYTES) != 0)
        why = "transit wrap and inner envelope differ in id";
    else if (strcmp(ih.to, self->me.address) != 0)
        why = "inner envelope addressed to another node";
    else if (strncmp(ih.from, broker->network, strlen(broker->network)) != 0
             || ih.from[strlen(broker->network)] != '/')
        why = "inner sender outside the wrapping broker's network";
    if (why) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED, why);
        rc = PL_OK;
    } else {
        int iwhy = 0;
        const pl_cert_t *ic = pl_node_dir_find(self, ih.from, &iwhy);
        if (ic && strcmp(ic->sector, "broker") == 0) {
            s_refuse(self, h->id, h->from,
                     PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                     "a transit wrap inside a transit wrap");
            rc = PL_OK;
        } else {
            rc = s_on_envelope(self, txn, inner, m->transit->packet.data,
                               m->transit->packet.len, replayed);
        }
    }
    pl_wire_free(&inner);
    pl_message_free(&m);
    pl_buf_wipe(&msg);
    return rc;
}

// One inbound envelope while it goes through the checks.
typedef struct {
    pl_envelope_t env;               // view into the packet
    pl_header_t h;                   // its decoded header
    char hex[33];                    // its id, for the logs
    const pl_cert_t *cert;           // the sender's valid certificate
    uint8_t digest[PL_DIGEST_BYTES]; // what a receipt covers
} s_in_t;

// Header, recipient, expiry, sender (known, valid, not revoked: an unknown
// one is parked until the directory is fresh) and outer signature, before
// any decryption. false when the envelope was refused or deferred.
static bool
s_env_check(pl_node_t *self, const pl_packet_t *pkt, const uint8_t *data,
            size_t len, bool replayed, s_in_t *in)
{
    pl_envelope_view(pkt->envelope, &in->env);
    pl_header_t *h = &in->h;
    if (pl_header_decode(in->env.header, in->env.header_len, h) != PL_OK) {
        s_refuse(self, NULL, NULL,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 "header does not decode");
        return false;
    }
    pl_node_hexid(in->hex, h->id);
    if (strcmp(h->to, self->me.address) != 0) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "addressed to another node");
        return false;
    }
    if (h->expires_at < pl_now()) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_EXPIRED,
                 "envelope expired");
        return false;
    }
    // a new connection's first deliveries may be envelopes queued while
    // we were away, from a sender revoked meanwhile: they wait (parked, not
    // acknowledged) for the welcome and, when it names a newer revocation
    // list than ours (pl_node.c), for the directory response it asked for,
    // so that the sender is checked against the broker's newest list
    // (DESIGN.md §2: refused at the receiving node too); at most
    // S_DIR_GATE_MS, then they are checked against the list we hold
    if (!replayed && self->dir_gate_ms && pl_mono_ms() < self->dir_gate_ms) {
        pl_log_info(self->log,
                    "envelope_deferred id=%s from=%s reason=directory_refresh",
                    in->hex, h->from);
        self->n.in_deferred++;
        pl_node_park_add(self, h->id, data, len);
        return false;
    }
    int why = PL_ENOTFOUND;
    in->cert = pl_node_dir_find(self, h->from, &why);
    // a foreign sender whose network has no certificate at all in our copy:
    // its broker has no foreign directory yet (restarted, link not up), so
    // a newer directory without it proves nothing; a refusal would be final
    // (the broker drops what a recipient refuses)
    bool unverifiable = !in->cert && why == PL_ENOTFOUND
                        && !pl_node_dir_has_network(self, h->from);
    if (!in->cert && why == PL_ENOTFOUND && (!replayed || unverifiable)) {
        // maybe enrolled since our last refresh: ask, answer nothing yet
        pl_log_info(self->log, "envelope_deferred id=%s from=%s reason=%s",
                    in->hex, h->from,
                    unverifiable ? "no_directory_of_its_network"
                                 : "unknown_sender");
        self->n.in_deferred++;
        pl_node_park_add(self, h->id, data, len);
        pl_node_ask_directory(self, false);
        return false;
    }
    if (!in->cert) {
        s_refuse(self, h->id, h->from,
                 why == PL_EREVOKED
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED
                     : PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED,
                 why == PL_EREVOKED   ? "sender certificate revoked"
                 : why == PL_EEXPIRED ? "sender certificate expired"
                                      : "sender not in the directory");
        return false;
    }
    if (pl_envelope_verify(&in->env, in->cert->keys.sign) != PL_OK) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 "outer signature does not verify");
        return false;
    }
    pl_envelope_digest(&in->env, in->digest);
    return true;
}

// Dedupe by id: a duplicate is answered again, the same id with other
// bytes refused (an attack). *done when so; an error when the store fails.
static int
s_env_dedupe(pl_node_t *self, pl_txn_t *txn, const s_in_t *in, bool *done)
{
    const pl_header_t *h = &in->h;
    const uint8_t *seen;
    size_t seen_len;
    int rc =
        pl_store_get(txn, PL_DB_SEEN, h->id, PL_MSG_ID_BYTES, &seen, &seen_len);
    *done = rc == PL_OK && seen_len == S_SEEN_BYTES;
    if (*done) {
        if (memcmp(seen + 16, in->digest, PL_DIGEST_BYTES) == 0) {
            s_duplicate(self, txn, h, seen);
            return PL_OK;
        }
        pl_log_error(self->log,
                     "attack reason=same_id_other_bytes id=%s from=%s", in->hex,
                     h->from);
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT,
                 "same id with other bytes");
        return PL_OK;
    }
    return rc == PL_ENOTFOUND ? PL_OK : rc;
}

// Opens the envelope with the box key it names (inner signer == outer
// signer is checked inside pl_envelope_open) and decodes the message into
// *m ('msg' the plaintext: the caller wipes it). false when refused.
static bool
s_env_open(pl_node_t *self, const s_in_t *in, pl_buf_t *msg, pl_message_t **m)
{
    const pl_header_t *h = &in->h;
    uint8_t pk[32];
    const uint8_t *sk = NULL;
    // a rotated key (rare) is read into this buffer and wiped at once; the
    // current one stays in its guarded memory
    uint8_t sk_old[32];
    if (!s_box_key(self, h->key_id, pk, sk_old, &sk)) {
        pl_store_wipe(sk_old, sizeof sk_old);
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "not sealed to a key of this node");
        return false;
    }
    int rc = pl_envelope_open(&in->env, self->me.address, pk, sk,
                              in->cert->keys.sign, NULL, msg);
    pl_store_wipe(sk_old, sizeof sk_old);
    if (rc != PL_OK) {
        s_refuse(self, h->id, h->from,
                 rc == PL_EINVAL
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT
                 : rc == PL_EPROTO
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED
                     : PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 rc == PL_EINVAL   ? "not sealed for this node"
                 : rc == PL_EPROTO ? "malformed content"
                                   : "decryption or inner signature failed");
        return false;
    }
    if (pl_message_decode(msg->data, msg->len, m) != PL_OK) {
        s_refuse(self, h->id, h->from,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 "malformed message");
        return false;
    }
    return true;
}

// The row of the kinds table: a receipted kind is stored and receipted
// (unless the store is full: deferred, not answered), then its handler
// runs in the same nested transaction; "taken" once all went well.
static int
s_env_dispatch(pl_node_t *self, pl_txn_t *txn, const s_in_t *in,
               const pl_message_t *m, const pl_buf_t *msg)
{
    const pl_header_t *h = &in->h;
    size_t row = s_kind_row(m);
    int kind = s_kinds[row].kind;
    bool refused = false;
    int rc;
    if (!s_kinds[row].receipted) {
        rc = s_kinds[row].fn(self, txn, h, in->cert, in->digest, m, &refused);
    } else if (pl_node_store_full(self)) {
        // not taken: the broker keeps it and redelivers; said once per
        // interval, not once per redelivery
        pl_node_full_log(self, "envelope");
        pl_log_debug(self->log,
                     "envelope_deferred id=%s from=%s reason=store_full",
                     in->hex, h->from);
        self->n.in_deferred++;
        return PL_OK;
    } else {
        rc = s_store_message(self, txn, h, &in->env, in->digest, kind, msg,
                             in->cert);
        // the kind's effect, in the same nested transaction
        if (rc == PL_OK)
            rc = s_kinds[row].fn(self, txn, h, in->cert, in->digest, m,
                                 &refused);
        if (rc == PL_OK) {
            self->n.in_stored++;
            pl_log_debug(self->log, "envelope_stored id=%s from=%s kind=%s",
                         in->hex, h->from, pl_kind_name(kind));
        }
    }
    if (rc == PL_OK && !refused)
        s_taken(self, h->id);
    return rc;
}

// One inbound envelope, in its own nested transaction 'txn'.
static int
s_on_envelope(pl_node_t *self, pl_txn_t *txn, const pl_packet_t *pkt,
              const uint8_t *data, size_t len, bool replayed)
{
    self->n.in_envelopes++;
    s_in_t in;
    if (!s_env_check(self, pkt, data, len, replayed, &in))
        return PL_OK;
    if (s_foreign_broker(self, in.cert)) // issue 13: a transit wrap; the
        // inner envelope (same id) goes through dedupe and the rest
        return s_on_transit(self, txn, &in.env, &in.h, in.cert, replayed);
    bool done = false;
    int rc = s_env_dedupe(self, txn, &in, &done);
    if (rc != PL_OK || done)
        return rc;
    if (self->skewed) {
        // a receipt would carry a wrong time: wait for a good clock
        char more[48];
        bool last = false;
        if (s_log_budget(&self->defer_log, more, sizeof more, &last)) {
            pl_log_warn(self->log,
                        "envelope_deferred id=%s from=%s reason=clock_skew%s",
                        in.hex, in.h.from, more);
            if (last)
                s_log_quiet(self, "envelope_deferred");
        }
        self->n.in_deferred++;
        return PL_OK;
    }
    pl_buf_t msg = {0};
    pl_message_t *m = NULL;
    if (s_env_open(self, &in, &msg, &m))
        rc = s_env_dispatch(self, txn, &in, m, &msg);
    pl_message_free(&m);
    pl_buf_wipe(&msg);
    return rc;
}

// When outbox entry 'id' is a referral whose entry is now in 'state' (it
// will never be delivered), the referral records it (its room).
static int
s_ref_undelivered(pl_node_t *self, pl_txn_t *txn, const uint8_t *id, int state,
                  int reason)
{
    const uint8_t *v;
    size_t vlen;
    pl_outrec_t r;
    if (pl_store_get(txn, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, &v, &vlen) != PL_OK
        || pl_outrec_decode(v, vlen, &r) != PL_OK || r.kind != S_KIND_REFERRAL
        || r.state != state)
        return PL_OK; // not a referral, or settled otherwise (receipted...)
    return pl_node_case_on_undelivered(self, txn, id, r.to, reason);
}

// The broker's `expired`: our envelope will never be delivered (refused
// set: the recipient's node refused it for good). The outbox entry moves;
// a referral whose entry did records the delivery problem (its room).
// Answered "taken" once the pass commits (our hello says acks_notices):
// the broker keeps the notice until then; a repeated one changes nothing
// and is answered again.
static int
s_on_expired(pl_node_t *self, pl_txn_t *txn, const Passerelle__V1__Expired *e)
{
    const uint8_t *id = e->message_id.data;
    int reason = e->has_refused ? (int) e->refused : -1;
    int rc = reason >= 0
                 ? pl_node_outbox_refused(self, txn, id, reason)
                 : pl_node_outbox_answer(self, txn, id,
                                         PASSERELLE__V1__PACKET__KIND_EXPIRED,
                                         0, NULL);
    if (rc == PL_OK)
        rc = s_ref_undelivered(self, txn, id,
                               reason >= 0 ? S_OUT_REJECTED : S_OUT_EXPIRED,
                               reason);
    if (rc == PL_OK)
        s_taken(self, id);
    return rc;
}

// The broker's refusal of our envelope 'id': a referral it refused for
// good (the outbox entry moved to rejected; a retry leaves it pending)
// shows the delivery problem too.
static int
s_refused_id(pl_node_t *self, pl_txn_t *txn, const uint8_t *id, int reason,
             const char *detail)
{
    int rc = pl_node_outbox_answer(
        self, txn, id, PASSERELLE__V1__PACKET__KIND_REJECTED, reason, detail);
    return rc != PL_OK ? rc
                       : s_ref_undelivered(self, txn, id, S_OUT_REJECTED,
                                           reason | PL_CASE_BY_BROKER);
}

// The broker's `rejected`: of our envelope, or of the session (no id).
static int
s_on_rejected(pl_node_t *self, pl_txn_t *txn, const Passerelle__V1__Rejected *r)
{
    if (!r->has_message_id) {
        pl_log_warn(self->log, "broker_rejected reason=%s detail=\"%s\"",
                    pl_wire_reason_name(r->reason), r->detail ? r->detail : "");
        return PL_OK;
    }
    return s_refused_id(self, txn, r->message_id.data, (int) r->reason,
                        r->detail);
}

// ---- this node's own certificate revoked

#define S_SELF_REVOKED "self_revoked" // settings key: the serial audited

// Appends the id of a pending outbox entry to the buffer 'arg'.
static int
s_pending_id(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
             void *arg)
{
    pl_outrec_t r;
    if (kl == PL_MSG_ID_BYTES && pl_outrec_decode(v, vl, &r) == PL_OK
        && r.state == S_OUT_PENDING && pl_buf_append(arg, k, kl) != PL_OK)
        return PL_ENOMEM;
    return PL_STORE_NEXT;
}

// The audit entry of our revocation, once per certificate serial.
static int
s_self_revoked_audit(pl_node_t *self, pl_txn_t *txn)
{
    const size_t klen = sizeof S_SELF_REVOKED - 1;
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_SETTINGS, S_SELF_REVOKED, klen, &v, &vlen);
    if (rc == PL_OK && vlen == 8 && pl_node_get64(v) == self->me.serial)
        return PL_OK; // audited already
    if (rc != PL_OK && rc != PL_ENOTFOUND)
        return rc;
    pl_audit_entry_t e = {.dir = PL_AUDIT_LOCAL,
                          .kind = "certificate",
                          .by = "system",
                          .event = "node-revoked",
                          .result = "applied",
                          .detail = "revoked"};
    rc = pl_audit_append(txn, self->keys, &e, pl_now(), NULL);
    uint8_t mark[8];
    pl_node_put64(mark, self->me.serial);
    return rc == PL_OK ? pl_store_put(txn, PL_DB_SETTINGS, S_SELF_REVOKED, klen,
                                      mark, sizeof mark)
                       : rc;
}

int
pl_node_self_revoked(pl_node_t *self, pl_txn_t *txn)
{
    if (!pl_revlist_contains(&self->revoked, self->me.serial))
        return PL_OK;
    if (!self->revoked_told)
        pl_log_error(self->log,
                     "node_revoked serial=%llu revocation=%llu: this node's "
                     "certificate is revoked; the broker refuses it, its "
                     "waiting envelopes are refused and new referrals too; "
                     "enrol again",
                     (unsigned long long) self->me.serial,
                     (unsigned long long) self->revoked.number);
    self->revoked_told = true;
    int rc = s_self_revoked_audit(self, txn);
    pl_buf_t ids = {0};
    if (rc == PL_OK) // collected first: the walk does not write
        rc = pl_store_each(txn, PL_DB_OUTBOX, s_pending_id, &ids);
    for (size_t i = 0; rc == PL_OK && i < ids.len; i += PL_MSG_ID_BYTES)
        rc = s_refused_id(self, txn, ids.data + i,
                          PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED,
                          "this node's certificate is revoked");
    if (rc == PL_OK && ids.len)
        pl_log_warn(self->log, "node_revoked_refused envelopes=%zu",
                    ids.len / PL_MSG_ID_BYTES);
    pl_buf_free(&ids);
    return rc;
}

int
pl_node_on_packet(pl_node_t *self, pl_txn_t *pass, const pl_packet_t *pkt,
                  const uint8_t *data, size_t len, bool replayed)
{
    s_mark_t mark;
    pl_txn_t *c = s_child(self, pass, &mark);
    if (!c) {
        pl_log_error(self->log, "packet_deferred reason=nested_txn_failed");
        return PL_EIO;
    }
    int rc = PL_OK;
    switch (pkt->kind_case) {
    case PASSERELLE__V1__PACKET__KIND_ENVELOPE:
        rc = s_on_envelope(self, c, pkt, data, len, replayed);
        break;
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        rc = pl_node_outbox_answer(self, c, pkt->accepted->message_id.data,
                                   pkt->kind_case, 0, NULL);
        break;
    case PASSERELLE__V1__PACKET__KIND_EXPIRED:
        rc = s_on_expired(self, c, pkt->expired);
        break;
    case PASSERELLE__V1__PACKET__KIND_REJECTED:
        rc = s_on_rejected(self, c, pkt->rejected);
        break;
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE:
        rc = pl_node_dir_on_packet(self, c, pkt->directory_response, data, len);
        if (rc == PL_OK) // its revocation list may list us
            rc = pl_node_self_revoked(self, c);
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
    return s_child_end(self, &c, &mark, rc);
}
