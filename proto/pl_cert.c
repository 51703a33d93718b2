// pl_cert - the network authority, certificates and revocation lists.
// Layer: proto. Owns: the Certificate/RevocationList wire types.
//
// Decoding verifies the signature over the exact body bytes before the body
// is parsed, so only authority-signed bytes ever reach the body decoder; the
// body is then validated field by field as if it were hostile anyway.
#include "proto/pl_cert.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/passerelle.pb-c.h"
#include "proto/pl_wire.h"

#define S_PATH_MAX 4096

static const char s_cert_tag[] = "passerelle-cert-v1";
static const char s_revoked_tag[] = "passerelle-revoked-v1";

// ---- sectors (contract codes, DESIGN.md §2)

static const struct {
    const char *code;      // contract sector code
    const char *dimension; // reintegration dimension
} s_sectors[] = {
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
#define S_NSECTORS (sizeof s_sectors / sizeof s_sectors[0])

bool
pl_sector_valid(const char *sector)
{
    return pl_sector_dimension(sector) != NULL;
}

// NULL for an unknown sector.
const char *
pl_sector_dimension(const char *sector)
{
    if (!sector)
        return NULL;
    for (size_t i = 0; i < S_NSECTORS; i++)
        if (strcmp(sector, s_sectors[i].code) == 0)
            return s_sectors[i].dimension;
    return NULL;
}

const char *
pl_sector_list(void)
{
    return "agency,health,mhpss,education,tvet,housing,child-protection,gbv,"
           "legal,livelihood,social-protection,basic-needs,family-tracing,"
           "coordination,broker";
}

// ---- field validation, shared by issue and decode

// Human text: 1..max bytes (0.. when optional), no control characters, so
// it is safe in logs and terminals. UTF-8 beyond ASCII is allowed.
static bool
s_text_ok(const char *s, size_t max, bool optional)
{
    if (!s)
        return optional;
    size_t n = strlen(s);
    if ((n == 0 && !optional) || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

// A service code: 1..PL_NAME_MAX printable ASCII without ',' or space
// (services travel comma-joined in pl_cert_t).
static bool
s_service_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == ',')
            return false;
    return true;
}

static bool
s_country_ok(const char *s)
{
    return s && strlen(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A'
           && s[1] <= 'Z';
}

// Copies 's' (NULL = "") into dst[size]; false when it does not fit.
static bool
s_copy(char *dst, size_t size, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    if (n >= size)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

// Checks the decoded or caller-given fields of a certificate.
static int
s_cert_fields_ok(const pl_cert_t *c)
{
    if (!pl_slug_valid(c->network) || !pl_slug_valid(c->name)
        || !s_text_ok(c->display_name, PL_TEXT_MAX, false)
        || !s_text_ok(c->organisation, PL_TEXT_MAX, true)
        || !pl_sector_valid(c->sector) || !s_country_ok(c->country)
        || (c->region[0] && !pl_slug_valid(c->region))
        || (c->home_broker[0] && !pl_address_valid(c->home_broker))
        || c->serial == 0 || c->not_before >= c->not_after)
        return PL_EINVAL;
    // services: comma-joined codes, no empty item
    const char *s = c->services;
    if (*s) {
        char item[PL_NAME_MAX + 2];
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t n = comma ? (size_t) (comma - s) : strlen(s);
            if (n == 0 || n > PL_NAME_MAX)
                return PL_EINVAL;
            memcpy(item, s, n);
            item[n] = 0;
            if (!s_service_ok(item))
                return PL_EINVAL;
            if (!comma)
                break;
            s = comma + 1;
        }
    }
    return PL_OK;
}

// Signature check over tag || body; PL_EAUTH on any failure.
static int
s_verify(const char *tag, size_t tag_len, const uint8_t *body, size_t len,
         const uint8_t *sig, size_t sig_len, const uint8_t pk[32])
{
    if (sig_len != crypto_sign_BYTES)
        return PL_EAUTH;
    uint8_t *m = malloc(tag_len + len);
    if (!m)
        return PL_ENOMEM;
    memcpy(m, tag, tag_len);
    if (len) // an empty signed body comes as NULL (memcpy's NULL is UB)
        memcpy(m + tag_len, body, len);
    int rc = crypto_sign_verify_detached(sig, m, tag_len + len, pk) == 0
                 ? PL_OK
                 : PL_EAUTH;
    free(m);
    return rc;
}

static int
s_sign(const char *tag, size_t tag_len, const uint8_t *body, size_t len,
       const uint8_t *sk, uint8_t sig[crypto_sign_BYTES])
{
    uint8_t *m = malloc(tag_len + len);
    if (!m)
        return PL_ENOMEM;
    memcpy(m, tag, tag_len);
    memcpy(m + tag_len, body, len);
    int rc = crypto_sign_detached(sig, NULL, m, tag_len + len, sk) == 0
                 ? PL_OK
                 : PL_EIO;
    free(m);
    return rc;
}

// Maps decoder failures: a budget overrun is still malformed input here.
static int
s_unpack(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
         size_t len, ProtobufCMessage **out)
{
    int rc = pl_wire_unpack(desc, data, len, out);
    if (rc != PL_OK) {
        *out = NULL;
        return rc == PL_ENOMEM ? PL_ENOMEM : PL_EPROTO;
    }
    return PL_OK;
}

// Unpacks a {body, signature} wrapper and verifies it (pk NULL: the
// caller verified these very bytes before); on success *body points into
// *outer (free with pl_wire_unpacked_free).
static int
s_open_signed(const ProtobufCMessageDescriptor *desc, const char *tag,
              size_t tag_len, const uint8_t *data, size_t len,
              const uint8_t pk[32], ProtobufCMessage **outer,
              ProtobufCBinaryData *body)
{
    int rc = s_unpack(desc, data, len, outer);
    if (rc != PL_OK)
        return rc;
    // Certificate and RevocationList share the {body=1, signature=2} shape
    ProtobufCBinaryData b, sig;
    if (desc == &passerelle__v1__certificate__descriptor) {
        Passerelle__V1__Certificate *c = (Passerelle__V1__Certificate *) *outer;
        b = c->body;
        sig = c->signature;
    } else {
        Passerelle__V1__RevocationList *r =
            (Passerelle__V1__RevocationList *) *outer;
        b = r->body;
        sig = r->signature;
    }
    if (pk)
        rc = s_verify(tag, tag_len, b.data, b.len, sig.data, sig.len, pk);
    if (rc != PL_OK) {
        pl_wire_unpacked_free(*outer);
        *outer = NULL;
        return rc;
    }
    *body = b;
    return PL_OK;
}

// ---- certificates

// pl_cert_decode; 'verify' false: the signature is not checked (the
// caller checked these very bytes under this key before)
static int
s_cert_decode(const uint8_t *data, size_t len,
              const uint8_t authority_pk[PL_SIGN_PK_BYTES], bool verify,
              pl_cert_t *out)
{
    memset(out, 0, sizeof *out);
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    if (!data || len == 0 || len > PL_CERT_MAX)
        return PL_EPROTO;
    ProtobufCMessage *outer = NULL, *inner = NULL;
    ProtobufCBinaryData body;
    int rc = s_open_signed(&passerelle__v1__certificate__descriptor, s_cert_tag,
                           sizeof s_cert_tag - 1, data, len,
                           verify ? authority_pk : NULL, &outer, &body);
    if (rc != PL_OK)
        return rc;
    rc = s_unpack(&passerelle__v1__certificate_body__descriptor, body.data,
                  body.len, &inner);
    if (rc != PL_OK) {
        pl_wire_unpacked_free(outer);
        return rc;
    }
    Passerelle__V1__CertificateBody *b =
        (Passerelle__V1__CertificateBody *) inner;
    pl_cert_t c;
    memset(&c, 0, sizeof c);
    if (b->version != 1 || b->sign_pk.len != PL_SIGN_PK_BYTES
        || b->box_pk.len != PL_BOX_PK_BYTES
        || b->curve_pk.len != PL_CURVE_PK_BYTES
        || b->authority_pk.len != PL_SIGN_PK_BYTES)
        rc = PL_EPROTO;
    // signed by this key, yet naming another authority: not ours
    else if (sodium_memcmp(b->authority_pk.data, authority_pk, PL_SIGN_PK_BYTES)
             != 0)
        rc = PL_EAUTH;
    if (rc == PL_OK) {
        c.serial = b->serial;
        c.not_before = b->not_before;
        c.not_after = b->not_after;
        memcpy(c.keys.sign, b->sign_pk.data, PL_SIGN_PK_BYTES);
        memcpy(c.keys.box, b->box_pk.data, PL_BOX_PK_BYTES);
        memcpy(c.keys.curve, b->curve_pk.data, PL_CURVE_PK_BYTES);
        memcpy(c.authority_pk, authority_pk, PL_SIGN_PK_BYTES);
        pl_key_id(c.keys.box, c.box_key_id);
        if (!s_copy(c.network, sizeof c.network, b->network)
            || !s_copy(c.name, sizeof c.name, b->name)
            || !s_copy(c.display_name, sizeof c.display_name, b->display_name)
            || !s_copy(c.organisation, sizeof c.organisation, b->organisation)
            || !s_copy(c.sector, sizeof c.sector, b->sector)
            || !s_copy(c.country, sizeof c.country, b->country)
            || !s_copy(c.region, sizeof c.region, b->region)
            || !s_copy(c.home_broker, sizeof c.home_broker, b->home_broker))
            rc = PL_EPROTO;
    }
    // services, comma-joined; each checked on its own so a ',' inside one
    // cannot forge two
    size_t used = 0;
    for (size_t i = 0; rc == PL_OK && i < b->n_services; i++) {
        const char *s = b->services[i];
        size_t n = s_service_ok(s) ? strlen(s) : 0;
        if (n == 0 || used + (i ? 1 : 0) + n > PL_SERVICES_MAX) {
            rc = PL_EPROTO;
            break;
        }
        if (i)
            c.services[used++] = ',';
        memcpy(c.services + used, s, n);
        used += n;
        c.services[used] = 0;
    }
    if (rc == PL_OK && s_cert_fields_ok(&c) != PL_OK)
        rc = PL_EPROTO;
    if (rc == PL_OK
        && snprintf(c.address, sizeof c.address, "%s/%s", c.network, c.name)
               >= (int) sizeof c.address)
        rc = PL_EPROTO;
    if (rc == PL_OK)
        *out = c;
    pl_wire_unpacked_free(inner);
    pl_wire_unpacked_free(outer);
    return rc;
}

int
pl_cert_decode(const uint8_t *data, size_t len,
               const uint8_t authority_pk[PL_SIGN_PK_BYTES], pl_cert_t *out)
{
    return s_cert_decode(data, len, authority_pk, true, out);
}

// the memo's name of 'data' under 'pk'
static void
s_memo_name(const uint8_t *data, size_t len, const uint8_t pk[32],
            uint8_t h[PL_CERT_MEMO_HASH])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_CERT_MEMO_HASH);
    crypto_generichash_update(&st, pk, PL_SIGN_PK_BYTES);
    crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, h, PL_CERT_MEMO_HASH);
}

