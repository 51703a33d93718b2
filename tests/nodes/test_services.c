// test_services - issue 18's node side without a daemon: the catalogue
// commands on a fake handler context (nodes/pl_node_ctx.h, a temp store),
// a catalogue changed or signed by another node's key refused with the
// store unchanged, the slip token (every changed character, an unknown
// key, an expired slip: refused), and matching on hand-built cases with
// the expected ranking (region, age limits, sex, language, capacity and
// its age).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_slip.h"
#include "nodes/pl_svc.h"
#include "proto/pl_keys.h"
#include "tests/lib/nodes/pl_fakectx.h"

// The fake (tests/lib/nodes/pl_fakectx.h): this node (a clinic) and one
// peer (an agency) in its directory, both with fresh keys and a display
// name.
static int
s_setup(void **state)
{
    pl_fakectx_t *f = pl_fakectx_new("services", "clinic", "health");
    pl_cert_t *peer = pl_fakectx_peer(f, "agency", "agency", true);
    snprintf(f->me.display_name, sizeof f->me.display_name, "clinic");
    snprintf(peer->display_name, sizeof peer->display_name, "agency");
    *state = f;
    return 0;
}

// Runs 'cmd' (tests/lib/nodes/pl_fakectx); returns its "result" (new
// reference) or NULL, *rc the handler's code.
static json_t *
s_run(pl_fakectx_t *f, const char *cmd, json_t *args, int *rc)
{
    json_t *reply = pl_fakectx_run(f, cmd, args, "tester", rc);
    json_t *res = json_incref(json_object_get(reply, "result"));
    json_decref(reply);
    return res;
}

// The agency's signed catalogue: one service, signed with 'k'.
static json_t *
s_peer_catalogue(pl_fakectx_t *f, const pl_keys_t *k, int version)
{
    json_t *doc = json_pack(
        "{s:i, s:s, s:i, s:i, s:[{s:s, s:s, s:s}]}", "v", 1, "address",
        f->dir[0].address, "version", version, "signed_at", 1, "services",
        "code", "case-management", "sector", "agency", "name_en", "Case mgmt");
    json_t *s = pl_svc_sign(doc, k);
    json_decref(doc);
    return s;
}

static void
test_catalogue_refusals(void **state)
{
    pl_fakectx_t *f = *state;
    int rc;
    size_t before = pl_fakectx_count(f, PL_DB_SETTINGS);
    // signed by this node's key though it names the agency: refused
    json_t *r = s_run(
        f, "service.import",
        json_pack("{s:o}", "catalogue", s_peer_catalogue(f, f->keys, 1)), &rc);
    assert_int_equal(rc, PL_EAUTH);
    json_decref(r);
    // the agency's own, one character changed: refused
    json_t *s = s_peer_catalogue(f, f->dir_keys[0], 1);
    char *t = strdup(json_string_value(json_object_get(s, "doc")));
    char *p = strstr(t, "Case mgmt");
    assert_non_null(p);
    p[0] = 'K';
    json_t *changed =
        json_pack("{s:s, s:O}", "doc", t, "sig", json_object_get(s, "sig"));
    free(t);
    r = s_run(f, "service.import", json_pack("{s:o}", "catalogue", changed),
              &rc);
    assert_int_equal(rc, PL_EAUTH);
    json_decref(r);
    assert_int_equal(pl_fakectx_count(f, PL_DB_SETTINGS), before);
    // as signed: taken, and listed; the same version again: not newer
    r = s_run(f, "service.import", json_pack("{s:O}", "catalogue", s), &rc);
    assert_int_equal(rc, PL_OK);
    json_decref(r);
    r = s_run(f, "service.import", json_pack("{s:o}", "catalogue", s), &rc);
    assert_int_equal(rc, PL_EEXIST);
    json_decref(r);
    r = s_run(f, "service.list", json_object(), &rc);
    assert_int_equal(rc, PL_OK);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r, 0), "address")),
        "sn/agency");
    json_decref(r);
}

