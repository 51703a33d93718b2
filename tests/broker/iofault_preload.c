// iofault_preload - an LD_PRELOAD library for the broker's store tests:
// real system calls on LMDB's data.mdb fail the way a broken or full disk
// makes them fail. Layer: tests (built by the test itself with cc, never
// linked into a product).
//
// The file named by $PL_IOFAULT_CTL holds the mode; it is read on every
// intercepted call, so a test switches faults on and off while the
// process runs. Empty or absent: no fault.
//   sync-eio      fdatasync/fsync on data.mdb fail with EIO (the data
//                 pages of the commit were written, the sync says no)
//   meta-eio      writes on the O_DSYNC descriptor of data.mdb (LMDB's
//                 meta-page write, after the data sync) fail with EIO:
//                 LMDB then marks the environment MDB_PANIC
//   write-enospc  page writes (write/writev/pwrite/pwritev) on the other
//                 data.mdb descriptors fail with ENOSPC
//   sync-slow     fdatasync/fsync on data.mdb take one second more (a slow
//                 disk: the broker's passes slow down, its receive side
//                 falls behind)
// Only descriptors whose /proc/self/fd link ends in "/data.mdb" are
// touched: logs, sockets and the lock file never fail.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef enum {
    S_NONE,
    S_SYNC_EIO,
    S_META_EIO,
    S_WRITE_ENOSPC,
    S_SYNC_SLOW
} s_mode_t;

static s_mode_t
s_mode(void)
{
    const char *ctl = getenv("PL_IOFAULT_CTL");
    if (!ctl)
        return S_NONE;
    // raw syscalls through libc's open/read are not intercepted here
    int fd = open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return S_NONE;
    char buf[32] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return S_NONE;
    if (strncmp(buf, "sync-eio", 8) == 0)
        return S_SYNC_EIO;
    if (strncmp(buf, "meta-eio", 8) == 0)
        return S_META_EIO;
    if (strncmp(buf, "write-enospc", 12) == 0)
        return S_WRITE_ENOSPC;
    if (strncmp(buf, "sync-slow", 9) == 0)
        return S_SYNC_SLOW;
    return S_NONE;
}

static bool
s_is_data(int fd)
{
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 9)
        return false;
    target[n] = 0;
    return strcmp(target + n - 9, "/data.mdb") == 0;
}

static bool
s_is_dsync(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_DSYNC) == O_DSYNC;
}

// -1 with errno set when this write must fail, 0 otherwise
static int
s_write_fault(int fd)
{
    s_mode_t m = s_mode();
    if (m == S_NONE || m == S_SYNC_EIO || m == S_SYNC_SLOW || !s_is_data(fd))
        return 0;
    bool meta = s_is_dsync(fd);
    if (m == S_META_EIO && meta) {
        errno = EIO;
        return -1;
    }
    if (m == S_WRITE_ENOSPC && !meta) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

#define S_REAL(ret, name, ...)                                                 \
    static ret (*real)(__VA_ARGS__);                                           \
    if (!real)                                                                 \
        real = (ret(*)(__VA_ARGS__)) dlsym(RTLD_NEXT, name);

ssize_t
write(int fd, const void *buf, size_t n)
{
    S_REAL(ssize_t, "write", int, const void *, size_t);
    if (s_write_fault(fd))
        return -1;
    return real(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    S_REAL(ssize_t, "pwrite", int, const void *, size_t, off_t);
    if (s_write_fault(fd))
        return -1;
    return real(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    S_REAL(ssize_t, "pwrite64", int, const void *, size_t, off_t);
    if (s_write_fault(fd))
        return -1;
    return real(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    S_REAL(ssize_t, "writev", int, const struct iovec *, int);
    if (s_write_fault(fd))
        return -1;
    return real(fd, iov, cnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    S_REAL(ssize_t, "pwritev", int, const struct iovec *, int, off_t);
    if (s_write_fault(fd))
        return -1;
    return real(fd, iov, cnt, off);
}

static int
s_sync_fault(int fd)
{
    s_mode_t m = s_mode();
    if (m == S_SYNC_EIO && s_is_data(fd)) {
        errno = EIO;
        return -1;
    }
    if (m == S_SYNC_SLOW && s_is_data(fd)) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int
fdatasync(int fd)
{
    S_REAL(int, "fdatasync", int);
    if (s_sync_fault(fd))
        return -1;
    return real(fd);
}

int
fsync(int fd)
{
    S_REAL(int, "fsync", int);
    if (s_sync_fault(fd))
        return -1;
    return real(fd);
}
