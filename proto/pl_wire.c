// pl_wire - Packet and Message encode/decode with limits. Layer: proto.
// Owns: the protoc-c generated code (passerelle.pb-c.h).
//
// A decode is four gates, each of which can only refuse:
//   1. size: 0 bytes or more than PL_PACKET_MAX never reach protobuf-c;
//   2. unpack through a byte-budget allocator (s_alloc): every block carries
//      a header with its size, so the budget is exact and free() (which gets
//      no size in protobuf-c 1.4.1) can credit it back and wipe the block;
//   3. protobuf_c_message_check(): required fields present;
//   4. s_check_tree() (generic, every message type: strings are valid UTF-8
//      without NUL and at most S_STR_MAX bytes, enum values are known,
//      unknown fields have valid numbers) and then the per-type rules
//      (s_check_packet, s_check_message).
// Nothing half-built leaves this file: a failure frees everything.
#include "proto/pl_wire.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_STR_MAX       4096      // any string field, bytes
#define S_STR_LIST_MAX  256       // entries of any repeated string field
#define S_DETAIL_MAX    256       // Rejected.detail, bytes
#define S_STATUS_MAX    32        // StatusUpdate.status, bytes (a FHIR code)
#define S_CERTS_MAX     10000     // certificates in one DirectoryResponse
#define S_REMOVED_MAX   65536     // items a directory delta removes
#define S_IDS_MAX       1024      // referral ids in one withdrawal/confirmation
#define S_NODES_MAX     10000     // nodes in one StatusResponse
#define S_CERT_BODY_MAX 16384     // one serialized CertificateBody
#define S_SIG_BYTES     64        // Ed25519 signature (PL_SIG_BYTES)
#define S_DIGEST_BYTES  32        // BLAKE2b-256 (PL_DIGEST_BYTES)
#define S_AEAD_TAG      16        // smallest ciphertext: the Poly1305 tag
#define S_VERSION       1         // protocol version (PL_PROTO_VERSION)
#define S_DEPTH_MAX     8         // nesting; the schema is not recursive
#define S_FIELD_MAX     536870911 // largest protobuf field number, 2^29-1
#define S_HANDOVER_MAX  (512 * 1024) // HandoverPackage.case_data, bytes

// ---------------------------------------------------------------- allocator

// Prefixed to every block handed to protobuf-c. A union with max_align_t so
// the block after it keeps malloc's alignment.
typedef union {
    size_t size;       // bytes asked for by protobuf-c (header excluded)
    max_align_t align; // alignment only
} s_hdr_t;

// State of one decode's allocator; lives on the decoder's stack.
typedef struct {
    size_t used;  // bytes allocated now, headers included
    size_t limit; // PL_DECODE_BUDGET
    bool refused; // an allocation was refused (budget) or failed (malloc)
} s_budget_t;

// protobuf-c alloc hook. Zeroed memory: protobuf-c 1.4.1 leaves some fields
// (unknown_fields on some paths, issue protobuf-c#690) to whatever the
// allocator returns. NULL when the budget would be exceeded.
static void *
s_alloc(void *data, size_t size)
{
    s_budget_t *budget = data;
    if (size > SIZE_MAX - sizeof(s_hdr_t)) {
        if (budget)
            budget->refused = true;
        return NULL;
    }
    size_t total = size + sizeof(s_hdr_t);
    if (budget && total > budget->limit - budget->used) {
        budget->refused = true;
        return NULL;
    }
    s_hdr_t *hdr = calloc(1, total);
    if (!hdr) {
        if (budget)
            budget->refused = true;
        return NULL;
    }
    hdr->size = size;
    if (budget)
        budget->used += total;
    return hdr + 1;
}

