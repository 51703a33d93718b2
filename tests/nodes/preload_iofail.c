// preload_iofail - an LD_PRELOAD library for the node tests: makes writes
// or syncs of an LMDB data file (a path ending in "/data.mdb") fail while
// a trigger file exists, so that a test can turn a fault on and off at a
// chosen moment in a real process. Layer: tests (never linked into the
// product).
//
//   PL_IOFAIL_TRIGGER=PATH  faults are active while PATH exists
//   PL_IOFAIL_MODE=MODE     meta   pwrite of the two meta pages (offsets
//                                  below 2 pages) fails with EIO: LMDB's
//                                  meta-page write at the end of a commit
//                           sync   fdatasync/fsync of the file fail (EIO)
//                           data   page writes (pwrite past the meta
//                                  pages, writev) fail with EIO
//                           enospc page writes fail with ENOSPC (a full
//                                  disk: LMDB aborts the commit, the
//                                  environment stays usable)
//
// LMDB 0.9 writes dirty pages with pwrite (one page run) or lseek+writev
// (several), syncs with fdatasync, then writes the meta page with pwrite
// on a second descriptor opened O_DSYNC (mdb_txn_commit,
// mdb_env_write_meta). Every intercepted call is counted in the file
// PL_IOFAIL_TRIGGER.hits (one byte per injected fault) so a test can tell
// that the fault really fired.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_META_END (2 * 4096) // LMDB's two meta pages (4 KiB pages)

typedef ssize_t (*s_pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*s_writev_fn)(int, const struct iovec *, int);
typedef int (*s_sync_fn)(int);

// Is 'fd' an LMDB data file?
static int
s_is_data(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 9)
        return 0;
    path[n] = 0;
    return strcmp(path + n - 9, "/data.mdb") == 0;
}

// The active mode ("" when no fault is on).
static const char *
s_mode(void)
{
    const char *trigger = getenv("PL_IOFAIL_TRIGGER");
    const char *mode = getenv("PL_IOFAIL_MODE");
    if (!trigger || !mode || access(trigger, F_OK) != 0)
        return "";
    return mode;
}

// Notes one injected fault (a byte appended to TRIGGER.hits).
static void
s_hit(void)
{
    const char *trigger = getenv("PL_IOFAIL_TRIGGER");
    char path[4096];
    snprintf(path, sizeof path, "%s.hits", trigger);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1) {
        }
        close(fd);
    }
}

// The error a write at 'off' gets, or 0.
static int
s_write_fault(int fd, off_t off)
{
    const char *m = s_mode();
    if (!*m || !s_is_data(fd))
        return 0;
    int meta = off < S_META_END;
    int e = 0;
    if (strcmp(m, "meta") == 0 && meta)
        e = EIO;
    else if (strcmp(m, "data") == 0 && !meta)
        e = EIO;
    else if (strcmp(m, "enospc") == 0 && !meta)
        e = ENOSPC;
    if (e)
        s_hit();
    return e;
}

static int
s_sync_fault(int fd)
{
    const char *m = s_mode();
    if (strcmp(m, "sync") != 0 || !s_is_data(fd))
        return 0;
    s_hit();
    return EIO;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static s_pwrite_fn real;
    if (!real)
        real = (s_pwrite_fn) dlsym(RTLD_NEXT, "pwrite");
    int e = s_write_fault(fd, off);
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    static s_pwrite_fn real;
    if (!real)
        real = (s_pwrite_fn) dlsym(RTLD_NEXT, "pwrite64");
    int e = s_write_fault(fd, off);
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
    static s_writev_fn real;
    if (!real)
        real = (s_writev_fn) dlsym(RTLD_NEXT, "writev");
    int e = s_write_fault(fd, lseek(fd, 0, SEEK_CUR)); // LMDB seeks first
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd, iov, n);
}

int
fdatasync(int fd)
{
    static s_sync_fn real;
    if (!real)
        real = (s_sync_fn) dlsym(RTLD_NEXT, "fdatasync");
    int e = s_sync_fault(fd);
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}

int
fsync(int fd)
{
    static s_sync_fn real;
    if (!real)
        real = (s_sync_fn) dlsym(RTLD_NEXT, "fsync");
    int e = s_sync_fault(fd);
    if (e) {
        errno = e;
        return -1;
    }
    return real(fd);
}
