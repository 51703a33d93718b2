// test_handlers_case - the case and referral handlers run on a fake
// handler context (nodes/pl_node_ctx.h): a temp store, fresh keys, a fake
// outbox and directory; no daemon, no broker (issue 12, item 7).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_node_ctl.h"
#include "nodes/pl_records.h"
#include "nodes/pl_sealed.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"
#include "tests/lib/pl_test.h"

// The daemon's state as the fake has it: offline, a skewed clock.
static void
s_state(void *arg, pl_node_state_t *out)
{
    (void) arg;
    out->broker_ep = "tcp://127.0.0.1:1";
    out->broker_address = "sn/broker";
    out->skew = -400;
    out->skewed = true;
    out->usage_pct = 42;
    out->n.sent = 7;
}

// The fake of tests/lib/nodes/pl_fakectx.h (an agency, a health clinic in
// its directory) with the state above.
static int
s_setup(void **state)
{
    pl_fakectx_setup(state);
    ((pl_fakectx_t *) *state)->svc.state = s_state;
    return 0;
}

// The name of an error code as the replies spell it.
static const char *
s_name(int rc)
{
    return rc == PL_EINVAL      ? "PL_EINVAL"
           : rc == PL_ESTATE    ? "PL_ESTATE"
           : rc == PL_ENOTFOUND ? "PL_ENOTFOUND"
           : rc == PL_OK        ? "(ok)"
                                : "(other)";
}

// Adds a case; its id (hex) into 'id'.
static void
s_case(pl_fakectx_t *f, char id[33])
{
    int rc;
    json_t *r = pl_fakectx_run(
        f, "case.add",
        json_pack("{s:s, s:s, s:s, s:s}", "given", "Aminata", "family",
                  "DialloXq7", "birth", "1988-04-12", "phone", "+221770001122"),
        "Awa", &rc);
    assert_int_equal(rc, PL_OK);
    assert_true(pl_fakectx_ok(r));
    const char *s =
        json_string_value(json_object_get(json_object_get(r, "result"), "id"));
    assert_non_null(s);
    assert_int_equal(strlen(s), 32);
    memcpy(id, s, 33);
    json_decref(r);
}

static void
test_case_add_show_list(void **state)
{
    pl_fakectx_t *f = *state;
    char id[33];
    s_case(f, id);
    json_t *r = pl_fakectx_run(f, "case.show", json_pack("{s:s}", "id", id),
                               NULL, NULL);
    assert_true(pl_fakectx_ok(r));
    char *t = json_dumps(r, 0);
    assert_non_null(strstr(t, "DialloXq7"));
    free(t);
    json_decref(r);
    r = pl_fakectx_run(f, "case.list", json_pack("{s:s}", "search", "dialloxq"),
                       NULL, NULL);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(json_array_size(json_object_get(r, "result")), 1);
    json_decref(r);
    // a unique prefix names the case; nothing personal in plain at rest
    char prefix[9];
    memcpy(prefix, id, 8);
    prefix[8] = 0;
    r = pl_fakectx_run(f, "case.show", json_pack("{s:s}", "id", prefix), NULL,
                       NULL);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "DialloXq7", 9), 0);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "+221770001122", 13), 0);
}

