// pl_fakectx - a fake handler context (pl_node_ctx_t, nodes/pl_node_ctx.h)
// for unit tests of the control rooms without a daemon (issue 20): a temp
// store, fresh keys, this node's certificate, a directory the test fills
// with peers, fake services (an outbox that records what the handlers
// sent, directory lookups, directory requests counted), an optional staff
// session table, and the control rows run as the daemon's walker runs
// them. Layer: tests (nodes), in the library pl_testnodes.
#ifndef PL_FAKECTX_H
#define PL_FAKECTX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes/pl_node_ctx.h"
#include "nodes/pl_session.h"
#include "tests/lib/nodes/pl_teststore.h"

#define PL_FAKECTX_DIR_MAX  8  // peers in the directory
#define PL_FAKECTX_SENT_MAX 32 // envelopes the fake outbox records

// One envelope a handler committed to the fake outbox.
typedef struct {
    int kind;                    // S_KIND_* (nodes/pl_msg_kind.h)
    char to[PL_ADDRESS_MAX + 1]; // its recipient
    uint8_t id[PL_MSG_ID_BYTES]; // the id the outbox gave back
    uint8_t *msg;                // the encoded Message (a copy, owned,
                                 // wiped when freed)
    size_t msg_len;              // its bytes
    uint64_t ttl;                // the ttl asked for
} pl_fakectx_sent_t;

typedef struct {
    pl_teststore_t ts;                       // home folder and store
    pl_keys_t *keys;                         // this node's fresh keys
    pl_cert_t me;                            // its certificate, sn/NAME
    pl_cert_t dir[PL_FAKECTX_DIR_MAX];       // the directory, as added
    pl_keys_t *dir_keys[PL_FAKECTX_DIR_MAX]; // a peer's keys (or NULL)
    pl_node_svc_t svc;                       // the fake services (a test may
                                             // set more: state, publish)
    pl_node_ctx_t ctx;                       // what the handlers see
    pl_sessions_t *sessions;                 // NULL until pl_fakectx_sessions
    int outbox_rc;                           // outbox_add returns it if not OK
    int sent;                                // envelopes committed
    pl_fakectx_sent_t out[PL_FAKECTX_SENT_MAX]; // what they were
    int asked;                                  // directory requests
} pl_fakectx_t;

// A fake for this node "sn/'name'" of 'sector', its store in
// /tmp/pl-'tag'-<random> (8 MiB map), an empty directory. Aborts the test
// on failure. Free with pl_fakectx_free (NULL-safe, sets *f_p to NULL).
pl_fakectx_t *pl_fakectx_new(const char *tag, const char *name,
                             const char *sector);
void pl_fakectx_free(pl_fakectx_t **f_p);
// A certificate as the directory cache holds it (verified, so unsigned):
// network sn, address sn/'name', 'sector', country SN, region dakar, the
// public keys of 'keys' (may be NULL: zero keys).
void pl_fakectx_cert(pl_cert_t *c, const char *name, const char *sector,
                     const pl_keys_t *keys);
// Adds peer "sn/'name'" to the directory (the context sees it; add them
// in address order, as the daemon's cache is sorted); with 'keyed' fresh
// keys for it in dir_keys. The certificate, for the test to change.
pl_cert_t *pl_fakectx_peer(pl_fakectx_t *f, const char *name,
                           const char *sector, bool keyed);
// Gives the context a staff session table (pl_sessions_new(0, 0)).
void pl_fakectx_sessions(pl_fakectx_t *f);

// cmocka setup and teardown: *state becomes the fake of a social agency,
// "sn/agency", with a health clinic "sn/clinic" in its directory; the
// second setup adds a session table. The teardown frees any fake.
int pl_fakectx_setup(void **state);
int pl_fakectx_setup_sessions(void **state);
int pl_fakectx_teardown(void **state);

// Runs control command 'cmd' with 'args' (stolen, may be NULL) as staff
// member 'as' (may be NULL) as the daemon's walker does: its row found by
// pl_node_ctl_find and run by pl_node_ctl_run in a nested transaction that
// is committed when the handler's code is PL_OK, aborted otherwise; an
// unknown command is answered PL_EINVAL as the dispatch answers it.
// Returns the parsed reply (json_decref it); *rc (may be NULL) gets the
// handler's code.
json_t *pl_fakectx_run(pl_fakectx_t *f, const char *cmd, json_t *args,
                       const char *as, int *rc);
// 'reply' (consumed): its "result" (a new reference) when it is ok, else
// the whole reply.
json_t *pl_fakectx_unwrap(json_t *reply);
// Whether a reply is ok; its "code", or "(ok)" when it has none.
bool pl_fakectx_ok(const json_t *reply);
const char *pl_fakectx_code(const json_t *reply);
// Records in 'db' of the store now.
size_t pl_fakectx_count(pl_fakectx_t *f, pl_db_t db);

#endif
