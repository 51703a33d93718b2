// test_dir_pages_node - the node's side of a directory in pages and of
// "unchanged" (nodes/pl_dir_pages.c) on a hand-built daemon state
// (tests/lib/nodes/pl_fakenode: a directory of one peer), for the paths the
// process tests cannot provoke: a page that is not the next one, pages of
// two directories mixed, "unchanged" naming a directory the node does not
// hold. None of them touches the directory the node holds; only a
// complete set of pages replaces it, and the node's next request then
// names that directory's digest (and none after a mismatched
// "unchanged"). test_delta: a delta (nodes/pl_dir_delta.c) from a
// directory the node does not hold, removing an item it does not hold, or
// whose result is not the broker's digest changes nothing of what it
// stored (DIRSET) and makes the next request ask for the whole; a delta
// that fits is applied and its digest named next; after a restart the
// stored directory's digest is named, and "unchanged" takes the stored
// directory. Layer: tests.
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "proto/pl_dirset.h"
#include "tests/lib/nodes/pl_fakenode.h"
#include "tests/lib/pl_test.h"

// Passes a directory response with no certificate: page 'page' of
// 'pages' (pages 0: not paged), or "unchanged"; 'digest' filled with 'd'.
static void
s_pass(pl_fakenode_t *f, uint32_t page, uint32_t pages, uint8_t d,
       bool unchanged)
{
    uint8_t digest[32];
    memset(digest, d, sizeof digest);
    Passerelle__V1__DirectoryResponse r =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    r.has_digest = true;
    r.digest = (ProtobufCBinaryData){32, digest};
    if (pages) {
        r.has_page = r.has_pages = true;
        r.page = page;
        r.pages = pages;
    }
    r.has_unchanged = r.unchanged = unchanged;
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    pkt.directory_response = &r;
    pl_buf_t out = {0};
    assert_int_equal(pl_wire_encode(&pkt, &out), PL_OK);
    assert_int_equal(pl_fakenode_pass(f, out.data, out.len), PL_OK);
    pl_buf_free(&out);
}

static bool s_asked(pl_fakenode_t *f, uint8_t have[32]);

// The node's next directory request: whether it names a digest, which
// (its first byte).
static bool
s_asks_with(pl_fakenode_t *f, uint8_t *first)
{
    uint8_t have[32];
    bool with = s_asked(f, have);
    if (with)
        *first = have[0];
    return with;
}

static void
test_pages_and_unchanged(void **state)
{
    pl_fakenode_t *f = *state;
    pl_node_t *n = f->node;
    assert_int_equal(n->ndir, 1); // the fake's clinic
    uint8_t first = 0;
    assert_false(s_asks_with(f, &first)); // no digest held yet

    // "unchanged" for a directory it does not hold: its own is kept
    s_pass(f, 0, 0, 0x11, true);
    assert_int_equal(n->ndir, 1);
    assert_false(n->dir_digest_set);

    // a page that is not the next one, and pages of two directories
    s_pass(f, 1, 2, 0x22, false); // page 1 before any page 0
    assert_int_equal(n->ndir, 1);
    assert_null(n->dirpg);
    s_pass(f, 0, 2, 0x22, false);
    assert_int_equal(n->ndir, 1); // kept, not taken
    assert_int_equal(n->dirpg_got, 1);
    s_pass(f, 1, 2, 0x33, false); // another directory's page 1
    assert_int_equal(n->ndir, 1);
    assert_null(n->dirpg);
    s_pass(f, 0, 3, 0x33, false); // page 0 of 3, then page 1 "of 2"
    s_pass(f, 1, 2, 0x33, false);
    assert_int_equal(n->ndir, 1);
    assert_null(n->dirpg);
    s_pass(f, 0, 3, 0x33, false); // page 0 of 3, then page 2: one missing
    s_pass(f, 2, 3, 0x33, false);
    assert_int_equal(n->ndir, 1);
    assert_null(n->dirpg);

    // a whole set: taken (the broker's directory has no certificate)
    s_pass(f, 0, 2, 0x44, false);
    s_pass(f, 1, 2, 0x44, false);
    assert_int_equal(n->ndir, 0);
    assert_null(n->dirpg);
    assert_true(s_asks_with(f, &first));
    assert_int_equal(first, 0x44);
    // "unchanged" for it: kept; for another: the digest is forgotten
    s_pass(f, 0, 0, 0x44, true);
    assert_true(n->dir_digest_set);
    s_pass(f, 0, 0, 0x55, true);
    assert_false(n->dir_digest_set);
    assert_int_equal(n->ndir, 0);
    assert_false(s_asks_with(f, &first));
    // one response (not paged) is taken at once, its digest kept
    s_pass(f, 0, 0, 0x66, false);
    assert_true(s_asks_with(f, &first));
    assert_int_equal(first, 0x66);
}

