// fuzz_stdin - libFuzzer target for the CLI's --stdin document parser
// (cli_stdin_parse, adapters/cli/cli_stdin.c, linked from the pl_cli
// library). Layer: tests (fuzz). Built with
// -fsanitize=fuzzer under PL_FUZZ=ON and replayed over corpus/stdin in
// every build (fuzz/stdin_replay).
//
// For one input, with the key sets of `case add` and of `refer`: a success
// must give an object whose every key is allowed and whose every value is
// a non-empty string (or, for a list key, an array of them); a failure
// must leave an error message and no document. Anything else aborts.
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_stdin.h"

// Whether 'key' is in the NULL-terminated 'set'.
static bool
s_in(const char *const *set, const char *key)
{
    for (; set && *set; set++)
        if (!strcmp(*set, key))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_one(const uint8_t *data, size_t size, const char *const *keys,
      const char *const *lists)
{
    json_t *out = (json_t *) 1;
    char err[512] = "";
    if (cli_stdin_parse((const char *) data, size, keys, lists, &out, err,
                        sizeof err)
        != 0) {
        if (out || !err[0])
            abort();
        return;
    }
    if (!json_is_object(out))
        abort();
    const char *k;
    json_t *v;
    json_object_foreach(out, k, v)
    {
        if (!s_in(keys, k))
            abort();
        if (json_is_string(v)) {
            if (json_string_length(v) == 0)
                abort();
        } else if (json_is_array(v) && s_in(lists, k)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) if (!json_is_string(e)) abort();
        } else {
            abort();
        }
    }
    json_decref(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const add[] = {"given", "family",   "birth", "sex",
                                      "phone", "language", "uasc",  "needs",
                                      "flags", NULL};
    static const char *const refer[] = {
        "case",        "to",   "service",  "purpose",
        "due",         "note", "priority", "override_justification",
        "approved_by", NULL};
    static const char *const lists[] = {"needs", "flags", NULL};
    s_one(data, size, add, lists);
    s_one(data, size, refer, NULL);
    return 0;
}
