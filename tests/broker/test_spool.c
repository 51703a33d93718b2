// test_spool - the broker's durable queues (broker/pl_spool) as a unit, on
// a temp store, no daemon: put, scan, depth, take (only by the recipient,
// once), dedupe (of all the bytes, or of a node's header and signature),
// what a commit keeps and an abort drops across a reopen,
// the queue sequence across passes, aborts and a reopen,
// expiry with its notice to the sender, quotas and their release, usage;
// light nests: refusals mid-pass keep the pass, a failure half-way drops it;
// quota figures counted in a pass and written once.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/pl_spool.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"
#include "tests/lib/pl_test.h"

#define MAP (16u << 20)

typedef struct {
    char *dir;
    pl_spool_t *sp;
    uint64_t now; // seconds
} fx_t;

static int
s_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = pl_test_tmpdir("spool-unit");
    f->sp = pl_spool_open(f->dir, MAP, NULL);
    f->now = pl_now();
    *state = f;
    return f->sp ? 0 : -1;
}

static int
s_teardown(void **state)
{
    fx_t *f = *state;
    pl_spool_close(&f->sp);
    pl_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void
s_hdr(pl_header_t *h, const char *from, const char *to, uint64_t expires)
{
    memset(h, 0, sizeof *h);
    snprintf(h->from, sizeof h->from, "%s", from);
    snprintf(h->to, sizeof h->to, "%s", to);
    pl_random(h->id, sizeof h->id);
    h->expires_at = expires;
}

// puts one envelope in its own nested transaction of the open pass
static int
s_put(fx_t *f, const pl_header_t *h, const uint8_t *pkt, size_t len,
      pl_spool_refusal_t *why)
{
    bool dup = false;
    pl_spool_refusal_t w = PL_SPOOL_ROOM;
    assert_int_equal(pl_spool_nest(f->sp), PL_OK);
    int rc = pl_spool_put(f->sp, h, pkt, len, f->now * 1000, &dup, &w);
    if (rc == PL_OK)
        assert_int_equal(pl_spool_nest_commit(f->sp), PL_OK);
    else
        pl_spool_nest_abort(f->sp);
    if (why)
        *why = w;
    return rc;
}

typedef struct {
    int n;
    uint8_t first[PL_MSG_ID_BYTES];
    size_t first_len;
} scan_t;

static bool
s_scan_fn(void *arg, const pl_spool_item_t *it)
{
    scan_t *s = arg;
    if (s->n++ == 0) {
        memcpy(s->first, it->id, PL_MSG_ID_BYTES);
        s->first_len = it->packet_len;
    }
    return true;
}

static void
test_put_scan_take(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[200];
    pl_random(pkt, sizeof pkt);
    pl_header_t a, b;
    s_hdr(&a, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&b, "sn/agency", "sn/clinic", f->now + 3600);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &a, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(s_put(f, &b, pkt, 100, NULL), PL_OK);
    // the same id and bytes again: a duplicate, nothing stored
    bool dup = false;
    pl_spool_refusal_t why;
    assert_int_equal(
        pl_spool_put(f->sp, &a, pkt, sizeof pkt, f->now * 1000, &dup, &why),
        PL_EEXIST);
    assert_true(dup);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);

    uint64_t count = 0, oldest = 0;
    assert_int_equal(pl_spool_depth(f->sp, "sn/clinic", &count, &oldest),
                     PL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(oldest, f->now * 1000);
    scan_t s = {0};
    assert_int_equal(pl_spool_scan(f->sp, "sn/clinic", 0, 10, s_scan_fn, &s),
                     2);
    assert_memory_equal(s.first, a.id, PL_MSG_ID_BYTES); // oldest first
    assert_int_equal(s.first_len, sizeof pkt);
    assert_int_equal(pl_spool_depth(f->sp, "sn/school", &count, &oldest),
                     PL_OK);
    assert_int_equal(count, 0);

    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    // only its recipient takes it
    assert_int_equal(pl_spool_take(f->sp, a.id, "sn/school", PL_SPOOL_TAKEN,
                                   f->now * 1000, NULL, NULL),
                     PL_EPERM);
    uint64_t lat = 99, seq = 0;
    assert_int_equal(pl_spool_take(f->sp, a.id, "sn/clinic", PL_SPOOL_TAKEN,
                                   f->now * 1000 + 5, &lat, &seq),
                     PL_OK);
    assert_int_equal(lat, 5);
    assert_int_equal(pl_spool_take(f->sp, a.id, "sn/clinic", PL_SPOOL_TAKEN,
                                   f->now * 1000, NULL, NULL),
                     PL_ENOTFOUND); // already taken: harmless
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_depth(f->sp, "sn/clinic", &count, &oldest),
                     PL_OK);
    assert_int_equal(count, 1);
    // taken: the same bytes are still a duplicate, other bytes a conflict
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_put(f->sp, &a, pkt, sizeof pkt, f->now * 1000, &dup, &why),
        PL_EEXIST);
    pkt[0] ^= 1;
    assert_int_equal(
        pl_spool_put(f->sp, &a, pkt, sizeof pkt, f->now * 1000, &dup, &why),
        PL_EAUTH);
    pl_spool_abort(f->sp);
}

