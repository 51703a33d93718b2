// pl_log - line logger. Layer: proto.
#include "proto/pl_log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static const char *s_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

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
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, s_names[level],
                     log->component ? log->component : "-");
    if (n < 0 || (size_t) n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    va_end(ap);
    // one write per line, so lines from several processes do not interleave
    fprintf(log->sink, "%s\n", line);
    fflush(log->sink);
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
