// pl_faultfs - a power-loss simulator and I/O error injector for the store
// files of a real process, loaded with LD_PRELOAD. Layer: tests (faults).
//
// It interposes the calls LMDB 0.9 really makes on its data file (liblmdb.so
// imports open, pwrite, write, writev, lseek, fsync, fdatasync, ftruncate,
// close: `nm -D --undefined-only liblmdb.so.0`; mdb.c writes data pages with
// pwrite, or lseek + writev for runs of pages, and the meta page with pwrite
// through a second fd opened with O_DSYNC), plus open64/openat/pwrite64/
// pwritev so that other writers are not missed.
//
// Model. For every tracked file (a path containing one of the
// ':'-separated patterns of PL_FAULT_MATCH, default "/store/data.mdb") it
// keeps the size at the last sync and, for each 4 KiB page written since the
// last sync, the page's bytes as they were at that sync (saved once, before
// the first write to the page after a sync). fsync/fdatasync of the file
// make everything durable (pre-images dropped); a write through an O_DSYNC
// or O_SYNC fd makes its own bytes durable (they are copied into any saved
// pre-image they overlap). A "power loss" writes every pre-image back,
// truncates each file to its synced size, and SIGKILLs the process: the file
// is left as a disk that lost its unsynced page-cache writes would leave it.
//
// Environment (all optional except PL_FAULT_MATCH defaults as above):
//   PL_FAULT_MATCH=a:b      which files are tracked (substring of the path)
//   PL_FAULT_LOG=path       one line per fault event (appended)
//   PL_FAULT_ARM=path       counting starts once this file exists
//   PL_FAULT_DISARM=path    once this file exists (after the arm), no more
//                           counting, injection or slowing: the disk is
//                           healthy again, in the same process
//   PL_FAULT_CRASH=sync:N   power loss at the Nth sync (before it happens)
//   PL_FAULT_CRASH=write:N  power loss at the Nth data write (not through
//                           the O_DSYNC fd; before it happens)
//   PL_FAULT_CRASH=ms:T     power loss T ms after the arm (or the start)
//   PL_FAULT_CRASH=trigger  power loss when the file PL_FAULT_TRIGGER exists
//   PL_FAULT_NOSYNC=1       negative control: fsync/fdatasync/O_DSYNC do
//                           nothing durable, so a power loss undoes
//                           acknowledged writes
//   PL_FAULT_ERR=sync|write|meta  inject an error on the Nth fsync/fdatasync,
//                           data write (non-O_DSYNC fd) or meta write (the
//                           O_DSYNC fd)
//   PL_FAULT_ERR_AT=N       which one (1-based, counted after the arm)
//   PL_FAULT_ERR_ERRNO=EIO|ENOSPC   (default EIO)
//   PL_FAULT_ERR_COUNT=K    fail K in a row from the Nth on (default 1)
//   PL_FAULT_ERR_PERSIST=1  fail every one from the Nth on (a dead disk)
//   PL_FAULT_SLOW_SYNC_MS=T every fsync/fdatasync of a tracked file, once
//                           armed, takes T ms more (a slow disk)
// The arm and disarm files are looked at by a watcher thread and also on
// every tracked write or sync, so a fault switched on or off by a test
// applies to the very next store operation.
//
// Not modelled (see README "What Passerelle survives"): torn sectors inside
// a page, reordering inside the device cache, file-system metadata and the
// directory entry of a new file, writes through a shared writable mmap
// (MDB_WRITEMAP, which the project never uses), and sync_file_range/msync
// (passed through, never treated as durable).
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FF_PAGE   4096u
#define FF_MAXFD  4096
#define FF_FILES  16
#define FF_PATMAX 8

// exported interposers: declared here so -Wmissing-prototypes stays quiet
int open(const char *path, int flags, ...);
int open64(const char *path, int flags, ...);
int openat(int dirfd, const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...);
int close(int fd);
ssize_t write(int fd, const void *buf, size_t n);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);
ssize_t writev(int fd, const struct iovec *iov, int cnt);
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
int fsync(int fd);
int fdatasync(int fd);

typedef struct {
    uint64_t page;  // page index, UINT64_MAX = empty slot
    uint32_t len;   // bytes of the pre-image (short at the synced end)
    uint8_t *bytes; // the page as of the last sync
} ff_slot_t;