// pl_spool_put_signed on 'pkt' with a view whose header is pkt[10..60)
// and outer signature pkt[200..264): what the spool hashes for dedupe
static int
s_put_signed(fx_t *f, const pl_header_t *h, const uint8_t *pkt, size_t len)
{
    pl_envelope_t env = {.header = pkt + 10,
                         .header_len = 50,
                         .nonce = pkt + 60,
                         .ct = pkt + 84,
                         .ct_len = 116,
                         .sig = pkt + 200};
    bool dup = false;
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    int rc = pl_spool_put_signed(f->sp, h, &env, pkt, len, f->now * 1000, &dup,
                                 &why);
    assert_true(rc != PL_EEXIST || dup);
    return rc;
}

static bool
s_first_bytes(void *arg, const pl_spool_item_t *it)
{
    memcpy(arg, it->packet, it->packet_len);
    return false;
}

// Duplicates of a node's envelope are known by its header and outer
// signature; ids stored under the digest of all their bytes (stores from
// before) are still duplicates of the same bytes, queued and taken.
static void
test_signed_dedupe(void **state)
{
    fx_t *f = *state;
    uint8_t old[300], pkt[300], first[300];
    pl_random(old, sizeof old);
    pl_random(pkt, sizeof pkt);
    pl_header_t a, b;
    s_hdr(&a, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&b, "sn/agency", "sn/clinic", f->now + 3600);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &a, old, sizeof old, NULL), PL_OK); // before
    assert_int_equal(s_put_signed(f, &b, pkt, sizeof pkt), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);

    for (int taken = 0; taken < 2; taken++) {
        assert_int_equal(pl_spool_begin(f->sp), PL_OK);
        // an id of a store from before, resent as it was: a duplicate
        assert_int_equal(s_put_signed(f, &a, old, sizeof old), PL_EEXIST);
        old[100] ^= 1; // other bytes (header and signature alike): conflict
        assert_int_equal(s_put_signed(f, &a, old, sizeof old), PL_EAUTH);
        old[100] ^= 1;
        // resent as sent: a duplicate; other bytes under the same header
        // and signature (a forgery of its own sender): refused while
        // queued (compared in full), a duplicate once taken
        assert_int_equal(s_put_signed(f, &b, pkt, sizeof pkt), PL_EEXIST);
        pkt[100] ^= 1;
        assert_int_equal(s_put_signed(f, &b, pkt, sizeof pkt),
                         taken ? PL_EEXIST : PL_EAUTH);
        pkt[100] ^= 1;
        // shorter or longer under the same header and signature: the same
        assert_int_equal(s_put_signed(f, &b, pkt, sizeof pkt - 1),
                         taken ? PL_EEXIST : PL_EAUTH);
        // another signature (sealed again) or another header: a conflict
        pkt[230] ^= 1;
        assert_int_equal(s_put_signed(f, &b, pkt, sizeof pkt), PL_EAUTH);
        pkt[230] ^= 1;
        pkt[20] ^= 1;
        assert_int_equal(s_put_signed(f, &b, pkt, sizeof pkt), PL_EAUTH);
        pkt[20] ^= 1;
        assert_int_equal(pl_spool_commit(f->sp), PL_OK);
        if (taken)
            break;
        // the first bytes are what is queued, then both are taken
        assert_int_equal(
            pl_spool_scan(f->sp, "sn/clinic", 1, 1, s_first_bytes, first), 1);
        assert_memory_equal(first, pkt, sizeof pkt);
        assert_int_equal(pl_spool_begin(f->sp), PL_OK);
        assert_int_equal(pl_spool_take(f->sp, a.id, "sn/clinic", PL_SPOOL_TAKEN,
                                       f->now * 1000, NULL, NULL),
                         PL_OK);
        assert_int_equal(pl_spool_take(f->sp, b.id, "sn/clinic", PL_SPOOL_TAKEN,
                                       f->now * 1000, NULL, NULL),
                         PL_OK);
        assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    }
    uint64_t count = 9, oldest = 0;
    assert_int_equal(pl_spool_depth(f->sp, "sn/clinic", &count, &oldest),
                     PL_OK);
    assert_int_equal(count, 0); // no duplicate was queued
}

