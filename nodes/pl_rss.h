// pl_rss - scoring of the Reintegration Sustainability Survey (issue 17,
// DOMAIN.md §(c)). Layer: nodes, domain. PURE: no store, no clock, no log;
// the weights come from a versioned table (JSON, data/rss-weights-v1.json
// is the shipped placeholder) and the answers from a JSON object.
//
// Weights table:
//   {"weights_version": "...", "placeholder": bool, "instrument_version":
//    "...", "missing_max_permille": 300,
//    "dimensions": {"economic"|"social"|"psychosocial":
//        {"weight": W, "items": {"E1": {"scale": k, "weight": w,
//                                        "reverse": bool}, ...}}}}
// Answers: {"E1": 4, "E3": "yes", "E2": "refused", ...}: a rank 1..k, or
// "yes"/"no" for a k = 2 item, or "dont_know" | "refused" | "n_a" (missing);
// an item left out is missing too.
//
// Scoring (DOMAIN.md §(c)): x = (rank - 1)/(k - 1), 1 - x when reversed;
// yes = rank 2, no = rank 1. D = sum(w x)/sum(w) over answered items; a
// dimension is invalid when the weight of its missing items is more than
// missing_max_permille of its total weight. C = sum(W D)/sum(W) over the
// valid dimensions (from the unrounded D). Per-mille rounded half up.
#ifndef PL_RSS_H
#define PL_RSS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PL_RSS_DIMS  3
#define PL_RSS_ITEMS 64   // most items a table may have
#define PL_RSS_NONE  (-1) // a score that could not be computed

typedef struct {
    char code[16];  // "E1"
    int dim;        // index into pl_rss_dim_name
    unsigned scale; // k >= 2
    bool reverse;   // a negative item
    double w;       // weight inside its dimension (> 0)
} pl_rss_item_t;

typedef struct {
    char version[64];       // weights_version
    char instrument[64];    // instrument_version
    bool placeholder;       // the equal placeholder weights
    unsigned missing_max;   // per-mille of a dimension's weight
    double dw[PL_RSS_DIMS]; // dimension weights (> 0)
    pl_rss_item_t items[PL_RSS_ITEMS];
    size_t n;
} pl_rss_weights_t;

typedef struct {
    int dim[PL_RSS_DIMS]; // per-mille, PL_RSS_NONE when invalid
    int composite;        // per-mille, PL_RSS_NONE when no dimension valid
    bool valid;           // every dimension valid
    unsigned missing;     // items missing
    int lowest;           // the lowest valid dimension, -1: none
} pl_rss_score_t;

// "economic", "social", "psychosocial" (i < PL_RSS_DIMS).
const char *pl_rss_dim_name(int i);
// The sector the lowest dimension points to (DOMAIN.md §(c)):
// livelihood, social-protection, mhpss; NULL for another i.
const char *pl_rss_sector(int i);
// The built-in table: the same document as data/rss-weights-v1.json.
const char *pl_rss_default_text(void);
// Parses table 'j' into 'w'. 0, or -1 with 'err' (n bytes) saying why.
int pl_rss_weights_parse(const json_t *j, pl_rss_weights_t *w, char *err,
                         size_t n);
// Scores 'answers' with 'w'. 0, or -1 with 'err' (unknown item, rank out
// of range, a value of another type).
int pl_rss_score(const pl_rss_weights_t *w, const json_t *answers,
                 pl_rss_score_t *out, char *err, size_t n);
// x in [0, 1] per-mille, rounded half up.
int pl_rss_permille(double x);
// The report bin of a per-mille score: 0-199 -> 0, ..., 800-1000 -> 4.
int pl_rss_bin(int pm);

#endif
