// pl_node_ops - the node daemon's long-term upkeep (issue 6): backups
// while running, box key rotation and the grace period of old box secrets,
// audit export, and growth of the LMDB map. Layer: nodes.
//
// Everything here runs between passes, with no transaction open in the
// process: mdb_env_copy2 takes a read transaction of its own, and
// mdb_env_set_mapsize may only be called with none active.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_audit_tools.h"
#include "nodes/pl_node_int.h"

#define S_SWEEP_MS   (3600 * 1000) // old box keys checked hourly
#define S_GROW_PCT   75            // the map grows at this use
#define S_BACKUP_DIR "store"       // the copy goes into DIR2/store/

static uint64_t
s_mono_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000u + (uint64_t) t.tv_nsec / 1000u;
}

// One local audit entry in a top-level transaction of its own.
static int
s_audit_local(pl_node_t *self, const char *event, const char *detail)
{
    pl_txn_t *t = NULL;
    int rc = pl_store_begin(self->store, NULL, true, &t);
    if (rc != PL_OK)
        return rc;
    pl_audit_entry_t e = {.dir = PL_AUDIT_LOCAL,
                          .kind = "key",
                          .by = "system",
                          .event = event,
                          .result = "applied",
                          .detail = detail};
    rc = pl_audit_append(t, self->keys, &e, pl_now(), NULL);
    if (rc == PL_OK)
        rc = pl_store_commit(&t);
    else
        pl_store_abort(&t);
    return rc;
}

// ---- backup

// Makes 'to' and to/store (0700); refuses a 'to' that holds a store.
static int
s_backup_dirs(const char *to, char *store, size_t n, char *err, size_t en)
{
    if (snprintf(store, n, "%s/%s", to, S_BACKUP_DIR) >= (int) n) {
        snprintf(err, en, "the backup path is too long");
        return PL_EINVAL;
    }
    if (pl_mkdirs(store, 0700) != PL_OK) {
        snprintf(err, en, "cannot create %s: %s", store, strerror(errno));
        return PL_EIO;
    }
    char data[PATH_MAX + 32];
    snprintf(data, sizeof data, "%s/data.mdb", store);
    if (access(data, F_OK) == 0) {
        snprintf(err, en,
                 "%s already holds a backup: give an empty or new folder", to);
        return PL_EEXIST;
    }
    return PL_OK;
}

static char *
s_backup(pl_node_ctx_t *self, json_t *args)
{
    const char *to = json_string_value(json_object_get(args, "to"));
    if (!to || to[0] != '/')
        return pl_node_ctl_error(PL_EINVAL,
                                 "backup needs args.to, an absolute path");
    char store[PATH_MAX + 16], err[PATH_MAX + 128];
    int rc = s_backup_dirs(to, store, sizeof store, err, sizeof err);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "%s", err);
    uint64_t t0 = s_mono_us();
    // LMDB creates the copy with mode 0666 less the umask (0644 under the
    // usual 022): a backup is as private as the store, so 0600
    mode_t old_mask = umask(077);
    rc = pl_store_copy(self->store, store, true);
    umask(old_mask);
    uint64_t us = s_mono_us() - t0;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc,
                                 "the copy into %s failed (see the "
                                 "node's log)",
                                 store);
    char data[PATH_MAX + 32];
    snprintf(data, sizeof data, "%s/data.mdb", store);
    struct stat st;
    long long bytes = stat(data, &st) == 0 ? (long long) st.st_size : -1;
    pl_log_info(self->log, "backup_done dir=%s bytes=%lld ms=%llu", store,
                bytes, (unsigned long long) (us / 1000));
    return pl_node_ctl_ok(json_pack("{s:s, s:I, s:I, s:b}", "store", store,
                                    "bytes", (json_int_t) bytes, "ms",
                                    (json_int_t) (us / 1000), "online", 1));
}

// ---- box keys