static void
test_commit_kept_abort_dropped(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[64];
    pl_random(pkt, sizeof pkt);
    pl_header_t kept, dropped;
    s_hdr(&kept, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&dropped, "sn/agency", "sn/clinic", f->now + 3600);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &kept, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &dropped, pkt, sizeof pkt, NULL), PL_OK);
    pl_spool_abort(f->sp);
    // a nested transaction aborted inside a committed pass is dropped too
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(pl_spool_nest(f->sp), PL_OK);
    bool dup;
    pl_spool_refusal_t why;
    assert_int_equal(pl_spool_put(f->sp, &dropped, pkt, sizeof pkt,
                                  f->now * 1000, &dup, &why),
                     PL_OK);
    pl_spool_nest_abort(f->sp);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);

    pl_spool_close(&f->sp);
    f->sp = pl_spool_open(f->dir, MAP, NULL);
    assert_non_null(f->sp);
    // synchronous: no no-sync flag on the environment
    unsigned flags = pl_spool_env_flags(f->sp);
    assert_int_equal(flags & (MDB_NOSYNC | MDB_MAPASYNC | MDB_NOMETASYNC), 0);
    scan_t s = {0};
    assert_int_equal(pl_spool_scan(f->sp, "sn/clinic", 0, 10, s_scan_fn, &s),
                     1);
    assert_memory_equal(s.first, kept.id, PL_MSG_ID_BYTES);
}

typedef struct {
    int n;
    uint64_t seq[8];
    uint8_t id[8][PL_MSG_ID_BYTES];
} seqs_t;

static bool
s_seq_fn(void *arg, const pl_spool_item_t *it)
{
    seqs_t *s = arg;
    if (s->n < 8) {
        s->seq[s->n] = it->seq;
        memcpy(s->id[s->n], it->id, PL_MSG_ID_BYTES);
    }
    s->n++;
    return true;
}