static void
test_case_add_refusals(void **state)
{
    pl_fakectx_t *f = *state;
    int rc;
    json_t *r = pl_fakectx_run(
        f, "case.add", json_pack("{s:s, s:s}", "given", "A", "family", "B"),
        NULL, &rc);
    assert_false(pl_fakectx_ok(r));
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    assert_int_equal(rc, PL_EINVAL);
    json_decref(r);
    r = pl_fakectx_run(f, "case.show", json_pack("{s:s}", "id", "zz"), NULL,
                       &rc);
    assert_false(pl_fakectx_ok(r));
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    json_decref(r);
    r = pl_fakectx_run(f, "case.show", json_pack("{s:s}", "id", "abcdef01"),
                       NULL, &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_ENOTFOUND");
    json_decref(r);
    r = pl_fakectx_run(f, "no.such", NULL, NULL, &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL");
    assert_int_equal(rc, PL_EINVAL);
    json_decref(r);
    char as[200];
    memset(as, 'a', sizeof as - 1);
    as[sizeof as - 1] = 0;
    r = pl_fakectx_run(f, "case.list", NULL, as, &rc);
    assert_int_equal(rc, PL_EINVAL);
    json_decref(r);
}

// A refusal's rc_out is the code of the reply (issue 12: case.close
// replied PL_EINVAL and returned PL_ESTATE; case.bia the reverse).
static void
test_case_close_bia_codes(void **state)
{
    pl_fakectx_t *f = *state;
    char id[33];
    s_case(f, id);
    int rc;
    json_t *r = pl_fakectx_run(f, "case.close", json_pack("{s:s}", "id", id),
                               NULL, &rc);
    assert_false(pl_fakectx_ok(r));
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL"); // no --reason
    assert_string_equal(s_name(rc), pl_fakectx_code(r));
    json_decref(r);
    r = pl_fakectx_run(f, "case.bia",
                       json_pack("{s:s, s:s}", "case", id, "ref", "B-1"), NULL,
                       &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_EINVAL"); // no --date
    assert_string_equal(s_name(rc), pl_fakectx_code(r));
    json_decref(r);
    r = pl_fakectx_run(f, "case.close",
                       json_pack("{s:s, s:s}", "id", id, "reason", "done"),
                       "Awa", &rc);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(rc, PL_OK);
    json_decref(r);
    r = pl_fakectx_run(f, "case.close",
                       json_pack("{s:s, s:s}", "id", id, "reason", "done"),
                       "Awa", &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_ESTATE"); // already closed
    assert_string_equal(s_name(rc), pl_fakectx_code(r));
    json_decref(r);
    r = pl_fakectx_run(f, "case.bia",
                       json_pack("{s:s, s:s, s:s}", "case", id, "ref", "B-1",
                                 "date", "2026-01-02"),
                       NULL, &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_ESTATE"); // the case is closed
    assert_string_equal(s_name(rc), pl_fakectx_code(r));
    json_decref(r);
}

// A case stored by the code before the typed record (issue 12, item 3):
// its JSON text sealed as pl_sealed.h says, with a key this version does
// not know. case.show reads it, case.bia and case.close change it through
// the codec, and the key survives in the store.
static void
test_case_old_record(void **state)
{
    pl_fakectx_t *f = *state;
    static const char old[] =
        "{\"given\":\"Aminata\",\"family\":\"DialloXq7\",\"birth\":"
        "\"1988-04-12\",\"language\":\"wo\",\"needs\":[\"housing\"],"
        "\"flags\":[],\"created\":1700000000,\"by\":\"Awa\","
        "\"future_key\":{\"kept\":true}}";
    json_error_t jerr;
    json_t *doc = json_loads(old, 0, &jerr);
    assert_non_null(doc);
    uint8_t id[16] = {0x5a, 1, 2, 3}, hdr[PL_SEALED_HDR] = {PL_SEALED_VER};
    uint8_t dk[PL_DATAKEY_BYTES];
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &txn), PL_OK);
    assert_int_equal(pl_store_datakey_new(txn, hdr + 1, dk), PL_OK);
    assert_int_equal(pl_sealed_put(txn, PL_DB_CASES, id, 16, hdr, dk, doc),
                     PL_OK);
    assert_int_equal(pl_store_commit(&txn), PL_OK);
    json_decref(doc);
    char hex[33];
    pl_hex(hex, id, 16);
    int rc;
    json_t *r = pl_fakectx_run(f, "case.show", json_pack("{s:s}", "id", hex),
                               NULL, &rc);
    assert_true(pl_fakectx_ok(r));
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "language")),
                        "wo");
    assert_string_equal(json_string_value(json_object_get(res, "status")),
                        "open");
    json_decref(r);
    r = pl_fakectx_run(f, "case.bia",
                       json_pack("{s:s, s:s, s:s}", "case", hex, "ref", "B-9",
                                 "date", "2026-01-02"),
                       "Moussa", &rc);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    r = pl_fakectx_run(f, "case.close",
                       json_pack("{s:s, s:s}", "id", hex, "reason", "moved"),
                       "Moussa", &rc);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    uint8_t h2[PL_SEALED_HDR];
    json_t *now = NULL;
    assert_int_equal(
        pl_sealed_get(txn, PL_DB_CASES, id, 16, NULL, h2, NULL, &now), PL_OK);
    pl_store_abort(&txn);
    assert_true(json_is_true(
        json_object_get(json_object_get(now, "future_key"), "kept")));
    assert_string_equal(json_string_value(json_object_get(now, "family")),
                        "DialloXq7");
    assert_int_equal(json_integer_value(json_object_get(now, "created")),
                     1700000000);
    assert_string_equal(json_string_value(json_object_get(now, "close_reason")),
                        "moved");
    assert_string_equal(json_string_value(json_object_get(now, "closed_by")),
                        "Moussa");
    assert_true(json_integer_value(json_object_get(now, "closed")) > 0);
    json_t *bia = json_object_get(now, "bia");
    assert_string_equal(json_string_value(json_object_get(bia, "ref")), "B-9");
    assert_string_equal(json_string_value(json_object_get(bia, "by")),
                        "Moussa");
    assert_true(json_integer_value(json_object_get(bia, "recorded")) > 0);
    json_decref(now);
    memset(dk, 0, sizeof dk);
}

