// pl_broker_dir - the directory a node is sent: the newest valid
// certificate of each address, the revocation list, the federation's
// anchors and foreign directories, the service catalogues. Built once and
// kept (encoded, shared by every send) until it changes or S_DIR_KEEP_MS
// have passed; larger than one packet, it goes in pages; its digest lets a
// node that already holds it be told "unchanged" in a few dozen bytes, and
// one that holds one of the S_HIST directories before it be sent a delta:
// the items removed and added since (issue 20: the directory of a national
// network is megabytes, and every reconnect and every enrolment sent all
// of it to every node). Layer: broker.
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "broker/pl_broker_int.h"
#include "broker/pl_catalog.h"
#include "broker/pl_fed.h"
#include "proto/pl_dirset.h"

// A kept directory is built again after this long even when nothing said
// it changed: certificates become valid or expire with the clock.
#define S_DIR_KEEP_MS 30000
// Bytes of the certificates and catalogues one page may carry (the rest
// of a packet is room for the page's other fields, counted apart for
// page 0).
#define S_DIR_PAGE_BYTES (PL_PACKET_MAX - 65536)
// Bytes of catalogues a directory carries: half of its pages (before issue
// 20's pages, half of one packet: a few hundred catalogues)
#define S_DIR_CATALOGUE_BYTES (S_DIR_PAGE_BYTES * (PL_DIR_PAGES_MAX / 2))
// Earlier directories a delta may start from (a node that missed more
// changes than this, or whose directory is from before the broker's start,
// is sent the whole directory).
#define S_HIST 8

// an earlier directory: its digest and its items' names, and the delta
// from it to the current one once a node has needed it
typedef struct {
    uint8_t digest[PL_DIRSET_DIGEST];
    uint8_t (*names)[PL_DIRSET_NAME]; // sorted
    size_t n;
    zmq_msg_t delta; // an encoded Packet, when delta_state is 1
    int delta_state; // 0 not built yet, 1 built, -1 whole is as small
} s_base_t;

struct pl_dir {
    zmq_msg_t *pages;                 // encoded Packets, in order
    size_t npages;                    // 1 unless paged
    uint8_t digest[PL_DIRSET_DIGEST]; // of the set (pl_dirset_digest)
    size_t ncerts;                    // certificates (own and foreign)
    size_t bytes;                     // all pages
    uint64_t built_ms;                // monotonic
    pl_dirset_t set;                  // its items, packed, by name
    s_base_t hist[S_HIST];            // the directories before, newest first
    size_t nhist;
};

static void
s_base_clear(s_base_t *b)
{
    free(b->names);
    if (b->delta_state == 1)
        zmq_msg_close(&b->delta);
    memset(b, 0, sizeof *b);
}

static void
s_dir_free(pl_dir_t **p)
{
    if (!*p)
        return;
    for (size_t i = 0; i < (*p)->npages; i++)
        zmq_msg_close(&(*p)->pages[i]);
    free((*p)->pages);
    for (size_t i = 0; i < (*p)->nhist; i++)
        s_base_clear(&(*p)->hist[i]);
    pl_dirset_free(&(*p)->set);
    free(*p);
    *p = NULL;
}

// 'dir' replaces 'old': old and the directories before it become dir's
// history (their names moved, not copied; their deltas were to old)
static void
s_hist_take(pl_dir_t *dir, pl_dir_t *old)
{
    if (!old)
        return;
    s_base_t *h = &dir->hist[0];
    h->names = malloc(old->set.n ? old->set.n * PL_DIRSET_NAME : 1);
    if (!h->names)
        return; // no deltas this time: the whole directory is sent
    for (size_t i = 0; i < old->set.n; i++)
        memcpy(h->names[i], old->set.v[i].name, PL_DIRSET_NAME);
    h->n = old->set.n;
    memcpy(h->digest, old->digest, sizeof h->digest);
    dir->nhist = 1;
    for (size_t k = 0; k < old->nhist && dir->nhist < S_HIST; k++) {
        s_base_t *o = &old->hist[k];
        if (memcmp(o->digest, dir->digest, sizeof o->digest) == 0)
            continue; // a directory that came back: "unchanged" for it
        s_base_t *b = &dir->hist[dir->nhist++];
        memcpy(b->digest, o->digest, sizeof b->digest);
        b->names = o->names;
        b->n = o->n;
        o->names = NULL;
    }
}

