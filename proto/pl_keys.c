// pl_keys - a node's three key pairs and their files. Layer: proto.
// Owns: libsodium key generation and the Z85 key files of DESIGN.md §9.
#include "proto/pl_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/pl_util.h"

#define S_KEYFILE_MAX 256 // longest key file we read: Z85 of 64 bytes + slack
#define S_PATH_MAX    4096

// Domain tag of key ids; changing it changes every id on the network.
static const char s_kid_tag[] = "passerelle-kid-v1";

// ---- Z85

int
pl_z85_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
    if (len == 0 || len % 4 != 0 || out_size < len * 5 / 4 + 1)
        return PL_EINVAL;
    if (!zmq_z85_encode(out, in, len))
        return PL_EINVAL;
    return PL_OK;
}

int
pl_z85_decode(uint8_t *out, size_t len, const char *text)
{
    if (!text || len == 0 || len % 4 != 0)
        return PL_EINVAL;
    size_t n = strlen(text);
    while (n > 0
           && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '
               || text[n - 1] == '\t'))
        n--;
    // the exact length first: zmq_z85_decode writes strlen*4/5 bytes
    if (n != len * 5 / 4)
        return PL_EPROTO;
    char tmp[PL_Z85_64 + 8];
    if (n >= sizeof tmp)
        return PL_EPROTO;
    memcpy(tmp, text, n);
    tmp[n] = 0;
    int rc = zmq_z85_decode(out, tmp) ? PL_OK : PL_EPROTO;
    sodium_memzero(tmp, sizeof tmp); // may be secret key text
    if (rc != PL_OK)
        sodium_memzero(out, len);
    return rc;
}

// ---- key files

int
pl_keyfile_read(const char *path, uint8_t *out, size_t len, bool secret)
{
    if (len > 64)
        return PL_EINVAL;
    // a secret is never read through a symlink someone else may point
    int fd = open(path, O_RDONLY | O_CLOEXEC | (secret ? O_NOFOLLOW : 0));
    if (fd < 0) {
        if (errno == ENOENT)
            return PL_ENOTFOUND;
        return errno == EACCES ? PL_EPERM : PL_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PL_EIO;
    }
    // the mode of the file we opened, not of whatever the path names now
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return PL_EPROTO;
    }
    if (secret && (st.st_mode & 077)) {
        close(fd);
        return PL_EPERM;
    }
    char text[S_KEYFILE_MAX];
    size_t got = 0;
    int rc = PL_OK;
    for (;;) {
        ssize_t n = read(fd, text + got, sizeof text - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = PL_EIO;
            break;
        }
        if (n == 0)
            break;
        got += (size_t) n;
        if (got == sizeof text - 1) {
            rc = PL_EPROTO; // no key file is this long
            break;
        }
    }
    close(fd);
    text[got] = 0;
    if (rc == PL_OK && strlen(text) != got)
        rc = PL_EPROTO; // embedded NUL
    if (rc == PL_OK)
        rc = pl_z85_decode(out, len, text) == PL_OK ? PL_OK : PL_EPROTO;
    sodium_memzero(text, sizeof text);
    return rc;
}

int
pl_keyfile_write(const char *path, const uint8_t *key, size_t len, bool secret,
                 bool overwrite)
{
    char text[PL_Z85_64 + 1];
    if (len > 64 || pl_z85_encode(text, sizeof text - 1, key, len) != PL_OK)
        return PL_EINVAL;
    size_t n = strlen(text);
    text[n++] = '\n';
    int rc = pl_file_write(path, text, n, secret ? 0600 : 0644, overwrite);
    sodium_memzero(text, sizeof text);
    return rc;
}

// ---- key pairs

// The six file names, in the order they are written.
static const struct {
    const char *name;
    bool secret;
} s_files[6] = {
    {"sign.secret", true}, {"sign.public", false}, {"box.secret", true},
    {"box.public", false}, {"curve.secret", true}, {"curve.public", false},
};

static int
s_keys_path(char *out, const char *home, const char *name)
{
    char dir[S_PATH_MAX];
    if (pl_path(dir, sizeof dir, home, "keys") != PL_OK)
        return PL_ETOOBIG;
    return pl_path(out, S_PATH_MAX, dir, name);
}

