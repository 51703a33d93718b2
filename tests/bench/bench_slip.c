// bench_slip - issue 18's figures: the slip token's size and its Base45
// length, the cost of making and checking one slip against the raw
// Ed25519 sign and verify measured in the same run, and the cost of
// matching one case against a catalogue of N services. Usage:
// bench_slip [N]. Prints figures; asserts nothing about time.
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_slip.h"
#include "nodes/pl_svc.h"
#include "proto/pl_crypto.h"
#include "tests/lib/pl_bench.h"

static void
s_fail(const char *what)
{
    fprintf(stderr, "bench_slip: %s failed\n", what);
    exit(1);
}

// 'n' services: every dimension, two regions, capacities in turn.
static json_t *
s_offers(int n)
{
    static const char *const sectors[] = {"health", "mhpss",   "livelihood",
                                          "tvet",   "housing", "legal"};
    static const char *const caps[] = {"open", "limited", "full"};
    json_t *a = json_array();
    for (int i = 0; i < n; i++) {
        char code[32], addr[32];
        snprintf(code, sizeof code, "svc-%d", i);
        snprintf(addr, sizeof addr, "sn/node-%d", i / 4);
        json_t *e =
            json_pack("{s:s, s:s, s:s, s:s, s:[s,s]}", "code", code, "sector",
                      sectors[i % 6], "name_en", code, "region",
                      i % 2 ? "dakar" : "thies", "languages", "fr", "wo");
        if (pl_svc_entry_check(e)
            || pl_svc_capacity(e, caps[i % 3], -1, 0, 1800000000))
            s_fail("entry");
        json_array_append_new(
            a, json_pack("{s:s, s:o}", "address", addr, "entry", e));
    }
    return a;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    if (n <= 0)
        n = 2000;
    pl_keys_t *k = NULL;
    if (pl_crypto_init() != PL_OK || pl_keys_generate(&k) != PL_OK)
        s_fail("keys");
    pl_cert_t cert = {.keys = k->pub};
    pl_slip_t s = {.issued = 1800000000, .expires = 1800000000 + 30 * 86400};
    pl_slip_addr_hash("sn/clinic", s.to_hash);
    char text[PL_SLIP_TEXT];
    double t0 = pl_bench_now();
    for (int i = 0; i < n; i++)
        if (pl_slip_make(&s, k, text) != PL_OK)
            s_fail("make");
    double t1 = pl_bench_now();
    for (int i = 0; i < n; i++)
        if (pl_slip_verify(text, &cert) != PL_OK)
            s_fail("verify");
    double t2 = pl_bench_now();
    uint8_t sig[PL_SIGNATURE_BYTES], m[59] = {0};
    for (int i = 0; i < n; i++)
        pl_sign(sig, m, sizeof m, k);
    double t3 = pl_bench_now();
    for (int i = 0; i < n; i++)
        if (pl_verify(sig, m, sizeof m, k->pub.sign) != PL_OK)
            s_fail("raw verify");
    double t4 = pl_bench_now();
    printf("slip token: %d bytes, %zu Base45 characters (QR 7-M holds 178)\n",
           PL_SLIP_BYTES, strlen(text));
    printf("slip make   %7.1f us  (raw Ed25519 sign   %7.1f us, ratio %.2f)\n",
           (t1 - t0) * 1e6 / n, (t3 - t2) * 1e6 / n, (t1 - t0) / (t3 - t2));
    printf("slip check  %7.1f us  (raw Ed25519 verify %7.1f us, ratio %.2f)\n",
           (t2 - t1) * 1e6 / n, (t4 - t3) * 1e6 / n, (t2 - t1) / (t4 - t3));
    for (int sz = 50; sz <= 500; sz *= 10) {
        json_t *offers = s_offers(sz);
        pl_svc_person_t p = {.needs = json_pack("[s,s]", "economic", "social"),
                             .region = "dakar",
                             .age = 30,
                             .sex = "female",
                             .language = "wo"};
        int reps = 200;
        double a = pl_bench_now();
        for (int i = 0; i < reps; i++)
            json_decref(pl_svc_match(offers, &p, NULL, 1800000000));
        double b = pl_bench_now();
        printf("match one case against %3d services: %8.1f us\n", sz,
               (b - a) * 1e6 / reps);
        json_decref(p.needs);
        json_decref(offers);
    }
    pl_keys_destroy(&k);
    return 0;
}