static char *
s_rotate(pl_node_ctx_t *self, const char *rid_hex)
{
    uint8_t rid[PL_REQUEST_ID_BYTES];
    bool has_rid = rid_hex && pl_unhex(rid, sizeof rid, rid_hex) == PL_OK;
    if (!has_rid)
        return pl_node_ctl_error(PL_EINVAL,
                                 "'rotate-box-key' changes state: it needs a "
                                 "request id");
    pl_txn_t *t = NULL;
    int rc = pl_store_begin(self->store, NULL, true, &t);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "the store is unavailable");
    pl_buf_t stored = {0};
    if (pl_store_request_get(t, rid, &stored) == PL_OK) {
        // a retry: the first attempt's reply; the key is not rotated twice
        char *reply = strdup((const char *) stored.data);
        pl_buf_free(&stored);
        pl_store_abort(&t);
        return reply ? reply : pl_node_ctl_error(PL_ENOMEM, "no memory");
    }
    pl_buf_free(&stored);
    uint8_t old_id[PL_KEY_ID_BYTES], new_id[PL_KEY_ID_BYTES];
    pl_key_id(self->keys->pub.box, old_id);
    rc = pl_keys_rotate_box(self->keys, self->home);
    if (rc != PL_OK) {
        pl_store_abort(&t);
        return pl_node_ctl_error(rc,
                                 "cannot write the new box key in %s/keys: "
                                 "%s",
                                 self->home, pl_strerror(rc));
    }
    pl_key_id(self->keys->pub.box, new_id);
    char oh[2 * PL_KEY_ID_BYTES + 1], nh[2 * PL_KEY_ID_BYTES + 1];
    pl_hex(oh, old_id, sizeof old_id);
    pl_hex(nh, new_id, sizeof new_id);
    pl_log_info(self->log, "box_key_rotated old=%s new=%s grace_days=%u", oh,
                nh, self->box_grace_days);
    char *reply = pl_node_ctl_ok(
        json_pack("{s:s, s:s, s:i, s:b}", "new_key_id", nh, "old_key_id", oh,
                  "grace_days", (int) self->box_grace_days, "certified", 0));
    pl_audit_entry_t e = {.dir = PL_AUDIT_LOCAL,
                          .kind = "key",
                          .by = "system",
                          .event = "rotate-box-key",
                          .result = "applied",
                          .detail = nh};
    rc = pl_audit_append(t, self->keys, &e, pl_now(), NULL);
    if (rc == PL_OK)
        rc = pl_store_request_put(t, rid, pl_now(), reply, strlen(reply));
    if (rc == PL_OK)
        rc = pl_store_commit(&t);
    else
        pl_store_abort(&t);
    if (rc != PL_OK)
        pl_log_error(self->log,
                     "box_key_rotation_not_recorded err=%s (the key files "
                     "were rotated)",
                     pl_strerror(rc));
    return reply;
}

// Overwrites a file with zeros, syncs it and removes it.
static int
s_wipe_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            char zero[256] = {0};
            for (off_t off = 0; off < st.st_size; off += (off_t) sizeof zero) {
                size_t n = (size_t) (st.st_size - off) < sizeof zero
                               ? (size_t) (st.st_size - off)
                               : sizeof zero;
                if (pwrite(fd, zero, n, off) != (ssize_t) n)
                    break;
            }
            (void) fsync(fd);
        }
        close(fd);
    }
    return unlink(path) == 0 || errno == ENOENT ? PL_OK : PL_EIO;
}