static int
s_memo_cmp(const void *a, const void *b)
{
    return memcmp(a, b, PL_CERT_MEMO_HASH);
}

int
pl_cert_decode_memo(const uint8_t *data, size_t len,
                    const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                    const pl_cert_memo_t *seen, pl_cert_memo_t *next,
                    pl_cert_t *out)
{
    // (bytes s_cert_decode refuses are never named, nor remembered)
    bool sane = data && len > 0 && len <= PL_CERT_MAX;
    uint8_t h[PL_CERT_MEMO_HASH];
    if (sane)
        s_memo_name(data, len, authority_pk, h);
    bool known = sane && seen && seen->n
                 && bsearch(h, seen->h, seen->n, PL_CERT_MEMO_HASH, s_memo_cmp);
    int rc = s_cert_decode(data, len, authority_pk, !known, out);
    if (rc != PL_OK || !next)
        return rc;
    if (next->n == next->cap) {
        size_t cap = next->cap ? next->cap * 2 : 64;
        uint8_t(*v)[PL_CERT_MEMO_HASH] = realloc(next->h, cap * sizeof *v);
        if (!v)
            return PL_OK; // only the next decode is slower
        next->h = v;
        next->cap = cap;
    }
    memcpy(next->h[next->n++], h, PL_CERT_MEMO_HASH);
    return PL_OK;
}

