// cli_stdin - the `--stdin` document: one JSON object on standard input
// carrying a command's personal and free-text fields, so that they never
// show in another user's process list (issue 11, item 8). Layer: adapters.
//
// The document is read whole but never more than CLI_STDIN_MAX bytes (a
// larger one is refused at once, before the daemon is asked); every key
// must be one the command takes (an unknown key is an error naming it);
// every value is a string, or for a list key a string "a,b" or an array of
// strings. No I/O besides cli_stdin_read; cli_stdin_parse is the fuzzed
// part (tests/fuzz/fuzz_stdin.c).
#ifndef CLI_STDIN_H
#define CLI_STDIN_H

#include <jansson.h>
#include <stddef.h>

#define CLI_STDIN_MAX (64 * 1024) // largest --stdin document, bytes

// Reads file descriptor 'fd' to its end into a fresh NUL-terminated buffer
// (*text, free it; *len bytes). Returns 0, or -1 with 'err' set when the
// input is larger than CLI_STDIN_MAX (it stops reading there) or cannot be
// read.
int cli_stdin_read(int fd, char **text, size_t *len, char *err, size_t n);

// Parses 'text' (len bytes) as one JSON object. 'keys' (NULL-ended) are the
// keys allowed, 'lists' (NULL-ended, may be NULL) those of them that may be
// arrays of strings. Returns 0 with *out (new reference), or -1 with 'err'
// naming the problem (not JSON, not an object, unknown key, wrong type,
// empty or non-UTF-8 text) and *out NULL.
int cli_stdin_parse(const char *text, size_t len, const char *const *keys,
                    const char *const *lists, json_t **out, char *err,
                    size_t n);

#endif
