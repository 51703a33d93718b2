// test_anchor - federation anchors (proto/pl_anchor, issue 13): issue and
// decode, a tampered or foreign-signed anchor refused, the foreign broker
// certificate checked, validity, the published sectors, and the name
// constraint on foreign certificates.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/pl_anchor.h"
#include "proto/pl_cert.h"

typedef struct {
    char dir[64];
    char sn[128], gn[128], xx[128];
    pl_authority_t *asn, *agn, *axx; // three authorities
    pl_keys_t *keys;                 // keys of the certificates made here
} fixture_t;

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pl-test-anchor-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->sn, sizeof f->sn, "%s/sn", f->dir);
    snprintf(f->gn, sizeof f->gn, "%s/gn", f->dir);
    snprintf(f->xx, sizeof f->xx, "%s/xx", f->dir);
    if (pl_authority_create(f->sn, "sn") != PL_OK
        || pl_authority_create(f->gn, "gn") != PL_OK
        || pl_authority_create(f->xx, "xx") != PL_OK
        || pl_authority_open(f->sn, &f->asn) != PL_OK
        || pl_authority_open(f->gn, &f->agn) != PL_OK
        || pl_authority_open(f->xx, &f->axx) != PL_OK
        || pl_keys_generate(&f->keys) != PL_OK)
        return -1;
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    pl_authority_close(&f->asn);
    pl_authority_close(&f->agn);
    pl_authority_close(&f->axx);
    pl_keys_destroy(&f->keys);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

// A certificate by 'auth' for NAME of SECTOR, valid 30 days from now.
static void
s_cert(fixture_t *f, pl_authority_t *auth, const char *name, const char *sector,
       pl_buf_t *out)
{
    pl_cert_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(pl_authority_next_serial(auth, &c.serial), PL_OK);
    snprintf(c.name, sizeof c.name, "%s", name);
    snprintf(c.display_name, sizeof c.display_name, "%s", name);
    snprintf(c.sector, sizeof c.sector, "%s", sector);
    snprintf(c.country, sizeof c.country, "GN");
    c.keys = f->keys->pub;
    c.not_before = pl_now() - 60;
    c.not_after = pl_now() + 30 * 86400;
    assert_int_equal(pl_authority_issue(auth, &c, out), PL_OK);
}

static int
s_issue(fixture_t *f, const pl_buf_t *broker, const uint8_t *peer_pk,
        const char *network, const char *publish, pl_buf_t *out, char *err)
{
    pl_anchor_args_t a = {network,
                          peer_pk,
                          broker->data,
                          broker->len,
                          "tcp://127.0.0.1:7800",
                          publish,
                          pl_now() + 86400};
    return pl_anchor_issue(f->asn, &a, NULL, out, err, 256);
}

static void
test_issue_decode(void **state)
{
    fixture_t *f = *state;
    pl_buf_t broker = {0}, an = {0};
    char err[256] = "";
    s_cert(f, f->agn, "broker", "broker", &broker);
    assert_int_equal(
        s_issue(f, &broker, pl_authority_pk(f->agn), "gn", NULL, &an, err),
        PL_OK);
    pl_anchor_t a;
    assert_int_equal(
        pl_anchor_decode(an.data, an.len, pl_authority_pk(f->asn), &a), PL_OK);
    assert_string_equal(a.network, "sn");
    assert_string_equal(a.peer_network, "gn");
    assert_string_equal(a.peer_broker.address, "gn/broker");
    assert_string_equal(a.endpoint, "tcp://127.0.0.1:7800");
    assert_true(pl_anchor_publishes(&a, "agency"));
    assert_true(pl_anchor_publishes(&a, "child-protection"));
    assert_false(pl_anchor_publishes(&a, "health"));
    assert_false(pl_anchor_publishes(&a, "agenc"));
    assert_int_equal(pl_anchor_check(&a, pl_now()), PL_OK);
    assert_int_equal(pl_anchor_check(&a, pl_now() + 2 * 86400), PL_EEXPIRED);
    // another authority's key: refused
    pl_anchor_t b;
    assert_int_equal(
        pl_anchor_decode(an.data, an.len, pl_authority_pk(f->agn), &b),
        PL_EAUTH);
    // one bit flipped anywhere in the signed body: refused
    for (size_t i = 8; i < an.len - 70; i += 37) {
        an.data[i] ^= 1;
        int rc = pl_anchor_decode(an.data, an.len, pl_authority_pk(f->asn), &b);
        assert_int_not_equal(rc, PL_OK);
        an.data[i] ^= 1;
    }
    // foreign certificates through the anchor: gn's own prefix only
    pl_buf_t ok = {0}, evil = {0}, other = {0};
    s_cert(f, f->agn, "agency", "agency", &ok);
    pl_cert_t c;
    assert_int_equal(pl_anchor_cert(&a, ok.data, ok.len, &c), PL_OK);
    assert_string_equal(c.address, "gn/agency");
    // signed by xx: not the anchor's key
    s_cert(f, f->axx, "agency", "agency", &other);
    assert_int_equal(pl_anchor_cert(&a, other.data, other.len, &c), PL_EAUTH);
    pl_anchor_free(&a);
    pl_buf_free(&broker);
    pl_buf_free(&an);
    pl_buf_free(&ok);
    pl_buf_free(&evil);
    pl_buf_free(&other);
}

