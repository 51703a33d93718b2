// test_handover_room - the handover room (nodes/pl_handover_cmd.c) on a
// fake handler context: a temp store, fresh keys, a fake outbox and
// directory; no daemon, no broker. What the end-to-end test cannot force:
// the other side's updates arriving out of order (kept, then applied in
// their author's order), twice, from a node that is not the peer, for an
// unknown handover, with a status that is no step; a withdrawal crossing
// the recipient's acceptance and arrival (the arrival wins and ownership
// moves); a package refused by a node that is not an agency (answered
// acknowledged + rejected, nothing of it kept).
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
#include "nodes/pl_handover_cmd.h"
#include "nodes/pl_node_case.h"
#include "proto/pl_crypto.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"
#include "tests/lib/pl_test.h"

// The fake (tests/lib/nodes/pl_fakectx.h): this node, an agency; its
// directory, sorted: a foreign child-protection node, ours, an intruder,
// the origin agency.
static int
s_setup(void **state)
{
    pl_fakectx_t *f = pl_fakectx_new("horoom", "host", "agency");
    pl_cert_t *foreign = pl_fakectx_peer(f, "cp", "child-protection", false);
    snprintf(foreign->network, sizeof foreign->network, "gn");
    snprintf(foreign->address, sizeof foreign->address, "gn/cp");
    pl_fakectx_peer(f, "cp", "child-protection", false);
    pl_fakectx_peer(f, "intruder", "agency", false);
    pl_fakectx_peer(f, "origin", "agency", false);
    *state = f;
    return 0;
}

// Runs control command 'cmd' (a case room or handover room row) with
// 'args' (stolen) as Awa Diop, in a transaction kept when the handler says
// so. Returns the reply's result (or the whole reply when it failed).
static json_t *
s_run(pl_fakectx_t *f, const char *cmd, json_t *args, bool *ok)
{
    json_t *reply = pl_fakectx_run(f, cmd, args, "Awa Diop", NULL);
    *ok = pl_fakectx_ok(reply);
    return pl_fakectx_unwrap(reply);
}

static const char *
s_str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

// An inbound Handover body from 'from', in its own transaction.
static void
s_inbound(pl_fakectx_t *f, const char *from, Passerelle__V1__Handover *hm)
{
    pl_header_t h = {0};
    pl_random(h.id, sizeof h.id);
    snprintf(h.from, sizeof h.from, "%s", from);
    snprintf(h.to, sizeof h.to, "%s", f->me.address);
    uint8_t digest[PL_DIGEST_BYTES] = {0};
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &txn), PL_OK);
    assert_int_equal(pl_handover_on_msg(&f->ctx, txn, &h, digest, hm), PL_OK);
    assert_int_equal(pl_store_commit(&txn), PL_OK);
}

// A package from sn/origin with case data 'cd' (a child's with a
// determination when 'child') under handover id 'hid'.
static void
s_package_in(pl_fakectx_t *f, const char *cd, bool child, const uint8_t hid[16])
{
    Passerelle__V1__Handover hm = PASSERELLE__V1__HANDOVER__INIT;
    Passerelle__V1__HandoverPackage p = PASSERELLE__V1__HANDOVER_PACKAGE__INIT;
    hm.handover_id.data = (uint8_t *) hid;
    hm.handover_id.len = 16;
    hm.at = pl_now();
    hm.what_case = PASSERELLE__V1__HANDOVER__WHAT_PACKAGE;
    hm.package = &p;
    p.case_data.data = (uint8_t *) cd;
    p.case_data.len = strlen(cd);
    p.consent_transfer = true;
    p.legal_basis = "consent";
    p.arrival = "2099-01-01";
    if (child) {
        p.has_child = true;
        p.child = true;
        p.bid_ref = "BID-1";
        p.bid_date = "2025-01-01";
        p.bid_outcome = "return";
    }
    s_inbound(f, "sn/origin", &hm);
}

// An update of handover 'hex' from 'from'.
static void
s_update(pl_fakectx_t *f, const char *from, const char *hex, uint32_t seq,
         const char *status)
{
    uint8_t hid[16];
    assert_int_equal(pl_unhex(hid, sizeof hid, hex), PL_OK);
    Passerelle__V1__Handover hm = PASSERELLE__V1__HANDOVER__INIT;
    Passerelle__V1__HandoverUpdate u = PASSERELLE__V1__HANDOVER_UPDATE__INIT;
    hm.handover_id.data = hid;
    hm.handover_id.len = 16;
    hm.at = pl_now();
    hm.what_case = PASSERELLE__V1__HANDOVER__WHAT_UPDATE;
    hm.update = &u;
    u.seq = seq;
    u.status = (char *) status;
    s_inbound(f, from, &hm);
}

