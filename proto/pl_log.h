// pl_log - one line per event, "LEVEL event key=value ...". Layer: proto.
//
// A pl_log_t is passed to whatever logs (NULL = silent). Library code never
// writes to stdout/stderr itself; daemons pick the sink. Never log key
// material, envelope bodies or personal data: only ids, addresses, counts,
// reason codes and short key fingerprints.
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    PL_LOG_ERROR = 0,
    PL_LOG_WARN = 1,
    PL_LOG_INFO = 2,
    PL_LOG_DEBUG = 3,
} pl_log_level_t;

// How a line is written: "TIME LEVEL component event key=value ..." (text,
// the default), or the same fields as one JSON object per line (json):
// {"ts":"TIME","level":"INFO","component":"node","event":"...",key:value...}
// (values are strings; words that are not key=value go to "msg").
typedef enum {
    PL_LOG_TEXT = 0,
    PL_LOG_JSON = 1,
} pl_log_format_t;

typedef struct pl_log {
    FILE *sink;            // where lines go (borrowed), e.g. stderr
    pl_log_level_t level;  // lines above this level are skipped
    const char *component; // "broker", "node", ... (borrowed, static)
} pl_log_t;

// The format of every line this process writes: one process-wide setting
// (not a pl_log_t field, so that every existing pl_log_t initialiser stays
// as it is), set once by a daemon's main before any thread starts.
void pl_log_set_format(pl_log_format_t format);

// Writes one line if 'log' is not NULL and 'level' is enabled. Prefer the
// macros below, which skip formatting for disabled levels.
void pl_log_write(pl_log_t *log, pl_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define pl_log_at(log, lvl, ...)                                               \
    do {                                                                       \
        pl_log_t *pl_log_l_ = (log);                                           \
        if (pl_log_l_ && (lvl) <= pl_log_l_->level)                            \
            pl_log_write(pl_log_l_, (lvl), __VA_ARGS__);                       \
    } while (0)
#define pl_log_error(log, ...) pl_log_at(log, PL_LOG_ERROR, __VA_ARGS__)
#define pl_log_warn(log, ...)  pl_log_at(log, PL_LOG_WARN, __VA_ARGS__)
#define pl_log_info(log, ...)  pl_log_at(log, PL_LOG_INFO, __VA_ARGS__)
#define pl_log_debug(log, ...) pl_log_at(log, PL_LOG_DEBUG, __VA_ARGS__)

// "text" or "json" into *out: 0, or -1 for anything else.
int pl_log_format_parse(const char *text, pl_log_format_t *out);
const char *pl_log_format_name(pl_log_format_t format);

// Writes the text line 'line' ("event key=value key=\"quoted value\" ...")
// as the JSON object described above into 'out' (always NUL-terminated;
// cut at 'n' bytes, still one valid object). For tests and pl_log_write.
void pl_log_json_line(char *out, size_t n, const char *ts, const char *level,
                      const char *component, const char *line);

// Parses "error|warn|info|debug"; returns PL_LOG_INFO for anything else.
pl_log_level_t pl_log_level_parse(const char *text);

// A budget of lines of one kind: a peer that sends a storm of bad packets
// must not fill a disk with one WARN line each. Zero-initialised.
typedef struct {
    uint64_t start_ms; // monotonic start of the window (0: none yet)
    uint32_t lines;    // lines written in it
    uint64_t quiet;    // events not logged since the last line
} pl_log_budget_t;

// Whether one more line fits in 'b' at monotonic time 'now_ms': at most
// 'lines' a window of 'window_ms'. Else the event is counted as quiet. On
// true, *quiet is how many were left out before this line (to be said in
// it), and *last is true when it uses the window's last line (the caller
// then says that the next ones are counted, not logged).
bool pl_log_budget(pl_log_budget_t *b, uint64_t now_ms, uint32_t lines,
                   uint64_t window_ms, uint64_t *quiet, bool *last);

#endif
