// pl_log - line logger. Layer: proto.
#include "proto/pl_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *s_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static pl_log_format_t s_format = PL_LOG_TEXT; // set once, before threads

void
pl_log_set_format(pl_log_format_t format)
{
    s_format = format;
}

// A bounded JSON writer over a fixed buffer: keeps room for the closing
// '}' so that a cut line is still one valid object.
typedef struct {
    char *p;
    size_t n, len;
    bool full;
} s_out_t;

static void
s_put(s_out_t *o, const char *s, size_t len)
{
    if (o->full || o->len + len + 2 > o->n) { // '}' and NUL kept free
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, len);
    o->len += len;
}

// A JSON string of 'len' bytes of 's' (RFC 8259 §7: '"', '\\' and control
// characters escaped). Written whole or not at all.
static void
s_str(s_out_t *o, const char *s, size_t len)
{
    char tmp[1200 * 6 + 2];
    size_t t = 0;
    tmp[t++] = '"';
    for (size_t i = 0; i < len && t + 8 < sizeof tmp; i++) {
        unsigned char ch = (unsigned char) s[i];
        if (ch == '"' || ch == '\\') {
            tmp[t++] = '\\';
            tmp[t++] = (char) ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            memcpy(tmp + t, "\\u00", 4);
            tmp[t + 4] = hex[ch >> 4];
            tmp[t + 5] = hex[ch & 15];
            t += 6;
        } else {
            tmp[t++] = (char) ch;
        }
    }
    tmp[t++] = '"';
    s_put(o, tmp, t);
}

static void
s_field(s_out_t *o, const char *k, size_t kl, const char *v, size_t vl)
{
    if (o->full)
        return;
    size_t mark = o->len;
    s_put(o, ",", 1);
    s_str(o, k, kl);
    s_put(o, ":", 1);
    s_str(o, v, vl);
    if (o->full)
        o->len = mark; // the whole field or nothing
}

static bool
s_is_key(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

void
pl_log_json_line(char *out, size_t n, const char *ts, const char *level,
                 const char *component, const char *line)
{
    if (n < 3) {
        if (n)
            out[0] = 0;
        return;
    }
    s_out_t o = {out, n, 0, false};
    s_put(&o, "{", 1);
    s_str(&o, "ts", 2);
    s_put(&o, ":", 1);
    s_str(&o, ts, strlen(ts));
    s_field(&o, "level", 5, level, strlen(level));
    s_field(&o, "component", 9, component, strlen(component));
    const char *p = line;
    char msg[1024];
    size_t ml = 0;
    bool first = true;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && *p != ' ' && *p != '=')
            p++;
        size_t wl = (size_t) (p - w);
        if (first && *p != '=') {
            // the first word is the event (text form: "event key=value")
            s_field(&o, "event", 5, w, wl);
            first = false;
            continue;
        }
        first = false;
        if (*p == '=' && s_is_key(w, wl)) {
            p++;
            const char *v = p;
            size_t vl;
            if (*p == '"') { // key="quoted value"
                v = ++p;
                while (*p && *p != '"')
                    p++;
                vl = (size_t) (p - v);
                if (*p == '"')
                    p++;
            } else {
                while (*p && *p != ' ')
                    p++;
                vl = (size_t) (p - v);
            }
            s_field(&o, w, wl, v, vl);
            continue;
        }
        // not key=value: kept, in order, under "msg"
        while (*p && *p != ' ')
            p++;
        wl = (size_t) (p - w);
        if (ml && ml + 1 < sizeof msg)
            msg[ml++] = ' ';
        if (ml + wl < sizeof msg) {
            memcpy(msg + ml, w, wl);
            ml += wl;
        }
    }
    if (ml)
        s_field(&o, "msg", 3, msg, ml);
    out[o.len++] = '}';
    out[o.len] = 0;
}

void
pl_log_write(pl_log_t *log, pl_log_level_t level, const char *fmt, ...)
{
    if (!log || !log->sink || level > log->level)
        return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[96];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    const char *comp = log->component ? log->component : "-";
    int n = 0;
    if (s_format != PL_LOG_JSON) {
        n = snprintf(line, sizeof line, "%s %s %s ", stamp, s_names[level],
                     comp);
        if (n < 0 || (size_t) n >= sizeof line)
            n = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    va_end(ap);
    if (s_format == PL_LOG_JSON) {
        char json[2048];
        pl_log_json_line(json, sizeof json, stamp, s_names[level], comp, line);
        fprintf(log->sink, "%s\n", json);
    } else {
        // one write per line, so lines from several processes do not
        // interleave
        fprintf(log->sink, "%s\n", line);
    }
    fflush(log->sink);
}

int
pl_log_format_parse(const char *text, pl_log_format_t *out)
{
    if (text && strcmp(text, "text") == 0) {
        *out = PL_LOG_TEXT;
        return 0;
    }
    if (text && strcmp(text, "json") == 0) {
        *out = PL_LOG_JSON;
        return 0;
    }
    return -1;
}

const char *
pl_log_format_name(pl_log_format_t format)
{
    return format == PL_LOG_JSON ? "json" : "text";
}

pl_log_level_t
pl_log_level_parse(const char *text)
{
    if (!text)
        return PL_LOG_INFO;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(text, s_names[i]) == 0)
            return (pl_log_level_t) i;
    if (strcasecmp(text, "warning") == 0)
        return PL_LOG_WARN;
    return PL_LOG_INFO;
}

bool
pl_log_budget(pl_log_budget_t *b, uint64_t now_ms, uint32_t lines,
              uint64_t window_ms, uint64_t *quiet, bool *last)
{
    if (!b->start_ms || now_ms - b->start_ms >= window_ms) {
        b->start_ms = now_ms ? now_ms : 1;
        b->lines = 0;
    }
    if (b->lines >= lines) {
        b->quiet++;
        return false;
    }
    *quiet = b->quiet;
    b->quiet = 0;
    *last = ++b->lines == lines;
    return true;
}
