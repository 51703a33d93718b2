// cmd_ops - keeping a node for years (issue 6): `backup`, `rotate-box-key`
// and `audit verify|export|check`. Layer: adapters.
//
// While the daemon runs, each goes through its control socket (the CLI
// never opens a store a daemon holds). When no daemon holds
// DIR/daemon.lock, the CLI takes that lock itself (so no daemon starts
// meanwhile) and opens the store read-only: verifying, exporting and
// copying need no master key. Only an offline rotation writes to the store
// (its audit entry), with the master key file.
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_control.h"
#include "adapters/cli/cli_opts.h"
#include "nodes/pl_audit.h"
#include "nodes/pl_audit_tools.h"
#include "nodes/pl_store.h"
#include "proto/pl_cert.h"
#include "proto/pl_home.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"

#define S_BACKUP_TIMEOUT_MS (30 * 60 * 1000) // a big store takes a while
#define S_AUDIT_TIMEOUT_MS  (120 * 1000)     // a long chain too

// ---- offline access

// Takes DIR/daemon.lock (exclusive, non-blocking). Returns the fd, or -1
// with a message when a daemon holds it.
static int
s_lock(const char *cmd, const char *home)
{
    int fd = -1;
    char err[PATH_MAX + 64];
    int rc = pl_home_lock_take(home, &fd, err, sizeof err); // one owner
    if (rc == PL_EIO) {
        cli_error(cmd, "%s", err); // "cannot open PATH: why"
        return -1;
    }
    if (rc != PL_OK) {
        cli_error(cmd,
                  "the node daemon started meanwhile (it holds "
                  "%s/daemon.lock): try again",
                  home);
        return -1;
    }
    return fd;
}

static void
s_unlock(int *fd)
{
    pl_home_lock_release(fd);
}

