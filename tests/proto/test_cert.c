// test_cert - authority, certificates, revocation lists (proto/pl_cert).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/passerelle.pb-c.h"
#include "proto/pl_cert.h"

#define DAY 86400u

// ---- fixture: one authority "sn" with a node key set, in a temp folder

typedef struct {
    char dir[64];         // temp folder (removed after)
    char home[128];       // authority home
    pl_authority_t *auth; // open authority
    pl_keys_t *node;      // the node's keys
    uint64_t now;         // reference time
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
    snprintf(f->dir, sizeof f->dir, "/tmp/pl-test-cert-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->home, sizeof f->home, "%s/auth", f->dir);
    if (pl_authority_create(f->home, "sn") != PL_OK
        || pl_authority_open(f->home, &f->auth) != PL_OK
        || pl_keys_generate(&f->node) != PL_OK)
        return -1;
    f->now = 1700000000;
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    pl_authority_close(&f->auth);
    pl_keys_destroy(&f->node);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

// Fields of a typical certificate valid around f->now.
static void
s_fields(fixture_t *f, pl_cert_t *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(pl_authority_next_serial(f->auth, &c->serial), PL_OK);
    snprintf(c->name, sizeof c->name, "hopital-fann");
    snprintf(c->display_name, sizeof c->display_name, "Hôpital de Fann");
    snprintf(c->organisation, sizeof c->organisation, "Ministère de la Santé");
    snprintf(c->sector, sizeof c->sector, "health");
    snprintf(c->country, sizeof c->country, "SN");
    snprintf(c->region, sizeof c->region, "dakar");
    snprintf(c->services, sizeof c->services, "primary-care,mhpss.referral");
    snprintf(c->home_broker, sizeof c->home_broker, "sn/broker");
    c->keys = f->node->pub;
    c->not_before = f->now - DAY;
    c->not_after = f->now + PL_CERT_DAYS * DAY;
}

static void
s_issue(fixture_t *f, pl_cert_t *c, pl_buf_t *out)
{
    s_fields(f, c);
    assert_int_equal(pl_authority_issue(f->auth, c, out), PL_OK);
}

// ---- tests

static void
test_sectors(void **state)
{
    (void) state;
    static const char *const map[][2] = {
        {"agency", "coordination"},
        {"health", "social"},
        {"mhpss", "psychosocial"},
        {"education", "social"},
        {"tvet", "economic"},
        {"housing", "social"},
        {"child-protection", "protection"},
        {"gbv", "protection"},
        {"legal", "social"},
        {"livelihood", "economic"},
        {"social-protection", "economic"},
        {"basic-needs", "economic"},
        {"family-tracing", "social"},
        {"coordination", "coordination"},
        {"broker", "coordination"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        assert_true(pl_sector_valid(map[i][0]));
        assert_string_equal(pl_sector_dimension(map[i][0]), map[i][1]);
        assert_non_null(strstr(pl_sector_list(), map[i][0]));
    }
    assert_false(pl_sector_valid("Health"));
    assert_false(pl_sector_valid(""));
    assert_false(pl_sector_valid(NULL));
    assert_null(pl_sector_dimension("police"));
}

static void
test_authority_files(void **state)
{
    fixture_t *f = *state;
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/keys/authority.secret", f->home);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_string_equal(pl_authority_network(f->auth), "sn");
    assert_int_equal(pl_authority_create(f->home, "sn"), PL_EEXIST);
    assert_int_equal(pl_authority_create(f->home, "Not A Slug"), PL_EINVAL);

    uint8_t pk[32];
    snprintf(path, sizeof path, "%s/authority.pub", f->home);
    assert_int_equal(pl_authority_pub_load(path, pk), PL_OK);
    assert_memory_equal(pk, pl_authority_pk(f->auth), 32);

    // serials persist across opens
    uint64_t s1, s2;
    assert_int_equal(pl_authority_next_serial(f->auth, &s1), PL_OK);
    pl_authority_t *again = NULL;
    assert_int_equal(pl_authority_open(f->home, &again), PL_OK);
    assert_int_equal(pl_authority_next_serial(again, &s2), PL_OK);
    assert_int_equal(s2, s1 + 1);
    pl_authority_close(&again);
    assert_null(again);

    // a readable secret is refused
    snprintf(path, sizeof path, "%s/keys/authority.secret", f->home);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(pl_authority_open(f->home, &again), PL_EPERM);
    assert_null(again);
    assert_int_equal(chmod(path, 0600), 0);
}

static void
test_issue_decode_roundtrip(void **state)
{
    fixture_t *f = *state;
    pl_cert_t c, d;
    pl_buf_t enc = {0}, raw = {0};
    s_issue(f, &c, &enc);
    assert_true(enc.len > 0 && enc.len <= PL_CERT_MAX);
    assert_string_equal(c.address, "sn/hopital-fann");
    assert_string_equal(c.network, "sn");

    assert_int_equal(
        pl_cert_decode(enc.data, enc.len, pl_authority_pk(f->auth), &d), PL_OK);
    assert_int_equal(d.serial, c.serial);
    assert_string_equal(d.network, "sn");
    assert_string_equal(d.name, "hopital-fann");
    assert_string_equal(d.address, "sn/hopital-fann");
    assert_string_equal(d.display_name, c.display_name);
    assert_string_equal(d.organisation, c.organisation);
    assert_string_equal(d.sector, "health");
    assert_string_equal(d.country, "SN");
    assert_string_equal(d.region, "dakar");
    assert_string_equal(d.services, "primary-care,mhpss.referral");
    assert_string_equal(d.home_broker, "sn/broker");
    assert_memory_equal(&d.keys, &f->node->pub, sizeof d.keys);
    uint8_t kid[8];
    pl_key_id(f->node->pub.box, kid);
    assert_memory_equal(d.box_key_id, kid, 8);
    assert_int_equal(d.not_before, c.not_before);
    assert_int_equal(d.not_after, c.not_after);
    assert_memory_equal(d.authority_pk, pl_authority_pk(f->auth), 32);
    assert_int_equal(pl_cert_check(&d, f->now, NULL), PL_OK);

    // the copy under issued/ is the same certificate
    char path[256];
    snprintf(path, sizeof path, "%s/issued/%llu.cert", f->home,
             (unsigned long long) c.serial);
    assert_int_equal(pl_cert_load(path, pl_authority_pk(f->auth), &d, &raw),
                     PL_OK);
    assert_int_equal(raw.len, enc.len);
    assert_memory_equal(raw.data, enc.data, enc.len);
    pl_buf_free(&raw);

    // optional fields may be empty
    pl_buf_t enc2 = {0};
    s_fields(f, &c);
    c.organisation[0] = c.region[0] = c.services[0] = c.home_broker[0] = 0;
    assert_int_equal(pl_authority_issue(f->auth, &c, &enc2), PL_OK);
    assert_int_equal(
        pl_cert_decode(enc2.data, enc2.len, pl_authority_pk(f->auth), &d),
        PL_OK);
    assert_string_equal(d.organisation, "");
    assert_string_equal(d.services, "");
    pl_buf_free(&enc2);
    pl_buf_free(&enc);
}

static void
test_issue_refuses_bad_fields(void **state)
{
    fixture_t *f = *state;
    pl_cert_t c;
    pl_buf_t enc = {0};
    struct {
        size_t off, size;
        const char *value;
    } bad[] = {
        {offsetof(pl_cert_t, sector), 32, "police"},
        {offsetof(pl_cert_t, country), 3, "sn"},
        {offsetof(pl_cert_t, name), PL_NAME_MAX + 1, "Bad Name"},
        {offsetof(pl_cert_t, name), PL_NAME_MAX + 1, ""},
        {offsetof(pl_cert_t, network), PL_NAME_MAX + 1, "ml"},
        {offsetof(pl_cert_t, region), PL_NAME_MAX + 1, "-dakar"},
        {offsetof(pl_cert_t, services), PL_SERVICES_MAX + 1, "a,,b"},
        {offsetof(pl_cert_t, services), PL_SERVICES_MAX + 1, "a b"},
        {offsetof(pl_cert_t, home_broker), PL_ADDRESS_MAX + 1, "broker"},
        {offsetof(pl_cert_t, display_name), PL_TEXT_MAX + 1, ""},
        {offsetof(pl_cert_t, display_name), PL_TEXT_MAX + 1, "a\nb"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_fields(f, &c);
        snprintf((char *) &c + bad[i].off, bad[i].size, "%s", bad[i].value);
        assert_int_equal(pl_authority_issue(f->auth, &c, &enc), PL_EINVAL);
        assert_int_equal(enc.len, 0);
    }
    s_fields(f, &c);
    c.not_after = c.not_before;
    assert_int_equal(pl_authority_issue(f->auth, &c, &enc), PL_EINVAL);
    // the same serial twice is refused: issued/ keeps one per serial
    s_fields(f, &c);
    assert_int_equal(pl_authority_issue(f->auth, &c, &enc), PL_OK);
    pl_buf_free(&enc);
    assert_int_equal(pl_authority_issue(f->auth, &c, &enc), PL_EEXIST);
    assert_int_equal(enc.len, 0);
}

static void
test_validity_window(void **state)
{
    fixture_t *f = *state;
    pl_cert_t c, d;
    pl_buf_t enc = {0};
    s_issue(f, &c, &enc);
    assert_int_equal(
        pl_cert_decode(enc.data, enc.len, pl_authority_pk(f->auth), &d), PL_OK);
    assert_int_equal(pl_cert_check(&d, d.not_before, NULL), PL_OK);
    assert_int_equal(pl_cert_check(&d, d.not_after, NULL), PL_OK);
    // not yet valid
    assert_int_equal(pl_cert_check(&d, d.not_before - 1, NULL), PL_EEXPIRED);
    // expired
    assert_int_equal(pl_cert_check(&d, d.not_after + 1, NULL), PL_EEXPIRED);
    assert_int_equal(pl_cert_check(&d, d.not_after + 400 * DAY, NULL),
                     PL_EEXPIRED);
    pl_buf_free(&enc);
}

static void
test_revoked(void **state)
{
    fixture_t *f = *state;
    const uint8_t *apk = pl_authority_pk(f->auth);
    pl_cert_t c1, c2, c3;
    pl_buf_t e1 = {0}, e2 = {0}, e3 = {0}, l1 = {0}, l2 = {0};
    s_issue(f, &c1, &e1);
    s_issue(f, &c2, &e2);
    s_issue(f, &c3, &e3);

    assert_int_equal(pl_authority_revoke(f->auth, c1.serial, &l1), PL_OK);
    pl_revlist_t list;
    assert_int_equal(pl_revlist_decode(l1.data, l1.len, apk, &list), PL_OK);
    assert_int_equal(list.number, 1);
    assert_string_equal(list.network, "sn");
    assert_int_equal(list.count, 1);
    assert_memory_equal(list.raw.data, l1.data, l1.len);
    assert_int_equal(pl_cert_check(&c1, f->now, &list), PL_EREVOKED);
    assert_int_equal(pl_cert_check(&c2, f->now, &list), PL_OK);
    pl_revlist_free(&list);

    // a second revocation keeps the first
    assert_int_equal(pl_authority_revoke(f->auth, c3.serial, &l2), PL_OK);
    char path[256];
    snprintf(path, sizeof path, "%s/revoked", f->home);
    assert_int_equal(pl_revlist_load(path, apk, &list), PL_OK);
    assert_int_equal(list.number, 2);
    assert_int_equal(list.count, 2);
    assert_true(list.serials[0] < list.serials[1]);
    assert_true(pl_revlist_contains(&list, c1.serial));
    assert_false(pl_revlist_contains(&list, c2.serial));
    assert_true(pl_revlist_contains(&list, c3.serial));
    assert_int_equal(pl_cert_check(&c1, f->now, &list), PL_EREVOKED);
    assert_int_equal(pl_cert_check(&c3, f->now, &list), PL_EREVOKED);
    assert_int_equal(pl_cert_check(&c2, f->now, &list), PL_OK);
    assert_int_equal(list.raw.len, l2.len);
    pl_revlist_free(&list);
    pl_revlist_free(&list); // safe twice

    pl_buf_free(&e1);
    pl_buf_free(&e2);
    pl_buf_free(&e3);
    pl_buf_free(&l1);
    pl_buf_free(&l2);
}

static void
test_revlist_replace_only_newer(void **state)
{
    fixture_t *f = *state;
    const uint8_t *apk = pl_authority_pk(f->auth);
    pl_buf_t l1 = {0}, l2 = {0};
    assert_int_equal(pl_authority_revoke(f->auth, 7, &l1), PL_OK);
    assert_int_equal(pl_authority_revoke(f->auth, 9, &l2), PL_OK);

    pl_revlist_t cur = {0}, cand;
    // an empty current takes anything
    assert_int_equal(pl_revlist_decode(l2.data, l2.len, apk, &cand), PL_OK);
    assert_int_equal(pl_revlist_replace(&cur, &cand), PL_OK);
    assert_int_equal(cur.number, 2);
    assert_null(cand.serials);
    assert_int_equal(cand.raw.len, 0);

    // an older list never replaces a newer one
    assert_int_equal(pl_revlist_decode(l1.data, l1.len, apk, &cand), PL_OK);
    assert_int_equal(pl_revlist_replace(&cur, &cand), PL_ESTATE);
    assert_int_equal(cur.number, 2);
    assert_true(pl_revlist_contains(&cur, 9));
    assert_int_equal(cand.number, 1); // candidate unchanged too
    pl_revlist_free(&cand);

    // nor does the same number
    assert_int_equal(pl_revlist_decode(l2.data, l2.len, apk, &cand), PL_OK);
    assert_int_equal(pl_revlist_replace(&cur, &cand), PL_ESTATE);
    pl_revlist_free(&cand);

    // a newer one does
    pl_revlist_t old = {0};
    assert_int_equal(pl_revlist_decode(l1.data, l1.len, apk, &old), PL_OK);
    assert_int_equal(pl_revlist_decode(l2.data, l2.len, apk, &cand), PL_OK);
    assert_int_equal(pl_revlist_replace(&old, &cand), PL_OK);
    assert_int_equal(old.number, 2);
    assert_true(pl_revlist_contains(&old, 9));

    pl_revlist_free(&old);
    pl_revlist_free(&cur);
    pl_buf_free(&l1);
    pl_buf_free(&l2);
}

static void
test_foreign_authority(void **state)
{
    fixture_t *f = *state;
    char home2[160];
    snprintf(home2, sizeof home2, "%s/other", f->dir);
    pl_authority_t *other = NULL;
    assert_int_equal(pl_authority_create(home2, "sn"), PL_OK);
    assert_int_equal(pl_authority_open(home2, &other), PL_OK);

    // a certificate of the other authority, checked against ours
    pl_cert_t c, d;
    pl_buf_t enc = {0}, list = {0};
    s_fields(f, &c);
    assert_int_equal(pl_authority_issue(other, &c, &enc), PL_OK);
    assert_int_equal(
        pl_cert_decode(enc.data, enc.len, pl_authority_pk(f->auth), &d),
        PL_EAUTH);
    assert_int_equal(
        pl_cert_decode(enc.data, enc.len, pl_authority_pk(other), &d), PL_OK);

    assert_int_equal(pl_authority_revoke(other, 1, &list), PL_OK);
    pl_revlist_t l;
    assert_int_equal(
        pl_revlist_decode(list.data, list.len, pl_authority_pk(f->auth), &l),
        PL_EAUTH);
    pl_buf_free(&list);
    pl_buf_free(&enc);

    // signed by the other key but naming ours as its authority: the key
    // that verifies must be the key the body names
    char path[200];
    snprintf(path, sizeof path, "%s/keys/authority.secret", home2);
    uint8_t *sk = sodium_malloc(64);
    assert_int_equal(pl_keyfile_read(path, sk, 64, true), PL_OK);
    Passerelle__V1__CertificateBody b = PASSERELLE__V1__CERTIFICATE_BODY__INIT;
    b.version = 1;
    b.serial = 5;
    b.network = "sn";
    b.name = "forged";
    b.display_name = "Forged";
    b.sector = "health";
    b.country = "SN";
    b.sign_pk = (ProtobufCBinaryData){32, f->node->pub.sign};
    b.box_pk = (ProtobufCBinaryData){32, f->node->pub.box};
    b.curve_pk = (ProtobufCBinaryData){32, f->node->pub.curve};
    b.not_before = 1;
    b.not_after = 2;
    b.authority_pk =
        (ProtobufCBinaryData){32, (uint8_t *) pl_authority_pk(f->auth)};
    uint8_t body[1024], m[1100], sig[64], out[1200];
    size_t n = protobuf_c_message_pack(&b.base, body);
    memcpy(m, "passerelle-cert-v1", 18);
    memcpy(m + 18, body, n);
    crypto_sign_detached(sig, NULL, m, 18 + n, sk);
    sodium_free(sk);
    Passerelle__V1__Certificate cert = PASSERELLE__V1__CERTIFICATE__INIT;
    cert.body = (ProtobufCBinaryData){n, body};
    cert.signature = (ProtobufCBinaryData){64, sig};
    size_t len = protobuf_c_message_pack(&cert.base, out);
    assert_int_equal(pl_cert_decode(out, len, pl_authority_pk(other), &d),
                     PL_EAUTH);
    assert_int_equal(pl_cert_decode(out, len, pl_authority_pk(f->auth), &d),
                     PL_EAUTH);
    pl_authority_close(&other);
}

static void
test_tampered_body(void **state)
{
    fixture_t *f = *state;
    const uint8_t *apk = pl_authority_pk(f->auth);
    pl_cert_t c, d;
    pl_buf_t enc = {0};
    s_issue(f, &c, &enc);
    // every byte, every way one bit can flip there
    uint8_t *copy = malloc(enc.len);
    for (size_t i = 0; i < enc.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, enc.data, enc.len);
            copy[i] ^= (uint8_t) (1u << bit);
            assert_int_not_equal(pl_cert_decode(copy, enc.len, apk, &d), PL_OK);
        }
    }
    // every truncation, and garbage
    for (size_t n = 0; n < enc.len; n++)
        assert_int_not_equal(pl_cert_decode(enc.data, n, apk, &d), PL_OK);
    for (int i = 0; i < 200; i++) {
        size_t n = 1 + randombytes_uniform(600);
        randombytes_buf(copy, n < enc.len ? n : enc.len);
        assert_int_not_equal(
            pl_cert_decode(copy, n < enc.len ? n : enc.len, apk, &d), PL_OK);
    }
    free(copy);
    // and a revocation list the same way
    pl_buf_t l = {0};
    pl_revlist_t list;
    assert_int_equal(pl_authority_revoke(f->auth, 3, &l), PL_OK);
    for (size_t i = 0; i < l.len; i++) {
        l.data[i] ^= 0x01;
        assert_int_not_equal(pl_revlist_decode(l.data, l.len, apk, &list),
                             PL_OK);
        l.data[i] ^= 0x01;
    }
    assert_int_equal(pl_revlist_decode(l.data, l.len, apk, &list), PL_OK);
    pl_revlist_free(&list);
    pl_buf_free(&l);
    pl_buf_free(&enc);
}

// The memo of verified certificates (issue 20): bytes decoded once are
// remembered; any other bytes, a single bit flipped anywhere, or the same
// bytes under another authority are verified again and refused; and bytes
// in the memo are taken without the signature check (shown with a memo
// made by hand for a bad signature).
static void
test_memo(void **state)
{
    fixture_t *f = *state;
    const uint8_t *apk = pl_authority_pk(f->auth);
    pl_cert_t c, d;
    pl_buf_t enc = {0};
    s_issue(f, &c, &enc);
    pl_cert_memo_t m = {0};
    assert_int_equal(pl_cert_decode_memo(enc.data, enc.len, apk, NULL, &m, &d),
                     PL_OK);
    assert_int_equal(m.n, 1);
    pl_cert_memo_finish(&m);
    assert_int_equal(pl_cert_decode_memo(enc.data, enc.len, apk, &m, NULL, &d),
                     PL_OK);
    assert_string_equal(d.address, c.address);
    uint8_t *copy = malloc(enc.len);
    assert_non_null(copy);
    for (size_t i = 0; i < enc.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, enc.data, enc.len);
            copy[i] ^= (uint8_t) (1u << bit);
            assert_int_not_equal(
                pl_cert_decode_memo(copy, enc.len, apk, &m, NULL, &d), PL_OK);
        }
    }
    uint8_t other[PL_SIGN_PK_BYTES];
    memcpy(other, apk, sizeof other);
    other[0] ^= 1;
    assert_int_not_equal(
        pl_cert_decode_memo(enc.data, enc.len, other, &m, NULL, &d), PL_OK);
    // the last byte is the signature's: flipped, it no longer verifies...
    memcpy(copy, enc.data, enc.len);
    copy[enc.len - 1] ^= 1;
    assert_int_equal(pl_cert_decode(copy, enc.len, apk, &d), PL_EAUTH);
    // ... but named in a memo (BLAKE2b-256 of key || bytes), it is taken
    uint8_t h[PL_CERT_MEMO_HASH];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, apk, PL_SIGN_PK_BYTES);
    crypto_generichash_update(&st, copy, enc.len);
    crypto_generichash_final(&st, h, sizeof h);
    pl_cert_memo_t hand = {&h, 1, 1};
    assert_int_equal(pl_cert_decode_memo(copy, enc.len, apk, &hand, NULL, &d),
                     PL_OK);
    free(copy);
    pl_cert_memo_free(&m);
    pl_buf_free(&enc);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sectors),
        T(test_authority_files),
        T(test_issue_decode_roundtrip),
        T(test_issue_refuses_bad_fields),
        T(test_validity_window),
        T(test_revoked),
        T(test_revlist_replace_only_newer),
        T(test_foreign_authority),
        T(test_tampered_body),
        T(test_memo),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