// ---- the history across a restart: STORE/dirhist
//
// At a clean stop the broker writes the names of its directory and of its
// history; at its first build after the start it reads them back, so that
// a node holding one of them is sent a delta, not the whole directory (a
// change made while the broker was down, or by its restart). A cache, not
// state: names of public items (certificates, lists, catalogues), each
// set checked against its digest when read; a missing, short or changed
// file only means whole directories, as before. Format: "PLDHIST1", u32
// count, then per directory its digest, u32 n and n sorted names (little
// endian).
#define S_HIST_FILE     "dirhist"
#define S_HIST_NAME_MAX 8000000 // names of one directory, at most
static const char s_hist_magic[8] = {'P', 'L', 'D', 'H', 'I', 'S', 'T', '1'};

static void
s_u32_put(uint8_t b[4], uint32_t v)
{
    b[0] = (uint8_t) v, b[1] = (uint8_t) (v >> 8), b[2] = (uint8_t) (v >> 16),
    b[3] = (uint8_t) (v >> 24);
}

static uint32_t
s_u32_get(const uint8_t b[4])
{
    return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
           | (uint32_t) b[3] << 24;
}

static bool
s_hist_write_one(FILE *f, const uint8_t digest[PL_DIRSET_DIGEST],
                 const uint8_t (*names)[PL_DIRSET_NAME], size_t n)
{
    uint8_t nb[4];
    s_u32_put(nb, (uint32_t) n);
    return fwrite(digest, PL_DIRSET_DIGEST, 1, f) == 1
           && fwrite(nb, 4, 1, f) == 1
           && (n == 0 || fwrite(names, PL_DIRSET_NAME, n, f) == n);
}

static void
s_hist_save(pl_broker_t *self)
{
    pl_dir_t *d = self->dir;
    if (!d || d->set.n > S_HIST_NAME_MAX)
        return;
    char path[sizeof self->home + 32], tmp[sizeof path + 8];
    snprintf(path, sizeof path, "%s/store/" S_HIST_FILE, self->home);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        pl_log_warn(self->log, "directory_history_not_kept err=\"%s\"",
                    strerror(errno));
        return;
    }
    uint8_t(*names)[PL_DIRSET_NAME] =
        malloc(d->set.n ? d->set.n * PL_DIRSET_NAME : 1);
    uint8_t cb[4];
    s_u32_put(cb, (uint32_t) (1 + d->nhist));
    bool ok = names && fwrite(s_hist_magic, sizeof s_hist_magic, 1, f) == 1
              && fwrite(cb, 4, 1, f) == 1;
    for (size_t i = 0; ok && i < d->set.n; i++)
        memcpy(names[i], d->set.v[i].name, PL_DIRSET_NAME);
    ok = ok && s_hist_write_one(f, d->digest, names, d->set.n);
    for (size_t k = 0; ok && k < d->nhist; k++)
        ok = s_hist_write_one(f, d->hist[k].digest, d->hist[k].names,
                              d->hist[k].n);
    free(names);
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) == 0) {
        pl_log_info(self->log, "directory_history_kept directories=%zu",
                    1 + d->nhist);
        return;
    }
    pl_log_warn(self->log, "directory_history_not_kept err=\"%s\"",
                strerror(errno ? errno : EIO));
    unlink(tmp);
}

