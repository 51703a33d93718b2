// pl_dirset - a directory as a set of items (issue 20): each certificate,
// revocation list, anchor, foreign certificate, foreign list and catalogue
// of a DirectoryResponse (fields 1-6), packed, named by BLAKE2b-128 of its
// field number and bytes. The directory's digest is BLAKE2b-256 of the
// sorted names: it does not depend on the order of the items, so a node
// can compute it from what it stored, and a change is sent as the names
// removed and the items added since the digest the node holds. Layer:
// proto.
#ifndef PL_DIRSET_H
#define PL_DIRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_wire.h"

#define PL_DIRSET_NAME   16 // bytes of an item's name
#define PL_DIRSET_DIGEST 32 // bytes of a set's digest

typedef struct {
    uint8_t name[PL_DIRSET_NAME]; // BLAKE2b-128(field || bytes)
    uint8_t field;                // DirectoryResponse field, 1-6
    uint8_t *data;                // the item, packed (owned)
    size_t len;
    bool gone; // marked by pl_dirset_remove, dropped by pl_dirset_finish
} pl_dirset_item_t;

typedef struct {
    pl_dirset_item_t *v; // sorted by name, unique (after pl_dirset_finish)
    size_t n, cap;
} pl_dirset_t;

// Appends a copy of one packed item of DirectoryResponse field 'field';
// call pl_dirset_finish before any lookup. PL_EINVAL: not a field 1-6.
PL_MUST_CHECK int pl_dirset_add(pl_dirset_t *s, unsigned field,
                                const uint8_t *data, size_t len);

// Sorts by name; drops duplicates and the items marked gone.
void pl_dirset_finish(pl_dirset_t *s);

// Every item of r's fields 1-6, packed, in a finished set.
PL_MUST_CHECK int
pl_dirset_from_response(const Passerelle__V1__DirectoryResponse *r,
                        pl_dirset_t *out);

// The item named 'name' in a finished set, or NULL.
pl_dirset_item_t *pl_dirset_find(const pl_dirset_t *s,
                                 const uint8_t name[PL_DIRSET_NAME]);

void pl_dirset_digest(const pl_dirset_t *s, uint8_t out[PL_DIRSET_DIGEST]);
// The same digest from 'n' sorted names alone (a kept history).
void pl_dirset_digest_names(const uint8_t (*names)[PL_DIRSET_NAME], size_t n,
                            uint8_t out[PL_DIRSET_DIGEST]);

// The items of s (those with pick[i] set, all when pick is NULL) unpacked
// into out's fields 1-6 (out's other fields untouched). Free with
// pl_dirset_response_free. PL_EPROTO: an item does not unpack, or two
// revocation lists of our own.
PL_MUST_CHECK int pl_dirset_response(const pl_dirset_t *s, const bool *pick,
                                     Passerelle__V1__DirectoryResponse *out);
void pl_dirset_response_free(Passerelle__V1__DirectoryResponse *r);

void pl_dirset_free(pl_dirset_t *s);

#endif
