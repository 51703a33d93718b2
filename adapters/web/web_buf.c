// web_buf - the text buffer of a page, the one HTML escaping function, the
// bounded form parser and randomness (see web.h). Layer: adapters.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/web/web.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

static void
s_grow(web_buf_t *b, size_t more)
{
    if (b->oom)
        return;
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return;
    }
    b->data = d;
    b->cap = cap;
}

void
web_buf_addn(web_buf_t *b, const char *s, size_t n)
{
    s_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void
web_buf_add(web_buf_t *b, const char *s)
{
    if (s)
        web_buf_addn(b, s, strlen(s));
}

void
web_buf_addf(web_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n < sizeof small) {
        web_buf_addn(b, small, (size_t) n);
        return;
    }
    s_grow(b, (size_t) n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
web_buf_esc(web_buf_t *b, const char *s)
{
    if (!s)
        return;
    // the five characters that can end a text node or an attribute value
    // (OWASP XSS prevention cheat sheet, rule 1 and 2: entity-encode them;
    // every attribute we write is quoted)
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *ent = NULL;
        switch (*p) {
        case '&':
            ent = "&amp;";
            break;
        case '<':
            ent = "&lt;";
            break;
        case '>':
            ent = "&gt;";
            break;
        case '"':
            ent = "&quot;";
            break;
        case '\'':
            ent = "&#39;";
            break;
        default:
            break;
        }
        if (ent) {
            web_buf_addn(b, run, (size_t) (p - run));
            web_buf_add(b, ent);
            run = p + 1;
        }
    }
    web_buf_add(b, run);
}

void
web_buf_free(web_buf_t *b)
{
    free(b->data);
    *b = (web_buf_t){0};
}

static int
s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Decodes one urlencoded component ('+' is a space, %XX a byte) into a new
// string; NULL on a bad escape, a NUL byte or no memory.
static char *
s_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? s_hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? s_hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            c = (char) (hi * 16 + lo);
            i += 2;
        }
        out[o++] = c;
    }
    out[o] = 0;
    return out;
}

int
web_form_parse(web_form_t *f, const char *body, size_t len)
{
    *f = (web_form_t){0};
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end > i) {
            if (f->n == WEB_FORM_FIELDS)
                goto bad;
            const char *eq = memchr(body + i, '=', end - i);
            size_t nlen = eq ? (size_t) (eq - (body + i)) : end - i;
            f->name[f->n] = s_decode(body + i, nlen);
            f->value[f->n] =
                eq ? s_decode(eq + 1, (size_t) (body + end - eq - 1))
                   : s_decode("", 0);
            f->n++;
            if (!f->name[f->n - 1] || !f->value[f->n - 1])
                goto bad;
        }
        i = end + 1;
    }
    return 0;
bad:
    web_form_free(f);
    return -1;
}

const char *
web_form_get(const web_form_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->name[i], name))
            return f->value[i];
    return NULL;
}

void
web_form_join(const web_form_t *f, const char *name, char *out, size_t size)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->name[i], name) || !*f->value[i])
            continue;
        int n = snprintf(out + o, size - o, "%s%s", o ? "," : "", f->value[i]);
        if (n < 0 || (size_t) n >= size - o) {
            out[o] = 0;
            return;
        }
        o += (size_t) n;
    }
}

void
web_form_free(web_form_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        // form values may hold personal data: wipe before freeing
        if (f->value[i])
            pl_wipe(f->value[i], strlen(f->value[i]));
        free(f->name[i]);
        free(f->value[i]);
    }
    f->n = 0;
}

void
web_random_hex(char *hex, size_t bytes)
{
    unsigned char raw[64];
    if (bytes > sizeof raw)
        bytes = sizeof raw;
    pl_random(raw, bytes);
    pl_hex(hex, raw, bytes);
    pl_wipe(raw, sizeof raw);
}

bool
web_same(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (!n || n != strlen(b))
        return false;
    return pl_ct_equal(a, b, n); // time independent of the contents
}

int64_t
web_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec;
}

void
web_json_wipe(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    if (s) // the string is jansson's own copy, about to be freed
        pl_wipe((char *) (uintptr_t) s, strlen(s));
}
