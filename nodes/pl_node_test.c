// pl_node_test - the daemon's test-only commands: test.send (seal a test
// message to a node, 'count' times) and test.list (the test messages in the
// inbox). Layer: handlers. Compiled in only with PL_TEST_BUILD: a release
// daemon answers "unknown command" to them.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_int.h"

#ifdef PL_TEST_BUILD

// test.send: seals Message{test{payload}} 'count' times to 'to'.
static char *
s_test_send(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) as;
    const char *to = json_string_value(json_object_get(args, "to"));
    json_t *jp = json_object_get(args, "payload");
    json_t *jc = json_object_get(args, "count");
    json_t *jt = json_object_get(args, "ttl");
    *rc_out = PL_EINVAL;
    if (!to || !json_is_string(jp))
        return pl_node_ctl_error(PL_EINVAL,
                                 "test.send needs args.to and args.payload");
    if (jc
        && (!json_is_integer(jc) || json_integer_value(jc) < 1
            || json_integer_value(jc) > S_SEND_COUNT_MAX))
        return pl_node_ctl_error(PL_EINVAL, "args.count must be 1..%d",
                                 S_SEND_COUNT_MAX);
    if (jt
        && (!json_is_integer(jt) || json_integer_value(jt) < 1
            || json_integer_value(jt) > PL_TTL_MAX))
        return pl_node_ctl_error(PL_EINVAL, "args.ttl must be 1..%d seconds",
                                 PL_TTL_MAX);
    if (!pl_address_valid(to))
        return pl_node_ctl_error(PL_EINVAL,
                                 "'%s' is not an address (network/name)", to);
    int count = jc ? (int) json_integer_value(jc) : 1;
    uint64_t ttl = jt ? (uint64_t) json_integer_value(jt) : 0;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__TestMessage tm = PASSERELLE__V1__TEST_MESSAGE__INIT;
    tm.payload.data = (uint8_t *) json_string_value(jp);
    tm.payload.len = json_string_length(jp);
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &tm;
    pl_buf_t enc = {0};
    int rc = pl_message_encode(&m, &enc);
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot encode the message: %s",
                                 rc == PL_ETOOBIG ? "payload too large"
                                                  : pl_strerror(rc));
    }
    json_t *ids = json_array();
    for (int i = 0; rc == PL_OK && i < count; i++) {
        uint8_t id[PL_MSG_ID_BYTES];
        rc = pl_ctx_outbox_add(ctx, txn, to, S_KIND_TEST, enc.data, enc.len,
                               ttl, id);
        if (rc == PL_OK)
            json_array_append_new(ids, pl_node_json_hex(id, PL_MSG_ID_BYTES));
    }
    pl_buf_wipe(&enc);
    *rc_out = rc;
    if (rc != PL_OK) {
        json_decref(ids);
        pl_node_state_t st;
        pl_ctx_state(ctx, &st);
        switch (rc) {
        case PL_ENOTFOUND:
            pl_ctx_ask_directory(ctx, false);
            return pl_node_ctl_error(rc,
                                     "%s is not in this node's directory "
                                     "(unknown recipient; the directory is "
                                     "being refreshed)",
                                     to);
        case PL_EREVOKED:
            return pl_node_ctl_error(rc, "%s's certificate is revoked", to);
        case PL_EEXPIRED:
            return pl_node_ctl_error(rc,
                                     "%s's certificate has expired or is "
                                     "not yet valid",
                                     to);
        case PL_ESTATE:
            return pl_node_ctl_error(
                rc,
                "this machine's clock is off by %lld s from the broker's "
                "(more than %d s): fix the clock; nothing is sealed until "
                "then",
                (long long) -st.skew, S_CLOCK_SKEW_MAX);
        case PL_EFULL:
            return pl_node_ctl_error(rc,
                                     "the node's store is full (map use "
                                     "%u%%, new work stops at %d%%): new "
                                     "messages are refused until space is "
                                     "freed",
                                     st.usage_pct, PL_STORE_FULL_PCT);
        case PL_ETOOBIG:
            return pl_node_ctl_error(rc, "the payload is too large");
        default:
            return pl_node_ctl_error(rc, "cannot send: %s", pl_strerror(rc));
        }
    }
    return pl_node_ctl_ok(json_pack("{s:o}", "ids", ids));
}

typedef struct {
    pl_txn_t *txn; // read in this transaction
    json_t *out;   // array being filled
} s_walk_t;

static int
s_test_list_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                void *arg)
{
    s_walk_t *w = arg;
    pl_inrec_t r;
    if (kl != PL_MSG_ID_BYTES || pl_inrec_decode(v, vl, &r) != PL_OK
        || r.kind != S_KIND_TEST)
        return PL_STORE_NEXT;
    uint8_t dk[PL_DATAKEY_BYTES];
    pl_buf_t plain = {0};
    pl_header_t h;
    int rc = pl_header_decode(r.header, r.header_len, &h);
    if (rc == PL_OK)
        rc = pl_store_datakey_get(w->txn, r.dkid, dk);
    if (rc == PL_OK)
        rc = pl_store_unseal(dk, PL_DB_INBOX, k, kl, r.sealed, r.sealed_len,
                             &plain);
    pl_store_wipe(dk, sizeof dk);
    pl_message_t *m = NULL;
    if (rc == PL_OK)
        rc = pl_message_decode(plain.data, plain.len, &m);
    json_t *o = json_object();
    json_object_set_new(o, "id", pl_node_json_hex(k, kl));
    json_object_set_new(o, "from", json_string(rc == PL_OK ? h.from : "?"));
    json_object_set_new(o, "received_at", pl_node_json_time(r.received_at));
    if (rc == PL_OK && m->body_case == PASSERELLE__V1__MESSAGE__BODY_TEST) {
        const ProtobufCBinaryData *p = &m->test->payload;
        json_t *s = json_stringn((const char *) p->data, p->len);
        if (s) {
            json_object_set_new(o, "payload", s);
        } else {
            // not UTF-8 text: give it as hex
            char *hex = malloc(2 * p->len + 1);
            if (hex) {
                pl_hex(hex, p->data, p->len);
                json_object_set_new(o, "payload_hex", json_string(hex));
                free(hex);
            }
        }
    } else {
        json_object_set_new(o, "error", json_string(pl_strerror(rc)));
    }
    pl_message_free(&m);
    pl_buf_wipe(&plain);
    json_array_append_new(w->out, o);
    return PL_STORE_NEXT;
}

static char *
s_test_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) ctx, (void) args, (void) as, (void) rc_out;
    s_walk_t w = {txn, json_array()};
    int rc = pl_store_each(txn, PL_DB_INBOX, s_test_list_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

const pl_ctl_cmd_t pl_node_test_cmds[] = {
    {"test.send", PL_CTL_CHANGES | PL_CTL_TEST, s_test_send},
    {"test.list", PL_CTL_TEST, s_test_list},
    {NULL, 0, NULL},
};

#else

const pl_ctl_cmd_t pl_node_test_cmds[] = {{NULL, 0, NULL}};

#endif
