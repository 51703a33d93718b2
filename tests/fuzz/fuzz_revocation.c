// fuzz_revocation - libFuzzer target for revocation-list files: decode +
// signature check (pl_revlist_decode), lookups and the only-newer
// replacement rule (pl_revlist_replace). Layer: tests (fuzz). Built with
// -fsanitize=fuzzer under PL_FUZZ=ON, and linked with replay.c into the
// ctest fuzz/revocation_replay in every build.
//
// Input: 32 bytes of an authority's Ed25519 public key, then the bytes of a
// `revoked` file. The committed seeds (corpus/revocation, made by
// make_seeds.sh with the real CLI) pair real lists with their signer's key.
// Checks on a decoded list: serials sorted ascending, each one found by
// pl_revlist_contains, the raw bytes kept are the input, the network code
// terminated, a list never replaces itself (same number), and another key
// is refused. Any violation aborts.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < PL_SIGN_PK_BYTES)
        return 0;
    const uint8_t *pk = data;
    const uint8_t *body = data + PL_SIGN_PK_BYTES;
    size_t len = size - PL_SIGN_PK_BYTES;
    pl_revlist_t l;
    memset(&l, 0, sizeof l);
    int rc = pl_revlist_decode(body, len, pk, &l);
    if (rc != PL_OK) {
        if (rc != PL_EAUTH && rc != PL_EPROTO && rc != PL_EINVAL
            && rc != PL_ETOOBIG && rc != PL_ENOMEM)
            abort();
        pl_revlist_free(&l);
        return 0;
    }
    if (memchr(l.network, 0, sizeof l.network) == NULL)
        abort();
    if (l.raw.len != len || (len && memcmp(l.raw.data, body, len) != 0))
        abort();
    for (size_t i = 0; i < l.count; i++) {
        if (i && l.serials[i - 1] >= l.serials[i])
            abort(); // sorted ascending, no repeats
        if (!pl_revlist_contains(&l, l.serials[i]))
            abort();
    }
    // the same number never replaces a list
    pl_revlist_t again;
    memset(&again, 0, sizeof again);
    if (pl_revlist_decode(body, len, pk, &again) != PL_OK)
        abort(); // decoding is deterministic
    if (pl_revlist_replace(&l, &again) == PL_OK)
        abort();
    pl_revlist_free(&again);
    // another key is refused
    uint8_t other[PL_SIGN_PK_BYTES];
    memcpy(other, pk, sizeof other);
    other[0] ^= 0x01;
    pl_revlist_t bad;
    memset(&bad, 0, sizeof bad);
    if (pl_revlist_decode(body, len, other, &bad) == PL_OK)
        abort();
    pl_revlist_free(&bad);
    pl_revlist_free(&l);
    return 0;
}
