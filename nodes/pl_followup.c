// pl_followup - the follow-up schedule (see pl_followup.h). Layer: nodes,
// domain. Pure.
#include "nodes/pl_followup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const s_names[] = {"upcoming", "due", "overdue", "done",
                                      "closed"};

const char *
pl_fu_state_name(pl_fu_state_t s)
{
    return (unsigned) s < sizeof s_names / sizeof s_names[0] ? s_names[s] : "?";
}

int
pl_fu_months_parse(const char *text, unsigned months[PL_FU_MAX], size_t *n)
{
    *n = 0;
    if (!text || !*text)
        return -1;
    const char *p = text;
    unsigned last = 0;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9' || *n == PL_FU_MAX)
            return -1;
        unsigned long m = strtoul(p, &end, 10);
        if (m <= last || m > PL_FU_MONTHS || (*end && *end != ','))
            return -1;
        months[(*n)++] = (unsigned) m;
        last = (unsigned) m;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1; // a trailing comma
    }
    return 0;
}

static bool
s_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

uint64_t
pl_fu_add_months(uint64_t t, unsigned m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    int mon = tm.tm_mon + (int) m;
    tm.tm_year += mon / 12;
    tm.tm_mon = mon % 12;
    int last =
        days[tm.tm_mon] + (tm.tm_mon == 1 && s_leap(tm.tm_year + 1900) ? 1 : 0);
    if (tm.tm_mday > last)
        tm.tm_mday = last;
    return (uint64_t) timegm(&tm);
}

void
pl_fu_plan(uint64_t ret, const unsigned *months, size_t n, pl_fu_entry_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (pl_fu_entry_t){.months = months[i],
                                 .due = pl_fu_add_months(ret, months[i])};
}

pl_fu_state_t
pl_fu_state(const pl_fu_entry_t *e, uint64_t now, uint64_t closed)
{
    if (e->done)
        return PL_FU_DONE;
    if (closed)
        return PL_FU_CLOSED;
    if (now + PL_FU_EARLY < e->due)
        return PL_FU_UPCOMING;
    if (now <= e->due + PL_FU_GRACE)
        return PL_FU_DUE;
    return PL_FU_OVERDUE;
}
