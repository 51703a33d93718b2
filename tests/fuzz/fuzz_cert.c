// fuzz_cert - libFuzzer target for certificate files: decode + signature
// check (pl_cert_decode) and the validity check (pl_cert_check). Layer:
// tests (fuzz). Built with -fsanitize=fuzzer under PL_FUZZ=ON, and linked
// with replay.c into the ctest fuzz/cert_replay in every build.
//
// Input: 32 bytes of an authority's Ed25519 public key, then the bytes of a
// .cert file. The committed seeds (corpus/cert, made by make_seeds.sh with
// the real CLI) pair real certificates with the key that signed them, so
// the fuzzer starts past the signature. Checks on a decoded certificate:
// every text field is NUL-terminated inside its buffer, the address is
// network/name, the signer is the key given, and the same bytes under any
// other key are refused (the signature covers them). Any violation aborts.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_terminated(const char *s, size_t cap)
{
    if (memchr(s, 0, cap) == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PL_SIGN_PK_BYTES)
        return 0;
    const uint8_t *pk = data;
    const uint8_t *cert = data + PL_SIGN_PK_BYTES;
    size_t len = size - PL_SIGN_PK_BYTES;
    pl_cert_t c;
    int rc = pl_cert_decode(cert, len, pk, &c);
    if (rc != PL_OK) {
        if (rc != PL_EAUTH && rc != PL_EPROTO && rc != PL_EINVAL
            && rc != PL_ETOOBIG)
            abort(); // an error outside the documented ones
        return 0;
    }
    s_terminated(c.network, sizeof c.network);
    s_terminated(c.name, sizeof c.name);
    s_terminated(c.address, sizeof c.address);
    s_terminated(c.display_name, sizeof c.display_name);
    s_terminated(c.organisation, sizeof c.organisation);
    s_terminated(c.sector, sizeof c.sector);
    s_terminated(c.country, sizeof c.country);
    s_terminated(c.region, sizeof c.region);
    s_terminated(c.services, sizeof c.services);
    s_terminated(c.home_broker, sizeof c.home_broker);
    char want[sizeof c.address + sizeof c.name];
    snprintf(want, sizeof want, "%s/%s", c.network, c.name);
    if (strcmp(want, c.address) != 0 || !pl_sector_valid(c.sector))
        abort();
    if (memcmp(c.authority_pk, pk, PL_SIGN_PK_BYTES) != 0)
        abort();
    // validity at a few moments; only the documented answers
    const uint64_t at[] = {0, c.not_before, c.not_after, UINT64_MAX};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int v = pl_cert_check(&c, at[i], NULL);
        if (v != PL_OK && v != PL_EEXPIRED)
            abort();
    }
    // the signature covers the bytes: another authority key is refused
    uint8_t other[PL_SIGN_PK_BYTES];
    memcpy(other, pk, sizeof other);
    other[0] ^= 0x01;
    pl_cert_t c2;
    if (pl_cert_decode(cert, len, other, &c2) == PL_OK)
        abort();
    return 0;
}