// Reads STORE/dirhist into the history of 'dir', the first directory built
// since the start: every kept directory but 'dir' itself, newest first.
static void
s_hist_load(pl_broker_t *self, pl_dir_t *dir)
{
    char path[sizeof self->home + 32];
    snprintf(path, sizeof path, "%s/store/" S_HIST_FILE, self->home);
    FILE *f = fopen(path, "rbe");
    if (!f)
        return; // none: a first start, or a broker that did not stop cleanly
    uint8_t magic[8], cb[4];
    size_t bad = 0;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, s_hist_magic, 8) != 0
        || fread(cb, 4, 1, f) != 1) {
        fclose(f);
        pl_log_warn(self->log, "directory_history_ignored reason=format");
        return;
    }
    uint32_t count = s_u32_get(cb);
    for (uint32_t k = 0; k < count && dir->nhist < S_HIST; k++) {
        s_base_t b = {0};
        uint8_t nb[4];
        if (fread(b.digest, PL_DIRSET_DIGEST, 1, f) != 1
            || fread(nb, 4, 1, f) != 1) {
            bad++;
            break;
        }
        b.n = s_u32_get(nb);
        b.names = b.n <= S_HIST_NAME_MAX
                      ? malloc(b.n ? b.n * PL_DIRSET_NAME : 1)
                      : NULL;
        if (!b.names
            || (b.n && fread(b.names, PL_DIRSET_NAME, b.n, f) != b.n)) {
            free(b.names);
            bad++;
            break;
        }
        uint8_t check[PL_DIRSET_DIGEST];
        pl_dirset_digest_names((const uint8_t(*)[PL_DIRSET_NAME]) b.names, b.n,
                               check);
        bool dup = memcmp(b.digest, dir->digest, PL_DIRSET_DIGEST) == 0;
        for (size_t j = 0; !dup && j < dir->nhist; j++)
            dup = memcmp(b.digest, dir->hist[j].digest, PL_DIRSET_DIGEST) == 0;
        if (dup || memcmp(check, b.digest, PL_DIRSET_DIGEST) != 0) {
            bad += !dup;
            free(b.names);
            continue;
        }
        dir->hist[dir->nhist++] = b;
    }
    fclose(f);
    pl_log_info(self->log, "directory_history_loaded directories=%zu%s",
                dir->nhist, bad ? " ignored=some" : "");
}

void
pl_broker_dir_destroy(pl_broker_t *self)
{
    s_hist_save(self);
    s_dir_free(&self->dir);
}

// one page: encoded into a ZeroMQ message of its own
static int
s_page(pl_dir_t *dir, Passerelle__V1__DirectoryResponse *pg)
{
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    p.directory_response = pg;
    pl_buf_t out = {0};
    int rc = pl_wire_encode(&p, &out);
    if (rc == PL_OK) {
        zmq_msg_t *m = &dir->pages[dir->npages];
        if (zmq_msg_init_size(m, out.len) != 0)
            rc = PL_ENOMEM;
        else {
            memcpy(zmq_msg_data(m), out.data, out.len);
            dir->npages++;
            dir->bytes += out.len;
        }
    }
    pl_buf_free(&out);
    return rc;
}

// Splits d into pages (d's fields other than the certificates, foreign
// certificates and catalogues in page 0; those spread over the pages, in
// order) and encodes them. PL_ETOOBIG: more than PL_DIR_PAGES_MAX pages.
static int
s_paginate(pl_dir_t *dir, const Passerelle__V1__DirectoryResponse *d)
{
    // [first, count] of each page's certificates, foreign, catalogues
    size_t(*at)[3][2] = calloc(PL_DIR_PAGES_MAX, sizeof *at);
    dir->pages = calloc(PL_DIR_PAGES_MAX, sizeof *dir->pages);
    if (!at || !dir->pages) {
        free(at);
        return PL_ENOMEM;
    }
    Passerelle__V1__DirectoryResponse head = *d;
    head.n_certificates = head.n_foreign = head.n_catalogues = 0;
    size_t npg = 1, used = protobuf_c_message_get_packed_size(&head.base);
    ProtobufCMessage **const lists[3] = {(ProtobufCMessage **) d->certificates,
                                         (ProtobufCMessage **) d->foreign,
                                         (ProtobufCMessage **) d->catalogues};
    const size_t counts[3] = {d->n_certificates, d->n_foreign, d->n_catalogues};
    for (int f = 0; f < 3; f++) {
        for (size_t i = 0; i < counts[f]; i++) {
            // the item, its tag and length
            size_t sz = protobuf_c_message_get_packed_size(lists[f][i]) + 8;
            if (used + sz > S_DIR_PAGE_BYTES) {
                if (npg == PL_DIR_PAGES_MAX) {
                    free(at);
                    return PL_ETOOBIG;
                }
                npg++;
                used = 0;
            }
            size_t *a = at[npg - 1][f];
            if (!a[1])
                a[0] = i;
            a[1]++;
            used += sz;
        }
    }
    int rc = PL_OK;
    for (size_t k = 0; rc == PL_OK && k < npg; k++) {
        Passerelle__V1__DirectoryResponse pg =
            PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
        if (k == 0)
            pg = head; // revocation list, anchors, foreign lists
        pg.n_certificates = at[k][0][1];
        pg.certificates = at[k][0][1] ? d->certificates + at[k][0][0] : NULL;
        pg.n_foreign = at[k][1][1];
        pg.foreign = at[k][1][1] ? d->foreign + at[k][1][0] : NULL;
        pg.n_catalogues = at[k][2][1];
        pg.catalogues = at[k][2][1] ? d->catalogues + at[k][2][0] : NULL;
        pg.has_digest = true;
        pg.digest = (ProtobufCBinaryData){32, dir->digest};
        if (npg > 1) {
            pg.has_page = pg.has_pages = true;
            pg.page = (uint32_t) k;
            pg.pages = (uint32_t) npg;
        }
        rc = s_page(dir, &pg);
    }
    free(at);
    return rc;
}

