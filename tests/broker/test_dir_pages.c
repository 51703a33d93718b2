// test_dir_pages - a directory larger than one packet (issue 20: a
// national network), on a real broker with raw clients of two enrolled
// nodes and 6,000 more certificates in its certs/. A client whose hello
// takes pages gets them all, in order, each within a packet, with one
// digest, every certificate once; asked again with that digest it is told
// "unchanged" and nothing more; a client whose hello does not take pages
// gets nothing and the broker says why in its log; a reload that changes
// the directory pushes the new one, a reload that changes nothing pushes
// nothing.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/pl_dirset.h"
#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"

#define S_MORE 6000 // certificates beyond the two nodes: about 1.6 MB

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

// the whole of the file at 'path' in a new buffer (free it); 0 or -1
static int
s_slurp(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    *out = fstat(fileno(f), &st) == 0 ? malloc((size_t) st.st_size + 1) : NULL;
    *len = *out ? fread(*out, 1, (size_t) st.st_size, f) : 0;
    fclose(f);
    return *out && *len == (size_t) st.st_size ? 0 : -1;
}

static void
s_ask_d(pl_rawclient_t *c, const uint8_t *have, bool deltas)
{
    Passerelle__V1__DirectoryRequest req =
        PASSERELLE__V1__DIRECTORY_REQUEST__INIT;
    req.has_deltas = req.deltas = deltas;
    if (have) {
        req.has_have = true;
        req.have = (ProtobufCBinaryData){32, (uint8_t *) have};
    }
    pl_packet_t p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST;
    p.directory_request = &req;
    pl_buf_t b = {0};
    assert_int_equal(pl_wire_encode(&p, &b), PL_OK);
    assert_int_equal(pl_rawclient_send(c, b.data, b.len), 0);
    pl_buf_free(&b);
}

static void
s_ask(pl_rawclient_t *c, const uint8_t *have)
{
    s_ask_d(c, have, false);
}

static int
s_sig_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

// Receives one whole directory on 'c' (waiting up to 'ms' for its first
// page): its pages checked, its digest into 'digest', its items into
// 'set' (when not NULL; checked against the digest); returns the number
// of certificates (distinct addresses checked), or -1 when none came.
static long
s_receive_set(pl_rawclient_t *c, uint8_t digest[32], int ms, pl_dirset_t *set)
{
    if (set)
        memset(set, 0, sizeof *set);
    pl_packet_t *r = pl_testnet_expect(
        c, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, ms);
    if (!r)
        return -1;
    const Passerelle__V1__DirectoryResponse *d = r->directory_response;
    assert_false(d->has_unchanged && d->unchanged);
    assert_true(d->has_digest && d->digest.len == 32);
    memcpy(digest, d->digest.data, 32);
    assert_true(d->has_pages && d->pages >= 2);
    assert_int_equal(d->page, 0);
    uint32_t pages = d->pages;
    long certs = 0;
    // every certificate's signature, to find one sent twice
    uint8_t(*sigs)[64] = calloc(S_MORE + 16, sizeof *sigs);
    assert_non_null(sigs);
    for (uint32_t k = 0; k < pages; k++) {
        if (k > 0) {
            r = pl_testnet_expect(
                c, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 5000);
            assert_non_null(r);
            d = r->directory_response;
            assert_int_equal(d->page, k);
            assert_int_equal(d->pages, pages);
            assert_memory_equal(d->digest.data, digest, 32);
            assert_null(d->revoked); // page 0 only
        }
        assert_true(d->n_certificates > 0);
        pl_dirset_t pg;
        assert_int_equal(pl_dirset_from_response(d, &pg), PL_OK);
        for (size_t i = 0; set && i < pg.n; i++)
            assert_int_equal(
                pl_dirset_add(set, pg.v[i].field, pg.v[i].data, pg.v[i].len),
                PL_OK);
        pl_dirset_free(&pg);
        for (size_t i = 0; i < d->n_certificates; i++) {
            assert_true(certs < S_MORE + 16);
            assert_int_equal(d->certificates[i]->signature.len, 64);
            memcpy(sigs[certs++], d->certificates[i]->signature.data, 64);
        }
        pl_wire_free(&r);
    }
    qsort(sigs, (size_t) certs, sizeof *sigs, s_sig_cmp);
    for (long i = 1; i < certs; i++)
        assert_memory_not_equal(sigs[i - 1], sigs[i], 64);
    free(sigs);
    if (set) { // the digest is of the set of its items
        uint8_t mine[32];
        pl_dirset_finish(set);
        pl_dirset_digest(set, mine);
        assert_memory_equal(mine, digest, 32);
    }
    print_message("directory: %u pages, %ld certificates\n", pages, certs);
    return certs;
}

