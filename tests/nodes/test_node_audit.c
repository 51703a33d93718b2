// test_node_audit - the audit chain with real processes (issue 6):
//   on a busy node (200 test envelopes each way with receipts) audit
//   verify passes, through the daemon and with the daemon stopped; an
//   export checks offline (audit check) and a doctored export does not.
//   Then, on copies of the stopped node's home, tampering done directly
//   with LMDB is detected and the entry named:
//     (a) one byte flipped in a middle entry;
//     (b) the last entry deleted;
//     (c) the last entry changed and the head re-hashed, without the key.
// Layer: tests.
#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 120000
#define S_MSGS    200
enum { AG = 0, CL = 1 };

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static int s_cli(json_t **out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
s_cli(json_t **out, const char *fmt, ...)
{
    char args[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *text = NULL;
    int rc = pl_test_sh(&text, "'%s' %s 2>/dev/null", pl_test_bin("passerelle"),
                        args);
    if (out) {
        json_error_t e;
        *out = text ? json_loads(text, 0, &e) : NULL;
    }
    free(text);
    return rc;
}

// `audit verify --json` on 'home': exit code, entries, bad entry.
static int
s_verify(const char *home, long *entries, long *bad, bool *online)
{
    json_t *v = NULL;
    int rc = s_cli(&v, "--home '%s' audit verify --json", home);
    PL_CHECK(v != NULL);
    *entries = (long) json_integer_value(json_object_get(v, "entries"));
    *bad = (long) json_integer_value(json_object_get(v, "bad_entry"));
    if (online)
        *online = json_is_true(json_object_get(v, "online"));
    if (rc != 0)
        fprintf(stderr, "  verify: %s\n",
                json_string_value(json_object_get(v, "error")));
    PL_CHECK((rc == 0) == json_is_true(json_object_get(v, "ok")));
    json_decref(v);
    return rc;
}

static void
s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}

typedef enum { S_FLIP_MIDDLE, S_DELETE_LAST, S_REHASH_LAST } s_tamper_t;

// Tampers with the audit chain of the store in 'home' directly with LMDB
// (no key). Returns the sequence number of the entry touched.
static uint64_t
s_tamper(const char *home, s_tamper_t how, uint64_t count)
{
    char dir[800];
    snprintf(dir, sizeof dir, "%s/store", home);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi audit, settings;
    PL_CHECK(mdb_env_create(&env) == 0);
    PL_CHECK(mdb_env_set_maxdbs(env, 32) == 0);
    PL_CHECK(mdb_env_set_mapsize(env, (size_t) 1 << 30) == 0);
    PL_CHECK(mdb_env_open(env, dir, 0, 0600) == 0);
    PL_CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    PL_CHECK(mdb_dbi_open(txn, "audit", 0, &audit) == 0);
    PL_CHECK(mdb_dbi_open(txn, "settings", 0, &settings) == 0);
    uint64_t seq = how == S_FLIP_MIDDLE ? count / 2 : count;
    uint8_t kb[8];
    s_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    PL_CHECK(mdb_get(txn, audit, &k, &v) == 0);
    char *text = malloc(v.mv_size + 64);
    memcpy(text, v.mv_data, v.mv_size);
    size_t len = v.mv_size;
    if (how == S_DELETE_LAST) {
        PL_CHECK(mdb_del(txn, audit, &k, NULL) == 0);
    } else if (how == S_FLIP_MIDDLE) {
        char *at = strstr(text, "\"at\":\"");
        PL_CHECK(at != NULL);
        at[8] ^= 0x01; // a digit of the year: still valid JSON
        MDB_val nv = {len, text};
        PL_CHECK(mdb_put(txn, audit, &k, &nv, 0) == 0);
    } else {
        // the last entry says something else; its hash is recomputed and
        // written into the head, whose signature cannot be redone
        char *ev = strstr(text, "\"event\":\"");
        PL_CHECK(ev != NULL);
        memcpy(ev + 9, "XXXX", 4);
        MDB_val nv = {len, text};
        PL_CHECK(mdb_put(txn, audit, &k, &nv, 0) == 0);
        const char *p = strstr(text, "\"prev\":\"");
        PL_CHECK(p != NULL);
        uint8_t prev[32], h[32];
        char hex[65];
        memcpy(hex, p + 8, 64);
        hex[64] = 0;
        PL_CHECK(sodium_hex2bin(prev, 32, hex, 64, NULL, NULL, NULL) == 0);
        static const char tag[] = "passerelle-audit-v1";
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, (const uint8_t *) tag, sizeof tag - 1);
        crypto_generichash_update(&st, prev, 32);
        crypto_generichash_update(&st, (const uint8_t *) text, len);
        crypto_generichash_final(&st, h, 32);
        MDB_val hk = {10, "audit.head"}, hv;
        PL_CHECK(mdb_get(txn, settings, &hk, &hv) == 0 && hv.mv_size == 104);
        uint8_t head[104];
        memcpy(head, hv.mv_data, sizeof head);
        memcpy(head + 8, h, 32);
        MDB_val nh = {sizeof head, head};
        PL_CHECK(mdb_put(txn, settings, &hk, &nh, 0) == 0);
    }
    free(text);
    PL_CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    return seq;
}