// Deletes the old box secrets whose grace period is over. A key that the
// node's own certificate still names is never deleted: senders seal to it
// until the node is re-enrolled.
static void
s_box_sweep(pl_node_t *self)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/keys/box-old", self->home);
    DIR *d = opendir(dir);
    if (!d)
        return;
    char certified[2 * PL_KEY_ID_BYTES + 1];
    pl_hex(certified, self->me.box_key_id, PL_KEY_ID_BYTES);
    uint64_t now = pl_now();
    uint64_t grace = (uint64_t) self->box_grace_days * 86400u;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len != 2 * PL_KEY_ID_BYTES + 7
            || strcmp(e->d_name + 2 * PL_KEY_ID_BYTES, ".secret") != 0)
            continue;
        char hex[2 * PL_KEY_ID_BYTES + 1];
        memcpy(hex, e->d_name, 2 * PL_KEY_ID_BYTES);
        hex[2 * PL_KEY_ID_BYTES] = 0;
        char path[PATH_MAX + 320];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (strcmp(hex, certified) == 0) {
            pl_log_warn(self->log,
                        "box_key_kept id=%s reason=still_certified: re-enrol "
                        "this node (authority enroll) so that senders use "
                        "the new key",
                        hex);
            continue;
        }
        // the grace period runs from the rotation (when the old secret was
        // written to box-old/)
        uint64_t retired = (uint64_t) st.st_mtime;
        if (now < retired + grace)
            continue;
        int rc = s_wipe_file(path);
        snprintf(path, sizeof path, "%s/%s.public", dir, hex);
        if (rc == PL_OK)
            rc = s_wipe_file(path);
        if (rc != PL_OK) {
            pl_log_error(self->log, "box_key_delete_failed id=%s err=\"%s\"",
                         hex, strerror(errno));
            continue;
        }
        pl_log_info(self->log,
                    "box_key_deleted id=%s retired_days_ago=%llu grace_days=%u",
                    hex, (unsigned long long) ((now - retired) / 86400),
                    self->box_grace_days);
        if (s_audit_local(self, "box-key-deleted", hex) != PL_OK)
            pl_log_error(self->log, "box_key_deletion_not_audited id=%s", hex);
    }
    closedir(d);
}

// ---- audit export

static char *
s_export(pl_node_ctx_t *self, json_t *args)
{
    json_t *jf = json_object_get(args, "from"),
           *jt = json_object_get(args, "to");
    json_int_t from = jf ? json_integer_value(jf) : 1;
    json_int_t to = jt ? json_integer_value(jt) : 0;
    if (from < 1 || to < 0)
        return pl_node_ctl_error(PL_EINVAL, "args.from must be >= 1 and "
                                            "args.to >= 0");
    pl_txn_t *t = NULL;
    int rc = pl_store_begin(self->store, NULL, false, &t);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "the store is unavailable");
    json_t *doc = NULL;
    rc = pl_audit_export(t, self->me->address, self->keys->pub.sign,
                         (uint64_t) from, (uint64_t) to, &doc);
    pl_store_abort(&t);
    if (rc == PL_EINVAL)
        return pl_node_ctl_error(rc,
                                 "no such range: entries are numbered from 1, "
                                 "--from must not pass --to, at most %d "
                                 "entries per export",
                                 PL_AUDIT_EXPORT_MAX);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the audit chain: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(doc);
}

// The chain checked in a read transaction of its own, naming the first bad
// entry (pl_audit_verify); same reply as the CLI's offline verify.
static char *
s_verify(pl_node_ctx_t *self)
{
    pl_txn_t *t = NULL;
    int rc = pl_store_begin(self->store, NULL, false, &t);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "the store is unavailable");
    pl_audit_report_t rep;
    rc = pl_audit_verify(t, self->keys->pub.sign, &rep);
    pl_store_abort(&t);
    if (rc != PL_OK && rc != PL_EAUTH)
        return pl_node_ctl_error(rc, "cannot read the audit chain: %s",
                                 pl_strerror(rc));
    json_t *o = json_pack("{s:b, s:I}", "ok", rc == PL_OK, "entries",
                          (json_int_t) rep.count);
    if (rc != PL_OK) {
        json_object_set_new(o, "error", json_string(rep.error));
        json_object_set_new(o, "bad_entry",
                            json_integer((json_int_t) rep.bad_seq));
    }
    return pl_node_ctl_ok(o);
}