// gn's key signing a certificate for sn/...: the name constraint refuses it
static void
test_name_constraint(void **state)
{
    fixture_t *f = *state;
    pl_buf_t broker = {0}, an = {0}, evil = {0};
    char err[256] = "";
    s_cert(f, f->agn, "broker", "broker", &broker);
    assert_int_equal(
        s_issue(f, &broker, pl_authority_pk(f->agn), "gn", NULL, &an, err),
        PL_OK);
    pl_anchor_t a;
    assert_int_equal(
        pl_anchor_decode(an.data, an.len, pl_authority_pk(f->asn), &a), PL_OK);
    // an authority whose network file says sn but whose key is gn's: make
    // one by re-reading gn's home with its network file changed
    char path[200];
    snprintf(path, sizeof path, "%s/network", f->gn);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("sn\n", fp);
    fclose(fp);
    pl_authority_t *fake = NULL;
    assert_int_equal(pl_authority_open(f->gn, &fake), PL_OK);
    s_cert(f, fake, "evil", "agency", &evil);
    pl_authority_close(&fake);
    pl_cert_t c;
    assert_int_equal(pl_anchor_cert(&a, evil.data, evil.len, &c), PL_EPERM);
    pl_anchor_free(&a);
    pl_buf_free(&broker);
    pl_buf_free(&an);
    pl_buf_free(&evil);
}

static void
test_issue_refusals(void **state)
{
    fixture_t *f = *state;
    pl_buf_t broker = {0}, node = {0}, an = {0};
    char err[256] = "";
    s_cert(f, f->agn, "broker", "broker", &broker);
    s_cert(f, f->agn, "agency", "agency", &node);
    // not signed by the given foreign key
    assert_int_equal(
        s_issue(f, &broker, pl_authority_pk(f->axx), "gn", NULL, &an, err),
        PL_EINVAL);
    assert_non_null(strstr(err, "not signed"));
    // not a broker
    assert_int_equal(
        s_issue(f, &node, pl_authority_pk(f->agn), "gn", NULL, &an, err),
        PL_EINVAL);
    assert_non_null(strstr(err, "not a broker"));
    // another prefix than the one named
    assert_int_equal(
        s_issue(f, &broker, pl_authority_pk(f->agn), "xx", NULL, &an, err),
        PL_EINVAL);
    // our own network
    assert_int_equal(
        s_issue(f, &broker, pl_authority_pk(f->agn), "sn", NULL, &an, err),
        PL_EINVAL);
    // a sector that does not exist
    assert_int_equal(s_issue(f, &broker, pl_authority_pk(f->agn), "gn",
                             "agency,nonsense", &an, err),
                     PL_EINVAL);
    assert_int_equal(an.len, 0);
    // garbage never decodes
    uint8_t junk[200];
    memset(junk, 0x5a, sizeof junk);
    pl_anchor_t a;
    assert_int_not_equal(
        pl_anchor_decode(junk, sizeof junk, pl_authority_pk(f->asn), &a),
        PL_OK);
    pl_buf_free(&broker);
    pl_buf_free(&node);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issue_decode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_name_constraint, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_issue_refusals, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