// Opens 'dir' (a store folder) read-only.
static pl_store_t *
s_open_ro(const char *cmd, const char *dir)
{
    char data[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    if (access(data, R_OK) != 0) {
        cli_error(cmd, "there is no store in %s", dir);
        return NULL;
    }
    pl_store_opts_t o = {.read_only = true};
    pl_store_t *s = NULL;
    char err[512];
    if (pl_store_open(dir, &o, &s, err, sizeof err) != PL_OK) {
        cli_error(cmd, "%s", err);
        return NULL;
    }
    return s;
}

// The node's address from DIR/node.cert ("" when not enrolled).
static void
s_address(const char *home, char *out, size_t n)
{
    char path[PATH_MAX + 32];
    uint8_t apk[PL_SIGN_PK_BYTES];
    pl_cert_t c;
    out[0] = 0;
    snprintf(path, sizeof path, "%s/authority.pub", home);
    if (pl_authority_pub_load(path, apk) != PL_OK)
        return;
    snprintf(path, sizeof path, "%s/node.cert", home);
    if (pl_cert_load(path, apk, &c, NULL) == PL_OK)
        snprintf(out, n, "%s", c.address);
}

// Calls the daemon; *running false when it is not running.
static int
s_call(const char *cmd, const cli_t *cli, const char *home, const char *ccmd,
       json_t *args, int timeout_ms, json_t **res, bool *running)
{
    char err[512];
    *running = true;
    int r = cli_control_call_id(home, cli->request_id, ccmd, args, cli->as,
                                timeout_ms, res, err, sizeof err, NULL, 0);
    if (r == CLI_CONTROL_NOT_RUNNING) {
        *running = false;
        return 0;
    }
    if (r != CLI_CONTROL_OK)
        return cli_error(cmd, "%s", err);
    return 0;
}

// ---- backup

static const char s_backup_help[] =
    "usage: passerelle --home DIR backup --to DIR2 [--json]\n"
    "\n"
    "Writes a consistent, compact copy of this node's store into DIR2/store/\n"
    "(LMDB mdb_env_copy2 with compaction) and DIR2/manifest.json (time, audit\n"
    "head, record counts). Works while the daemon runs (through it) and when\n"
    "it is stopped. The master key (DIR/keys/master.secret) is NEVER copied:\n"
    "keep DIR/keys/ separately and safely; without it the backup is\n"
    "unreadable. Restore: stop the node, replace DIR/store/ by DIR2/store/,\n"
    "start it.\n";

// Writes DIR2/manifest.json from the copy itself (opened read-only).
static json_t *
s_manifest(const char *cmd, const char *home, const char *to, const char *store,
           long long ms, bool online)
{
    pl_store_t *s = s_open_ro(cmd, store);
    if (!s)
        return NULL;
    pl_txn_t *t = NULL;
    if (pl_store_begin(s, NULL, false, &t) != PL_OK) {
        pl_store_close(&s);
        cli_error(cmd, "cannot read the copy in %s", store);
        return NULL;
    }
    char at[32], addr[PL_ADDRESS_MAX + 1], master[PATH_MAX + 32];
    pl_time_fmt(at, pl_now());
    s_address(home, addr, sizeof addr);
    const uint8_t *v;
    size_t vlen;
    bool passphrase =
        pl_store_get(t, PL_DB_SETTINGS, "kdf", 3, &v, &vlen) == PL_OK;
    char abs[PATH_MAX];
    snprintf(master, sizeof master, "%s/keys/master.secret",
             realpath(home, abs) ? abs : home);
    pl_pubkeys_t pub;
    json_t *verified = json_null();
    if (pl_keys_load_public(home, &pub) == PL_OK) {
        pl_audit_report_t rep;
        int rc = pl_audit_verify(t, pub.sign, &rep);
        verified = json_boolean(rc == PL_OK);
    }
    char data[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/data.mdb", store);
    struct stat st;
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:o, s:o, s:o, s:b, s:s, "
        "s:s}",
        "format", "passerelle-backup-v1", "created", at, "node", addr, "store",
        "store/data.mdb", "compact", 1, "online", online, "bytes",
        (json_int_t) (stat(data, &st) == 0 ? st.st_size : -1), "ms",
        (json_int_t) ms, "audit_head", pl_audit_head_json(t), "audit_verified",
        verified, "counts", pl_audit_store_counts(t), "master_key_included", 0,
        "master_key",
        passphrase ? "derived from the store passphrase (Argon2id): "
                     "remember it"
                   : master,
        "keys_note",
        "the keys folder (master.secret, sign/box/curve secrets, box-old/) "
        "is not in this backup: keep it separately and safely");
    pl_store_abort(&t);
    pl_store_close(&s);
    char lock[PATH_MAX + 64];
    snprintf(lock, sizeof lock, "%s/lock.mdb", store);
    unlink(lock); // made by the read-only open; not part of a backup
    char *text = m ? json_dumps(m, JSON_INDENT(2)) : NULL;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/manifest.json", to);
    int rc =
        text ? pl_file_write(path, text, strlen(text), 0600, true) : PL_ENOMEM;
    free(text);
    if (rc != PL_OK) {
        json_decref(m);
        cli_error(cmd, "cannot write %s: %s", path, pl_strerror(rc));
        return NULL;
    }
    return m;
}

// The copy with no daemon: read-only store, compact copy.
static int
s_backup_offline(const char *home, const char *store, long long *ms)
{
    int fd = s_lock("backup", home);
    if (fd < 0)
        return 1;
    char src[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/store", home);
    pl_store_t *s = s_open_ro("backup", src);
    int rc = 1;
    if (s) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        // LMDB creates the copy 0666 less the umask: make it 0600
        mode_t old_mask = umask(077);
        int crc = pl_store_copy(s, store, true);
        umask(old_mask);
        if (crc == PL_OK)
            rc = 0;
        else
            cli_error("backup", "the copy into %s failed", store);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        *ms = (t1.tv_sec - t0.tv_sec) * 1000LL
              + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        pl_store_close(&s);
    }
    s_unlock(&fd);
    return rc;
}

int
cli_cmd_backup(cli_t *cli, int argc, char **argv)
{
    static const cli_opt_t opts[] = {
        {"to", CLI_OPT_WORD, NULL, 0, 0, NULL, NULL, NULL},
    };
    cli_opts_t o;
    int prc = cli_opts_parse(cli, "backup", opts, 1, NULL, s_backup_help, 0,
                             argc, argv, &o);
    cli_opts_free(&o);
    if (prc >= 0)
        return prc;
    const char *to = o.val[0].text;
    int home_rc;
    const char *home = cli_need_home(cli, "backup", &home_rc);
    if (!home)
        return home_rc;
    if (!to || !to[0])
        return cli_usage_error("backup", "--to DIR2 is required");
    char abs[PATH_MAX], store[PATH_MAX + 16], data[PATH_MAX + 64];
    if (pl_mkdirs(to, 0700) != PL_OK || !realpath(to, abs))
        return cli_error("backup", "cannot create %s: %s", to, strerror(errno));
    snprintf(store, sizeof store, "%s/store", abs);
    snprintf(data, sizeof data, "%s/data.mdb", store);
    if (access(data, F_OK) == 0)
        return cli_error("backup",
                         "%s already holds a backup: give an empty or new "
                         "folder",
                         abs);
    json_t *args = json_pack("{s:s}", "to", abs), *res = NULL;
    bool running;
    int rc = s_call("backup", cli, home, "backup", args, S_BACKUP_TIMEOUT_MS,
                    &res, &running);
    json_decref(args);
    if (rc != 0)
        return rc;
    long long ms = 0;
    if (running) {
        ms = (long long) json_integer_value(json_object_get(res, "ms"));
        json_decref(res);
    } else {
        if (pl_mkdirs(store, 0700) != PL_OK)
            return cli_error("backup", "cannot create %s", store);
        rc = s_backup_offline(home, store, &ms);
        if (rc != 0)
            return rc;
    }
    json_t *m = s_manifest("backup", home, abs, store, ms, running);
    if (!m)
        return 1;
    if (cli->json)
        return cli_print_json(m);
    printf("backup written to %s (store/data.mdb %lld bytes in %lld ms, "
           "%s; audit head %lld entries%s)\n",
           abs, (long long) json_integer_value(json_object_get(m, "bytes")), ms,
           running ? "taken from the running node" : "node stopped",
           (long long) json_integer_value(
               json_object_get(json_object_get(m, "audit_head"), "count")),
           json_is_false(json_object_get(m, "audit_verified"))
               ? ", AUDIT CHAIN DOES NOT VERIFY"
               : ", verified");
    printf("the master key is NOT in the backup: it is %s\n"
           "keep the keys/ folder of %s separately and safely (offline, "
           "encrypted):\nwithout it this backup cannot be read; with it, "
           "anyone can read the backup.\n",
           json_string_value(json_object_get(m, "master_key")), home);
    json_decref(m);
    return 0;
}

// ---- rotate-box-key

static const char s_rotate_help[] =
    "usage: passerelle --home DIR rotate-box-key [--json]\n"
    "\n"
    "Makes a new box (encryption) key pair; the old secret is kept in\n"
    "DIR/keys/box-old/ and keeps opening envelopes sealed to it. Then:\n"
    "  1. passerelle authority enroll --home A --node DIR ... (same address:\n"
    "     a new certificate with a new serial and the new key)\n"
    "  2. copy DIR/node.cert into the broker's certs/ and run\n"
    "     passerelle broker reload --home BROKERDIR\n"
    "  3. restart the node (it reads node.cert at start); other nodes pick\n"
    "     the new certificate up at their next directory refresh.\n"
    "The old secret is wiped and deleted --box-grace-days (default 14) days\n"
    "after the rotation, never while node.cert still names it.\n";

// Audits an offline rotation in the store (needs the master key file).
static void
s_rotate_audit(const char *home, const pl_keys_t *keys, const char *nh)
{
    char store[PATH_MAX + 16], master[PATH_MAX + 32], err[512];
    snprintf(store, sizeof store, "%s/store", home);
    snprintf(master, sizeof master, "%s/keys/master.secret", home);
    char data[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/data.mdb", store);
    if (access(data, F_OK) != 0)
        return; // never started: nothing to audit into
    pl_store_opts_t o = {.master_path = master};
    pl_store_t *s = NULL;
    pl_txn_t *t = NULL;
    int rc = pl_store_open(store, &o, &s, err, sizeof err);
    if (rc == PL_OK)
        rc = pl_store_begin(s, NULL, true, &t);
    if (rc == PL_OK) {
        pl_audit_entry_t e = {.dir = PL_AUDIT_LOCAL,
                              .kind = "key",
                              .by = "system",
                              .event = "rotate-box-key",
                              .result = "applied",
                              .detail = nh};
        rc = pl_audit_append(t, keys, &e, pl_now(), NULL);
        if (rc == PL_OK)
            rc = pl_store_commit(&t);
    }
    pl_store_abort(&t);
    pl_store_close(&s);
    if (rc != PL_OK)
        fprintf(stderr,
                "passerelle: rotate-box-key: warning: the rotation could not "
                "be written to the audit chain (%s)\n",
                rc == PL_ESTATE ? err : pl_strerror(rc));
}

int
cli_cmd_rotate_box_key(cli_t *cli, int argc, char **argv)
{
    cli_opts_t o;
    int prc = cli_opts_parse(cli, "rotate-box-key", NULL, 0, NULL,
                             s_rotate_help, 0, argc, argv, &o);
    cli_opts_free(&o);
    if (prc >= 0)
        return prc;
    int home_rc;
    const char *home = cli_need_home(cli, "rotate-box-key", &home_rc);
    if (!home)
        return home_rc;
    json_t *res = NULL;
    bool running;
    int rc = s_call("rotate-box-key", cli, home, "rotate-box-key", NULL, 0,
                    &res, &running);
    if (rc != 0)
        return rc;
    if (!running) {
        int fd = s_lock("rotate-box-key", home);
        if (fd < 0)
            return 1;
        pl_keys_t *keys = NULL;
        rc = pl_keys_load(home, &keys);
        if (rc != PL_OK) {
            s_unlock(&fd);
            return cli_error("rotate-box-key", "cannot load %s/keys: %s", home,
                             pl_strerror(rc));
        }
        uint8_t id[PL_KEY_ID_BYTES];
        char oh[2 * PL_KEY_ID_BYTES + 1], nh[2 * PL_KEY_ID_BYTES + 1];
        pl_key_id(keys->pub.box, id);
        pl_hex(oh, id, sizeof id);
        rc = pl_keys_rotate_box(keys, home);
        if (rc == PL_OK) {
            pl_key_id(keys->pub.box, id);
            pl_hex(nh, id, sizeof id);
            s_rotate_audit(home, keys, nh);
        }
        pl_keys_destroy(&keys);
        s_unlock(&fd);
        if (rc != PL_OK)
            return cli_error("rotate-box-key", "cannot rotate: %s",
                             pl_strerror(rc));
        res = json_pack("{s:s, s:s, s:b}", "new_key_id", nh, "old_key_id", oh,
                        "certified", 0);
    }
    json_object_set_new(res, "online", json_boolean(running));
    if (cli->json)
        return cli_print_json(res);
    printf("new box key %s; the old one (%s) is kept in %s/keys/box-old/\n"
           "next: re-enrol this node (passerelle authority enroll --home A "
           "--node %s ...),\ncopy its node.cert to the broker's certs/ and "
           "run 'passerelle broker reload',\nthen restart this node. Until "
           "then senders keep sealing to the old key.\n",
           json_string_value(json_object_get(res, "new_key_id")),
           json_string_value(json_object_get(res, "old_key_id")), home, home);
    json_decref(res);
    return 0;
}

// ---- audit

static const char s_audit_help[] =
    "usage: passerelle --home DIR audit verify [--json]\n"
    "       passerelle --home DIR audit export [--from N] [--to M] --json\n"
    "       passerelle audit check --file EXPORT.json [--json]\n"
    "\n"
    "verify: recomputes this node's audit chain (BLAKE2b, each entry chained\n"
    "to the one before), checks the signed head (count and hash, Ed25519 by\n"
    "the node's sign key) and names the first bad entry. Works while the\n"
    "daemon runs and when it is stopped.\n"
    "export: entries N..M (both >= 1; default: from the first, to the last)\n"
    "with the signed head and the node's sign public key, for an auditor.\n"
    "check: what the auditor runs on an export, offline, with no store.\n";

static int
s_verify_print(const cli_t *cli, json_t *r)
{
    bool ok = json_is_true(json_object_get(r, "ok"));
    long long n = (long long) json_integer_value(json_object_get(r, "entries"));
    if (cli->json) {
        int rc = cli_print_json(r);
        return rc ? rc : ok ? 0 : 1;
    }
    if (ok)
        printf("audit chain verifies: %lld entries, signed head matches\n", n);
    else
        cli_error(
            "audit verify", "%s (first bad entry: %lld)",
            json_string_value(json_object_get(r, "error")),
            (long long) json_integer_value(json_object_get(r, "bad_entry")));
    json_decref(r);
    return ok ? 0 : 1;
}

static json_t *
s_report_json(int rc, const pl_audit_report_t *rep)
{
    json_t *o = json_pack("{s:b, s:I}", "ok", rc == PL_OK, "entries",
                          (json_int_t) rep->count);
    if (rc != PL_OK) {
        json_object_set_new(
            o, "error",
            json_string(rep->error[0] ? rep->error : pl_strerror(rc)));
        json_object_set_new(o, "bad_entry",
                            json_integer((json_int_t) rep->bad_seq));
    }
    return o;
}

static int
s_audit_offline(const cli_t *cli, const char *home, bool export_, uint64_t from,
                uint64_t to)
{
    const char *cmd = export_ ? "audit export" : "audit verify";
    pl_pubkeys_t pub;
    if (pl_keys_load_public(home, &pub) != PL_OK)
        return cli_error(cmd, "cannot read %s/keys/sign.public", home);
    int fd = s_lock(cmd, home);
    if (fd < 0)
        return 1;
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/store", home);
    pl_store_t *s = s_open_ro(cmd, dir);
    pl_txn_t *t = NULL;
    int rc = s ? pl_store_begin(s, NULL, false, &t) : PL_EIO;
    json_t *out = NULL;
    if (rc == PL_OK && export_) {
        char addr[PL_ADDRESS_MAX + 1];
        s_address(home, addr, sizeof addr);
        rc = pl_audit_export(t, addr, pub.sign, from, to, &out);
    } else if (rc == PL_OK) {
        pl_audit_report_t rep;
        int vrc = pl_audit_verify(t, pub.sign, &rep);
        if (vrc == PL_OK || vrc == PL_EAUTH)
            out = s_report_json(vrc, &rep);
        else
            rc = vrc;
    }
    pl_store_abort(&t);
    pl_store_close(&s);
    s_unlock(&fd);
    if (rc == PL_EINVAL)
        return cli_error(cmd, "no such range (entries are numbered from 1; "
                              "--from must not pass --to)");
    if (rc != PL_OK || !out)
        return s ? cli_error(cmd, "cannot read the audit chain: %s",
                             pl_strerror(rc))
                 : 1;
    json_object_set_new(out, "online", json_false());
    if (export_)
        return cli_print_json(out);
    return s_verify_print(cli, out);
}

static int
s_audit_check(const cli_t *cli, const char *file)
{
    json_error_t jerr;
    json_t *doc = json_load_file(file, 0, &jerr);
    if (!doc)
        return cli_error("audit check", "cannot read %s: %s", file, jerr.text);
    pl_audit_report_t rep;
    int rc = pl_audit_check_export(doc, &rep);
    json_t *r = s_report_json(rc, &rep);
    json_object_set(r, "node", json_object_get(doc, "node"));
    json_object_set(r, "sign_public_key",
                    json_object_get(doc, "sign_public_key"));
    json_decref(doc);
    return s_verify_print(cli, r);
}

int
cli_cmd_audit_ops(cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2
            && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
            return fputs(s_audit_help, stdout), 0;
        return cli_usage_error("audit", "which one: verify, export or check?");
    }
    const char *sub = argv[1];
    bool verify = strcmp(sub, "verify") == 0,
         export_ = strcmp(sub, "export") == 0;
    bool check = strcmp(sub, "check") == 0;
    if (!verify && !export_ && !check)
        return cli_usage_error("audit", "unknown subcommand '%s'", sub);
    enum { A_FROM, A_TO, A_FILE, A_COUNT };
    static const cli_opt_t opts[A_COUNT] = {
        [A_FROM] = {"from", CLI_OPT_UINT, NULL, 1, INT64_MAX, NULL, NULL,
                    "an entry number >= 1 (entries are numbered from 1)"},
        [A_TO] = {"to", CLI_OPT_UINT, NULL, 1, INT64_MAX, NULL, NULL,
                  "an entry number >= 1 (entries are numbered from 1)"},
        [A_FILE] = {"file", CLI_OPT_WORD, NULL, 0, 0, NULL, NULL, NULL},
    };
    cli_opts_t o;
    int prc = cli_opts_parse(cli, "audit", opts, A_COUNT, NULL, s_audit_help,
                             CLI_OPTS_NO_OPERANDS, argc - 1, argv + 1, &o);
    cli_opts_free(&o);
    if (prc >= 0)
        return prc;
    long long from = o.val[A_FROM].given ? (long long) o.val[A_FROM].num : 1;
    long long to = o.val[A_TO].given ? (long long) o.val[A_TO].num : 0;
    const char *file = o.val[A_FILE].text;
    if (!export_ && (from != 1 || to != 0))
        return cli_usage_error("audit", "--from and --to apply to export");
    if (check) {
        if (!file)
            return cli_usage_error("audit", "check needs --file EXPORT.json");
        return s_audit_check(cli, file);
    }
    int home_rc;
    const char *home = cli_need_home(cli, "audit", &home_rc);
    if (!home)
        return home_rc;
    if (export_ && !cli->json)
        return cli_usage_error("audit", "export prints JSON: add --json");
    if (to && from > to)
        return cli_usage_error("audit", "--from must not pass --to");
    json_t *args = export_ ? json_pack("{s:I, s:I}", "from", (json_int_t) from,
                                       "to", (json_int_t) to)
                           : NULL;
    json_t *res = NULL;
    bool running;
    int rc = s_call(export_ ? "audit export" : "audit verify", cli, home,
                    export_ ? "audit.export" : "audit.verify", args,
                    S_AUDIT_TIMEOUT_MS, &res, &running);
    json_decref(args);
    if (rc != 0)
        return rc;
    if (!running)
        return s_audit_offline(cli, home, export_, (uint64_t) from,
                               (uint64_t) to);
    json_object_set_new(res, "online", json_true());
    if (export_)
        return cli_print_json(res);
    return s_verify_print(cli, res);
}