static char *
s_status(pl_fakectx_t *f, const char *hex)
{
    bool ok;
    json_t *r = s_run(f, "handover.show", json_pack("{s:s}", "id", hex), &ok);
    assert_true(ok);
    char *s = strdup(s_str(r, "status"));
    json_decref(r);
    return s;
}

static void
s_want(pl_fakectx_t *f, const char *hex, const char *want)
{
    char *s = s_status(f, hex);
    if (strcmp(s, want) != 0)
        fail_msg("handover %s is %s, want %s", hex, s, want);
    free(s);
}

// A case and its handover to sn/origin; ids into 'c' and 'h'.
// A new case of an adult 'given' (a fixed family name and birth date);
// its id in 'c'.
static void
s_new_case(pl_fakectx_t *f, const char *given, char c[33])
{
    bool ok;
    json_t *r = s_run(f, "case.add",
                      json_pack("{s:s, s:s, s:s}", "given", given, "family",
                                "Barry", "birth", "1980-01-01"),
                      &ok);
    assert_true(ok);
    snprintf(c, 33, "%s", s_str(r, "id"));
    json_decref(r);
}

static void
s_handover(pl_fakectx_t *f, char c[33], char h[33])
{
    bool ok;
    s_new_case(f, "Mamadou", c);
    json_t *r =
        s_run(f, "handover",
              json_pack("{s:s, s:s, s:s, s:s}", "case", c, "to", "sn/origin",
                        "arrival", "2099-01-01", "consent_transfer", "yes"),
              &ok);
    assert_true(ok);
    snprintf(h, 33, "%s", s_str(r, "id"));
    json_decref(r);
}

static bool
s_case_closed(pl_fakectx_t *f, const char *c)
{
    bool ok;
    json_t *r = s_run(f, "case.show", json_pack("{s:s}", "id", c), &ok);
    assert_true(ok);
    bool closed = !strcmp(s_str(r, "status"), "closed")
                  && !strcmp(s_str(r, "close_reason"), "transferred");
    json_decref(r);
    return closed;
}

static void
test_out_of_order(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33], h[33];
    s_handover(f, c, h);
    s_want(f, h, "sent");
    // accepted (seq 2) before acknowledged (seq 1): kept until its turn
    s_update(f, "sn/origin", h, 2, "accepted");
    s_want(f, h, "sent");
    assert_false(s_case_closed(f, c));
    s_update(f, "sn/origin", h, 1, "acknowledged");
    s_want(f, h, "accepted");
    assert_true(s_case_closed(f, c)); // ownership moved
    // twice, from another node, for no handover, no step: nothing changes
    s_update(f, "sn/origin", h, 1, "acknowledged");
    s_update(f, "sn/intruder", h, 3, "arrived");
    s_want(f, h, "accepted");
    s_update(f, "sn/origin", "00112233445566778899aabbccddeeff", 1,
             "acknowledged");
    s_update(f, "sn/origin", h, 3, "sent");
    s_want(f, h, "accepted");
    s_update(f, "sn/origin", h, 4, "arrived"); // after the refused seq 3
    s_want(f, h, "arrived");
    bool ok;
    json_t *r = s_run(f, "handover.show", json_pack("{s:s}", "id", h), &ok);
    assert_true(ok && json_object_get(r, "purge_after"));
    // sent, acknowledged, accepted, arrived: refusals leave no history
    assert_int_equal(json_array_size(json_object_get(r, "history")), 4);
    json_decref(r);
}

static void
test_withdraw_crossing(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33], h[33];
    s_handover(f, c, h);
    s_update(f, "sn/origin", h, 1, "acknowledged");
    bool ok;
    json_t *r = s_run(f, "handover.act",
                      json_pack("{s:s, s:s, s:s}", "id", h, "event", "withdraw",
                                "reason", "plans-changed"),
                      &ok);
    assert_true(ok);
    json_decref(r);
    s_want(f, h, "withdrawn");
    assert_false(s_case_closed(f, c)); // the case is the host's again
    // the recipient had accepted, then recorded the arrival: it happened
    s_update(f, "sn/origin", h, 2, "accepted");
    s_want(f, h, "withdrawn");
    assert_false(s_case_closed(f, c));
    s_update(f, "sn/origin", h, 3, "arrived");
    s_want(f, h, "arrived");
    assert_true(s_case_closed(f, c));
    r = s_run(f, "handover.show", json_pack("{s:s}", "id", h), &ok);
    json_t *hist = json_object_get(r, "history");
    assert_int_equal(json_array_size(hist), 5); // sent ack withdrawn acc arr
    assert_string_equal(s_str(json_array_get(hist, 3), "result"),
                        "after-withdraw");
    assert_string_equal(s_str(json_array_get(hist, 4), "result"),
                        "withdraw-too-late");
    json_decref(r);
    // the host may not make the recipient's steps
    r = s_run(f, "handover.act",
              json_pack("{s:s, s:s}", "id", h, "event", "no-show"), &ok);
    assert_false(ok);
    json_decref(r);
}