// The directory as it is now, of 'sector' only when given.
static int
s_build(pl_broker_t *self, const char *sector, pl_dir_t **out)
{
    *out = NULL;
    pl_dir_t *dir = calloc(1, sizeof *dir);
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    size_t n = pl_registry_count(self->reg);
    Passerelle__V1__Certificate **certs = calloc(n + 1, sizeof *certs);
    ProtobufCMessage *rl = NULL;
    uint64_t now = pl_now();
    int rc = PL_ENOMEM;
    if (!dir || !certs)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const pl_reg_entry_t *e = pl_registry_at(self->reg, i);
        if (pl_registry_check(self->reg, e, now) != PL_OK)
            continue;
        // only the newest valid certificate of each address (a re-enrolled
        // node, e.g. after a box key rotation, has two in certs/)
        if (pl_registry_by_address(self->reg, e->cert.address, now) != e)
            continue;
        if (sector && *sector && strcmp(e->cert.sector, sector) != 0)
            continue;
        ProtobufCMessage *m = NULL;
        if (pl_wire_unpack(&passerelle__v1__certificate__descriptor,
                           e->raw.data, e->raw.len, &m)
            != PL_OK)
            continue;
        certs[d.n_certificates++] = (Passerelle__V1__Certificate *) m;
    }
    d.certificates = certs;
    const pl_revlist_t *list = pl_registry_revoked(self->reg);
    if (list->number > 0 && list->raw.len
        && pl_wire_unpack(&passerelle__v1__revocation_list__descriptor,
                          list->raw.data, list->raw.len, &rl)
               == PL_OK)
        d.revoked = (Passerelle__V1__RevocationList *) rl;
    // issue 13: the anchors and the foreign directories
    ProtobufCMessage **fown = NULL;
    size_t nfown = 0;
    void *farr[3] = {NULL, NULL, NULL};
    pl_fed_directory(self, &d, &fown, &nfown, farr);
    void *cats = NULL; // issue 18: the catalogues, within half the pages
    size_t left = pl_catalogs_fill(self, &d, S_DIR_CATALOGUE_BYTES, &cats);
    if (left && left != self->dir_cats_left_told)
        pl_log_error(self->log,
                     "catalogues_not_sent count=%zu reason=\"more than half "
                     "of the directory's pages\"",
                     left);
    self->dir_cats_left_told = left;
    // the digest: of the set of its items, whatever their order
    rc = pl_dirset_from_response(&d, &dir->set);
    if (rc == PL_OK) {
        pl_dirset_digest(&dir->set, dir->digest);
        dir->ncerts = d.n_certificates + d.n_foreign;
        rc = s_paginate(dir, &d);
    }
    for (size_t i = 0; i < nfown; i++)
        pl_wire_unpacked_free(fown[i]);
    free(fown);
    for (int i = 0; i < 3; i++)
        free(farr[i]);
    free(cats);
done:
    for (size_t i = 0; certs && i < d.n_certificates; i++)
        pl_wire_unpacked_free((ProtobufCMessage *) certs[i]);
    if (rl)
        pl_wire_unpacked_free(rl);
    free(certs);
    if (rc != PL_OK) {
        pl_log_error(self->log, "directory_unavailable certs=%zu err=%s%s", n,
                     pl_strerror(rc),
                     rc == PL_ETOOBIG ? " reason=\"more than the pages a "
                                        "directory may have\""
                                      : "");
        s_dir_free(&dir);
        return rc;
    }
    dir->built_ms = pl_mono_ms();
    *out = dir;
    return PL_OK;
}