typedef struct {
    bool used;
    dev_t dev;
    ino_t ino;
    char path[PATH_MAX];
    int rfd;           // our own read-only fd (the O_DSYNC fd is write-only)
    off_t synced_size; // size at the last sync
    ff_slot_t *slots;  // open-addressed set of saved pages
    size_t cap, count; // slots allocated, pages saved
    uint64_t saved_total;
} ff_file_t;

typedef enum {
    FF_CRASH_NONE,
    FF_CRASH_SYNC,
    FF_CRASH_WRITE,
    FF_CRASH_MS,
    FF_CRASH_TRIGGER
} ff_crash_t;
typedef enum { FF_ERR_NONE, FF_ERR_SYNC, FF_ERR_WRITE, FF_ERR_META } ff_err_t;

static struct {
    pthread_mutex_t lock;
    bool ready;
    int (*open)(const char *, int, ...);
    int (*openat)(int, const char *, int, ...);
    int (*close)(int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*pwrite)(int, const void *, size_t, off_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
    int (*fsync)(int);
    int (*fdatasync)(int);
    char patterns[FF_PATMAX][256];
    int npatterns;
    char log[PATH_MAX];
    char arm[PATH_MAX];
    char disarm[PATH_MAX];
    char trigger[PATH_MAX];
    bool nosync;
    ff_crash_t crash;
    long crash_n;
    ff_err_t err;
    long err_at, err_count;
    int err_errno;
    bool err_persist;
    long slow_sync_ms;
    atomic_bool armed;
    atomic_bool disarmed;      // for good
    long syncs, writes, metas; // counted after the arm
    ff_file_t files[FF_FILES];
    ff_file_t *fd_file[FF_MAXFD];
    bool fd_dsync[FF_MAXFD];
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void *
s_sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p)
        abort();
    return p;
}

static void
s_copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = getenv(name);
    snprintf(dst, cap, "%s", v ? v : "");
}

static void s_start_watcher(void);

static void
s_init(void)
{
    S.open = s_sym("open");
    S.openat = s_sym("openat");
    S.close = s_sym("close");
    S.write = s_sym("write");
    S.pwrite = s_sym("pwrite");
    S.writev = s_sym("writev");
    S.pwritev = s_sym("pwritev");
    S.fsync = s_sym("fsync");
    S.fdatasync = s_sym("fdatasync");
    const char *m = getenv("PL_FAULT_MATCH");
    char buf[FF_PATMAX * 256];
    snprintf(buf, sizeof buf, "%s", m && *m ? m : "/store/data.mdb");
    for (char *save = NULL, *t = strtok_r(buf, ":", &save);
         t && S.npatterns < FF_PATMAX; t = strtok_r(NULL, ":", &save))
        snprintf(S.patterns[S.npatterns++], sizeof S.patterns[0], "%s", t);
    s_copy_env(S.log, sizeof S.log, "PL_FAULT_LOG");
    s_copy_env(S.arm, sizeof S.arm, "PL_FAULT_ARM");
    s_copy_env(S.disarm, sizeof S.disarm, "PL_FAULT_DISARM");
    s_copy_env(S.trigger, sizeof S.trigger, "PL_FAULT_TRIGGER");
    const char *v = getenv("PL_FAULT_NOSYNC");
    S.nosync = v && strcmp(v, "1") == 0;
    v = getenv("PL_FAULT_CRASH");
    if (v && strncmp(v, "sync:", 5) == 0) {
        S.crash = FF_CRASH_SYNC;
        S.crash_n = strtol(v + 5, NULL, 10);
    } else if (v && strncmp(v, "write:", 6) == 0) {
        S.crash = FF_CRASH_WRITE;
        S.crash_n = strtol(v + 6, NULL, 10);
    } else if (v && strncmp(v, "ms:", 3) == 0) {
        S.crash = FF_CRASH_MS;
        S.crash_n = strtol(v + 3, NULL, 10);
    } else if (v && strcmp(v, "trigger") == 0 && S.trigger[0]) {
        S.crash = FF_CRASH_TRIGGER;
    }
    v = getenv("PL_FAULT_ERR");
    if (v && strcmp(v, "sync") == 0)
        S.err = FF_ERR_SYNC;
    else if (v && strcmp(v, "write") == 0)
        S.err = FF_ERR_WRITE;
    else if (v && strcmp(v, "meta") == 0)
        S.err = FF_ERR_META;
    v = getenv("PL_FAULT_ERR_AT");
    S.err_at = v ? strtol(v, NULL, 10) : 1;
    v = getenv("PL_FAULT_ERR_COUNT");
    S.err_count = v ? strtol(v, NULL, 10) : 1;
    if (S.err_count < 1)
        S.err_count = 1;
    v = getenv("PL_FAULT_ERR_ERRNO");
    S.err_errno = v && strcmp(v, "ENOSPC") == 0 ? ENOSPC : EIO;
    v = getenv("PL_FAULT_ERR_PERSIST");
    S.err_persist = v && strcmp(v, "1") == 0;
    v = getenv("PL_FAULT_SLOW_SYNC_MS");
    S.slow_sync_ms = v ? strtol(v, NULL, 10) : 0;
    atomic_store(&S.armed, S.arm[0] == 0);
    S.ready = true;
    if (S.arm[0] || S.disarm[0] || S.crash == FF_CRASH_MS
        || S.crash == FF_CRASH_TRIGGER)
        s_start_watcher();
}