static void
test_package_refused(void **state)
{
    pl_fakectx_t *f = *state;
    snprintf(f->me.sector, sizeof f->me.sector, "health"); // not an agency
    uint8_t hid[16];
    const char *cd = "{\"given\":\"Kadiatou\",\"family\":\"SylxQ\"}";
    int before = f->sent;
    pl_random(hid, sizeof hid);
    s_package_in(f, cd, false, hid);
    assert_int_equal(f->sent, before + 2); // acknowledged, rejected
    assert_int_equal(f->out[before].kind, S_KIND_HANDOVER);
    char hex[33];
    pl_hex(hex, hid, 16);
    bool ok;
    json_t *r = s_run(f, "handover.show", json_pack("{s:s}", "id", hex), &ok);
    assert_true(ok);
    assert_string_equal(s_str(r, "status"), "rejected");
    assert_null(json_object_get(r, "person"));
    json_decref(r);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "SylxQ", 5), 0);
    // the same handover id again: a duplicate, nothing more sent
    s_package_in(f, cd, false, hid);
    assert_int_equal(f->sent, before + 2);
}

// A child's package: the receiving node notifies the child-protection
// node of its own region in its own network, never a foreign node of a
// region with the same name (federation: both are in the directory).
static void
test_child_package_cp(void **state)
{
    pl_fakectx_t *f = *state;
    uint8_t hid[16];
    const char *cd = "{\"given\":\"Awa\",\"birth\":\"2015-01-01\"}";
    int before = f->sent;
    pl_random(hid, sizeof hid);
    s_package_in(f, cd, true, hid);
    assert_int_equal(f->sent, before + 1);
    assert_int_equal(f->out[before].kind, S_KIND_CP);
    assert_string_equal(f->out[before].to, "sn/cp");
    char hex[33];
    pl_hex(hex, hid, 16);
    bool ok;
    json_t *r = s_run(f, "handover.act",
                      json_pack("{s:s, s:s}", "id", hex, "event", "ack"), &ok);
    assert_true(ok);
    json_decref(r);
    r = s_run(f, "handover.act",
              json_pack("{s:s, s:s}", "id", hex, "event", "accept"), &ok);
    assert_false(ok); // no cp-ack yet
    assert_non_null(strstr(s_str(r, "error"), "cp-ack"));
    json_decref(r);
    // a cp-ack from the foreign node does not count
    Passerelle__V1__Handover ack = PASSERELLE__V1__HANDOVER__INIT;
    Passerelle__V1__HandoverCpAck a = PASSERELLE__V1__HANDOVER_CP_ACK__INIT;
    ack.handover_id.data = hid;
    ack.handover_id.len = 16;
    ack.at = pl_now();
    ack.what_case = PASSERELLE__V1__HANDOVER__WHAT_CP_ACK;
    ack.cp_ack = &a;
    s_inbound(f, "gn/cp", &ack);
    r = s_run(f, "handover.act",
              json_pack("{s:s, s:s}", "id", hex, "event", "accept"), &ok);
    assert_false(ok);
    json_decref(r);
    s_inbound(f, "sn/cp", &ack);
    r = s_run(f, "handover.act",
              json_pack("{s:s, s:s}", "id", hex, "event", "accept"), &ok);
    assert_true(ok);
    char nc[33];
    snprintf(nc, sizeof nc, "%s", s_str(r, "case"));
    assert_int_equal(strlen(nc), 32);
    json_decref(r);
    r = s_run(f, "case.show", json_pack("{s:s}", "id", nc), &ok);
    assert_true(ok && !strcmp(s_str(r, "given"), "Awa"));
    json_decref(r);
    // the sender withdraws before the arrival: the new case is erased
    s_update(f, "sn/origin", hex, 1, "withdrawn");
    s_want(f, hex, "withdrawn");
    r = s_run(f, "case.show", json_pack("{s:s}", "id", nc), &ok);
    assert_true(ok && !strcmp(s_str(r, "status"), "erased"));
    json_decref(r);
    r = s_run(f, "handover.act",
              json_pack("{s:s, s:s}", "id", hex, "event", "arrived"), &ok);
    assert_false(ok); // withdrawn is final
    json_decref(r);
}