static long
s_receive(pl_rawclient_t *c, uint8_t digest[32], int ms)
{
    return s_receive_set(c, digest, ms, NULL);
}

// Receives a delta from 'from' on 'c' removing 'nremoved' items and adding
// none; applied to 'set' (when not NULL), whose digest then is the delta's
static void
s_receive_delta(pl_rawclient_t *c, pl_dirset_t *set, const uint8_t from[32],
                size_t nremoved, uint8_t digest[32])
{
    pl_packet_t *r = pl_testnet_expect(
        c, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 10000);
    assert_non_null(r);
    const Passerelle__V1__DirectoryResponse *d = r->directory_response;
    assert_true(d->has_delta_from && d->has_digest);
    assert_false(d->has_pages);
    assert_memory_equal(d->delta_from.data, from, 32);
    assert_int_equal(d->n_removed, nremoved);
    assert_int_equal(d->n_certificates, 0);
    for (size_t i = 0; set && i < d->n_removed; i++) {
        pl_dirset_item_t *it = pl_dirset_find(set, d->removed[i].data);
        assert_non_null(it);
        it->gone = true;
    }
    if (set) {
        pl_dirset_finish(set);
        uint8_t mine[32];
        pl_dirset_digest(set, mine);
        assert_memory_equal(mine, d->digest.data, 32);
    }
    memcpy(digest, d->digest.data, 32);
    pl_wire_free(&r);
}

// the next directory response on c is "unchanged" for 'digest'
static void
s_expect_unchanged(pl_rawclient_t *c, const uint8_t digest[32])
{
    pl_packet_t *r = pl_testnet_expect(
        c, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 5000);
    assert_non_null(r);
    assert_true(r->directory_response->has_unchanged
                && r->directory_response->unchanged);
    assert_memory_equal(r->directory_response->digest.data, digest, 32);
    pl_wire_free(&r);
}

// waits (30 s at most: 6,000 certificates under ASan) until the broker
// has logged its n-th reload
static void
s_wait_reloads(const pl_test_net_t *net, long n)
{
    for (int i = 0; i < 300; i++) {
        if (pl_testnet_log_count(net, "reloaded certificates=") >= n)
            return;
        usleep(100 * 1000);
    }
    fail_msg("the broker did not log reload %ld", n);
}