static void
s_ensure(void)
{
    pthread_once(&s_once, s_init);
}

// One line to PL_FAULT_LOG (never to the process's own stderr).
static void s_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
s_log(const char *fmt, ...)
{
    if (!S.log[0])
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "faultfs pid=%d ", (int) getpid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t) n - 1, fmt, ap);
    va_end(ap);
    if (n > (int) sizeof line - 2)
        n = (int) sizeof line - 2;
    line[n++] = '\n';
    int fd = S.open(S.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (S.write(fd, line, (size_t) n) < 0) {
        // nothing to do: the log is best effort
    }
    S.close(fd);
}

static bool
s_matches(const char *path)
{
    for (int i = 0; path && i < S.npatterns; i++)
        if (strstr(path, S.patterns[i]))
            return true;
    return false;
}

// ---- saved pages (open addressing on the page index)

static ff_slot_t *
s_slot_find(ff_file_t *f, uint64_t page)
{
    if (!f->cap)
        return NULL;
    size_t i = (size_t) (page * 0x9E3779B97F4A7C15ull) & (f->cap - 1);
    while (f->slots[i].page != UINT64_MAX) {
        if (f->slots[i].page == page)
            return &f->slots[i];
        i = (i + 1) & (f->cap - 1);
    }
    return NULL;
}

static void
s_slot_put(ff_file_t *f, uint64_t page, uint8_t *bytes, uint32_t len)
{
    if ((f->count + 1) * 2 > f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 256;
        ff_slot_t *old = f->slots;
        size_t ocap = f->cap;
        f->slots = malloc(ncap * sizeof *f->slots);
        if (!f->slots)
            abort();
        for (size_t i = 0; i < ncap; i++)
            f->slots[i].page = UINT64_MAX;
        f->cap = ncap;
        f->count = 0;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].page != UINT64_MAX)
                s_slot_put(f, old[i].page, old[i].bytes, old[i].len);
        free(old);
    }
    size_t i = (size_t) (page * 0x9E3779B97F4A7C15ull) & (f->cap - 1);
    while (f->slots[i].page != UINT64_MAX)
        i = (i + 1) & (f->cap - 1);
    f->slots[i] = (ff_slot_t){page, len, bytes};
    f->count++;
}

static void
s_slots_clear(ff_file_t *f)
{
    for (size_t i = 0; i < f->cap; i++)
        if (f->slots[i].page != UINT64_MAX) {
            free(f->slots[i].bytes);
            f->slots[i].page = UINT64_MAX;
        }
    f->count = 0;
}

// ---- file states

static ff_file_t *
s_file_for(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    ff_file_t *free_slot = NULL;
    for (int i = 0; i < FF_FILES; i++) {
        ff_file_t *f = &S.files[i];
        if (f->used && f->dev == st.st_dev && f->ino == st.st_ino)
            return f;
        if (!f->used && !free_slot)
            free_slot = f;
    }
    if (!free_slot)
        return NULL;
    free_slot->used = true;
    free_slot->dev = st.st_dev;
    free_slot->ino = st.st_ino;
    snprintf(free_slot->path, sizeof free_slot->path, "%s", path);
    free_slot->rfd = S.open(path, O_RDONLY | O_CLOEXEC);
    // what is on disk when we first see the file counts as durable
    free_slot->synced_size = st.st_size;
    return free_slot;
}

