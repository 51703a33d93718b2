// test_self_revoked - a node whose own certificate is revoked closes the
// loop of what waits in its outbox (pl_node_self_revoked, pl_inbound.c),
// on a hand-built daemon state (tests/lib/nodes/pl_fakenode): a referral
// and a test message wait, pending; a revocation list that does not list
// the node, and one signed by another authority that does, change
// nothing; the authority's list that lists it, in a directory response,
// rejects both entries with reason revoked (bytes dropped), the referral
// shows refused-by-broker / revoked with one history line, the audit
// chain gets the node-revoked entry and the referral's and verifies,
// `stats` says revoked and a new `refer` is refused; the same list again,
// or the check run again as at a restart, adds nothing. Layer: tests.
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

#include "nodes/pl_audit.h"
#include "nodes/pl_node_case.h"
#include "tests/lib/nodes/pl_fakenode.h"
#include "tests/lib/nodes/pl_testctl.h"
#include "tests/lib/pl_test.h"

#define S_ME 5 // the node's serial (the fake clinic's is 1)

typedef struct {
    pl_fakenode_t f;
    char auth[PATH_MAX], other[PATH_MAX]; // the network's and a stranger's
    pl_authority_t *a, *x;
} s_fix_t;

static int
s_setup(void **state)
{
    s_fix_t *s = calloc(1, sizeof *s);
    PL_CHECK(s != NULL);
    pl_fakenode_init(&s->f, "selfrevoked", 8u << 20);
    snprintf(s->auth, sizeof s->auth, "%s/authority", s->f.ts.home);
    snprintf(s->other, sizeof s->other, "%s/stranger", s->f.ts.home);
    PL_CHECK(pl_authority_create(s->auth, "sn") == PL_OK);
    PL_CHECK(pl_authority_create(s->other, "sn") == PL_OK);
    PL_CHECK(pl_authority_open(s->auth, &s->a) == PL_OK);
    PL_CHECK(pl_authority_open(s->other, &s->x) == PL_OK);
    pl_node_t *n = s->f.node;
    memcpy(n->authority_pk, pl_authority_pk(s->a), PL_SIGN_PK_BYTES);
    n->me.serial = S_ME;
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fix_t *s = *state;
    pl_authority_close(&s->a);
    pl_authority_close(&s->x);
    pl_fakenode_fini(&s->f);
    free(s);
    return 0;
}

// Runs control command 'cmd' on the daemon's own handler context, then
// what the loop does after a committed pass.
static json_t *
s_run(s_fix_t *s, const char *cmd, json_t *args, int *rc)
{
    pl_node_ctx_t ctx = pl_node_ctx(s->f.node);
    json_t *r = pl_testctl_run(s->f.node->store, &ctx, cmd, args, "Awa", rc);
    pl_node_after_flush(s->f.node, true);
    pl_node_resend_settle(s->f.node, true);
    return r;
}

// The "result" member of a reply that must be ok (borrowed from 'r').
static json_t *
s_ok(json_t *r)
{
    assert_true(json_is_true(json_object_get(r, "ok")));
    return json_object_get(r, "result");
}

// A case with health consent (its id into 'cid'), referred to the
// clinic: the referral's id into 'ref'.
static void
s_referral(s_fix_t *s, char cid[33], char ref[33])
{
    int rc;
    json_t *r = s_run(s, "case.add",
                      json_pack("{s:s, s:s, s:s}", "given", "Qzrevokedvx",
                                "family", "Fall", "birth", "1990-01-01"),
                      &rc);
    snprintf(cid, 33, "%s", json_string_value(json_object_get(s_ok(r), "id")));
    json_decref(r);
    r = s_run(s, "consent.add",
              json_pack("{s:s, s:s, s:s, s:s}", "case", cid, "sectors",
                        "health", "given_by", "returnee", "expires",
                        "2099-12-31"),
              &rc);
    s_ok(r);
    json_decref(r);
    r = s_run(s, "refer",
              json_pack("{s:s, s:s, s:s}", "case", cid, "to", "clinic",
                        "service", "svc"),
              &rc);
    snprintf(ref, 33, "%s", json_string_value(json_object_get(s_ok(r), "id")));
    json_decref(r);
}

// A directory response from the broker carrying the list 'raw' (no
// certificate: the directory itself does not matter here), in a pass.
static void
s_push(s_fix_t *s, const pl_buf_t *raw)
{
    Passerelle__V1__RevocationList *rl =
        passerelle__v1__revocation_list__unpack(NULL, raw->len, raw->data);
    assert_non_null(rl);
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    d.revoked = rl;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    pkt.directory_response = &d;
    pl_buf_t out = {0};
    assert_int_equal(pl_wire_encode(&pkt, &out), PL_OK);
    assert_int_equal(pl_fakenode_pass(&s->f, out.data, out.len), PL_OK);
    pl_buf_free(&out);
    passerelle__v1__revocation_list__free_unpacked(rl, NULL);
}

// Counts one outbox entry: pending, or rejected as revoked with no bytes.
static int
s_count(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) k, (void) kl;
    size_t *n = arg;
    pl_outrec_t r;
    assert_int_equal(pl_outrec_decode(v, vl, &r), PL_OK);
    if (r.state == S_OUT_PENDING)
        n[0]++;
    else if (r.state == S_OUT_REJECTED
             && r.reason == PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED
             && !r.packet)
        n[1]++;
    return PL_STORE_NEXT;
}

