// pl_index - a hash index from byte keys to entry numbers of an array its
// owner keeps (the broker's sessions by routing id and by address, its
// figures by address: issue 20, thousands of connected nodes). Layer:
// broker.
//
// The index holds no keys: it holds a keyed hash (SipHash-2-4 under a
// random key of its own, so a node choosing its routing id cannot make
// the probes long) and the entry's number; a lookup confirms a candidate
// with the owner's 'eq'. Open addressing, linear probing, backward-shift
// deletion, at most half full. A zeroed pl_index_t is an empty index.
#ifndef PL_INDEX_H
#define PL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_INDEX_NONE ((size_t) -1) // "not found"

typedef struct {
    uint64_t hash; // keyed hash of the entry's key
    size_t entry;  // the entry's number + 1; 0: empty slot
} pl_index_slot_t;

typedef struct {
    pl_index_slot_t *slots; // cap slots, or NULL
    size_t cap;             // a power of two, or 0
    size_t n;               // slots in use
    uint8_t seed[16];       // hash key, drawn on the first put
} pl_index_t;

// True when entry number 'entry' of the owner's array 'arg' has this key.
typedef bool (*pl_index_eq_fn)(const void *arg, size_t entry, const void *key,
                               size_t len);

// The entry whose key is key[0..len), or PL_INDEX_NONE.
size_t pl_index_find(const pl_index_t *self, const void *key, size_t len,
                     pl_index_eq_fn eq, const void *arg);
// Adds 'entry' under key[0..len) (the caller has made sure it is not in
// yet). 0, or -1 when out of memory (the index unchanged).
int pl_index_put(pl_index_t *self, const void *key, size_t len, size_t entry);
// Removes 'entry' filed under key[0..len); nothing if it is not there.
void pl_index_del(pl_index_t *self, const void *key, size_t len, size_t entry);
// The entry filed under key[0..len) as 'from' is now number 'to' (the
// owner moved it in its array).
void pl_index_renumber(pl_index_t *self, const void *key, size_t len,
                       size_t from, size_t to);
// Frees the slots; the index is empty (and usable) again.
void pl_index_clear(pl_index_t *self);

#endif