static void
test_pages(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "dirpages", s_specs, 2);
    pl_testnet_issue(&net, S_MORE, 0, NULL, NULL);
    pl_testnet_start_broker(&net, NULL, NULL);
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_non_null(a);
    pl_rawclient_dir_pages(a, true);
    assert_int_equal(pl_rawclient_hello(a, 10000), PL_OK);
    pl_rawclient_t *b = pl_testnet_client(&net, 1, 20); // no pages
    assert_non_null(b);

    uint8_t digest[32], again[32];
    s_ask(a, NULL);
    assert_int_equal(s_receive(a, digest, 10000), S_MORE + 2);
    // asked with its digest: "unchanged" alone
    s_ask(a, digest);
    pl_packet_t *r = pl_testnet_expect(
        a, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 5000);
    assert_non_null(r);
    assert_true(r->directory_response->has_unchanged
                && r->directory_response->unchanged);
    assert_memory_equal(r->directory_response->digest.data, digest, 32);
    assert_int_equal(r->directory_response->n_certificates, 0);
    pl_wire_free(&r);
    // a wrong digest: the whole directory
    uint8_t wrong[32];
    memset(wrong, 7, sizeof wrong);
    s_ask(a, wrong);
    assert_int_equal(s_receive(a, again, 10000), S_MORE + 2);
    assert_memory_equal(again, digest, 32);

    // a client that does not take pages gets nothing, and the log says why
    s_ask(b, NULL);
    assert_null(pl_testnet_expect(
        b, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 1500));
    assert_true(pl_testnet_log_count(&net, "directory_not_sent") >= 1);

    // a reload that changes nothing pushes nothing to a client that holds
    // the directory
    kill(net.broker_pid, SIGHUP);
    s_wait_reloads(&net, 1);
    // (the push, had there been one, was sent before that line's reload
    // returned: on the socket by now)
    assert_null(pl_testnet_expect(
        a, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 1000));
    // one that drops a certificate pushes the new directory
    char path[700];
    snprintf(path, sizeof path, "%s/certs/n0.cert", net.broker);
    assert_int_equal(remove(path), 0);
    kill(net.broker_pid, SIGHUP);
    s_wait_reloads(&net, 2);
    pl_dirset_t set;
    assert_int_equal(s_receive_set(a, again, 10000, &set), S_MORE + 1);
    assert_memory_not_equal(again, digest, 32);

    // a client that takes deltas: the next change is the name removed
    // (pushed), and one that holds an earlier directory is sent the delta
    // from it when it asks
    s_ask_d(a, again, true);
    s_expect_unchanged(a, again);
    snprintf(path, sizeof path, "%s/certs/n1.cert", net.broker);
    assert_int_equal(remove(path), 0);
    kill(net.broker_pid, SIGHUP);
    s_wait_reloads(&net, 3);
    uint8_t third[32];
    s_receive_delta(a, &set, again, 1, third);
    assert_memory_not_equal(third, again, 32);
    s_ask_d(a, third, true);
    s_expect_unchanged(a, third);
    s_ask_d(a, again, true); // one back: the same delta
    uint8_t same[32];
    s_receive_delta(a, NULL, again, 1, same);
    assert_memory_equal(same, third, 32);
    pl_dirset_free(&set);
    // two back, from the first directory: two names removed
    s_ask_d(a, digest, true);
    pl_packet_t *dl = pl_testnet_expect(
        a, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 10000);
    assert_non_null(dl);
    assert_true(dl->directory_response->has_delta_from);
    assert_memory_equal(dl->directory_response->delta_from.data, digest, 32);
    assert_int_equal(dl->directory_response->n_removed, 2);
    assert_memory_equal(dl->directory_response->digest.data, third, 32);
    pl_wire_free(&dl);
    assert_int_equal(pl_testnet_log_count(&net, "directory_delta removed=1 "),
                     1); // built once, sent twice

    // a change larger than half of the new directory goes whole: 5,400
    // names removed (about 97 KB) against 600 certificates left
    for (int i = 2; i < 5402; i++) {
        snprintf(path, sizeof path, "%s/certs/n%d.cert", net.broker, i);
        assert_int_equal(remove(path), 0);
    }
    kill(net.broker_pid, SIGHUP);
    s_wait_reloads(&net, 4);
    r = pl_testnet_expect(a, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE,
                          10000);
    assert_non_null(r);
    assert_false(r->directory_response->has_delta_from);
    assert_false(r->directory_response->has_pages);
    assert_int_equal(r->directory_response->n_certificates, S_MORE - 5400);
    pl_wire_free(&r);
    assert_int_equal(pl_testnet_log_count(&net, "sent=whole"), 1);

    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_test_net_destroy(&net);
}

// Catalogues beyond half a packet (issue 18's limit before the pages):
// S_CATS nodes of 2 KiB catalogues each, sent by raw clients with their
// own keys; a client that takes pages receives every one of them, spread
// over the pages (before: those within 512 KiB, about 250).
#define S_CATS     700
#define S_CAT_SIZE 2048