// Allocates an empty keys object with its secrets in guarded memory.
static pl_keys_t *
s_keys_new(void)
{
    pl_keys_t *keys = calloc(1, sizeof *keys);
    if (!keys)
        return NULL;
    keys->sec = sodium_malloc(sizeof *keys->sec);
    if (!keys->sec) {
        free(keys);
        return NULL;
    }
    sodium_memzero(keys->sec, sizeof *keys->sec);
    return keys;
}

int
pl_keys_generate(pl_keys_t **out)
{
    *out = NULL;
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    pl_keys_t *keys = s_keys_new();
    if (!keys)
        return PL_ENOMEM;
    if (crypto_sign_keypair(keys->pub.sign, keys->sec->sign) != 0
        || crypto_kx_keypair(keys->pub.box, keys->sec->box) != 0
        || crypto_box_keypair(keys->pub.curve, keys->sec->curve) != 0) {
        pl_keys_destroy(&keys);
        return PL_EIO;
    }
    sodium_mprotect_readonly(keys->sec);
    *out = keys;
    return PL_OK;
}

int
pl_keys_save(const pl_keys_t *keys, const char *home)
{
    if (!keys || !keys->sec)
        return PL_EINVAL;
    char dir[S_PATH_MAX], path[S_PATH_MAX];
    if (pl_path(dir, sizeof dir, home, "keys") != PL_OK)
        return PL_ETOOBIG;
    // keys are never overwritten: refuse before writing anything
    for (size_t i = 0; i < 6; i++) {
        if (s_keys_path(path, home, s_files[i].name) != PL_OK)
            return PL_ETOOBIG;
        if (pl_exists(path))
            return PL_EEXIST;
    }
    int rc = pl_mkdirs(dir, 0700);
    // an existing folder keeps its mode; the keys folder must be private
    if (rc == PL_OK && chmod(dir, 0700) != 0)
        rc = PL_EIO;
    const uint8_t *data[6] = {keys->sec->sign,  keys->pub.sign,
                              keys->sec->box,   keys->pub.box,
                              keys->sec->curve, keys->pub.curve};
    const size_t lens[6] = {PL_SIGN_SK_BYTES,  PL_SIGN_PK_BYTES,
                            PL_BOX_SK_BYTES,   PL_BOX_PK_BYTES,
                            PL_CURVE_SK_BYTES, PL_CURVE_PK_BYTES};
    for (size_t i = 0; rc == PL_OK && i < 6; i++) {
        rc = s_keys_path(path, home, s_files[i].name);
        if (rc == PL_OK)
            rc = pl_keyfile_write(path, data[i], lens[i], s_files[i].secret,
                                  false);
    }
    return rc;
}

int
pl_keys_load_public(const char *home, pl_pubkeys_t *out)
{
    char path[S_PATH_MAX];
    uint8_t *dst[3] = {out->sign, out->box, out->curve};
    for (size_t i = 0; i < 3; i++) {
        if (s_keys_path(path, home, s_files[2 * i + 1].name) != PL_OK)
            return PL_ETOOBIG;
        int rc = pl_keyfile_read(path, dst[i], 32, false);
        if (rc != PL_OK)
            return rc;
    }
    return PL_OK;
}

// Checks that each public key is the one its secret derives.
static bool
s_keys_match(const pl_keys_t *keys)
{
    uint8_t pk[32];
    bool ok = crypto_sign_ed25519_sk_to_pk(pk, keys->sec->sign) == 0
              && sodium_memcmp(pk, keys->pub.sign, 32) == 0;
    ok = ok && crypto_scalarmult_base(pk, keys->sec->box) == 0
         && sodium_memcmp(pk, keys->pub.box, 32) == 0;
    ok = ok && crypto_scalarmult_base(pk, keys->sec->curve) == 0
         && sodium_memcmp(pk, keys->pub.curve, 32) == 0;
    return ok;
}

