// pl_teststore - a node store in a temp folder. Layer: tests (nodes).
#include "tests/lib/nodes/pl_teststore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/pl_test.h"

void
pl_teststore_open(pl_teststore_t *t, const char *tag, size_t map_bytes)
{
    memset(t, 0, sizeof *t);
    t->home = pl_test_tmpdir(tag);
    char dir[600], keys[600], key[600], err[256];
    snprintf(dir, sizeof dir, "%s/store", t->home);
    snprintf(keys, sizeof keys, "%s/keys", t->home);
    snprintf(key, sizeof key, "%s/keys/master.secret", t->home);
    PL_CHECK(mkdir(keys, 0700) == 0);
    pl_store_opts_t o = {.map_bytes = map_bytes, .master_path = key};
    int rc = pl_store_open(dir, &o, &t->store, err, sizeof err);
    if (rc != PL_OK)
        fprintf(stderr, "pl_teststore_open: %s\n", err);
    PL_CHECK(rc == PL_OK);
}

void
pl_teststore_close(pl_teststore_t *t)
{
    if (!t)
        return;
    pl_store_close(&t->store);
    if (t->home)
        pl_test_rmrf(t->home);
    free(t->home);
    t->home = NULL;
}
