// bench_staff - run by hand (make bench): what staff logins cost the node
// daemon's loop (issue 14). Argon2id (crypto_pwhash_str with
// OPSLIMIT/MEMLIMIT_INTERACTIVE) to hash and to verify a password, which
// the daemon does inside its loop for staff.add, staff.passwd and
// session.login; and the resolution of a session token, which every
// request with a "session" pays, with 1 and with a full table of sessions.
// Layer: tests.
//
//   bench_staff [HASHES]     (default 8)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes/pl_roles.h"
#include "nodes/pl_session.h"
#include "proto/pl_crypto.h"
#include "tests/lib/pl_test.h"

static double
s_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

// Mean µs of one resolve in a table of 'n' sessions (the last one opened).
static double
s_resolve_us(size_t n)
{
    pl_sessions_t *ss = pl_sessions_new(0, 0);
    PL_CHECK(ss != NULL);
    char tok[PL_SESSION_TOKEN_HEX + 1], name[32];
    pl_session_info_t info;
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "u%zu", i);
        PL_CHECK(pl_sessions_open(ss, name, PL_ROLE_PROVIDER, "en", tok, &info)
                 == PL_OK);
    }
    int reps = 20000;
    double t0 = s_now();
    for (int i = 0; i < reps; i++)
        PL_CHECK(pl_sessions_resolve(ss, tok, true, &info) == PL_OK);
    double us = (s_now() - t0) * 1e6 / reps;
    pl_sessions_destroy(&ss);
    return us;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8;
    if (n < 1)
        n = 1;
    char h[PL_PWHASH_STR_BYTES];
    const char *pw = "a-password-of-20-ch";
    double t0 = s_now();
    for (int i = 0; i < n; i++)
        PL_CHECK(pl_pwhash_str(h, pw, strlen(pw)) == PL_OK);
    double hash_ms = (s_now() - t0) * 1e3 / n;
    t0 = s_now();
    for (int i = 0; i < n; i++)
        PL_CHECK(pl_pwhash_verify(h, pw, strlen(pw)) == PL_OK);
    double verify_ms = (s_now() - t0) * 1e3 / n;
    printf("staff: argon2id hash %.0f ms, verify %.0f ms (mean of %d; "
           "OPSLIMIT/MEMLIMIT_INTERACTIVE)\n",
           hash_ms, verify_ms, n);
    printf("staff: session resolve %.2f us with 1 session, %.2f us with %d "
           "(a full table)\n",
           s_resolve_us(1), s_resolve_us(PL_SESSIONS_MAX), PL_SESSIONS_MAX);
    return 0;
}