void
pl_cert_memo_finish(pl_cert_memo_t *m)
{
    if (m->n)
        qsort(m->h, m->n, PL_CERT_MEMO_HASH, s_memo_cmp);
}

void
pl_cert_memo_free(pl_cert_memo_t *m)
{
    free(m->h);
    memset(m, 0, sizeof *m);
}

int
pl_cert_check(const pl_cert_t *cert, uint64_t now, const pl_revlist_t *revoked)
{
    // serials are per authority: a list of another network says nothing
    if (revoked && strcmp(revoked->network, cert->network) == 0
        && pl_revlist_contains(revoked, cert->serial))
        return PL_EREVOKED;
    if (now < cert->not_before || now > cert->not_after)
        return PL_EEXPIRED;
    return PL_OK;
}

int
pl_cert_load(const char *path, const uint8_t authority_pk[PL_SIGN_PK_BYTES],
             pl_cert_t *out, pl_buf_t *raw)
{
    pl_buf_t buf = {0};
    if (raw)
        memset(raw, 0, sizeof *raw);
    int rc = pl_file_read(path, PL_CERT_MAX, &buf);
    if (rc == PL_ETOOBIG)
        rc = PL_EPROTO;
    if (rc == PL_OK)
        rc = pl_cert_decode(buf.data, buf.len, authority_pk, out);
    if (rc == PL_OK && raw)
        *raw = buf;
    else
        pl_buf_free(&buf);
    return rc;
}