// The queue sequence is counted in memory during a pass and written once
// at its commit: an aborted nested transaction leaves a gap, an aborted
// pass writes nothing, and after a reopen the next put continues after the
// last committed one (a lost write-back would reuse seq 1: a key clash).
static void
test_seq_across_passes(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[64];
    pl_random(pkt, sizeof pkt);
    pl_header_t a, x, b, c, d;
    s_hdr(&a, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&x, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&b, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&c, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&d, "sn/agency", "sn/clinic", f->now + 3600);
    bool dup;
    pl_spool_refusal_t why;
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &a, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_nest(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_put(f->sp, &x, pkt, sizeof pkt, f->now * 1000, &dup, &why),
        PL_OK);
    pl_spool_nest_abort(f->sp);
    assert_int_equal(s_put(f, &b, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &c, pkt, sizeof pkt, NULL), PL_OK);
    pl_spool_abort(f->sp);

    pl_spool_close(&f->sp);
    f->sp = pl_spool_open(f->dir, MAP, NULL);
    assert_non_null(f->sp);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &d, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);

    seqs_t s = {0};
    assert_int_equal(pl_spool_scan(f->sp, "sn/clinic", 0, 10, s_seq_fn, &s), 3);
    assert_memory_equal(s.id[0], a.id, PL_MSG_ID_BYTES);
    assert_memory_equal(s.id[1], b.id, PL_MSG_ID_BYTES);
    assert_memory_equal(s.id[2], d.id, PL_MSG_ID_BYTES);
    assert_true(s.seq[0] < s.seq[1] && s.seq[1] < s.seq[2]);
    // scanning after b's seq gives d alone
    seqs_t t = {0};
    assert_int_equal(
        pl_spool_scan(f->sp, "sn/clinic", s.seq[1], 10, s_seq_fn, &t), 1);
    assert_memory_equal(t.id[0], d.id, PL_MSG_ID_BYTES);
}

// puts in a light nest (pl_spool_nest_fast), as the broker does
static int
s_put_fast(pl_spool_t *sp, const pl_header_t *h, const uint8_t *pkt, size_t len,
           uint64_t now_ms, pl_spool_refusal_t *why)
{
    bool dup = false;
    pl_spool_refusal_t w = PL_SPOOL_ROOM;
    int rc = pl_spool_nest_fast(sp);
    if (rc != PL_OK)
        return rc;
    rc = pl_spool_put(sp, h, pkt, len, now_ms, &dup, &w);
    if (rc == PL_OK)
        assert_int_equal(pl_spool_nest_commit(sp), PL_OK);
    else
        pl_spool_nest_abort(sp);
    if (why)
        *why = w;
    return rc;
}

