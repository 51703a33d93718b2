// pl_home - is a home folder safe to use? Layer: proto.
#include "proto/pl_home.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/pl_util.h"

int
pl_home_check_path(const char *path, char *err, size_t err_size)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        if (e == EACCES)
            pl_errf(err, err_size,
                    "%s: permission denied (this user, uid %u, may not reach "
                    "it: run the command as the home's owner)",
                    path, (unsigned) geteuid());
        else
            pl_errf(err, err_size, "%s: %s", path, strerror(e));
        return e == ENOENT ? PL_ENOTFOUND : PL_EIO;
    }
    uid_t me = geteuid();
    if (st.st_uid != me) {
        bool denied =
            access(path, S_ISDIR(st.st_mode) ? R_OK | X_OK : R_OK) != 0;
        pl_errf(err, err_size,
                "refusing %s: it is owned by another user (uid %u; this user "
                "is uid %u)%s; run the command as its owner (or chown it)",
                path, (unsigned) st.st_uid, (unsigned) me,
                denied ? ", permission denied" : "");
        return PL_EPERM;
    }
    if (!S_ISSOCK(st.st_mode) && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        pl_errf(err, err_size,
                "refusing %s: it is writable by group or others (mode %04o): "
                "another user could replace what it holds; run chmod go-w %s",
                path, (unsigned) (st.st_mode & 07777), path);
        return PL_EPERM;
    }
    return PL_OK;
}

// Checks 'dir/name' when it exists (PL_OK when it does not).
static int
s_check_if(const char *dir, const char *name, char *err, size_t n)
{
    char p[PATH_MAX];
    int len = snprintf(p, sizeof p, "%s/%s", dir, name);
    if (len < 0 || (size_t) len >= sizeof p) {
        pl_errf(err, n, "%s/%s: path too long", dir, name);
        return PL_ETOOBIG;
    }
    int rc = pl_home_check_path(p, err, n);
    return rc == PL_ENOTFOUND ? PL_OK : rc;
}

// Checks folder 'dir/name' and every entry directly in it, when it exists;
// 'sub' (may be NULL) names one subfolder checked the same way.
static int
s_check_tree(const char *dir, const char *name, const char *sub, char *err,
             size_t n)
{
    char p[PATH_MAX];
    int len = snprintf(p, sizeof p, "%s/%s", dir, name);
    if (len < 0 || (size_t) len >= sizeof p) {
        pl_errf(err, n, "%s/%s: path too long", dir, name);
        return PL_ETOOBIG;
    }
    int rc = pl_home_check_path(p, err, n);
    if (rc != PL_OK)
        return rc == PL_ENOTFOUND ? PL_OK : rc;
    DIR *d = opendir(p);
    if (!d) {
        pl_errf(err, n, "%s: %s", p,
                errno == EACCES ? "permission denied" : strerror(errno));
        return errno == EACCES ? PL_EPERM : PL_EIO;
    }
    struct dirent *e;
    rc = PL_OK;
    while (rc == PL_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (sub && !strcmp(e->d_name, sub))
            rc = s_check_tree(p, sub, NULL, err, n);
        else
            rc = s_check_if(p, e->d_name, err, n);
    }
    closedir(d);
    return rc;
}

