// pl_fakenode - the node daemon's state by hand. Layer: tests (nodes).
#include "tests/lib/nodes/pl_fakenode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "tests/lib/pl_test.h"

// A certificate for 'keys' as the authority would issue it (not signed:
// the directory cache holds certificates already verified).
static void
s_cert(pl_cert_t *c, const char *name, const char *sector,
       const pl_keys_t *keys)
{
    memset(c, 0, sizeof *c);
    c->serial = 1;
    snprintf(c->network, sizeof c->network, "sn");
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->address, sizeof c->address, "sn/%s", name);
    snprintf(c->sector, sizeof c->sector, "%s", sector);
    snprintf(c->country, sizeof c->country, "SN");
    c->keys = keys->pub;
    pl_key_id(keys->pub.box, c->box_key_id);
    c->not_before = pl_now() - 3600;
    c->not_after = pl_now() + 30 * 86400;
}

void
pl_fakenode_init(pl_fakenode_t *f, const char *tag, size_t map_bytes)
{
    memset(f, 0, sizeof *f);
    pl_teststore_open(&f->ts, tag, map_bytes);
    pl_node_t *n = calloc(1, sizeof *n);
    PL_CHECK(n != NULL);
    f->node = n;
    n->lock_fd = -1;
    n->heartbeat_ms = 5000;
    n->started_ms = pl_mono_ms();
    snprintf(n->home, sizeof n->home, "%s", f->ts.home);
    n->store = f->ts.store;
    PL_CHECK(pl_keys_generate(&n->keys) == PL_OK);
    s_cert(&n->me, "agency", "social", n->keys);
    PL_CHECK(pl_keys_generate(&f->peer_keys) == PL_OK);
    s_cert(&f->peer, "clinic", "health", f->peer_keys);
    n->dir = calloc(1, sizeof *n->dir);
    PL_CHECK(n->dir != NULL);
    n->dir[0] = f->peer;
    n->ndir = 1;
    n->session = true;
    // the DEALER: one end of a PAIR the test reads
    f->zctx = zmq_ctx_new();
    PL_CHECK(f->zctx != NULL);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://fakenode-%p", (void *) f);
    f->broker = zmq_socket(f->zctx, ZMQ_PAIR);
    n->dealer = zmq_socket(f->zctx, ZMQ_PAIR);
    PL_CHECK(f->broker && n->dealer);
    PL_CHECK(zmq_bind(f->broker, ep) == 0);
    PL_CHECK(zmq_connect(n->dealer, ep) == 0);
    n->zctx = f->zctx;
}

void
pl_fakenode_fini(pl_fakenode_t *f)
{
    if (f->broker)
        zmq_close(f->broker); // before pl_node_destroy terms the context
    f->broker = NULL;
    f->ts.store = NULL; // closed by pl_node_destroy
    pl_node_destroy(&f->node);
    f->zctx = NULL;
    pl_keys_destroy(&f->peer_keys);
    pl_teststore_close(&f->ts);
}

pl_packet_t *
pl_fakenode_sent(pl_fakenode_t *f, int ms)
{
    zmq_pollitem_t it = {f->broker, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    pl_packet_t *p = NULL;
    if (zmq_msg_recv(&m, f->broker, 0) >= 0
        && pl_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), &p) != PL_OK)
        p = NULL;
    zmq_msg_close(&m);
    return p;
}

int
pl_fakenode_drain(pl_fakenode_t *f)
{
    int n = 0;
    pl_packet_t *p;
    while ((p = pl_fakenode_sent(f, 0))) {
        pl_wire_free(&p);
        n++;
    }
    return n;
}

void
pl_fakenode_seal_in(pl_fakenode_t *f, const uint8_t *msg, size_t len,
                    uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *packet)
{
    pl_seal_args_t a = {
        .sender = f->peer_keys,
        .from = f->peer.address,
        .to = f->node->me.address,
        .to_box_pk = f->node->me.keys.box,
        .now = pl_now(),
    };
    PL_CHECK(pl_envelope_seal(&a, msg, len, id, packet) == PL_OK);
}

