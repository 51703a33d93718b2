// test_home - the home folder checks (proto/pl_home, issue 11 item 9):
// owned by the effective uid and not writable by group or others, for the
// home, keys/ (and keys/box-old/), store/, certs/, key files and
// certificates; sockets judged by owner only; the ipc path limit.
// The foreign-owner cases need root (chown to nobody); skipped otherwise.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/pl_home.h"
#include "tests/lib/pl_test.h"

#define S_NOBODY 65534 // uid of 'nobody' on Debian

typedef struct {
    char *dir; // temp folder (removed after)
    char home[512];
    char err[PATH_MAX + 256];
} fx_t;

static void
s_mkdir(const char *home, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", home, name);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(chmod(p, mode), 0); // not subject to the umask
}

static void
s_file(const char *home, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", home, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x\n", 2), 2);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void
s_chmod(const char *home, const char *name, mode_t mode)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", home, name);
    assert_int_equal(chmod(p, mode), 0);
}

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->dir = pl_test_tmpdir("home");
    snprintf(f->home, sizeof f->home, "%s/h", f->dir);
    assert_int_equal(mkdir(f->home, 0700), 0);
    // a complete, safe home: what init, enroll and a daemon leave
    s_mkdir(f->home, "keys", 0700);
    s_file(f->home, "keys/sign.secret", 0600);
    s_file(f->home, "keys/sign.public", 0644);
    s_mkdir(f->home, "keys/box-old", 0700);
    s_file(f->home, "keys/box-old/1.secret", 0600);
    s_mkdir(f->home, "store", 0700);
    s_file(f->home, "store/data.mdb", 0600);
    s_file(f->home, "node.cert", 0644);
    s_file(f->home, "authority.pub", 0644);
    s_mkdir(f->home, "certs", 0755);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    pl_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
t_good_home(void **state)
{
    fx_t *f = *state;
    assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_OK);
}

static void
t_missing(void **state)
{
    fx_t *f = *state;
    char p[PATH_MAX + 8];
    snprintf(p, sizeof p, "%s/none", f->dir);
    assert_int_equal(pl_home_check(p, f->err, sizeof f->err), PL_ENOTFOUND);
    assert_non_null(strstr(f->err, p));
}

// Each path made unsafe in turn is refused, named, and then accepted again
// once restored.
static void
t_writable(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *name;
        mode_t bad, good;
        const char *says;
    } cases[] = {
        {".", 0777, 0700, "mode 0777"},
        {".", 0770, 0700, "mode 0770"},
        {".", 0702, 0700, "mode 0702"},
        {"keys", 0720, 0700, "keys"},
        {"keys/sign.secret", 0620, 0600, "sign.secret"},
        {"keys/sign.public", 0646, 0644, "sign.public"},
        {"keys/box-old", 0777, 0700, "box-old"},
        {"keys/box-old/1.secret", 0660, 0600, "1.secret"},
        {"store", 0770, 0700, "store"},
        {"store/data.mdb", 0606, 0600, "data.mdb"},
        {"node.cert", 0664, 0644, "node.cert"},
        {"authority.pub", 0666, 0644, "authority.pub"},
        {"certs", 0775, 0755, "certs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_chmod(f->home, cases[i].name, cases[i].bad);
        f->err[0] = 0;
        int rc = pl_home_check(f->home, f->err, sizeof f->err);
        if (rc != PL_EPERM || !strstr(f->err, cases[i].says)
            || !strstr(f->err, "writable"))
            fail_msg("%s mode %o: rc %d, '%s'", cases[i].name,
                     (unsigned) cases[i].bad, rc, f->err);
        s_chmod(f->home, cases[i].name, cases[i].good);
        assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_OK);
    }
}

// A control socket is judged by its owner, not its mode bits.
static void
t_socket(void **state)
{
    fx_t *f = *state;
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path, sizeof a.sun_path, "%s/control", f->home);
    assert_true(n > 0 && (size_t) n < sizeof a.sun_path);
    assert_int_equal(bind(s, (struct sockaddr *) &a, sizeof a), 0);
    assert_int_equal(chmod(a.sun_path, 0777), 0);
    assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_OK);
    if (geteuid() == 0) {
        assert_int_equal(chown(a.sun_path, S_NOBODY, (gid_t) -1), 0);
        assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err),
                         PL_EPERM);
        assert_non_null(strstr(f->err, "control"));
        assert_non_null(strstr(f->err, "owned by another user (uid 65534"));
    }
    close(s);
}

static void
t_foreign(void **state)
{
    fx_t *f = *state;
    if (geteuid() != 0)
        skip();
    static const char *const names[] = {
        ".", "keys", "keys/sign.secret", "store", "node.cert", "certs"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", f->home, names[i]);
        assert_int_equal(chown(p, S_NOBODY, (gid_t) -1), 0);
        int rc = pl_home_check(f->home, f->err, sizeof f->err);
        if (rc != PL_EPERM
            || !strstr(f->err, "owned by another user (uid 65534"))
            fail_msg("%s owned by nobody: rc %d, '%s'", names[i], rc, f->err);
        assert_int_equal(chown(p, 0, (gid_t) -1), 0);
        assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_OK);
    }
}

