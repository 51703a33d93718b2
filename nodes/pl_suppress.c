// pl_suppress - small-number suppression (see pl_suppress.h). Layer:
// domain.
#include "nodes/pl_suppress.h"

#include <stdio.h>

void
pl_suppress_totals(uint64_t *v, size_t rows, size_t cols)
{
    size_t w = cols + 1;
    for (size_t i = 0; i <= rows; i++)
        v[i * w + cols] = 0;
    for (size_t j = 0; j < cols; j++)
        v[rows * w + j] = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            uint64_t x = v[i * w + j];
            v[i * w + cols] += x;
            v[rows * w + j] += x;
            v[rows * w + cols] += x;
        }
}

// One line of the extended table: 'n' entries from 'first', 'step' apart;
// its last entry is the line's total.
typedef struct {
    size_t first, step, n;
} s_line_t;

// Hides one more entry of a line that has exactly one hidden entry: the
// smallest non-zero shown cell, else the total, else a shown zero. true
// when an entry was hidden.
static bool
s_complete_line(const uint64_t *v, pl_sup_t *mark, s_line_t l)
{
    size_t hidden = 0, cell = SIZE_MAX, zero = SIZE_MAX;
    size_t total = l.first + (l.n - 1) * l.step;
    for (size_t k = 0; k < l.n; k++) {
        size_t at = l.first + k * l.step;
        if (mark[at] != PL_SUP_SHOWN)
            hidden++;
        else if (at == total)
            continue;
        else if (v[at] == 0 && zero == SIZE_MAX)
            zero = at;
        else if (v[at] && (cell == SIZE_MAX || v[at] < v[cell]))
            cell = at;
    }
    if (hidden != 1)
        return false;
    size_t pick = cell != SIZE_MAX              ? cell
                  : mark[total] == PL_SUP_SHOWN ? total
                                                : zero;
    if (pick == SIZE_MAX)
        return false; // a line of one entry: nothing to pair with
    mark[pick] = PL_SUP_COMPLEMENTARY;
    return true;
}

void
pl_suppress_table(const uint64_t *v, size_t rows, size_t cols, pl_sup_t *mark)
{
    size_t w = cols + 1, all = (rows + 1) * w;
    for (size_t k = 0; k < all; k++)
        mark[k] =
            v[k] > 0 && v[k] < PL_SUPPRESS_MIN ? PL_SUP_PRIMARY : PL_SUP_SHOWN;
    // each pass hides at least one more entry, or stops: bounded by 'all'
    for (size_t pass = 0; pass <= all; pass++) {
        bool changed = false;
        for (size_t i = 0; i <= rows; i++)
            changed |= s_complete_line(v, mark, (s_line_t){i * w, 1, w});
        for (size_t j = 0; j <= cols; j++)
            changed |= s_complete_line(v, mark, (s_line_t){j, w, rows + 1});
        if (!changed)
            break;
    }
}

json_t *
pl_suppress_json(uint64_t v, pl_sup_t mark)
{
    if (mark == PL_SUP_PRIMARY)
        return json_string("<5");
    if (mark == PL_SUP_COMPLEMENTARY)
        return json_string("*");
    return json_integer((json_int_t) v);
}

const char *
pl_suppress_text(uint64_t v, pl_sup_t mark, char *buf, size_t n)
{
    if (mark == PL_SUP_PRIMARY)
        snprintf(buf, n, "<5");
    else if (mark == PL_SUP_COMPLEMENTARY)
        snprintf(buf, n, "*");
    else
        snprintf(buf, n, "%llu", (unsigned long long) v);
    return buf;
}

bool
pl_suppress_median_ok(uint64_t n)
{
    return n >= PL_SUPPRESS_MIN;
}

bool
pl_suppress_rate_ok(uint64_t num, pl_sup_t num_mark, uint64_t den,
                    pl_sup_t den_mark)
{
    (void) num;
    return num_mark == PL_SUP_SHOWN && den_mark == PL_SUP_SHOWN
           && den >= PL_SUPPRESS_MIN;
}