// Every referral record in the store decodes through the codec with no
// key left over: the codec knows every key the handlers write (issue 12,
// item 3). Returns how many records were checked.
static int
s_ref_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    void **a = arg;
    if (kl != 17 || k[0] != 'r')
        return PL_STORE_NEXT;
    uint8_t hdr[PL_SEALED_HDR];
    json_t *doc = NULL;
    assert_int_equal(
        pl_sealed_get(a[0], PL_DB_REFERRALS, k, kl, NULL, hdr, NULL, &doc),
        PL_OK);
    pl_ref_rec_t r;
    assert_int_equal(pl_ref_rec_decode(doc, &r), PL_OK);
    if (r.extra) {
        char *t = json_dumps(r.extra, 0);
        print_error("unknown referral keys: %s\n", t);
        free(t);
    }
    assert_null(r.extra);
    json_t *back = pl_ref_rec_encode(&r);
    assert_true(json_equal(back, doc));
    json_decref(back);
    pl_ref_rec_free(&r);
    json_decref(doc);
    (*(int *) a[1])++;
    return PL_STORE_NEXT;
}

static int
s_refs_known(pl_fakectx_t *f)
{
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    int n = 0;
    void *a[2] = {txn, &n};
    assert_int_equal(pl_store_each(txn, PL_DB_REFERRALS, s_ref_one, a), PL_OK);
    pl_store_abort(&txn);
    return n;
}

// `refer` of case 'id' to the clinic as Awa: the reply (owned); ref gets
// the referral id ("" when none).
static json_t *
s_refer_clinic(pl_fakectx_t *f, const char *id, int *rc, char ref[33])
{
    json_t *r = pl_fakectx_run(f, "refer",
                               json_pack("{s:s, s:s, s:s}", "case", id, "to",
                                         "clinic", "service", "svc"),
                               "Awa", rc);
    const char *rid =
        json_string_value(json_object_get(json_object_get(r, "result"), "id"));
    snprintf(ref, 33, "%s", rid ? rid : "");
    return r;
}

// `consent.add` for case 'id' (health, until 2099), which must succeed.
static void
s_consent_health(pl_fakectx_t *f, const char *id)
{
    int rc;
    json_t *r = pl_fakectx_run(f, "consent.add",
                               json_pack("{s:s, s:s, s:s, s:s}", "case", id,
                                         "sectors", "health", "given_by",
                                         "returnee", "expires", "2099-12-31"),
                               "Awa", &rc);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
}

// The envelope the fake outbox recorded is the referral the handler made:
// an encoded Message with a Referral body of id 'ref' (hex) for the
// clinic's sector, by the staff member who referred, the default ttl.
static void
s_sent_referral(const pl_fakectx_sent_t *s, const char *ref)
{
    pl_message_t *m = NULL;
    assert_int_equal(pl_message_decode(s->msg, s->msg_len, &m), PL_OK);
    assert_int_equal(m->body_case, PASSERELLE__V1__MESSAGE__BODY_REFERRAL);
    const Passerelle__V1__Referral *rf = m->referral;
    char hex[2 * PL_MSG_ID_BYTES + 1];
    assert_int_equal(rf->referral_id.len, PL_MSG_ID_BYTES);
    pl_hex(hex, rf->referral_id.data, PL_MSG_ID_BYTES);
    assert_string_equal(hex, ref);
    assert_string_equal(rf->sector, "health");
    assert_string_equal(rf->service, "svc");
    assert_string_equal(rf->legal_basis, "consent");
    assert_string_equal(rf->by, "Awa");
    assert_int_equal(s->ttl, 0); // the outbox default
    pl_message_free(&m);
}

