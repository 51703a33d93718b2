// pl_dirset - a directory as a set of named items; see pl_dirset.h.
// Layer: proto.
#include "proto/pl_dirset.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

// the digest's domain: a set is not mistaken for anything else hashed
static const char s_domain[] = "passerelle-directory-set-v1";

static const ProtobufCMessageDescriptor *
s_desc(unsigned field)
{
    switch (field) {
    case 1: // certificates
    case 4: // foreign
        return &passerelle__v1__certificate__descriptor;
    case 2: // revoked
    case 5: // foreign_revoked
        return &passerelle__v1__revocation_list__descriptor;
    case 3:
        return &passerelle__v1__anchor__descriptor;
    case 6:
        return &passerelle__v1__catalogue__descriptor;
    default:
        return NULL;
    }
}

int
pl_dirset_add(pl_dirset_t *s, unsigned field, const uint8_t *data, size_t len)
{
    if (!s_desc(field))
        return PL_EINVAL;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        pl_dirset_item_t *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return PL_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    pl_dirset_item_t *it = &s->v[s->n];
    memset(it, 0, sizeof *it);
    it->data = malloc(len ? len : 1);
    if (!it->data)
        return PL_ENOMEM;
    if (len)
        memcpy(it->data, data, len);
    it->len = len;
    it->field = (uint8_t) field;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_DIRSET_NAME);
    crypto_generichash_update(&st, &it->field, 1);
    crypto_generichash_update(&st, it->data, len);
    crypto_generichash_final(&st, it->name, PL_DIRSET_NAME);
    s->n++;
    return PL_OK;
}

static int
s_name_cmp(const void *a, const void *b)
{
    return memcmp(((const pl_dirset_item_t *) a)->name,
                  ((const pl_dirset_item_t *) b)->name, PL_DIRSET_NAME);
}

void
pl_dirset_finish(pl_dirset_t *s)
{
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof *s->v, s_name_cmp);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        bool dup = w > 0 && s_name_cmp(&s->v[w - 1], &s->v[i]) == 0;
        if (s->v[i].gone || dup) {
            free(s->v[i].data);
            continue;
        }
        s->v[w++] = s->v[i];
    }
    s->n = w;
}

// one field's items, packed, appended
static int
s_add_msgs(pl_dirset_t *s, unsigned field, ProtobufCMessage *const *m, size_t n)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < n; i++) {
        size_t sz = protobuf_c_message_get_packed_size(m[i]);
        if (sz > cap) {
            uint8_t *b = realloc(buf, sz);
            if (!b) {
                rc = PL_ENOMEM;
                break;
            }
            buf = b;
            cap = sz;
        }
        size_t len = protobuf_c_message_pack(m[i], buf);
        rc = pl_dirset_add(s, field, buf, len);
    }
    free(buf);
    return rc;
}

int
pl_dirset_from_response(const Passerelle__V1__DirectoryResponse *r,
                        pl_dirset_t *out)
{
    memset(out, 0, sizeof *out);
    ProtobufCMessage *rev = r->revoked ? &r->revoked->base : NULL;
    int rc = s_add_msgs(out, 1, (ProtobufCMessage *const *) r->certificates,
                        r->n_certificates);
    if (rc == PL_OK)
        rc = s_add_msgs(out, 2, &rev, rev ? 1 : 0);
    if (rc == PL_OK)
        rc = s_add_msgs(out, 3, (ProtobufCMessage *const *) r->anchors,
                        r->n_anchors);
    if (rc == PL_OK)
        rc = s_add_msgs(out, 4, (ProtobufCMessage *const *) r->foreign,
                        r->n_foreign);
    if (rc == PL_OK)
        rc = s_add_msgs(out, 5, (ProtobufCMessage *const *) r->foreign_revoked,
                        r->n_foreign_revoked);
    if (rc == PL_OK)
        rc = s_add_msgs(out, 6, (ProtobufCMessage *const *) r->catalogues,
                        r->n_catalogues);
    if (rc != PL_OK) {
        pl_dirset_free(out);
        return rc;
    }
    pl_dirset_finish(out);
    return PL_OK;
}

pl_dirset_item_t *
pl_dirset_find(const pl_dirset_t *s, const uint8_t name[PL_DIRSET_NAME])
{
    pl_dirset_item_t key;
    memcpy(key.name, name, PL_DIRSET_NAME);
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, s_name_cmp) : NULL;
}

