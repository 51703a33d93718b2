// pl_staff - staff accounts and sessions in the node daemon (issue 14,
// DESIGN.md §12). Layer: nodes, handlers. The contract between the daemon
// and passerelle-web (docs/staff.md is the guide for integrators):
//
// Requests are the control JSON {"req", "cmd", "args", "as"} plus an
// optional top-level "session": "<64 hex token>".
//
//   staff.add     {name, role, password, lang: "fr"|"en" (default "en")}
//                 -> {name, role, lang}                       (changes state)
//   staff.list    {} -> [{name, role, lang, disabled, created, last_login,
//                 failures, locked_until}]                    (no hashes)
//   staff.disable {name} / staff.enable {name}                (changes state)
//   staff.passwd  {name, password}                            (changes state)
//                 disable and passwd end that account's sessions; enable
//                 also lifts a lockout.
//   session.login {name, password} -> {token, name, role, lang,
//                 idle_timeout_s, expires}     (kept, never stored by id)
//                 wrong name or password: PL_EAUTH "wrong name or password"
//                 (the same for an unknown name, which costs one dummy hash);
//                 5 failures in a row lock the account 15 minutes: PL_EPERM
//                 "account locked until <RFC 3339>"; a disabled account:
//                 PL_EPERM "account disabled". Logins, failures and
//                 lockouts are audited (kind "staff"), never the password.
//   session.check {} with "session" -> {name, role, lang, expires}
//                 (refreshes the idle time)
//   session.logout {} with "session" -> {}
//
// Any other command with "session": the walker (pl_node_ctl.c, through
// pl_staff_gate) resolves the token (unknown or expired: PL_EAUTH "session
// expired"), checks the account's role against the command's roles
// (pl_roles.h: PL_EPERM "your role (provider) may not do this") and runs
// the command as the account ("as" from the client is ignored); `refer`
// with an override is refused (PL_EPERM: four eyes go through
// override.request / override.approve, pl_override.h). Without
// "session" a request is the Unix owner's, exactly as before.
//
// Names are [a-z0-9._-]{1,64}; passwords 10 to 1024 bytes, kept only as
// Argon2id strings (pl_pwhash_str, OPSLIMIT/MEMLIMIT_INTERACTIVE) inside
// the account record, which is sealed under the store's master key in the
// "staff" database. Hashing runs in the daemon's loop: one login or
// password change holds the loop for about 0.1-0.3 s on a small machine
// (measured in docs/staff.md); a node has tens of staff, and the loop's
// other work (deliveries, receipts) tolerates that pause.
#ifndef PL_STAFF_H
#define PL_STAFF_H

#include <jansson.h>
#include <stdbool.h>

#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_session.h"

#define PL_STAFF_PASS_MIN   10   // bytes
#define PL_STAFF_PASS_MAX   1024 // bytes
#define PL_STAFF_FAILS_LOCK 5    // failures in a row that lock
#define PL_STAFF_LOCK_S     900  // lockout: 15 minutes

// The rows: staff.*, session.* (and test.session-clock in test builds).
extern const pl_ctl_cmd_t pl_staff_cmds[];

// true when 'name' is a valid account name.
bool pl_staff_name_valid(const char *name);

// The session step of the control walker for a request carrying
// "session": 'token'. For any command but session.login it resolves the
// token in 'ss' (refreshing its idle time) and checks the role against
// pl_roles_of(cmd, args, row_roles). Returns NULL with 'info' filled when
// the request may run as info->name, or an error reply (malloc'd JSON).
char *pl_staff_gate(pl_sessions_t *ss, const char *cmd, const json_t *args,
                    unsigned row_roles, const char *token,
                    pl_session_info_t *info);

// A JSON object sealed under the store's master key in 'db' under 'key'
// (the staff accounts, the API tokens): read into *doc (new; PL_ENOTFOUND
// when absent, PL_EPROTO when no object), or written (the text is wiped
// after sealing).
int pl_staff_doc_get(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
                     json_t **doc);
int pl_staff_doc_put(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
                     const json_t *doc);

// Whether an account or API token of 'role' (one PL_ROLE_* bit) may run
// 'cmd' with 'args': NULL, or the error reply (PL_EPERM: the role is not
// in pl_roles_of(cmd, args, row_roles), or a refer carrying an override,
// which goes through four eyes).
char *pl_staff_allow(const char *cmd, const json_t *args, unsigned row_roles,
                     unsigned role);

#endif