// ---- revocation lists

static int
s_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

int
pl_revlist_decode(const uint8_t *data, size_t len,
                  const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                  pl_revlist_t *out)
{
    memset(out, 0, sizeof *out);
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    if (!data || len == 0 || len > PL_REVLIST_MAX)
        return PL_EPROTO;
    ProtobufCMessage *outer = NULL, *inner = NULL;
    ProtobufCBinaryData body;
    int rc = s_open_signed(&passerelle__v1__revocation_list__descriptor,
                           s_revoked_tag, sizeof s_revoked_tag - 1, data, len,
                           authority_pk, &outer, &body);
    if (rc != PL_OK)
        return rc;
    rc = s_unpack(&passerelle__v1__revocation_body__descriptor, body.data,
                  body.len, &inner);
    if (rc != PL_OK) {
        pl_wire_unpacked_free(outer);
        return rc;
    }
    Passerelle__V1__RevocationBody *b =
        (Passerelle__V1__RevocationBody *) inner;
    pl_revlist_t l;
    memset(&l, 0, sizeof l);
    if (b->authority_pk.len != PL_SIGN_PK_BYTES)
        rc = PL_EPROTO;
    else if (sodium_memcmp(b->authority_pk.data, authority_pk, PL_SIGN_PK_BYTES)
             != 0)
        rc = PL_EAUTH;
    else if (!pl_slug_valid(b->network)
             || !s_copy(l.network, sizeof l.network, b->network))
        rc = PL_EPROTO;
    if (rc == PL_OK && b->n_serials > 0) {
        l.serials = malloc(b->n_serials * sizeof *l.serials);
        if (!l.serials)
            rc = PL_ENOMEM;
    }
    if (rc == PL_OK) {
        l.number = b->number;
        l.issued_at = b->issued_at;
        if (b->n_serials)
            memcpy(l.serials, b->serials, b->n_serials * sizeof *l.serials);
        qsort(l.serials, b->n_serials, sizeof *l.serials, s_u64_cmp);
        // drop duplicates so count is the number of distinct serials
        for (size_t i = 0; i < b->n_serials; i++)
            if (l.count == 0 || l.serials[l.count - 1] != l.serials[i])
                l.serials[l.count++] = l.serials[i];
        rc = pl_buf_append(&l.raw, data, len);
    }
    pl_wire_unpacked_free(inner);
    pl_wire_unpacked_free(outer);
    if (rc != PL_OK) {
        pl_revlist_free(&l);
        return rc;
    }
    *out = l;
    return PL_OK;
}

