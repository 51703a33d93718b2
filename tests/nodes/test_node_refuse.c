// test_node_refuse - what a receiving node must refuse, injected through a
// raw client holding the sender's keys (a real broker, a real recipient
// daemon): forged outer signature, forged inner signature, wrong recipient
// key, replayed envelope, same id with other bytes, a sender revoked
// mid-run. Each is refused (or, for the replay, not acted on again),
// logged, and nothing is stored. Layer: tests.
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pl_rawclient.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { A = 0, B = 1, C = 2 };

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

typedef struct {
    pl_rawclient_t *raw; // connected as A
    pl_test_net_t *net;  // the network
    const char *blog;    // B's log
} s_ctx_t;

// Waits for the broker's answer (accepted / rejected) about 'id'; other
// packets (heartbeats, receipts delivered to A) are ignored. Returns the
// kind, 0 on timeout; '*reason' gets a rejected reason.
static int
s_answer(s_ctx_t *x, const uint8_t id[PL_MSG_ID_BYTES], int *reason)
{
    uint64_t deadline = pl_mono_ms() + 10000;
    while (pl_mono_ms() < deadline) {
        pl_packet_t *p = NULL;
        if (pl_rawclient_recv(x->raw, &p, 200) != PL_OK)
            continue;
        int kind = 0;
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_ACCEPTED
            && memcmp(p->accepted->message_id.data, id, PL_MSG_ID_BYTES) == 0)
            kind = p->kind_case;
        if (p->kind_case == PASSERELLE__V1__PACKET__KIND_REJECTED
            && p->rejected->has_message_id
            && memcmp(p->rejected->message_id.data, id, PL_MSG_ID_BYTES) == 0) {
            kind = p->kind_case;
            *reason = p->rejected->reason;
        }
        pl_wire_free(&p);
        if (kind)
            return kind;
    }
    return 0;
}

// Encodes Message{test{payload}}.
static void
s_test_msg(const char *payload, pl_buf_t *out)
{
    Passerelle__V1__TestMessage t = PASSERELLE__V1__TEST_MESSAGE__INIT;
    t.payload.data = (uint8_t *) payload;
    t.payload.len = strlen(payload);
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &t;
    PL_CHECK(pl_message_encode(&m, out) == PL_OK);
}

// Seals a test message: signed by 'signer' (A's keys unless forging),
// addressed from A to B, encrypted to 'box_pk', with id 'id' (NULL:
// random).
static void
s_seal(s_ctx_t *x, const pl_keys_t *signer, const uint8_t *box_pk,
       const uint8_t *id, const char *payload, uint8_t id_out[16],
       pl_buf_t *packet)
{
    pl_buf_t msg = {0};
    s_test_msg(payload, &msg);
    pl_seal_args_t a = {
        .sender = signer,
        .from = x->net->address[A],
        .to = x->net->address[B],
        .to_box_pk = box_pk,
        .id = id,
        .now = pl_now(),
    };
    PL_CHECK(pl_envelope_seal(&a, msg.data, msg.len, id_out, packet) == PL_OK);
    pl_buf_free(&msg);
}

// Replaces the outer signature of an encoded envelope packet with one made
// by 'signer' over "passerelle-outer-v1" || header || BLAKE2b(nonce||ct):
// a valid outer signature around whatever is inside.
static void
s_resign_outer(pl_buf_t *packet, const pl_keys_t *signer)
{
    pl_packet_t *p = NULL;
    PL_CHECK(pl_wire_decode(packet->data, packet->len, &p) == PL_OK);
    Passerelle__V1__Envelope *e = p->envelope;
    uint8_t h[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, e->nonce.data, e->nonce.len);
    crypto_generichash_update(&st, e->ciphertext.data, e->ciphertext.len);
    crypto_generichash_final(&st, h, 32);
    static const char tag[] = "passerelle-outer-v1";
    pl_buf_t in = {0};
    PL_CHECK(pl_buf_append(&in, tag, sizeof tag - 1) == PL_OK);
    PL_CHECK(pl_buf_append(&in, e->header.data, e->header.len) == PL_OK);
    PL_CHECK(pl_buf_append(&in, h, 32) == PL_OK);
    crypto_sign_detached(e->signature.data, NULL, in.data, in.len,
                         signer->sec->sign);
    pl_buf_free(&in);
    pl_buf_t out = {0};
    PL_CHECK(pl_wire_encode(p, &out) == PL_OK);
    pl_wire_free(&p);
    pl_buf_free(packet);
    *packet = out;
}

// Sends a packet as A and waits for the broker to take it.
static void
s_inject(s_ctx_t *x, const pl_buf_t *packet, const uint8_t id[16])
{
    PL_CHECK(pl_rawclient_send(x->raw, packet->data, packet->len) == 0);
    int reason = -1;
    int kind = s_answer(x, id, &reason);
    PL_CHECK(kind == PASSERELLE__V1__PACKET__KIND_ACCEPTED);
}

