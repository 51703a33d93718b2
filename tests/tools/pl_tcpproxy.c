// pl-tcpproxy - test-only userspace TCP proxy on 127.0.0.1 that can cut,
// stall and slow a link (tc netem is not available here). Layer: tests.
//
//   pl-tcpproxy --listen PORT --to PORT --control FILE [--max-seconds S]
//
// The first word of FILE (re-read every 50 ms; missing = pass) sets the mode:
//   pass      forward both ways
//   refuse    reset every connection and reset new ones at once (a peer
//             that is down and says so)
//   down      reset every connection; new connection attempts get no
//             answer at all (their SYN is dropped, so a client's connect()
//             waits out its own SYN backoff, as behind a dead link)
//   stall     forward nothing, keep connections open and silent, drop new
//             SYNs (a cable pulled: nobody is told); `pass` resumes the
//             held connections where they were
//   slow N    forward at most N bytes per second in each direction of each
//             connection
// SYNs are dropped by shrinking the listen backlog to 0 and filling the
// accept queue with one connection of our own: Linux drops a SYN when a
// listener's accept queue is full (net/ipv4/tcp_input.c, tcp_conn_request).
// Mode changes are logged on stderr. Everything is bounded: 256
// connections, 256 KiB buffered per direction, --max-seconds (default 900)
// of life. Only 127.0.0.1 is used.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_MAXCONN 256
#define S_BUF     (256 * 1024)

typedef enum { M_PASS, M_REFUSE, M_DOWN, M_STALL, M_SLOW } s_mode_t;

typedef struct {
    uint8_t data[S_BUF];
    size_t len;
    double tokens; // for slow mode
} s_pipe_t;

typedef struct {
    bool used;
    int c, u;         // client side, upstream side
    bool u_connected; // upstream connect finished
    s_pipe_t up;      // client -> upstream
    s_pipe_t down;    // upstream -> client
} s_conn_t;

static volatile sig_atomic_t s_stop;
static s_conn_t s_conns[S_MAXCONN];

static void
s_on_term(int sig)
{
    (void) sig;
    s_stop = 1;
}

static uint64_t
s_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000u + (uint64_t) t.tv_nsec / 1000000u;
}

static void
s_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static struct sockaddr_in
s_addr(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t) port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

// Closes with a reset (SO_LINGER 0), as a dead peer's RST would.
static void
s_reset(int fd)
{
    if (fd < 0)
        return;
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void
s_conn_close(s_conn_t *k, bool rst)
{
    if (rst) {
        s_reset(k->c);
        s_reset(k->u);
    } else {
        close(k->c);
        close(k->u);
    }
    memset(k, 0, sizeof *k);
}

static void
s_reset_all(void)
{
    for (int i = 0; i < S_MAXCONN; i++)
        if (s_conns[i].used)
            s_conn_close(&s_conns[i], true);
}

static s_mode_t
s_read_mode(const char *path, long *rate)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return M_PASS;
    char word[32] = "";
    long n = 0;
    int got = fscanf(f, "%31s %ld", word, &n);
    fclose(f);
    if (got < 1)
        return M_PASS;
    if (strcmp(word, "refuse") == 0)
        return M_REFUSE;
    if (strcmp(word, "down") == 0)
        return M_DOWN;
    if (strcmp(word, "stall") == 0)
        return M_STALL;
    if (strcmp(word, "slow") == 0 && got == 2 && n > 0) {
        *rate = n;
        return M_SLOW;
    }
    return M_PASS;
}

static const char *
s_mode_name(s_mode_t m)
{
    static const char *names[] = {"pass", "refuse", "down", "stall", "slow"};
    return names[m];
}