// The deferred commands (run by pl_node_ctl_run_deferred, no transaction
// open: txn is NULL).
static char *
s_backup_cmd(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) txn, (void) as, (void) rc_out;
    return s_backup(ctx, args);
}

static char *
s_rotate_cmd(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) txn, (void) args, (void) as, (void) rc_out;
    return s_rotate(ctx, ctx->rid);
}

static char *
s_export_cmd(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) txn, (void) as, (void) rc_out;
    return s_export(ctx, args);
}

static char *
s_verify_cmd(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) txn, (void) args, (void) as, (void) rc_out;
    return s_verify(ctx);
}

const pl_ctl_cmd_t pl_node_ops_cmds[] = {
    {"backup", PL_CTL_DEFERRED, s_backup_cmd},
    {"rotate-box-key", PL_CTL_DEFERRED, s_rotate_cmd},
    {"audit.export", PL_CTL_DEFERRED, s_export_cmd},
    {"audit.verify", PL_CTL_DEFERRED, s_verify_cmd},
    {NULL, 0, NULL},
};

// ---- map growth

// true when the map grew
static bool
s_map_check(pl_node_t *self)
{
    unsigned pct;
    if (pl_store_usage(self->store, &pct) != PL_OK)
        return false;
    self->usage_pct = pct;
    size_t map = pl_store_map_size(self->store);
    unsigned hwm = pl_store_highwater(self->store);
    if ((pct < S_GROW_PCT && hwm < S_GROW_PCT) || map == 0)
        return false;
    if (map >= self->map_max_bytes) {
        if (!self->map_at_max_logged && pct >= PL_STORE_FULL_PCT)
            pl_log_error(self->log,
                         "store_map_at_max use_pct=%u map_mib=%zu: the store "
                         "may not grow past --map-max-mib; new work is "
                         "refused",
                         pct, map >> 20);
        self->map_at_max_logged = pct >= PL_STORE_FULL_PCT;
        return false;
    }
    size_t grown =
        map > self->map_max_bytes / 2 ? self->map_max_bytes : map * 2;
    if (pl_store_map_set(self->store, grown) != PL_OK)
        return false;
    pl_log_warn(self->log,
                "store_map_grown use_pct=%u highwater_pct=%u from_mib=%zu "
                "to_mib=%zu max_mib=%zu",
                pct, hwm, map >> 20, grown >> 20, self->map_max_bytes >> 20);
    if (pl_store_usage(self->store, &pct) == PL_OK)
        self->usage_pct = pct;
    return true;
}

bool
pl_node_map_grow(pl_node_t *self)
{
    return pl_store_map_size(self->store) < self->map_max_bytes
           && s_map_check(self);
}

void
pl_node_ops_start(pl_node_t *self)
{
    s_box_sweep(self);
    (void) s_map_check(self);
    self->ops_next_ms = pl_mono_ms() + S_SWEEP_MS;
    self->ops_failures = self->n.commit_failures;
}

void
pl_node_ops_timers(pl_node_t *self)
{
    uint64_t now = pl_mono_ms();
    if (now >= self->ops_next_ms) {
        s_box_sweep(self);
        self->ops_next_ms = now + S_SWEEP_MS;
    }
    // a pass that could not commit (map full?) or a high figure measured
    // before a request: check and grow now rather than at the next tick
    bool failed = self->ops_failures != self->n.commit_failures;
    self->ops_failures = self->n.commit_failures;
    bool can_grow = pl_store_map_size(self->store) < self->map_max_bytes;
    // the high-water mark is cheap to read: watched on every loop turn
    bool high = self->usage_pct >= S_GROW_PCT
                || pl_store_highwater(self->store) >= S_GROW_PCT;
    if (failed || (can_grow && high)
        || (!can_grow && self->usage_pct >= PL_STORE_FULL_PCT
            && !self->map_at_max_logged))
        (void) s_map_check(self);
}