void
pl_fakenode_seal_msg(pl_fakenode_t *f, const pl_message_t *m,
                     uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *packet)
{
    pl_buf_t enc = {0};
    PL_CHECK(pl_message_encode(m, &enc) == PL_OK);
    pl_fakenode_seal_in(f, enc.data, enc.len, id, packet);
    pl_buf_free(&enc);
}

int
pl_fakenode_pass(pl_fakenode_t *f, const uint8_t *data, size_t len)
{
    pl_packet_t *pkt = NULL;
    PL_CHECK(pl_wire_decode(data, len, &pkt) == PL_OK);
    pl_txn_t *pass = NULL;
    PL_CHECK(pl_store_begin(f->node->store, NULL, true, &pass) == PL_OK);
    pl_node_on_packet(f->node, pass, pkt, data, len, false);
    pl_wire_free(&pkt);
    int rc = pl_store_commit(&pass);
    pl_node_after_flush(f->node, rc == PL_OK);
    pl_node_resend_settle(f->node, rc == PL_OK);
    return rc;
}

int
pl_fakenode_setup(void **state)
{
    pl_fakenode_t *f = calloc(1, sizeof *f);
    PL_CHECK(f != NULL);
    pl_fakenode_init(f, "fakenode", 8u << 20);
    *state = f;
    return 0;
}

int
pl_fakenode_teardown(void **state)
{
    pl_fakenode_fini(*state);
    free(*state);
    *state = NULL;
    return 0;
}

static int
s_count_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) k, (void) kl, (void) v, (void) vl;
    (*(size_t *) arg)++;
    return PL_STORE_NEXT;
}

size_t
pl_fakenode_count(pl_fakenode_t *f, pl_db_t db)
{
    pl_txn_t *t = NULL;
    size_t n = 0;
    PL_CHECK(pl_store_begin(f->node->store, NULL, false, &t) == PL_OK);
    PL_CHECK(pl_store_each(t, db, s_count_one, &n) == PL_OK);
    pl_store_abort(&t);
    return n;
}

bool
pl_fakenode_has(pl_fakenode_t *f, pl_db_t db,
                const uint8_t key[PL_MSG_ID_BYTES])
{
    pl_txn_t *t = NULL;
    PL_CHECK(pl_store_begin(f->node->store, NULL, false, &t) == PL_OK);
    const uint8_t *v;
    size_t vlen;
    bool has = pl_store_get(t, db, key, PL_MSG_ID_BYTES, &v, &vlen) == PL_OK;
    pl_store_abort(&t);
    return has;
}

void
pl_fakenode_test_msg(pl_buf_t *out, const char *payload)
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__TestMessage t = PASSERELLE__V1__TEST_MESSAGE__INIT;
    t.payload.data = (uint8_t *) payload;
    t.payload.len = strlen(payload);
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &t;
    PL_CHECK(pl_message_encode(&m, out) == PL_OK);
}

int
pl_fakenode_outbox_add(pl_fakenode_t *f, const char *to,
                       uint8_t id[PL_MSG_ID_BYTES])
{
    pl_buf_t msg = {0};
    pl_fakenode_test_msg(&msg, "hello");
    pl_txn_t *pass = NULL;
    PL_CHECK(pl_store_begin(f->node->store, NULL, true, &pass) == PL_OK);
    int rc = pl_node_outbox_add(f->node, pass, to, S_KIND_TEST, msg.data,
                                msg.len, 0, id);
    pl_buf_free(&msg);
    if (rc == PL_OK)
        PL_CHECK(pl_store_commit(&pass) == PL_OK);
    else
        pl_store_abort(&pass);
    pl_node_after_flush(f->node, rc == PL_OK);
    pl_node_resend_settle(f->node, rc == PL_OK);
    return rc;
}