// protobuf-c free hook: credits the budget (when there is one: frees after
// the decode returned use an allocator without one) and wipes the block,
// since decoded Messages hold personal data.
static void
s_free(void *data, void *ptr)
{
    if (!ptr)
        return;
    s_budget_t *budget = data;
    s_hdr_t *hdr = (s_hdr_t *) ptr - 1;
    size_t total = hdr->size + sizeof(s_hdr_t);
    if (budget) {
        assert(budget->used >= total);
        budget->used -= total;
    }
    explicit_bzero(hdr, total);
    free(hdr);
}

// Size protobuf-c asked for when it allocated 'ptr' (a decoded block).
static size_t
s_block_size(const void *ptr)
{
    return ((const s_hdr_t *) ptr - 1)->size;
}

// ---------------------------------------------------------------- checks

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
// NUL is refused too: a C string cannot carry it.
static bool
s_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;                     // continuation bytes
        uint8_t lo = 0x80, hi = 0xbf; // range of the first continuation
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c == 0xe0)
            n = 2, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xec)
            n = 2;
        else if (c == 0xed)
            n = 2, hi = 0x9f; // no surrogates
        else if (c >= 0xee && c <= 0xef)
            n = 2;
        else if (c == 0xf0)
            n = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            n = 3;
        else if (c == 0xf4)
            n = 3, hi = 0x8f; // <= U+10FFFF
        else
            return false;
        if (len - i <= n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += n + 1;
    }
    return true;
}

// A string field's value: valid UTF-8 of at most S_STR_MAX bytes. For a
// decoded string, protobuf-c allocated exactly wire length + 1 bytes and
// NUL-terminated it; a shorter strlen() means a NUL inside, which C code
// would silently truncate (a different string from the one signed or
// logged), so it is refused.
static bool
s_string_ok(const char *s, bool decoded)
{
    size_t len = strnlen(s, S_STR_MAX + 1);
    if (len > S_STR_MAX)
        return false;
    if (decoded && s_block_size(s) != len + 1)
        return false;
    return s_utf8_valid((const uint8_t *) s, len);
}

// Bytes with a length in [min, max] (and data behind a non-zero length).
static bool
s_bytes_ok(const ProtobufCBinaryData *b, size_t min, size_t max)
{
    if (b->len > 0 && !b->data)
        return false;
    return b->len >= min && b->len <= max;
}

// An optional string, when present, of 1..max bytes (or 0..max with
// empty_ok). The generic gate has checked its encoding already.
static bool
s_text_ok(const char *s, size_t max, bool empty_ok)
{
    if (!s)
        return true;
    size_t len = strnlen(s, max + 1);
    return len <= max && (empty_ok || len > 0);
}

static bool s_check_tree(const ProtobufCMessage *msg, bool decoded, int depth);

// One value of a field (a repeated field's element, or a singular field).
static bool
s_check_value(const ProtobufCFieldDescriptor *f, const void *value,
              bool decoded, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) value;
        if (!s)
            return f->label != PROTOBUF_C_LABEL_REQUIRED
                   && f->label != PROTOBUF_C_LABEL_REPEATED;
        if (s == f->default_value || s == protobuf_c_empty_string)
            return true; // static text of the schema, not from the wire
        return s_string_ok(s, decoded);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) value;
        if (!sub)
            return f->label != PROTOBUF_C_LABEL_REQUIRED
                   && f->label != PROTOBUF_C_LABEL_REPEATED;
        return s_check_tree(sub, decoded, depth + 1);
    }
    case PROTOBUF_C_TYPE_ENUM: {
        // protobuf-c stores any int32 it reads; code downstream switches on
        // these, so an unknown value is malformed here (no forward
        // compatibility for enums: a new value needs a new version).
        int v = *(const int *) value;
        return protobuf_c_enum_descriptor_get_value(f->descriptor, v) != NULL;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = value;
        return b->len == 0 || b->data != NULL;
    }
    default:
        return true; // integers and bools: any value decodes
    }
}

// Size of one element of a repeated field of type 'type' in memory.
static size_t
s_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

