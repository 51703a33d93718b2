// pl_rawclient - bare test client. Layer: tests.
#include "tests/lib/pl_rawclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct pl_rawclient {
    void *ctx;         // own context
    void *sock;        // DEALER
    pl_keys_t *keys;   // when opened from a home
    pl_cert_t cert;    // own certificate, when opened from a home
    uint8_t apk[32];   // authority key
    bool acks_notices; // said in its hello
    bool dir_pages;    // said in its hello
    zmq_msg_t last;    // pl_rawclient_recv_peek's frame, until the next
    bool has_last;
    unsigned before_welcome; // packets the last pl_rawclient_hello dropped
};

pl_rawclient_t *
pl_rawclient_open_keys(const char *endpoint, const uint8_t *server_pk,
                       const uint8_t *client_pk, const uint8_t *client_sk)
{
    pl_rawclient_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = zmq_ctx_new();
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    int linger = 0, hwm = 100000;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (client_pk) {
        zmq_setsockopt(self->sock, ZMQ_CURVE_SERVERKEY, server_pk, 32);
        zmq_setsockopt(self->sock, ZMQ_CURVE_PUBLICKEY, client_pk, 32);
        zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, client_sk, 32);
    }
    if (zmq_connect(self->sock, endpoint) != 0) {
        pl_rawclient_close(&self);
        return NULL;
    }
    return self;
}

pl_rawclient_t *
pl_rawclient_open(const char *home, const char *endpoint)
{
    char path[1024];
    uint8_t apk[32];
    pl_cert_t broker, own;
    pl_keys_t *keys = NULL;
    snprintf(path, sizeof path, "%s/authority.pub", home);
    if (pl_authority_pub_load(path, apk) != PL_OK)
        return NULL;
    snprintf(path, sizeof path, "%s/broker.cert", home);
    if (pl_cert_load(path, apk, &broker, NULL) != PL_OK)
        return NULL;
    snprintf(path, sizeof path, "%s/node.cert", home);
    if (pl_cert_load(path, apk, &own, NULL) != PL_OK)
        return NULL;
    if (pl_keys_load(home, &keys) != PL_OK)
        return NULL;
    pl_rawclient_t *self = pl_rawclient_open_keys(
        endpoint, broker.keys.curve, keys->pub.curve, keys->sec->curve);
    if (!self) {
        pl_keys_destroy(&keys);
        return NULL;
    }
    self->keys = keys;
    self->cert = own;
    memcpy(self->apk, apk, 32);
    return self;
}

void
pl_rawclient_close(pl_rawclient_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_rawclient_t *self = *self_p;
    if (self->has_last)
        zmq_msg_close(&self->last);
    if (self->sock)
        zmq_close(self->sock);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pl_keys_destroy(&self->keys);
    free(self);
    *self_p = NULL;
}

int
pl_rawclient_send(pl_rawclient_t *self, const void *data, size_t len)
{
    return zmq_send(self->sock, data, len, 0) < 0 ? -1 : 0;
}

int
pl_rawclient_recv(pl_rawclient_t *self, pl_packet_t **out, int timeout_ms)
{
    zmq_pollitem_t it = {self->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return PL_ETIMEOUT;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, self->sock, 0) < 0) {
        zmq_msg_close(&m);
        return PL_EIO;
    }
    int rc = pl_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), out);
    zmq_msg_close(&m);
    return rc;
}

int
pl_rawclient_recv_peek(pl_rawclient_t *self, pl_envelope_t *env,
                       pl_packet_t **other, int timeout_ms)
{
    *other = NULL;
    memset(env, 0, sizeof *env);
    zmq_pollitem_t it = {self->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return PL_ETIMEOUT;
    if (!self->has_last) {
        zmq_msg_init(&self->last);
        self->has_last = true;
    }
    if (zmq_msg_recv(&self->last, self->sock, 0) < 0)
        return PL_EIO;
    const uint8_t *data = zmq_msg_data(&self->last);
    size_t len = zmq_msg_size(&self->last);
    int rc = pl_envelope_peek(data, len, env);
    return rc == PL_ENOTFOUND ? pl_wire_decode(data, len, other) : rc;
}

void
pl_rawclient_acks_notices(pl_rawclient_t *self, bool on)
{
    self->acks_notices = on;
}

void
pl_rawclient_dir_pages(pl_rawclient_t *self, bool on)
{
    self->dir_pages = on;
}

int
pl_rawclient_send_hello(pl_rawclient_t *self)
{
    Passerelle__V1__Hello h = PASSERELLE__V1__HELLO__INIT;
    h.version = 1;
    h.time = pl_now();
    h.has_acks_notices = self->acks_notices;
    h.acks_notices = self->acks_notices;
    h.has_directory_pages = self->dir_pages;
    h.directory_pages = self->dir_pages;
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_HELLO;
    p.hello = &h;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) != PL_OK)
        return PL_EINVAL;
    pl_rawclient_send(self, out.data, out.len);
    pl_buf_free(&out);
    return PL_OK;
}

int
pl_rawclient_hello(pl_rawclient_t *self, int timeout_ms)
{
    if (pl_rawclient_send_hello(self) != PL_OK)
        return PL_EINVAL;
    uint64_t deadline = pl_mono_ms() + (uint64_t) timeout_ms;
    self->before_welcome = 0;
    while (pl_mono_ms() < deadline) {
        pl_packet_t *pkt = NULL;
        int rc =
            pl_rawclient_recv(self, &pkt, (int) (deadline - pl_mono_ms()) + 1);
        if (rc != PL_OK)
            continue;
        bool welcome = pkt->kind_case == PASSERELLE__V1__PACKET__KIND_WELCOME;
        pl_wire_free(&pkt);
        if (welcome)
            return PL_OK;
        self->before_welcome++;
    }
    return PL_ETIMEOUT;
}

unsigned
pl_rawclient_before_welcome(const pl_rawclient_t *self)
{
    return self->before_welcome;
}

const pl_keys_t *
pl_rawclient_keys(const pl_rawclient_t *self)
{
    return self->keys;
}

const pl_cert_t *
pl_rawclient_cert(const pl_rawclient_t *self)
{
    return &self->cert;
}

int
pl_rawclient_seal(pl_rawclient_t *self, const char *to_home, const char *from,
                  const void *payload, size_t len, uint64_t ttl,
                  uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *out)
{
    char path[1024];
    pl_cert_t to;
    snprintf(path, sizeof path, "%s/node.cert", to_home);
    int rc = pl_cert_load(path, self->apk, &to, NULL);
    if (rc != PL_OK)
        return rc;
    Passerelle__V1__TestMessage t = PASSERELLE__V1__TEST_MESSAGE__INIT;
    t.payload.data = (uint8_t *) payload;
    t.payload.len = len;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &t;
    pl_buf_t msg = {0};
    rc = pl_message_encode(&m, &msg);
    if (rc != PL_OK)
        return rc;
    pl_seal_args_t a = {
        .sender = self->keys,
        .from = from ? from : self->cert.address,
        .to = to.address,
        .to_box_pk = to.keys.box,
        .id = NULL,
        .now = pl_now(),
        .ttl = ttl,
    };
    rc = pl_envelope_seal(&a, msg.data, msg.len, id, out);
    pl_buf_wipe(&msg);
    return rc;
}
