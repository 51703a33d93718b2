// pl_case_int - what the case rooms (pl_case.c, pl_case_consent.c,
// pl_refer.c, pl_case_test.c) share, defined in pl_case_util.c unless
// noted. Layer: nodes, handlers. Internal: included by those files and
// pl_node_case.c only. Store layout and sealing: see pl_node_case.h.
#ifndef PL_CASE_INT_H
#define PL_CASE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_consent.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_records.h"
#include "nodes/pl_referral.h"
#include "nodes/pl_sealed.h"
#include "nodes/pl_sector_data.h"

#define PL_CASE_ID     16            // case, consent, referral ids
#define PL_CASE_VER    PL_SEALED_VER // record version
#define PL_CASE_HDR    PL_SEALED_HDR
#define PL_CASE_TEXT   2000 // longest free text accepted (notes, reasons, views)
#define PL_CASE_SYSTEM "system"

// ---- types (pl_case_util)

// Every consent record of a case, decoded, with its JSON.
typedef struct {
    pl_txn_t *txn;
    const uint8_t *case_id;
    const uint8_t *dk;  // case key
    pl_consent_t *recs; // grown array
    json_t *docs;       // JSON array, same order
    size_t n, cap;
    int err;
} pl_case_consents_t;

// Walk over every referral record (decrypted), calling 'fn'.
typedef struct pl_case_rwalk pl_case_rwalk_t;

struct pl_case_rwalk {
    pl_txn_t *txn;
    uint64_t now;
    int (*fn)(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
              const pl_ref_rec_t *r);
    // filters and outputs of the callers
    const char *status, *direction, *case_hex;
    bool overdue;
    json_t *out;
    size_t open;
    void *user; // issue 8 walks: their own accumulator
};

// ---- types (pl_case_consent)

// ---- the referrals of one case (sender side)

typedef struct {
    uint8_t id[PL_CASE_ID];        // referral id
    char peer[PL_ADDRESS_MAX + 1]; // recipient
    uint8_t msg[PL_MSG_ID_BYTES];  // the referral envelope's id
    bool has_msg;                  // msg is set
    bool open;                     // not terminal
    bool consent;                  // legal basis: consent (no override)
    char priority[16];             // emergency | urgent | normal
    uint64_t since;                // overdue walk: the deadline
} pl_case_cref_t;

typedef struct {
    pl_case_cref_t *v; // grown array
    size_t n, cap;     // used, allocated
} pl_case_crefs_t;

// ---- pl_case_util.c

const char *pl_case_str(const json_t *o, const char *key);

// A non-empty string argument, or NULL.
const char *pl_case_arg(const json_t *args, const char *key);

uint64_t pl_case_u64(const json_t *o, const char *key);

const char *pl_case_by(const char *as);

// Splits "a,b,c" (or takes a JSON array) into a JSON array of strings.
json_t *pl_case_list_arg(const json_t *v);

char *pl_case_dump(const json_t *o);

void pl_case_wipe_free(char *text);

// A case: *doc, its header (data key id at hdr+1) and its key.
int pl_case_get(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                uint8_t hdr[PL_CASE_HDR], uint8_t dk[PL_DATAKEY_BYTES],
                json_t **doc);

void pl_case_rkey(uint8_t out[1 + PL_CASE_ID], char tag,
                  const uint8_t id[PL_CASE_ID]);

int pl_case_ref_get(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                    uint8_t hdr[PL_CASE_HDR], uint8_t dk[PL_DATAKEY_BYTES],
                    json_t **doc);

int pl_case_ref_put(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                    const uint8_t hdr[PL_CASE_HDR],
                    const uint8_t dk[PL_DATAKEY_BYTES], const json_t *doc);

// Resolves 'text' to an id of 'db'. On failure returns an error reply.
char *pl_case_resolve(pl_txn_t *txn, pl_db_t db, char tag, const char *what,
                      const char *text, uint8_t id[PL_CASE_ID], int *rc);

int pl_case_audit(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_audit_dir_t dir,
                  const char *peer, const uint8_t *msg, const uint8_t *digest,
                  const char *kind, const char *by, const uint8_t *ref,
                  const char *event, const char *result, const char *detail);

