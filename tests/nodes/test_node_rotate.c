// test_node_rotate - box key rotation with real processes (issue 6):
//   the recipient rotates while running; an envelope sealed to its old
//   (still certified) key opens during the grace period; after
//   re-enrolment (new certificate, new serial, same address) and a broker
//   reload the broker's directory serves only the newest certificate and
//   the sender seals to the new key; restarted with its clock 15 days
//   ahead (PASSERELLE_TEST_CLOCK_OFFSET; no sleeping) the node wipes the
//   old secret, refuses an envelope still sealed to it, and opens one
//   sealed to the new key. The audit chain records the rotation and the
//   deletion and verifies. Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 30000
enum { AG = 0, CL = 1 };

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};
static const char *const s_later[] = {"PASSERELLE_TEST_CLOCK_OFFSET=1296000",
                                      NULL}; // 15 days

// Runs the passerelle CLI; stdout as JSON into *out (may be NULL).
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
    int rc = pl_test_sh(&text, "'%s' %s", pl_test_bin("passerelle"), args);
    if (out) {
        json_error_t e;
        *out = text ? json_loads(text, 0, &e) : NULL;
    }
    free(text);
    return rc;
}

static void
s_send(const pl_test_net_t *net, const char *payload)
{
    json_t *r = NULL;
    PL_CHECK(pl_testnode_tool(&r, NULL, net->home[AG],
                              "send --to '%s' --payload '%s' --json",
                              net->address[CL], payload)
             == 0);
    json_decref(r);
}

// The clinic's entries in the agency's directory.
static json_t *
s_dir_entry(const pl_test_net_t *net, int *count)
{
    json_t *d = NULL, *hit = NULL;
    PL_CHECK(s_cli(&d, "--home '%s' directory --json", net->home[AG]) == 0);
    *count = 0;
    size_t i;
    json_t *e;
    json_array_foreach(d, i, e)
    {
        const char *a = json_string_value(json_object_get(e, "address"));
        if (a && strcmp(a, net->address[CL]) == 0) {
            (*count)++;
            json_decref(hit);
            hit = json_incref(e);
        }
    }
    json_decref(d);
    return hit;
}

int
main(void)
{
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "rotate", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, AG, s_fast, NULL);
    pl_testnode_start(&net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, S_WAIT_MS));

    // rotate while running
    json_t *rot = NULL;
    PL_CHECK(s_cli(&rot, "--home '%s' rotate-box-key --json", net.home[CL])
             == 0);
    char old_id[17], new_id[17];
    snprintf(old_id, sizeof old_id, "%s",
             json_string_value(json_object_get(rot, "old_key_id")));
    snprintf(new_id, sizeof new_id, "%s",
             json_string_value(json_object_get(rot, "new_key_id")));
    PL_CHECK(json_is_true(json_object_get(rot, "online")));
    PL_CHECK(strlen(old_id) == 16 && strcmp(old_id, new_id) != 0);
    json_decref(rot);
    char old_secret[700];
    snprintf(old_secret, sizeof old_secret, "%s/keys/box-old/%s.secret",
             net.home[CL], old_id);
    PL_CHECK(access(old_secret, F_OK) == 0);

    // sealed to the old key (the certified one): opens, in the grace period
    s_send(&net, "m1-old-key");
    PL_CHECK(pl_testnode_wait_stat(net.home[CL], "inbox", 1, S_WAIT_MS) == 1);

    // m2: still sealed to the old key, queued at the broker
    pl_test_net_stop_node(&net, CL, false);
    s_send(&net, "m2-old-key-late");
    PL_CHECK(
        pl_testnode_wait_stat(net.home[AG], "outbox.accepted", 1, S_WAIT_MS)
        == 1);

    // re-enrol: a new certificate (new serial, same address, new key) next
    // to the old one in the broker's certs/, then a reload
    pl_testnode_enrol_again(&net, CL, "health", "clinic-rotated.cert");
    PL_CHECK(s_cli(NULL, "broker reload --home '%s' >/dev/null", net.broker)
             == 0);
    // the agency refreshes its directory (a restart asks at once)
    pl_test_net_stop_node(&net, AG, false);
    pl_testnode_start(&net, AG, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 2, S_WAIT_MS));
    int n = 0;
    json_t *e = s_dir_entry(&net, &n);
    PL_CHECK(n == 1); // only the newest certificate of the address
    PL_CHECK(strcmp(json_string_value(json_object_get(e, "box_key_id")), new_id)
             == 0);
    json_decref(e);
    s_send(&net, "m3-new-key");
    PL_CHECK(
        pl_testnode_wait_stat(net.home[AG], "outbox.accepted", 2, S_WAIT_MS)
        == 2);
    fprintf(stderr, "rotation: old key %s opened m1; directory serves %s\n",
            old_id, new_id);

    // 15 days later: the old secret is wiped; m2 is refused, m3 opens
    pl_test_net_stop_node(&net, AG, false);
    pl_test_net_stop_broker(&net, false);
    pl_test_net_start_broker(&net, s_later);
    pl_testnode_start(&net, CL, s_fast, s_later);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, CL), "box_key_deleted",
                                  1, S_WAIT_MS));
    PL_CHECK(access(old_secret, F_OK) != 0);
    PL_CHECK(pl_testnode_wait_stat(net.home[CL], "inbox", 2, S_WAIT_MS) == 2);
    PL_CHECK(
        pl_testnode_wait_stat(net.home[CL], "counters.in_refused", 1, S_WAIT_MS)
        == 1);
    json_t *list = NULL;
    PL_CHECK(pl_testnode_tool(&list, NULL, net.home[CL], "list --json") == 0);
    size_t i;
    json_t *m;
    int m1 = 0, m3 = 0;
    json_array_foreach(list, i, m)
    {
        const char *p = json_string_value(json_object_get(m, "payload"));
        m1 += p && strcmp(p, "m1-old-key") == 0;
        m3 += p && strcmp(p, "m3-new-key") == 0;
        PL_CHECK(!p || strcmp(p, "m2-old-key-late") != 0);
    }
    PL_CHECK(m1 == 1 && m3 == 1);
    json_decref(list);

    // the chain holds the rotation and the deletion, and verifies
    json_t *v = NULL;
    PL_CHECK(s_cli(&v, "--home '%s' audit verify --json", net.home[CL]) == 0);
    PL_CHECK(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
    json_t *x = NULL;
    PL_CHECK(s_cli(&x, "--home '%s' audit export --json", net.home[CL]) == 0);
    char *dump = json_dumps(x, 0);
    PL_CHECK(dump && strstr(dump, "rotate-box-key")
             && strstr(dump, "box-key-deleted"));
    free(dump);
    json_decref(x);

    pl_test_net_destroy(&net);
    printf("test_node_rotate: ok\n");
    return 0;
}
