// pl_teststore - a node store in a temp folder for unit tests that run
// node code without a daemon: /tmp/pl-<tag>-<random> with keys/ (0700, the
// master key created there on open) and store/. Layer: tests (nodes): in
// the library pl_testnodes, linked by the tests of tests/nodes/.
#ifndef PL_TESTSTORE_H
#define PL_TESTSTORE_H

#include <stddef.h>

#include "nodes/pl_store.h"

typedef struct {
    char *home;        // the temp folder (malloc'd)
    pl_store_t *store; // home/store, master key home/keys/master.secret
} pl_teststore_t;

// Creates the folder and opens a store with a map of 'map_bytes'. Aborts
// the test on failure.
void pl_teststore_open(pl_teststore_t *t, const char *tag, size_t map_bytes);
// Closes the store (if still open) and removes the folder. NULL-safe.
void pl_teststore_close(pl_teststore_t *t);

#endif