int
pl_revlist_load(const char *path, const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                pl_revlist_t *out)
{
    pl_buf_t buf = {0};
    memset(out, 0, sizeof *out);
    int rc = pl_file_read(path, PL_REVLIST_MAX, &buf);
    if (rc == PL_ETOOBIG)
        rc = PL_EPROTO;
    if (rc == PL_OK)
        rc = pl_revlist_decode(buf.data, buf.len, authority_pk, out);
    pl_buf_free(&buf);
    return rc;
}

bool
pl_revlist_contains(const pl_revlist_t *list, uint64_t serial)
{
    if (!list || !list->serials)
        return false;
    size_t lo = 0, hi = list->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (list->serials[mid] == serial)
            return true;
        if (list->serials[mid] < serial)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int
pl_revlist_replace(pl_revlist_t *current, pl_revlist_t *candidate)
{
    bool empty = current->raw.len == 0;
    // an older (or equal) list never wins; neither does another network's
    if (!empty
        && (candidate->number <= current->number
            || strcmp(candidate->network, current->network) != 0))
        return PL_ESTATE;
    pl_revlist_free(current);
    *current = *candidate;
    memset(candidate, 0, sizeof *candidate);
    return PL_OK;
}

void
pl_revlist_free(pl_revlist_t *list)
{
    if (!list)
        return;
    free(list->serials);
    pl_buf_free(&list->raw);
    memset(list, 0, sizeof *list);
}

// ---- authority

struct pl_authority {
    char home[S_PATH_MAX];         // authority home folder
    char network[PL_NAME_MAX + 1]; // network code
    uint8_t pk[PL_SIGN_PK_BYTES];  // Ed25519 public key
    uint8_t *sk;                   // PL_SIGN_SK_BYTES, sodium_malloc'd
    uint64_t serial;               // last serial issued (persisted)
};

// Reads a one-line text file (at most 'max' bytes) without its newline.
static int
s_read_line(const char *path, char *out, size_t size)
{
    pl_buf_t buf = {0};
    int rc = pl_file_read(path, size, &buf);
    if (rc != PL_OK)
        return rc == PL_ETOOBIG ? PL_EPROTO : rc;
    size_t n = buf.len;
    while (n > 0 && (buf.data[n - 1] == '\n' || buf.data[n - 1] == '\r'))
        n--;
    if (n >= size || memchr(buf.data, 0, n))
        rc = PL_EPROTO;
    else {
        memcpy(out, buf.data, n);
        out[n] = 0;
    }
    pl_buf_free(&buf);
    return rc;
}

static int
s_write_line(const char *path, const char *text, bool overwrite)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", text);
    if (n < 0 || (size_t) n >= sizeof line)
        return PL_ETOOBIG;
    return pl_file_write(path, line, (size_t) n, 0644, overwrite);
}