// a certificate (signed by nobody: the node drops it, DIRSET keeps it)
static Passerelle__V1__Certificate *
s_cert(uint8_t tag, uint8_t *body, uint8_t *sig)
{
    static Passerelle__V1__Certificate c[8];
    memset(body, tag, 40);
    memset(sig, tag, 64);
    passerelle__v1__certificate__init(&c[tag % 8]);
    c[tag % 8].body = (ProtobufCBinaryData){40, body};
    c[tag % 8].signature = (ProtobufCBinaryData){64, sig};
    return &c[tag % 8];
}

// r encoded and passed to the node
static void
s_pass_r(pl_fakenode_t *f, Passerelle__V1__DirectoryResponse *r)
{
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    pkt.directory_response = r;
    pl_buf_t out = {0};
    assert_int_equal(pl_wire_encode(&pkt, &out), PL_OK);
    assert_int_equal(pl_fakenode_pass(f, out.data, out.len), PL_OK);
    pl_buf_free(&out);
}

// the digest the node's next request names (false: none); it says it
// takes deltas
static bool
s_asked(pl_fakenode_t *f, uint8_t have[32])
{
    pl_fakenode_drain(f);
    pl_node_ask_directory(f->node, true);
    pl_packet_t *p = NULL;
    for (int i = 0; i < 5; i++) {
        p = pl_fakenode_sent(f, 1000);
        assert_non_null(p);
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST)
            break;
        pl_wire_free(&p);
    }
    assert_non_null(p);
    const Passerelle__V1__DirectoryRequest *q = p->directory_request;
    assert_true(q->has_directory_pages && q->directory_pages);
    assert_true(q->has_deltas && q->deltas);
    bool with = q->has_have && q->have.len == 32;
    if (with)
        memcpy(have, q->have.data, 32);
    pl_wire_free(&p);
    return with;
}

// the digest of the set of r's items, and the name of its first
static void
s_digest(const Passerelle__V1__DirectoryResponse *r, uint8_t d[32],
         uint8_t first[16])
{
    pl_dirset_t set;
    assert_int_equal(pl_dirset_from_response(r, &set), PL_OK);
    pl_dirset_digest(&set, d);
    if (first && set.n)
        memcpy(first, set.v[0].name, 16);
    pl_dirset_free(&set);
}