int
pl_keys_load(const char *home, pl_keys_t **out)
{
    *out = NULL;
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    pl_keys_t *keys = s_keys_new();
    if (!keys)
        return PL_ENOMEM;
    uint8_t *sec[3] = {keys->sec->sign, keys->sec->box, keys->sec->curve};
    const size_t lens[3] = {PL_SIGN_SK_BYTES, PL_BOX_SK_BYTES,
                            PL_CURVE_SK_BYTES};
    char path[S_PATH_MAX];
    int rc = pl_keys_load_public(home, &keys->pub);
    for (size_t i = 0; rc == PL_OK && i < 3; i++) {
        rc = s_keys_path(path, home, s_files[2 * i].name);
        if (rc == PL_OK)
            rc = pl_keyfile_read(path, sec[i], lens[i], true);
    }
    if (rc == PL_OK && !s_keys_match(keys))
        rc = PL_EPROTO;
    if (rc != PL_OK) {
        pl_keys_destroy(&keys);
        return rc;
    }
    sodium_mprotect_readonly(keys->sec);
    *out = keys;
    return PL_OK;
}

bool
pl_keys_exist(const char *home)
{
    char path[S_PATH_MAX];
    return s_keys_path(path, home, "sign.public") == PL_OK && pl_exists(path);
}

void
pl_keys_destroy(pl_keys_t **keys_p)
{
    if (!keys_p || !*keys_p)
        return;
    pl_keys_t *keys = *keys_p;
    sodium_free(keys->sec); // wipes, whatever the page protection
    free(keys);
    *keys_p = NULL;
}

int
pl_keys_rotate_box(pl_keys_t *keys, const char *home)
{
    if (!keys || !keys->sec)
        return PL_EINVAL;
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    uint8_t id[PL_KEY_ID_BYTES];
    char hex[2 * PL_KEY_ID_BYTES + 1], name[64];
    char dir[S_PATH_MAX], old[S_PATH_MAX], path[S_PATH_MAX];
    pl_key_id(keys->pub.box, id);
    pl_hex(hex, id, sizeof id);
    int rc = s_keys_path(dir, home, "box-old");
    if (rc == PL_OK)
        rc = pl_mkdirs(dir, 0700);
    // keep the old pair first: envelopes sealed to it may still arrive
    snprintf(name, sizeof name, "%s.secret", hex);
    if (rc == PL_OK)
        rc = pl_path(old, sizeof old, dir, name);
    if (rc == PL_OK)
        rc = pl_keyfile_write(old, keys->sec->box, PL_BOX_SK_BYTES, true, true);
    snprintf(name, sizeof name, "%s.public", hex);
    if (rc == PL_OK)
        rc = pl_path(old, sizeof old, dir, name);
    if (rc == PL_OK)
        rc = pl_keyfile_write(old, keys->pub.box, PL_BOX_PK_BYTES, false, true);
    if (rc != PL_OK)
        return rc;

    uint8_t pk[PL_BOX_PK_BYTES];
    uint8_t *sk = sodium_malloc(PL_BOX_SK_BYTES);
    if (!sk)
        return PL_ENOMEM;
    rc = crypto_kx_keypair(pk, sk) == 0 ? PL_OK : PL_EIO;
    // secret before public: a crash between the two leaves a mismatch that
    // pl_keys_load reports, never a public key without its secret
    if (rc == PL_OK)
        rc = s_keys_path(path, home, "box.secret");
    if (rc == PL_OK)
        rc = pl_keyfile_write(path, sk, PL_BOX_SK_BYTES, true, true);
    if (rc == PL_OK)
        rc = s_keys_path(path, home, "box.public");
    if (rc == PL_OK)
        rc = pl_keyfile_write(path, pk, PL_BOX_PK_BYTES, false, true);
    if (rc == PL_OK) {
        sodium_mprotect_readwrite(keys->sec);
        memcpy(keys->sec->box, sk, PL_BOX_SK_BYTES);
        sodium_mprotect_readonly(keys->sec);
        memcpy(keys->pub.box, pk, PL_BOX_PK_BYTES);
    }
    sodium_free(sk);
    return rc;
}

// ---- ids

void
pl_key_id(const uint8_t box_pk[PL_BOX_PK_BYTES], uint8_t id[PL_KEY_ID_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_KEY_ID_BYTES);
    crypto_generichash_update(&st, (const uint8_t *) s_kid_tag,
                              sizeof s_kid_tag - 1);
    crypto_generichash_update(&st, box_pk, PL_BOX_PK_BYTES);
    crypto_generichash_final(&st, id, PL_KEY_ID_BYTES);
}

void
pl_key_fingerprint(const uint8_t pk[32], char out[17])
{
    // BLAKE2b-256 of the key, first 8 bytes: a log aid, not an identifier
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
    pl_hex(out, h, 8);
}
