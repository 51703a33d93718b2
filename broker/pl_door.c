// pl_door - the broker's TCP door under a descriptor budget. Layer: broker.
#include "broker/pl_door.h"

#include <dirent.h>
#include <errno.h>
#include <linux/filter.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/pl_util.h"

#define S_MONITOR_EP  "inproc://pl-door-monitor"
#define S_RESERVE_MIN 256  // descriptors kept for control, LMDB, reload
#define S_RESERVE_MAX 4096 // (limit / 8 between these bounds)
#define S_COUNT_MS    100  // recount this often while connections come and go
#define S_QUIET_MS                                                             \
    5000                  // and this often when none did (issue 20: a
                          // readdir of thousands of descriptors 10 times
                          // a second was most of an idle broker's CPU)
#define S_EVENTS_MAX 4096 // monitor events read per tick

struct pl_door {
    void *router;        // borrowed
    void *monitor;       // PAIR reading the router's socket events (the
                         // watcher thread's only, once it runs)
    int listen_fd;       // our listening socket (owned by libzmq once bound)
    size_t limit;        // soft RLIMIT_NOFILE after raising it
    size_t reserve;      // descriptors never given to TCP peers
    _Atomic size_t fds;  // open descriptors at the last count
    uint64_t counted;    // monotonic ms of the last count (watcher's)
    size_t since;        // connections accepted since that count
    bool changed;        // connections came or went since that count
    _Atomic bool closed; // the drop-everything filter is attached
    _Atomic bool stop;   // asks the watcher to end
    pthread_t watcher;   // reacts to every accept as it happens
    bool watching;       // the watcher was started
    pl_log_t *log;       // borrowed (stdio locks each line)
};

static void *s_watch(void *arg);

// open descriptors of this process (the directory's own one not counted);
// SIZE_MAX when they cannot be counted (e.g. no descriptor left for it)
static size_t
s_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return SIZE_MAX;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

static void
s_raise_limit(pl_door_t *self)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        self->limit = 1024;
        return;
    }
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    // select()-free code: no FD_SETSIZE cap; keep the figure sane anyway
    uint64_t lim = rl.rlim_cur == RLIM_INFINITY ? ((uint64_t) 1 << 20)
                                                : (uint64_t) rl.rlim_cur;
    self->limit = (size_t) lim;
    size_t r = self->limit / 8;
    r = r < S_RESERVE_MIN   ? S_RESERVE_MIN
        : r > S_RESERVE_MAX ? S_RESERVE_MAX
                            : r;
    // a tiny limit: a quarter of it, so the door can still open
    self->reserve = r > self->limit / 4 ? self->limit / 4 : r;
    pl_log_info(self->log,
                "fd_limit soft_before=%llu soft=%zu hard=%llu reserve=%zu",
                (unsigned long long) before, self->limit,
                (unsigned long long) rl.rlim_max, self->reserve);
}