static void
test_delta(void **state)
{
    pl_fakenode_t *f = *state;
    pl_node_t *n = f->node;
    uint8_t b1[40], s1[64], b2[40], s2[64], have[32];
    Passerelle__V1__Certificate *c1 = s_cert(1, b1, s1);
    Passerelle__V1__Certificate *c2 = s_cert(2, b2, s2);
    // the whole directory {c1, c2}; the delta to {c2}: c1 removed
    Passerelle__V1__Certificate *both[2] = {c1, c2};
    Passerelle__V1__DirectoryResponse whole =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    whole.n_certificates = 2;
    whole.certificates = both;
    uint8_t d12[32], d2[32], name1[16], zero[16] = {0};
    s_digest(&whole, d12, NULL);
    whole.has_digest = true;
    whole.digest = (ProtobufCBinaryData){32, d12};
    Passerelle__V1__DirectoryResponse only2 =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    only2.n_certificates = 1;
    only2.certificates = &both[1];
    s_digest(&only2, d2, NULL);
    Passerelle__V1__DirectoryResponse only1 =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    only1.n_certificates = 1;
    only1.certificates = &both[0];
    uint8_t d1[32];
    s_digest(&only1, d1, name1);

    s_pass_r(f, &whole);
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 2);
    assert_true(s_asked(f, have));
    assert_memory_equal(have, d12, 32);

    ProtobufCBinaryData rm[1];
    Passerelle__V1__DirectoryResponse delta =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    delta.has_digest = delta.has_delta_from = true;
    delta.n_removed = 1;
    delta.removed = rm;
    uint8_t wrong[32];
    memset(wrong, 0x77, sizeof wrong);

    // from a directory it does not hold: nothing stored changes
    delta.delta_from = (ProtobufCBinaryData){32, wrong};
    delta.digest = (ProtobufCBinaryData){32, d2};
    rm[0] = (ProtobufCBinaryData){16, name1};
    s_pass_r(f, &delta);
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 2);
    assert_false(s_asked(f, have));
    s_pass_r(f, &whole);
    assert_true(s_asked(f, have));

    // removing an item it does not hold
    delta.delta_from = (ProtobufCBinaryData){32, d12};
    rm[0] = (ProtobufCBinaryData){16, zero};
    s_pass_r(f, &delta);
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 2);
    assert_false(s_asked(f, have));
    s_pass_r(f, &whole);

    // a result that is not the digest the broker gave
    rm[0] = (ProtobufCBinaryData){16, name1};
    delta.digest = (ProtobufCBinaryData){32, wrong};
    s_pass_r(f, &delta);
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 2);
    assert_false(s_asked(f, have));
    s_pass_r(f, &whole);

    // one that fits: c1 removed, the next request names {c2}
    delta.digest = (ProtobufCBinaryData){32, d2};
    s_pass_r(f, &delta);
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 1);
    assert_true(s_asked(f, have));
    assert_memory_equal(have, d2, 32);
    // and back: c1 added to {c2}
    delta.delta_from = (ProtobufCBinaryData){32, d2};
    delta.digest = (ProtobufCBinaryData){32, d12};
    delta.n_removed = 0;
    delta.removed = NULL;
    delta.n_certificates = 1;
    delta.certificates = &both[0];
    s_pass_r(f, &delta);
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 2);
    assert_true(s_asked(f, have));
    assert_memory_equal(have, d12, 32);

    // "a restart": the digest comes from DIRSET; "unchanged" takes it
    n->dir_digest_set = n->dir_taken = false;
    uint64_t gen = n->dir_gen;
    pl_node_dirset_open(n);
    assert_true(s_asked(f, have));
    assert_memory_equal(have, d12, 32);
    Passerelle__V1__DirectoryResponse unch =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    unch.has_digest = unch.has_unchanged = unch.unchanged = true;
    unch.digest = (ProtobufCBinaryData){32, d12};
    s_pass_r(f, &unch);
    assert_int_equal(n->dir_gen, gen + 1); // taken from DIRSET
    assert_true(n->dir_taken);
    s_pass_r(f, &unch); // again: nothing to take
    assert_int_equal(n->dir_gen, gen + 1);
}

// catalogues spread over the pages (issue 20): the directory taken has
// every page's, not only page 0's
static void
test_pages_catalogues(void **state)
{
    pl_fakenode_t *f = *state;
    uint8_t d[32], blob[2][8];
    memset(d, 0x5a, sizeof d);
    for (int k = 0; k < 2; k++) {
        memset(blob[k], 'a' + k, sizeof blob[k]);
        Passerelle__V1__Catalogue c = PASSERELLE__V1__CATALOGUE__INIT;
        Passerelle__V1__Catalogue *cv[1] = {&c};
        c.address = k ? "sn/two" : "sn/one";
        c.version = 1;
        c.signed_ = (ProtobufCBinaryData){sizeof blob[k], blob[k]};
        Passerelle__V1__DirectoryResponse r =
            PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
        r.has_digest = r.has_page = r.has_pages = true;
        r.digest = (ProtobufCBinaryData){32, d};
        r.page = (uint32_t) k;
        r.pages = 2;
        r.n_catalogues = 1;
        r.catalogues = cv;
        s_pass_r(f, &r);
    }
    assert_null(f->node->dirpg); // taken
    assert_int_equal(pl_fakenode_count(f, PL_DB_DIRSET), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_pages_and_unchanged, pl_fakenode_setup, pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(test_delta, pl_fakenode_setup,
                                        pl_fakenode_teardown),
        cmocka_unit_test_setup_teardown(
            test_pages_catalogues, pl_fakenode_setup, pl_fakenode_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
