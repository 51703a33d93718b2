// pl_sector_data - the minimum-data table (DESIGN.md §6): which personal
// fields of a person a referral may carry to each sector. Layer: nodes.
// Pure logic.
//
//   every service sector:        given, family, birth, sex, language
//   health, mhpss, housing,
//   child-protection, gbv:       + phone
//   coordination, broker:        nothing identifying
//
// "Every service sector" is every contract sector code except coordination
// and broker, the agency included (it receives re-referrals and handovers).
// An unknown sector gets nothing.
//
// Data categories (what a consent record covers, pl_consent.h) group the
// fields: "identity" = given, family, birth, sex, language; "contact" =
// phone. The field names are those of the Person message and of the
// `person` object of `show --json`.
#ifndef PL_SECTOR_DATA_H
#define PL_SECTOR_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

// ---- personal fields (bits)
enum {
    PL_FIELD_GIVEN = 1u << 0,    // "given": given name
    PL_FIELD_FAMILY = 1u << 1,   // "family": family name
    PL_FIELD_BIRTH = 1u << 2,    // "birth": birth date YYYY-MM-DD
    PL_FIELD_SEX = 1u << 3,      // "sex"
    PL_FIELD_LANGUAGE = 1u << 4, // "language": preferred language
    PL_FIELD_PHONE = 1u << 5,    // "phone"
};
#define PL_FIELD_COUNT 6
#define PL_FIELD_ALL   ((1u << PL_FIELD_COUNT) - 1)

// ---- data categories (bits), for consent
enum {
    PL_DATA_IDENTITY = 1u << 0, // "identity": names, birth, sex, language
    PL_DATA_CONTACT = 1u << 1,  // "contact": phone
};
#define PL_DATA_COUNT 2
#define PL_DATA_ALL   ((1u << PL_DATA_COUNT) - 1)

// The fields a referral to 'sector' may carry (0: nothing identifying, or
// an unknown sector).
uint32_t pl_sector_data_fields(const char *sector);
// The data categories those fields belong to, for the consent check.
uint32_t pl_sector_data_categories(const char *sector);
// The categories that a set of fields touches.
uint32_t pl_sector_data_fields_categories(uint32_t fields);

// Name of one field bit ("given", ...) or one category bit ("identity",
// ...); NULL when 'bit' is not exactly one known bit. Static text.
const char *pl_sector_data_field_name(uint32_t bit);
const char *pl_sector_data_category_name(uint32_t bit);
// Parse one name into its bit. PL_EINVAL for anything else.
PL_MUST_CHECK int pl_sector_data_field_parse(const char *name, uint32_t *bit);
PL_MUST_CHECK int pl_sector_data_category_parse(const char *name,
                                                uint32_t *bit);
// Parse a comma-separated list of category names ("identity,contact") into
// a mask. PL_EINVAL on an unknown or empty name.
PL_MUST_CHECK int pl_sector_data_categories_parse(const char *list,
                                                  uint32_t *mask);

// Comma-joined names of the fields / categories in 'mask' ("" for none),
// in table order, into out (size bytes). Returns the length the full text
// needs, like snprintf: the text was cut when the result >= size.
size_t pl_sector_data_fields_text(uint32_t mask, char *out, size_t size);
size_t pl_sector_data_categories_text(uint32_t mask, char *out, size_t size);

// The whole table as text (one line per sector code, for the README and
// --help), into out; returns the length needed, like snprintf.
size_t pl_sector_data_table(char *out, size_t size);

#endif
