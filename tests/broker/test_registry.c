// test_registry - the broker's enrolment registry (broker/pl_registry) as a
// unit, no daemon: a broker home with an authority's certificates is
// loaded; lookups by CurveZMQ key and by address; an expired and a revoked
// certificate are refused; a newer revocation list applies on reload; a
// reload that cannot read certs/ keeps the previous registry.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/pl_registry.h"
#include "proto/pl_cert.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"
#include "tests/lib/pl_test.h"

#define DAY 86400ULL

typedef struct {
    char *dir;
    char auth[600], home[600];
    pl_authority_t *authority;
    pl_keys_t *keys[3]; // 0 valid, 1 valid then revoked, 2 expired
    pl_cert_t cert[3];
    pl_log_t log;
} fx_t;

static void
s_path(char *out, size_t n, const fx_t *f, const char *rel)
{
    snprintf(out, n, "%s/%s", f->home, rel);
}

static void
s_issue(fx_t *f, int i, const char *name, uint64_t not_before,
        uint64_t not_after)
{
    pl_cert_t *c = &f->cert[i];
    memset(c, 0, sizeof *c);
    assert_int_equal(pl_keys_generate(&f->keys[i]), PL_OK);
    assert_int_equal(pl_authority_next_serial(f->authority, &c->serial), PL_OK);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->display_name, sizeof c->display_name, "Node %s", name);
    snprintf(c->sector, sizeof c->sector, "health");
    snprintf(c->country, sizeof c->country, "SN");
    c->keys = f->keys[i]->pub;
    c->not_before = not_before;
    c->not_after = not_after;
    pl_buf_t raw = {0};
    assert_int_equal(pl_authority_issue(f->authority, c, &raw), PL_OK);
    char rel[64], path[700];
    snprintf(rel, sizeof rel, "certs/%s.cert", name);
    s_path(path, sizeof path, f, rel);
    assert_int_equal(pl_file_write(path, raw.data, raw.len, 0644, true), PL_OK);
    pl_buf_free(&raw);
}

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = pl_test_tmpdir("registry");
    snprintf(f->auth, sizeof f->auth, "%s/auth", f->dir);
    snprintf(f->home, sizeof f->home, "%s/broker", f->dir);
    f->log = (pl_log_t){stderr, PL_LOG_ERROR, "test"};
    char path[700];
    s_path(path, sizeof path, f, "certs");
    if (pl_authority_create(f->auth, "sn") != PL_OK
        || pl_authority_open(f->auth, &f->authority) != PL_OK
        || pl_mkdirs(path, 0700) != PL_OK)
        return -1;
    // the broker trusts the authority's public key file
    char src[700];
    snprintf(src, sizeof src, "%s/authority.pub", f->auth);
    pl_buf_t pub = {0};
    s_path(path, sizeof path, f, "authority.pub");
    if (pl_file_read(src, 4096, &pub) != PL_OK
        || pl_file_write(path, pub.data, pub.len, 0644, false) != PL_OK)
        return -1;
    pl_buf_free(&pub);
    uint64_t now = (uint64_t) time(NULL);
    s_issue(f, 0, "clinic", now - DAY, now + 365 * DAY);
    s_issue(f, 1, "school", now - DAY, now + 365 * DAY);
    s_issue(f, 2, "old", now - 400 * DAY, now - 10 * DAY);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    for (int i = 0; i < 3; i++)
        pl_keys_destroy(&f->keys[i]);
    pl_authority_close(&f->authority);
    pl_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
