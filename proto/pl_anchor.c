// pl_anchor - federation anchors: issue, decode, check (DESIGN.md §7.1).
// Layer: proto.
#include "proto/pl_anchor.h"

#include <stdio.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_wire.h"

static const char s_tag[] = "passerelle-anchor-v1";

bool
pl_anchor_publishes(const pl_anchor_t *a, const char *sector)
{
    size_t n = strlen(sector);
    for (const char *p = a->publish; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t) (c - p) : strlen(p);
        if (len == n && memcmp(p, sector, n) == 0)
            return true;
        if (!c)
            break;
        p = c + 1;
    }
    return false;
}

// Every comma-separated item a contract sector; no empty item.
static bool
s_publish_ok(const char *list)
{
    if (!list || !*list || strlen(list) > PL_SERVICES_MAX)
        return false;
    char buf[PL_SERVICES_MAX + 1];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *p = buf;;) {
        char *c = strchr(p, ',');
        if (c)
            *c = 0;
        if (!pl_sector_valid(p))
            return false;
        if (!c)
            return true;
        p = c + 1;
    }
}

static bool
s_endpoint_ok(const char *e)
{
    return e && strlen(e) <= PL_ENDPOINT_MAX && strncmp(e, "tcp://", 6) == 0
           && strchr(e + 6, ':') != NULL;
}

void
pl_anchor_free(pl_anchor_t *a)
{
    if (a)
        pl_buf_free(&a->peer_broker_raw);
}

int
pl_anchor_cert(const pl_anchor_t *a, const uint8_t *data, size_t len,
               pl_cert_t *out)
{
    int rc = pl_cert_decode(data, len, a->peer_authority_pk, out);
    if (rc != PL_OK)
        return rc;
    // the name constraint: a foreign authority certifies only its prefix
    if (strcmp(out->network, a->peer_network) != 0)
        return PL_EPERM;
    return PL_OK;
}

// The foreign broker's certificate of an anchor: signed by the foreign
// key, a broker, under the foreign prefix.
static int
s_peer_broker(const pl_anchor_t *a, const uint8_t *data, size_t len,
              pl_cert_t *out)
{
    int rc = pl_anchor_cert(a, data, len, out);
    if (rc == PL_OK && strcmp(out->sector, "broker") != 0)
        rc = PL_EPROTO;
    return rc;
}

