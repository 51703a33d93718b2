// pl_storever - backup before a migration, refusal of a newer store.
// Layer: proto.
#include "proto/pl_storever.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/pl_lmdb.h"
#include "proto/pl_util.h"

static int
s_fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno;
    int rc = fsync(dfd) != 0 ? errno : 0;
    close(dfd);
    return rc;
}

int
pl_storever_backup(MDB_env *env, const char *store_dir, unsigned from,
                   char *path, size_t n)
{
    int made = -1;
    for (int i = 0; i < 100 && made != 0; i++) {
        int w = i == 0 ? snprintf(path, n, "%s.bak-v%u", store_dir, from)
                       : snprintf(path, n, "%s.bak-v%u.%d", store_dir, from, i);
        if (w < 0 || (size_t) w >= n)
            return PL_ETOOBIG;
        made = mkdir(path, 0700);
        if (made != 0 && errno != EEXIST)
            return pl_lmdb_err(errno);
    }
    if (made != 0)
        return PL_EEXIST;
    char file[4200];
    if (snprintf(file, sizeof file, "%s/data.mdb", path) >= (int) sizeof file)
        return PL_ETOOBIG;
    // made 0600 here: mdb_env_copy2 would create it 0666 less the umask
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = fd < 0 ? errno : MDB_SUCCESS;
    if (rc == MDB_SUCCESS)
        rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
    if (rc == MDB_SUCCESS && fsync(fd) != 0)
        rc = errno;
    if (fd >= 0 && close(fd) != 0 && rc == MDB_SUCCESS)
        rc = errno;
    if (rc == MDB_SUCCESS)
        rc = s_fsync_dir(path);
    if (rc == MDB_SUCCESS) {
        // the folder's entry in the parent, too
        char parent[4200];
        snprintf(parent, sizeof parent, "%s", path);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
            *slash = 0;
            rc = s_fsync_dir(parent);
        }
    }
    if (rc != MDB_SUCCESS) {
        unlink(file); // no half copy is taken for a backup
        rmdir(path);
        return pl_lmdb_err(rc);
    }
    return PL_OK;
}

void
pl_storever_newer(char *err, size_t n, const char *daemon,
                  const char *store_dir, unsigned found, unsigned known)
{
    pl_errf(err, n,
            "the store in %s has format version %u, newer than this %s "
            "(%s) reads (%u at most): it was written by a newer release. "
            "Nothing was changed; run that release (or newer) on this "
            "home, or restore a backup made for this one",
            store_dir, found, daemon, PL_VERSION, known);
}