// The generic gate, for every message type, walking the descriptors:
// strings (UTF-8, no NUL, <= S_STR_MAX), repeated strings (<= S_STR_LIST_MAX
// entries), enums (known values), nested messages (same rules), and a set
// oneof case naming a present member. Presence of required fields is
// protobuf_c_message_check()'s job, run before.
static bool
s_check_tree(const ProtobufCMessage *msg, bool decoded, int depth)
{
    if (depth > S_DEPTH_MAX)
        return false;
    // Unknown fields are kept (proto2: a newer peer may add optional
    // fields) but only with a valid field number. protobuf-c 1.4.1 checks
    // for field 0 in the first tag byte only, so a non-minimal tag (82 00)
    // unpacks as field 0, which it re-encodes as a tag it then refuses;
    // a 5-byte tag can also exceed 2^29-1 and wrap when re-encoded.
    if (msg->n_unknown_fields && !msg->unknown_fields)
        return false;
    for (unsigned i = 0; i < msg->n_unknown_fields; i++) {
        uint32_t tag = msg->unknown_fields[i].tag;
        if (tag == 0 || tag > S_FIELD_MAX)
            return false;
    }
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const uint8_t *base = (const uint8_t *) msg;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *member = base + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *) (base + f->quantifier_offset);
            if (which != f->id)
                continue;
            // a set case must point at something
            if ((f->type == PROTOBUF_C_TYPE_MESSAGE
                 || f->type == PROTOBUF_C_TYPE_STRING)
                && !*(void *const *) member)
                return false;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            const uint8_t *arr = *(const uint8_t *const *) member;
            if (n == 0)
                continue;
            if (!arr)
                return false;
            if (f->type == PROTOBUF_C_TYPE_STRING && n > S_STR_LIST_MAX)
                return false;
            size_t sz = s_elem_size(f->type);
            for (size_t k = 0; k < n; k++)
                if (!s_check_value(f, arr + k * sz, decoded, depth))
                    return false;
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL
            && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            && f->type != PROTOBUF_C_TYPE_STRING
            && f->type != PROTOBUF_C_TYPE_MESSAGE) {
            // scalars and bytes carry a has_ flag
            if (!*(const protobuf_c_boolean *) (base + f->quantifier_offset))
                continue;
        }
        if (!s_check_value(f, member, decoded, depth))
            return false;
    }
    return true;
}

// ---------------------------------------------------------------- packets

static bool
s_check_envelope(const Passerelle__V1__Envelope *e)
{
    return s_bytes_ok(&e->header, 1, PL_HEADER_MAX)
           && s_bytes_ok(&e->nonce, PL_NONCE_BYTES, PL_NONCE_BYTES)
           && s_bytes_ok(&e->ciphertext, S_AEAD_TAG, PL_PACKET_MAX)
           && s_bytes_ok(&e->signature, S_SIG_BYTES, S_SIG_BYTES);
}

static bool
s_check_certificate(const Passerelle__V1__Certificate *c)
{
    return s_bytes_ok(&c->body, 1, S_CERT_BODY_MAX)
           && s_bytes_ok(&c->signature, S_SIG_BYTES, S_SIG_BYTES);
}

// A service catalogue (issue 18): its address and a bounded blob.
static bool
s_check_catalogue(const Passerelle__V1__Catalogue *c)
{
    return s_text_ok(c->address, PL_ADDRESS_MAX, false)
           && s_bytes_ok(&c->signed_, 1, PL_CATALOGUE_MAX);
}