// Every folder above 'home' (realpath) must be owned by root or by us and,
// when group or others may write to it, carry the sticky bit (as /tmp
// does): otherwise another user could rename the home away and put her
// own in its place (the rule ssh applies to ~/.ssh with StrictModes).
static int
s_check_parents(const char *home, char *err, size_t n)
{
    char p[PATH_MAX];
    if (!realpath(home, p)) {
        pl_errf(err, n, "%s: %s", home, strerror(errno));
        return PL_EIO;
    }
    uid_t me = geteuid();
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash)
            return PL_OK;
        if (slash == p) {
            if (!p[1])
                return PL_OK; // "/" done
            p[1] = 0;         // the root folder itself, last
        } else {
            *slash = 0;
        }
        struct stat st;
        if (stat(p, &st) != 0) {
            pl_errf(err, n, "%s: %s", p, strerror(errno));
            return PL_EIO;
        }
        if (st.st_uid != 0 && st.st_uid != me) {
            pl_errf(err, n,
                    "refusing %s: the folder %s above it is owned by another "
                    "user (uid %u; neither root nor this user, uid %u), who "
                    "could replace the home; move the home elsewhere",
                    home, p, (unsigned) st.st_uid, (unsigned) me);
            return PL_EPERM;
        }
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
            pl_errf(err, n,
                    "refusing %s: the folder %s above it is writable by group "
                    "or others without the sticky bit (mode %04o), so another "
                    "user could replace the home; run chmod go-w %s",
                    home, p, (unsigned) (st.st_mode & 07777), p);
            return PL_EPERM;
        }
    }
}

int
pl_home_check(const char *home, char *err, size_t err_size)
{
    if (!home || !home[0]) {
        pl_errf(err, err_size, "no home folder given");
        return PL_EINVAL;
    }
    int rc = pl_home_check_path(home, err, err_size);
    if (rc != PL_OK)
        return rc;
    struct stat st;
    if (stat(home, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pl_errf(err, err_size, "%s is not a folder", home);
        return PL_EINVAL;
    }
    rc = s_check_parents(home, err, err_size);
    if (rc != PL_OK)
        return rc;
    static const char *const files[] = {
        "node.cert",   "authority.pub", "broker.cert", "revoked",
        "daemon.lock", "control",       "certs",
    };
    for (size_t i = 0; rc == PL_OK && i < sizeof files / sizeof *files; i++)
        rc = s_check_if(home, files[i], err, err_size);
    if (rc == PL_OK)
        rc = s_check_tree(home, "keys", "box-old", err, err_size);
    if (rc == PL_OK)
        rc = s_check_tree(home, "store", NULL, err, err_size);
    return rc;
}

int
pl_home_ipc_fits(const char *dir, int *len)
{
    int n = snprintf(NULL, 0, "ipc://%s/control", dir);
    if (len)
        *len = n;
    return n >= 0 && n <= PL_HOME_IPC_MAX;
}

int
pl_home_control_endpoint(const char *home, char *out, size_t size)
{
    int n = snprintf(out, size, "ipc://%s/control", home);
    if (n < 0 || (size_t) n >= size || n > PL_HOME_IPC_MAX)
        return PL_ETOOBIG;
    return PL_OK;
}

int
pl_home_lock_take(const char *home, int *fd, char *err, size_t err_size)
{
    *fd = -1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/daemon.lock", home);
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) {
        pl_errf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return PL_EIO;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            pl_errf(err, err_size, "%s is locked", path);
        else
            pl_errf(err, err_size, "cannot lock %s: %s", path, strerror(e));
        close(lfd);
        errno = e;
        return PL_EEXIST;
    }
    *fd = lfd;
    return PL_OK;
}

int
pl_home_lock_write_pid(int fd)
{
    if (ftruncate(fd, 0) != 0)
        return PL_EIO;
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long) getpid());
    return pwrite(fd, pid, (size_t) n, 0) == n ? PL_OK : PL_EIO;
}

void
pl_home_lock_release(int *fd)
{
    if (*fd >= 0) {
        flock(*fd, LOCK_UN);
        close(*fd);
    }
    *fd = -1;
}

int
pl_home_lock_probe(const char *home, bool *held, long *pid, char *err,
                   size_t err_size)
{
    *held = false;
    *pid = -1;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/daemon.lock", home);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return PL_OK; // never started here
        int e = errno;
        pl_errf(err, err_size, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return PL_EIO;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            char buf[32] = {0};
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            *held = true;
            *pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        }
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
    return PL_OK;
}
