// pl_session - the in-memory session table (see pl_session.h). Layer:
// nodes, domain.
#include "nodes/pl_session.h"

#include <stdlib.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_err.h"
#include "proto/pl_util.h"

#define S_DIGEST 32 // BLAKE2b-256 of the token

typedef struct {
    bool used;                // slot in use
    uint8_t digest[S_DIGEST]; // BLAKE2b-256(token)
    pl_session_info_t info;   // account, role, lang, login time
    uint64_t last;            // last use
} s_slot_t;

struct pl_sessions {
    uint64_t idle_s; // idle timeout
    uint64_t max_s;  // absolute timeout
    int64_t offset;  // test clock offset
    s_slot_t *slots; // PL_SESSIONS_MAX slots
};

pl_sessions_t *
pl_sessions_new(uint64_t idle_s, uint64_t max_s)
{
    pl_sessions_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(PL_SESSIONS_MAX, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->idle_s = idle_s ? idle_s : PL_SESSION_IDLE_DEFAULT;
    self->max_s = max_s ? max_s : PL_SESSION_MAX_DEFAULT;
    return self;
}

void
pl_sessions_destroy(pl_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_sessions_t *self = *self_p;
    pl_wipe(self->slots, PL_SESSIONS_MAX * sizeof *self->slots);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

uint64_t
pl_sessions_idle_s(const pl_sessions_t *self)
{
    return self->idle_s;
}

uint64_t
pl_sessions_max_s(const pl_sessions_t *self)
{
    return self->max_s;
}

uint64_t
pl_sessions_now(const pl_sessions_t *self)
{
    return (uint64_t) ((int64_t) pl_now() + self->offset);
}

void
pl_sessions_advance(pl_sessions_t *self, uint64_t s)
{
    self->offset += (int64_t) s;
}

// The end of a session: idle or absolute limit, whichever comes first.
static uint64_t
s_expires(const pl_sessions_t *self, const s_slot_t *s)
{
    uint64_t idle = s->last + self->idle_s;
    uint64_t abs = s->info.created + self->max_s;
    return idle < abs ? idle : abs;
}

static void
s_drop(s_slot_t *s)
{
    pl_wipe(s, sizeof *s);
}

static void
s_sweep(pl_sessions_t *self, uint64_t now)
{
    for (size_t i = 0; i < PL_SESSIONS_MAX; i++)
        if (self->slots[i].used && now >= s_expires(self, &self->slots[i]))
            s_drop(&self->slots[i]);
}

int
pl_sessions_open(pl_sessions_t *self, const char *name, unsigned role,
                 const char *lang, char token[PL_SESSION_TOKEN_HEX + 1],
                 pl_session_info_t *info)
{
    if (strlen(name) > PL_STAFF_NAME_MAX || strlen(lang) > 2)
        return PL_EINVAL;
    uint64_t now = pl_sessions_now(self);
    s_sweep(self, now);
    s_slot_t *free_slot = NULL, *oldest = NULL;
    size_t mine = 0;
    for (size_t i = 0; i < PL_SESSIONS_MAX; i++) {
        s_slot_t *s = &self->slots[i];
        if (!s->used) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (strcmp(s->info.name, name) == 0) {
            mine++;
            if (!oldest || s->info.created < oldest->info.created)
                oldest = s;
        }
    }
    if (mine >= PL_SESSIONS_PER_NAME) {
        s_drop(oldest);
        free_slot = oldest;
    }
    if (!free_slot)
        return PL_EFULL;
    uint8_t raw[PL_SESSION_TOKEN_BYTES];
    pl_random(raw, sizeof raw);
    pl_hex(token, raw, sizeof raw);
    s_slot_t *s = free_slot;
    memset(s, 0, sizeof *s);
    pl_hash(s->digest, S_DIGEST, raw, sizeof raw, NULL, 0);
    pl_wipe(raw, sizeof raw);
    s->used = true;
    memcpy(s->info.name, name, strlen(name) + 1);
    s->info.role = role;
    memcpy(s->info.lang, lang, strlen(lang) + 1);
    s->info.created = now;
    s->last = now;
    s->info.expires = s_expires(self, s);
    *info = s->info;
    return PL_OK;
}

// The slot of token text 'token', or NULL (malformed or unknown). Every
// live slot is compared, each in constant time.
static s_slot_t *
s_find(pl_sessions_t *self, const char *token)
{
    uint8_t raw[PL_SESSION_TOKEN_BYTES], digest[S_DIGEST];
    if (!token || strlen(token) != PL_SESSION_TOKEN_HEX
        || pl_unhex(raw, sizeof raw, token) != PL_OK)
        return NULL;
    pl_hash(digest, S_DIGEST, raw, sizeof raw, NULL, 0);
    pl_wipe(raw, sizeof raw);
    s_slot_t *hit = NULL;
    for (size_t i = 0; i < PL_SESSIONS_MAX; i++) {
        s_slot_t *s = &self->slots[i];
        if (s->used && pl_ct_equal(s->digest, digest, S_DIGEST))
            hit = s;
    }
    pl_wipe(digest, sizeof digest);
    return hit;
}

int
pl_sessions_resolve(pl_sessions_t *self, const char *token, bool touch,
                    pl_session_info_t *info)
{
    s_slot_t *s = s_find(self, token);
    if (!s)
        return PL_EAUTH;
    uint64_t now = pl_sessions_now(self);
    if (now >= s_expires(self, s)) {
        s_drop(s);
        return PL_EAUTH;
    }
    if (touch)
        s->last = now;
    s->info.expires = s_expires(self, s);
    *info = s->info;
    return PL_OK;
}

int
pl_sessions_close(pl_sessions_t *self, const char *token)
{
    s_slot_t *s = s_find(self, token);
    if (!s)
        return PL_EAUTH;
    s_drop(s);
    return PL_OK;
}

size_t
pl_sessions_close_name(pl_sessions_t *self, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < PL_SESSIONS_MAX; i++) {
        s_slot_t *s = &self->slots[i];
        if (s->used && strcmp(s->info.name, name) == 0) {
            s_drop(s);
            n++;
        }
    }
    return n;
}

size_t
pl_sessions_count(pl_sessions_t *self)
{
    s_sweep(self, pl_sessions_now(self));
    size_t n = 0;
    for (size_t i = 0; i < PL_SESSIONS_MAX; i++)
        n += self->slots[i].used;
    return n;
}