int
main(void)
{
    PL_CHECK(sodium_init() >= 0);
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "audit", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, AG, s_fast, NULL);
    pl_testnode_start(&net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, 30000));
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, CL),
                                  "directory_updated certs=2", 1, 30000));
    for (int from = 0; from < 2; from++) {
        json_t *r = NULL;
        PL_CHECK(pl_testnode_tool(&r, NULL, net.home[from],
                                  "send --to '%s' --payload 'busy-%d' "
                                  "--count %d --json",
                                  net.address[1 - from], from, S_MSGS)
                 == 0);
        json_decref(r);
    }
    for (int i = 0; i < 2; i++)
        PL_CHECK(pl_testnode_wait_stat(net.home[i], "outbox.receipted", S_MSGS,
                                       S_WAIT_MS)
                 == S_MSGS);
    // busy and running: every envelope sent and received is in the chain
    // (sent test + receipt, received test + receipt: 4 per message)
    long entries, bad;
    bool online;
    PL_CHECK(s_verify(net.home[CL], &entries, &bad, &online) == 0 && online);
    PL_CHECK(entries >= 4 * S_MSGS);
    fprintf(stderr, "running: %ld entries verify\n", entries);

    // an export for an auditor checks offline; a doctored one does not
    char exp[700], bad_exp[700];
    snprintf(exp, sizeof exp, "%s/export.json", net.root);
    snprintf(bad_exp, sizeof bad_exp, "%s/export-bad.json", net.root);
    PL_CHECK(pl_test_sh(NULL,
                        "'%s' --home '%s' audit export --from 1 --json "
                        "> '%s'",
                        pl_test_bin("passerelle"), net.home[CL], exp)
             == 0);
    json_t *c = NULL;
    PL_CHECK(s_cli(&c, "audit check --file '%s' --json", exp) == 0);
    PL_CHECK(json_is_true(json_object_get(c, "ok")));
    json_decref(c);
    PL_CHECK(pl_test_sh(NULL,
                        "sed 's/busy/bent/; "
                        "s/\\\\\"received\\\\\"/\\\\\"receivee\\\\\"/' '%s' "
                        "> '%s'",
                        exp, bad_exp)
             == 0);
    PL_CHECK(s_cli(&c, "audit check --file '%s' --json", bad_exp) != 0);
    PL_CHECK(c && json_is_false(json_object_get(c, "ok"))
             && json_integer_value(json_object_get(c, "bad_entry")) > 0);
    json_decref(c);
    // a middle range exports and checks too
    PL_CHECK(pl_test_sh(NULL,
                        "'%s' --home '%s' audit export --from 10 --to 20 "
                        "--json > '%s'",
                        pl_test_bin("passerelle"), net.home[CL], exp)
             == 0);
    PL_CHECK(s_cli(&c, "audit check --file '%s' --json", exp) == 0);
    PL_CHECK(json_array_size(json_object_get(c, "entries")) == 0
             && json_integer_value(json_object_get(c, "entries")) == 11);
    json_decref(c);

    // stopped: the CLI verifies by itself
    pl_test_net_stop_node(&net, CL, false);
    PL_CHECK(s_verify(net.home[CL], &entries, &bad, &online) == 0 && !online);
    uint64_t count = (uint64_t) entries;

    static const char *const names[] = {"flip a byte of a middle entry",
                                        "delete the last entry",
                                        "change the last entry, re-hash"};
    for (int how = 0; how < 3; how++) {
        char home[700];
        snprintf(home, sizeof home, "%s/tamper-%d", net.root, how);
        PL_CHECK(pl_test_sh(NULL,
                            "mkdir '%s' && cp -a '%s/keys' '%s/store' "
                            "'%s/node.cert' '%s/authority.pub' '%s/'",
                            home, net.home[CL], net.home[CL], net.home[CL],
                            net.home[CL], home)
                 == 0);
        uint64_t seq = s_tamper(home, (s_tamper_t) how, count);
        PL_CHECK(s_verify(home, &entries, &bad, NULL) != 0);
        fprintf(stderr, "%s (entry %llu): detected, bad entry %ld\n",
                names[how], (unsigned long long) seq, bad);
        PL_CHECK(bad == (long) seq);
    }

    pl_test_net_destroy(&net);
    printf("test_node_audit: ok\n");
    return 0;
}