// a listening socket for tcp://HOST:PORT with 'backlog', or -1 (not tcp,
// or it failed: errno set, 0 for "not tcp")
static int
s_listen(const char *endpoint, int backlog)
{
    if (strncmp(endpoint, "tcp://", 6) != 0) {
        errno = 0;
        return -1;
    }
    char host[512];
    snprintf(host, sizeof host, "%s", endpoint + 6);
    char *colon = strrchr(host, ':');
    if (!colon || colon == host) {
        errno = EINVAL;
        return -1;
    }
    *colon = 0;
    const char *port = colon + 1;
    char *h = host;
    size_t hl = strlen(h);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { // [v6]
        h[hl - 1] = 0;
        h++;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    // as libzmq without ZMQ_IPV6: IPv4, unless the host is an IPv6 literal
    hints.ai_family = strchr(h, ':') ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    bool any = strcmp(h, "*") == 0;
    if (getaddrinfo(any ? NULL : h, port, &hints, &res) != 0 || !res) {
        errno = EINVAL;
        return -1;
    }
    int fd =
        socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int rc = fd < 0
                 ? -1
                 : setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rc == 0)
        rc = bind(fd, res->ai_addr, res->ai_addrlen);
    if (rc == 0)
        rc = listen(fd, backlog);
    int saved = errno;
    freeaddrinfo(res);
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

pl_door_t *
pl_door_open(void *ctx, void *router, const char *endpoint, size_t enrolled,
             pl_log_t *log)
{
    pl_door_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->router = router;
    self->listen_fd = -1;
    self->log = log;
    s_raise_limit(self);
    // the backlog stays below the reserve (connections the kernel accepts
    // after the door closes) but is large enough for a crowd: thousands of
    // nodes reconnecting to a restarted broker overflowed 64, and each
    // dropped SYN waits for its retransmission (1 s, 3 s, 7 s, 15 s ...)
    int fd = s_listen(endpoint, (int) (self->reserve / 2));
    if (fd < 0 && errno != 0) {
        pl_log_error(log, "start_failed reason=\"bind %s: %s\"", endpoint,
                     strerror(errno));
        free(self);
        return NULL;
    }
    if (fd >= 0) {
        // libzmq takes this descriptor instead of making its own (and
        // closes it with the socket); the endpoint string is not re-bound
        if (zmq_setsockopt(router, ZMQ_USE_FD, &fd, sizeof fd) != 0) {
            close(fd);
            fd = -1;
        }
    }
    int rc = zmq_bind(router, endpoint);
    int none = -1;
    zmq_setsockopt(router, ZMQ_USE_FD, &none, sizeof none);
    if (rc != 0) {
        pl_log_error(log, "start_failed reason=\"bind %s: %s\"", endpoint,
                     zmq_strerror(errno));
        if (fd >= 0)
            close(fd);
        free(self);
        return NULL;
    }
    self->listen_fd = fd;
    if (fd >= 0) {
        int ev = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                 | ZMQ_EVENT_ACCEPT_FAILED;
        if (zmq_socket_monitor(router, S_MONITOR_EP, ev) == 0) {
            self->monitor = zmq_socket(ctx, ZMQ_PAIR);
            if (self->monitor
                && zmq_connect(self->monitor, S_MONITOR_EP) != 0) {
                zmq_close(self->monitor);
                self->monitor = NULL;
            }
        }
        if (!self->monitor)
            pl_log_warn(log,
                        "door_monitor_failed reason=\"%s\" "
                        "(the door is still counted every pass)",
                        zmq_strerror(errno));
    } else {
        pl_log_warn(log, "door_uncontrolled endpoint=%s reason=\"not tcp\"",
                    endpoint);
    }
    self->fds = s_count_fds();
    self->counted = pl_mono_ms();
    pl_door_check_registry(self, enrolled);
    // the main loop can be inside a pass (an fsync) while a flood is being
    // accepted by libzmq's I/O thread: a thread of its own closes the door
    // within microseconds of the accept that crosses the mark
    if (self->monitor) {
        if (pthread_create(&self->watcher, NULL, s_watch, self) == 0)
            self->watching = true;
        else
            pl_log_warn(log, "door_watcher_failed (counted every pass)");
    }
    return self;
}

void
pl_door_close(pl_door_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_door_t *self = *self_p;
    if (self->watching) {
        atomic_store(&self->stop, true);
        pthread_join(self->watcher, NULL);
    }
    if (self->monitor) {
        zmq_socket_monitor(self->router, NULL, 0);
        zmq_close(self->monitor);
    }
    free(self);
    *self_p = NULL;
}

void *
pl_door_monitor(pl_door_t *self)
{
    // read by the watcher thread when it runs: not for the main loop
    return self->watching ? NULL : self->monitor;
}

void
pl_door_check_registry(pl_door_t *self, size_t enrolled)
{
    // each enrolled node holds one connection; the reserve and what the
    // broker itself opens (~32) come on top
    size_t reserve =
        self->reserve > S_RESERVE_MIN ? self->reserve : S_RESERVE_MIN;
    size_t needed = enrolled + 2 * reserve + 32;
    if (needed > self->limit)
        pl_log_warn(self->log,
                    "fd_limit_low limit=%zu enrolled=%zu needed=%zu "
                    "(raise the hard open-files limit, e.g. LimitNOFILE=)",
                    self->limit, enrolled, needed);
}

static void
s_set_closed(pl_door_t *self, bool closed)
{
    if (self->listen_fd < 0 || closed == atomic_load(&self->closed))
        return;
    int rc;
    if (closed) {
        // classic BPF "return 0": every packet to the listening socket is
        // dropped, so SYNs go unanswered (peers retry with backoff); the
        // connections accepted before keep their own sockets
        struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};
        struct sock_fprog prog = {1, drop};
        rc = setsockopt(self->listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
                        sizeof prog);
    } else {
        int zero = 0;
        rc = setsockopt(self->listen_fd, SOL_SOCKET, SO_DETACH_FILTER, &zero,
                        sizeof zero);
    }
    if (rc != 0) {
        pl_log_error(self->log, "door_%s_failed reason=\"%s\"",
                     closed ? "close" : "open", strerror(errno));
        return;
    }
    atomic_store(&self->closed, closed);
    if (closed) {
        pl_log_warn(self->log,
                    "door_closed open_fds=%zu limit=%zu reserve=%zu "
                    "(new connections wait until descriptors free up)",
                    atomic_load(&self->fds), self->limit, self->reserve);
    } else {
        pl_log_info(self->log, "door_reopened open_fds=%zu limit=%zu",
                    atomic_load(&self->fds), self->limit);
    }
}

