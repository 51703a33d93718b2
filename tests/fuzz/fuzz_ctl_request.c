// fuzz_ctl_request - libFuzzer target for the node's control-socket
// request parser (pl_node_ctl_parse, nodes/pl_node_ctl.c): the step every
// request on DIR/control goes through before any store is touched.
// Layer: tests (fuzz). Built with -fsanitize=fuzzer under PL_FUZZ=ON and
// replayed over corpus/ctl_request in every build (fuzz/ctl_request_replay).
//
// For one input: a success must give a command name of 1..64 bytes, a
// request id of 32 hex digits when there is one (always for a command
// that changes state), an args object or none, a staff name of at most 200
// bytes; a failure must give an error reply that is itself a JSON object
// {"ok": false, "error": text, "code": text}. Anything else aborts.
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_ctl_req_t r;
    char *reply = NULL;
    if (pl_node_ctl_parse((const char *) data, size, pl_node_ctl_changes, &r,
                          &reply)
        == 0) {
        size_t n = strlen(r.cmd);
        if (reply || n == 0 || n > PL_CTL_CMD_MAX)
            abort();
        if (r.changes && !r.rid)
            abort();
        if (r.rid && strlen(r.rid) != 2 * PL_CTL_RID_BYTES)
            abort();
        if (r.args && !json_is_object(r.args))
            abort();
        if (r.as && strlen(r.as) > PL_CTL_AS_MAX)
            abort();
        pl_node_ctl_req_free(&r);
        return 0;
    }
    if (!reply || r.doc)
        abort();
    json_error_t jerr;
    json_t *doc = json_loads(reply, 0, &jerr);
    if (!json_is_object(doc) || !json_is_false(json_object_get(doc, "ok"))
        || !json_is_string(json_object_get(doc, "error"))
        || !json_is_string(json_object_get(doc, "code")))
        abort();
    json_decref(doc);
    free(reply);
    return 0;
}