static void
test_refer_gate_and_send(void **state)
{
    pl_fakectx_t *f = *state;
    char id[33];
    s_case(f, id);
    int rc;
    // no consent: refused, nothing sent
    json_t *r = pl_fakectx_run(f, "refer",
                               json_pack("{s:s, s:s, s:s}", "case", id, "to",
                                         "clinic", "service", "svc"),
                               "Awa", &rc);
    assert_false(pl_fakectx_ok(r));
    assert_non_null(
        strstr(json_string_value(json_object_get(r, "error")), "consent"));
    assert_int_equal(f->sent, 0);
    json_decref(r);
    // an unknown recipient: the directory is asked for
    s_consent_health(f, id);
    r = pl_fakectx_run(f, "refer",
                       json_pack("{s:s, s:s, s:s}", "case", id, "to", "nobody",
                                 "service", "svc"),
                       "Awa", &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_ENOTFOUND");
    assert_true(f->asked > 0);
    assert_int_equal(f->sent, 0);
    json_decref(r);
    // the outbox refuses (store full): the error goes back, nothing kept
    f->outbox_rc = PL_EFULL;
    r = pl_fakectx_run(f, "refer",
                       json_pack("{s:s, s:s, s:s}", "case", id, "to", "clinic",
                                 "service", "svc"),
                       "Awa", &rc);
    assert_false(pl_fakectx_ok(r));
    assert_int_not_equal(rc, PL_OK);
    json_decref(r);
    f->outbox_rc = PL_OK;
    // consent given: one referral envelope to the clinic
    char ref[33];
    r = s_refer_clinic(f, id, &rc, ref);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(rc, PL_OK);
    assert_int_equal(f->sent, 1);
    assert_int_equal(f->out[0].kind, S_KIND_REFERRAL);
    assert_string_equal(f->out[0].to, "sn/clinic");
    assert_true(ref[0] != 0);
    s_sent_referral(&f->out[0], ref);
    json_decref(r);
    r = pl_fakectx_run(f, "referrals", NULL, NULL, &rc);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(json_array_size(json_object_get(r, "result")), 1);
    json_decref(r);
    // the case cannot be closed while its referral is open
    r = pl_fakectx_run(f, "case.close",
                       json_pack("{s:s, s:s}", "id", id, "reason", "done"),
                       NULL, &rc);
    assert_string_equal(pl_fakectx_code(r), "PL_ESTATE");
    json_decref(r);
    // the sender cancels: a status update goes to the clinic
    r = pl_fakectx_run(f, "referral.act",
                       json_pack("{s:s, s:s, s:s}", "id", ref, "event",
                                 "cancel", "reason", "moved"),
                       "Awa", &rc);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(f->sent, 2);
    assert_int_equal(f->out[1].kind, S_KIND_STATUS);
    json_decref(r);
    r = pl_fakectx_run(f, "referral.show", json_pack("{s:s}", "id", ref), NULL,
                       &rc);
    assert_true(pl_fakectx_ok(r));
    char *t = json_dumps(r, 0);
    assert_non_null(strstr(t, "cancel"));
    free(t);
    json_decref(r);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "DialloXq7", 9), 0);
    assert_int_equal(s_refs_known(f), 1);
}

// The broker's notice that 'id' will never be delivered, in a pass.
static int
s_undelivered(pl_fakectx_t *f, const uint8_t id[PL_MSG_ID_BYTES], int reason)
{
    pl_txn_t *t = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &t), PL_OK);
    int rc = pl_case_on_undelivered(&f->ctx, t, id, "sn/clinic", reason);
    if (rc == PL_OK)
        rc = pl_store_commit(&t);
    else
        pl_store_abort(&t);
    return rc;
}

