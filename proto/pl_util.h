// pl_util - small helpers every layer uses: clock, byte buffers, files,
// hex, addresses, times as text. Layer: proto. No third-party library.
#ifndef PL_UTIL_H
#define PL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

// ---- clock
// Unix seconds now. Tests move the clock with the environment variable
// PASSERELLE_TEST_CLOCK_OFFSET (signed seconds added to the real clock),
// read once per process; it exists so that expiry, grace periods and
// overdue rules are tested without sleeping. Only a test build
// (-DPL_TEST_BUILD=ON) reads it; a product build ignores it.
uint64_t pl_now(void);
// Milliseconds now (same offset), for latencies.
uint64_t pl_now_ms(void);
// Monotonic milliseconds, for timeouts inside one process.
uint64_t pl_mono_ms(void);

// ---- growable byte buffer; 'data' is malloc'd and owned by the buffer
typedef struct {
    uint8_t *data; // NULL when empty
    size_t len;    // bytes used
    size_t cap;    // bytes allocated
} pl_buf_t;

PL_MUST_CHECK int pl_buf_reserve(pl_buf_t *buf, size_t cap);
PL_MUST_CHECK int pl_buf_append(pl_buf_t *buf, const void *data, size_t len);
// Frees the data and zeroes the struct; safe on a zeroed buffer.
void pl_buf_free(pl_buf_t *buf);
// As pl_buf_free, wiping the bytes first (for plaintext and secrets).
void pl_buf_wipe(pl_buf_t *buf);

// ---- files
// Reads a whole file of at most 'max' bytes into a fresh buffer (NUL
// terminated beyond len). PL_ENOTFOUND if missing, PL_ETOOBIG if larger.
PL_MUST_CHECK int pl_file_read(const char *path, size_t max, pl_buf_t *out);
// Writes atomically (temp file, fsync, rename, fsync of the folder) with
// 'mode' (e.g. 0600 for secrets). Refuses to overwrite when !overwrite.
PL_MUST_CHECK int pl_file_write(const char *path, const void *data, size_t len,
                                unsigned mode, bool overwrite);
// mkdir -p with 'mode' for created folders.
PL_MUST_CHECK int pl_mkdirs(const char *path, unsigned mode);
// true when 'path' exists.
bool pl_exists(const char *path);
// Joins 'a' and 'b' with '/', into out (size n). PL_ETOOBIG if it does not fit.
PL_MUST_CHECK int pl_path(char *out, size_t n, const char *a, const char *b);

// ---- text
// Lower-case hex of 'len' bytes into 'out' (at least 2*len+1 bytes).
void pl_hex(char *out, const uint8_t *in, size_t len);
// Parses exactly 'len' bytes of hex. PL_EINVAL on anything else.
PL_MUST_CHECK int pl_unhex(uint8_t *out, size_t len, const char *hex);
// RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes).
void pl_time_fmt(char *out, uint64_t t);
// Parses "YYYY-MM-DD" (midnight UTC). PL_EINVAL when not a real date.
PL_MUST_CHECK int pl_date_parse(const char *text, uint64_t *t);

// Formats an error message into err (size n); does nothing when err is
// NULL or n is 0. The one vsnprintf helper for "char *err, size_t n" APIs.
void pl_errf(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// ---- big-endian integers (stored keys sort by them; signed layouts)
void pl_be64_put(uint8_t out[8], uint64_t v);
uint64_t pl_be64_get(const uint8_t in[8]);

// ---- names
#define PL_NAME_MAX    63  // a network or node name
#define PL_ADDRESS_MAX 127 // network/name
// A slug: 1..63 of [a-z0-9-], not starting or ending with '-'.
bool pl_slug_valid(const char *s);
// A full address "network/name" with two valid slugs.
bool pl_address_valid(const char *s);

#endif
