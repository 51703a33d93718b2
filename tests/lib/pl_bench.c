// pl_bench - shared pieces of the benchmarks. Layer: tests.
#include "tests/lib/pl_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_wire.h"
#include "tests/lib/pl_test.h"

static double
s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
s_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

double
pl_bench_floor(size_t payload_len, int iters, bool cpu_time)
{
    pl_keys_t *a = NULL, *b = NULL;
    PL_CHECK(pl_keys_generate(&a) == PL_OK && pl_keys_generate(&b) == PL_OK);
    uint8_t *payload = malloc(payload_len ? payload_len : 1);
    PL_CHECK(payload != NULL);
    memset(payload, 'x', payload_len);
    Passerelle__V1__TestMessage t = PASSERELLE__V1__TEST_MESSAGE__INIT;
    t.payload.data = payload;
    t.payload.len = payload_len;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &t;
    pl_buf_t msg = {0};
    PL_CHECK(pl_message_encode(&m, &msg) == PL_OK);
    double t0 = cpu_time ? s_cpu() : s_wall();
    for (int i = 0; i < iters; i++) {
        // A seals to B
        pl_seal_args_t sa = {a, "sn/a", "sn/b", b->pub.box, NULL, pl_now(), 0};
        pl_buf_t pkt = {0}, plain = {0};
        uint8_t id[PL_MSG_ID_BYTES];
        PL_CHECK(pl_envelope_seal(&sa, msg.data, msg.len, id, &pkt) == PL_OK);
        // B verifies, opens, digests, signs the receipt and seals it
        pl_packet_t *p = NULL;
        PL_CHECK(pl_wire_decode(pkt.data, pkt.len, &p) == PL_OK);
        pl_envelope_t v;
        pl_envelope_view(p->envelope, &v);
        PL_CHECK(pl_envelope_verify(&v, a->pub.sign) == PL_OK);
        PL_CHECK(pl_envelope_open(&v, "sn/b", b->pub.box, b->sec->box,
                                  a->pub.sign, NULL, &plain)
                 == PL_OK);
        uint8_t dg[PL_DIGEST_BYTES], sig[PL_SIG_BYTES];
        pl_envelope_digest(&v, dg);
        pl_receipt_sign(b, id, dg, 1, sig);
        Passerelle__V1__Receipt r = PASSERELLE__V1__RECEIPT__INIT;
        r.message_id.data = id;
        r.message_id.len = sizeof id;
        r.digest.data = dg;
        r.digest.len = sizeof dg;
        r.received_at = 1;
        r.signature.data = sig;
        r.signature.len = sizeof sig;
        Passerelle__V1__Message rm = PASSERELLE__V1__MESSAGE__INIT;
        rm.body_case = PASSERELLE__V1__MESSAGE__BODY_RECEIPT;
        rm.receipt = &r;
        pl_buf_t renc = {0}, rpkt = {0}, rplain = {0};
        PL_CHECK(pl_message_encode(&rm, &renc) == PL_OK);
        pl_seal_args_t rb = {b, "sn/b", "sn/a", a->pub.box, NULL, pl_now(), 0};
        uint8_t rid[PL_MSG_ID_BYTES];
        PL_CHECK(pl_envelope_seal(&rb, renc.data, renc.len, rid, &rpkt)
                 == PL_OK);
        // A verifies, opens, checks the receipt
        pl_packet_t *q = NULL;
        PL_CHECK(pl_wire_decode(rpkt.data, rpkt.len, &q) == PL_OK);
        pl_envelope_t rv;
        pl_envelope_view(q->envelope, &rv);
        PL_CHECK(pl_envelope_verify(&rv, b->pub.sign) == PL_OK);
        PL_CHECK(pl_envelope_open(&rv, "sn/a", a->pub.box, a->sec->box,
                                  b->pub.sign, NULL, &rplain)
                 == PL_OK);
        PL_CHECK(pl_receipt_verify(b->pub.sign, id, dg, 1, sig) == PL_OK);
        pl_wire_free(&p);
        pl_wire_free(&q);
        pl_buf_free(&pkt);
        pl_buf_free(&rpkt);
        pl_buf_free(&renc);
        pl_buf_wipe(&plain);
        pl_buf_wipe(&rplain);
    }
    double per = ((cpu_time ? s_cpu() : s_wall()) - t0) / iters;
    free(payload);
    pl_buf_free(&msg);
    pl_keys_destroy(&a);
    pl_keys_destroy(&b);
    return per;
}

double
pl_bench_proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    // the fields after the command name, which is in parentheses
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long utime = 0, stime = 0;
    // state ppid pgrp session tty tpgid flags minflt cminflt majflt
    // cmajflt utime stime
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime)
        != 2)
        return 0;
    return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

double
pl_bench_now(void)
{
    return s_wall();
}

long
pl_bench_proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0)
            kib = strtol(line + n, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}
