// pl_sector_data - the minimum-data table. Layer: nodes. See the header.
#include "nodes/pl_sector_data.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_BASE                                                                 \
    (PL_FIELD_GIVEN | PL_FIELD_FAMILY | PL_FIELD_BIRTH | PL_FIELD_SEX          \
     | PL_FIELD_LANGUAGE)
#define S_PHONE (S_BASE | PL_FIELD_PHONE)

// One row per contract sector code (pl_sector_list(), proto/pl_cert.c; a
// test checks the two lists agree).
static const struct {
    const char *sector; // contract sector code
    uint32_t fields;    // PL_FIELD_* it may receive
} s_table[] = {
    {"agency", S_BASE},
    {"health", S_PHONE},
    {"mhpss", S_PHONE},
    {"education", S_BASE},
    {"tvet", S_BASE},
    {"housing", S_PHONE},
    {"child-protection", S_PHONE},
    {"gbv", S_PHONE},
    {"legal", S_BASE},
    {"livelihood", S_BASE},
    {"social-protection", S_BASE},
    {"basic-needs", S_BASE},
    {"family-tracing", S_BASE},
    {"coordination", 0}, // aggregates only, never a person
    {"broker", 0},       // routes sealed envelopes; reads nothing
};
#define S_NROWS (sizeof s_table / sizeof s_table[0])

// Field bit i is named s_fields[i].name and belongs to category .category.
static const struct {
    const char *name;  // Person field name
    uint32_t category; // PL_DATA_* bit
} s_fields[PL_FIELD_COUNT] = {
    {"given", PL_DATA_IDENTITY},    {"family", PL_DATA_IDENTITY},
    {"birth", PL_DATA_IDENTITY},    {"sex", PL_DATA_IDENTITY},
    {"language", PL_DATA_IDENTITY}, {"phone", PL_DATA_CONTACT},
};

static const char *const s_categories[PL_DATA_COUNT] = {"identity", "contact"};

// Index of a single-bit 'bit' below 'n' bits, or -1.
static int
s_bit_index(uint32_t bit, int n)
{
    for (int i = 0; i < n; i++)
        if (bit == (1u << i))
            return i;
    return -1;
}

uint32_t
pl_sector_data_fields(const char *sector)
{
    if (!sector)
        return 0;
    for (size_t i = 0; i < S_NROWS; i++)
        if (strcmp(sector, s_table[i].sector) == 0)
            return s_table[i].fields;
    return 0;
}

uint32_t
pl_sector_data_fields_categories(uint32_t fields)
{
    uint32_t mask = 0;
    for (int i = 0; i < PL_FIELD_COUNT; i++)
        if (fields & (1u << i))
            mask |= s_fields[i].category;
    return mask;
}

uint32_t
pl_sector_data_categories(const char *sector)
{
    return pl_sector_data_fields_categories(pl_sector_data_fields(sector));
}

const char *
pl_sector_data_field_name(uint32_t bit)
{
    int i = s_bit_index(bit, PL_FIELD_COUNT);
    return i < 0 ? NULL : s_fields[i].name;
}

const char *
pl_sector_data_category_name(uint32_t bit)
{
    int i = s_bit_index(bit, PL_DATA_COUNT);
    return i < 0 ? NULL : s_categories[i];
}

int
pl_sector_data_field_parse(const char *name, uint32_t *bit)
{
    for (int i = 0; name && i < PL_FIELD_COUNT; i++)
        if (strcmp(name, s_fields[i].name) == 0) {
            *bit = 1u << i;
            return PL_OK;
        }
    return PL_EINVAL;
}

int
pl_sector_data_category_parse(const char *name, uint32_t *bit)
{
    for (int i = 0; name && i < PL_DATA_COUNT; i++)
        if (strcmp(name, s_categories[i]) == 0) {
            *bit = 1u << i;
            return PL_OK;
        }
    return PL_EINVAL;
}

int
pl_sector_data_categories_parse(const char *list, uint32_t *mask)
{
    if (!list || !*list)
        return PL_EINVAL;
    uint32_t m = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t) (end - p) : strlen(p);
        char name[32];
        uint32_t bit;
        if (n == 0 || n >= sizeof name)
            return PL_EINVAL;
        memcpy(name, p, n);
        name[n] = '\0';
        if (pl_sector_data_category_parse(name, &bit) != PL_OK)
            return PL_EINVAL;
        m |= bit;
        if (!end)
            break;
        p = end + 1;
    }
    *mask = m;
    return PL_OK;
}

// snprintf-like appender: keeps the needed length in *len, writes what fits.
static void s_append(char *out, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_append(char *out, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *dst = (out && *len < size) ? out + *len : NULL;
    size_t room = dst ? size - *len : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t) n;
}

static size_t
s_names_text(uint32_t mask, const char *(*name)(uint32_t), int count, char *out,
             size_t size)
{
    size_t len = 0;
    if (out && size)
        out[0] = '\0';
    for (int i = 0; i < count; i++)
        if (mask & (1u << i))
            s_append(out, size, &len, "%s%s", len ? "," : "", name(1u << i));
    return len;
}

size_t
pl_sector_data_fields_text(uint32_t mask, char *out, size_t size)
{
    return s_names_text(mask, pl_sector_data_field_name, PL_FIELD_COUNT, out,
                        size);
}

size_t
pl_sector_data_categories_text(uint32_t mask, char *out, size_t size)
{
    return s_names_text(mask, pl_sector_data_category_name, PL_DATA_COUNT, out,
                        size);
}

size_t
pl_sector_data_table(char *out, size_t size)
{
    size_t len = 0;
    if (out && size)
        out[0] = '\0';
    s_append(out, size, &len, "%-18s", "sector");
    // the last column unpadded: no trailing blanks in the README
    for (int i = 0; i < PL_FIELD_COUNT; i++)
        s_append(out, size, &len, i + 1 < PL_FIELD_COUNT ? " %-8s" : " %s",
                 s_fields[i].name);
    s_append(out, size, &len, "\n");
    for (size_t r = 0; r < S_NROWS; r++) {
        s_append(out, size, &len, "%-18s", s_table[r].sector);
        if (s_table[r].fields == 0) {
            s_append(out, size, &len, " (nothing identifying)\n");
            continue;
        }
        for (int i = 0; i < PL_FIELD_COUNT; i++)
            s_append(out, size, &len, i + 1 < PL_FIELD_COUNT ? " %-8s" : " %s",
                     (s_table[r].fields & (1u << i)) ? "x" : "-");
        s_append(out, size, &len, "\n");
    }
    return len;
}