// The sender side of a refusal for good: the referral shows the delivery
// problem in `referrals` and `show`, gets one history line and one audit
// entry; a second notice adds nothing; an id that is no referral of ours
// changes nothing.
static void
test_refer_undelivered(void **state)
{
    pl_fakectx_t *f = *state;
    char id[33];
    s_case(f, id);
    int rc;
    s_consent_health(f, id);
    char ref[33];
    json_t *r = s_refer_clinic(f, id, &rc, ref);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    assert_int_equal(f->sent, 1);
    uint8_t msg[PL_MSG_ID_BYTES] = {1}; // the fake outbox's first id
    uint8_t other[PL_MSG_ID_BYTES] = {0x77};
    size_t audits = pl_fakectx_count(f, PL_DB_AUDIT);
    assert_int_equal(s_undelivered(f, other, 10), PL_OK);
    assert_int_equal(pl_fakectx_count(f, PL_DB_AUDIT), audits);
    r = pl_fakectx_run(f, "referral.show", json_pack("{s:s}", "id", ref), NULL,
                       &rc);
    assert_null(json_object_get(json_object_get(r, "result"), "delivery"));
    size_t lines = json_array_size(
        json_object_get(json_object_get(r, "result"), "history"));
    json_decref(r);
    int bad = PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE;
    assert_int_equal(s_undelivered(f, msg, bad), PL_OK);
    assert_int_equal(s_undelivered(f, msg, bad), PL_OK); // told twice
    assert_int_equal(pl_fakectx_count(f, PL_DB_AUDIT), audits + 1);
    r = pl_fakectx_run(f, "referral.show", json_pack("{s:s}", "id", ref), NULL,
                       &rc);
    json_t *o = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(o, "delivery")),
                        "refused-by-recipient");
    assert_string_equal(
        json_string_value(json_object_get(o, "delivery_reason")),
        "bad_signature");
    json_t *h = json_object_get(o, "history");
    assert_int_equal(json_array_size(h), lines + 1);
    json_t *last = json_array_get(h, lines);
    assert_string_equal(json_string_value(json_object_get(last, "status")),
                        "undelivered");
    assert_string_equal(json_string_value(json_object_get(last, "result")),
                        "bad_signature");
    assert_string_equal(json_string_value(json_object_get(o, "status")),
                        "requested"); // the business status is not touched
    json_decref(r);
    r = pl_fakectx_run(f, "referrals", NULL, NULL, &rc);
    o = json_array_get(json_object_get(r, "result"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "delivery")),
                        "refused-by-recipient");
    json_decref(r);
    assert_int_equal(s_refs_known(f), 1);
}

// A referral the broker refused for good when it was sent (PL_CASE_BY_BROKER
// or'ed into the code) shows that, not a refusal by the recipient.
static void
test_refer_refused_by_broker(void **state)
{
    pl_fakectx_t *f = *state;
    char id[33], ref[33];
    s_case(f, id);
    int rc;
    s_consent_health(f, id);
    json_t *r = s_refer_clinic(f, id, &rc, ref);
    assert_true(pl_fakectx_ok(r));
    json_decref(r);
    uint8_t msg[PL_MSG_ID_BYTES] = {1}; // the fake outbox's first id
    int code = PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT;
    assert_int_equal(s_undelivered(f, msg, code | PL_CASE_BY_BROKER), PL_OK);
    r = pl_fakectx_run(f, "referral.show", json_pack("{s:s}", "id", ref), NULL,
                       &rc);
    json_t *o = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(o, "delivery")),
                        "refused-by-broker");
    assert_string_equal(
        json_string_value(json_object_get(o, "delivery_reason")),
        "unknown_recipient");
    json_decref(r);
}