// Moves bytes from 'from' into p (if room), and from p to 'to' (limited
// to 'budget' bytes when budget >= 0). false when the connection is over.
static bool
s_pump(int from, int to, s_pipe_t *p, short rev_from, short rev_to, long budget)
{
    if ((rev_from & (POLLIN | POLLHUP | POLLERR)) && p->len < S_BUF) {
        ssize_t r = read(from, p->data + p->len, S_BUF - p->len);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return false;
        if (r > 0)
            p->len += (size_t) r;
    }
    if (p->len && (rev_to & POLLOUT)) {
        size_t n = p->len;
        if (budget >= 0 && (size_t) budget < n)
            n = (size_t) budget;
        if (n == 0)
            return true;
        ssize_t w = write(to, p->data, n);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return false;
        if (w > 0) {
            memmove(p->data, p->data + w, p->len - (size_t) w);
            p->len -= (size_t) w;
            p->tokens -= (double) w;
        }
    }
    return true;
}

int
main(int argc, char **argv)
{
    int lport = 0, uport = 0;
    long max_s = 900;
    const char *control = NULL;
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"to", required_argument, NULL, 't'},
        {"control", required_argument, NULL, 'c'},
        {"max-seconds", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'l')
            lport = atoi(optarg);
        else if (o == 't')
            uport = atoi(optarg);
        else if (o == 'c')
            control = optarg;
        else if (o == 'm')
            max_s = atol(optarg);
        else
            return 2;
    }
    if (lport <= 0 || uport <= 0 || !control || max_s <= 0) {
        fputs("usage: pl-tcpproxy --listen PORT --to PORT --control FILE "
              "[--max-seconds S]\n",
              stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, s_on_term);
    signal(SIGINT, s_on_term);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in la = s_addr(lport);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &la, sizeof la) != 0
        || listen(lfd, 128) != 0) {
        fprintf(stderr, "pl-tcpproxy: cannot listen on %d: %s\n", lport,
                strerror(errno));
        return 1;
    }
    s_nonblock(lfd);
    fprintf(stderr, "pl-tcpproxy: 127.0.0.1:%d -> 127.0.0.1:%d mode=pass\n",
            lport, uport);
    s_mode_t mode = M_PASS;
    long rate = 0;
    int filler = -1;          // our own connection filling the queue
    uint16_t filler_port = 0; // its local port, to recognise it
    uint64_t start = s_ms(), last_ctl = 0, last_tick = s_ms();
    while (!s_stop && s_ms() - start < (uint64_t) max_s * 1000u) {
        uint64_t now = s_ms();
        if (now - last_ctl >= 50) {
            last_ctl = now;
            long nrate = rate;
            s_mode_t m = s_read_mode(control, &nrate);
            if (m != mode || nrate != rate) {
                fprintf(stderr, "pl-tcpproxy: mode=%s", s_mode_name(m));
                if (m == M_SLOW)
                    fprintf(stderr, " rate=%ld", nrate);
                fputc('\n', stderr);
                bool was_blackhole = mode == M_DOWN || mode == M_STALL;
                bool blackhole = m == M_DOWN || m == M_STALL;
                if (m == M_REFUSE || m == M_DOWN)
                    s_reset_all();
                if (blackhole && !was_blackhole) {
                    // no more SYN answered: backlog 0 and a full queue
                    listen(lfd, 0);
                    filler = socket(AF_INET, SOCK_STREAM, 0);
                    s_nonblock(filler);
                    connect(filler, (struct sockaddr *) &la, sizeof la);
                    struct sockaddr_in fa;
                    socklen_t fl = sizeof fa;
                    getsockname(filler, (struct sockaddr *) &fa, &fl);
                    filler_port = ntohs(fa.sin_port);
                } else if (!blackhole && was_blackhole) {
                    listen(lfd, 128);
                }
                mode = m;
                rate = nrate;
            }
        }
        bool blackhole = mode == M_DOWN || mode == M_STALL;
        // new connections
        if (!blackhole) {
            for (int n = 0; n < 32; n++) {
                struct sockaddr_in pa;
                socklen_t pl = sizeof pa;
                int c = accept(lfd, (struct sockaddr *) &pa, &pl);
                if (c < 0)
                    break;
                if (filler >= 0 && ntohs(pa.sin_port) == filler_port) {
                    close(c);
                    close(filler);
                    filler = -1;
                    continue;
                }
                int slot = -1;
                for (int i = 0; i < S_MAXCONN && slot < 0; i++)
                    if (!s_conns[i].used)
                        slot = i;
                if (mode == M_REFUSE || slot < 0) {
                    s_reset(c);
                    continue;
                }
                s_nonblock(c);
                int u = socket(AF_INET, SOCK_STREAM, 0);
                s_nonblock(u);
                struct sockaddr_in ua = s_addr(uport);
                if (connect(u, (struct sockaddr *) &ua, sizeof ua) != 0
                    && errno != EINPROGRESS) {
                    s_reset(c);
                    close(u);
                    continue;
                }
                s_conn_t *k = &s_conns[slot];
                memset(k, 0, sizeof *k);
                k->used = true;
                k->c = c;
                k->u = u;
            }
        }
        // slow mode: refill the buckets every tick (at most 1 s worth)
        double add = (double) (now - last_tick) * (double) rate / 1000.0;
        last_tick = now;
        struct pollfd pf[S_MAXCONN * 2];
        int idx[S_MAXCONN];
        int np = 0;
        for (int i = 0; i < S_MAXCONN; i++) {
            s_conn_t *k = &s_conns[i];
            idx[i] = -1;
            if (!k->used || mode == M_STALL)
                continue;
            if (mode == M_SLOW) {
                k->up.tokens += add;
                k->down.tokens += add;
                if (k->up.tokens > rate)
                    k->up.tokens = (double) rate;
                if (k->down.tokens > rate)
                    k->down.tokens = (double) rate;
            }
            idx[i] = np;
            short cev = 0, uev = 0;
            if (k->up.len < S_BUF)
                cev |= POLLIN;
            if (k->down.len)
                cev |= POLLOUT;
            if (!k->u_connected)
                uev |= POLLOUT;
            else {
                if (k->down.len < S_BUF)
                    uev |= POLLIN;
                if (k->up.len)
                    uev |= POLLOUT;
            }
            pf[np++] = (struct pollfd){k->c, cev, 0};
            pf[np++] = (struct pollfd){k->u, uev, 0};
        }
        if (np == 0) {
            struct timespec d = {0, 10 * 1000 * 1000};
            nanosleep(&d, NULL);
            continue;
        }
        if (poll(pf, (nfds_t) np, 10) < 0)
            continue;
        for (int i = 0; i < S_MAXCONN; i++) {
            s_conn_t *k = &s_conns[i];
            if (idx[i] < 0 || !k->used)
                continue;
            short crev = pf[idx[i]].revents, urev = pf[idx[i] + 1].revents;
            if (!k->u_connected) {
                if (urev & (POLLERR | POLLHUP)) {
                    s_conn_close(k, true);
                    continue;
                }
                if (urev & POLLOUT) {
                    int err = 0;
                    socklen_t el = sizeof err;
                    getsockopt(k->u, SOL_SOCKET, SO_ERROR, &err, &el);
                    if (err) {
                        s_conn_close(k, true);
                        continue;
                    }
                    k->u_connected = true;
                }
                urev &= ~POLLOUT;
                if (!k->u_connected)
                    continue;
            }
            long bu = mode == M_SLOW
                          ? (long) (k->up.tokens > 0 ? k->up.tokens : 0)
                          : -1;
            long bd = mode == M_SLOW
                          ? (long) (k->down.tokens > 0 ? k->down.tokens : 0)
                          : -1;
            if (!s_pump(k->c, k->u, &k->up, crev, urev, bu)
                || !s_pump(k->u, k->c, &k->down, urev, crev, bd))
                s_conn_close(k, false);
        }
    }
    s_reset_all();
    if (filler >= 0)
        close(filler);
    close(lfd);
    return 0;
}
