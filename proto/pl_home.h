// pl_home - is a home folder safe to use? One check for `init`, the CLI,
// the node daemon and the broker (issue 11, item 9). Layer: proto.
//
// A home (and its keys/, store/, certs/ folders, its key files, its
// certificates and its control socket) that another user can write to, or
// that another user owns, lets that user swap a key, a certificate or the
// control socket and read what the next command sends. Such a home is
// refused, with one line naming the path, what is wrong and the fix:
//   - owned by a uid other than the effective uid, or
//   - group- or other-writable (mode & 022).
// Every folder above the home must be owned by root or the effective uid,
// and if group- or other-writable carry the sticky bit (/tmp is fine).
// Readability of *.secret files stays the daemons' own check (0600).
#ifndef PL_HOME_H
#define PL_HOME_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/pl_err.h"

// "ipc://DIR/control" must fit the ipc limit (sun_path): at most 107 bytes.
#define PL_HOME_IPC_MAX 107

// Checks one existing path (folder or file, symlinks followed): owned by
// the effective uid and not writable by group or others. PL_OK, PL_EPERM
// (unsafe: 'err' says why) or PL_ENOTFOUND / PL_EIO (cannot stat: 'err'
// says why, "permission denied" included).
PL_MUST_CHECK int pl_home_check_path(const char *path, char *err,
                                     size_t err_size);

// Checks the home folder 'home', the folders above it and, when present,
// keys/ (and every file in it, keys/box-old/ too), store/ (and its files),
// certs/, node.cert, authority.pub, broker.cert, revoked, daemon.lock and
// control. PL_OK, or the first problem as pl_home_check_path returns it.
// A missing home is PL_ENOTFOUND.
PL_MUST_CHECK int pl_home_check(const char *home, char *err, size_t err_size);

// Whether "ipc://<dir>/control" fits PL_HOME_IPC_MAX; 'dir' should be the
// realpath of the home. Writes the endpoint length to *len (may be NULL).
int pl_home_ipc_fits(const char *dir, int *len);

// "ipc://<home>/control" into out (size 'size'); 'home' should be the
// realpath of the home. PL_ETOOBIG when it does not fit 'size' or is
// longer than PL_HOME_IPC_MAX bytes.
PL_MUST_CHECK int pl_home_control_endpoint(const char *home, char *out,
                                           size_t size);

// Takes HOME/daemon.lock (created 0600 if missing): flock LOCK_EX|LOCK_NB.
// PL_OK with the fd in *fd
// (keep it open while the lock is needed; pl_home_lock_release); PL_EIO
// when it cannot be opened (err: "cannot open PATH: why"); PL_EEXIST when
// it cannot be locked: errno EWOULDBLOCK when another process holds it
// (err: "PATH is locked"), else err "cannot lock PATH: why".
PL_MUST_CHECK int pl_home_lock_take(const char *home, int *fd, char *err,
                                    size_t err_size);

// A daemon, once it holds the lock: writes its pid ("PID\n") in the lock
// file, so that a CLI waiting for an answer can tell the daemon it asked
// was replaced. PL_OK or PL_EIO.
PL_MUST_CHECK int pl_home_lock_write_pid(int fd);

// Releases a lock from pl_home_lock_take and sets *fd to -1; safe on -1.
void pl_home_lock_release(int *fd);

// Whether some process holds HOME/daemon.lock. PL_OK with *held and *pid
// (the pid written in the file, 0 when none is written yet; -1 when not
// held). A missing lock file is "not held". PL_EIO when it cannot be opened
// (err: "cannot open HOME/daemon.lock: why", errno kept).
PL_MUST_CHECK int pl_home_lock_probe(const char *home, bool *held, long *pid,
                                     char *err, size_t err_size);

#endif