// Light nests: every refusal in the middle of a pass (a duplicate, the same
// id with other bytes, a quota, a take of an unknown id or by another
// node) writes nothing, so the pass's other envelopes commit intact (a
// refusal that wrote first would poison the pass: its commit PL_EFULL).
static void
test_light_refusals_keep_pass(void **state)
{
    fx_t *f = *state;
    pl_spool_set_quotas(f->sp, 2500, 0); // small ones: + 1/8
    uint8_t pkt[1000], other[1000];
    pl_random(pkt, sizeof pkt);
    pl_random(other, sizeof other);
    pl_header_t a, b, c, big;
    s_hdr(&a, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&b, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&c, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&big, "sn/agency", "sn/school", f->now + 3600);
    uint64_t ms = f->now * 1000;
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(pl_spool_nest_fast(f->sp), PL_OK);
    assert_true(pl_spool_nest_is_light(f->sp));
    pl_spool_nest_abort(f->sp); // nothing written: no harm
    assert_int_equal(s_put_fast(f->sp, &a, pkt, sizeof pkt, ms, NULL), PL_OK);
    assert_int_equal(s_put_fast(f->sp, &a, pkt, sizeof pkt, ms, NULL),
                     PL_EEXIST);
    assert_int_equal(s_put_fast(f->sp, &a, other, sizeof other, ms, NULL),
                     PL_EAUTH);
    assert_int_equal(s_put_fast(f->sp, &b, pkt, sizeof pkt, ms, NULL), PL_OK);
    // a third 1,028-byte record would pass the sender's 2,812 bytes
    assert_int_equal(s_put_fast(f->sp, &big, pkt, sizeof pkt, ms, &why),
                     PL_EFULL);
    assert_int_equal(why, PL_SPOOL_SENDER_OVER);
    assert_int_equal(pl_spool_nest_fast(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_take(f->sp, c.id, "sn/clinic", PL_SPOOL_TAKEN, ms, NULL, NULL),
        PL_ENOTFOUND);
    pl_spool_nest_abort(f->sp);
    assert_int_equal(pl_spool_nest_fast(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_take(f->sp, a.id, "sn/school", PL_SPOOL_TAKEN, ms, NULL, NULL),
        PL_EPERM);
    pl_spool_nest_abort(f->sp);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);

    pl_spool_close(&f->sp);
    f->sp = pl_spool_open(f->dir, MAP, NULL);
    assert_non_null(f->sp);
    seqs_t s = {0};
    assert_int_equal(pl_spool_scan(f->sp, "sn/clinic", 0, 10, s_seq_fn, &s), 2);
    assert_memory_equal(s.id[0], a.id, PL_MSG_ID_BYTES);
    assert_memory_equal(s.id[1], b.id, PL_MSG_ID_BYTES);
    uint64_t from = 0, to = 0;
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/agency", &from, &to), PL_OK);
    assert_int_equal(from, 2 * (sizeof pkt + 8 + 8 + PL_MSG_ID_BYTES));
}

// Quota figures are counted in memory during a pass (pl_spool_quota.h) and
// written once before its commit: an aborted nested transaction's share
// is dropped, a committed one's kept, a take in the same pass releases it,
// an aborted pass writes nothing, and the figures survive a reopen (a
// lost write-back or a kept aborted nest would show here).
static void
test_quota_in_pass(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[500];
    pl_random(pkt, sizeof pkt);
    const uint64_t rec = sizeof pkt + 8 + 8 + PL_MSG_ID_BYTES;
    pl_header_t a, b, c, d;
    s_hdr(&a, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&b, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&c, "sn/agency", "sn/clinic", f->now + 3600);
    s_hdr(&d, "sn/agency", "sn/clinic", f->now + 3600);
    uint64_t ms = f->now * 1000, from = 0, to = 0;
    bool dup;
    pl_spool_refusal_t why;
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &a, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_nest(f->sp), PL_OK); // a real nest, aborted
    assert_int_equal(pl_spool_put(f->sp, &b, pkt, sizeof pkt, ms, &dup, &why),
                     PL_OK);
    pl_spool_nest_abort(f->sp);
    assert_int_equal(s_put_fast(f->sp, &c, pkt, sizeof pkt, ms, NULL), PL_OK);
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/agency", &from, &to), PL_OK);
    assert_int_equal(from, 2 * rec);
    assert_int_equal(pl_spool_nest_fast(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_take(f->sp, a.id, "sn/clinic", PL_SPOOL_TAKEN, ms, NULL, NULL),
        PL_OK);
    assert_int_equal(pl_spool_nest_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    // an aborted pass leaves the figures as committed
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &d, pkt, sizeof pkt, NULL), PL_OK);
    pl_spool_abort(f->sp);

    pl_spool_close(&f->sp);
    f->sp = pl_spool_open(f->dir, MAP, NULL);
    assert_non_null(f->sp);
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/agency", &from, &to), PL_OK);
    assert_int_equal(from, rec);
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/clinic", &from, &to), PL_OK);
    assert_int_equal(to, rec);
    // the last one taken: the figure goes (zero is no record)
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(pl_spool_nest_fast(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_take(f->sp, c.id, "sn/clinic", PL_SPOOL_TAKEN, ms, NULL, NULL),
        PL_OK);
    assert_int_equal(pl_spool_nest_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/clinic", &from, &to), PL_OK);
    assert_int_equal(to, 0);
}

#define SMALL_MAP (1u << 20)
#define BIG_PKT   60000

// Light nests: an LMDB failure half-way through a put (MDB_MAP_FULL under
// the threshold: the pages the last pass freed are not reusable yet)
// poisons the pass: the nests after it fail with PL_EFULL, the commit
// drops the whole pass (PL_EFULL, not fatal), nothing of it is kept, not
// even the envelopes put before the failure (never half a record), and
// the next pass works.
static void
test_light_map_full_drops_pass(void **state)
{
    fx_t *f = *state;
    char *dir = pl_test_tmpdir("spool-small");
    pl_spool_t *sp = pl_spool_open(dir, SMALL_MAP, NULL);
    assert_non_null(sp);
    pl_spool_set_quotas(sp, 1u << 30, 1u << 30);
    static uint8_t pkt[BIG_PKT];
    pl_random(pkt, sizeof pkt);
    uint64_t ms = f->now * 1000;
    pl_header_t h[10];
    // 10 x 60 KB (about 60 % of the map), then all taken
    assert_int_equal(pl_spool_begin(sp), PL_OK);
    for (int i = 0; i < 10; i++) {
        s_hdr(&h[i], "sn/agency", "sn/clinic", f->now + 3600);
        assert_int_equal(s_put_fast(sp, &h[i], pkt, sizeof pkt, ms, NULL),
                         PL_OK);
    }
    assert_int_equal(pl_spool_commit(sp), PL_OK);
    assert_int_equal(pl_spool_begin(sp), PL_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(pl_spool_nest_fast(sp), PL_OK);
        assert_int_equal(pl_spool_take(sp, h[i].id, "sn/clinic", PL_SPOOL_TAKEN,
                                       ms, NULL, NULL),
                         PL_OK);
        assert_int_equal(pl_spool_nest_commit(sp), PL_OK);
    }
    assert_int_equal(pl_spool_commit(sp), PL_OK);
    // the map looks nearly empty, but the freed pages are not reusable in
    // the next pass: 10 more do not fit, one fails half-way
    assert_int_equal(pl_spool_begin(sp), PL_OK);
    int ok = 0, rc = PL_OK;
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    for (int i = 0; i < 10 && rc == PL_OK; i++) {
        s_hdr(&h[i], "sn/agency", "sn/clinic", f->now + 3600);
        assert_int_equal(pl_spool_nest_fast(sp), PL_OK);
        assert_true(pl_spool_nest_is_light(sp));
        pl_spool_nest_abort(sp);
        rc = s_put_fast(sp, &h[i], pkt, sizeof pkt, ms, &why);
        if (rc == PL_OK)
            ok++;
    }
    assert_int_equal(rc, PL_EFULL);
    assert_int_equal(why, PL_SPOOL_MAP_FULL);
    assert_true(ok >= 1);
    assert_int_equal(pl_spool_nest_fast(sp), PL_EFULL);
    assert_int_equal(pl_spool_nest(sp), PL_EFULL);
    assert_int_equal(pl_spool_commit(sp), PL_EFULL);
    assert_int_equal(pl_spool_fatal(sp), 0);
    uint64_t count = 9, oldest = 0;
    assert_int_equal(pl_spool_depth(sp, "sn/clinic", &count, &oldest), PL_OK);
    assert_int_equal(count, 0);
    // the store goes on: the first of that pass is new to it, not a dup
    assert_int_equal(pl_spool_begin(sp), PL_OK);
    assert_int_equal(s_put_fast(sp, &h[0], pkt, 100, ms, NULL), PL_OK);
    assert_int_equal(pl_spool_commit(sp), PL_OK);
    assert_int_equal(pl_spool_depth(sp, "sn/clinic", &count, &oldest), PL_OK);
    assert_int_equal(count, 1);
    pl_spool_close(&sp);
    pl_test_rmrf(dir);
    free(dir);
}

typedef struct {
    int calls;
    char to[PL_ADDRESS_MAX + 1];
} expired_t;

static void
s_on_expired(void *arg, const char *to)
{
    expired_t *e = arg;
    e->calls++;
    snprintf(e->to, sizeof e->to, "%s", to);
}

static void
test_expiry_and_notice(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[64];
    pl_random(pkt, sizeof pkt);
    pl_header_t soon, later;
    s_hdr(&soon, "sn/agency", "sn/clinic", f->now + 60);
    s_hdr(&later, "sn/agency", "sn/clinic", f->now + 10 * 86400);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &soon, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(s_put(f, &later, pkt, sizeof pkt, NULL), PL_OK);
    expired_t e = {0};
    // before its expiry nothing goes
    assert_int_equal(pl_spool_sweep(f->sp, f->now, s_on_expired, &e), 0);
    assert_int_equal(pl_spool_sweep(f->sp, f->now + 120, s_on_expired, &e), 1);
    assert_int_equal(e.calls, 1);
    assert_string_equal(e.to, "sn/clinic");
    uint8_t ids[4][PL_MSG_ID_BYTES];
    char tos[4][PL_ADDRESS_MAX + 1];
    int why[4] = {7, 7, 7, 7};
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, false, ids, tos, why), 1);
    assert_memory_equal(ids[0], soon.id, PL_MSG_ID_BYTES);
    assert_string_equal(tos[0], "sn/clinic");
    assert_int_equal(why[0], -1); // expired, not refused
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, false, ids, tos, NULL), 0);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    uint64_t count = 0, oldest = 0;
    assert_int_equal(pl_spool_depth(f->sp, "sn/clinic", &count, &oldest),
                     PL_OK);
    assert_int_equal(count, 1);
}