static bool
s_check_directory(const Passerelle__V1__DirectoryResponse *r)
{
    if (r->n_certificates > S_CERTS_MAX)
        return false;
    for (size_t i = 0; i < r->n_certificates; i++)
        if (!s_check_certificate(r->certificates[i]))
            return false;
    if (r->revoked
        && !(s_bytes_ok(&r->revoked->body, 1, PL_PACKET_MAX)
             && s_bytes_ok(&r->revoked->signature, S_SIG_BYTES, S_SIG_BYTES)))
        return false;
    // issue 13: anchors and foreign certificates (checked for their
    // signatures by whoever uses them; here only sizes)
    if (r->n_anchors > S_CERTS_MAX || r->n_foreign > S_CERTS_MAX
        || r->n_foreign_revoked > S_CERTS_MAX)
        return false;
    for (size_t i = 0; i < r->n_anchors; i++)
        if (!s_bytes_ok(&r->anchors[i]->body, 1, PL_PACKET_MAX)
            || !s_bytes_ok(&r->anchors[i]->signature, S_SIG_BYTES, S_SIG_BYTES))
            return false;
    for (size_t i = 0; i < r->n_foreign; i++)
        if (!s_check_certificate(r->foreign[i]))
            return false;
    if (r->n_catalogues > S_CERTS_MAX)
        return false;
    for (size_t i = 0; i < r->n_catalogues; i++)
        if (!s_check_catalogue(r->catalogues[i]))
            return false;
    for (size_t i = 0; i < r->n_foreign_revoked; i++)
        if (!s_bytes_ok(&r->foreign_revoked[i]->body, 1, PL_PACKET_MAX)
            || !s_bytes_ok(&r->foreign_revoked[i]->signature, S_SIG_BYTES,
                           S_SIG_BYTES))
            return false;
    // a digest is BLAKE2b-256; pages: 'page' within 'pages', both or none
    if (r->has_digest && !s_bytes_ok(&r->digest, 32, 32))
        return false;
    if (r->has_page != r->has_pages
        || (r->has_pages
            && (r->pages == 0 || r->pages > PL_DIR_PAGES_MAX
                || r->page >= r->pages)))
        return false;
    // a delta: from a digest to another, in one response, names of 16
    // bytes; only a delta names removed items
    if (r->has_delta_from
        && (!s_bytes_ok(&r->delta_from, 32, 32) || !r->has_digest
            || r->has_pages || (r->has_unchanged && r->unchanged)))
        return false;
    if (r->n_removed && (!r->has_delta_from || r->n_removed > S_REMOVED_MAX))
        return false;
    for (size_t i = 0; i < r->n_removed; i++)
        if (!s_bytes_ok(&r->removed[i], 16, 16))
            return false;
    return true;
}

static bool
s_check_status_response(const Passerelle__V1__StatusResponse *r)
{
    if (r->n_nodes > S_NODES_MAX)
        return false;
    for (size_t i = 0; i < r->n_nodes; i++) {
        const Passerelle__V1__NodeStatus *n = r->nodes[i];
        if (!s_text_ok(n->address, PL_ADDRESS_MAX, false))
            return false;
    }
    if (r->n_links > S_NODES_MAX)
        return false;
    for (size_t i = 0; i < r->n_links; i++)
        if (!s_text_ok(r->links[i]->network, PL_NAME_MAX, false))
            return false;
    return s_text_ok(r->address, PL_ADDRESS_MAX, false);
}

