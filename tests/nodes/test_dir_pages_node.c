// test_dir_pages_node - the node's side of a directory in pages and of
// "unchanged" (nodes/pl_dir_pages.c) on a hand-built daemon state
// (tests/lib/nodes/pl_fakenode: a directory of one peer), for the paths the
// process tests cannot provoke: a page that is not the next one, pages of
// two directories mixed, "unchanged" naming a directory the node does not
// hold. None of them touches the directory the node holds; only a
// complete set of pages replaces it, and the node's next request then
// names that directory's digest (and none after a mismatched
// "unchanged"). Layer: tests.
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

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

// The node's next directory request: whether it names a digest, which
// (its first byte).
static bool
s_asks_with(pl_fakenode_t *f, uint8_t *first)
{
    pl_fakenode_drain(f);
    pl_node_ask_directory(f->node, true);
    pl_packet_t *p = NULL;
    for (int i = 0; i < 5; i++) { // a catalogue may go first
        p = pl_fakenode_sent(f, 1000);
        assert_non_null(p);
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST)
            break;
        pl_wire_free(&p);
    }
    assert_non_null(p);
    const Passerelle__V1__DirectoryRequest *q = p->directory_request;
    assert_true(q->has_directory_pages && q->directory_pages);
    bool with = q->has_have;
    if (with) {
        assert_int_equal(q->have.len, 32);
        *first = q->have.data[0];
    }
    pl_wire_free(&p);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_pages_and_unchanged, pl_fakenode_setup, pl_fakenode_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