// A folder above the home that others may write (without the sticky bit)
// or that another user owns lets them swap the whole home.
static void
t_parent(void **state)
{
    fx_t *f = *state;
    assert_int_equal(chmod(f->dir, 0777), 0);
    assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_EPERM);
    assert_non_null(strstr(f->err, f->dir));
    assert_non_null(strstr(f->err, "sticky"));
    assert_int_equal(chmod(f->dir, 01777), 0); // like /tmp: fine
    assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_OK);
    assert_int_equal(chmod(f->dir, 0700), 0);
    if (geteuid() == 0) {
        assert_int_equal(chown(f->dir, S_NOBODY, (gid_t) -1), 0);
        assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err),
                         PL_EPERM);
        assert_non_null(strstr(f->err, "owned by another user (uid 65534"));
        assert_int_equal(chown(f->dir, 0, (gid_t) -1), 0);
    }
    assert_int_equal(pl_home_check(f->home, f->err, sizeof f->err), PL_OK);
}

static void
t_ipc_fits(void **state)
{
    (void) state;
    // "ipc://" (6) + dir + "/control" (8) <= 107: a dir of 93 bytes fits
    char dir[128];
    memset(dir, 'a', sizeof dir);
    dir[0] = '/';
    dir[93] = 0;
    int len = 0;
    assert_true(pl_home_ipc_fits(dir, &len));
    assert_int_equal(len, 107);
    dir[93] = 'a';
    dir[94] = 0;
    assert_false(pl_home_ipc_fits(dir, &len));
    assert_int_equal(len, 108);
}

// daemon.lock: one holder at a time, its pid visible to a probe, and free
// again once released (issue 12: one owner for the lock take/probe)
static void
t_lock(void **state)
{
    fx_t *f = *state;
    bool held = true;
    long pid = 0;
    // no lock file yet: not held
    assert_int_equal(
        pl_home_lock_probe(f->home, &held, &pid, f->err, sizeof f->err), PL_OK);
    assert_false(held);
    assert_int_equal(pid, -1);

    int fd = -1;
    assert_int_equal(pl_home_lock_take(f->home, &fd, f->err, sizeof f->err),
                     PL_OK);
    assert_true(fd >= 0);
    assert_int_equal(pl_home_lock_write_pid(fd), PL_OK);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/daemon.lock", f->home);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    // a second take (another open file description) fails while held
    int fd2 = -1;
    assert_int_equal(pl_home_lock_take(f->home, &fd2, f->err, sizeof f->err),
                     PL_EEXIST);
    assert_int_equal(fd2, -1);
    assert_non_null(strstr(f->err, "daemon.lock is locked"));

    assert_int_equal(
        pl_home_lock_probe(f->home, &held, &pid, f->err, sizeof f->err), PL_OK);
    assert_true(held);
    assert_int_equal(pid, (long) getpid());

    pl_home_lock_release(&fd);
    assert_int_equal(fd, -1);
    assert_int_equal(
        pl_home_lock_probe(f->home, &held, &pid, f->err, sizeof f->err), PL_OK);
    assert_false(held);
    assert_int_equal(pid, -1);

    // free again: a new take succeeds; a holder that wrote no pid shows 0
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(pl_home_lock_take(f->home, &fd2, f->err, sizeof f->err),
                     PL_OK);
    assert_int_equal(
        pl_home_lock_probe(f->home, &held, &pid, f->err, sizeof f->err), PL_OK);
    assert_true(held);
    assert_int_equal(pid, 0);
    pl_home_lock_release(&fd2);
    pl_home_lock_release(&fd2); // safe on -1
}

static void
t_control_endpoint(void **state)
{
    (void) state;
    char dir[128];
    memset(dir, 'a', sizeof dir);
    dir[0] = '/';
    dir[93] = 0;
    char ep[PL_HOME_IPC_MAX + 1];
    assert_int_equal(pl_home_control_endpoint(dir, ep, sizeof ep), PL_OK);
    assert_int_equal(strlen(ep), 107);
    assert_int_equal(strncmp(ep, "ipc:///aaa", 10), 0);
    assert_string_equal(ep + 99, "/control");
    dir[93] = 'a';
    dir[94] = 0;
    char big[256];
    assert_int_equal(pl_home_control_endpoint(dir, big, sizeof big),
                     PL_ETOOBIG);
    assert_int_equal(pl_home_control_endpoint("/h", ep, 8), PL_ETOOBIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_good_home, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_missing, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_writable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_socket, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_foreign, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(t_parent, s_setup, s_teardown),
        cmocka_unit_test(t_ipc_fits),
        cmocka_unit_test_setup_teardown(t_lock, s_setup, s_teardown),
        cmocka_unit_test(t_control_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