static void
s_track(int fd, const char *path, int flags)
{
    if (fd < 0 || fd >= FF_MAXFD || !s_matches(path))
        return;
    pthread_mutex_lock(&S.lock);
    ff_file_t *f = s_file_for(fd, path);
    S.fd_file[fd] = f;
    S.fd_dsync[fd] = (flags & O_DSYNC) != 0; // O_SYNC includes O_DSYNC
    if (f)
        s_log("event=track fd=%d dsync=%d size=%lld path=%s", fd,
              S.fd_dsync[fd] ? 1 : 0, (long long) f->synced_size, path);
    pthread_mutex_unlock(&S.lock);
}

static ff_file_t *
s_tracked(int fd)
{
    if (fd < 0 || fd >= FF_MAXFD || !S.ready)
        return NULL;
    return S.fd_file[fd];
}

// A thread of the process that touches the mapped file after the truncation
// below gets SIGBUS before our SIGKILL lands: it waits here for the kill.
static void
s_hold(int sig)
{
    (void) sig;
    for (;;)
        pause();
}

// ---- the power loss: every pre-image back, truncate, SIGKILL. Called with
// the lock held; never returns.
static void
s_power_loss(const char *why)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_hold;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    long pages = 0;
    int fds[FF_FILES];
    for (int i = 0; i < FF_FILES; i++) {
        ff_file_t *f = &S.files[i];
        fds[i] = -1;
        if (!f->used)
            continue;
        fds[i] = S.open(f->path, O_WRONLY | O_CLOEXEC);
        if (fds[i] < 0)
            continue;
        for (size_t k = 0; k < f->cap; k++) {
            ff_slot_t *s = &f->slots[k];
            if (s->page == UINT64_MAX)
                continue;
            if (S.pwrite(fds[i], s->bytes, s->len, (off_t) (s->page * FF_PAGE))
                != (ssize_t) s->len)
                s_log("event=restore_failed errno=%d", errno);
            pages++;
        }
    }
    s_log("event=power_loss why=%s restored_pages=%ld syncs=%ld writes=%ld "
          "metas=%ld nosync=%d",
          why, pages, S.syncs, S.writes, S.metas, S.nosync ? 1 : 0);
    // last: the size back to the last sync (readers of the map may fault)
    for (int i = 0; i < FF_FILES; i++) {
        if (fds[i] < 0)
            continue;
        if (ftruncate(fds[i], S.files[i].synced_size) != 0)
            s_log("event=truncate_failed errno=%d", errno);
        S.fsync(fds[i]);
        S.close(fds[i]);
    }
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

// ---- arming and disarming (called with the lock held)

static void
s_disarm(void)
{
    if (atomic_load(&S.disarmed))
        return;
    atomic_store(&S.disarmed, true);
    atomic_store(&S.armed, false);
    s_log("event=disarmed");
}

// Brings the armed state up to date with the arm and disarm files, so that
// a file a test just created counts for this operation already (the
// watcher alone may see it a few milliseconds late). True when armed.
static bool
s_armed_now(void)
{
    if (atomic_load(&S.disarmed))
        return false;
    if (!atomic_load(&S.armed) && S.arm[0] && access(S.arm, F_OK) == 0) {
        atomic_store(&S.armed, true);
        s_log("event=armed");
    }
    if (atomic_load(&S.armed) && S.disarm[0] && access(S.disarm, F_OK) == 0)
        s_disarm();
    return atomic_load(&S.armed);
}

// ---- the watcher thread: arm file, disarm file, trigger file, timer

static uint64_t
s_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000u + (uint64_t) t.tv_nsec / 1000000u;
}

static void *
s_watch(void *arg)
{
    (void) arg;
    uint64_t armed_at = 0; // when the watcher first saw the process armed
    for (;;) {
        struct timespec d = {0, 2 * 1000 * 1000};
        nanosleep(&d, NULL);
        pthread_mutex_lock(&S.lock);
        bool armed = s_armed_now();
        pthread_mutex_unlock(&S.lock);
        if (atomic_load(&S.disarmed))
            return NULL; // nothing more to watch
        if (!armed)
            continue;
        if (!armed_at)
            armed_at = s_ms();
        bool fire = false;
        if (S.crash == FF_CRASH_TRIGGER)
            fire = access(S.trigger, F_OK) == 0;
        else if (S.crash == FF_CRASH_MS)
            fire = s_ms() - armed_at >= (uint64_t) S.crash_n;
        if (fire) {
            pthread_mutex_lock(&S.lock);
            s_power_loss(S.crash == FF_CRASH_MS ? "timer" : "trigger");
        }
    }
    return NULL;
}

static void
s_start_watcher(void)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, s_watch, NULL) != 0)
        abort();
    pthread_attr_destroy(&a);
}