// The recipient refuses one for good: it leaves the queue and its sender
// gets a notice with the code (and only the recipient may refuse it).
static void
test_refusal_notice(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[64];
    pl_random(pkt, sizeof pkt);
    pl_header_t h;
    s_hdr(&h, "sn/agency", "sn/clinic", f->now + 86400);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &h, pkt, sizeof pkt, NULL), PL_OK);
    int bad = PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE;
    assert_int_equal(pl_spool_refuse(f->sp, h.id, "sn/school", bad,
                                     f->now * 1000, NULL, NULL),
                     PL_EPERM);
    assert_int_equal(pl_spool_refuse(f->sp, h.id, "sn/clinic", 255,
                                     f->now * 1000, NULL, NULL),
                     PL_EINVAL);
    uint8_t ids[4][PL_MSG_ID_BYTES];
    char tos[4][PL_ADDRESS_MAX + 1];
    int why[4] = {0};
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, false, ids, tos, why), 0);
    assert_int_equal(pl_spool_refuse(f->sp, h.id, "sn/clinic", bad,
                                     f->now * 1000, NULL, NULL),
                     PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    uint64_t count = 9, oldest = 0;
    assert_int_equal(pl_spool_depth(f->sp, "sn/clinic", &count, &oldest),
                     PL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, false, ids, tos, why), 1);
    assert_memory_equal(ids[0], h.id, PL_MSG_ID_BYTES);
    assert_string_equal(tos[0], "sn/clinic");
    assert_int_equal(why[0], bad);
    // a second refusal of the same id: not queued any more, no new notice
    assert_int_equal(pl_spool_refuse(f->sp, h.id, "sn/clinic", bad,
                                     f->now * 1000, NULL, NULL),
                     PL_ENOTFOUND);
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, false, ids, tos, why), 0);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
}

