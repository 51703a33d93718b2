// test_broker_index - the hash index of the broker's sessions and figures
// (broker/pl_index, issue 20: lookups by routing id and by address no
// longer scan every connected node). An array of 20,000 keys kept the way
// the broker keeps its sessions (append; a drop moves the last entry into
// the hole and renumbers it) is checked against the index after every
// step: every live key is found at its own entry, every dropped or never
// added key is not; keys that share a prefix or differ only in length are
// told apart; a key re-filed under a new routing id is found by the new
// one only; an index cleared and refilled works again.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "broker/pl_index.h"

#define N 20000 // keys

typedef struct {
    char key[N][24]; // "n<i>" (variable length), in array order
    size_t n;        // live entries
} fx_array_t;

static fx_array_t s_arr;

static bool
s_eq(const void *arg, size_t i, const void *key, size_t len)
{
    const fx_array_t *a = arg;
    return i < a->n && strlen(a->key[i]) == len
           && memcmp(a->key[i], key, len) == 0;
}

static size_t
s_find(const pl_index_t *ix, const char *key)
{
    return pl_index_find(ix, key, strlen(key), s_eq, &s_arr);
}

static void
s_add(pl_index_t *ix, const char *key)
{
    snprintf(s_arr.key[s_arr.n], sizeof s_arr.key[0], "%s", key);
    assert_int_equal(pl_index_put(ix, key, strlen(key), s_arr.n), 0);
    s_arr.n++;
}

// the broker's drop: remove entry i, the last one takes its place
static void
s_drop(pl_index_t *ix, size_t i)
{
    size_t last = s_arr.n - 1;
    pl_index_del(ix, s_arr.key[i], strlen(s_arr.key[i]), i);
    if (i != last) {
        pl_index_renumber(ix, s_arr.key[last], strlen(s_arr.key[last]), last,
                          i);
        memcpy(s_arr.key[i], s_arr.key[last], sizeof s_arr.key[0]);
    }
    s_arr.n--;
}

static void
s_check_all(const pl_index_t *ix)
{
    assert_int_equal(ix->n, s_arr.n);
    for (size_t i = 0; i < s_arr.n; i++)
        assert_int_equal(s_find(ix, s_arr.key[i]), i);
}

static void
test_add_find_drop(void **state)
{
    (void) state;
    pl_index_t ix = {0};
    s_arr.n = 0;
    assert_int_equal(s_find(&ix, "n0"), PL_INDEX_NONE); // empty index
    char k[24];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "n%d", i);
        s_add(&ix, k);
    }
    s_check_all(&ix);
    // "n1" vs "n10" vs "n100": prefixes are different keys
    assert_int_equal(s_find(&ix, "n1"), 1);
    assert_int_equal(s_find(&ix, "n10"), 10);
    assert_int_equal(s_find(&ix, "n"), PL_INDEX_NONE);
    assert_int_equal(s_find(&ix, "n20000"), PL_INDEX_NONE);
    // drop about two thirds at random places, checking as we go
    uint32_t seed = 7;
    for (int d = 0; d < 2 * N / 3; d++) {
        seed = seed * 1103515245u + 12345u;
        size_t i = (seed >> 8) % s_arr.n;
        char gone[24];
        snprintf(gone, sizeof gone, "%s", s_arr.key[i]);
        s_drop(&ix, i);
        assert_int_equal(s_find(&ix, gone), PL_INDEX_NONE);
        if (d % 1000 == 0)
            s_check_all(&ix);
    }
    s_check_all(&ix);
    // every key never added or dropped is not found
    size_t absent = 0;
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "n%d", i);
        size_t at = s_find(&ix, k);
        if (at == PL_INDEX_NONE)
            absent++;
        else
            assert_string_equal(s_arr.key[at], k);
    }
    assert_int_equal(absent, N - s_arr.n);
    // add back after drops (slots reused after backward shifts)
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "m%d", i);
        s_add(&ix, k);
    }
    s_check_all(&ix);
    pl_index_clear(&ix);
    assert_int_equal(s_find(&ix, "m1"), PL_INDEX_NONE);
}

// a reconnect: the same entry filed under a new routing id
static void
test_refile(void **state)
{
    (void) state;
    pl_index_t ix = {0};
    s_arr.n = 0;
    s_add(&ix, "rid-old");
    s_add(&ix, "other");
    assert_int_equal(pl_index_put(&ix, "rid-new", 7, 0), 0);
    pl_index_del(&ix, "rid-old", 7, 0);
    snprintf(s_arr.key[0], sizeof s_arr.key[0], "rid-new");
    assert_int_equal(s_find(&ix, "rid-new"), 0);
    assert_int_equal(s_find(&ix, "rid-old"), PL_INDEX_NONE);
    assert_int_equal(s_find(&ix, "other"), 1);
    // deleting what is not filed changes nothing
    pl_index_del(&ix, "nothing", 7, 0);
    pl_index_del(&ix, "other", 5, 0); // right key, wrong entry
    assert_int_equal(ix.n, 2);
    assert_int_equal(s_find(&ix, "other"), 1);
    // binary keys (routing ids are bytes, with zeros)
    uint8_t rid[5] = {0, 0x80, 0, 0, 1};
    assert_int_equal(pl_index_put(&ix, rid, sizeof rid, 2), 0);
    memcpy(s_arr.key[2], rid, sizeof rid);
    assert_int_equal(ix.n, 3);
    pl_index_clear(&ix);
    pl_index_clear(&ix); // twice is fine
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_drop),
        cmocka_unit_test(test_refile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
