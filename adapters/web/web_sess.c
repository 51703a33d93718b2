// web_sess - the session table and the login rate limit (see web.h).
// Layer: adapters.
//
// The browser's cookie holds a random 256-bit id of this table, not the
// daemon's token: the token never leaves this process, so nothing the
// browser keeps (or a proxy logs) can be replayed against the control
// socket, and a logout here makes the cookie useless at once even if the
// daemon could not be told. Ids and tokens are compared in constant time.
#include <stdio.h>
#include <string.h>

#include "adapters/web/web.h"
#include "proto/pl_crypto.h"

// The slot of 'id', or NULL. Caller holds the lock.
static web_session_t *
s_find(web_ctx_t *w, const char *id)
{
    if (!id || strlen(id) != WEB_TOKEN_HEX)
        return NULL;
    web_session_t *hit = NULL;
    for (size_t i = 0; i < WEB_SESSIONS_MAX; i++)
        if (w->sess[i].used && web_same(w->sess[i].id, id))
            hit = &w->sess[i];
    return hit;
}

int
web_sess_new(web_ctx_t *w, const char *token, const char *name,
             const char *role, const char *lang, web_session_t *out)
{
    int64_t now = web_now();
    pthread_mutex_lock(&w->lock);
    web_session_t *slot = NULL;
    for (size_t i = 0; i < WEB_SESSIONS_MAX && !slot; i++) {
        web_session_t *s = &w->sess[i];
        if (s->used && now - s->last > w->idle_s)
            pl_wipe(s, sizeof *s); // idle: gone
        if (!s->used)
            slot = s;
    }
    int rc = -1;
    if (slot) {
        slot->used = true;
        web_random_hex(slot->id, WEB_TOKEN_HEX / 2);
        web_random_hex(slot->csrf, WEB_TOKEN_HEX / 2);
        snprintf(slot->token, sizeof slot->token, "%s", token);
        snprintf(slot->name, sizeof slot->name, "%s", name);
        snprintf(slot->role, sizeof slot->role, "%s", role);
        snprintf(slot->lang, sizeof slot->lang, "%s", lang ? lang : "en");
        slot->last = now;
        *out = *slot;
        rc = 0;
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

bool
web_sess_get(web_ctx_t *w, const char *id, web_session_t *out)
{
    int64_t now = web_now();
    pthread_mutex_lock(&w->lock);
    web_session_t *s = s_find(w, id);
    if (s && now - s->last > w->idle_s) {
        pl_wipe(s, sizeof *s);
        s = NULL;
    }
    if (s) {
        s->last = now;
        *out = *s;
    }
    pthread_mutex_unlock(&w->lock);
    return s != NULL;
}

void
web_sess_drop(web_ctx_t *w, const char *id)
{
    pthread_mutex_lock(&w->lock);
    web_session_t *s = s_find(w, id);
    if (s)
        pl_wipe(s, sizeof *s);
    pthread_mutex_unlock(&w->lock);
}

// The rate slot of 'ip' (a fresh or expired window reset). Caller holds
// the lock.
static web_rate_t *
s_rate_slot(web_ctx_t *w, const char *ip, int64_t now)
{
    web_rate_t *slot = NULL, *oldest = &w->rate[0];
    for (size_t i = 0; i < WEB_RATE_IPS && !slot; i++) {
        web_rate_t *r = &w->rate[i];
        if (r->ip[0] && !strcmp(r->ip, ip))
            slot = r;
        else if (r->start < oldest->start)
            oldest = r;
    }
    if (!slot) {
        // a full table reuses the oldest window: an attacker with many
        // addresses gains nothing a single address would not
        slot = oldest;
        snprintf(slot->ip, sizeof slot->ip, "%s", ip);
        slot->start = now;
        slot->count = 0;
    }
    if (now - slot->start >= WEB_RATE_WINDOW) {
        slot->start = now;
        slot->count = 0;
    }
    return slot;
}

bool
web_rate_ok(web_ctx_t *w, const char *ip)
{
    pthread_mutex_lock(&w->lock);
    bool ok = s_rate_slot(w, ip, web_now())->count < WEB_RATE_MAX;
    pthread_mutex_unlock(&w->lock);
    return ok;
}

void
web_rate_fail(web_ctx_t *w, const char *ip)
{
    pthread_mutex_lock(&w->lock);
    s_rate_slot(w, ip, web_now())->count++;
    pthread_mutex_unlock(&w->lock);
}
