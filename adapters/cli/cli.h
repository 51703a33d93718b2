// cli - the `passerelle` command line: shared context and command entry
// points. Layer: adapters.
//
// main.c parses the global options (--home DIR, --as NAME, --json, --help)
// up to the command word, then calls the command's function with argv
// starting at the command word (argv[0] = "whoami", "authority", ...).
// Each command parses its options with cli_opts_parse (an option table,
// cli_opts.h), prints --help text on stdout with exit 0, errors on stderr as
// "passerelle: <command>: <reason>" and returns the process exit code
// (0 ok, 1 failure, 2 usage error). Read commands honour --json: exactly one
// JSON document on stdout, built with jansson.
#ifndef PL_CLI_H
#define PL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *home; // --home DIR as given (NULL if absent)
    const char *as;   // --as NAME: staff member acting (NULL if absent)
    bool json;        // --json given globally or by the command
    const char *prog; // "passerelle"
    // --request-id HEX: the id of an earlier attempt that timed out, so
    // that running the command again cannot act twice (NULL: a fresh one)
    const char *request_id;
} cli_t;

typedef int (*cli_fn)(cli_t *cli, int argc, char **argv);

// Prints "passerelle: <cmd>: <message>" on stderr. Returns 1.
int cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Usage error: prints the message and "try 'passerelle CMD --help'"; returns 2.
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// The home folder: the command's --home (stored into cli->home), else the
// global one. Returns NULL with *rc the exit code after a message: 2 when
// neither was given, 1 when the home exists but another user owns it or
// can write to it (pl_home_check). A home that does not exist is returned.
const char *cli_need_home(const cli_t *cli, const char *cmd, int *rc);

// snprintf into 'buf' of 'n' bytes (nothing when buf is NULL or n is 0):
// the one-line error messages of cli_control and cli_stdin.
void cli_fmt(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// What 'print' writes, as a string (caller frees), for a --help text made
// by a function (it lists a table); NULL when out of memory.
char *cli_help_text(void (*print)(FILE *out));
struct json_t;
// Sends control command 'ctl' with 'args' (borrowed, may be NULL) to the
// node daemon of the home (cli_need_home) as cli->as, with cli->request_id.
// Returns -1 with '*res' the result (json_decref it), else the exit code
// after "passerelle: CMD: <reason>" (2: no home, 1: any failure).
int cli_node_call(cli_t *cli, const char *cmd, const char *ctl,
                  struct json_t *args, struct json_t **res);

// Prints 'doc' (a jansson json_t, reference stolen; NULL means out of
// memory) on stdout as one indented JSON document and a newline.
// Returns 0, or 1 after an error message.
int cli_print_json(struct json_t *doc);

// ---- commands (one function per top-level word)
int cli_cmd_init(cli_t *cli, int argc, char **argv);      // cmd_keys.c
int cli_cmd_whoami(cli_t *cli, int argc, char **argv);    // cmd_keys.c
int cli_cmd_authority(cli_t *cli, int argc, char **argv); // cmd_authority.c
int cli_cmd_directory(cli_t *cli, int argc, char **argv); // cmd_node.c
int cli_cmd_network(cli_t *cli, int argc, char **argv);   // cmd_node.c
int cli_cmd_broker(cli_t *cli, int argc, char **argv);    // cmd_broker.c
// cmd_case.c: cases, consent, referrals (act = accept, start, resume, hold,
// reject, cancel, complete: argv[0] names the event)
int cli_cmd_case(cli_t *cli, int argc, char **argv);
int cli_cmd_consent(cli_t *cli, int argc, char **argv);
int cli_cmd_refer(cli_t *cli, int argc, char **argv);
int cli_cmd_referrals(cli_t *cli, int argc, char **argv);
int cli_cmd_show(cli_t *cli, int argc, char **argv);
int cli_cmd_act(cli_t *cli, int argc, char **argv);
int cli_cmd_erase(cli_t *cli, int argc, char **argv);         // issue 8
int cli_cmd_notifications(cli_t *cli, int argc, char **argv); // issue 8
// cmd_handover.c: handover of a case across the border (issue 13)
int cli_cmd_handover(cli_t *cli, int argc, char **argv);
int cli_cmd_handovers(cli_t *cli, int argc, char **argv);
// cmd_ops.c: keeping a node for years (issue 6); `audit` verify (running
// or stopped), export and check
int cli_cmd_backup(cli_t *cli, int argc, char **argv);
int cli_cmd_rotate_box_key(cli_t *cli, int argc, char **argv);
int cli_cmd_audit_ops(cli_t *cli, int argc, char **argv);
int cli_cmd_staff(cli_t *cli, int argc, char **argv); // cmd_staff.c, issue 14
int cli_cmd_token(cli_t *cli, int argc, char **argv); // cmd_token.c, issue 16
// cmd_fhir.c, issue 16: fhir import; show R --fhir; directory --hsds and
// directory import --hsds (called by cli_cmd_show / cli_cmd_directory)
int cli_cmd_fhir(cli_t *cli, int argc, char **argv);
int cli_show_fhir(cli_t *cli, const char *id);
int cli_directory_hsds(cli_t *cli, int argc, char **argv);
// cmd_casework.c: assessments, plan, follow-up, surveys, timeline (issue 17)
int cli_cmd_assess(cli_t *cli, int argc, char **argv);
int cli_cmd_plan(cli_t *cli, int argc, char **argv);
int cli_cmd_followup(cli_t *cli, int argc, char **argv);
int cli_cmd_rss(cli_t *cli, int argc, char **argv);
int cli_cmd_timeline(cli_t *cli, int argc, char **argv);
// cmd_report.c: aggregate reports and the coordination view (issue 15)
int cli_cmd_report(cli_t *cli, int argc, char **argv);
int cli_cmd_coordination(cli_t *cli, int argc, char **argv);
// cmd_service.c: service catalogue, matching, referral slips (issue 18)
int cli_cmd_service(cli_t *cli, int argc, char **argv);
int cli_cmd_slip(cli_t *cli, int argc, char **argv);
// The installed feasibility grid (share/passerelle/feasibility-grid.json),
// parsed (new reference), or NULL when it is missing or not JSON.
struct json_t *cli_grid_installed(void);

#endif
