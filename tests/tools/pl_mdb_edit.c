// pl-mdb-edit - test-only tool: deletes or sets one record of one named
// database of an LMDB environment, in one write transaction, leaving every
// other record (and every database's flags) as it is. For the store format
// tests (tests/packaging/test_store_format.sh), which make stores of an
// older or newer format from stores of this one.
//   pl-mdb-edit DIR DB KEY          delete record KEY (text) of DB
//   pl-mdb-edit DIR DB KEY HEX      set it to the bytes HEX
// Exit 0 done, 1 failed (a message on stderr), 2 usage.
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_util.h"

int
main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: pl-mdb-edit DIR DB KEY [HEXVALUE]\n");
        return 2;
    }
    uint8_t val[256];
    size_t vlen = 0;
    if (argc == 5) {
        vlen = strlen(argv[4]) / 2;
        if (vlen == 0 || vlen > sizeof val || strlen(argv[4]) % 2
            || pl_unhex(val, vlen, argv[4]) != 0) {
            fprintf(stderr, "pl-mdb-edit: bad hex value\n");
            return 2;
        }
    }
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 64);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, (size_t) 1 << 30);
    if (rc == 0)
        rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, argv[2], 0, &dbi);
    MDB_val k = {strlen(argv[3]), argv[3]}, v = {vlen, val};
    if (rc == 0)
        rc = argc == 5 ? mdb_put(txn, dbi, &k, &v, 0)
                       : mdb_del(txn, dbi, &k, NULL);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (rc != 0) {
        fprintf(stderr, "pl-mdb-edit: %s %s %s: %s\n", argv[1], argv[2],
                argv[3], mdb_strerror(rc));
        return 1;
    }
    return 0;
}