int
pl_authority_create(const char *home, const char *network)
{
    if (!home || !pl_slug_valid(network))
        return PL_EINVAL;
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    char keys[S_PATH_MAX], path[S_PATH_MAX], pubpath[S_PATH_MAX];
    if (pl_path(keys, sizeof keys, home, "keys") != PL_OK
        || pl_path(path, sizeof path, keys, "authority.secret") != PL_OK
        || pl_path(pubpath, sizeof pubpath, home, "authority.pub") != PL_OK)
        return PL_ETOOBIG;
    if (pl_exists(path) || pl_exists(pubpath))
        return PL_EEXIST;
    int rc = pl_mkdirs(keys, 0700);
    if (rc != PL_OK)
        return rc;
    if (chmod(home, 0700) != 0 || chmod(keys, 0700) != 0)
        return PL_EIO;
    uint8_t pk[PL_SIGN_PK_BYTES];
    uint8_t *sk = sodium_malloc(PL_SIGN_SK_BYTES);
    if (!sk)
        return PL_ENOMEM;
    rc = crypto_sign_keypair(pk, sk) == 0 ? PL_OK : PL_EIO;
    if (rc == PL_OK)
        rc = pl_keyfile_write(path, sk, PL_SIGN_SK_BYTES, true, false);
    sodium_free(sk);
    if (rc == PL_OK)
        rc = pl_keyfile_write(pubpath, pk, PL_SIGN_PK_BYTES, false, false);
    if (rc == PL_OK && pl_path(path, sizeof path, home, "network") != PL_OK)
        rc = PL_ETOOBIG;
    if (rc == PL_OK)
        rc = s_write_line(path, network, true);
    if (rc == PL_OK && pl_path(path, sizeof path, home, "serial") != PL_OK)
        rc = PL_ETOOBIG;
    if (rc == PL_OK)
        rc = s_write_line(path, "0", true);
    if (rc == PL_OK && pl_path(path, sizeof path, home, "issued") != PL_OK)
        rc = PL_ETOOBIG;
    if (rc == PL_OK)
        rc = pl_mkdirs(path, 0700);
    return rc;
}

int
pl_authority_open(const char *home, pl_authority_t **out)
{
    *out = NULL;
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    pl_authority_t *self = calloc(1, sizeof *self);
    if (!self)
        return PL_ENOMEM;
    self->sk = sodium_malloc(PL_SIGN_SK_BYTES);
    if (!self->sk) {
        free(self);
        return PL_ENOMEM;
    }
    char path[S_PATH_MAX], line[64];
    int rc = snprintf(self->home, sizeof self->home, "%s", home)
                     >= (int) sizeof self->home
                 ? PL_ETOOBIG
                 : PL_OK;
    if (rc == PL_OK)
        rc = pl_path(path, sizeof path, home, "keys/authority.secret");
    if (rc == PL_OK)
        rc = pl_keyfile_read(path, self->sk, PL_SIGN_SK_BYTES, true);
    if (rc == PL_OK)
        rc = pl_path(path, sizeof path, home, "authority.pub");
    if (rc == PL_OK)
        rc = pl_keyfile_read(path, self->pk, PL_SIGN_PK_BYTES, false);
    if (rc == PL_OK) {
        uint8_t pk[PL_SIGN_PK_BYTES];
        if (crypto_sign_ed25519_sk_to_pk(pk, self->sk) != 0
            || sodium_memcmp(pk, self->pk, sizeof pk) != 0)
            rc = PL_EPROTO;
    }
    if (rc == PL_OK)
        rc = pl_path(path, sizeof path, home, "network");
    if (rc == PL_OK)
        rc = s_read_line(path, self->network, sizeof self->network);
    if (rc == PL_OK && !pl_slug_valid(self->network))
        rc = PL_EPROTO;
    if (rc == PL_OK)
        rc = pl_path(path, sizeof path, home, "serial");
    if (rc == PL_OK)
        rc = s_read_line(path, line, sizeof line);
    if (rc == PL_OK) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(line, &end, 10);
        if (errno || end == line || *end || line[0] == '-')
            rc = PL_EPROTO;
        else
            self->serial = v;
    }
    if (rc != PL_OK) {
        pl_authority_close(&self);
        return rc;
    }
    sodium_mprotect_readonly(self->sk);
    *out = self;
    return PL_OK;
}

void
pl_authority_close(pl_authority_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_authority_t *self = *self_p;
    sodium_free(self->sk);
    free(self);
    *self_p = NULL;
}

const char *
pl_authority_network(const pl_authority_t *self)
{
    return self->network;
}

