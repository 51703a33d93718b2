// pl_suppress - the one small-number suppression of the coordination
// view (issue 15, DESIGN.md §8). Layer: domain (pure: no store, no I/O).
// Every figure derived from people (counts, medians) passes through here
// before any output (CLI, web page, JSON API, CSV export).
//
// A table is rows x cols counts with their row totals, column totals and
// grand total: the "extended" table of (rows + 1) x (cols + 1) entries,
// row-major, where entry [i][cols] is row i's total, [rows][j] column j's
// total and [rows][cols] the grand total (pl_suppress_totals fills them).
// pl_suppress_table marks:
//   - primary: every entry of 1..4 (shown as "<5");
//   - complementary: in every line (a row or a column, totals included)
//     that has exactly one hidden entry, one more entry is hidden (the
//     smallest non-zero one shown, a cell before a total), so that no
//     hidden entry is the difference of a total and what is shown. Repeated
//     until no line has a single hidden entry (shown as "*").
// Zero is shown (it reveals nobody).
#ifndef PL_SUPPRESS_H
#define PL_SUPPRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_SUPPRESS_MIN 5 // counts below it (and above 0) are hidden

typedef enum {
    PL_SUP_SHOWN = 0,     // the figure is shown
    PL_SUP_PRIMARY,       // 1..4: "<5"
    PL_SUP_COMPLEMENTARY, // hidden so that a "<5" cannot be recovered: "*"
} pl_sup_t;

// Fills the totals of the extended table 'v' ((rows+1) x (cols+1)).
void pl_suppress_totals(uint64_t *v, size_t rows, size_t cols);

// Marks every entry of the extended table 'v' in 'mark' (same shape).
void pl_suppress_table(const uint64_t *v, size_t rows, size_t cols,
                       pl_sup_t *mark);

// The JSON of one marked figure: an integer, "<5" or "*". New reference.
json_t *pl_suppress_json(uint64_t v, pl_sup_t mark);

// The text of one marked figure ("12", "<5", "*") into buf (>= 24 bytes).
const char *pl_suppress_text(uint64_t v, pl_sup_t mark, char *buf, size_t n);

// A median over 'n' items is shown only when n >= PL_SUPPRESS_MIN.
bool pl_suppress_median_ok(uint64_t n);

// A rate num/den (0..1) is shown only when both are shown figures and
// den >= PL_SUPPRESS_MIN.
bool pl_suppress_rate_ok(uint64_t num, pl_sup_t num_mark, uint64_t den,
                         pl_sup_t den_mark);

#endif
