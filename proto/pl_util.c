// pl_util - small helpers. Layer: proto.
#include "proto/pl_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PL_TEST_BUILD
// a product build: the clock is the real one, whatever the environment
static int64_t
s_offset(void)
{
    return 0;
}
#else
static int64_t
s_offset(void)
{
    static int loaded;
    static int64_t offset;
    // read once; a test sets it in the environment of the process it starts
    if (!loaded) {
        const char *v = getenv("PASSERELLE_TEST_CLOCK_OFFSET");
        offset = v ? strtoll(v, NULL, 10) : 0;
        loaded = 1;
    }
    return offset;
}
#endif

uint64_t
pl_now(void)
{
    return (uint64_t) ((int64_t) time(NULL) + s_offset());
}

uint64_t
pl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return (uint64_t) (ms + s_offset() * 1000);
}

uint64_t
pl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int
pl_buf_reserve(pl_buf_t *buf, size_t cap)
{
    if (cap <= buf->cap)
        return PL_OK;
    size_t n = buf->cap ? buf->cap : 64;
    while (n < cap)
        n *= 2;
    uint8_t *p = realloc(buf->data, n);
    if (!p)
        return PL_ENOMEM;
    buf->data = p;
    buf->cap = n;
    return PL_OK;
}

int
pl_buf_append(pl_buf_t *buf, const void *data, size_t len)
{
    if (pl_buf_reserve(buf, buf->len + len + 1) != PL_OK)
        return PL_ENOMEM;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = 0; // always NUL terminated for text use
    return PL_OK;
}

void
pl_buf_free(pl_buf_t *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}

void
pl_buf_wipe(pl_buf_t *buf)
{
    if (buf->data)
        sodium_memzero(buf->data, buf->cap);
    pl_buf_free(buf);
}

int
pl_file_read(const char *path, size_t max, pl_buf_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? PL_ENOTFOUND : PL_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return PL_EIO;
    }
    if ((size_t) st.st_size > max) {
        close(fd);
        return PL_ETOOBIG;
    }
    int rc = pl_buf_reserve(out, (size_t) st.st_size + 1);
    while (rc == PL_OK) {
        if (out->len + 1 >= out->cap && pl_buf_reserve(out, out->cap * 2))
            rc = PL_ENOMEM;
        if (rc != PL_OK)
            break;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = PL_EIO;
        else if (n == 0)
            break;
        else
            out->len += (size_t) n;
        if (out->len > max)
            rc = PL_ETOOBIG;
    }
    close(fd);
    if (rc != PL_OK) {
        pl_buf_wipe(out);
        return rc;
    }
    out->data[out->len] = 0;
    return PL_OK;
}

static int
s_fsync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return PL_EIO;
    int rc = fsync(fd) == 0 ? PL_OK : PL_EIO;
    close(fd);
    return rc;
}

int
pl_file_write(const char *path, const void *data, size_t len, unsigned mode,
              bool overwrite)
{
    if (!overwrite && pl_exists(path))
        return PL_EEXIST;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long) getpid())
        >= (int) sizeof tmp)
        return PL_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return PL_EIO;
    // the mode given to open() is masked by umask: set it exactly
    int rc = fchmod(fd, mode) == 0 ? PL_OK : PL_EIO;
    const uint8_t *p = data;
    size_t left = len;
    while (rc == PL_OK && left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = PL_EIO;
            break;
        }
        p += n;
        left -= (size_t) n;
    }
    if (rc == PL_OK && fsync(fd) != 0)
        rc = PL_EIO;
    close(fd);
    if (rc == PL_OK && rename(tmp, path) != 0)
        rc = PL_EIO;
    if (rc != PL_OK) {
        unlink(tmp);
        return rc;
    }
    return s_fsync_dir(path);
}

int
pl_mkdirs(const char *path, unsigned mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int) sizeof buf)
        return PL_ETOOBIG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return PL_EIO;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return PL_EIO;
    return PL_OK;
}

bool
pl_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int
pl_path(char *out, size_t n, const char *a, const char *b)
{
    int w = snprintf(out, n, "%s/%s", a, b);
    return (w < 0 || (size_t) w >= n) ? PL_ETOOBIG : PL_OK;
}

void
pl_hex(char *out, const uint8_t *in, size_t len)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * len] = 0;
}

static int
s_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
pl_unhex(uint8_t *out, size_t len, const char *hex)
{
    if (!hex || strlen(hex) != 2 * len)
        return PL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int hi = s_nibble(hex[2 * i]), lo = s_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return PL_EINVAL;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return PL_OK;
}

void
pl_time_fmt(char *out, uint64_t t)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
pl_date_parse(const char *text, uint64_t *t)
{
    int y, m, d;
    char tail;
    if (!text || strlen(text) != 10
        || sscanf(text, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return PL_EINVAL;
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31)
        return PL_EINVAL;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t tt = timegm(&tm);
    struct tm back;
    gmtime_r(&tt, &back);
    // timegm normalises 2026-02-31 into March: refuse such dates
    if (back.tm_mday != d || back.tm_mon != m - 1)
        return PL_EINVAL;
    *t = (uint64_t) (int64_t) tt;
    return PL_OK;
}

void
pl_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) v;
        v >>= 8;
    }
}

uint64_t
pl_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

bool
pl_slug_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > PL_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

bool
pl_address_valid(const char *s)
{
    if (!s || strlen(s) > PL_ADDRESS_MAX)
        return false;
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/'))
        return false;
    char net[PL_NAME_MAX + 2];
    size_t n = (size_t) (slash - s);
    if (n > PL_NAME_MAX)
        return false;
    memcpy(net, s, n);
    net[n] = 0;
    return pl_slug_valid(net) && pl_slug_valid(slash + 1);
}

void
pl_errf(char *err, size_t n, const char *fmt, ...)
{
    if (!err || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}
