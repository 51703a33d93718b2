// pl_followup - the follow-up schedule of a case (issue 17, DOMAIN.md
// §a7). Layer: nodes, domain. PURE: the clock is an argument.
//
// A schedule is a list of months after the return date (default 1, 3, 6,
// 9, 12, 18; a programme sets its own with `followup months`). Entry m is
// due on the return date plus m calendar months (the day clamped to the
// month's end). Its state at time 'now':
//   done      a follow-up record answers it
//   closed    the case was closed (the schedule is done) before one did
//   upcoming  more than PL_FU_EARLY before the date
//   due       from PL_FU_EARLY before the date to PL_FU_GRACE after it
//   overdue   later than that, with no record
#ifndef PL_FOLLOWUP_H
#define PL_FOLLOWUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_FU_MAX     24            // most entries in a schedule
#define PL_FU_MONTHS  60            // latest month of an entry
#define PL_FU_EARLY   (7 * 86400u)  // the window opens a week before
#define PL_FU_GRACE   (14 * 86400u) // and is overdue two weeks after
#define PL_FU_DEFAULT "1,3,6,9,12,18"

typedef enum {
    PL_FU_UPCOMING,
    PL_FU_DUE,
    PL_FU_OVERDUE,
    PL_FU_DONE,
    PL_FU_CLOSED,
} pl_fu_state_t;

typedef struct {
    unsigned months; // after return
    uint64_t due;    // the date it is due (Unix seconds, 00:00 UTC)
    uint64_t done;   // the follow-up record's time (0: none)
} pl_fu_entry_t;

// "upcoming", "due", "overdue", "done", "closed".
const char *pl_fu_state_name(pl_fu_state_t s);
// Parses "1,3,6" (strictly increasing, 1..PL_FU_MONTHS, at most
// PL_FU_MAX) into months[]; *n their number. 0, or -1 when malformed.
int pl_fu_months_parse(const char *text, unsigned months[PL_FU_MAX], size_t *n);
// 't' plus 'm' calendar months (UTC), the day clamped to the month's end.
uint64_t pl_fu_add_months(uint64_t t, unsigned m);
// The entries of a schedule for return date 'ret' (done = 0).
void pl_fu_plan(uint64_t ret, const unsigned *months, size_t n,
                pl_fu_entry_t *out);
// The state of 'e' at 'now'; 'closed' is when the schedule was set done
// (0: it is not).
pl_fu_state_t pl_fu_state(const pl_fu_entry_t *e, uint64_t now,
                          uint64_t closed);

#endif