static void
test_own_catalogue_capacity(void **state)
{
    pl_fakectx_t *f = *state;
    int rc;
    json_t *r = s_run(f, "service.add",
                      json_pack("{s:{s:s, s:s, s:s, s:i}}", "entry", "code",
                                "primary-care", "sector", "health", "name_fr",
                                "Soins", "max_age", 200),
                      &rc);
    assert_int_equal(rc, PL_EINVAL); // an age over 130
    json_decref(r);
    r = s_run(f, "service.add",
              json_pack("{s:{s:s, s:s, s:s}}", "entry", "code", "primary-care",
                        "sector", "health", "name_fr", "Soins"),
              &rc);
    assert_int_equal(rc, PL_OK);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(r, "entry"), "dimension")),
                        "social");
    json_decref(r);
    r = s_run(f, "service.capacity",
              json_pack("{s:s, s:s, s:i}", "code", "primary-care", "state",
                        "limited", "free", 3),
              &rc);
    assert_int_equal(rc, PL_OK);
    // versions grow, at least the signing time
    assert_true(json_integer_value(json_object_get(r, "version"))
                >= (json_int_t) pl_now());
    json_decref(r);
    r = s_run(f, "service.capacity",
              json_pack("{s:s, s:s}", "code", "primary-care", "state", "busy"),
              &rc);
    assert_int_equal(rc, PL_EINVAL);
    json_decref(r);
    // the export verifies against this node's certificate, not another's
    r = s_run(f, "service.export", json_object(), &rc);
    assert_int_equal(rc, PL_OK);
    json_t *doc = NULL;
    const char *why;
    assert_int_equal(pl_svc_verify(r, &f->me, &doc, &why), PL_OK);
    json_decref(doc);
    assert_int_equal(pl_svc_verify(r, &f->dir[0], &doc, &why), PL_EAUTH);
    json_decref(r);
}

static void
test_slip_token(void **state)
{
    pl_fakectx_t *f = *state;
    pl_slip_t s = {.issued = 1790000000, .expires = 1790000000 + 86400};
    memset(s.referral, 0xab, sizeof s.referral);
    pl_slip_addr_hash("sn/clinic", s.to_hash);
    char text[PL_SLIP_TEXT];
    assert_int_equal(pl_slip_make(&s, f->dir_keys[0], text), PL_OK);
    assert_int_equal(strlen(text), 158);
    assert_int_equal(pl_slip_verify(text, &f->dir[0]), PL_OK);
    assert_int_equal(pl_slip_verify(text, &f->me), PL_EAUTH);
    // every single changed character is refused
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    for (size_t i = 0; i < strlen(text); i++) {
        char bad[PL_SLIP_TEXT];
        memcpy(bad, text, sizeof bad);
        bad[i] = alpha[(strchr(alpha, bad[i]) - alpha + 1) % 45];
        assert_int_not_equal(pl_slip_verify(bad, &f->dir[0]), PL_OK);
    }
    pl_slip_t back;
    assert_int_equal(pl_slip_parse(text, &back), PL_OK);
    assert_memory_equal(back.referral, s.referral, sizeof s.referral);
    assert_int_equal(back.expires, s.expires);
    assert_int_equal(pl_slip_parse("BB8", &back), PL_EPROTO);
    // a token whose text begins with a space (a Base45 digit): checked as
    // made, with the space lost (as a page shows it), with one too many,
    // and with line breaks around it
    bool spaced = false;
    for (int b = 0; b < 256 && !spaced; b++) {
        s.referral[0] = (uint8_t) b;
        assert_int_equal(pl_slip_make(&s, f->dir_keys[0], text), PL_OK);
        spaced = text[0] == ' ';
    }
    assert_true(spaced);
    assert_int_equal(pl_slip_verify(text, &f->dir[0]), PL_OK);
    assert_int_equal(pl_slip_verify(text + 1, &f->dir[0]), PL_OK);
    char around[PL_SLIP_TEXT + 8];
    snprintf(around, sizeof around, "\r\n %s \n", text);
    assert_int_equal(pl_slip_verify(around, &f->dir[0]), PL_OK);
    snprintf(around, sizeof around, "%s", text + 2); // two short: refused
    assert_int_not_equal(pl_slip_verify(around, &f->dir[0]), PL_OK);
    s.expires = s.issued;
    assert_int_equal(pl_slip_make(&s, f->dir_keys[0], text), PL_EINVAL);
}

static void
test_slip_check_offline(void **state)
{
    pl_fakectx_t *f = *state;
    int rc;
    uint64_t now = pl_now();
    pl_slip_t s = {.issued = now - 10 * 86400, .expires = now - 86400};
    pl_slip_addr_hash("sn/clinic", s.to_hash);
    char text[PL_SLIP_TEXT];
    // expired: refused, and says so
    assert_int_equal(pl_slip_make(&s, f->dir_keys[0], text), PL_OK);
    json_t *r = s_run(f, "slip.check", json_pack("{s:s}", "code", text), &rc);
    assert_int_equal(rc, PL_OK);
    assert_true(json_is_false(json_object_get(r, "valid")));
    assert_true(json_is_true(json_object_get(r, "expired")));
    assert_true(json_is_true(json_object_get(r, "for_this_node")));
    assert_string_equal(json_string_value(json_object_get(r, "sender")),
                        "sn/agency");
    json_decref(r);
    // signed by a key this node does not know
    pl_keys_t *stranger = NULL;
    assert_int_equal(pl_keys_generate(&stranger), PL_OK);
    s.expires = now + 86400;
    assert_int_equal(pl_slip_make(&s, stranger, text), PL_OK);
    pl_keys_destroy(&stranger);
    r = s_run(f, "slip.check", json_pack("{s:s}", "code", text), &rc);
    assert_int_equal(rc, PL_ENOTFOUND);
    json_decref(r);
    // in force
    assert_int_equal(pl_slip_make(&s, f->dir_keys[0], text), PL_OK);
    r = s_run(f, "slip.check", json_pack("{s:s}", "code", text), &rc);
    assert_int_equal(rc, PL_OK);
    assert_true(json_is_true(json_object_get(r, "valid")));
    json_decref(r);
}

