// pl_registry - enrolment registry. Layer: broker.
#include "broker/pl_registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct pl_registry {
    char home[4096];          // broker home
    uint8_t authority_pk[32]; // network authority
    pl_reg_entry_t *entries;  // enrolled certificates
    size_t count;             // entries used
    uint32_t *by_curve;       // entry indices sorted by curve key, serial desc
    uint32_t *by_address;     // entry indices sorted by address, serial desc
    pl_revlist_t revoked;     // current list (number 0 = none)
    bool loaded;              // certs/ was read once
    pl_log_t *log;            // borrowed
};

pl_registry_t *
pl_registry_open(const char *home, pl_log_t *log)
{
    pl_registry_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->log = log;
    snprintf(self->home, sizeof self->home, "%s", home);
    char path[4200];
    snprintf(path, sizeof path, "%s/authority.pub", home);
    int rc = pl_authority_pub_load(path, self->authority_pk);
    if (rc != PL_OK) {
        pl_log_error(log, "registry_open_failed file=%s reason=\"%s\"", path,
                     pl_strerror(rc));
        free(self);
        return NULL;
    }
    rc = pl_registry_reload(self);
    if (rc < 0) {
        pl_registry_close(&self);
        return NULL;
    }
    return self;
}

static void
s_free_entries(pl_reg_entry_t *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        pl_buf_free(&entries[i].raw);
    free(entries);
}

void
pl_registry_close(pl_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_registry_t *self = *self_p;
    s_free_entries(self->entries, self->count);
    free(self->by_curve);
    free(self->by_address);
    pl_revlist_free(&self->revoked);
    free(self);
    *self_p = NULL;
}

// ---- the indexes: two sorted arrays of entry indices, built once per
// reload, searched by bisection on every packet (was a linear scan of every
// entry: issue 20). Ties sort newest serial first, so the first match of a
// key is the newest certificate. The keys are public (a CurveZMQ public
// key, an address): a comparison that is not constant-time leaks nothing.

static const pl_reg_entry_t *s_sort_base; // qsort has no context argument

static int
s_serial_desc(const pl_reg_entry_t *a, const pl_reg_entry_t *b)
{
    return a->cert.serial > b->cert.serial   ? -1
           : a->cert.serial < b->cert.serial ? 1
                                             : 0;
}

static int
s_cmp_curve(const void *x, const void *y)
{
    const pl_reg_entry_t *a = &s_sort_base[*(const uint32_t *) x];
    const pl_reg_entry_t *b = &s_sort_base[*(const uint32_t *) y];
    int c = memcmp(a->cert.keys.curve, b->cert.keys.curve, 32);
    return c ? c : s_serial_desc(a, b);
}

static int
s_cmp_address(const void *x, const void *y)
{
    const pl_reg_entry_t *a = &s_sort_base[*(const uint32_t *) x];
    const pl_reg_entry_t *b = &s_sort_base[*(const uint32_t *) y];
    int c = strcmp(a->cert.address, b->cert.address);
    return c ? c : s_serial_desc(a, b);
}

// Builds both indexes of 'entries'; PL_ENOMEM leaves nothing allocated.
static int
s_index(const pl_reg_entry_t *entries, size_t count, uint32_t **curve_out,
        uint32_t **address_out)
{
    uint32_t *c = malloc((count + 1) * sizeof *c);
    uint32_t *a = malloc((count + 1) * sizeof *a);
    if (!c || !a) {
        free(c);
        free(a);
        return PL_ENOMEM;
    }
    for (size_t i = 0; i < count; i++)
        c[i] = a[i] = (uint32_t) i;
    s_sort_base = entries;
    qsort(c, count, sizeof *c, s_cmp_curve);
    qsort(a, count, sizeof *a, s_cmp_address);
    s_sort_base = NULL;
    *curve_out = c;
    *address_out = a;
    return PL_OK;
}

