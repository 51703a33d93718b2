// pl_log - one line per event, "LEVEL event key=value ...". Layer: proto.
//
// A pl_log_t is passed to whatever logs (NULL = silent). Library code never
// writes to stdout/stderr itself; daemons pick the sink. Never log key
// material, envelope bodies or personal data: only ids, addresses, counts,
// reason codes and short key fingerprints.
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdio.h>

typedef enum {
    PL_LOG_ERROR = 0,
    PL_LOG_WARN = 1,
    PL_LOG_INFO = 2,
    PL_LOG_DEBUG = 3,
} pl_log_level_t;

typedef struct pl_log {
    FILE *sink;            // where lines go (borrowed), e.g. stderr
    pl_log_level_t level;  // lines above this level are skipped
    const char *component; // "broker", "node", ... (borrowed, static)
} pl_log_t;

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

// Parses "error|warn|info|debug"; returns PL_LOG_INFO for anything else.
pl_log_level_t pl_log_level_parse(const char *text);

#endif