int
pl_anchor_issue(pl_authority_t *auth, const pl_anchor_args_t *args,
                pl_anchor_t *fields, pl_buf_t *out, char *err, size_t errlen)
{
    pl_anchor_t a;
    memset(&a, 0, sizeof a);
    const char *home = pl_authority_network(auth);
    if (!args->peer_network || !pl_slug_valid(args->peer_network)) {
        pl_errf(err, errlen, "--network: not a network code");
        return PL_EINVAL;
    }
    if (strcmp(args->peer_network, home) == 0) {
        pl_errf(err, errlen, "--network %s is this authority's own network",
                home);
        return PL_EINVAL;
    }
    const char *publish =
        args->publish && *args->publish ? args->publish : PL_ANCHOR_PUBLISHED;
    if (!s_publish_ok(publish)) {
        pl_errf(err, errlen,
                "--publish: a comma-separated list of sectors "
                "is expected");
        return PL_EINVAL;
    }
    if (args->endpoint && *args->endpoint && !s_endpoint_ok(args->endpoint)) {
        pl_errf(err, errlen, "--endpoint: tcp://HOST:PORT is expected");
        return PL_EINVAL;
    }
    snprintf(a.network, sizeof a.network, "%s", home);
    snprintf(a.peer_network, sizeof a.peer_network, "%s", args->peer_network);
    memcpy(a.peer_authority_pk, args->peer_authority_pk, PL_SIGN_PK_BYTES);
    int rc = s_peer_broker(&a, args->peer_broker_cert,
                           args->peer_broker_cert_len, &a.peer_broker);
    if (rc != PL_OK) {
        pl_errf(err, errlen,
                rc == PL_EPERM
                    ? "--broker-cert: not a certificate of network %s"
                : rc == PL_EAUTH
                    ? "--broker-cert: not signed by the --authority key of %s"
                    : "--broker-cert: not a broker certificate (of %s)",
                a.peer_network);
        return PL_EINVAL;
    }
    uint64_t now = pl_now();
    if (args->not_after <= now) {
        pl_errf(err, errlen, "--expires: the date has passed");
        return PL_EINVAL;
    }
    rc = pl_authority_next_serial(auth, &a.serial);
    if (rc != PL_OK) {
        pl_errf(err, errlen, "cannot reserve a serial: %s", pl_strerror(rc));
        return rc;
    }
    a.not_before = now;
    a.not_after = args->not_after;
    snprintf(a.endpoint, sizeof a.endpoint, "%s",
             args->endpoint ? args->endpoint : "");
    snprintf(a.publish, sizeof a.publish, "%s", publish);
    memcpy(a.authority_pk, pl_authority_pk(auth), PL_SIGN_PK_BYTES);

    // the repeated publish field: split the list
    char list[PL_SERVICES_MAX + 1];
    char *items[PL_SERVICES_MAX / 2 + 1];
    size_t n_items = 0;
    snprintf(list, sizeof list, "%s", publish);
    for (char *p = list;;) {
        items[n_items++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    Passerelle__V1__AnchorBody b = PASSERELLE__V1__ANCHOR_BODY__INIT;
    b.version = 1;
    b.serial = a.serial;
    b.network = a.network;
    b.peer_network = a.peer_network;
    b.peer_authority_pk.data = a.peer_authority_pk;
    b.peer_authority_pk.len = PL_SIGN_PK_BYTES;
    b.peer_broker_cert.data = (uint8_t *) args->peer_broker_cert;
    b.peer_broker_cert.len = args->peer_broker_cert_len;
    b.endpoint = a.endpoint[0] ? a.endpoint : NULL;
    b.n_publish = n_items;
    b.publish = items;
    b.not_before = a.not_before;
    b.not_after = a.not_after;
    b.authority_pk.data = a.authority_pk;
    b.authority_pk.len = PL_SIGN_PK_BYTES;
    size_t blen = passerelle__v1__anchor_body__get_packed_size(&b);
    if (blen > PL_ANCHOR_MAX - 128)
        return PL_ETOOBIG;
    uint8_t body[PL_ANCHOR_MAX];
    passerelle__v1__anchor_body__pack(&b, body);
    uint8_t sig[64];
    rc = pl_authority_sign(auth, s_tag, body, blen, sig);
    if (rc != PL_OK)
        return rc;
    Passerelle__V1__Anchor an = PASSERELLE__V1__ANCHOR__INIT;
    an.body.data = body;
    an.body.len = blen;
    an.signature.data = sig;
    an.signature.len = sizeof sig;
    size_t alen = passerelle__v1__anchor__get_packed_size(&an);
    rc = pl_buf_reserve(out, out->len + alen + 1);
    if (rc != PL_OK)
        return rc;
    passerelle__v1__anchor__pack(&an, out->data + out->len);
    out->len += alen;
    if (fields) {
        *fields = a;
        memset(&fields->peer_broker_raw, 0, sizeof fields->peer_broker_raw);
        rc = pl_buf_append(&fields->peer_broker_raw, args->peer_broker_cert,
                           args->peer_broker_cert_len);
    }
    return rc;
}

int
pl_anchor_decode(const uint8_t *data, size_t len,
                 const uint8_t apk[PL_SIGN_PK_BYTES], pl_anchor_t *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0 || len > PL_ANCHOR_MAX)
        return PL_EPROTO;
    ProtobufCMessage *outer = NULL, *inner = NULL;
    if (pl_wire_unpack(&passerelle__v1__anchor__descriptor, data, len, &outer)
        != PL_OK)
        return PL_EPROTO;
    Passerelle__V1__Anchor *an = (Passerelle__V1__Anchor *) outer;
    int rc = PL_OK;
    if (an->signature.len != 64 || an->body.len > PL_ANCHOR_MAX) {
        rc = PL_EPROTO;
    } else {
        size_t tl = sizeof s_tag - 1;
        uint8_t m[sizeof s_tag - 1 + PL_ANCHOR_MAX];
        memcpy(m, s_tag, tl);
        memcpy(m + tl, an->body.data, an->body.len);
        rc = pl_verify(an->signature.data, m, tl + an->body.len, apk);
    }
    if (rc == PL_OK
        && pl_wire_unpack(&passerelle__v1__anchor_body__descriptor,
                          an->body.data, an->body.len, &inner)
               != PL_OK)
        rc = PL_EPROTO;
    Passerelle__V1__AnchorBody *b = (Passerelle__V1__AnchorBody *) inner;
    if (rc == PL_OK
        && (b->version != 1 || b->peer_authority_pk.len != PL_SIGN_PK_BYTES
            || b->authority_pk.len != PL_SIGN_PK_BYTES
            || !pl_slug_valid(b->network) || !pl_slug_valid(b->peer_network)
            || strcmp(b->network, b->peer_network) == 0
            || (b->endpoint && *b->endpoint && !s_endpoint_ok(b->endpoint))
            || b->not_after <= b->not_before))
        rc = PL_EPROTO;
    if (rc == PL_OK
        && !pl_ct_equal(b->authority_pk.data, apk, PL_SIGN_PK_BYTES))
        rc = PL_EAUTH; // signed by this key, yet naming another authority
    size_t used = 0;
    for (size_t i = 0; rc == PL_OK && i < b->n_publish; i++) {
        size_t n = strlen(b->publish[i]);
        if (!pl_sector_valid(b->publish[i])
            || used + (i ? 1 : 0) + n > PL_SERVICES_MAX)
            rc = PL_EPROTO;
        else {
            if (i)
                out->publish[used++] = ',';
            memcpy(out->publish + used, b->publish[i], n);
            used += n;
            out->publish[used] = 0;
        }
    }
    if (rc == PL_OK) {
        out->serial = b->serial;
        snprintf(out->network, sizeof out->network, "%s", b->network);
        snprintf(out->peer_network, sizeof out->peer_network, "%s",
                 b->peer_network);
        memcpy(out->peer_authority_pk, b->peer_authority_pk.data,
               PL_SIGN_PK_BYTES);
        memcpy(out->authority_pk, apk, PL_SIGN_PK_BYTES);
        snprintf(out->endpoint, sizeof out->endpoint, "%s",
                 b->endpoint ? b->endpoint : "");
        out->not_before = b->not_before;
        out->not_after = b->not_after;
        rc = s_peer_broker(out, b->peer_broker_cert.data,
                           b->peer_broker_cert.len, &out->peer_broker);
        if (rc == PL_EPERM)
            rc = PL_EPROTO;
    }
    if (rc == PL_OK)
        rc = pl_buf_append(&out->peer_broker_raw, b->peer_broker_cert.data,
                           b->peer_broker_cert.len);
    if (inner)
        pl_wire_unpacked_free(inner);
    pl_wire_unpacked_free(outer);
    if (rc != PL_OK) {
        pl_anchor_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int
pl_anchor_load(const char *path, const uint8_t apk[PL_SIGN_PK_BYTES],
               pl_anchor_t *out, pl_buf_t *raw)
{
    pl_buf_t buf = {0};
    int rc = pl_file_read(path, PL_ANCHOR_MAX, &buf);
    if (rc == PL_ETOOBIG)
        rc = PL_EPROTO;
    if (rc == PL_OK)
        rc = pl_anchor_decode(buf.data, buf.len, apk, out);
    if (rc == PL_OK && raw)
        *raw = buf;
    else
        pl_buf_free(&buf);
    return rc;
}

int
pl_anchor_check(const pl_anchor_t *a, uint64_t now)
{
    if (now < a->not_before || now > a->not_after)
        return PL_EEXPIRED;
    // the foreign broker's own certificate must be valid too
    if (now < a->peer_broker.not_before || now > a->peer_broker.not_after)
        return PL_EEXPIRED;
    return PL_OK;
}
