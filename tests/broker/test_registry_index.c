// test_registry_index - the registry's sorted indexes (issue 20): with
// many certificates enrolled, every one is found by its CurveZMQ key and
// by its address; an address enrolled twice gives its newest valid
// certificate (the older one once the newer is revoked); a revoked
// certificate is found by key (and refused by check) but not by address;
// a certificate removed from certs/ is found by neither after a reload;
// keys and addresses that are not enrolled, including ones that sort
// before the first and after the last entry, are not found.
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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/pl_registry.h"
#include "proto/pl_cert.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"
#include "tests/lib/pl_test.h"

#define DAY 86400ULL
#define N   1000 // certificates enrolled (node i is "n<i>")

typedef struct {
    char *dir;
    char auth[600], home[600];
    pl_authority_t *authority;
    pl_cert_t cert[N + 1]; // [N]: a second certificate of node 7
} fx_t;

static void
s_issue(fx_t *f, pl_cert_t *c, uint64_t serial, const char *name,
        const char *file)
{
    uint64_t now = (uint64_t) time(NULL);
    memset(c, 0, sizeof *c);
    // serials of our own choosing: pl_authority_next_serial fsyncs each,
    // which would make this setup take half a minute
    c->serial = serial;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->display_name, sizeof c->display_name, "Node %s", name);
    snprintf(c->sector, sizeof c->sector, "health");
    snprintf(c->country, sizeof c->country, "SN");
    // the registry reads only public keys: random bytes will do
    randombytes_buf(&c->keys, sizeof c->keys);
    c->not_before = now - DAY;
    c->not_after = now + 365 * DAY;
    pl_buf_t raw = {0};
    assert_int_equal(pl_authority_issue(f->authority, c, &raw), PL_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/certs/%s.cert", f->home, file);
    assert_int_equal(pl_file_write(path, raw.data, raw.len, 0644, false),
                     PL_OK);
    pl_buf_free(&raw);
}

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f || pl_crypto_init() != PL_OK)
        return -1;
    f->dir = pl_test_tmpdir("registry-index");
    snprintf(f->auth, sizeof f->auth, "%s/auth", f->dir);
    snprintf(f->home, sizeof f->home, "%s/broker", f->dir);
    char path[700], src[700];
    snprintf(path, sizeof path, "%s/certs", f->home);
    if (pl_authority_create(f->auth, "sn") != PL_OK
        || pl_authority_open(f->auth, &f->authority) != PL_OK
        || pl_mkdirs(path, 0700) != PL_OK)
        return -1;
    snprintf(src, sizeof src, "%s/authority.pub", f->auth);
    snprintf(path, sizeof path, "%s/authority.pub", f->home);
    pl_buf_t pub = {0};
    if (pl_file_read(src, 4096, &pub) != PL_OK
        || pl_file_write(path, pub.data, pub.len, 0644, false) != PL_OK)
        return -1;
    pl_buf_free(&pub);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%d", i);
        s_issue(f, &f->cert[i], 1000 + (uint64_t) i, name, name);
    }
    s_issue(f, &f->cert[N], 1000 + N, "n7",
            "n7-renewed"); // newer serial, same address
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    pl_authority_close(&f->authority);
    pl_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
test_every_entry_found(void **state)
{
    fx_t *f = *state;
    pl_registry_t *reg = pl_registry_open(f->home, NULL);
    assert_non_null(reg);
    uint64_t now = (uint64_t) time(NULL);
    assert_int_equal(pl_registry_count(reg), N + 1);
    for (int i = 0; i <= N; i++) {
        const pl_reg_entry_t *e =
            pl_registry_by_curve(reg, f->cert[i].keys.curve);
        assert_non_null(e);
        assert_int_equal(e->cert.serial, f->cert[i].serial);
        char address[PL_ADDRESS_MAX + 1];
        snprintf(address, sizeof address, "sn/%s", f->cert[i].name);
        e = pl_registry_by_address(reg, address, now);
        assert_non_null(e);
        // node 7's address gives its renewed certificate
        assert_int_equal(e->cert.serial,
                         i == 7 ? f->cert[N].serial : f->cert[i].serial);
    }
    // not enrolled: below the first, above the last, in between
    uint8_t key[32];
    memset(key, 0, sizeof key);
    assert_null(pl_registry_by_curve(reg, key));
    memset(key, 0xff, sizeof key);
    assert_null(pl_registry_by_curve(reg, key));
    memcpy(key, f->cert[3].keys.curve, 32);
    key[31] ^= 1;
    assert_null(pl_registry_by_curve(reg, key));
    assert_null(pl_registry_by_address(reg, "", now));
    assert_null(pl_registry_by_address(reg, "sn/n", now));
    assert_null(pl_registry_by_address(reg, "sn/n15000", now));
    assert_null(pl_registry_by_address(reg, "zz/n1", now));
    pl_registry_close(&reg);
}

static void
test_revoked_and_removed(void **state)
{
    fx_t *f = *state;
    pl_registry_t *reg = pl_registry_open(f->home, NULL);
    assert_non_null(reg);
    uint64_t now = (uint64_t) time(NULL);
    // revoke node 7's renewed certificate and node 100's only one
    pl_buf_t list = {0};
    assert_int_equal(
        pl_authority_revoke(f->authority, f->cert[N].serial, &list), PL_OK);
    pl_buf_free(&list);
    assert_int_equal(
        pl_authority_revoke(f->authority, f->cert[100].serial, &list), PL_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/revoked", f->home);
    assert_int_equal(pl_file_write(path, list.data, list.len, 0644, true),
                     PL_OK);
    pl_buf_free(&list);
    // and take node 200's certificate out of certs/
    snprintf(path, sizeof path, "%s/certs/n200.cert", f->home);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(pl_registry_reload(reg), N);

    const pl_reg_entry_t *e = pl_registry_by_address(reg, "sn/n7", now);
    assert_non_null(e);
    assert_int_equal(e->cert.serial, f->cert[7].serial); // the older one
    e = pl_registry_by_curve(reg, f->cert[N].keys.curve);
    assert_non_null(e);
    assert_int_equal(pl_registry_check(reg, e, now), PL_EREVOKED);

    assert_null(pl_registry_by_address(reg, "sn/n100", now));
    e = pl_registry_by_curve(reg, f->cert[100].keys.curve);
    assert_non_null(e);
    assert_int_equal(pl_registry_check(reg, e, now), PL_EREVOKED);

    assert_null(pl_registry_by_address(reg, "sn/n200", now));
    assert_null(pl_registry_by_curve(reg, f->cert[200].keys.curve));
    // the rest as before
    for (int i = 0; i < N; i++) {
        if (i == 7 || i == 100 || i == 200)
            continue;
        char address[PL_ADDRESS_MAX + 1];
        snprintf(address, sizeof address, "sn/%s", f->cert[i].name);
        e = pl_registry_by_address(reg, address, now);
        assert_non_null(e);
        assert_int_equal(e->cert.serial, f->cert[i].serial);
        assert_ptr_equal(pl_registry_by_curve(reg, f->cert[i].keys.curve), e);
    }
    pl_registry_close(&reg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry_found),
        // changes the registry's files: runs last
        cmocka_unit_test(test_revoked_and_removed),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