test_load_and_lookup(void **state)
{
    fx_t *f = *state;
    pl_registry_t *reg = pl_registry_open(f->home, &f->log);
    assert_non_null(reg);
    uint64_t now = (uint64_t) time(NULL);
    // every certificate that verifies is listed, valid or not
    assert_int_equal(pl_registry_count(reg), 3);
    const pl_reg_entry_t *e = pl_registry_by_curve(reg, f->keys[0]->pub.curve);
    assert_non_null(e);
    assert_string_equal(e->cert.address, "sn/clinic");
    assert_int_equal(pl_registry_check(reg, e, now), PL_OK);
    assert_ptr_equal(pl_registry_by_address(reg, "sn/clinic", now), e);
    assert_non_null(pl_registry_by_address(reg, "sn/school", now));
    // an unknown key or address
    uint8_t other[32] = {0};
    assert_null(pl_registry_by_curve(reg, other));
    assert_null(pl_registry_by_address(reg, "sn/nobody", now));
    // expired: found by its key, refused by check and by address
    e = pl_registry_by_curve(reg, f->keys[2]->pub.curve);
    assert_non_null(e);
    assert_int_equal(pl_registry_check(reg, e, now), PL_EEXPIRED);
    assert_null(pl_registry_by_address(reg, "sn/old", now));
    assert_int_equal(pl_registry_revoked(reg)->number, 0);
    assert_memory_equal(pl_registry_authority(reg),
                        pl_authority_pk(f->authority), 32);
    pl_registry_close(&reg);
    assert_null(reg);
}

static void
test_revoked_on_reload(void **state)
{
    fx_t *f = *state;
    pl_registry_t *reg = pl_registry_open(f->home, &f->log);
    assert_non_null(reg);
    uint64_t now = (uint64_t) time(NULL);
    assert_non_null(pl_registry_by_address(reg, "sn/school", now));
    pl_buf_t list = {0};
    assert_int_equal(
        pl_authority_revoke(f->authority, f->cert[1].serial, &list), PL_OK);
    char path[700];
    s_path(path, sizeof path, f, "revoked");
    assert_int_equal(pl_file_write(path, list.data, list.len, 0644, true),
                     PL_OK);
    pl_buf_free(&list);
    assert_int_equal(pl_registry_reload(reg), 3);
    assert_int_equal(pl_registry_revoked(reg)->number, 1);
    const pl_reg_entry_t *e = pl_registry_by_curve(reg, f->keys[1]->pub.curve);
    assert_non_null(e);
    assert_int_equal(pl_registry_check(reg, e, now), PL_EREVOKED);
    assert_null(pl_registry_by_address(reg, "sn/school", now));
    // the others are untouched
    assert_non_null(pl_registry_by_address(reg, "sn/clinic", now));
    pl_registry_close(&reg);
}

static void
test_failed_reload_keeps_registry(void **state)
{
    fx_t *f = *state;
    // no log: the expected registry_reload_failed line stays quiet
    pl_registry_t *reg = pl_registry_open(f->home, NULL);
    assert_non_null(reg);
    uint64_t now = (uint64_t) time(NULL);
    // certs/ becomes unreadable as a folder (a file in its place: the
    // test runs as root too, where a mode would not stop a read)
    char certs[700], moved[700];
    s_path(certs, sizeof certs, f, "certs");
    s_path(moved, sizeof moved, f, "certs.moved");
    assert_int_equal(rename(certs, moved), 0);
    assert_int_equal(pl_file_write(certs, "x", 1, 0644, false), PL_OK);
    assert_int_equal(pl_registry_reload(reg), PL_EIO);
    assert_int_equal(pl_registry_count(reg), 3);
    assert_non_null(pl_registry_by_address(reg, "sn/clinic", now));
    assert_non_null(pl_registry_by_curve(reg, f->keys[1]->pub.curve));
    // readable again: the reload works
    assert_int_equal(unlink(certs), 0);
    assert_int_equal(rename(moved, certs), 0);
    assert_int_equal(pl_registry_reload(reg), 3);
    pl_registry_close(&reg);
}

static void
test_no_authority(void **state)
{
    fx_t *f = *state;
    char path[700];
    s_path(path, sizeof path, f, "authority.pub");
    assert_int_equal(unlink(path), 0);
    assert_null(pl_registry_open(f->home, NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_and_lookup, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_on_reload, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_failed_reload_keeps_registry,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_authority, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
