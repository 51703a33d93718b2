// pl_conf - configuration files for the daemons. Layer: proto.
//
// A file is one "key = value" per line; a key is a long option of the
// daemon (its getopt_long table: --map-size 64 is "map-size = 64"), '#'
// starts a comment (at the start of a line or after blanks), blank lines
// are skipped; a value may be put in double quotes (kept as is inside).
// An option without an argument (e.g. --verify-signatures) takes true or
// false (also yes/no, on/off, 1/0). The keys "config", "check-config" and
// "help" are refused in a file, as is a key given twice.
//
// pl_conf_load turns the file into the arguments "--key=value" put before
// the command line's own, so that one getopt_long pass reads both and a
// command-line option overrides the file (the last one wins). A bad value
// is found by the daemon's own option code; pl_conf_line then names the
// file line of the argument getopt stopped at.
#ifndef PL_CONF_H
#define PL_CONF_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "proto/pl_err.h"

#define PL_CONF_MAX_BYTES (64 * 1024) // a larger file is refused
#define PL_CONF_MAX_LINE  4096        // bytes in one line at most
#define PL_CONF_MAX_KEYS  64          // entries of an option table at most

typedef struct pl_conf {
    int argc;         // the merged arguments (argv[0], file, command line)
    char **argv;      // NULL-terminated; owned
    int *line;        // file line of each argv entry, 0 = command line
    const char *path; // the file (borrowed from the command line), or NULL
} pl_conf_t;

// The FILE of "--config FILE" or "--config=FILE" in argv (the last one),
// or NULL. Stops at "--".
const char *pl_conf_path(int argc, char **argv);

// Builds conf->argv from the file 'path' (NULL: none) and argv. Unknown
// key, missing '=', empty key or value, a refused or repeated key, a bad
// boolean, a line too long, an unreadable or oversized file: PL_EINVAL (or
// PL_EIO) and "PATH:LINE: what" in 'err'. Free with pl_conf_free.
PL_MUST_CHECK int pl_conf_load(pl_conf_t *conf, const char *path,
                               const struct option *opts, int argc, char **argv,
                               char *err, size_t err_size);

// The file line of conf->argv[index], 0 if it came from the command line.
int pl_conf_line(const pl_conf_t *conf, int index);

// Writes "PATH:LINE: bad value for KEY (above)" to 'out' when argv[index]
// came from the file; nothing otherwise. For the daemons' usage errors.
void pl_conf_blame(const pl_conf_t *conf, int index, const char *prog,
                   FILE *out);

void pl_conf_free(pl_conf_t *conf);

#endif