// Notices kept for a sender that acknowledges them: read again and again,
// across commits, until pl_spool_notice_ack forgets one (only its own).
static void
test_notice_kept_until_ack(void **state)
{
    fx_t *f = *state;
    uint8_t pkt[64];
    pl_random(pkt, sizeof pkt);
    pl_header_t h1, h2;
    s_hdr(&h1, "sn/agency", "sn/clinic", f->now + 86400);
    s_hdr(&h2, "sn/agency", "sn/clinic", f->now + 86400);
    int bad = PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE;
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &h1, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(s_put(f, &h2, pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_refuse(f->sp, h1.id, "sn/clinic", bad,
                                     f->now * 1000, NULL, NULL),
                     PL_OK);
    assert_int_equal(pl_spool_refuse(f->sp, h2.id, "sn/clinic", bad,
                                     f->now * 1000, NULL, NULL),
                     PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    uint8_t ids[4][PL_MSG_ID_BYTES];
    char tos[4][PL_ADDRESS_MAX + 1];
    int why[4] = {0};
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(pl_spool_begin(f->sp), PL_OK);
        assert_int_equal(
            pl_spool_notices(f->sp, "sn/agency", 4, true, ids, tos, why), 2);
        assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    }
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    // another node cannot forget the agency's notice
    assert_int_equal(pl_spool_notice_ack(f->sp, "sn/clinic", h1.id),
                     PL_ENOTFOUND);
    assert_int_equal(pl_spool_notice_ack(f->sp, "sn/agency", h1.id), PL_OK);
    assert_int_equal(pl_spool_notice_ack(f->sp, "sn/agency", h1.id),
                     PL_ENOTFOUND);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, true, ids, tos, why), 1);
    assert_memory_equal(ids[0], h2.id, PL_MSG_ID_BYTES);
    assert_int_equal(why[0], bad);
    // an older sender's read pops what is left
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, false, ids, tos, why), 1);
    assert_int_equal(
        pl_spool_notices(f->sp, "sn/agency", 4, true, ids, tos, why), 0);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
}