// The referral whose envelope is 'msg_id' (the 'm' index of the referrals
// database) into rid: PL_OK, PL_ENOTFOUND (not a referral of ours) or a
// store error.
int pl_case_ref_of_msg(pl_txn_t *txn, const uint8_t msg_id[PL_MSG_ID_BYTES],
                       uint8_t rid[PL_CASE_ID]);

// pl_case_undelivered.c: our envelope 'msg_id' to 'to' will never be
// delivered (reason -1: it expired; else the recipient node's refusal
// code, or the broker's when PL_CASE_BY_BROKER of pl_node_case.h is or'ed
// in): when it is a referral, the referral records the delivery problem, a
// history line and an audit entry. PL_OK when it is not a referral.
PL_MUST_CHECK int pl_case_on_undelivered(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                         const uint8_t msg_id[PL_MSG_ID_BYTES],
                                         const char *to, int reason);

// Digest of an envelope we committed to the outbox.
int pl_case_out_digest(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES],
                       uint8_t digest[PL_DIGEST_BYTES]);

// The reply for a failed pl_node_outbox_add.
char *pl_case_outbox_error(pl_node_ctx_t *ctx, int rc, const char *to);

int pl_case_consents_load(pl_txn_t *txn, const uint8_t case_id[PL_CASE_ID],
                          const uint8_t dk[PL_DATAKEY_BYTES],
                          pl_case_consents_t *c);

void pl_case_consents_free(pl_case_consents_t *c);

// Loads a case by id text; on failure returns the reply.
char *pl_case_load(pl_txn_t *txn, const char *text, uint8_t id[PL_CASE_ID],
                   uint8_t hdr[PL_CASE_HDR], uint8_t dk[PL_DATAKEY_BYTES],
                   json_t **doc, int *rc);

// The track stored in a referral document.
int pl_case_track_get(const pl_ref_rec_t *r, pl_referral_track_t *t);

// Writes track 't' into 'r' (track and status). PL_ENOMEM.
PL_MUST_CHECK int pl_case_track_set(pl_ref_rec_t *r,
                                    const pl_referral_track_t *t);

// Appends {status, at, by, ...} to the document's history.
// (and sets 'updated' to 'at'). PL_ENOMEM.
PL_MUST_CHECK int pl_case_history(pl_ref_rec_t *r, const char *status,
                                  uint64_t at, const char *by,
                                  const char *reason, const char *note,
                                  const char *outcome, const char *result);

bool pl_case_overdue(const pl_ref_rec_t *r, uint64_t now, uint64_t *since);

// The summary object of DESIGN.md §9 (id, status, overdue, direction,
// peer, priority, created, updated) plus service and sector.
json_t *pl_case_summary(const uint8_t id[PL_CASE_ID], const pl_ref_rec_t *r,
                        uint64_t now);

int pl_case_rwalk_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                      void *arg);

int pl_case_list_one(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
                     const pl_ref_rec_t *r);

// Opens a case by id text into 'c' (the caller releases it); on failure
// 'c' is left released and the reply is returned.
char *pl_case_open(pl_txn_t *txn, const char *text, uint8_t id[PL_CASE_ID],
                   pl_sealed_t *c, int *rc);

// A case: its sealed record (header, key, document) and the document
// typed (pl_records.h). PL_CASE_INIT; released by pl_case_rec_release.
typedef struct {
    pl_sealed_t s;
    pl_case_rec_t rec;
} pl_case_t;

#define PL_CASE_INIT                                                           \
    {                                                                          \
        PL_SEALED_INIT,                                                        \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }

// Opens case 'text' (an id or a unique prefix) into 'c', decoded; on
// failure 'c' is left released and the reply is returned (*rc its code).
char *pl_case_rec_open(pl_txn_t *txn, const char *text, uint8_t id[PL_CASE_ID],
                       pl_case_t *c, int *rc);
// Opens case 'id' into 'c', decoded (as pl_sealed_open: on failure 'c'
// is left released; PL_EPROTO also when the document is not an object).
PL_MUST_CHECK int pl_case_rec_load(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                                   pl_case_t *c);
// Encodes c->rec into c->s.doc and saves it under case 'id'.
PL_MUST_CHECK int pl_case_rec_save(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                                   pl_case_t *c);
// Wipes the key, frees the document and the record. NULL-safe, idempotent.
void pl_case_rec_release(pl_case_t *c);

