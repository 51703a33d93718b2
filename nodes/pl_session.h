// pl_session - the staff sessions of the node daemon (issue 14, DESIGN.md
// §12). Layer: nodes, domain (no daemon state). Sessions live in the
// daemon's memory only: a restart logs everyone out, and nothing about
// them is ever written to the store or a log.
//
// A token is 32 random bytes, given to the client once as 64 hex digits.
// The table keeps only BLAKE2b-256(token) (so a memory dump of the table
// gives no live token) and compares those digests in constant time
// (pl_ct_equal). A session ends after 'idle_s' without use or 'max_s'
// after the login, whichever comes first; logout, a disabled account and a
// new password end it at once.
#ifndef PL_SESSION_H
#define PL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_SESSION_TOKEN_BYTES  32   // random bytes of a token
#define PL_SESSION_TOKEN_HEX    64   // its text form
#define PL_STAFF_NAME_MAX       64   // [a-z0-9._-]{1,64}
#define PL_SESSIONS_MAX         1024 // sessions in the table at most
#define PL_SESSIONS_PER_NAME    16   // per account: a new login ends the oldest
#define PL_SESSION_IDLE_DEFAULT (15 * 60)   // 15 minutes
#define PL_SESSION_MAX_DEFAULT  (12 * 3600) // 12 hours

typedef struct pl_sessions pl_sessions_t;

// What a live session says about its account.
typedef struct {
    char name[PL_STAFF_NAME_MAX + 1]; // account name
    unsigned role;                    // PL_ROLE_* (one bit)
    char lang[3];                     // "fr" | "en"
    uint64_t created;                 // login time (pl_sessions_now)
    uint64_t expires;                 // when it ends if used no more
} pl_session_info_t;

// A table with these timeouts in seconds (0: the defaults). NULL when out
// of memory. Caller destroys.
pl_sessions_t *pl_sessions_new(uint64_t idle_s, uint64_t max_s);
// Wipes every digest and frees; NULL-safe, nullifies *self_p.
void pl_sessions_destroy(pl_sessions_t **self_p);

uint64_t pl_sessions_idle_s(const pl_sessions_t *self);
uint64_t pl_sessions_max_s(const pl_sessions_t *self);

// The sessions' clock: pl_now() plus a test offset (pl_sessions_advance).
uint64_t pl_sessions_now(const pl_sessions_t *self);
// Moves the sessions' clock forward by 's' seconds (test builds' test
// command only: a running daemon's sessions expire without a restart).
void pl_sessions_advance(pl_sessions_t *self, uint64_t s);

// Opens a session for account 'name' with 'role' and 'lang'; writes the
// token's text (64 hex digits and a NUL) to 'token' and fills 'info'.
// Expired sessions are dropped first; the account's oldest session ends
// when it has PL_SESSIONS_PER_NAME. PL_EFULL when the table is full.
int pl_sessions_open(pl_sessions_t *self, const char *name, unsigned role,
                     const char *lang, char token[PL_SESSION_TOKEN_HEX + 1],
                     pl_session_info_t *info);
// Resolves token text 'token' (64 hex digits): PL_OK with 'info' filled
// and the idle time refreshed when 'touch'; PL_EAUTH when malformed,
// unknown or expired (an expired session is dropped).
int pl_sessions_resolve(pl_sessions_t *self, const char *token, bool touch,
                        pl_session_info_t *info);
// Ends the session of 'token'; PL_EAUTH when there is none.
int pl_sessions_close(pl_sessions_t *self, const char *token);
// Ends every session of account 'name'; returns how many.
size_t pl_sessions_close_name(pl_sessions_t *self, const char *name);
// Live sessions (expired ones are not counted).
size_t pl_sessions_count(pl_sessions_t *self);

#endif
