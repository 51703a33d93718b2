// web_api - the REST/JSON API of passerelle-web under /api/v1/ (issue 16,
// DESIGN.md §12). Layer: adapters. Every route is a row of the one route
// table (web_http.c); this file holds what all of them share and the
// table that maps the core routes to the daemon's control commands, whose
// JSON replies are the API's answers (the CLI's --json shapes): there is
// no second implementation of any command here.
//
// A credential is "Authorization: Bearer TOKEN" (an API token of
// `passerelle token add`, which the daemon checks: this process never
// holds a token's hash) or the staff session cookie (a POST then needs
// the session's CSRF token in X-CSRF-Token). An "Idempotency-Key" header
// (1 to 128 visible ASCII characters) turns into the control request id
// BLAKE2b-128(key = the credential, "METHOD PATH\nKEY"): the daemon
// stores a state-changing command's reply under it, so a replayed key
// acts once and gets the first answer, across restarts of either process.
// Errors are RFC 7807 problem details {type, title, status, detail, code}.
#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"
#include "adapters/web/web.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

#define S_IDEM_MAX 128 // bytes of an Idempotency-Key

// ---- problems

static const char *
s_title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Internal Server Error";
    }
}

void
web_api_problem(web_req_t *r, int status, const char *detail, const char *code)
{
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
                          "title", s_title(status), "status", status, "detail",
                          detail ? detail : s_title(status));
    if (p && code && code[0])
        json_object_set_new(p, "code", json_string(code));
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    web_buf_free(&r->body);
    r->status = text ? status : 500;
    r->content_type = "application/problem+json";
    web_buf_add(&r->body, text ? text : "{\"status\":500}");
    web_buf_add(&r->body, "\n");
    free(text);
}

void
web_api_reply(web_req_t *r, const char *cmd, json_t *args)
{
    json_t *res = NULL;
    char err[512], code[32];
    int rc =
        web_call(r, cmd, args, true, &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        web_api_problem(r, web_status_of(code), err, code);
        if (r->status == 401)
            snprintf(r->www_auth, sizeof r->www_auth,
                     "Bearer error=\"invalid_token\"");
        return;
    }
    char *text = json_dumps(res, JSON_INDENT(2) | JSON_ENCODE_ANY);
    json_decref(res);
    if (!text) {
        web_api_problem(r, 500, "out of memory", NULL);
        return;
    }
    r->status = 200;
    r->content_type = "application/json";
    web_buf_add(&r->body, text);
    web_buf_add(&r->body, "\n");
    free(text);
}

// ---- the shared checks

static const char *
s_header(web_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

// The Bearer token of the request into r->s.token: 1 when there is one,
// 0 when there is no Authorization header, -1 when it is malformed.
static int
s_bearer(web_req_t *r)
{
    const char *h = s_header(r, "Authorization");
    if (!h)
        return 0;
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return -1;
    h += 7;
    size_t n = strlen(h);
    if (n != WEB_TOKEN_HEX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char) h[i]))
            return -1;
    memcpy(r->s.token, h, n + 1);
    r->api_token = true;
    r->has_session = false; // the token, not a cookie, acts
    return 1;
}

// Counts one request of the credential 'secret'; false when over the
// limit (then r->retry_after says when the window ends).
static bool
s_rate_ok(web_req_t *r, const char *secret)
{
    web_ctx_t *w = r->w;
    uint8_t d[16];
    char key[33];
    pl_hash(d, sizeof d, secret, strlen(secret), w->api_key, sizeof w->api_key);
    pl_hex(key, d, sizeof d);
    int64_t now = web_now();
    pthread_mutex_lock(&w->lock);
    web_api_rate_t *slot = NULL, *oldest = &w->api[0];
    for (size_t i = 0; i < WEB_API_SLOTS && !slot; i++) {
        if (!strcmp(w->api[i].key, key))
            slot = &w->api[i];
        else if (w->api[i].start < oldest->start)
            oldest = &w->api[i];
    }
    if (!slot || now - slot->start >= WEB_RATE_WINDOW) {
        if (!slot)
            slot = oldest;
        memcpy(slot->key, key, sizeof key);
        slot->start = now;
        slot->count = 0;
    }
    bool ok = ++slot->count <= w->api_rate;
    int64_t left = WEB_RATE_WINDOW - (now - slot->start);
    pthread_mutex_unlock(&w->lock);
    if (!ok)
        snprintf(r->retry_after, sizeof r->retry_after, "%lld",
                 (long long) (left > 0 ? left : 1));
    return ok;
}