// Per-kind rules of a Packet that passed the generic gate: exactly one kind
// (a oneof holds at most one, so "set" is the check), ids and keys of their
// exact sizes, the protocol version, bounded texts and lists.
static bool
s_check_packet(const pl_packet_t *p)
{
    switch (p->kind_case) {
    case PASSERELLE__V1__PACKET__KIND_ENVELOPE:
        return s_check_envelope(p->envelope);
    case PASSERELLE__V1__PACKET__KIND_HELLO:
        return p->hello->version == S_VERSION;
    case PASSERELLE__V1__PACKET__KIND_WELCOME:
        return s_text_ok(p->welcome->address, PL_ADDRESS_MAX, false);
    case PASSERELLE__V1__PACKET__KIND_HEARTBEAT:
        return true;
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        return s_bytes_ok(&p->accepted->message_id, PL_MSG_ID_BYTES,
                          PL_MSG_ID_BYTES);
    case PASSERELLE__V1__PACKET__KIND_TAKEN:
        return s_bytes_ok(&p->taken->message_id, PL_MSG_ID_BYTES,
                          PL_MSG_ID_BYTES);
    case PASSERELLE__V1__PACKET__KIND_REJECTED:
        return (!p->rejected->has_message_id
                || s_bytes_ok(&p->rejected->message_id, PL_MSG_ID_BYTES,
                              PL_MSG_ID_BYTES))
               && s_text_ok(p->rejected->detail, S_DETAIL_MAX, true);
    case PASSERELLE__V1__PACKET__KIND_EXPIRED:
        return s_bytes_ok(&p->expired->message_id, PL_MSG_ID_BYTES,
                          PL_MSG_ID_BYTES)
               && s_text_ok(p->expired->to, PL_ADDRESS_MAX, false);
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST:
        return s_text_ok(p->directory_request->sector, PL_NAME_MAX, true)
               && (!p->directory_request->has_have
                   || s_bytes_ok(&p->directory_request->have, 32, 32));
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE:
        return s_check_directory(p->directory_response);
    case PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST:
        return true;
    case PASSERELLE__V1__PACKET__KIND_STATUS_RESPONSE:
        return s_check_status_response(p->status_response);
    case PASSERELLE__V1__PACKET__KIND_LINK_HELLO:
        return p->link_hello->version == S_VERSION
               && s_text_ok(p->link_hello->network, PL_NAME_MAX, false)
               && s_text_ok(p->link_hello->peer_network, PL_NAME_MAX, false);
    case PASSERELLE__V1__PACKET__KIND_CATALOGUE:
        return s_check_catalogue(p->catalogue);
    default:
        return false; // NOT_SET, or a number this build does not know
    }
}

static bool
s_check_referral(const Passerelle__V1__Referral *r)
{
    if (!s_bytes_ok(&r->referral_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES))
        return false;
    if (r->consent && !s_bytes_ok(&r->consent->consent_id, 1, 64))
        return false;
    return s_text_ok(r->sector, PL_NAME_MAX, false)
           && s_text_ok(r->priority, S_STATUS_MAX, false);
}

// A list of referral ids: each exactly 16 bytes, at most S_IDS_MAX.
static bool
s_ids_ok(const ProtobufCBinaryData *ids, size_t n)
{
    if (n > S_IDS_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_bytes_ok(&ids[i], PL_MSG_ID_BYTES, PL_MSG_ID_BYTES))
            return false;
    return true;
}

