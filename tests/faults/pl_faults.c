// pl_faults - fault test helpers. Layer: tests (faults).
#include "tests/faults/pl_faults.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

bool
pl_faults_long(void)
{
    const char *v = getenv("PL_FAULTS_LONG");
    return v && strcmp(v, "1") == 0;
}

const char *
pl_faults_lib(void)
{
    const char *v = getenv("PL_FAULTFS");
    return v && *v ? v : PL_FAULTFS_PATH;
}

void
pl_faults_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

void
pl_faults_env_add(pl_faults_env_t *e, const char *fmt, ...)
{
    PL_CHECK(e->n < PL_FAULTS_ENV_MAX);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf[e->n], sizeof e->buf[0], fmt, ap);
    va_end(ap);
    e->v[e->n] = e->buf[e->n];
    e->n++;
    e->v[e->n] = NULL;
}

void
pl_faults_env_init(pl_faults_env_t *e, bool preload)
{
    memset(e, 0, sizeof *e);
    // a daemon that dies of an injected fault is not expected to free
    // everything: no leak report (the ordinary tests check leaks), and the
    // preloaded library comes before the ASan runtime on purpose
    const char *asan = getenv("ASAN_OPTIONS");
    pl_faults_env_add(e,
                      "ASAN_OPTIONS=%s%sdetect_leaks=0:"
                      "verify_asan_link_order=0",
                      asan ? asan : "", asan && *asan ? ":" : "");
    if (preload)
        pl_faults_env_add(e, "LD_PRELOAD=%s", pl_faults_lib());
}

bool
pl_faults_start_broker(pl_test_net_t *net, const char *const extra[],
                       const char *const env[])
{
    pl_testnet_spawn_broker(net, NULL, extra, env); // tests/lib/pl_testnet
    return pl_testnet_wait_broker(net, 15000);
}

bool
pl_faults_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (status)
                *status = st;
            return true;
        }
        if (r < 0)
            return false;
        pl_faults_sleep_ms(10);
    }
    return false;
}

// ---- streaming sender

void
pl_faults_stream_open(pl_faults_stream_t *s, const pl_test_net_t *net, int from,
                      int to, int n, size_t payload)
{
    memset(s, 0, sizeof *s);
    s->c = pl_rawclient_open(net->home[from], net->endpoint);
    PL_CHECK(s->c != NULL);
    s->items = calloc((size_t) n, sizeof *s->items);
    PL_CHECK(s->items != NULL);
    s->n = n;
    uint8_t *body = calloc(1, payload + 32);
    PL_CHECK(body != NULL);
    for (int i = 0; i < n; i++) {
        int len = snprintf((char *) body, payload + 32, "fault-%d-", i);
        size_t total = payload > (size_t) len ? payload : (size_t) len;
        memset(body + len, 'x', total - (size_t) len);
        PL_CHECK(pl_rawclient_seal(s->c, net->home[to], NULL, body, total, 0,
                                   s->items[i].id, &s->items[i].pkt)
                 == PL_OK);
    }
    free(body);
}

void
pl_faults_stream_close(pl_faults_stream_t *s)
{
    for (int i = 0; i < s->n; i++)
        pl_buf_free(&s->items[i].pkt);
    free(s->items);
    pl_rawclient_close(&s->c);
    memset(s, 0, sizeof *s);
}

pl_faults_item_t *
pl_faults_find(pl_faults_stream_t *s, const uint8_t *id, size_t len)
{
    if (len != PL_MSG_ID_BYTES)
        return NULL;
    for (int i = 0; i < s->n; i++)
        if (memcmp(s->items[i].id, id, PL_MSG_ID_BYTES) == 0)
            return &s->items[i];
    return NULL;
}

int
pl_faults_stream_pump(pl_faults_stream_t *s, int burst, int ms)
{
    int sent = 0, fresh = 0;
    for (int i = 0; i < s->n && sent < burst; i++)
        if (!s->items[i].accepted) {
            pl_rawclient_send(s->c, s->items[i].pkt.data, s->items[i].pkt.len);
            sent++;
        }
    uint64_t until = pl_mono_ms() + (uint64_t) ms;
    while (pl_mono_ms() < until) {
        pl_packet_t *r = NULL;
        if (pl_rawclient_recv(s->c, &r, 20) != PL_OK)
            continue;
        if (r->kind_case == PASSERELLE__V1__PACKET__KIND_ACCEPTED) {
            pl_faults_item_t *it = pl_faults_find(
                s, r->accepted->message_id.data, r->accepted->message_id.len);
            if (it && !it->accepted) {
                it->accepted = true;
                s->accepted++;
                fresh++;
            }
        } else if (r->kind_case == PASSERELLE__V1__PACKET__KIND_REJECTED) {
            if (r->rejected->reason
                == PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL) {
                s->refused_full++;
                pl_faults_item_t *it =
                    pl_faults_find(s, r->rejected->message_id.data,
                                   r->rejected->message_id.len);
                if (it)
                    it->refused = true;
            } else {
                s->other_rejects++;
            }
        }
        pl_wire_free(&r);
    }
    return fresh;
}

// ---- draining recipient

void
pl_faults_taken(pl_rawclient_t *c, const uint8_t *id)
{
    pl_buf_t out = {0};
    PL_CHECK(pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, id, &out)
             == PL_OK);
    pl_rawclient_send(c, out.data, out.len);
    pl_buf_free(&out);
}

