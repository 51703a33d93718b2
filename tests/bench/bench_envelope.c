// bench_envelope - cost of one envelope against the libsodium floor.
//
// For 1 KiB messages: seal, outer verify, open, receipt sign + verify, in
// microseconds per operation, then the raw primitives measured in the same
// run. The floor of one seal + open + receipt is what the design cannot
// avoid: 3 signatures (inner, outer, receipt), 3 verifications, one
// ephemeral keypair + client session keys at the sender, server session
// keys at the recipient, and 2 AEAD passes over the 4 KiB bucket (counted as
// 2 encryptions). Usage: bench_envelope [N].
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/pl_envelope.h"

#define MSG_LEN 1024

static double
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static void
s_fail(const char *what, int rc)
{
    fprintf(stderr, "bench_envelope: %s failed: %s\n", what, pl_strerror(rc));
    exit(1);
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? (int) strtol(argv[1], NULL, 10) : 2000;
    if (n <= 0)
        n = 2000;
    if (pl_crypto_init() != PL_OK)
        s_fail("init", PL_EIO);
    pl_keys_t *a = NULL, *b = NULL;
    int rc = pl_keys_generate(&a);
    if (rc == PL_OK)
        rc = pl_keys_generate(&b);
    if (rc != PL_OK)
        s_fail("keys", rc);

    uint8_t msg[MSG_LEN];
    randombytes_buf(msg, sizeof msg);
    pl_seal_args_t args = {.sender = a,
                           .from = "sn/agency",
                           .to = "sn/clinic",
                           .to_box_pk = b->pub.box,
                           .now = 1700000000};

    // ---- seal
    pl_buf_t *packets = calloc((size_t) n, sizeof *packets);
    if (!packets)
        s_fail("alloc", PL_ENOMEM);
    double t0 = s_now_us();
    for (int i = 0; i < n; i++)
        if ((rc = pl_envelope_seal(&args, msg, sizeof msg, NULL, &packets[i])))
            s_fail("seal", rc);
    double seal = (s_now_us() - t0) / n;

    // decode outside the timed loops: the wire layer is not measured here
    pl_packet_t **pkts = calloc((size_t) n, sizeof *pkts);
    pl_envelope_t *views = calloc((size_t) n, sizeof *views);
    if (!pkts || !views)
        s_fail("alloc", PL_ENOMEM);
    for (int i = 0; i < n; i++) {
        if ((rc = pl_wire_decode(packets[i].data, packets[i].len, &pkts[i])))
            s_fail("decode", rc);
        pl_envelope_view(pkts[i]->envelope, &views[i]);
    }

    // ---- verify (outer signature, what a broker may do)
    t0 = s_now_us();
    for (int i = 0; i < n; i++)
        if ((rc = pl_envelope_verify(&views[i], a->pub.sign)))
            s_fail("verify", rc);
    double verify = (s_now_us() - t0) / n;

    // ---- open
    pl_buf_t out = {0};
    t0 = s_now_us();
    for (int i = 0; i < n; i++) {
        out.len = 0;
        if ((rc = pl_envelope_open(&views[i], "sn/clinic", b->pub.box,
                                   b->sec->box, a->pub.sign, NULL, &out)))
            s_fail("open", rc);
    }
    double open = (s_now_us() - t0) / n;
    if (out.len != MSG_LEN || memcmp(out.data, msg, MSG_LEN) != 0)
        s_fail("open content", PL_EPROTO);
    pl_buf_wipe(&out);

    // ---- receipt: digest + sign at the recipient, verify at the sender
    uint8_t digest[PL_DIGEST_BYTES], sig[PL_SIG_BYTES], id[PL_MSG_ID_BYTES];
    memset(id, 7, sizeof id);
    t0 = s_now_us();
    for (int i = 0; i < n; i++) {
        pl_envelope_digest(&views[i], digest);
        pl_receipt_sign(b, id, digest, 1700000001, sig);
    }
    double rsign = (s_now_us() - t0) / n;
    t0 = s_now_us();
    for (int i = 0; i < n; i++)
        if ((rc = pl_receipt_verify(b->pub.sign, id, digest, 1700000001, sig)))
            s_fail("receipt verify", rc);
    double rverify = (s_now_us() - t0) / n;

    // ---- the primitive floor, same run
    uint8_t m[MSG_LEN + 128], s[64];
    randombytes_buf(m, sizeof m);
    t0 = s_now_us();
    for (int i = 0; i < n; i++)
        crypto_sign_detached(s, NULL, m, sizeof m, a->sec->sign);
    double p_sign = (s_now_us() - t0) / n;
    t0 = s_now_us();
    for (int i = 0; i < n; i++)
        if (crypto_sign_verify_detached(s, m, sizeof m, a->pub.sign) != 0)
            s_fail("primitive verify", PL_EAUTH);
    double p_verify = (s_now_us() - t0) / n;
    uint8_t epk[32], esk[32], rx[32], tx[32];
    t0 = s_now_us();
    for (int i = 0; i < n; i++) {
        crypto_kx_keypair(epk, esk);
        if (crypto_kx_client_session_keys(rx, tx, epk, esk, b->pub.box) != 0)
            s_fail("primitive kx", PL_EAUTH);
    }
    double p_kx = (s_now_us() - t0) / n;
    t0 = s_now_us();
    for (int i = 0; i < n; i++)
        if (crypto_kx_server_session_keys(rx, tx, b->pub.box, b->sec->box, epk)
            != 0)
            s_fail("primitive kx server", PL_EAUTH);
    double p_kxs = (s_now_us() - t0) / n;
    static uint8_t plain[4096], ct[4096 + 16];
    uint8_t nonce[24] = {0};
    unsigned long long cl;
    t0 = s_now_us();
    for (int i = 0; i < n; i++) {
        nonce[0] = (uint8_t) i;
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &cl, plain, 4096, m, 100,
                                                   NULL, nonce, tx);
    }
    double p_aead = (s_now_us() - t0) / n;
    sodium_memzero(esk, sizeof esk);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);

    double total = seal + open + rsign + rverify;
    double floor_us = 3 * p_sign + 3 * p_verify + p_kx + p_kxs + 2 * p_aead;
    printf("bench_envelope: %d iterations, %d-byte messages\n", n, MSG_LEN);
    printf("  seal                 %8.1f us/op\n", seal);
    printf("  verify (outer)       %8.1f us/op\n", verify);
    printf("  open                 %8.1f us/op\n", open);
    printf("  receipt sign         %8.1f us/op\n", rsign);
    printf("  receipt verify       %8.1f us/op\n", rverify);
    printf("primitives (same run)\n");
    printf("  crypto_sign_detached %8.1f us/op\n", p_sign);
    printf("  crypto_sign_verify   %8.1f us/op\n", p_verify);
    printf("  kx keypair+client    %8.1f us/op\n", p_kx);
    printf("  kx server keys       %8.1f us/op\n", p_kxs);
    printf("  xchacha20poly1305 4K %8.1f us/op\n", p_aead);
    printf("seal+open+receipt      %8.1f us\n", total);
    printf("floor 3s+3v+kx+kxs+2ae %8.1f us\n", floor_us);
    printf("ratio                  %8.2f\n", total / floor_us);

    for (int i = 0; i < n; i++) {
        pl_wire_free(&pkts[i]);
        pl_buf_free(&packets[i]);
    }
    free(pkts);
    free(views);
    free(packets);
    pl_keys_destroy(&a);
    pl_keys_destroy(&b);
    return 0;
}