// An inbound referral at a clinic (this node: health), from the agency.
static int
s_inbound(pl_fakectx_t *f, uint8_t rid_byte, bool with_consent,
          uint8_t env_byte)
{
    Passerelle__V1__Referral r = PASSERELLE__V1__REFERRAL__INIT;
    Passerelle__V1__Person p = PASSERELLE__V1__PERSON__INIT;
    Passerelle__V1__ConsentRef cr = PASSERELLE__V1__CONSENT_REF__INIT;
    uint8_t rid[16] = {rid_byte, 0xee}, cid[16] = {0xc0};
    char *sectors[] = {"health"};
    r.referral_id.data = rid;
    r.referral_id.len = sizeof rid;
    r.pseudonym = "P-0123456789";
    r.legal_basis = "consent";
    r.purpose = "services";
    r.sector = "health";
    r.service = "svc";
    r.priority = "urgent";
    r.created_at = pl_now();
    p.given = "Aminata";
    p.family = "DialloXq7";
    p.birth = "1988-04-12";
    r.person = &p;
    cr.consent_id.data = cid;
    cr.consent_id.len = sizeof cid;
    cr.given_by = "returnee";
    cr.n_sectors = 1;
    cr.sectors = sectors;
    cr.purpose = "services";
    cr.expires_at = pl_now() + 86400;
    if (with_consent)
        r.consent = &cr;
    pl_header_t h;
    memset(&h, 0, sizeof h);
    memset(h.id, env_byte, sizeof h.id);
    snprintf(h.from, sizeof h.from, "%s", f->dir[0].address);
    uint8_t digest[32];
    memset(digest, 0x44, sizeof digest);
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &txn), PL_OK);
    int rc = pl_case_on_referral(&f->ctx, txn, &h, digest, &r);
    if (rc == PL_OK)
        assert_int_equal(pl_store_commit(&txn), PL_OK);
    else
        pl_store_abort(&txn);
    return rc;
}

static void
test_inbound_referral(void **state)
{
    pl_fakectx_t *f = *state;
    // this node is the clinic; the agency is in its directory
    pl_cert_t clinic = f->dir[0];
    pl_fakectx_cert(&f->dir[0], "agency", "social", NULL);
    f->me = clinic;
    assert_int_equal(s_inbound(f, 1, true, 0x51), PL_OK);
    assert_int_equal(f->sent, 0); // accepted: nothing goes back yet
    int rc;
    json_t *r = pl_fakectx_run(f, "referrals", NULL, NULL, &rc);
    assert_int_equal(json_array_size(json_object_get(r, "result")), 1);
    json_decref(r);
    // the same referral id again: refused (audited), nothing added
    assert_int_equal(s_inbound(f, 1, true, 0x52), PL_OK);
    r = pl_fakectx_run(f, "referrals", NULL, NULL, &rc);
    assert_int_equal(json_array_size(json_object_get(r, "result")), 1);
    json_decref(r);
    // no consent reference: refused at once with a `rejected` update,
    // nothing personal kept
    assert_int_equal(s_inbound(f, 2, false, 0x53), PL_OK);
    assert_int_equal(f->sent, 1);
    assert_int_equal(f->out[0].kind, S_KIND_STATUS);
    assert_string_equal(f->out[0].to, "sn/agency");
    char hex[33];
    uint8_t rid2[16] = {2, 0xee};
    pl_hex(hex, rid2, sizeof rid2);
    r = pl_fakectx_run(f, "referral.show", json_pack("{s:s}", "id", hex), NULL,
                       &rc);
    assert_true(pl_fakectx_ok(r));
    char *t = json_dumps(r, 0);
    assert_null(strstr(t, "DialloXq7"));
    assert_non_null(strstr(t, "no-consent"));
    free(t);
    json_decref(r);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "DialloXq7", 9), 0);
    assert_int_equal(s_refs_known(f), 2); // accepted-in and refused-in
}

// The one walker (issue 12, item 2): the case rows are in the daemon's
// table; a staff name over 127 bytes is refused before a case handler
// runs (nothing stored); test.probe is hidden without
// PASSERELLE_TEST_HOOKS=1.
static void
test_one_table(void **state)
{
    pl_fakectx_t *f = *state;
    const char *cmds[] = {"case.add",     "case.show",   "case.list",
                          "case.close",   "consent.add", "consent.withdraw",
                          "refer",        "referrals",   "referral.show",
                          "referral.act", "case.bia",    "erase",
                          "notifications"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        const pl_ctl_cmd_t *row = pl_node_ctl_find(cmds[i]);
        assert_non_null(row);
        assert_true(row->flags & PL_CTL_STAFF);
    }
    assert_true(pl_node_ctl_changes("refer"));
    assert_false(pl_node_ctl_changes("referrals"));
    assert_true(pl_node_ctl_known("whoami"));
    assert_false(pl_node_ctl_known("no.such"));
    char as[129];
    memset(as, 'a', 128);
    as[128] = 0;
    int rc;
    json_t *r =
        pl_fakectx_run(f, "case.add",
                       json_pack("{s:s, s:s, s:s}", "given", "Aminata",
                                 "family", "DialloXq7", "birth", "1988-04-12"),
                       as, &rc);
    assert_false(pl_fakectx_ok(r));
    assert_int_equal(rc, PL_EINVAL);
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
                           "--as is too long"));
    json_decref(r);
    as[127] = 0; // 127 bytes: taken
    r = pl_fakectx_run(f, "case.list", NULL, as, &rc);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(json_array_size(json_object_get(r, "result")), 0);
    json_decref(r);
