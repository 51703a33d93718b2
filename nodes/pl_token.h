// pl_token - API tokens of the node daemon (issue 16, DESIGN.md §12): a
// system (an EHR, a case-management system) calls passerelle-web's
// /api/v1/ with "Authorization: Bearer TOKEN"; the web process passes the
// token in the control request's "session" field, and the daemon, not the
// web process, checks it. Layer: nodes, handlers.
//
//   token.add    {name, role, expires_days (optional, 1..3650)}
//                -> {name, role, created, expires, token}     (changes state)
//                The token (64 hex digits, 32 random bytes) is in this
//                reply only: it is never stored under the request id (the
//                row is PL_CTL_COMMITS) and the store keeps only
//                BLAKE2b-256(token).
//   token.list   {} -> [{name, role, created, expires, revoked}]
//   token.revoke {name} -> {name, revoked}                    (changes state)
//
// The rows carry no roles: only the Unix owner (the CLI) manages tokens.
// A record of the "tokens" database: key = BLAKE2b-256(token) (32 bytes),
// value = {name, role, created, expires, revoked} sealed under the store's
// master key. Names are staff names ([a-z0-9._-]{1,64}); one live token
// per name (at most PL_TOKEN_NAME_MAX bytes). Actions done with a token are
// recorded as "api:NAME".
#ifndef PL_TOKEN_H
#define PL_TOKEN_H

#include <jansson.h>
#include <stdbool.h>

#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_session.h"

#define PL_TOKEN_DAYS_MAX  3650 // longest validity of a token
#define PL_TOKEN_AS_PREFIX "api:"
#define PL_TOKEN_NAME_MAX  60 // so that "api:NAME" fits a session name

// The rows: token.add, token.list, token.revoke.
extern const pl_ctl_cmd_t pl_token_cmds[];

// The token step of the control walker for a request whose "session" is
// 'token', at time 'now' (the sessions' clock). Looks the token up in the
// store through 'txn': when it is no API token, sets *is_token false and
// returns NULL (the caller tries the session table). Otherwise *is_token
// is true and the reply is NULL with 'info' filled (name "api:NAME", the
// token's role) when the request may run, or an error reply (malloc'd
// JSON): PL_EAUTH "the API token is revoked" / "... expired", PL_EPERM
// when the role may not run 'cmd' (pl_staff_allow).
char *pl_token_gate(pl_txn_t *txn, uint64_t now, const char *cmd,
                    const json_t *args, unsigned row_roles, const char *token,
                    pl_session_info_t *info, bool *is_token);

#endif
