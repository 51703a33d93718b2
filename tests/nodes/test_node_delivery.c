// test_node_delivery - real broker and node processes on 127.0.0.1:
//   (b) B offline while A sends; B starts later and receives everything;
//       A's outbox settles (all receipted);
//   (a) A sends 1,000 more: each arrives exactly once, each receipted;
//   request ids: a retried send with the same request id acts once;
//   (e) a random marker inside the payloads is found by B's tool and in no
//       file under any home, the broker's or the logs.
// Layer: tests.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_OFFLINE 100  // sent while B is offline
#define S_BULK    1000 // sent while both run
#define S_BATCH   100  // messages per send command
#define S_WAIT_MS 120000

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

// Sends 'count' messages "<tag>-<k>-<marker>" in batches; returns ids
// appended to 'ids'.
static void
s_send(const pl_test_net_t *net, int from, int to, const char *tag,
       const char *marker, int count, json_t *ids)
{
    for (int done = 0; done < count; done += S_BATCH) {
        int n = count - done < S_BATCH ? count - done : S_BATCH;
        json_t *r = NULL;
        // one payload per batch; the batch index makes it unique
        int rc = pl_testnode_tool(&r, NULL, net->home[from],
                                  "send --to '%s' --payload '%s-%d-%s' "
                                  "--count %d --json",
                                  net->address[to], tag, done, marker, n);
        PL_CHECK(rc == 0 && r != NULL);
        json_t *a = json_object_get(r, "ids");
        PL_CHECK(json_array_size(a) == (size_t) n);
        json_array_extend(ids, a);
        json_decref(r);
    }
}

// Checks that B's list holds exactly 'ids', once each.
static void
s_check_received(const char *home, json_t *ids, const char *marker)
{
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, home, "list --json") == 0);
    PL_CHECK(json_array_size(list) == json_array_size(ids));
    json_t *seen = json_object();
    size_t i;
    json_t *e;
    long with_marker = 0;
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *payload = json_string_value(json_object_get(e, "payload"));
        PL_CHECK(id && payload);
        PL_CHECK(json_object_get(seen, id) == NULL); // exactly once
        json_object_set_new(seen, id, json_true());
        if (strstr(payload, marker))
            with_marker++;
    }
    json_array_foreach(ids, i, e)
        PL_CHECK(json_object_get(seen, json_string_value(e)) != NULL);
    // positive control for the marker scan: B's tool shows it
    PL_CHECK(with_marker == (long) json_array_size(ids));
    json_decref(seen);
    json_decref(list);
}

int
main(void)
{
    uint64_t rng = pl_test_seed();
    char marker[40];
    snprintf(marker, sizeof marker, "MRK%016llx%08llx",
             (unsigned long long) pl_test_rand(&rng),
             (unsigned long long) (pl_test_rand(&rng) & 0xffffffffULL));

    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "deliv", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, 0, s_fast, NULL);
    // B must be in A's directory: start it once so the broker knows it
    // (the broker's registry already does; the directory comes from it)
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));

    // (b) B offline while A sends
    json_t *ids = json_array();
    s_send(&net, 0, 1, "offline", marker, S_OFFLINE, ids);
    PL_CHECK(pl_testnode_wait_stat(net.home[0], "outbox.accepted", S_OFFLINE,
                                   S_WAIT_MS)
             == S_OFFLINE);
    PL_CHECK(pl_testnode_stat(net.home[0], "outbox.receipted") == 0);
    pl_testnode_start(&net, 1, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_stat(net.home[1], "inbox", S_OFFLINE, S_WAIT_MS)
             == S_OFFLINE);
    PL_CHECK(pl_testnode_wait_stat(net.home[0], "outbox.receipted", S_OFFLINE,
                                   S_WAIT_MS)
             == S_OFFLINE);
    PL_CHECK(pl_testnode_stat(net.home[0], "outbox.pending") == 0);
    PL_CHECK(pl_testnode_stat(net.home[0], "outbox.accepted") == 0);
    fprintf(stderr, "offline delivery: %d receipted\n", S_OFFLINE);

    // request ids: the same id twice acts once, and returns the same ids
    const char *rid = "00112233445566778899aabbccddeeff";
    json_t *r1 = NULL, *r2 = NULL;
    PL_CHECK(pl_testnode_tool(&r1, NULL, net.home[0],
                              "send --to '%s' --payload 'rid-%s' --count 3 "
                              "--request-id %s --json",
                              net.address[1], marker, rid)
             == 0);
    PL_CHECK(pl_testnode_tool(&r2, NULL, net.home[0],
                              "send --to '%s' --payload 'rid-%s' --count 3 "
                              "--request-id %s --json",
                              net.address[1], marker, rid)
             == 0);
    PL_CHECK(r1 && r2 && json_equal(r1, r2));
    json_array_extend(ids, json_object_get(r1, "ids"));
    json_decref(r1);
    json_decref(r2);

    // (a) 1,000 more
    s_send(&net, 0, 1, "bulk", marker, S_BULK, ids);
    long total = (long) json_array_size(ids);
    PL_CHECK(total == S_OFFLINE + 3 + S_BULK);
    PL_CHECK(pl_testnode_wait_stat(net.home[1], "inbox", total, S_WAIT_MS)
             == total);
    PL_CHECK(
        pl_testnode_wait_stat(net.home[0], "outbox.receipted", total, S_WAIT_MS)
        == total);
    s_check_received(net.home[1], ids, marker);
    // every receipt B sent was accepted by the broker; none was receipted
    PL_CHECK(pl_testnode_wait_stat(net.home[1], "receipts_out.accepted", total,
                                   S_WAIT_MS)
             == total);
    PL_CHECK(pl_testnode_stat(net.home[1], "receipts_out.receipted") == 0);
    // A's outbox entries: all receipted, by id
    json_t *out = NULL;
    PL_CHECK(
        pl_testnode_tool(&out, NULL, net.home[0], "outbox --kind test --json")
        == 0);
    PL_CHECK((long) json_array_size(out) == total);
    size_t i;
    json_t *e;
    json_array_foreach(out, i, e) PL_CHECK(
        strcmp(json_string_value(json_object_get(e, "state")), "receipted")
        == 0);
    json_decref(out);
    fprintf(stderr, "bulk delivery: %ld delivered once and receipted\n", total);

    // (e) the marker is in no file: stop everything first (logs flushed,
    // stores closed), then scan every file under the network's root
    for (int k = 0; k < net.n; k++)
        pl_test_net_stop_node(&net, k, false);
    pl_test_net_stop_broker(&net, false);
    long hits = pl_test_grep_tree(net.root, marker, strlen(marker));
    fprintf(stderr, "marker %s: %ld hits on disk\n", marker, hits);
    PL_CHECK(hits == 0);
    // and the ordinary words of the payloads neither (a weaker check: the
    // plaintext is nowhere, not only the marker)
    PL_CHECK(pl_test_grep_tree(net.root, "offline-0-", 10) == 0);

    json_decref(ids);
    pl_test_net_destroy(&net);
    printf("test_node_delivery: ok\n");
    return 0;
}
