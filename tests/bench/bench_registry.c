// bench_registry - registry lookups with many enrolled certificates (issue
// 20 item 3). Layer: tests (run by hand: `make bench`; prints figures,
// asserts none).
//
// Enrols N certificates (default 10,000) in a scratch broker home, loads
// them with pl_registry_open, then times the two lookups the broker makes
// on every packet (by CurveZMQ key: the identity of the sender; by
// address: the recipient's certificate) through the sorted indexes, and,
// in the same run, the linear scan the registry did before (every entry
// compared, as pl_registry_by_curve/by_address did up to issue 20).
// Usage: bench_registry [N]
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/pl_registry.h"
#include "proto/pl_cert.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"

// the old linear lookups, kept here only to measure them
static const pl_reg_entry_t *
s_linear_curve(const pl_registry_t *reg, const uint8_t key[32])
{
    const pl_reg_entry_t *best = NULL;
    for (size_t i = 0; i < pl_registry_count(reg); i++) {
        const pl_reg_entry_t *e = pl_registry_at(reg, i);
        if (pl_ct_equal(e->cert.keys.curve, key, 32)
            && (!best || e->cert.serial > best->cert.serial))
            best = e;
    }
    return best;
}

static const pl_reg_entry_t *
s_linear_address(const pl_registry_t *reg, const char *address, uint64_t now)
{
    const pl_reg_entry_t *best = NULL;
    for (size_t i = 0; i < pl_registry_count(reg); i++) {
        const pl_reg_entry_t *e = pl_registry_at(reg, i);
        if (strcmp(e->cert.address, address) != 0
            || pl_cert_check(&e->cert, now, pl_registry_revoked(reg)) != PL_OK)
            continue;
        if (!best || e->cert.serial > best->cert.serial)
            best = e;
    }
    return best;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    if (n < 10 || n > 1000000 || pl_crypto_init() != PL_OK)
        return 1;
    char *dir = pl_test_tmpdir("bench-registry");
    char auth[600], home[600], path[700], src[700];
    // the authority keeps a copy of each certificate it issues, with an
    // fsync each: on tmpfs when there is one, so 10,000 take seconds
    char shm[64] = "/dev/shm/pl-bench-auth-XXXXXX";
    bool on_shm = mkdtemp(shm) != NULL;
    snprintf(auth, sizeof auth, "%s/auth", on_shm ? shm : dir);
    snprintf(home, sizeof home, "%s/broker", dir);
    snprintf(path, sizeof path, "%s/certs", home);
    pl_authority_t *a = NULL;
    if (pl_authority_create(auth, "sn") != PL_OK
        || pl_authority_open(auth, &a) != PL_OK
        || pl_mkdirs(path, 0700) != PL_OK)
        return 1;
    snprintf(src, sizeof src, "%s/authority.pub", auth);
    snprintf(path, sizeof path, "%s/authority.pub", home);
    pl_buf_t pub = {0};
    if (pl_file_read(src, 4096, &pub) != PL_OK
        || pl_file_write(path, pub.data, pub.len, 0644, false) != PL_OK)
        return 1;
    pl_buf_free(&pub);

    uint64_t now = (uint64_t) time(NULL);
    uint8_t(*keys)[32] = malloc((size_t) n * 32);
    double t0 = pl_bench_now();
    for (long i = 0; i < n; i++) {
        pl_cert_t c;
        memset(&c, 0, sizeof c);
        c.serial = 1000 + (uint64_t) i;
        snprintf(c.name, sizeof c.name, "node%ld", i);
        snprintf(c.display_name, sizeof c.display_name, "Node %ld", i);
        snprintf(c.sector, sizeof c.sector, "health");
        snprintf(c.country, sizeof c.country, "SN");
        randombytes_buf(&c.keys, sizeof c.keys);
        memcpy(keys[i], c.keys.curve, 32);
        c.not_before = now - 86400;
        c.not_after = now + 365 * 86400ULL;
        pl_buf_t raw = {0};
        if (pl_authority_issue(a, &c, &raw) != PL_OK)
            return 1;
        snprintf(path, sizeof path, "%s/certs/node%ld.cert", home, i);
        if (pl_file_write(path, raw.data, raw.len, 0644, false) != PL_OK)
            return 1;
        pl_buf_free(&raw);
    }
    double issue_s = pl_bench_now() - t0;
    t0 = pl_bench_now();
    pl_registry_t *reg = pl_registry_open(home, NULL);
    double load_s = pl_bench_now() - t0;
    if (!reg || pl_registry_count(reg) != (size_t) n)
        return 1;
    printf("registry: %ld certificates enrolled (issued in %.1f s), loaded "
           "and indexed in %.3f s\n",
           n, issue_s, load_s);

    // lookups in a shuffled order, every one a hit
    long rounds = 200000;
    long found = 0;
    char address[PL_ADDRESS_MAX + 1];
    uint64_t rng = 42;
    t0 = pl_bench_now();
    for (long k = 0; k < rounds; k++) {
        long i = (long) (pl_test_rand(&rng) % (uint64_t) n);
        found += pl_registry_by_curve(reg, keys[i]) != NULL;
    }
    double idx_curve = (double) rounds / (pl_bench_now() - t0);
    t0 = pl_bench_now();
    for (long k = 0; k < rounds; k++) {
        long i = (long) (pl_test_rand(&rng) % (uint64_t) n);
        snprintf(address, sizeof address, "sn/node%ld", i);
        found += pl_registry_by_address(reg, address, now) != NULL;
    }
    double idx_addr = (double) rounds / (pl_bench_now() - t0);
    long lin_rounds = rounds * 10 / n > 100 ? rounds * 10 / n : 100;
    t0 = pl_bench_now();
    for (long k = 0; k < lin_rounds; k++) {
        long i = (long) (pl_test_rand(&rng) % (uint64_t) n);
        found += s_linear_curve(reg, keys[i]) != NULL;
    }
    double lin_curve = (double) lin_rounds / (pl_bench_now() - t0);
    t0 = pl_bench_now();
    for (long k = 0; k < lin_rounds; k++) {
        long i = (long) (pl_test_rand(&rng) % (uint64_t) n);
        snprintf(address, sizeof address, "sn/node%ld", i);
        found += s_linear_address(reg, address, now) != NULL;
    }
    double lin_addr = (double) lin_rounds / (pl_bench_now() - t0);
    if (found != 2 * rounds + 2 * lin_rounds) {
        fprintf(stderr, "bench_registry: %ld of %ld lookups found\n", found,
                2 * rounds + 2 * lin_rounds);
        return 1;
    }
    printf("lookup by CurveZMQ key: indexed %10.0f/s   linear (before) "
           "%8.0f/s   x%.0f\n",
           idx_curve, lin_curve, idx_curve / lin_curve);
    printf("lookup by address:      indexed %10.0f/s   linear (before) "
           "%8.0f/s   x%.0f\n",
           idx_addr, lin_addr, idx_addr / lin_addr);
    pl_registry_close(&reg);
    pl_authority_close(&a);
    free(keys);
    pl_test_rmrf(dir);
    if (on_shm)
        pl_test_rmrf(shm);
    free(dir);
    return 0;
}