// The casework a handover carries (DESIGN.md §7.2): the assessments and
// the latest plan, without the host's staff names, follow-ups or surveys;
// on acceptance they become the new case's, each marked received, and
// what fails this node's checks is left out.
static void
test_casework_carried(void **state)
{
    pl_fakectx_t *f = *state;
    bool ok;
    char c[33];
    s_new_case(f, "Mamadou", c);
    json_t *r =
        s_run(f, "assess.add",
              json_pack("{s:s, s:s, s:{s:s, s:s, s:[s]}}", "case", c, "type",
                        "risk", "record", "level", "high", "notes",
                        "NoteQx7 threats at home", "flags", "threat"),
              &ok);
    assert_true(ok);
    json_decref(r);
    for (int v = 1; v <= 2; v++) { // two versions: the latest goes
        r = s_run(f, "plan.set",
                  json_pack("{s:s, s:{s:{s:s}, s:[{s:s, s:s, s:s, s:i, s:s}]}}",
                            "case", c, "record", "goals", "economic",
                            v == 1 ? "GoalOld" : "GoalNew", "items",
                            "dimension", "economic", "kind", "direct",
                            "assistance", "cash", "amount", 50000 * v,
                            "currency", "XOF"),
                  &ok);
        assert_true(ok);
        json_decref(r);
    }
    r = s_run(f, "followup.schedule",
              json_pack("{s:s, s:s}", "case", c, "return_date", "2026-01-10"),
              &ok);
    assert_true(ok);
    json_decref(r);
    int before = f->sent;
    r = s_run(f, "handover",
              json_pack("{s:s, s:s, s:s, s:s}", "case", c, "to", "sn/origin",
                        "arrival", "2099-01-01", "consent_transfer", "yes"),
              &ok);
    assert_true(ok);
    json_decref(r);
    assert_int_equal(f->sent, before + 1);
    assert_int_equal(f->out[before].kind, S_KIND_HANDOVER);
    Passerelle__V1__Message *m = passerelle__v1__message__unpack(
        NULL, f->out[before].msg_len, f->out[before].msg);
    assert_non_null(m);
    assert_non_null(m->handover);
    assert_non_null(m->handover->package);
    ProtobufCBinaryData *cdb = &m->handover->package->case_data;
    json_t *cd = json_loadb((const char *) cdb->data, cdb->len, 0, NULL);
    passerelle__v1__message__free_unpacked(m, NULL);
    assert_non_null(cd);
    json_t *cw = json_object_get(cd, "casework");
    json_t *as = json_object_get(cw, "assessments");
    assert_int_equal(json_array_size(as), 1);
    json_t *a0 = json_array_get(as, 0);
    assert_string_equal(s_str(a0, "notes"), "NoteQx7 threats at home");
    assert_null(json_object_get(a0, "by")); // the host's staff stay home
    json_t *plan = json_object_get(cw, "plan");
    assert_string_equal(s_str(json_object_get(plan, "goals"), "economic"),
                        "GoalNew");
    assert_null(json_object_get(plan, "by"));
    assert_int_equal(json_object_size(cw), 2); // no follow-ups, surveys
    char *text = json_dumps(cd, JSON_COMPACT);
    assert_null(strstr(text, "Awa Diop"));
    assert_null(strstr(text, "GoalOld"));
    free(text);

    // what the origin makes of it: a record that fails its checks and
    // an unknown key are left out, a referral item keeps its id apart
    json_array_append_new(as,
                          json_pack("{s:s, s:s, s:i}", "id", "00112233445566ff",
                                    "type", "bogus", "date", 1700000000));
    json_object_set_new(a0, "evil", json_string("x"));
    json_array_append_new(json_object_get(plan, "items"),
                          json_pack("{s:s, s:s, s:s, s:s}", "dimension",
                                    "social", "kind", "referral", "referral",
                                    "0123456789abcdef0123456789abcdef",
                                    "description", "school enrolment"));
    // items the other side could send that are none: no kind, not an
    // object (left out, nothing crashes)
    json_array_append_new(json_object_get(plan, "items"),
                          json_pack("{s:s}", "dimension", "social"));
    json_array_append_new(json_object_get(plan, "items"), json_string("x"));
    json_array_append_new(as, json_pack("{s:s}", "notes", "no type"));
    text = json_dumps(cd, JSON_COMPACT);
    json_decref(cd);
    uint8_t hid[16];
    pl_random(hid, sizeof hid);
    s_package_in(f, text, false, hid);
    free(text);
    char hex[33];
    pl_hex(hex, hid, 16);
    r = s_run(f, "handover.show", json_pack("{s:s}", "id", hex), &ok);
    assert_true(ok); // before deciding: what was sent, casework included
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(r, "casework"), "assessments")),
                     3);
    json_decref(r);
    for (int k = 0; k < 2; k++) {
        r = s_run(
            f, "handover.act",
            json_pack("{s:s, s:s}", "id", hex, "event", k ? "accept" : "ack"),
            &ok);
        assert_true(ok);
        if (k)
            snprintf(c, sizeof c, "%s", s_str(r, "case"));
        json_decref(r);
    }
    json_t *t = s_run(f, "case.timeline", json_pack("{s:s}", "case", c), &ok);
    assert_true(ok);
    as = json_object_get(t, "assessments");
    assert_int_equal(json_array_size(as), 1);
    a0 = json_array_get(as, 0);
    assert_string_equal(s_str(a0, "type"), "risk");
    assert_string_equal(s_str(a0, "notes"), "NoteQx7 threats at home");
    assert_null(json_object_get(a0, "evil"));
    assert_string_equal(s_str(json_object_get(a0, "received"), "from"),
                        "sn/origin");
    assert_string_equal(s_str(json_object_get(a0, "received"), "handover"),
                        hex);
    plan = json_object_get(t, "plan");
    assert_int_equal(json_integer_value(json_object_get(plan, "version")), 1);
    assert_string_equal(s_str(json_object_get(plan, "goals"), "economic"),
                        "GoalNew");
    json_t *items = json_object_get(plan, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *ri = json_array_get(items, 1);
    assert_null(json_object_get(ri, "referral"));
    assert_string_equal(s_str(ri, "sending_referral"),
                        "0123456789abcdef0123456789abcdef");
    assert_int_equal(json_array_size(json_object_get(t, "followups")), 0);
    json_decref(t);
    // the new case's agency revises the received draft as its own
    r = s_run(f, "plan.set",
              json_pack("{s:s, s:{s:{s:s}}}", "case", c, "record", "goals",
                        "social", "GoalOrigin"),
              &ok);
    assert_true(ok);
    assert_int_equal(json_integer_value(json_object_get(r, "version")), 2);
    json_decref(r);
}