void
pl_faults_drain(const pl_test_net_t *net, int to, pl_faults_stream_t *s,
                int want, int idle_ms, int *unique, int *dups, int *lost)
{
    pl_rawclient_t *b = pl_rawclient_open(net->home[to], net->endpoint);
    PL_CHECK(b != NULL);
    // one hello, its welcome awaited (bounded): a second hello after a
    // slow welcome would reset the broker's delivery round and redeliver
    // what this drain already took (false duplicates on a loaded machine)
    PL_CHECK(pl_rawclient_hello(b, 30000) == PL_OK);
    int cap = s->n * 2 + 16, ngot = 0, ndup = 0;
    uint8_t(*got)[PL_MSG_ID_BYTES] = calloc((size_t) cap, PL_MSG_ID_BYTES);
    PL_CHECK(got != NULL);
    uint64_t last = pl_mono_ms();
    uint64_t hard = last + 180000;
    while (ngot < want && pl_mono_ms() - last < (uint64_t) idle_ms
           && pl_mono_ms() < hard) {
        pl_packet_t *r = NULL;
        if (pl_rawclient_recv(b, &r, 100) != PL_OK)
            continue;
        if (r->kind_case == PASSERELLE__V1__PACKET__KIND_ENVELOPE) {
            pl_envelope_t v;
            pl_header_t h;
            pl_envelope_view(r->envelope, &v);
            PL_CHECK(pl_header_decode(v.header, v.header_len, &h) == PL_OK);
            bool seen = false;
            for (int i = 0; i < ngot && !seen; i++)
                seen = memcmp(got[i], h.id, PL_MSG_ID_BYTES) == 0;
            if (seen)
                ndup++;
            else if (ngot < cap)
                memcpy(got[ngot++], h.id, PL_MSG_ID_BYTES);
            pl_faults_taken(b, h.id);
            last = pl_mono_ms();
        }
        pl_wire_free(&r);
    }
    int nlost = 0;
    for (int i = 0; i < s->n; i++) {
        if (!s->items[i].accepted)
            continue;
        for (int j = 0; j < ngot && !s->items[i].delivered; j++)
            s->items[i].delivered =
                memcmp(got[j], s->items[i].id, PL_MSG_ID_BYTES) == 0;
        if (!s->items[i].delivered)
            nlost++;
    }
    free(got);
    pl_rawclient_close(&b);
    *unique = ngot;
    *dups = ndup;
    *lost = nlost;
}

long
pl_faults_count(const char *path, const char *needle)
{
    return pl_testnode_count_in_file(path, needle); // tests/lib/pl_testnode
}

long
pl_faults_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    long n = 0;
    int c;
    while ((c = getc(f)) != EOF)
        if (c == '\n')
            n++;
    fclose(f);
    return n;
}

void
pl_faults_result(const char *fault, int runs, long acknowledged, long lost,
                 long duplicated, long control_lost, int failed_checks)
{
    char checks[32] = "ok";
    if (failed_checks)
        snprintf(checks, sizeof checks, "failed:%d", failed_checks);
    printf("FAULT-RESULT fault=%s runs=%d acknowledged=%ld lost=%ld "
           "duplicated=%ld control_lost=%ld checks=%s\n",
           fault, runs, acknowledged, lost, duplicated, control_lost, checks);
    fflush(stdout);
}

void
pl_faults_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAULT-NOTE ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

// ---- through node daemons (pl-testmsg)

// One batch from A to B; appends the ids A committed. false if A refused.
bool
pl_faults_node_send(pl_test_net_t *net, json_t *ids, int count)
{
    json_t *out = NULL;
    char err[700];
    snprintf(err, sizeof err, "%s/tool.log", net->root);
    int rc = pl_testnode_tool(&out, err, net->home[0],
                              "send --to '%s' --payload f --count %d --json",
                              net->address[1], count);
    json_t *a = json_object_get(out, "ids");
    bool ok = rc == 0 && json_is_array(a);
    if (ok)
        json_array_extend(ids, a);
    json_decref(out);
    return ok;
}

// B's store once everything settled: unique ids, duplicates, and the ids
// sent that are missing. Waits until B holds 'want' or stops changing.
void
pl_faults_node_settle(pl_test_net_t *net, json_t *ids, int stable_ms,
                      long *lost, long *dups)
{
    long want = (long) json_array_size(ids), last = -2;
    uint64_t changed = pl_mono_ms();
    uint64_t hard = changed + 120000 + (uint64_t) stable_ms;
    for (;;) {
        long n = pl_testnode_stat(net->home[1], "inbox");
        if (n != last) {
            last = n;
            changed = pl_mono_ms();
        }
        if (n >= want || pl_mono_ms() - changed > (uint64_t) stable_ms
            || pl_mono_ms() > hard)
            break;
        pl_faults_sleep_ms(200);
    }
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net->home[1], "list --json") == 0);
    json_t *seen = json_object();
    size_t i;
    json_t *e;
    *dups = 0;
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (id && json_object_get(seen, id))
            (*dups)++;
        else if (id)
            json_object_set_new(seen, id, json_true());
    }
    *lost = 0;
    json_array_foreach(
        ids, i, e) if (!json_object_get(seen, json_string_value(e)))(*lost)++;
    json_decref(seen);
    json_decref(list);
}
