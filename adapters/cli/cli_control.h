// cli_control - the CLI's one control-socket client: one request, one reply
// over ipc://DIR/control (DESIGN.md §9), to the node daemon of DIR or to
// the broker of DIR (`passerelle broker ...`). Layer: adapters.
//
// The CLI never opens the store while the daemon runs: everything that
// needs the store goes through here. A call:
//   1. resolves the home with realpath and refuses a control path longer
//      than the ipc limit (107 bytes for "ipc://DIR/control");
//   2. refuses a home another user owns or can write (pl_home_check): a
//      control socket there may not be the daemon's;
//   3. says "the node is not running" when nobody holds DIR/daemon.lock
//      (and "permission denied" when the lock cannot be opened);
//   4. sends {"req", "cmd", "args", "as"} on a fresh ZMQ_REQ socket
//      (ZMQ_LINGER 0) and waits at most 'timeout_ms' (10 s by default) for
//      the reply, giving up early if the daemon stops meanwhile; while
//      unanswered the same request (same id) goes again every 2.5 s on a
//      fresh socket, except for backup, audit.export, audit.verify and
//      network, which the daemon does not replay from a stored reply.
// The broker's control socket differs in three points: a request is
// {"cmd"} only (no request id, no replay: it is sent once), an answer
// must carry "result", and an answer may be at most 64 MiB.
// Every call to a node carries a random request id (or the caller's, to retry a
// state-changing command without acting twice); a timeout's message names
// it, for `passerelle --request-id ID ...`.
#ifndef CLI_CONTROL_H
#define CLI_CONTROL_H

#include <jansson.h>
#include <stddef.h>

#define CLI_CONTROL_TIMEOUT_MS 10000 // the CLI waits at most this long
#define CLI_REQUEST_ID_HEX     32    // request id: 16 random bytes in hex

// Results of cli_control_call (besides the daemon's own errors).
enum {
    CLI_CONTROL_OK = 0,
    CLI_CONTROL_ERROR = 1,       // the daemon answered {"ok": false}
    CLI_CONTROL_NOT_RUNNING = 2, // nobody holds DIR/daemon.lock
    CLI_CONTROL_TIMEOUT = 3,     // no answer in time (or daemon stopped)
    CLI_CONTROL_FAILED = 4,      // bad home, path too long, transport error
};

// The two control sockets.
typedef enum {
    CLI_PEER_NODE = 0, // passerelle-node: {"req", "cmd", "args", "as"}
    CLI_PEER_BROKER,   // passerelle-broker: {"cmd"}
} cli_peer_t;

// Calls 'cmd' on the control socket of 'home' held by 'peer', with the
// steps above. For the broker, 'request_id', 'args' and 'as' are ignored.
// Results and out-parameters as cli_control_call_id below.
int cli_control_request(cli_peer_t peer, const char *home,
                        const char *request_id, const char *cmd, json_t *args,
                        const char *as, int timeout_ms, json_t **result,
                        char *err, size_t err_size, char *code,
                        size_t code_size);

// Same, with a staff session token (the "session" field of the request,
// issue 14; NULL for none): passerelle-web acts for a logged-in account.
int cli_control_session(cli_peer_t peer, const char *home,
                        const char *request_id, const char *cmd, json_t *args,
                        const char *as, const char *session, int timeout_ms,
                        json_t **result, char *err, size_t err_size, char *code,
                        size_t code_size);

// Calls 'cmd' with 'args' (borrowed, may be NULL) on the daemon of 'home'
// as staff member 'as' (may be NULL). On CLI_CONTROL_OK '*result' is the
// reply's "result" (new reference: json_decref it). Otherwise 'err' gets
// one clear line (the daemon's "error" text for CLI_CONTROL_ERROR) and
// 'code' (may be NULL, size >= 32) the daemon's "code".
int cli_control_call(const char *home, const char *cmd, json_t *args,
                     const char *as, int timeout_ms, json_t **result, char *err,
                     size_t err_size);
// Same with a given request id (32 hex digits, e.g. from a failed attempt
// of the same command): the daemon returns the stored reply of a request
// it already carried out.
int cli_control_call_id(const char *home, const char *request_id,
                        const char *cmd, json_t *args, const char *as,
                        int timeout_ms, json_t **result, char *err,
                        size_t err_size, char *code, size_t code_size);
// A fresh random request id (CLI_REQUEST_ID_HEX hex digits + NUL).
void cli_control_request_id(char out[CLI_REQUEST_ID_HEX + 1]);

#endif
