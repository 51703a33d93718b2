// pl_fakectx - a fake handler context (see pl_fakectx.h). Layer: tests
// (nodes).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include "tests/lib/nodes/pl_fakectx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_ctl_reply.h"
#include "nodes/pl_node_ctl.h"
#include "nodes/pl_node_int.h"
#include "proto/pl_crypto.h"
#include "tests/lib/nodes/pl_testctl.h"

// ---- the fake services

// Commits an outbox record as the daemon's would be (the handlers read its
// digest back for their audit entries) and records the envelope. The ids
// count up from 1 in their first byte; the digests are 0xd0 + the count.
static int
s_outbox_add(void *arg, pl_txn_t *txn, const char *to, int kind,
             const uint8_t *msg, size_t msg_len, uint64_t ttl,
             uint8_t id[PL_MSG_ID_BYTES])
{
    pl_fakectx_t *f = arg;
    if (f->outbox_rc != PL_OK)
        return f->outbox_rc;
    assert_true(msg_len > 0);
    assert_true(f->sent < PL_FAKECTX_SENT_MAX);
    pl_outrec_t r = {.state = S_OUT_PENDING, .kind = (uint8_t) kind};
    snprintf(r.to, sizeof r.to, "%s", to);
    memset(id, 0, PL_MSG_ID_BYTES);
    id[0] = (uint8_t) (f->sent + 1);
    memset(r.digest, 0xd0 + f->sent, sizeof r.digest);
    pl_buf_t v = {0};
    int rc = pl_outrec_encode(&r, &v);
    if (rc == PL_OK)
        rc =
            pl_store_put(txn, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, v.data, v.len);
    pl_buf_free(&v);
    if (rc != PL_OK)
        return rc;
    pl_fakectx_sent_t *s = &f->out[f->sent++];
    s->kind = kind;
    snprintf(s->to, sizeof s->to, "%s", to);
    memcpy(s->id, id, PL_MSG_ID_BYTES);
    s->msg = malloc(msg_len);
    assert_non_null(s->msg);
    memcpy(s->msg, msg, msg_len);
    s->msg_len = msg_len;
    s->ttl = ttl;
    return PL_OK;
}

static const pl_cert_t *
s_dir_find(void *arg, const char *address, int *why)
{
    pl_fakectx_t *f = arg;
    for (size_t i = 0; i < f->ctx.ndir; i++)
        if (strcmp(address, f->dir[i].address) == 0)
            return &f->dir[i];
    if (why)
        *why = PL_ENOTFOUND;
    return NULL;
}

static void
s_ask_directory(void *arg, bool force)
{
    (void) force;
    ((pl_fakectx_t *) arg)->asked++;
}

// ---- building it

void
pl_fakectx_cert(pl_cert_t *c, const char *name, const char *sector,
                const pl_keys_t *keys)
{
    memset(c, 0, sizeof *c);
    snprintf(c->network, sizeof c->network, "sn");
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->address, sizeof c->address, "sn/%s", name);
    snprintf(c->sector, sizeof c->sector, "%s", sector);
    snprintf(c->country, sizeof c->country, "SN");
    snprintf(c->region, sizeof c->region, "dakar");
    if (keys)
        c->keys = keys->pub;
}

pl_fakectx_t *
pl_fakectx_new(const char *tag, const char *name, const char *sector)
{
    pl_fakectx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pl_teststore_open(&f->ts, tag, 8u << 20);
    assert_int_equal(pl_keys_generate(&f->keys), PL_OK);
    pl_fakectx_cert(&f->me, name, sector, f->keys);
    f->svc = (pl_node_svc_t){.outbox_add = s_outbox_add,
                             .dir_find = s_dir_find,
                             .ask_directory = s_ask_directory};
    f->ctx = (pl_node_ctx_t){.keys = f->keys,
                             .me = &f->me,
                             .store = f->ts.store,
                             .dir = f->dir,
                             .ndir = 0,
                             .svc = &f->svc,
                             .svc_arg = f,
                             .home = f->ts.home};
    return f;
}

pl_cert_t *
pl_fakectx_peer(pl_fakectx_t *f, const char *name, const char *sector,
                bool keyed)
{
    size_t i = f->ctx.ndir;
    assert_true(i < PL_FAKECTX_DIR_MAX);
    if (keyed)
        assert_int_equal(pl_keys_generate(&f->dir_keys[i]), PL_OK);
    pl_fakectx_cert(&f->dir[i], name, sector, f->dir_keys[i]);
    f->ctx.ndir = i + 1;
    return &f->dir[i];
}

void
pl_fakectx_sessions(pl_fakectx_t *f)
{
    assert_null(f->sessions);
    f->sessions = pl_sessions_new(0, 0);
    assert_non_null(f->sessions);
    f->ctx.sessions = f->sessions;
}

void
pl_fakectx_free(pl_fakectx_t **f_p)
{
    pl_fakectx_t *f = *f_p;
    if (!f)
        return;
    for (int i = 0; i < f->sent; i++) { // the Messages hold personal data
        pl_wipe(f->out[i].msg, f->out[i].msg_len);
        free(f->out[i].msg);
    }
    for (size_t i = 0; i < PL_FAKECTX_DIR_MAX; i++)
        pl_keys_destroy(&f->dir_keys[i]);
    pl_sessions_destroy(&f->sessions);
    pl_keys_destroy(&f->keys);
    pl_teststore_close(&f->ts);
    free(f);
    *f_p = NULL;
}

int
pl_fakectx_setup(void **state)
{
    pl_fakectx_t *f = pl_fakectx_new("fakectx", "agency", "social");
    pl_fakectx_peer(f, "clinic", "health", false);
    *state = f;
    return 0;
}

int
pl_fakectx_setup_sessions(void **state)
{
    pl_fakectx_setup(state);
    pl_fakectx_sessions(*state);
    return 0;
}

int
pl_fakectx_teardown(void **state)
{
    pl_fakectx_t *f = *state;
    pl_fakectx_free(&f);
    *state = NULL;
    return 0;
}

// ---- running commands

json_t *
pl_fakectx_run(pl_fakectx_t *f, const char *cmd, json_t *args, const char *as,
               int *rc)
{
    if (pl_node_ctl_find(cmd))
        return pl_testctl_run(f->ts.store, &f->ctx, cmd, args, as, rc);
    json_decref(args);
    if (rc)
        *rc = PL_EINVAL;
    return pl_testctl_reply(pl_node_ctl_error(PL_EINVAL, "unknown command"));
}

json_t *
pl_fakectx_unwrap(json_t *reply)
{
    if (!pl_fakectx_ok(reply))
        return reply;
    json_t *res = json_incref(json_object_get(reply, "result"));
    json_decref(reply);
    return res;
}

bool
pl_fakectx_ok(const json_t *reply)
{
    return json_is_true(json_object_get(reply, "ok"));
}

const char *
pl_fakectx_code(const json_t *reply)
{
    const char *c = json_string_value(json_object_get(reply, "code"));
    return c ? c : "(ok)";
}

size_t
pl_fakectx_count(pl_fakectx_t *f, pl_db_t db)
{
    pl_txn_t *txn = NULL;
    size_t n = 0;
    assert_int_equal(pl_store_begin(f->ts.store, NULL, false, &txn), PL_OK);
    assert_int_equal(pl_store_count(txn, db, &n), PL_OK);
    pl_store_abort(&txn);
    return n;
}