// A referral: its sealed record and the document typed (pl_records.h).
typedef struct {
    pl_sealed_t s;
    pl_ref_rec_t rec;
} pl_ref_t;

#define PL_REF_INIT                                                            \
    {                                                                          \
        PL_SEALED_INIT,                                                        \
        {                                                                      \
            0                                                                  \
        }                                                                      \
    }

// Opens referral record 'id' into 'r', decoded (on failure 'r' is left
// released); writes r->rec back; releases (wipes the key). NULL-safe.
PL_MUST_CHECK int
pl_case_refrec_open(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_ref_t *r);
PL_MUST_CHECK int
pl_case_refrec_save(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_ref_t *r);
void pl_case_refrec_release(pl_ref_t *r);

// Referral record 'id' ('r' || id) into 's' (as pl_sealed_open) / from
// 's'.
PL_MUST_CHECK int pl_case_ref_open(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                                   pl_sealed_t *s);
PL_MUST_CHECK int pl_case_ref_save(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                                   const pl_sealed_t *s);

// ---- pl_case.c

char *pl_case_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                  const char *as, int *rc_out);

char *pl_case_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                   const char *as, int *rc_out);

char *pl_case_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                   const char *as, int *rc_out);

char *pl_case_close(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                    const char *as, int *rc_out);

// case.bia: records a best-interests assessment (reference and date) in
// the case, sealed under the case key like the rest of it.
char *pl_case_bia(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                  const char *as, int *rc_out);

char *pl_case_erase(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                    const char *as, int *rc_out);

// ---- pl_case_consent.c

char *pl_case_consent_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                          const char *as, int *rc_out);

// consent.withdraw: records the withdrawal of every consent of the case;
// when one was still in force, cancels the open referrals made under
// consent and sends a consent-withdrawal to every node that received the
// case's data (each erases it and confirms; `case show` lists them).
char *pl_case_consent_withdraw(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                               const char *as, int *rc_out);

// The child-protection node of this node's region (certificate region),
// other than this node, valid in the directory: its address into 'out'.
// PL_ENOTFOUND when there is none (or this node's region is empty).
int pl_case_cp_find(pl_node_ctx_t *ctx, char out[PL_ADDRESS_MAX + 1]);

// Seals a cp-notification about referral 'rid' to 'cp' and audits it.
// It carries the minimum (kind, region, referral id, time; the sender is
// the envelope's sender): no name, birth date or pseudonym.
int pl_case_cp_notify(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *cp,
                      const uint8_t rid[PL_CASE_ID], const char *kind,
                      uint64_t at, const char *as,
                      uint8_t msgid[PL_MSG_ID_BYTES]);

int pl_case_crefs_push(pl_case_crefs_t *c, const uint8_t id[PL_CASE_ID],
                       const pl_ref_rec_t *r);

int pl_case_refs(pl_txn_t *txn, const uint8_t case_id[PL_CASE_ID],
                 pl_case_crefs_t *out);

// Destroys the data keys of every inbox copy (referral or status update)
// about one of the referrals 'ids'; 'n' (may be NULL) gets how many.
int pl_case_shred_inbox_refs(pl_txn_t *txn, const uint8_t *ids, size_t nids,
                             size_t *n);

char *pl_case_notifications(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                            const char *as, int *rc_out);

// ---- pl_refer.c

char *pl_case_referrals(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                        const char *as, int *rc_out);

char *pl_case_referral_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                            const char *as, int *rc_out);

char *pl_case_refer(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                    const char *as, int *rc_out);

// Seals a StatusUpdate to 'peer'; 'msgid' gets its id.
int pl_case_send_status(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *peer,
                        const uint8_t rid[PL_CASE_ID],
                        const pl_referral_update_t *u, const char *reason,
                        const char *note, const char *by, uint64_t at,
                        uint8_t msgid[PL_MSG_ID_BYTES]);

char *pl_case_act(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                  const char *as, int *rc_out);

// Destroys the data key of our inbox copy of envelope 'id' (used when a
// referral is refused: none of its personal data is kept).
int pl_case_shred_inbox(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES]);

// ---- pl_case_test.c

#ifdef PL_TEST_BUILD
char *pl_case_test_probe(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                         const char *as, int *rc_out);
#endif

#endif