// Per-body rules of a Message that passed the generic gate.
static bool
s_check_message(const pl_message_t *m)
{
    switch (m->body_case) {
    case PASSERELLE__V1__MESSAGE__BODY_TEST:
        return true;
    case PASSERELLE__V1__MESSAGE__BODY_REFERRAL:
        return s_check_referral(m->referral);
    case PASSERELLE__V1__MESSAGE__BODY_STATUS_UPDATE: {
        const Passerelle__V1__StatusUpdate *u = m->status_update;
        return s_bytes_ok(&u->referral_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES)
               && s_text_ok(u->status, S_STATUS_MAX, false);
    }
    case PASSERELLE__V1__MESSAGE__BODY_RECEIPT: {
        const Passerelle__V1__Receipt *r = m->receipt;
        return s_bytes_ok(&r->message_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES)
               && s_bytes_ok(&r->digest, S_DIGEST_BYTES, S_DIGEST_BYTES)
               && s_bytes_ok(&r->signature, S_SIG_BYTES, S_SIG_BYTES);
    }
    case PASSERELLE__V1__MESSAGE__BODY_CONSENT_WITHDRAWAL: {
        const Passerelle__V1__ConsentWithdrawal *w = m->consent_withdrawal;
        return s_bytes_ok(&w->withdrawal_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES)
               && s_ids_ok(w->referral_ids, w->n_referral_ids);
    }
    case PASSERELLE__V1__MESSAGE__BODY_ERASURE_CONFIRMATION: {
        const Passerelle__V1__ErasureConfirmation *e = m->erasure_confirmation;
        return s_bytes_ok(&e->withdrawal_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES)
               && s_ids_ok(e->referral_ids, e->n_referral_ids);
    }
    case PASSERELLE__V1__MESSAGE__BODY_CP_NOTIFICATION: {
        const Passerelle__V1__CpNotification *n = m->cp_notification;
        return s_bytes_ok(&n->referral_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES)
               && (strcmp(n->kind, "unaccompanied") == 0
                   || strcmp(n->kind, "separated") == 0
                   || strcmp(n->kind, "handover") == 0) // issue 13
               && s_text_ok(n->region, PL_NAME_MAX, false);
    }
    case PASSERELLE__V1__MESSAGE__BODY_HANDOVER: { // issue 13
        const Passerelle__V1__Handover *h = m->handover;
        if (!s_bytes_ok(&h->handover_id, PL_MSG_ID_BYTES, PL_MSG_ID_BYTES))
            return false;
        switch (h->what_case) {
        case PASSERELLE__V1__HANDOVER__WHAT_PACKAGE:
            return s_bytes_ok(&h->package->case_data, 2, S_HANDOVER_MAX);
        case PASSERELLE__V1__HANDOVER__WHAT_UPDATE:
            return s_text_ok(h->update->status, S_STATUS_MAX, false);
        case PASSERELLE__V1__HANDOVER__WHAT_CP_ACK:
            return true;
        default:
            return false;
        }
    }
    case PASSERELLE__V1__MESSAGE__BODY_TRANSIT:
        return s_bytes_ok(&m->transit->packet, 1, PL_PACKET_MAX);
    case PASSERELLE__V1__MESSAGE__BODY_AGGREGATE_REPORT: // issue 15
        return m->aggregate_report->version == 1
               && s_bytes_ok(&m->aggregate_report->report, 2,
                             PL_REPORT_MAX_BYTES);
    default:
        return false; // NOT_SET, or a reserved number
    }
}

// ---------------------------------------------------------------- decode

int
pl_wire_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
               size_t len, ProtobufCMessage **out)
{
    assert(desc && out);
    *out = NULL;
    if (len > PL_PACKET_MAX)
        return PL_ETOOBIG;
    static const uint8_t empty[1];
    if (!data) {
        if (len)
            return PL_EINVAL;
        data = empty; // protobuf-c wants a pointer even for 0 bytes
    }
    s_budget_t budget = {.used = 0, .limit = PL_DECODE_BUDGET};
    ProtobufCAllocator a = {
        .alloc = s_alloc, .free = s_free, .allocator_data = &budget};
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, &a, len, data);
    if (!msg)
        return budget.refused ? PL_ENOMEM : PL_EPROTO;
    if (!protobuf_c_message_check(msg) || !s_check_tree(msg, true, 0)) {
        protobuf_c_message_free_unpacked(msg, &a);
        return PL_EPROTO;
    }
    *out = msg;
    return PL_OK;
}

void
pl_wire_unpacked_free(ProtobufCMessage *msg)
{
    // the decode's budget is gone with its stack frame: free without one
    ProtobufCAllocator a = {
        .alloc = s_alloc, .free = s_free, .allocator_data = NULL};
    if (msg)
        protobuf_c_message_free_unpacked(msg, &a);
}

int
pl_wire_decode(const uint8_t *data, size_t len, pl_packet_t **out)
{
    assert(out);
    *out = NULL;
    if (len > PL_PACKET_MAX)
        return PL_ETOOBIG;
    if (len == 0)
        return PL_EPROTO; // a Packet always holds one kind
    ProtobufCMessage *msg = NULL;
    int rc =
        pl_wire_unpack(&passerelle__v1__packet__descriptor, data, len, &msg);
    if (rc != PL_OK)
        return rc;
    pl_packet_t *pkt = (pl_packet_t *) msg;
    if (!s_check_packet(pkt)) {
        pl_wire_unpacked_free(msg);
        return PL_EPROTO;
    }
    *out = pkt;
    return PL_OK;
}