// ---- writes

// Is the nth operation of the injected kind one that fails?
static bool
s_err_due(long n)
{
    if (n < S.err_at)
        return false;
    return S.err_persist || n < S.err_at + S.err_count;
}

// Saves the pre-image of every page of [off, off+len) below the synced size
// that is not saved yet.
static void
s_save(ff_file_t *f, off_t off, size_t len)
{
    if (len == 0 || off >= f->synced_size)
        return;
    uint64_t first = (uint64_t) off / FF_PAGE;
    uint64_t last = ((uint64_t) off + len - 1) / FF_PAGE;
    for (uint64_t p = first; p <= last; p++) {
        off_t at = (off_t) (p * FF_PAGE);
        if (at >= f->synced_size)
            break;
        if (s_slot_find(f, p))
            continue;
        uint32_t n = (uint32_t) (f->synced_size - at < (off_t) FF_PAGE
                                     ? f->synced_size - at
                                     : (off_t) FF_PAGE);
        uint8_t *b = malloc(n);
        if (!b)
            abort();
        ssize_t r = pread(f->rfd, b, n, at);
        if (r < 0) {
            s_log("event=preimage_read_failed errno=%d", errno);
            abort(); // a simulator that cannot save cannot restore
        }
        if ((uint32_t) r < n)
            memset(b + r, 0, n - (size_t) r);
        s_slot_put(f, p, b, n);
        f->saved_total++;
    }
}

// A write through an O_DSYNC fd is durable: copy its bytes into the
// pre-images they overlap, extend the synced size over them.
static void
s_durable(ff_file_t *f, off_t off, const struct iovec *iov, int cnt,
          size_t done)
{
    off_t pos = off;
    for (int i = 0; i < cnt && done > 0; i++) {
        size_t n = iov[i].iov_len < done ? iov[i].iov_len : done;
        const uint8_t *src = iov[i].iov_base;
        for (size_t k = 0; k < n;) {
            uint64_t p = (uint64_t) (pos + (off_t) k) / FF_PAGE;
            size_t in = (size_t) ((uint64_t) (pos + (off_t) k) % FF_PAGE);
            size_t chunk = FF_PAGE - in < n - k ? FF_PAGE - in : n - k;
            ff_slot_t *s = s_slot_find(f, p);
            if (s && in < s->len)
                memcpy(s->bytes + in, src + k,
                       chunk < s->len - in ? chunk : s->len - in);
            k += chunk;
        }
        pos += (off_t) n;
        done -= n;
    }
    if (off <= f->synced_size && pos > f->synced_size)
        f->synced_size = pos;
}