#ifdef PL_TEST_BUILD
    unsetenv("PASSERELLE_TEST_HOOKS");
    assert_null(pl_node_ctl_find("test.probe"));
    assert_non_null(pl_node_ctl_find("test.list")); // PL_CTL_TEST alone
    setenv("PASSERELLE_TEST_HOOKS", "1", 1);
    assert_non_null(pl_node_ctl_find("test.probe"));
    unsetenv("PASSERELLE_TEST_HOOKS");
#endif
}

// The info and test handlers on the fake context too (issue 12, item 1):
// no daemon, what they show comes from the context and its services.
static void
test_info_on_fake(void **state)
{
    pl_fakectx_t *f = *state;
    int rc;
    json_t *r = pl_fakectx_run(f, "whoami", NULL, NULL, &rc);
    assert_true(pl_fakectx_ok(r));
    json_t *o = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(o, "address")),
                        "sn/agency");
    assert_string_equal(json_string_value(json_object_get(o, "home")),
                        f->ts.home);
    assert_string_equal(json_string_value(json_object_get(o, "broker")),
                        "tcp://127.0.0.1:1");
    assert_int_equal(json_integer_value(json_object_get(o, "clock_skew_s")),
                     -400);
    assert_true(json_is_false(json_object_get(o, "clock_ok")));
    json_decref(r);
    // a 128-byte staff name is no concern of an info row (not PL_CTL_STAFF)
    char as[129];
    memset(as, 'a', 128);
    as[128] = 0;
    r = pl_fakectx_run(f, "directory", json_pack("{s:s}", "sector", "health"),
                       as, &rc);
    assert_true(pl_fakectx_ok(r));
    o = json_object_get(r, "result");
    assert_int_equal(json_array_size(o), 0); // the fake peer has no validity
    json_decref(r);
    r = pl_fakectx_run(f, "stats", NULL, NULL, &rc);
    assert_true(pl_fakectx_ok(r));
    o = json_object_get(r, "result");
    assert_int_equal(json_integer_value(json_object_get(o, "map_use_pct")), 42);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(o, "counters"), "sent")),
                     7);
    json_decref(r);
    // network: no broker to send to (the fake has no send_now)
    r = pl_fakectx_run(f, "network", NULL, NULL, &rc);
    assert_false(pl_fakectx_ok(r));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")),
                           "tcp://127.0.0.1:1"));
    json_decref(r);
#ifdef PL_TEST_BUILD
    // test.send through the fake outbox; the skew in the refusal text
    r = pl_fakectx_run(f, "test.send",
                       json_pack("{s:s, s:s, s:i}", "to", "sn/clinic",
                                 "payload", "hi", "count", 2),
                       NULL, &rc);
    assert_true(pl_fakectx_ok(r));
    assert_int_equal(f->sent, 2);
    json_decref(r);
    f->outbox_rc = PL_ESTATE;
    r = pl_fakectx_run(
        f, "test.send",
        json_pack("{s:s, s:s}", "to", "sn/clinic", "payload", "hi"), NULL, &rc);
    assert_false(pl_fakectx_ok(r));
    assert_non_null(
        strstr(json_string_value(json_object_get(r, "error")), "off by 400 s"));
    json_decref(r);
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_on_fake, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_one_table, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_case_add_show_list, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_case_add_refusals, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_case_close_bia_codes, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_case_old_record, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_refer_gate_and_send, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_inbound_referral, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_refer_undelivered, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_refer_refused_by_broker, s_setup,
                                        pl_fakectx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
