// test_node_backup_mode - a backup's store file is readable by its owner
// only (issue 11, item 13: "A backup's data.mdb is created 0644"): taken
// through the running daemon and taken with the daemon stopped, the
// backup's store/data.mdb is mode 0600 and its folder 0700. Layer: tests.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

static unsigned
s_mode(const char *path)
{
    struct stat st;
    PL_CHECK(stat(path, &st) == 0);
    return (unsigned) (st.st_mode & 07777);
}

static void
s_check(const char *bk)
{
    char data[700], dir[700];
    snprintf(dir, sizeof dir, "%s/store", bk);
    snprintf(data, sizeof data, "%s/store/data.mdb", bk);
    fprintf(stderr, "  %s: data.mdb %04o, store/ %04o\n", bk, s_mode(data),
            s_mode(dir));
    PL_CHECK(s_mode(data) == 0600);
    PL_CHECK(s_mode(dir) == 0700);
}

int
main(void)
{
    const char *specs[] = {"agency:agency"};
    pl_test_net_t net;
    pl_test_net_init(&net, "bkmode", specs, 1);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, 0, NULL, NULL);
    char bk[600];
    snprintf(bk, sizeof bk, "%s/backup-online", net.root);
    char *out = NULL;
    int rc = pl_testnode_cli(&out, &net, 0, "backup --to '%s'", bk);
    PL_CHECK(rc == 0);
    free(out);
    s_check(bk);
    pl_test_net_stop_node(&net, 0, false);
    snprintf(bk, sizeof bk, "%s/backup-offline", net.root);
    rc = pl_testnode_cli(&out, &net, 0, "backup --to '%s'", bk);
    PL_CHECK(rc == 0);
    free(out);
    s_check(bk);
    pl_test_net_destroy(&net);
    fprintf(stderr, "test_node_backup_mode: ok\n");
    return 0;
}