// Common path of every write to a tracked fd; off < 0 = the file position.
static ssize_t
s_write_tracked(int fd, ff_file_t *f, const struct iovec *iov, int cnt,
                off_t off)
{
    pthread_mutex_lock(&S.lock);
    bool dsync = S.fd_dsync[fd];
    long n = 0;
    if (s_armed_now())
        n = dsync ? ++S.metas : ++S.writes;
    if (n && S.crash == FF_CRASH_WRITE && (dsync ? 0 : n) == S.crash_n)
        s_power_loss("write");
    ff_err_t kind = dsync ? FF_ERR_META : FF_ERR_WRITE;
    if (n && S.err == kind && s_err_due(n)) {
        s_log("event=inject op=%s n=%ld errno=%s", dsync ? "meta" : "write", n,
              S.err_errno == ENOSPC ? "ENOSPC" : "EIO");
        pthread_mutex_unlock(&S.lock);
        errno = S.err_errno;
        return -1;
    }
    off_t at = off >= 0 ? off : lseek(fd, 0, SEEK_CUR);
    size_t total = 0;
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    if (at >= 0)
        s_save(f, at, total);
    ssize_t r;
    if (off >= 0)
        r = cnt == 1 ? S.pwrite(fd, iov[0].iov_base, iov[0].iov_len, off)
                     : S.pwritev(fd, iov, cnt, off);
    else
        r = cnt == 1 ? S.write(fd, iov[0].iov_base, iov[0].iov_len)
                     : S.writev(fd, iov, cnt);
    int saved = errno;
    if (r > 0 && dsync && !S.nosync && at >= 0)
        s_durable(f, at, iov, cnt, (size_t) r);
    pthread_mutex_unlock(&S.lock);
    errno = saved;
    return r;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    s_ensure();
    ff_file_t *f = s_tracked(fd);
    if (!f)
        return S.write(fd, buf, n);
    struct iovec v = {(void *) buf, n};
    return s_write_tracked(fd, f, &v, 1, -1);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    s_ensure();
    ff_file_t *f = s_tracked(fd);
    if (!f)
        return S.pwrite(fd, buf, n, off);
    struct iovec v = {(void *) buf, n};
    return s_write_tracked(fd, f, &v, 1, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    s_ensure();
    ff_file_t *f = s_tracked(fd);
    if (!f || cnt < 1)
        return S.writev(fd, iov, cnt);
    return s_write_tracked(fd, f, iov, cnt, -1);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    s_ensure();
    ff_file_t *f = s_tracked(fd);
    if (!f || cnt < 1)
        return S.pwritev(fd, iov, cnt, off);
    return s_write_tracked(fd, f, iov, cnt, off);
}

// ---- syncs

static int
s_sync(int fd, bool data_only)
{
    s_ensure();
    ff_file_t *f = s_tracked(fd);
    if (!f)
        return data_only ? S.fdatasync(fd) : S.fsync(fd);
    pthread_mutex_lock(&S.lock);
    long n = s_armed_now() ? ++S.syncs : 0;
    if (n && S.crash == FF_CRASH_SYNC && n == S.crash_n)
        s_power_loss("sync");
    if (n && S.slow_sync_ms > 0) {
        // a slow disk: the sync itself waits, the lock is not held
        s_log("event=slow_sync n=%ld ms=%ld", n, S.slow_sync_ms);
        pthread_mutex_unlock(&S.lock);
        struct timespec d = {S.slow_sync_ms / 1000,
                             (S.slow_sync_ms % 1000) * 1000000L};
        nanosleep(&d, NULL);
        pthread_mutex_lock(&S.lock);
    }
    if (n && S.err == FF_ERR_SYNC && s_err_due(n)) {
        s_log("event=inject op=%s n=%ld errno=%s",
              data_only ? "fdatasync" : "fsync", n,
              S.err_errno == ENOSPC ? "ENOSPC" : "EIO");
        pthread_mutex_unlock(&S.lock);
        errno = S.err_errno;
        return -1;
    }
    if (S.nosync) {
        pthread_mutex_unlock(&S.lock);
        return 0; // the negative control: nothing becomes durable
    }
    int r = data_only ? S.fdatasync(fd) : S.fsync(fd);
    int saved = errno;
    if (r == 0) {
        s_slots_clear(f);
        struct stat st;
        if (fstat(fd, &st) == 0)
            f->synced_size = st.st_size;
    }
    pthread_mutex_unlock(&S.lock);
    errno = saved;
    return r;
}

int
fsync(int fd)
{
    return s_sync(fd, false);
}

int
fdatasync(int fd)
{
    return s_sync(fd, true);
}

// ---- opens and close

static int
s_open_flags(const char *path, int flags)
{
    // the negative control: an O_DSYNC write is no more durable than any
    if (S.nosync && s_matches(path))
        flags &= ~(O_DSYNC | O_SYNC);
    return flags;
}

static int
s_open_common(int dirfd, const char *path, int flags, mode_t mode, bool at)
{
    s_ensure();
    int real_flags = s_open_flags(path, flags);
    int fd = at ? S.openat(dirfd, path, real_flags, mode)
                : S.open(path, real_flags, mode);
    if (fd >= 0 && s_matches(path)) {
        char full[PATH_MAX];
        if (path[0] != '/' && realpath(path, full))
            path = full;
        s_track(fd, path, flags);
    }
    return fd;
}

static mode_t
s_mode(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t) va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = s_mode(flags, ap);
    va_end(ap);
    return s_open_common(AT_FDCWD, path, flags, mode, false);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = s_mode(flags, ap);
    va_end(ap);
    return s_open_common(dirfd, path, flags, mode, true);
}

// The 64-bit names are the same functions: on a 64-bit glibc off_t is
// already 64 bits and open64/openat64 take the very arguments of
// open/openat (glibc's fcntl.h declares them alike), so one interposer
// serves both names (GCC's and clang's alias attribute, same object file).
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int openat64(int dirfd, const char *path, int flags, ...)
    __attribute__((alias("openat")));

int
close(int fd)
{
    s_ensure();
    if (s_tracked(fd)) {
        pthread_mutex_lock(&S.lock);
        S.fd_file[fd] = NULL;
        S.fd_dsync[fd] = false;
        pthread_mutex_unlock(&S.lock);
    }
    return S.close(fd);
}