// Restarts the broker with an empty store: it forgets every id it saw.
static void
s_forget_broker(s_ctx_t *x)
{
    pl_test_net_stop_broker(x->net, false);
    PL_CHECK(pl_test_sh(NULL, "rm -rf '%s/store'", x->net->broker) == 0);
    pl_test_net_start_broker(x->net, NULL);
    PL_CHECK(pl_rawclient_hello(x->raw, 15000) == PL_OK);
}

// B's stats "inbox" and "seen" must not move.
static void
s_nothing_stored(s_ctx_t *x, long inbox, long seen)
{
    PL_CHECK(pl_testnode_stat(x->net->home[B], "inbox") == inbox);
    PL_CHECK(pl_testnode_stat(x->net->home[B], "seen") == seen);
}

int
main(void)
{
    PL_CHECK(sodium_init() >= 0);
    const char *specs[] = {"agency:agency", "clinic:health",
                           "school:education"};
    pl_test_net_t net;
    pl_test_net_init(&net, "refuse", specs, 3);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, B, s_fast, NULL);
    const char *blog = pl_testnode_log(&net, B);
    char blog_copy[700];
    snprintf(blog_copy, sizeof blog_copy, "%s", blog);
    PL_CHECK(
        pl_testnode_wait_log(blog_copy, "directory_updated certs=3", 1, 20000));
    s_ctx_t x = {pl_rawclient_open(net.home[A], net.endpoint), &net, blog_copy};
    PL_CHECK(x.raw != NULL);
    PL_CHECK(pl_rawclient_hello(x.raw, 10000) == PL_OK);
    const pl_keys_t *ka = pl_rawclient_keys(x.raw);
    pl_keys_t *kc = NULL;
    PL_CHECK(pl_keys_load(net.home[C], &kc) == PL_OK);
    pl_pubkeys_t pb;
    PL_CHECK(pl_keys_load_public(net.home[B], &pb) == PL_OK);

    // baseline: one good envelope is stored
    uint8_t id0[16];
    pl_buf_t good = {0};
    s_seal(&x, ka, pb.box, NULL, "good", id0, &good);
    s_inject(&x, &good, id0);
    PL_CHECK(pl_testnode_wait_stat(net.home[B], "inbox", 1, 15000) == 1);
    long seen0 = pl_testnode_stat(net.home[B], "seen");
    PL_CHECK(seen0 == 1);

    // 1. forged outer signature
    uint8_t id[16];
    pl_buf_t p = {0};
    s_seal(&x, ka, pb.box, NULL, "forged-outer", id, &p);
    p.data[p.len - 5] ^= 0x40; // the signature is the last field
    PL_CHECK(pl_rawclient_send(x.raw, p.data, p.len) == 0);
    int reason = -1;
    int kind = s_answer(&x, id, &reason);
    if (kind == PASSERELLE__V1__PACKET__KIND_ACCEPTED)
        PL_CHECK(
            pl_testnode_wait_log(blog_copy, "reason=bad_signature", 1, 15000));
    else // a broker that checks outer signatures refuses it at the door
        PL_CHECK(kind == PASSERELLE__V1__PACKET__KIND_REJECTED);
    pl_buf_free(&p);
    s_nothing_stored(&x, 1, seen0);
    fprintf(stderr, "forged outer signature: refused\n");

    // 2. forged inner signature: signed inside by C, outside by A
    s_seal(&x, kc, pb.box, NULL, "forged-inner", id, &p);
    s_resign_outer(&p, ka);
    long bad0 = pl_testnode_count_in_file(blog_copy, "reason=bad_signature");
    s_inject(&x, &p, id);
    PL_CHECK(pl_testnode_wait_log(blog_copy, "reason=bad_signature", bad0 + 1,
                                  15000));
    pl_buf_free(&p);
    s_nothing_stored(&x, 1, seen0);
    fprintf(stderr, "forged inner signature: refused\n");

    // 3. wrong recipient: addressed to B, sealed to C's box key
    pl_pubkeys_t pc;
    PL_CHECK(pl_keys_load_public(net.home[C], &pc) == PL_OK);
    s_seal(&x, ka, pc.box, NULL, "wrong-recipient", id, &p);
    s_inject(&x, &p, id);
    PL_CHECK(pl_testnode_wait_log(blog_copy, "reason=not_recipient", 1, 15000));
    pl_buf_free(&p);
    s_nothing_stored(&x, 1, seen0);
    fprintf(stderr, "wrong recipient: refused\n");

    // 4. replayed envelope: the same bytes again; acted on once only
    PL_CHECK(pl_rawclient_send(x.raw, good.data, good.len) == 0);
    kind = s_answer(&x, id0, &reason);
    PL_CHECK(kind != 0);
    if (kind == PASSERELLE__V1__PACKET__KIND_ACCEPTED
        && pl_testnode_wait_log(blog_copy, "envelope_duplicate", 1, 5000))
        fprintf(stderr, "replay: delivered again, answered as duplicate\n");
    else
        fprintf(stderr, "replay: stopped by the broker\n");
    s_nothing_stored(&x, 1, seen0);

    // 5. same id, other bytes
    s_seal(&x, ka, pb.box, id0, "other-bytes", id, &p);
    PL_CHECK(memcmp(id, id0, 16) == 0);
    PL_CHECK(pl_rawclient_send(x.raw, p.data, p.len) == 0);
    kind = s_answer(&x, id0, &reason);
    PL_CHECK(kind != 0);
    if (kind == PASSERELLE__V1__PACKET__KIND_ACCEPTED) {
        PL_CHECK(pl_testnode_wait_log(
            blog_copy, "attack reason=same_id_other_bytes", 1, 15000));
        PL_CHECK(
            pl_testnode_count_in_file(blog_copy, "reason=duplicate_conflict")
            >= 1);
        fprintf(stderr, "same id other bytes: refused by B as an attack\n");
    } else {
        PL_CHECK(reason
                 == PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT);
        fprintf(stderr, "same id other bytes: refused by the broker\n");
    }
    pl_buf_free(&p);
    s_nothing_stored(&x, 1, seen0);

    // 4b/5b. the same through a broker that forgot (its store lost, or a
    // broker replaying what it saw): B itself must hold the line
    s_forget_broker(&x);
    PL_CHECK(pl_rawclient_send(x.raw, good.data, good.len) == 0);
    PL_CHECK(s_answer(&x, id0, &reason)
             == PASSERELLE__V1__PACKET__KIND_ACCEPTED);
    PL_CHECK(pl_testnode_wait_log(blog_copy, "envelope_duplicate", 1, 15000));
    s_nothing_stored(&x, 1, seen0);
    fprintf(stderr, "replay through a forgetful broker: a duplicate for B, "
                    "receipt sent again, nothing stored\n");
    s_seal(&x, ka, pb.box, id0, "other-bytes-2", id, &p);
    s_forget_broker(&x);
    s_inject(&x, &p, id0);
    PL_CHECK(pl_testnode_wait_log(
        blog_copy, "attack reason=same_id_other_bytes", 1, 15000));
    PL_CHECK(
        pl_testnode_wait_log(blog_copy, "reason=duplicate_conflict", 1, 15000));
    pl_buf_free(&p);
    s_nothing_stored(&x, 1, seen0);
    fprintf(stderr, "same id other bytes through a forgetful broker: "
                    "refused by B as an attack\n");

    // 6. the sender is revoked mid-run: B learns it (SIGHUP), the broker
    // does not (so the envelope reaches B, which must refuse it)
    pl_testnode_revoke(&net, A, net.home[B]);
    PL_CHECK(kill(net.node_pid[B], SIGHUP) == 0);
    PL_CHECK(pl_testnode_wait_log(blog_copy, "revocation_updated", 1, 10000));
    s_seal(&x, ka, pb.box, NULL, "revoked", id, &p);
    s_inject(&x, &p, id);
    PL_CHECK(pl_testnode_wait_log(blog_copy, "reason=revoked", 1, 15000));
    pl_buf_free(&p);
    s_nothing_stored(&x, 1, seen0);
    // and B no longer lists A in its directory
    char *out = NULL;
    json_error_t jerr;
    json_t *dir = NULL;
    PL_CHECK(pl_test_sh(&out, "'%s' --home '%s' directory --json",
                        pl_test_bin("passerelle"), net.home[B])
             == 0);
    dir = json_loads(out, 0, &jerr);
    free(out);
    size_t i;
    json_t *e;
    json_array_foreach(dir, i, e) PL_CHECK(
        strcmp(json_string_value(json_object_get(e, "address")), net.address[A])
        != 0);
    json_decref(dir);
    fprintf(stderr, "revoked sender: refused\n");

    // 7. a storm of bad envelopes: each is refused and counted, the log
    // holds 20 lines of them and says once that the rest are counted only
    long ref0 = pl_testnode_stat(net.home[B], "counters.in_refused");
    long lines0 = pl_testnode_count_in_file(blog_copy, "envelope_refused id=");
    PL_CHECK(lines0 >= 1);
    for (int k = 0; k < 60; k++) {
        s_seal(&x, ka, pc.box, NULL, "storm", id, &p);
        s_inject(&x, &p, id);
        pl_buf_free(&p);
    }
    PL_CHECK(pl_testnode_wait_stat(net.home[B], "counters.in_refused",
                                   ref0 + 60, 30000)
             == ref0 + 60);
    long lines =
        pl_testnode_count_in_file(blog_copy, "envelope_refused id=") - lines0;
    fprintf(stderr, "storm of 60 refused envelopes: %ld lines\n", lines);
    // at most 20 a minute (the storm may straddle two windows)
    PL_CHECK(lines <= 40);
    PL_CHECK(pl_testnode_count_in_file(blog_copy, "envelope_refused_quiet")
             >= 1);
    s_nothing_stored(&x, 1, seen0);

    // the good message is the only one B holds
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net.home[B], "list --json") == 0);
    PL_CHECK(json_array_size(list) == 1);
    PL_CHECK(strcmp(json_string_value(
                        json_object_get(json_array_get(list, 0), "payload")),
                    "good")
             == 0);
    json_decref(list);
    pl_buf_free(&good);
    pl_keys_destroy(&kc);
    pl_rawclient_close(&x.raw);
    pl_test_net_destroy(&net);
    printf("test_node_refuse: ok\n");
    return 0;
}
