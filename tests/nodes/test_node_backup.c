// test_node_backup - backup and restore with real processes (issue 6):
//   a backup of the recipient is taken while 500 messages flow; the
//   manifest names the audit head and counts, the master key is not in
//   the backup (neither the file nor its text); the node is then restored
//   into a fresh home (keys and certificates copied, the backup as
//   store/): audit verify passes, and it receives what was queued for it
//   while it was down. A second backup with the node stopped works too
//   (the CLI opens the store read-only itself). Layer: tests.
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_WAIT_MS 120000
#define S_FLOW    500
#define S_QUEUED  100
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
    int rc = pl_test_sh(&text, "'%s' %s", pl_test_bin("passerelle"), args);
    if (out) {
        json_error_t e;
        *out = text ? json_loads(text, 0, &e) : NULL;
    }
    free(text);
    return rc;
}

static void
s_send(const pl_test_net_t *net, const char *tag, int count)
{
    for (int done = 0; done < count; done += 50) {
        json_t *r = NULL;
        PL_CHECK(pl_testnode_tool(&r, NULL, net->home[AG],
                                  "send --to '%s' --payload '%s-%d' --count "
                                  "50 --json",
                                  net->address[CL], tag, done)
                 == 0);
        json_decref(r);
    }
}

static long
s_num(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (long) json_integer_value(v) : -1;
}

int
main(void)
{
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "backup", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, AG, s_fast, NULL);
    pl_testnode_start(&net, CL, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, 30000));

    // a backup in the middle of the flow
    char bk[700], bk2[700];
    snprintf(bk, sizeof bk, "%s/backup-1", net.root);
    snprintf(bk2, sizeof bk2, "%s/backup-2", net.root);
    s_send(&net, "flow-a", S_FLOW / 2);
    json_t *m = NULL;
    PL_CHECK(s_cli(&m, "--home '%s' backup --to '%s' --json", net.home[CL], bk)
             == 0);
    s_send(&net, "flow-b", S_FLOW / 2);
    PL_CHECK(m && json_is_true(json_object_get(m, "online")));
    PL_CHECK(json_is_false(json_object_get(m, "master_key_included")));
    PL_CHECK(json_is_true(json_object_get(m, "audit_verified")));
    long inbox0 = s_num(m, "counts", "inbox");
    long head0 = s_num(m, "audit_head", "count");
    PL_CHECK(inbox0 >= 0 && inbox0 <= S_FLOW && head0 >= inbox0);
    fprintf(stderr, "backup mid-flow: inbox=%ld audit=%ld bytes=%ld ms=%ld\n",
            inbox0, head0, s_num(m, "bytes", NULL), s_num(m, "ms", NULL));
    json_decref(m);
    // the human output names the key and says it is not copied
    char *text = NULL;
    PL_CHECK(pl_test_sh(&text, "'%s' --home '%s' backup --to '%s/backup-h'",
                        pl_test_bin("passerelle"), net.home[CL], net.root)
             == 0);
    PL_CHECK(text && strstr(text, "NOT in the backup")
             && strstr(text, "keys/master.secret"));
    free(text);
    // the master key is in no file of the backup
    char path[900], *key = NULL;
    snprintf(path, sizeof path, "%s/keys/master.secret", net.home[CL]);
    PL_CHECK(pl_test_sh(&key, "tr -d '\\n' < '%s'", path) == 0 && key
             && strlen(key) == 40);
    PL_CHECK(pl_test_grep_tree(bk, key, strlen(key)) == 0);
    PL_CHECK(pl_test_sh(NULL, "find '%s' -name '*.secret' | grep -q .", bk)
             != 0);
    free(key);

    PL_CHECK(pl_testnode_wait_stat(net.home[CL], "inbox", S_FLOW, S_WAIT_MS)
             == S_FLOW);
    PL_CHECK(pl_testnode_wait_stat(net.home[AG], "outbox.receipted", S_FLOW,
                                   S_WAIT_MS)
             == S_FLOW);

    // the node is lost; messages queue for it at the broker
    pl_test_net_stop_node(&net, CL, true);
    s_send(&net, "queued", S_QUEUED);
    PL_CHECK(pl_testnode_wait_stat(net.home[AG], "outbox.accepted", S_QUEUED,
                                   S_WAIT_MS)
             == S_QUEUED);

    // restore into a fresh home: keys and certificates from where they are
    // kept, the backup as store/
    char fresh[400];
    snprintf(fresh, sizeof fresh, "%s/clinic-restored", net.root);
    PL_CHECK(pl_test_sh(NULL,
                        "mkdir -m 700 '%s' && cp -a '%s/keys' '%s/node.cert' "
                        "'%s/authority.pub' '%s/broker.cert' '%s/' && "
                        "cp -a '%s/store' '%s/store'",
                        fresh, net.home[CL], net.home[CL], net.home[CL],
                        net.home[CL], fresh, bk, fresh)
             == 0);
    snprintf(net.home[CL], sizeof net.home[CL], "%s", fresh);
    pl_testnode_start(&net, CL, s_fast, NULL);
    long want = inbox0 + S_QUEUED;
    PL_CHECK(pl_testnode_wait_stat(net.home[CL], "inbox", want, S_WAIT_MS)
             == want);
    PL_CHECK(pl_testnode_wait_stat(net.home[AG], "outbox.receipted",
                                   S_FLOW + S_QUEUED, S_WAIT_MS)
             == S_FLOW + S_QUEUED);
    json_t *v = NULL;
    PL_CHECK(s_cli(&v, "--home '%s' audit verify --json", fresh) == 0);
    PL_CHECK(json_is_true(json_object_get(v, "ok")));
    PL_CHECK(s_num(v, "entries", NULL) > head0);
    json_decref(v);
    fprintf(stderr,
            "restored: inbox %ld (backup %ld + queued %d); received after "
            "the backup and before the loss: %ld (not in the backup)\n",
            want, inbox0, S_QUEUED, S_FLOW - inbox0);

    // a backup with the node stopped: the CLI does it itself
    pl_test_net_stop_node(&net, CL, false);
    PL_CHECK(s_cli(&m, "--home '%s' backup --to '%s' --json", fresh, bk2) == 0);
    PL_CHECK(m && json_is_false(json_object_get(m, "online")));
    PL_CHECK(json_is_true(json_object_get(m, "audit_verified")));
    PL_CHECK(s_num(m, "counts", "inbox") == want);
    json_decref(m);
    PL_CHECK(s_cli(NULL, "--home '%s' backup --to '%s' 2>/dev/null", fresh,
                   bk2)
             != 0); // never over an existing backup

    pl_test_net_destroy(&net);
    printf("test_node_backup: ok\n");
    return 0;
}
