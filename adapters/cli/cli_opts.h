// cli_opts - the one option parser of the `passerelle` CLI: every command
// describes its options in a table of cli_opt_t rows and hands argv to
// cli_opts_parse. Layer: adapters.
//
// A row names a long option, its type (which typed checker its value
// passes), the args key it fills in the control request (if any) and what
// its --help line says. The parser:
//   - knows --home DIR, --json and -h/--help for every command (--home
//     sets cli->home, --json cli->json; --help prints the command's help
//     text on stdout and returns 0, or sets o->help when no text is given);
//   - refuses an unknown option ("unknown option '--x'"), a missing value
//     ("option '--x' needs a value"), an option of the table that this
//     command does not take ("option '--x' does not apply here") and a
//     value that fails its checker ("--x 'v': expected ..."), all usage
//     errors (exit 2);
//   - puts every checked value in o->val[row] and, for a row with a key,
//     into o->args (a string; a CLI_OPT_UINT as a number, a flag as true).
// The checkers are public so that values from --stdin pass the same ones.
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/cli/cli.h"

// Typed checkers: what a value must be.
typedef enum {
    CLI_OPT_FLAG = 0, // no value
    CLI_OPT_WORD,     // any value (a path, a code the command checks)
    CLI_OPT_TEXT,     // free text: valid UTF-8
    CLI_OPT_UINT,     // whole decimal number (no sign, no space) in [min, max]
    CLI_OPT_DATE,     // a date YYYY-MM-DD
    CLI_OPT_ENUM,     // one of 'choices'
    CLI_OPT_ADDR,     // a node address "network/node" (pl_address_valid)
} cli_opt_type_t;

// An extra check of a value (after its type's): NULL when 'value' is
// fine, else a static description of what is expected ("in or out").
typedef const char *(*cli_check_fn)(const char *value);

// One option.
typedef struct {
    const char *name;           // long name without "--", e.g. "given-by";
                                // "a|b": two spellings of one option
    cli_opt_type_t type;        // its checker
    const char *key;            // args key it fills (NULL: none)
    uint64_t min, max;          // CLI_OPT_UINT: the range
    const char *const *choices; // CLI_OPT_ENUM: NULL-ended list
    cli_check_fn check;         // extra check, or NULL
    const char *want;           // what is expected, for the error message
                                // (NULL: the type's own wording)
} cli_opt_t;

#define CLI_OPTS_MAX 48 // rows in one table at most

// A parsed value.
typedef struct {
    bool given;       // the option was on the command line
    const char *text; // its value as given (NULL for a flag)
    uint64_t num;     // CLI_OPT_UINT: the number
} cli_optval_t;

// Flags of cli_opts_parse.
enum {
    CLI_OPTS_STOP = 1,        // stop at the first word (a subcommand)
    CLI_OPTS_NO_OPERANDS = 2, // a word left over: "unexpected argument"
};

// The result of one parse.
typedef struct {
    cli_optval_t val[CLI_OPTS_MAX]; // by row of the table
    json_t *args;                   // {key: value} (owned; cli_opts_free)
    char **operands;                // words that are no option
    int noperands;                  // how many
    bool help;                      // --help given and no help text
} cli_opts_t;

// Parses argv (argv[0] is the command word) for command 'cmd' (its name in
// messages) with 'table' of 'n' rows, of which the command takes those
// listed in 'allowed' (row indexes, ended by -1; NULL: every row). 'help'
// is printed on stdout for --help (NULL: o->help is set instead). Returns
// -1 to go on, else the exit code (0 after help, 2 after a usage error);
// o->args is set on every return (free it with cli_opts_free).
int cli_opts_parse(cli_t *cli, const char *cmd, const cli_opt_t *table,
                   size_t n, const int *allowed, const char *help,
                   unsigned flags, int argc, char **argv, cli_opts_t *o);
void cli_opts_free(cli_opts_t *o);

// A command of subcommands on named things ("staff add NAME --role R",
// "token list"): 'subs' the words it takes (NULL-ended), 'unnamed' the one
// that takes no NAME (the list), 'what' what NAME names in errors; the
// subcommand 'with' takes the options 'with_opts' (O_END-ended: -1), of
// which row 'required' (-1: none) must be given; the others take none.
typedef struct {
    const char *cmd, *usage; // "staff"; "which one: add, list, ...?"
    const char *const *subs;
    const char *unnamed, *what, *with;
    const cli_opt_t *table;
    size_t n;
    const char *help;
    const int *with_opts;
    int required;            // row that 'with' needs, or -1
    const char *required_as; // how the error names it: "--role ROLE"
} cli_subcmd_t;

// Parses argv (argv[0] the command word) as 's' says into 'o', 'name'
// ("staff add", size 32) and '*sub'; a NAME goes into o->args as "name".
// Returns -1 to go on (o to free with cli_opts_free), else the exit code
// (o already freed).
int cli_subcmd_parse(cli_t *cli, const cli_subcmd_t *s, int argc, char **argv,
                     const char **sub, char name[32], cli_opts_t *o);

// Checks 'value' against row 'opt': NULL when fine, else what is expected.
// For CLI_OPT_UINT stores the number in '*num' (may be NULL).
const char *cli_opt_check(const cli_opt_t *opt, const char *value,
                          uint64_t *num);

// The typed checkers themselves.
bool cli_parse_uint(const char *text, uint64_t min, uint64_t max,
                    uint64_t *out);
bool cli_utf8_valid(const char *text);

#endif
