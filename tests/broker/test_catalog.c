// test_catalog - the broker's copy of the service catalogues (issue 18),
// with raw clients of two enrolled nodes on a real broker: a catalogue a
// node sends for another node's address is refused and never reaches the
// directory; its own is pushed at once to every connected node in the
// directory; an older version does not replace a newer one.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <string.h>

#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};

// Encodes 'p' and sends it from 'c'.
static void
s_send(pl_rawclient_t *c, const pl_packet_t *p)
{
    pl_buf_t b = {0};
    assert_int_equal(pl_wire_encode(p, &b), PL_OK);
    assert_int_equal(pl_rawclient_send(c, b.data, b.len), 0);
    pl_buf_free(&b);
}

// Sends a Catalogue packet from 'c'.
static void
s_publish(pl_rawclient_t *c, const char *address, uint64_t version,
          const char *blob)
{
    Passerelle__V1__Catalogue cat = PASSERELLE__V1__CATALOGUE__INIT;
    cat.address = (char *) address;
    cat.version = version;
    cat.signed_.data = (uint8_t *) blob;
    cat.signed_.len = strlen(blob);
    pl_packet_t p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_CATALOGUE;
    p.catalogue = &cat;
    s_send(c, &p);
}

// Asks for the directory on 'c'; the version of the catalogue of
// 'address' in the answer (0: none).
static uint64_t
s_dir_version(pl_rawclient_t *c, const char *address)
{
    Passerelle__V1__DirectoryRequest req =
        PASSERELLE__V1__DIRECTORY_REQUEST__INIT;
    pl_packet_t p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST;
    p.directory_request = &req;
    s_send(c, &p);
    pl_packet_t *r = pl_testnet_expect(
        c, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 5000);
    assert_non_null(r);
    uint64_t v = 0;
    const Passerelle__V1__DirectoryResponse *d = r->directory_response;
    for (size_t i = 0; i < d->n_catalogues; i++)
        if (!strcmp(d->catalogues[i]->address, address))
            v = d->catalogues[i]->version;
    pl_wire_free(&r);
    return v;
}

static void
test_catalogues(void **state)
{
    (void) state;
    pl_test_net_t net;
    pl_test_net_init(&net, "catalog", s_specs, 2);
    pl_testnet_start_broker(&net, NULL, NULL);
    pl_rawclient_t *a = pl_testnet_client(&net, 0, 20);
    pl_rawclient_t *b = pl_testnet_client(&net, 1, 20);
    assert_non_null(a);
    assert_non_null(b);
    // the agency publishes for the clinic, then for itself: the push that
    // follows (the packets of one connection are handled in order) holds
    // its own catalogue only
    s_publish(a, net.address[1], 7, "{\"doc\": \"forged\"}");
    s_publish(a, net.address[0], 7, "{\"doc\": \"seven\"}");
    pl_packet_t *push = pl_testnet_expect(
        b, PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE, 5000);
    assert_non_null(push);
    assert_int_equal(push->directory_response->n_catalogues, 1);
    assert_string_equal(push->directory_response->catalogues[0]->address,
                        net.address[0]);
    assert_int_equal(push->directory_response->catalogues[0]->version, 7);
    pl_wire_free(&push);
    assert_int_equal(s_dir_version(b, net.address[1]), 0);
    assert_true(pl_testnet_log_count(&net, "catalogue_refused") >= 1);
    // an older version does not replace it
    s_publish(a, net.address[0], 6, "{\"doc\": \"six\"}");
    assert_int_equal(s_dir_version(b, net.address[0]), 7);
    pl_rawclient_close(&a);
    pl_rawclient_close(&b);
    pl_test_net_destroy(&net);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogues),
    };
    return PL_TESTNET_MAIN(tests);
}