// Reads the monitor's events (waiting up to 'wait_ms') and closes or
// opens the door. The count of open descriptors is taken again when
// connections were accepted and the last count plus them reaches the mark,
// and every S_COUNT_MS while connections come and go (S_QUIET_MS when not).
static void
s_step(pl_door_t *self, int wait_ms)
{
    size_t accepted = 0, events = 0;
    zmq_pollitem_t it = {self->monitor, 0, ZMQ_POLLIN, 0};
    if (self->monitor && zmq_poll(&it, 1, wait_ms) > 0)
        for (int i = 0; i < S_EVENTS_MAX; i++) {
            zmq_msg_t ev, addr;
            zmq_msg_init(&ev);
            if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&ev);
                break;
            }
            if (zmq_msg_size(&ev) >= 2) {
                uint16_t id;
                memcpy(&id, zmq_msg_data(&ev), 2);
                accepted += id == ZMQ_EVENT_ACCEPTED;
                events++;
            }
            bool more = zmq_msg_more(&ev);
            zmq_msg_close(&ev);
            if (more) { // the endpoint frame
                zmq_msg_init(&addr);
                zmq_msg_recv(&addr, self->monitor, ZMQ_DONTWAIT);
                zmq_msg_close(&addr);
            }
        }
    size_t high = self->limit > self->reserve ? self->limit - self->reserve : 0;
    size_t low =
        self->limit > 2 * self->reserve ? self->limit - 2 * self->reserve : 0;
    self->since += accepted;
    self->changed = self->changed || events > 0;
    uint64_t now = pl_mono_ms();
    size_t fds = atomic_load(&self->fds);
    uint64_t every = self->changed || !self->monitor ? S_COUNT_MS : S_QUIET_MS;
    bool recount =
        now - self->counted >= every || (accepted && fds + self->since >= high);
    if (recount) {
        fds = s_count_fds();
        atomic_store(&self->fds, fds);
        self->counted = now;
        self->since = 0;
        self->changed = false;
    }
    if (!atomic_load(&self->closed) && fds >= high)
        s_set_closed(self, true);
    else if (atomic_load(&self->closed) && fds <= low)
        s_set_closed(self, false);
}

static void *
s_watch(void *arg)
{
    pl_door_t *self = arg;
    while (!atomic_load(&self->stop))
        s_step(self, 50);
    return NULL;
}

void
pl_door_tick(pl_door_t *self)
{
    // without the watcher thread, the main loop does its work each pass
    if (self->listen_fd >= 0 && !self->watching)
        s_step(self, 0);
}

bool
pl_door_is_closed(const pl_door_t *self)
{
    return atomic_load(&((pl_door_t *) self)->closed);
}

size_t
pl_door_limit(const pl_door_t *self)
{
    return self->limit;
}

size_t
pl_door_open_fds(const pl_door_t *self)
{
    return atomic_load(&((pl_door_t *) self)->fds);
}