// Outbox entries: how many are pending, and how many are rejected with
// reason revoked and no bytes left.
static void
s_outbox(s_fix_t *s, size_t *pending, size_t *revoked)
{
    size_t n[2] = {0, 0};
    pl_txn_t *t = NULL;
    assert_int_equal(pl_store_begin(s->f.node->store, NULL, false, &t), PL_OK);
    assert_int_equal(pl_store_each(t, PL_DB_OUTBOX, s_count, n), PL_OK);
    pl_store_abort(&t);
    *pending = n[0];
    *revoked = n[1];
}

// The referral's delivery problem: "delivery/reason" or "" when none; its
// history's length into *lines.
static void
s_delivery(s_fix_t *s, const char *ref, char *out, size_t n, size_t *lines)
{
    int rc;
    json_t *r = s_run(s, "referral.show", json_pack("{s:s}", "id", ref), &rc);
    json_t *o = s_ok(r);
    const char *d = json_string_value(json_object_get(o, "delivery"));
    const char *c = json_string_value(json_object_get(o, "delivery_reason"));
    snprintf(out, n, "%s%s%s", d ? d : "", d ? "/" : "", c ? c : "");
    *lines = json_array_size(json_object_get(o, "history"));
    json_decref(r);
}

// The audit chain verifies; its length.
static uint64_t
s_audit(s_fix_t *s)
{
    pl_txn_t *t = NULL;
    assert_int_equal(pl_store_begin(s->f.node->store, NULL, false, &t), PL_OK);
    pl_audit_report_t rep;
    assert_int_equal(pl_audit_verify(t, s->f.node->keys->pub.sign, &rep),
                     PL_OK);
    pl_store_abort(&t);
    return rep.count;
}

// stats.revoked
static bool
s_stats_revoked(s_fix_t *s)
{
    int rc;
    json_t *r = s_run(s, "stats", NULL, &rc);
    bool v = json_is_true(json_object_get(s_ok(r), "revoked"));
    json_decref(r);
    return v;
}

static void
test_self_revoked(void **state)
{
    s_fix_t *s = *state;
    char cid[33], ref[33], got[96];
    s_referral(s, cid, ref);
    uint8_t tid[PL_MSG_ID_BYTES];
    assert_int_equal(pl_fakenode_outbox_add(&s->f, "sn/clinic", tid), PL_OK);
    size_t pending, rev, lines0, lines;
    s_outbox(s, &pending, &rev);
    assert_int_equal(pending, 2);
    assert_int_equal(rev, 0);
    s_delivery(s, ref, got, sizeof got, &lines0);
    assert_string_equal(got, "");
    uint64_t audits = s_audit(s);

    // a list of the network that does not list this node, and a list that
    // does but is signed by another authority: nothing
    pl_buf_t other = {0}, stranger = {0}, mine = {0};
    assert_int_equal(pl_authority_revoke(s->a, 9, &other), PL_OK);
    assert_int_equal(pl_authority_revoke(s->x, S_ME, &stranger), PL_OK);
    s_push(s, &other);
    assert_int_equal(s->f.node->revoked.number, 1); // taken
    s_push(s, &stranger);
    assert_int_equal(s->f.node->revoked.number, 1); // refused
    s_outbox(s, &pending, &rev);
    assert_int_equal(pending, 2);
    s_delivery(s, ref, got, sizeof got, &lines);
    assert_string_equal(got, "");
    assert_int_equal(s_audit(s), audits);
    assert_false(s_stats_revoked(s));

    // the network's list that lists this node: every waiting entry is
    // refused, the referral's loop closes, audited, in the pass
    assert_int_equal(pl_authority_revoke(s->a, S_ME, &mine), PL_OK);
    s_push(s, &mine);
    assert_int_equal(s->f.node->revoked.number, 2);
    s_outbox(s, &pending, &rev);
    assert_int_equal(pending, 0);
    assert_int_equal(rev, 2); // the referral and the test message
    s_delivery(s, ref, got, sizeof got, &lines);
    assert_string_equal(got, "refused-by-broker/revoked");
    assert_int_equal(lines, lines0 + 1);
    assert_int_equal(s_audit(s), audits + 2); // node-revoked, the referral
    assert_true(s_stats_revoked(s));
    int rc;
    json_t *r = s_run(s, "refer",
                      json_pack("{s:s, s:s, s:s}", "case", cid, "to", "clinic",
                                "service", "svc"),
                      &rc);
    assert_false(json_is_true(json_object_get(r, "ok")));
    const char *msg = json_string_value(json_object_get(r, "error"));
    assert_non_null(msg);
    assert_non_null(strstr(msg, "this node's certificate is revoked: enrol"));
    json_decref(r);

    // again, and as at a restart: nothing more
    s_push(s, &mine);
    pl_txn_t *t = NULL;
    assert_int_equal(pl_store_begin(s->f.node->store, NULL, true, &t), PL_OK);
    assert_int_equal(pl_node_self_revoked(s->f.node, t), PL_OK);
    assert_int_equal(pl_store_commit(&t), PL_OK);
    s_delivery(s, ref, got, sizeof got, &lines);
    assert_string_equal(got, "refused-by-broker/revoked");
    assert_int_equal(lines, lines0 + 1);
    assert_int_equal(s_audit(s), audits + 2);
    s_outbox(s, &pending, &rev);
    assert_int_equal(rev, 2);
    pl_buf_free(&other);
    pl_buf_free(&stranger);
    pl_buf_free(&mine);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_self_revoked, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