// The kept directory, built again when it is missing or old, or when
// 'now' (something changed); NULL when it cannot be built (logged).
static pl_dir_t *
s_current(pl_broker_t *self, bool now)
{
    if (!now && self->dir && pl_mono_ms() - self->dir->built_ms < S_DIR_KEEP_MS)
        return self->dir;
    pl_dir_t *dir = NULL;
    uint64_t t0 = pl_mono_ms();
    if (s_build(self, NULL, &dir) != PL_OK)
        return self->dir; // the last one rather than none
    if (self->dir && memcmp(dir->digest, self->dir->digest, 32) == 0) {
        self->dir->built_ms = dir->built_ms; // the same: keep its deltas
        s_dir_free(&dir);
        return self->dir;
    }
    s_hist_take(dir, self->dir);
    if (!self->dir_hist_loaded) {
        self->dir_hist_loaded = true;
        s_hist_load(self, dir);
    }
    if (dir->npages > 1 && dir->npages != self->dir_npages_told)
        pl_log_info(self->log,
                    "directory_paged certs=%zu pages=%zu bytes=%zu "
                    "built_ms=%llu",
                    dir->ncerts, dir->npages, dir->bytes,
                    (unsigned long long) (pl_mono_ms() - t0));
    self->dir_npages_told = dir->npages;
    s_dir_free(&self->dir);
    self->dir = dir;
    return dir;
}

// one kept page to rid, without copying it (ZeroMQ shares its bytes)
static int
s_send_page(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
            zmq_msg_t *page)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_copy(&m, page) != 0)
        return errno;
    if (zmq_send(self->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_msg_send(&m, self->router, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        return e;
    }
    return 0;
}

// "unchanged": the digest alone
static void
s_send_unchanged(pl_broker_t *self, pl_session_t *s, const pl_dir_t *dir)
{
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    d.has_digest = d.has_unchanged = d.unchanged = true;
    d.digest = (ProtobufCBinaryData){32, (uint8_t *) dir->digest};
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    p.directory_response = &d;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) == PL_OK
        && pl_broker_send(self, s->rid, s->rid_len, out.data, out.len) == 0) {
        memcpy(s->dir_sent, dir->digest, sizeof s->dir_sent);
        s->dir_sent_set = true;
    }
    pl_buf_free(&out);
}

// The delta from b to dir, built the first time a node needs it: 1 when
// b->delta holds it, -1 when the whole directory is to be sent instead
// (the delta would be as large, or larger than a packet).
static int
s_delta(pl_broker_t *self, pl_dir_t *dir, s_base_t *b)
{
    if (b->delta_state)
        return b->delta_state;
    b->delta_state = -1;
    const pl_dirset_t *set = &dir->set;
    bool *pick = calloc(set->n + 1, sizeof *pick);
    ProtobufCBinaryData *rm = calloc(b->n + 1, sizeof *rm);
    if (!pick || !rm) {
        free(pick);
        free(rm);
        return -1;
    }
    size_t i = 0, j = 0, nrm = 0, nadd = 0; // both sorted: one walk
    while (i < set->n || j < b->n) {
        int c = i == set->n ? 1
                : j == b->n
                    ? -1
                    : memcmp(set->v[i].name, b->names[j], PL_DIRSET_NAME);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            pick[i++] = true;
            nadd++;
        } else {
            rm[nrm++] = (ProtobufCBinaryData){PL_DIRSET_NAME, b->names[j++]};
        }
    }
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    if (pl_dirset_response(set, pick, &d) == PL_OK) {
        d.has_digest = d.has_delta_from = true;
        d.digest = (ProtobufCBinaryData){32, dir->digest};
        d.delta_from = (ProtobufCBinaryData){32, b->digest};
        d.n_removed = nrm;
        d.removed = rm;
        Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
        p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
        p.directory_response = &d;
        pl_buf_t out = {0};
        if (pl_wire_encode(&p, &out) == PL_OK && out.len <= S_DIR_PAGE_BYTES
            && out.len * 2 < dir->bytes
            && zmq_msg_init_size(&b->delta, out.len) == 0) {
            memcpy(zmq_msg_data(&b->delta), out.data, out.len);
            b->delta_state = 1;
        }
        pl_log_info(self->log,
                    "directory_delta removed=%zu added=%zu bytes=%zu "
                    "whole=%zu%s",
                    nrm, nadd, out.len, dir->bytes,
                    b->delta_state == 1 ? "" : " sent=whole");
        pl_buf_free(&out);
        d.removed = NULL;
        d.n_removed = 0;
        pl_dirset_response_free(&d);
    }
    free(pick);
    free(rm);
    return b->delta_state;
}