const uint8_t *
pl_authority_pk(const pl_authority_t *self)
{
    return self->pk;
}

int
pl_authority_next_serial(pl_authority_t *self, uint64_t *serial)
{
    char path[S_PATH_MAX], line[32];
    if (self->serial == UINT64_MAX)
        return PL_EFULL;
    uint64_t next = self->serial + 1;
    snprintf(line, sizeof line, "%" PRIu64, next);
    int rc = pl_path(path, sizeof path, self->home, "serial");
    // persisted before it is handed out: a serial is never issued twice
    if (rc == PL_OK)
        rc = s_write_line(path, line, true);
    if (rc != PL_OK)
        return rc;
    self->serial = next;
    *serial = next;
    return PL_OK;
}

int
pl_authority_sign(const pl_authority_t *self, const char *tag,
                  const uint8_t *body, size_t len, uint8_t sig[64])
{
    return s_sign(tag, strlen(tag), body, len, self->sk, sig);
}

int
pl_authority_issue(pl_authority_t *self, pl_cert_t *fields, pl_buf_t *out)
{
    if (!fields->network[0])
        snprintf(fields->network, sizeof fields->network, "%s", self->network);
    if (strcmp(fields->network, self->network) != 0)
        return PL_EINVAL;
    if (s_cert_fields_ok(fields) != PL_OK)
        return PL_EINVAL;
    snprintf(fields->address, sizeof fields->address, "%s/%s", fields->network,
             fields->name);
    pl_key_id(fields->keys.box, fields->box_key_id);
    memcpy(fields->authority_pk, self->pk, PL_SIGN_PK_BYTES);

    // services: split the comma-joined list into the repeated field
    char services[PL_SERVICES_MAX + 1];
    char *items[PL_SERVICES_MAX / 2 + 1];
    size_t n_items = 0;
    memcpy(services, fields->services, sizeof services);
    if (services[0]) {
        for (char *s = services;;) {
            items[n_items++] = s;
            char *comma = strchr(s, ',');
            if (!comma)
                break;
            *comma = 0;
            s = comma + 1;
        }
    }

    Passerelle__V1__CertificateBody b = PASSERELLE__V1__CERTIFICATE_BODY__INIT;
    b.version = 1;
    b.serial = fields->serial;
    b.network = fields->network;
    b.name = fields->name;
    b.display_name = fields->display_name;
    b.organisation = fields->organisation[0] ? fields->organisation : NULL;
    b.sector = fields->sector;
    b.country = fields->country;
    b.region = fields->region[0] ? fields->region : NULL;
    b.n_services = n_items;
    b.services = n_items ? items : NULL;
    b.sign_pk = (ProtobufCBinaryData){PL_SIGN_PK_BYTES, fields->keys.sign};
    b.box_pk = (ProtobufCBinaryData){PL_BOX_PK_BYTES, fields->keys.box};
    b.curve_pk = (ProtobufCBinaryData){PL_CURVE_PK_BYTES, fields->keys.curve};
    b.home_broker = fields->home_broker[0] ? fields->home_broker : NULL;
    b.not_before = fields->not_before;
    b.not_after = fields->not_after;
    b.authority_pk = (ProtobufCBinaryData){PL_SIGN_PK_BYTES, self->pk};

    size_t body_len = protobuf_c_message_get_packed_size(&b.base);
    if (body_len > PL_CERT_MAX - 128)
        return PL_ETOOBIG;
    uint8_t *body = malloc(body_len);
    if (!body)
        return PL_ENOMEM;
    protobuf_c_message_pack(&b.base, body);
    uint8_t sig[crypto_sign_BYTES];
    int rc = s_sign(s_cert_tag, sizeof s_cert_tag - 1, body, body_len, self->sk,
                    sig);
    Passerelle__V1__Certificate c = PASSERELLE__V1__CERTIFICATE__INIT;
    c.body = (ProtobufCBinaryData){body_len, body};
    c.signature = (ProtobufCBinaryData){sizeof sig, sig};
    size_t len = protobuf_c_message_get_packed_size(&c.base);
    uint8_t *enc = rc == PL_OK ? malloc(len) : NULL;
    if (rc == PL_OK && !enc)
        rc = PL_ENOMEM;
    if (rc == PL_OK)
        protobuf_c_message_pack(&c.base, enc);
    free(body);

    // the copy under issued/ first: a certificate handed out is on record
    char name[40], dir[S_PATH_MAX], path[S_PATH_MAX];
    snprintf(name, sizeof name, "%" PRIu64 ".cert", fields->serial);
    if (rc == PL_OK
        && (pl_path(dir, sizeof dir, self->home, "issued") != PL_OK
            || pl_path(path, sizeof path, dir, name) != PL_OK))
        rc = PL_ETOOBIG;
    if (rc == PL_OK)
        rc = pl_mkdirs(dir, 0700);
    if (rc == PL_OK)
        rc = pl_file_write(path, enc, len, 0644, false);
    if (rc == PL_OK)
        rc = pl_buf_append(out, enc, len);
    free(enc);
    return rc;
}