void
pl_wire_free(pl_packet_t **pkt_p)
{
    if (!pkt_p || !*pkt_p)
        return;
    pl_wire_unpacked_free(&(*pkt_p)->base);
    *pkt_p = NULL;
}

int
pl_message_decode(const uint8_t *data, size_t len, pl_message_t **out)
{
    assert(out);
    *out = NULL;
    if (len > PL_PACKET_MAX)
        return PL_ETOOBIG;
    if (len == 0)
        return PL_EPROTO; // a Message always holds one body
    ProtobufCMessage *msg = NULL;
    int rc =
        pl_wire_unpack(&passerelle__v1__message__descriptor, data, len, &msg);
    if (rc != PL_OK)
        return rc;
    pl_message_t *m = (pl_message_t *) msg;
    if (!s_check_message(m)) {
        pl_wire_unpacked_free(msg);
        return PL_EPROTO;
    }
    *out = m;
    return PL_OK;
}

void
pl_message_free(pl_message_t **msg_p)
{
    if (!msg_p || !*msg_p)
        return;
    pl_wire_unpacked_free(&(*msg_p)->base);
    *msg_p = NULL;
}

// ---------------------------------------------------------------- encode

// Packs 'msg' after the bytes already in 'out'. The caller has validated.
static int
s_pack(const ProtobufCMessage *msg, pl_buf_t *out)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    if (size > PL_PACKET_MAX)
        return PL_ETOOBIG;
    // + 1: pl_buf_t keeps its bytes NUL terminated
    if (pl_buf_reserve(out, out->len + size + 1) != PL_OK)
        return PL_ENOMEM;
    size_t n = protobuf_c_message_pack(msg, out->data + out->len);
    assert(n == size);
    out->len += n;
    out->data[out->len] = 0;
    return PL_OK;
}

int
pl_wire_encode(const pl_packet_t *pkt, pl_buf_t *out)
{
    assert(pkt && out);
    assert(pkt->base.descriptor == &passerelle__v1__packet__descriptor);
    // the same rules as decode, so we never send what a peer must refuse
    if (!protobuf_c_message_check(&pkt->base)
        || !s_check_tree(&pkt->base, false, 0) || !s_check_packet(pkt))
        return PL_EINVAL;
    return s_pack(&pkt->base, out);
}

int
pl_message_encode(const pl_message_t *msg, pl_buf_t *out)
{
    assert(msg && out);
    assert(msg->base.descriptor == &passerelle__v1__message__descriptor);
    if (!protobuf_c_message_check(&msg->base)
        || !s_check_tree(&msg->base, false, 0) || !s_check_message(msg))
        return PL_EINVAL;
    return s_pack(&msg->base, out);
}

// ---------------------------------------------------------------- helpers

int
pl_wire_id_packet(Passerelle__V1__Packet__KindCase kind,
                  const uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *out)
{
    assert(id && out);
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__Accepted acc = PASSERELLE__V1__ACCEPTED__INIT;
    Passerelle__V1__Taken taken = PASSERELLE__V1__TAKEN__INIT;
    ProtobufCBinaryData bid = {PL_MSG_ID_BYTES, (uint8_t *) id};
    switch (kind) {
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        acc.message_id = bid;
        pkt.kind_case = kind;
        pkt.accepted = &acc;
        break;
    case PASSERELLE__V1__PACKET__KIND_TAKEN:
        taken.message_id = bid;
        pkt.kind_case = kind;
        pkt.taken = &taken;
        break;
    default:
        assert(!"pl_wire_id_packet: kind must be ACCEPTED or TAKEN");
        return PL_EINVAL;
    }
    return pl_wire_encode(&pkt, out);
}