// The request id of an Idempotency-Key into r->api_rid: 0, or -1 when
// the key is malformed.
static int
s_idempotency(web_req_t *r, const char *secret)
{
    const char *k = s_header(r, "Idempotency-Key");
    if (!k)
        return 0;
    size_t n = strlen(k);
    if (n < 1 || n > S_IDEM_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return -1;
    web_buf_t m = {0};
    web_buf_addf(&m, "%s %s\n%s", r->method, r->path, k);
    uint8_t key[PL_HASH_KEY_MAX], d[16];
    size_t klen = strlen(secret) < sizeof key ? strlen(secret) : sizeof key;
    memcpy(key, secret, klen);
    pl_hash(d, sizeof d, m.data ? m.data : "", m.len, key, klen);
    pl_wipe(key, sizeof key);
    web_buf_free(&m);
    pl_hex(r->api_rid, d, sizeof d);
    return 0;
}

// A POST's body: a JSON object (an empty body is {}). 0, or -1 with the
// problem written.
static int
s_body(web_req_t *r, const char *body, size_t len)
{
    const char *ct = s_header(r, "Content-Type");
    if (len && (!ct || strncasecmp(ct, "application/json", 16) != 0)) {
        web_api_problem(r, 415, "the body is application/json", NULL);
        return -1;
    }
    json_error_t jerr;
    r->api_body = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)
                      : json_object();
    if (!json_is_object(r->api_body)) {
        char msg[256];
        if (r->api_body)
            snprintf(msg, sizeof msg, "the body is one JSON object");
        else
            snprintf(msg, sizeof msg, "malformed JSON at line %d column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        json_decref(r->api_body);
        r->api_body = NULL;
        web_api_problem(r, 400, msg, "PL_EINVAL");
        return -1;
    }
    return 0;
}

void
web_api_serve(web_req_t *r, web_handler_t fn, bool role_ok, bool origin_ok,
              const char *body, size_t len)
{
    bool post = !strcmp(r->method, "POST");
    int b = s_bearer(r);
    if (b < 0 || (b == 0 && !r->has_session)) {
        snprintf(r->www_auth, sizeof r->www_auth, "Bearer");
        web_api_problem(r, 401,
                        b < 0 ? "Authorization is 'Bearer' and a token of 64 "
                                "hex digits"
                              : "an API token (Authorization: Bearer) or a "
                                "session is needed",
                        "PL_EAUTH");
        return;
    }
    if (b == 0) {
        const char *csrf = s_header(r, "X-CSRF-Token");
        if (!role_ok) {
            web_api_problem(r, 403, "your role may not do this", "PL_EPERM");
            return;
        }
        if (post && (!origin_ok || !csrf || !web_same(csrf, r->s.csrf))) {
            web_api_problem(r, 403,
                            "with a session cookie a POST needs the "
                            "X-CSRF-Token header",
                            "PL_EPERM");
            return;
        }
    }
    const char *secret = b ? r->s.token : r->s.id;
    if (!s_rate_ok(r, secret)) {
        web_api_problem(r, 429,
                        "too many requests with this credential; "
                        "retry after the Retry-After seconds",
                        "PL_EFULL");
        return;
    }
    if (s_idempotency(r, secret) != 0) {
        web_api_problem(r, 400,
                        "an Idempotency-Key is 1 to 128 visible ASCII "
                        "characters",
                        "PL_EINVAL");
        return;
    }
    if (post && s_body(r, body, len) != 0)
        return;
    fn(r);
}