void
pl_dirset_digest(const pl_dirset_t *s, uint8_t out[PL_DIRSET_DIGEST])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_DIRSET_DIGEST);
    crypto_generichash_update(&st, (const uint8_t *) s_domain, sizeof s_domain);
    for (size_t i = 0; i < s->n; i++)
        crypto_generichash_update(&st, s->v[i].name, PL_DIRSET_NAME);
    crypto_generichash_final(&st, out, PL_DIRSET_DIGEST);
}

void
pl_dirset_digest_names(const uint8_t (*names)[PL_DIRSET_NAME], size_t n,
                       uint8_t out[PL_DIRSET_DIGEST])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_DIRSET_DIGEST);
    crypto_generichash_update(&st, (const uint8_t *) s_domain, sizeof s_domain);
    for (size_t i = 0; i < n; i++)
        crypto_generichash_update(&st, names[i], PL_DIRSET_NAME);
    crypto_generichash_final(&st, out, PL_DIRSET_DIGEST);
}

int
pl_dirset_response(const pl_dirset_t *s, const bool *pick,
                   Passerelle__V1__DirectoryResponse *out)
{
    size_t count[7] = {0};
    for (size_t i = 0; i < s->n; i++)
        if (!pick || pick[i])
            count[s->v[i].field]++;
    if (count[2] > 1)
        return PL_EPROTO;
    out->n_certificates = out->n_anchors = out->n_foreign = 0;
    out->n_foreign_revoked = out->n_catalogues = 0;
    out->revoked = NULL;
    out->certificates = calloc(count[1] + 1, sizeof *out->certificates);
    out->anchors = calloc(count[3] + 1, sizeof *out->anchors);
    out->foreign = calloc(count[4] + 1, sizeof *out->foreign);
    out->foreign_revoked = calloc(count[5] + 1, sizeof *out->foreign_revoked);
    out->catalogues = calloc(count[6] + 1, sizeof *out->catalogues);
    int rc = PL_OK;
    if (!out->certificates || !out->anchors || !out->foreign
        || !out->foreign_revoked || !out->catalogues)
        rc = PL_ENOMEM;
    for (size_t i = 0; rc == PL_OK && i < s->n; i++) {
        const pl_dirset_item_t *it = &s->v[i];
        if (pick && !pick[i])
            continue;
        ProtobufCMessage *m = NULL;
        if (pl_wire_unpack(s_desc(it->field), it->data, it->len, &m) != PL_OK) {
            rc = PL_EPROTO;
            break;
        }
        switch (it->field) {
        case 1:
            out->certificates[out->n_certificates++] =
                (Passerelle__V1__Certificate *) m;
            break;
        case 2:
            out->revoked = (Passerelle__V1__RevocationList *) m;
            break;
        case 3:
            out->anchors[out->n_anchors++] = (Passerelle__V1__Anchor *) m;
            break;
        case 4:
            out->foreign[out->n_foreign++] = (Passerelle__V1__Certificate *) m;
            break;
        case 5:
            out->foreign_revoked[out->n_foreign_revoked++] =
                (Passerelle__V1__RevocationList *) m;
            break;
        default:
            out->catalogues[out->n_catalogues++] =
                (Passerelle__V1__Catalogue *) m;
            break;
        }
    }
    if (rc != PL_OK)
        pl_dirset_response_free(out);
    return rc;
}

static void
s_free_msgs(void *arr, size_t n)
{
    ProtobufCMessage **m = arr;
    for (size_t i = 0; m && i < n; i++)
        pl_wire_unpacked_free(m[i]);
    free(m);
}

void
pl_dirset_response_free(Passerelle__V1__DirectoryResponse *r)
{
    s_free_msgs(r->certificates, r->n_certificates);
    s_free_msgs(r->anchors, r->n_anchors);
    s_free_msgs(r->foreign, r->n_foreign);
    s_free_msgs(r->foreign_revoked, r->n_foreign_revoked);
    s_free_msgs(r->catalogues, r->n_catalogues);
    if (r->revoked)
        pl_wire_unpacked_free(&r->revoked->base);
    r->certificates = NULL;
    r->anchors = NULL;
    r->foreign = NULL;
    r->foreign_revoked = NULL;
    r->catalogues = NULL;
    r->revoked = NULL;
    r->n_certificates = r->n_anchors = r->n_foreign = 0;
    r->n_foreign_revoked = r->n_catalogues = 0;
}

void
pl_dirset_free(pl_dirset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].data);
    free(s->v);
    memset(s, 0, sizeof *s);
}