static void
test_catalogues(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "dircats", s_specs, 2);
    uint8_t(*pk)[32] = calloc(S_CATS, 32), (*sk)[32] = calloc(S_CATS, 32);
    assert_true(pk && sk);
    pl_testnet_issue(&net, S_CATS, S_CATS, pk, sk);
    pl_testnet_start_broker(&net, NULL, NULL);
    uint8_t spk[32];
    pl_testnet_broker_key(&net, spk);
    static uint8_t blob[S_CAT_SIZE];
    memset(blob, 'c', sizeof blob);
    for (int i = 0; i < S_CATS; i++) {
        pl_rawclient_t *c =
            pl_rawclient_open_keys(net.endpoint, spk, pk[i], sk[i]);
        assert_non_null(c);
        assert_int_equal(pl_rawclient_hello(c, 10000), PL_OK);
        char addr[32];
        snprintf(addr, sizeof addr, "sn/n%d", i);
        Passerelle__V1__Catalogue cat = PASSERELLE__V1__CATALOGUE__INIT;
        cat.address = addr;
        cat.version = 1;
        cat.signed_ = (ProtobufCBinaryData){sizeof blob, blob};
        pl_packet_t p = PASSERELLE__V1__PACKET__INIT;
        p.kind_case = PASSERELLE__V1__PACKET__KIND_CATALOGUE;
        p.catalogue = &cat;
        pl_buf_t b = {0};
        assert_int_equal(pl_wire_encode(&p, &b), PL_OK);
        assert_int_equal(pl_rawclient_send(c, b.data, b.len), 0);
        pl_buf_free(&b);
        // a ping answered: the catalogue before it was taken
        Passerelle__V1__Heartbeat h = PASSERELLE__V1__HEARTBEAT__INIT;
        h.time = pl_now();
        p.kind_case = PASSERELLE__V1__PACKET__KIND_HEARTBEAT;
        p.heartbeat = &h;
        assert_int_equal(pl_wire_encode(&p, &b), PL_OK);
        assert_int_equal(pl_rawclient_send(c, b.data, b.len), 0);
        pl_buf_free(&b);
        pl_packet_t *r =
            pl_testnet_expect(c, PASSERELLE__V1__PACKET__KIND_HEARTBEAT, 10000);
        assert_non_null(r);
        pl_wire_free(&r);
        pl_rawclient_close(&c);
    }
    pl_rawclient_t *a = pl_rawclient_open(net.home[0], net.endpoint);
    assert_non_null(a);
    pl_rawclient_dir_pages(a, true);
    assert_int_equal(pl_rawclient_hello(a, 10000), PL_OK);
    s_ask(a, NULL);
    pl_packet_t *r = pl_testnet_expect(
        a, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 10000);
    assert_non_null(r);
    uint32_t pages =
        r->directory_response->has_pages ? r->directory_response->pages : 1;
    assert_true(pages >= 2);
    size_t cats = 0;
    for (uint32_t k = 0; k < pages; k++) {
        if (k > 0)
            r = pl_testnet_expect(
                a, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 5000);
        assert_non_null(r);
        assert_int_equal(r->directory_response->page, k);
        cats += r->directory_response->n_catalogues;
        pl_wire_free(&r);
    }
    print_message("%zu catalogues in %u pages\n", cats, pages);
    assert_int_equal(cats, S_CATS);
    assert_int_equal(pl_testnet_log_count(&net, "catalogues_not_sent"), 0);
    pl_rawclient_close(&a);
    free(pk);
    free(sk);
    pl_test_net_destroy(&net);
}

// A client connected with deltas and pages, after its hello.
static pl_rawclient_t *
s_client(pl_test_net_t *net)
{
    pl_rawclient_t *c = pl_rawclient_open(net->home[0], net->endpoint);
    assert_non_null(c);
    pl_rawclient_dir_pages(c, true);
    assert_int_equal(pl_rawclient_hello(c, 10000), PL_OK);
    return c;
}

