// test_sealed - one sealed JSON record (nodes/pl_sealed): a round trip,
// the key wiped by release on every path, a record that cannot be moved
// to another key or database, damaged records refused.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_sealed.h"
#include "tests/lib/nodes/pl_teststore.h"
#include "tests/lib/pl_test.h"

typedef struct {
    pl_teststore_t ts; // temp home and store (tests/lib/nodes)
    pl_txn_t *txn;
} s_fix_t;

static int
s_setup(void **state)
{
    s_fix_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pl_teststore_open(&f->ts, "sealed", 4u << 20);
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &f->txn), PL_OK);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    s_fix_t *f = *state;
    pl_store_abort(&f->txn);
    pl_teststore_close(&f->ts);
    free(f);
    return 0;
}

static bool
s_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static const uint8_t s_k1[16] = {1}, s_k2[16] = {2};

// A record under a fresh data key at s_k1 of "cases".
static void
s_make(s_fix_t *f)
{
    pl_sealed_t s = {.hdr = {PL_SEALED_VER},
                     .doc = json_pack("{s:s}", "family", "Diallo")};
    assert_int_equal(pl_store_datakey_new(f->txn, s.hdr + 1, s.dk), PL_OK);
    assert_false(s_zero(s.dk, sizeof s.dk));
    assert_int_equal(pl_sealed_save(&s, f->txn, PL_DB_CASES, s_k1, 16), PL_OK);
    pl_sealed_release(&s);
    assert_null(s.doc);
    assert_true(s_zero(s.dk, sizeof s.dk));
    pl_sealed_release(&s); // idempotent
    pl_sealed_release(NULL);
}

static void
test_round_trip(void **state)
{
    s_fix_t *f = *state;
    s_make(f);
    pl_sealed_t s = PL_SEALED_INIT;
    assert_int_equal(pl_sealed_open(&s, f->txn, PL_DB_CASES, s_k1, 16, NULL),
                     PL_OK);
    assert_string_equal(json_string_value(json_object_get(s.doc, "family")),
                        "Diallo");
    assert_false(s_zero(s.dk, sizeof s.dk));
    json_object_set_new(s.doc, "closed", json_integer(5));
    assert_int_equal(pl_sealed_save(&s, f->txn, PL_DB_CASES, s_k1, 16), PL_OK);
    json_t *doc = pl_sealed_take(&s);
    assert_true(s_zero(s.dk, sizeof s.dk));
    assert_null(s.doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "closed")), 5);
    json_decref(doc);
    // nothing in plain at rest
    assert_int_equal(pl_store_commit(&f->txn), PL_OK);
    assert_int_equal(pl_test_grep_tree(f->ts.home, "Diallo", 6), 0);
    assert_int_equal(pl_store_begin(f->ts.store, NULL, true, &f->txn), PL_OK);
}

static void
test_refusals(void **state)
{
    s_fix_t *f = *state;
    s_make(f);
    pl_sealed_t s = PL_SEALED_INIT;
    assert_int_equal(pl_sealed_open(&s, f->txn, PL_DB_CASES, s_k2, 16, NULL),
                     PL_ENOTFOUND);
    assert_null(s.doc);
    // moved to another key, or another database: does not open
    const uint8_t *v;
    size_t vlen;
    assert_int_equal(pl_store_get(f->txn, PL_DB_CASES, s_k1, 16, &v, &vlen),
                     PL_OK);
    uint8_t *copy = malloc(vlen);
    assert_non_null(copy);
    memcpy(copy, v, vlen);
    assert_int_equal(pl_store_put(f->txn, PL_DB_CASES, s_k2, 16, copy, vlen),
                     PL_OK);
    assert_int_equal(pl_store_put(f->txn, PL_DB_CONSENTS, s_k1, 16, copy, vlen),
                     PL_OK);
    assert_int_not_equal(
        pl_sealed_open(&s, f->txn, PL_DB_CASES, s_k2, 16, NULL), PL_OK);
    assert_null(s.doc);
    assert_true(s_zero(s.dk, sizeof s.dk));
    assert_int_not_equal(
        pl_sealed_open(&s, f->txn, PL_DB_CONSENTS, s_k1, 16, NULL), PL_OK);
    assert_true(s_zero(s.dk, sizeof s.dk));
    // another version, or too short: PL_EPROTO
    copy[0] = 2;
    assert_int_equal(pl_store_put(f->txn, PL_DB_CASES, s_k2, 16, copy, vlen),
                     PL_OK);
    assert_int_equal(pl_sealed_open(&s, f->txn, PL_DB_CASES, s_k2, 16, NULL),
                     PL_EPROTO);
    assert_int_equal(pl_store_put(f->txn, PL_DB_CASES, s_k2, 16, copy, 10),
                     PL_OK);
    assert_int_equal(pl_sealed_open(&s, f->txn, PL_DB_CASES, s_k2, 16, NULL),
                     PL_EPROTO);
    free(copy);
    pl_sealed_release(&s);
    // saving nothing is refused
    assert_int_equal(pl_sealed_save(&s, f->txn, PL_DB_CASES, s_k2, 16),
                     PL_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