// A delta from the directory of digest 'base' when s takes deltas and
// dir's history has it; false when none was sent.
static bool
s_send_delta(pl_broker_t *self, pl_session_t *s, pl_dir_t *dir,
             const uint8_t *base)
{
    if (!base || !s->dir_deltas)
        return false;
    for (size_t k = 0; k < dir->nhist; k++) {
        s_base_t *b = &dir->hist[k];
        if (memcmp(b->digest, base, sizeof b->digest) != 0)
            continue;
        if (s_delta(self, dir, b) != 1)
            return false;
        int e = s_send_page(self, s->rid, s->rid_len, &b->delta);
        if (e != 0) {
            pl_log_warn(self->log,
                        "directory_send_failed address=%s delta err=%s",
                        s->address, zmq_strerror(e));
            s->dir_sent_set = false;
            return true; // the node asks again
        }
        memcpy(s->dir_sent, dir->digest, sizeof s->dir_sent);
        s->dir_sent_set = true;
        return true;
    }
    return false;
}

static void
s_send_dir(pl_broker_t *self, pl_session_t *s, pl_dir_t *dir)
{
    if (dir->npages > 1 && !s->dir_pages) {
        if (!s->dir_too_big_told) // once a session, not every request
            pl_log_error(self->log,
                         "directory_not_sent address=%s pages=%zu "
                         "reason=\"the node's version cannot take a "
                         "directory in pages: upgrade it\"",
                         s->address, dir->npages);
        s->dir_too_big_told = true;
        return;
    }
    for (size_t i = 0; i < dir->npages; i++) {
        int e = s_send_page(self, s->rid, s->rid_len, &dir->pages[i]);
        if (e != 0) {
            // the node asks again (a page missing: it keeps its directory)
            pl_log_warn(self->log,
                        "directory_send_failed address=%s page=%zu of %zu "
                        "err=%s",
                        s->address, i, dir->npages, zmq_strerror(e));
            s->dir_sent_set = false;
            return;
        }
    }
    memcpy(s->dir_sent, dir->digest, sizeof s->dir_sent);
    s->dir_sent_set = true;
}

void
pl_broker_directory(pl_broker_t *self, pl_session_t *s,
                    const Passerelle__V1__DirectoryRequest *req)
{
    const char *sector = req ? req->sector : NULL;
    if (req && req->has_directory_pages && req->directory_pages)
        s->dir_pages = true; // and for the pushes of this session
    if (req && req->has_deltas && req->deltas)
        s->dir_deltas = true;
    if (sector && *sector) { // a filtered one is built for this request
        pl_dir_t *dir = NULL;
        if (s_build(self, sector, &dir) == PL_OK) {
            s_send_dir(self, s, dir);
            s->dir_sent_set = false; // not the whole directory
        }
        s_dir_free(&dir);
        return;
    }
    pl_dir_t *dir = s_current(self, false);
    if (!dir)
        return;
    const uint8_t *have =
        req && req->has_have && req->have.len == sizeof dir->digest
            ? req->have.data
            : NULL;
    if (have && sodium_memcmp(have, dir->digest, sizeof dir->digest) == 0) {
        s_send_unchanged(self, s, dir);
        return;
    }
    if (!s_send_delta(self, s, dir, have))
        s_send_dir(self, s, dir);
}

void
pl_broker_push_directory(pl_broker_t *self)
{
    // something changed: built again now, sent now to every connected node
    // that does not hold this one (an unchanged one goes to nobody), as a
    // delta from the one it was last sent when it can
    pl_dir_t *dir = s_current(self, true);
    if (!dir)
        return;
    for (size_t i = 0; i < self->nsessions; i++) {
        pl_session_t *s = &self->sessions[i];
        if (s->dir_sent_set
            && memcmp(s->dir_sent, dir->digest, sizeof dir->digest) == 0)
            continue;
        if (!s_send_delta(self, s, dir, s->dir_sent_set ? s->dir_sent : NULL))
            s_send_dir(self, s, dir);
    }
}
