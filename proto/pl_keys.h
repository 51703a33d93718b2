// pl_keys - a node's three key pairs and their files. Layer: proto.
// Owns: libsodium key generation, Z85 key files (DESIGN.md §9 layout).
//
//   DIR/keys/sign.secret  sign.public    Ed25519 (signatures, receipts)
//   DIR/keys/box.secret   box.public     X25519 for crypto_kx (end-to-end)
//   DIR/keys/curve.secret curve.public   X25519 CurveZMQ transport
//
// Each file holds Z85 text on one line. *.secret files are mode 0600 and a
// secret readable by group or others is refused (PL_EPERM). Secret keys
// live in sodium_malloc memory (guard pages, locked, wiped on free).
// Never one key pair for two purposes; no Ed25519-to-X25519 conversion.
#ifndef PL_KEYS_H
#define PL_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_crypto.h" // pl_crypto_init, sign/verify, wipe
#include "proto/pl_err.h"

#define PL_SIGN_PK_BYTES  32 // Ed25519 public key
#define PL_SIGN_SK_BYTES  64 // Ed25519 secret key (seed || public)
#define PL_SIG_BYTES      64 // Ed25519 signature
#define PL_BOX_PK_BYTES   32 // X25519 public key (crypto_kx)
#define PL_BOX_SK_BYTES   32 // X25519 secret key
#define PL_CURVE_PK_BYTES 32 // CurveZMQ public key
#define PL_CURVE_SK_BYTES 32 // CurveZMQ secret key
#define PL_KEY_ID_BYTES   8  // id of a box key: BLAKE2b-64 of it
#define PL_Z85_32         41 // Z85 text of 32 bytes plus NUL
#define PL_Z85_64         81 // Z85 text of 64 bytes plus NUL

// The public halves; plain memory, freely copied.
typedef struct {
    uint8_t sign[PL_SIGN_PK_BYTES];   // Ed25519
    uint8_t box[PL_BOX_PK_BYTES];     // X25519 (crypto_kx)
    uint8_t curve[PL_CURVE_PK_BYTES]; // CurveZMQ
} pl_pubkeys_t;

// The secret halves; only ever in sodium_malloc memory.
typedef struct {
    uint8_t sign[PL_SIGN_SK_BYTES];   // Ed25519
    uint8_t box[PL_BOX_SK_BYTES];     // X25519 (crypto_kx)
    uint8_t curve[PL_CURVE_SK_BYTES]; // CurveZMQ
} pl_seckeys_t;

typedef struct pl_keys {
    pl_pubkeys_t pub;  // public keys
    pl_seckeys_t *sec; // sodium_malloc'd, read-only when not in use
} pl_keys_t;

// Fresh random key pairs. Caller frees with pl_keys_destroy().
PL_MUST_CHECK int pl_keys_generate(pl_keys_t **out);
// Writes DIR/keys/*.{secret,public} (folder 0700, secrets 0600).
// PL_EEXIST if a key file exists already: keys are never overwritten here.
PL_MUST_CHECK int pl_keys_save(const pl_keys_t *keys, const char *home);
// Loads all six files. PL_ENOTFOUND if missing, PL_EPERM if a secret file is
// readable by group or others, PL_EPROTO if malformed or if a public file
// does not match its secret. Caller frees with pl_keys_destroy().
PL_MUST_CHECK int pl_keys_load(const char *home, pl_keys_t **out);
// Loads only the three public files (no secret is touched).
PL_MUST_CHECK int pl_keys_load_public(const char *home, pl_pubkeys_t *out);
// true when DIR/keys/sign.public exists.
bool pl_keys_exist(const char *home);
// Wipes and frees; NULL-safe; sets *keys_p to NULL.
void pl_keys_destroy(pl_keys_t **keys_p);

// Writes a new box key pair (rotation): the old box.secret/box.public are
// kept as DIR/keys/box-old/<keyid-hex>.{secret,public}; 'keys' is updated.
PL_MUST_CHECK int pl_keys_rotate_box(pl_keys_t *keys, const char *home);

// Id of a box public key: BLAKE2b-64 keyed by nothing, over a domain tag and
// the key.
void pl_key_id(const uint8_t box_pk[PL_BOX_PK_BYTES],
               uint8_t id[PL_KEY_ID_BYTES]);
// Short printable fingerprint of any 32-byte public key for logs: the first
// 8 bytes of BLAKE2b(key) in hex (16 chars + NUL).
void pl_key_fingerprint(const uint8_t pk[32], char out[17]);

// Z85 (ZeroMQ RFC 32) text of 'len' bytes, len a multiple of 4; out must
// hold len*5/4+1 bytes.
PL_MUST_CHECK int pl_z85_encode(char *out, size_t out_size, const uint8_t *in,
                                size_t len);
// Decodes Z85 text (trailing newline/space ignored) into exactly 'len' bytes.
PL_MUST_CHECK int pl_z85_decode(uint8_t *out, size_t len, const char *text);

// Reads a one-line Z85 key file of exactly 'len' bytes. With secret=true the
// file must not be readable by group or others (PL_EPERM) and 'out' should
// be sodium_malloc memory.
PL_MUST_CHECK int pl_keyfile_read(const char *path, uint8_t *out, size_t len,
                                  bool secret);
// Writes a one-line Z85 key file; mode 0600 when secret, else 0644.
PL_MUST_CHECK int pl_keyfile_write(const char *path, const uint8_t *key,
                                   size_t len, bool secret, bool overwrite);

#endif
