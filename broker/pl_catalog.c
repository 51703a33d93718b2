// pl_catalog - the broker's in-memory copy of the nodes' signed service
// catalogues (issue 18). Layer: broker.
#include "broker/pl_catalog.h"

#include <stdlib.h>
#include <string.h>

#include "broker/pl_broker_int.h"

typedef struct {
    char address[PL_ADDRESS_MAX + 1];
    uint64_t version;
    pl_buf_t blob; // the signed catalogue, as the node sent it
} s_cat_t;

struct pl_catalogs {
    s_cat_t *v;
    size_t n, cap;
};

static s_cat_t *
s_slot(pl_catalogs_t *c, const char *address)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].address, address))
            return &c->v[i];
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        s_cat_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return NULL;
        c->v = v, c->cap = cap;
    }
    s_cat_t *s = &c->v[c->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->address, sizeof s->address, "%s", address);
    return s;
}

bool
pl_catalogs_take(pl_broker_t *self, const char *address,
                 const Passerelle__V1__Catalogue *c)
{
    if (strcmp(c->address, address) != 0) {
        pl_log_warn(self->log, "catalogue_refused from=%s reason=not_its_own",
                    address);
        return false;
    }
    if (!self->cats && !(self->cats = calloc(1, sizeof *self->cats)))
        return false;
    s_cat_t *s = s_slot(self->cats, address);
    if (!s || (s->blob.len && c->version <= s->version))
        return false;
    pl_buf_t b = {0};
    if (pl_buf_append(&b, c->signed_.data, c->signed_.len) != PL_OK) {
        pl_buf_free(&b);
        return false;
    }
    pl_buf_free(&s->blob);
    s->blob = b;
    s->version = c->version;
    pl_log_info(self->log, "catalogue from=%s version=%llu bytes=%zu", address,
                (unsigned long long) c->version, b.len);
    return true;
}

size_t
pl_catalogs_fill(pl_broker_t *self, Passerelle__V1__DirectoryResponse *d,
                 size_t budget, void **arr)
{
    *arr = NULL;
    pl_catalogs_t *c = self->cats;
    if (!c || !c->n)
        return 0;
    // one block: the pointers, then the messages
    void *mem =
        calloc(c->n, sizeof(void *) + sizeof(Passerelle__V1__Catalogue));
    if (!mem)
        return c->n;
    Passerelle__V1__Catalogue **ptrs = mem;
    Passerelle__V1__Catalogue *msgs = (void *) (ptrs + c->n);
    uint64_t now = pl_now();
    size_t used = 0, n = 0, left = 0;
    for (size_t i = 0; i < c->n; i++) {
        const s_cat_t *s = &c->v[i];
        // only nodes valid now: a revoked node's services are not offered
        if (!pl_registry_by_address(self->reg, s->address, now))
            continue;
        if (used + s->blob.len > budget) {
            left++;
            continue;
        }
        passerelle__v1__catalogue__init(&msgs[n]);
        msgs[n].address = (char *) s->address;
        msgs[n].version = s->version;
        msgs[n].signed_.data = s->blob.data;
        msgs[n].signed_.len = s->blob.len;
        ptrs[n] = &msgs[n];
        used += s->blob.len;
        n++;
    }
    d->catalogues = ptrs;
    d->n_catalogues = n;
    *arr = mem;
    return left;
}

void
pl_catalogs_destroy(pl_catalogs_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->n; i++)
        pl_buf_free(&(*p)->v[i].blob);
    free((*p)->v);
    free(*p);
    *p = NULL;
}