// A case whose casework cannot be read (a damaged record): the handover
// is refused with the store's error, not "out of memory", and nothing is
// sent or recorded; the host keeps the case and may try again.
static void
test_casework_unreadable(void **state)
{
    pl_fakectx_t *f = *state;
    char c[33];
    s_new_case(f, "Mariama", c);
    uint8_t id[16], k[17];
    assert_int_equal(pl_unhex(id, 16, c), PL_OK);
    pl_case_rkey(k, 'k', id);
    pl_txn_t *txn = NULL;
    static const uint8_t junk[40] = {1, 2, 3};
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &txn), PL_OK);
    assert_int_equal(
        pl_store_put(txn, PL_DB_CASES, k, sizeof k, junk, sizeof junk), PL_OK);
    assert_int_equal(pl_store_commit(&txn), PL_OK);
    int before = f->sent;
    size_t handovers = pl_fakectx_count(f, PL_DB_HANDOVERS);
    json_t *reply = pl_fakectx_run(
        f, "handover",
        json_pack("{s:s, s:s, s:s, s:s}", "case", c, "to", "sn/origin",
                  "arrival", "2099-01-01", "consent_transfer", "yes"),
        "Awa Diop", NULL);
    assert_false(pl_fakectx_ok(reply));
    assert_string_not_equal(pl_fakectx_code(reply), "PL_ENOMEM");
    const char *err = s_str(reply, "error");
    assert_non_null(strstr(err, "cannot read"));
    assert_null(strstr(err, "memory"));
    json_decref(reply);
    assert_int_equal(f->sent, before);
    assert_int_equal(pl_fakectx_count(f, PL_DB_HANDOVERS), handovers);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_of_order, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_crossing, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_package_refused, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_child_package_cp, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_casework_unreadable, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_casework_carried, s_setup,
                                        pl_fakectx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