int
pl_wire_rejected(const uint8_t *id, Passerelle__V1__RejectReason reason,
                 const char *detail, pl_buf_t *out)
{
    assert(out);
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__Rejected rej = PASSERELLE__V1__REJECTED__INIT;
    char text[S_DETAIL_MAX + 1];
    if (id) {
        rej.has_message_id = 1;
        rej.message_id.len = PL_MSG_ID_BYTES;
        rej.message_id.data = (uint8_t *) id;
    }
    rej.reason = reason;
    if (detail) {
        // a detail is a hint for logs: cut it to the limit rather than lose
        // the whole reply, on a character boundary so it stays UTF-8
        size_t n = strnlen(detail, S_DETAIL_MAX + 1);
        if (n > S_DETAIL_MAX) {
            n = S_DETAIL_MAX;
            while (n > 0 && ((uint8_t) detail[n] & 0xc0) == 0x80)
                n--;
        }
        memcpy(text, detail, n);
        text[n] = 0;
        rej.detail = text;
    }
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_REJECTED;
    pkt.rejected = &rej;
    return pl_wire_encode(&pkt, out);
}

const char *
pl_wire_kind_name(Passerelle__V1__Packet__KindCase kind)
{
    switch (kind) {
    case PASSERELLE__V1__PACKET__KIND__NOT_SET:
        return "none";
    case PASSERELLE__V1__PACKET__KIND_ENVELOPE:
        return "envelope";
    case PASSERELLE__V1__PACKET__KIND_HELLO:
        return "hello";
    case PASSERELLE__V1__PACKET__KIND_WELCOME:
        return "welcome";
    case PASSERELLE__V1__PACKET__KIND_HEARTBEAT:
        return "heartbeat";
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        return "accepted";
    case PASSERELLE__V1__PACKET__KIND_TAKEN:
        return "taken";
    case PASSERELLE__V1__PACKET__KIND_REJECTED:
        return "rejected";
    case PASSERELLE__V1__PACKET__KIND_EXPIRED:
        return "expired";
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST:
        return "directory_request";
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE:
        return "directory_response";
    case PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST:
        return "status_request";
    case PASSERELLE__V1__PACKET__KIND_STATUS_RESPONSE:
        return "status_response";
    case PASSERELLE__V1__PACKET__KIND_LINK_HELLO:
        return "link_hello";
    case PASSERELLE__V1__PACKET__KIND_CATALOGUE:
        return "catalogue";
    default:
        return "unknown";
    }
}

const char *
pl_wire_reason_name(Passerelle__V1__RejectReason reason)
{
    switch (reason) {
    case PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN:
        return "unknown";
    case PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED:
        return "malformed";
    case PASSERELLE__V1__REJECT_REASON__REJECT_TOO_LARGE:
        return "too_large";
    case PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED:
        return "not_enrolled";
    case PASSERELLE__V1__REJECT_REASON__REJECT_SPOOFED:
        return "spoofed";
    case PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT:
        return "unknown_recipient";
    case PASSERELLE__V1__REJECT_REASON__REJECT_EXPIRED:
        return "expired";
    case PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT:
        return "duplicate_conflict";
    case PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL:
        return "store_full";
    case PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT:
        return "not_recipient";
    case PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE:
        return "bad_signature";
    case PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED:
        return "revoked";
    case PASSERELLE__V1__REJECT_REASON__REJECT_FOREIGN_UNAVAILABLE:
        return "foreign_unavailable";
    case PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR:
        return "store_error";
    default:
        return "other";
    }
}

bool
pl_wire_reason_temporary(int reason)
{
    return reason == PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL
           || reason >= PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR
           || reason < 0;
}

int
pl_wire_expired(const uint8_t *id, const char *to, int refused, pl_buf_t *out)
{
    Passerelle__V1__Expired e = PASSERELLE__V1__EXPIRED__INIT;
    e.message_id.data = (uint8_t *) id;
    e.message_id.len = PL_MSG_ID_BYTES;
    e.to = (char *) to;
    e.has_refused = refused >= 0;
    e.refused = (Passerelle__V1__RejectReason) (refused >= 0 ? refused : 0);
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_EXPIRED;
    p.expired = &e;
    return pl_wire_encode(&p, out);
}
