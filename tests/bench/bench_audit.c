// bench_audit - run by hand (make bench): the cost of the audit chain per
// envelope (µs and bytes) and the time and size of a compact backup of a
// store of 100,000 messages, built directly with the store API (no
// network). Layer: tests.
//
//   bench_audit [MESSAGES]     (default 100000)
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_audit_tools.h"
#include "nodes/pl_store.h"
#include "proto/pl_keys.h"
#include "tests/lib/pl_test.h"

#define S_BATCH 1000 // messages per top-level transaction

static double
s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static long long
s_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long) st.st_size : -1;
}

static int
s_sum(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) k;
    (void) v;
    *(size_t *) arg += kl + vl;
    return PL_STORE_NEXT;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    char *dir = pl_test_tmpdir("bench-audit");
    char store[600], master[600], copy[600], data[700];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(master, sizeof master, "%s/master.secret", dir);
    snprintf(copy, sizeof copy, "%s/backup", dir);
    pl_keys_t *keys = NULL;
    PL_CHECK(pl_keys_generate(&keys) == PL_OK);
    pl_store_opts_t o = {.map_bytes = (size_t) 4 << 30, .master_path = master};
    pl_store_t *s = NULL;
    char err[256];
    PL_CHECK(pl_store_open(store, &o, &s, err, sizeof err) == PL_OK);

    // a message's footprint: an inbox-like record of 1,200 bytes (header,
    // signature, digest, sealed 1 KiB content) plus its audit entry
    uint8_t rec[1200], id[16], digest[32];
    double audit_s = 0, t0 = s_now();
    for (long i = 0; i < n; i += S_BATCH) {
        pl_txn_t *t = NULL;
        PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
        for (long j = i; j < n && j < i + S_BATCH; j++) {
            randombytes_buf(rec, sizeof rec);
            randombytes_buf(id, sizeof id);
            randombytes_buf(digest, sizeof digest);
            PL_CHECK(
                pl_store_put(t, PL_DB_INBOX, id, sizeof id, rec, sizeof rec)
                == PL_OK);
            pl_audit_entry_t e = {.dir = PL_AUDIT_IN,
                                  .peer = "sn/hopital-fann",
                                  .msg_id = id,
                                  .kind = "test",
                                  .digest = digest,
                                  .by = "system",
                                  .event = "received",
                                  .result = "applied"};
            double a = s_now();
            PL_CHECK(pl_audit_append(t, keys, &e, pl_now(), NULL) == PL_OK);
            audit_s += s_now() - a;
        }
        PL_CHECK(pl_store_commit(&t) == PL_OK);
    }
    double build_s = s_now() - t0;
    pl_txn_t *t = NULL;
    size_t audit_bytes = 0;
    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    PL_CHECK(pl_store_each(t, PL_DB_AUDIT, s_sum, &audit_bytes) == PL_OK);
    double v0 = s_now();
    pl_audit_report_t rep;
    PL_CHECK(pl_audit_verify(t, keys->pub.sign, &rep) == PL_OK);
    double verify_s = s_now() - v0;
    pl_store_abort(&t);

    PL_CHECK(pl_mkdirs(copy, 0700) == PL_OK);
    double b0 = s_now();
    PL_CHECK(pl_store_copy(s, copy, true) == PL_OK);
    double backup_s = s_now() - b0;
    snprintf(data, sizeof data, "%s/data.mdb", store);
    long long live = s_size(data);
    snprintf(data, sizeof data, "%s/data.mdb", copy);
    long long packed = s_size(data);

    printf("messages                 %ld\n", n);
    printf("build (store + audit)    %.2f s\n", build_s);
    printf("audit append per entry   %.1f us (JSON, BLAKE2b, Ed25519 head "
           "signature, 2 puts)\n",
           audit_s * 1e6 / (double) n);
    printf("audit bytes per entry    %.0f B (key + entry; + 104 B head, "
           "overwritten)\n",
           (double) audit_bytes / (double) n);
    printf("audit verify             %.2f s (%.1f us per entry)\n", verify_s,
           verify_s * 1e6 / (double) n);
    printf("store file               %.1f MiB\n", (double) live / 1048576.0);
    printf("compact backup           %.2f s, %.1f MiB\n", backup_s,
           (double) packed / 1048576.0);
    pl_store_close(&s);
    pl_keys_destroy(&keys);
    pl_test_rmrf(dir);
    free(dir);
    return 0;
}