// An offer {address, entry} for matching; capacity 'cap' set at 'at'.
static json_t *
s_offer(const char *addr, const char *code, const char *sector,
        const char *region, const char *langs, const char *cap, uint64_t at)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "code", code, "sector",
                          sector, "name_en", code, "region", region);
    if (langs) {
        json_t *a = json_array();
        for (const char *p = langs; *p; p += strlen(p) + 1)
            json_array_append_new(a, json_string(p));
        json_object_set_new(e, "languages", a);
    }
    assert_null(pl_svc_entry_check(e));
    if (cap)
        assert_null(pl_svc_capacity(e, cap, -1, 0, at));
    return json_pack("{s:s, s:o}", "address", addr, "entry", e);
}

static void
s_expect(const json_t *m, const char *const *want, const int *scores)
{
    const json_t *s = json_object_get(m, "suggestions");
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(json_array_size(s), n);
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(s, i);
        assert_string_equal(json_string_value(json_object_get(o, "code")),
                            want[i]);
        assert_int_equal(json_integer_value(json_object_get(o, "score")),
                         scores[i]);
    }
}

static void
test_matching_ranking(void **state)
{
    (void) state;
    uint64_t now = 1800000000;
    json_t *offers = json_array();
    json_array_append_new(offers, s_offer("sn/a", "job-placement", "livelihood",
                                          "dakar", "fr\0wo\0", "open", now));
    json_array_append_new(offers, s_offer("sn/b", "tvet-course", "tvet",
                                          "thies", NULL, "limited", now));
    json_array_append_new(offers, s_offer("sn/c", "microcredit", "livelihood",
                                          "dakar", "fr\0", "full", now));
    json_array_append_new(offers, s_offer("sn/h", "counselling", "mhpss",
                                          "dakar", NULL, NULL, 0));
    json_array_append_new(offers, s_offer("sn/f", "primary-care", "health",
                                          "dakar", NULL, "open", now));
    json_t *d = s_offer("sn/d", "youth-tvet", "tvet", "dakar", NULL, NULL, 0);
    json_object_set_new(json_object_get(d, "entry"), "max_age",
                        json_integer(25));
    json_array_append_new(offers, d);
    json_t *e =
        s_offer("sn/e", "men-jobs", "livelihood", "dakar", NULL, NULL, 0);
    json_object_set_new(json_object_get(e, "entry"), "sex",
                        json_string("male"));
    json_array_append_new(offers, e);
    json_t *grid = json_loads(
        "{\"rules\": [{\"need\": \"economic\", \"context\": \"adult\", "
        "\"services\": [\"job-placement\", \"tvet-course\", "
        "\"microcredit\"]}]}",
        0, NULL);
    pl_svc_person_t p = {.needs = json_pack("[s]", "economic"),
                         .lowest = "psychosocial",
                         .region = "dakar",
                         .age = 30,
                         .sex = "female",
                         .language = "wo"};
    // now: region, language and capacity as signalled
    json_t *m = pl_svc_match(offers, &p, grid, now);
    static const char *const w1[] = {"job-placement", "tvet-course",
                                     "microcredit", "counselling", NULL};
    static const int s1[] = {110, 70, 45, 40};
    s_expect(m, w1, s1);
    assert_int_equal(json_array_size(json_object_get(m, "excluded")), 3);
    json_decref(m);
    // 15 days later every signal is too old to count: microcredit's
    // "full" no longer pushes it down
    m = pl_svc_match(offers, &p, grid, now + 15 * 86400);
    static const char *const w2[] = {"job-placement", "microcredit",
                                     "tvet-course", "counselling", NULL};
    static const int s2[] = {95, 75, 65, 40};
    s_expect(m, w2, s2);
    json_decref(m);
    // a man of 20: the age limit and the sex no longer exclude
    p.age = 20, p.sex = "male";
    m = pl_svc_match(offers, &p, grid, now);
    assert_int_equal(json_array_size(json_object_get(m, "suggestions")), 6);
    json_decref(m);
    json_decref(p.needs);
    json_decref(grid);
    json_decref(offers);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalogue_refusals, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_own_catalogue_capacity, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_slip_token, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test_setup_teardown(test_slip_check_offline, s_setup,
                                        pl_fakectx_teardown),
        cmocka_unit_test(test_matching_ranking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