static void
test_quota_and_usage(void **state)
{
    fx_t *f = *state;
    // a sender may queue 64 KiB, recipients the default
    pl_spool_set_quotas(f->sp, 64 << 10, 0);
    static uint8_t pkt[20000];
    pl_random(pkt, sizeof pkt);
    pl_header_t h[4];
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    int stored = 0;
    for (int i = 0; i < 4; i++) {
        s_hdr(&h[i], "sn/agency", "sn/clinic", f->now + 3600);
        int rc = s_put(f, &h[i], pkt, sizeof pkt, &why);
        if (rc == PL_OK)
            stored++;
        else
            assert_int_equal(rc, PL_EFULL);
    }
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(stored, 3); // 3 x 20000 fit in 64 KiB, a 4th does not
    assert_int_equal(why, PL_SPOOL_SENDER_OVER);
    uint64_t from = 0, to = 0;
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/agency", &from, &to), PL_OK);
    assert_true(from >= 3 * sizeof pkt && from <= 64 << 10);
    assert_int_equal(to, 0);
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/clinic", &from, &to), PL_OK);
    assert_true(to >= 3 * sizeof pkt);
    unsigned pct = pl_spool_usage_pct(f->sp);
    assert_true(pct <= 100);
    // another sender is served meanwhile
    pl_header_t other;
    s_hdr(&other, "sn/school", "sn/clinic", f->now + 3600);
    assert_int_equal(pl_spool_begin(f->sp), PL_OK);
    assert_int_equal(s_put(f, &other, pkt, sizeof pkt, NULL), PL_OK);
    // a take releases the sender's share: the 4th fits now
    assert_int_equal(pl_spool_take(f->sp, h[0].id, "sn/clinic", PL_SPOOL_TAKEN,
                                   f->now * 1000, NULL, NULL),
                     PL_OK);
    assert_int_equal(s_put(f, &h[3], pkt, sizeof pkt, NULL), PL_OK);
    assert_int_equal(pl_spool_commit(f->sp), PL_OK);
    assert_int_equal(pl_spool_quota_get(f->sp, "sn/agency", &from, &to), PL_OK);
    assert_true(from >= 3 * sizeof pkt && from <= 64 << 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_scan_take, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_signed_dedupe, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_kept_abort_dropped, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_across_passes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_expiry_and_notice, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_notice, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_notice_kept_until_ack, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_quota_and_usage, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_light_refusals_keep_pass, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_light_map_full_drops_pass, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_quota_in_pass, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
