// pl-testmsg - test-only tool (not part of the public CLI): sends opaque
// test messages through a running node daemon and lists what a node
// received or sent. Layer: tests.
//
//   pl-testmsg --home DIR send --to ADDR --payload TEXT [--count N]
//              [--ttl S] [--request-id HEX] [--json]
//   pl-testmsg --home DIR list [--json]
//   pl-testmsg --home DIR outbox [--kind K] [--state S] [--json]
//   pl-testmsg --home DIR stats
//
// Everything goes through the control socket (cli_control), exactly as the
// CLI does; the store is never opened here. The client comes from the
// pl_cli library.
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"

static int
s_usage(FILE *out, int rc)
{
    fputs("usage: pl-testmsg --home DIR send --to ADDR --payload TEXT "
          "[--count N] [--ttl S]\n"
          "                  [--request-id HEX] [--json]\n"
          "       pl-testmsg --home DIR list [--json]\n"
          "       pl-testmsg --home DIR outbox [--kind K] [--state S] "
          "[--json]\n"
          "       pl-testmsg --home DIR stats\n"
          "exit status: 0 ok, 1 the daemon refused or failed, 2 usage, 3 "
          "not running,\n             4 no answer in time\n",
          out);
    return rc;
}

static int
s_print(json_t *doc)
{
    json_dumpf(doc, stdout, JSON_INDENT(1));
    fputc('\n', stdout);
    json_decref(doc);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *home = NULL, *to = NULL, *payload = NULL, *rid = NULL;
    const char *kind = NULL, *state = NULL;
    long count = 1, ttl = 0;
    bool json = false;
    static const struct option opts[] = {
        {"home", required_argument, NULL, 'H'},
        {"to", required_argument, NULL, 't'},
        {"payload", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'n'},
        {"ttl", required_argument, NULL, 'T'},
        {"request-id", required_argument, NULL, 'r'},
        {"kind", required_argument, NULL, 'k'},
        {"state", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    // options may come before or after the command word
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            home = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'p':
            payload = optarg;
            break;
        case 'n':
            count = strtol(optarg, NULL, 10);
            break;
        case 'T':
            ttl = strtol(optarg, NULL, 10);
            break;
        case 'r':
            rid = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 's':
            state = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            return s_usage(stdout, 0);
        default:
            return s_usage(stderr, 2);
        }
    }
    if (!home || optind != argc - 1)
        return s_usage(stderr, 2);
    const char *cmd = argv[optind];
    json_t *args = json_object();
    const char *ctl = NULL;
    if (strcmp(cmd, "send") == 0) {
        if (!to || !payload || count < 1)
            return s_usage(stderr, 2);
        ctl = "test.send";
        json_object_set_new(args, "to", json_string(to));
        json_object_set_new(args, "payload", json_string(payload));
        json_object_set_new(args, "count", json_integer(count));
        if (ttl > 0)
            json_object_set_new(args, "ttl", json_integer(ttl));
    } else if (strcmp(cmd, "list") == 0) {
        ctl = "test.list";
    } else if (strcmp(cmd, "outbox") == 0) {
        ctl = "outbox";
        if (kind)
            json_object_set_new(args, "kind", json_string(kind));
        if (state)
            json_object_set_new(args, "state", json_string(state));
    } else if (strcmp(cmd, "stats") == 0) {
        ctl = "stats";
        json = true;
    } else {
        json_decref(args);
        return s_usage(stderr, 2);
    }
    char err[512], code[32];
    json_t *res = NULL;
    int rc =
        cli_control_call_id(home, rid, ctl, args, NULL, CLI_CONTROL_TIMEOUT_MS,
                            &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc != CLI_CONTROL_OK) {
        fprintf(stderr, "pl-testmsg: %s: %s%s%s\n", cmd, err,
                code[0] ? " " : "", code);
        return rc == CLI_CONTROL_ERROR         ? 1
               : rc == CLI_CONTROL_NOT_RUNNING ? 3
               : rc == CLI_CONTROL_TIMEOUT     ? 4
                                               : 1;
    }
    if (json)
        return s_print(res);
    size_t i;
    json_t *e;
    if (strcmp(cmd, "send") == 0) {
        json_array_foreach(json_object_get(res, "ids"), i, e)
            puts(json_string_value(e));
    } else if (strcmp(cmd, "list") == 0) {
        json_array_foreach(res, i, e)
            printf("%s %s %s %s\n", json_string_value(json_object_get(e, "id")),
                   json_string_value(json_object_get(e, "from")),
                   json_string_value(json_object_get(e, "received_at")),
                   json_string_value(json_object_get(e, "payload")));
    } else {
        json_array_foreach(res, i, e) printf(
            "%s %-9s %-8s %s\n", json_string_value(json_object_get(e, "id")),
            json_string_value(json_object_get(e, "state")),
            json_string_value(json_object_get(e, "kind")),
            json_string_value(json_object_get(e, "to")));
    }
    json_decref(res);
    return 0;
}
