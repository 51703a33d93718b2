// pl_ctl_reply - the control replies of the node daemon (DESIGN.md §9):
//   {"ok": true, "result": ...} | {"ok": false, "error": "...", "code":
//   "PL_E..."}
// and the JSON forms of times and ids used inside them. Layer: domain (no
// daemon state): every handler and the dispatcher build replies with these,
// so no handler calls up into the dispatcher.
#ifndef PL_CTL_REPLY_H
#define PL_CTL_REPLY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

// Wraps 'result' (reference stolen) into {"ok": true, "result": ...};
// malloc'd JSON text (an error reply if memory runs out or 'result' is
// NULL).
char *pl_node_ctl_ok(json_t *result);
// Builds an error reply {"ok": false, "error": text, "code": name of
// 'code'}; malloc'd JSON text (a fixed out-of-memory reply if need be).
char *pl_node_ctl_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// The "code" name of a PL_E* code ("PL_EUNKNOWN" for others).
const char *pl_ctl_code_name(int code);
// RFC 3339 UTC text of 't' / lower-case hex of 'n' (at most 64) bytes, as
// JSON strings.
json_t *pl_node_json_time(uint64_t t);
json_t *pl_node_json_hex(const uint8_t *id, size_t n);

#endif
