// pl_dir_pages - a directory response as the broker sends it now (issue
// 20): "unchanged" (the digest we sent is current: keep ours), a delta
// (pl_dir_delta.c), one response, or a directory in pages, kept until the
// last has come and then taken as one response. What was taken is kept in
// DIRSET, and its digest is sent in the next request, after a restart too.
// Layer: services.
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_int.h"

#define S_PAGES_RETRY_MS 60000 // pages that stop coming: ask again then

static void
s_pages_drop(pl_node_t *self)
{
    for (size_t i = 0; i < self->dirpg_got; i++)
        pl_buf_free(&self->dirpg[i]);
    free(self->dirpg);
    self->dirpg = NULL;
    self->dirpg_got = self->dirpg_of = 0;
}

void
pl_node_dir_pages_free(pl_node_t *self)
{
    s_pages_drop(self);
}

// every page kept, decoded and taken as one response
static int
s_pages_take(pl_node_t *self, pl_txn_t *txn)
{
    size_t n = self->dirpg_of, ncerts = 0, nforeign = 0, ncats = 0;
    pl_packet_t **pk = calloc(n, sizeof *pk);
    if (!pk)
        return PL_ENOMEM;
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < n; i++) {
        rc = pl_wire_decode(self->dirpg[i].data, self->dirpg[i].len, &pk[i]);
        if (rc == PL_OK) {
            ncerts += pk[i]->directory_response->n_certificates;
            nforeign += pk[i]->directory_response->n_foreign;
            ncats += pk[i]->directory_response->n_catalogues;
        }
    }
    Passerelle__V1__Certificate **certs = NULL, **foreign = NULL;
    Passerelle__V1__Catalogue **cats = NULL;
    if (rc == PL_OK) {
        certs = calloc(ncerts + 1, sizeof *certs);
        foreign = calloc(nforeign + 1, sizeof *foreign);
        cats = calloc(ncats + 1, sizeof *cats);
        if (!certs || !foreign || !cats)
            rc = PL_ENOMEM;
    }
    if (rc == PL_OK) {
        Passerelle__V1__DirectoryResponse whole = *pk[0]->directory_response;
        whole.n_certificates = whole.n_foreign = whole.n_catalogues = 0;
        for (size_t i = 0; i < n; i++) {
            const Passerelle__V1__DirectoryResponse *p =
                pk[i]->directory_response;
            if (p->n_certificates) // (memcpy from NULL is undefined)
                memcpy(certs + whole.n_certificates, p->certificates,
                       p->n_certificates * sizeof *certs);
            whole.n_certificates += p->n_certificates;
            if (p->n_foreign)
                memcpy(foreign + whole.n_foreign, p->foreign,
                       p->n_foreign * sizeof *foreign);
            whole.n_foreign += p->n_foreign;
            if (p->n_catalogues) // spread over the pages too (issue 20)
                memcpy(cats + whole.n_catalogues, p->catalogues,
                       p->n_catalogues * sizeof *cats);
            whole.n_catalogues += p->n_catalogues;
        }
        whole.certificates = certs;
        whole.foreign = foreign;
        whole.catalogues = cats;
        rc = pl_node_dir_on_response(self, txn, &whole);
        if (rc == PL_OK) // what we hold now, and its digest
            rc = pl_node_dirset_keep(self, txn, &whole);
        pl_log_info(self->log, "directory_pages pages=%zu certs=%zu rc=%s", n,
                    ncerts + nforeign, pl_strerror(rc));
    }
    free(certs);
    free(foreign);
    free(cats);
    for (size_t i = 0; i < n; i++)
        pl_wire_free(&pk[i]);
    free(pk);
    return rc;
}

int
pl_node_dir_on_packet(pl_node_t *self, pl_txn_t *txn,
                      const Passerelle__V1__DirectoryResponse *r,
                      const uint8_t *data, size_t len)
{
    uint64_t now = pl_mono_ms();
    bool ours = self->dir_digest_set && r->has_digest && r->digest.len == 32
                && sodium_memcmp(r->digest.data, self->dir_digest, 32) == 0;
    if (r->has_unchanged && r->unchanged) {
        if (!ours) { // not what we asked: ask for all of it
            pl_log_warn(self->log, "directory_unexpected reason=\"unchanged, "
                                   "but not the one we hold\"");
            self->dir_digest_set = false;
            self->dir_next_ms = now + S_DIR_MIN_GAP_MS;
            return PL_OK;
        }
        // after a restart, what the broker sent us last is in DIRSET (our
        // foreign certificates are not in DIRECTORY)
        int rc = pl_node_dirset_take(self, txn);
        if (rc == PL_EPROTO) {
            pl_log_warn(self->log, "directory_set_unusable");
            self->dir_digest_set = false;
            self->dir_next_ms = now + S_DIR_MIN_GAP_MS;
            return PL_OK;
        }
        if (rc != PL_OK)
            return rc;
        pl_log_info(self->log, "directory_unchanged certs=%zu", self->ndir);
        self->dir_gate_ms = 0; // our list is as fresh as the broker's
        if (self->npark)
            self->park_replay = true;
        return PL_OK;
    }
    if (r->has_delta_from) {
        s_pages_drop(self);
        return pl_node_dir_on_delta(self, txn, r);
    }
    if (!r->has_pages || r->pages == 1) {
        s_pages_drop(self); // a whole one replaces any half-kept
        int rc = pl_node_dir_on_response(self, txn, r);
        if (rc == PL_OK)
            rc = pl_node_dirset_keep(self, txn, r);
        return rc;
    }
    // a page: kept in order, every page of one digest
    bool same = self->dirpg && r->pages == self->dirpg_of
                && r->page == self->dirpg_got && r->has_digest
                && r->digest.len == 32
                && memcmp(r->digest.data, self->dirpg_digest, 32) == 0;
    if (r->page == 0) {
        s_pages_drop(self);
        if (!r->has_digest || r->digest.len != 32)
            return PL_OK; // pages without a digest are no directory
        self->dirpg = calloc(r->pages, sizeof *self->dirpg);
        if (!self->dirpg)
            return PL_ENOMEM;
        self->dirpg_of = r->pages;
        memcpy(self->dirpg_digest, r->digest.data, 32);
        // pages that stop coming are asked for again
        if (self->dir_next_ms > now + S_PAGES_RETRY_MS)
            self->dir_next_ms = now + S_PAGES_RETRY_MS;
    } else if (!same) {
        pl_log_warn(self->log,
                    "directory_page_dropped page=%u of=%u reason=\"not the "
                    "next page of the directory being received\"",
                    r->page, r->pages);
        s_pages_drop(self);
        self->dir_next_ms = now + S_DIR_MIN_GAP_MS;
        return PL_OK;
    }
    int rc = pl_buf_append(&self->dirpg[self->dirpg_got], data, len);
    if (rc != PL_OK) {
        pl_buf_free(&self->dirpg[self->dirpg_got]);
        s_pages_drop(self);
        return rc;
    }
    self->dirpg_got++;
    if (self->dirpg_got < self->dirpg_of)
        return PL_OK;
    rc = s_pages_take(self, txn);
    s_pages_drop(self);
    if (rc == PL_OK)
        self->dir_next_ms = now + S_DIR_REFRESH_MS;
    return rc;
}