static int
s_by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int
pl_registry_reload(pl_registry_t *self)
{
    char path[4200];
    // the revocation list first, so the log can say which certs it revokes
    snprintf(path, sizeof path, "%s/revoked", self->home);
    pl_revlist_t list = {0};
    int rc = pl_revlist_load(path, self->authority_pk, &list);
    if (rc == PL_OK) {
        uint64_t old = self->revoked.number;
        if (pl_revlist_replace(&self->revoked, &list) == PL_OK)
            pl_log_info(self->log,
                        "revocation_list_loaded number=%llu "
                        "serials=%zu previous=%llu",
                        (unsigned long long) self->revoked.number,
                        self->revoked.count, (unsigned long long) old);
        else if (list.number < self->revoked.number)
            pl_log_warn(self->log,
                        "revocation_list_ignored number=%llu "
                        "reason=older_than_current current=%llu",
                        (unsigned long long) list.number,
                        (unsigned long long) self->revoked.number);
        pl_revlist_free(&list);
    } else if (rc != PL_ENOTFOUND) {
        pl_log_error(self->log, "revocation_list_refused file=%s reason=\"%s\"",
                     path, pl_strerror(rc));
    }

    snprintf(path, sizeof path, "%s/certs", self->home);
    struct dirent **names = NULL;
    errno = 0;
    int n = scandir(path, &names, NULL, s_by_name);
    if (n < 0) {
        int err = errno;
        if (err != ENOENT || self->loaded) {
            // certs/ could not be read (no descriptor left, an I/O error,
            // or it vanished): keep every node enrolled as it was
            pl_log_error(self->log,
                         "registry_reload_failed path=%s reason=\"%s\" "
                         "kept=%zu",
                         path, strerror(err), self->count);
            return PL_EIO;
        }
        pl_log_warn(self->log, "registry_no_certs_folder path=%s", path);
        n = 0;
    }
    pl_reg_entry_t *fresh = calloc((size_t) n + 1, sizeof *fresh);
    if (!fresh) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return PL_ENOMEM;
    }
    size_t count = 0;
    uint64_t now = pl_now();
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 5 && strcmp(name + len - 5, ".cert") == 0) {
            char file[4500];
            snprintf(file, sizeof file, "%s/%s", path, name);
            pl_reg_entry_t *e = &fresh[count];
            errno = 0;
            rc = pl_cert_load(file, self->authority_pk, &e->cert, &e->raw);
            int err = errno;
            if (rc == PL_EIO
                && (err == EMFILE || err == ENFILE || err == ENOMEM
                    || err == EIO)) {
                // the file exists but could not be read now: a partial
                // registry would de-enrol nodes, so keep the one we have
                pl_log_error(self->log,
                             "registry_reload_failed file=%s reason=\"%s\" "
                             "kept=%zu",
                             name, strerror(err), self->count);
                for (int j = i; j < n; j++)
                    free(names[j]);
                free(names);
                s_free_entries(fresh, count);
                return PL_EIO;
            }
            if (rc != PL_OK) {
                pl_log_warn(self->log, "cert_refused file=%s reason=\"%s\"",
                            name, pl_strerror(rc));
            } else {
                int valid = pl_cert_check(&e->cert, now, &self->revoked);
                if (valid != PL_OK)
                    pl_log_warn(self->log,
                                "cert_not_valid address=%s "
                                "serial=%llu reason=\"%s\"",
                                e->cert.address,
                                (unsigned long long) e->cert.serial,
                                pl_strerror(valid));
                else if (e->cert.not_after - now
                         < (uint64_t) PL_CERT_WARN_DAYS * 86400)
                    pl_log_warn(
                        self->log,
                        "cert_expiring address=%s "
                        "serial=%llu days_left=%llu",
                        e->cert.address, (unsigned long long) e->cert.serial,
                        (unsigned long long) (e->cert.not_after - now) / 86400);
                count++;
            }
        }
        free(names[i]);
    }
    free(names);
    uint32_t *by_curve, *by_address;
    if (count > UINT32_MAX - 1
        || s_index(fresh, count, &by_curve, &by_address) != PL_OK) {
        s_free_entries(fresh, count);
        return PL_ENOMEM;
    }
    s_free_entries(self->entries, self->count);
    free(self->by_curve);
    free(self->by_address);
    self->entries = fresh;
    self->count = count;
    self->by_curve = by_curve;
    self->by_address = by_address;
    self->loaded = true;
    pl_log_info(self->log, "registry_loaded certificates=%zu revocation=%llu",
                count, (unsigned long long) self->revoked.number);
    return (int) count;
}

// The first position in 'index' whose entry is not below the key, by
// bisection ('cmp' compares the key with an entry).
static size_t
s_lower(const pl_registry_t *self, const uint32_t *index, const void *key,
        int (*cmp)(const void *key, const pl_reg_entry_t *e))
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp(key, &self->entries[index[mid]]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int
s_key_curve(const void *key, const pl_reg_entry_t *e)
{
    return memcmp(key, e->cert.keys.curve, 32);
}

static int
s_key_address(const void *key, const pl_reg_entry_t *e)
{
    return strcmp(key, e->cert.address);
}

const pl_reg_entry_t *
pl_registry_by_curve(const pl_registry_t *self, const uint8_t curve_pk[32])
{
    size_t i = s_lower(self, self->by_curve, curve_pk, s_key_curve);
    if (i == self->count)
        return NULL;
    const pl_reg_entry_t *e = &self->entries[self->by_curve[i]];
    // the run of this key is newest serial first
    return s_key_curve(curve_pk, e) == 0 ? e : NULL;
}

const pl_reg_entry_t *
pl_registry_by_address(const pl_registry_t *self, const char *address,
                       uint64_t now)
{
    // the run of this address, newest serial first: the first valid one
    for (size_t i = s_lower(self, self->by_address, address, s_key_address);
         i < self->count; i++) {
        const pl_reg_entry_t *e = &self->entries[self->by_address[i]];
        if (strcmp(e->cert.address, address) != 0)
            break;
        if (pl_cert_check(&e->cert, now, &self->revoked) == PL_OK)
            return e;
    }
    return NULL;
}

int
pl_registry_check(const pl_registry_t *self, const pl_reg_entry_t *entry,
                  uint64_t now)
{
    return pl_cert_check(&entry->cert, now, &self->revoked);
}

size_t
pl_registry_count(const pl_registry_t *self)
{
    return self->count;
}

const pl_reg_entry_t *
pl_registry_at(const pl_registry_t *self, size_t i)
{
    return i < self->count ? &self->entries[i] : NULL;
}

const pl_revlist_t *
pl_registry_revoked(const pl_registry_t *self)
{
    return &self->revoked;
}

const uint8_t *
pl_registry_authority(const pl_registry_t *self)
{
    return self->authority_pk;
}