int
pl_authority_revoke(pl_authority_t *self, uint64_t serial, pl_buf_t *out)
{
    char path[S_PATH_MAX];
    if (pl_path(path, sizeof path, self->home, "revoked") != PL_OK)
        return PL_ETOOBIG;
    pl_revlist_t old = {0};
    if (pl_exists(path)) {
        int rc = pl_revlist_load(path, self->pk, &old);
        if (rc != PL_OK)
            return rc; // never silently drop earlier revocations
    }
    size_t n = old.count;
    uint64_t *serials = malloc((n + 1) * sizeof *serials);
    if (!serials) {
        pl_revlist_free(&old);
        return PL_ENOMEM;
    }
    if (n)
        memcpy(serials, old.serials, n * sizeof *serials);
    if (!pl_revlist_contains(&old, serial))
        serials[n++] = serial;
    qsort(serials, n, sizeof *serials, s_u64_cmp);

    Passerelle__V1__RevocationBody b = PASSERELLE__V1__REVOCATION_BODY__INIT;
    b.network = self->network;
    b.number = old.number + 1;
    b.issued_at = pl_now();
    b.n_serials = n;
    b.serials = serials;
    b.authority_pk = (ProtobufCBinaryData){PL_SIGN_PK_BYTES, self->pk};
    pl_revlist_free(&old);

    int rc = PL_OK;
    size_t body_len = protobuf_c_message_get_packed_size(&b.base);
    uint8_t *body = malloc(body_len);
    uint8_t *enc = NULL;
    size_t len = 0;
    uint8_t sig[crypto_sign_BYTES];
    if (!body)
        rc = PL_ENOMEM;
    if (rc == PL_OK) {
        protobuf_c_message_pack(&b.base, body);
        rc = s_sign(s_revoked_tag, sizeof s_revoked_tag - 1, body, body_len,
                    self->sk, sig);
    }
    if (rc == PL_OK) {
        Passerelle__V1__RevocationList l =
            PASSERELLE__V1__REVOCATION_LIST__INIT;
        l.body = (ProtobufCBinaryData){body_len, body};
        l.signature = (ProtobufCBinaryData){sizeof sig, sig};
        len = protobuf_c_message_get_packed_size(&l.base);
        if (len > PL_REVLIST_MAX)
            rc = PL_ETOOBIG;
        else if (!(enc = malloc(len)))
            rc = PL_ENOMEM;
        else
            protobuf_c_message_pack(&l.base, enc);
    }
    if (rc == PL_OK)
        rc = pl_file_write(path, enc, len, 0644, true);
    if (rc == PL_OK && out)
        rc = pl_buf_append(out, enc, len);
    free(enc);
    free(body);
    free(serials);
    return rc;
}

int
pl_authority_pub_load(const char *path, uint8_t pk[PL_SIGN_PK_BYTES])
{
    return pl_keyfile_read(path, pk, PL_SIGN_PK_BYTES, false);
}