// The history survives a clean restart (STORE/dirhist): a change made
// while the broker was down still comes as a delta; a changed file is
// ignored (logged) and the whole directory goes, as without one.
static void
test_history_restart(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "dirhist", s_specs, 2);
    pl_testnet_issue(&net, S_MORE, 0, NULL, NULL);
    pl_testnet_start_broker(&net, NULL, NULL);
    pl_rawclient_t *a = s_client(&net);
    uint8_t d1[32], d2[32], d3[32];
    pl_dirset_t set = {0};
    s_ask_d(a, NULL, true);
    assert_int_equal(s_receive_set(a, d1, 10000, &set), S_MORE + 2);
    pl_rawclient_close(&a);

    pl_test_net_stop_broker(&net, false);
    assert_int_equal(pl_testnet_log_count(&net, "directory_history_kept"), 1);
    char path[700];
    snprintf(path, sizeof path, "%s/certs/n0.cert", net.broker);
    assert_int_equal(remove(path), 0);
    pl_testnet_start_broker(&net, NULL, NULL);
    a = s_client(&net);
    s_ask_d(a, d1, true);
    s_receive_delta(a, &set, d1, 1, d2);
    assert_true(pl_testnet_log_count(&net, "directory_history_loaded "
                                           "directories=1")
                >= 1);
    pl_rawclient_close(&a);

    // one bit of a kept name changed: that directory is not used
    pl_test_net_stop_broker(&net, false);
    snprintf(path, sizeof path, "%s/store/dirhist", net.broker);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 8 + 4 + 32 + 4, SEEK_SET), 0);
    int ch = fgetc(f);
    assert_int_equal(fseek(f, 8 + 4 + 32 + 4, SEEK_SET), 0);
    fputc(ch ^ 1, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/certs/n1.cert", net.broker);
    assert_int_equal(remove(path), 0);
    pl_testnet_start_broker(&net, NULL, NULL);
    a = s_client(&net);
    s_ask_d(a, d2, true);
    pl_dirset_free(&set);
    assert_int_equal(s_receive_set(a, d3, 10000, &set), S_MORE);
    assert_memory_not_equal(d3, d2, 32);
    assert_int_equal(pl_testnet_log_count(&net, "ignored=some"), 1);
    pl_rawclient_close(&a);

    // the file cut short inside its last set (a disk that filled during
    // the write of an older broker, say): the sets before it are kept
    pl_test_net_stop_broker(&net, false);
    snprintf(path, sizeof path, "%s/store/dirhist", net.broker);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    // two sets: the current directory and one before it
    assert_true(st.st_size > 8 + 4 + 2 * (32 + 4 + PL_DIRSET_NAME * S_MORE));
    assert_int_equal(truncate(path, st.st_size - 100), 0);
    snprintf(path, sizeof path, "%s/certs/n2.cert", net.broker);
    assert_int_equal(remove(path), 0);
    pl_testnet_start_broker(&net, NULL, NULL);
    a = s_client(&net);
    s_ask_d(a, d3, true);
    uint8_t d4[32];
    s_receive_delta(a, &set, d3, 1, d4);
    assert_int_equal(pl_testnet_log_count(&net, "ignored=some"), 2);
    pl_rawclient_close(&a);

    // the write fails at the stop (a full disk: the new file is /dev/full):
    // the file before it is kept whole and no half-written one is left,
    // so the next start still knows d3 (a delta) and not d4 (never kept)
    snprintf(path, sizeof path, "%s/store/dirhist", net.broker);
    char tmp[720], *before = NULL, *after = NULL;
    size_t nbefore = 0, nafter = 0;
    assert_int_equal(s_slurp(path, &before, &nbefore), 0);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(symlink("/dev/full", tmp), 0);
    pl_test_net_stop_broker(&net, false);
    assert_int_equal(pl_testnet_log_count(&net, "directory_history_not_kept"),
                     1);
    assert_int_equal(lstat(tmp, &st), -1);
    assert_int_equal(s_slurp(path, &after, &nafter), 0);
    assert_int_equal(nafter, nbefore);
    assert_memory_equal(after, before, nbefore);
    free(before);
    free(after);
    snprintf(path, sizeof path, "%s/certs/n3.cert", net.broker);
    assert_int_equal(remove(path), 0);
    pl_testnet_start_broker(&net, NULL, NULL);
    a = s_client(&net);
    s_ask_d(a, d3, true);
    uint8_t d5[32];
    s_receive_delta(a, NULL, d3, 2, d5);
    s_ask_d(a, d4, true);
    pl_dirset_free(&set);
    assert_int_equal(s_receive_set(a, d3, 10000, &set), S_MORE - 2);
    assert_memory_equal(d3, d5, 32);
    pl_rawclient_close(&a);
    pl_dirset_free(&set);
    pl_test_net_destroy(&net);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages),
        cmocka_unit_test(test_catalogues),
        cmocka_unit_test(test_history_restart),
    };
    return PL_TESTNET_MAIN(tests);
}
