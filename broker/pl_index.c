// pl_index - a keyed-hash index of entry numbers (see pl_index.h).
// Layer: broker.
#include "broker/pl_index.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_MIN_CAP 64 // slots of the first table

static uint64_t
s_hash(const pl_index_t *self, const void *key, size_t len)
{
    uint8_t out[crypto_shorthash_BYTES];
    crypto_shorthash(out, key, len, self->seed);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

// the slot holding 'entry' (number + 1) with hash 'h', or cap
static size_t
s_slot_of(const pl_index_t *self, uint64_t h, size_t entry1)
{
    size_t mask = self->cap - 1;
    for (size_t i = h & mask, k = 0; k < self->cap; i = (i + 1) & mask, k++) {
        const pl_index_slot_t *s = &self->slots[i];
        if (s->entry == 0)
            break;
        if (s->hash == h && s->entry == entry1)
            return i;
    }
    return self->cap;
}

static void
s_insert(pl_index_slot_t *slots, size_t cap, uint64_t h, size_t entry1)
{
    size_t mask = cap - 1, i = h & mask;
    while (slots[i].entry != 0)
        i = (i + 1) & mask;
    slots[i].hash = h;
    slots[i].entry = entry1;
}

// doubles the table (or makes the first); 0 or -1
static int
s_grow(pl_index_t *self)
{
    size_t cap = self->cap ? self->cap * 2 : S_MIN_CAP;
    pl_index_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    if (!self->slots)
        randombytes_buf(self->seed, sizeof self->seed);
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].entry != 0)
            s_insert(slots, cap, self->slots[i].hash, self->slots[i].entry);
    free(self->slots);
    self->slots = slots;
    self->cap = cap;
    return 0;
}

size_t
pl_index_find(const pl_index_t *self, const void *key, size_t len,
              pl_index_eq_fn eq, const void *arg)
{
    if (self->n == 0)
        return PL_INDEX_NONE;
    uint64_t h = s_hash(self, key, len);
    size_t mask = self->cap - 1;
    for (size_t i = h & mask, k = 0; k < self->cap; i = (i + 1) & mask, k++) {
        const pl_index_slot_t *s = &self->slots[i];
        if (s->entry == 0)
            break;
        if (s->hash == h && eq(arg, s->entry - 1, key, len))
            return s->entry - 1;
    }
    return PL_INDEX_NONE;
}

int
pl_index_put(pl_index_t *self, const void *key, size_t len, size_t entry)
{
    if (2 * (self->n + 1) > self->cap && s_grow(self) != 0)
        return -1;
    s_insert(self->slots, self->cap, s_hash(self, key, len), entry + 1);
    self->n++;
    return 0;
}

void
pl_index_del(pl_index_t *self, const void *key, size_t len, size_t entry)
{
    if (self->n == 0)
        return;
    size_t mask = self->cap - 1;
    size_t hole = s_slot_of(self, s_hash(self, key, len), entry + 1);
    if (hole == self->cap)
        return;
    // backward shift: pull later slots of the run into the hole when
    // their home is not between the hole and them
    for (size_t i = (hole + 1) & mask;; i = (i + 1) & mask) {
        pl_index_slot_t *s = &self->slots[i];
        if (s->entry == 0)
            break;
        size_t home = s->hash & mask;
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            self->slots[hole] = *s;
            hole = i;
        }
    }
    self->slots[hole].entry = 0;
    self->slots[hole].hash = 0;
    self->n--;
}

void
pl_index_renumber(pl_index_t *self, const void *key, size_t len, size_t from,
                  size_t to)
{
    if (self->n == 0)
        return;
    size_t i = s_slot_of(self, s_hash(self, key, len), from + 1);
    if (i < self->cap)
        self->slots[i].entry = to + 1;
}

void
pl_index_clear(pl_index_t *self)
{
    free(self->slots);
    self->slots = NULL;
    self->cap = self->n = 0;
}
