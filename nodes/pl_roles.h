// pl_roles - the staff roles of DESIGN.md §12 and the one matrix of which
// role may run which control command (issue 14). Layer: nodes, domain (no
// daemon state). A request that comes through a session (pl_staff.h) runs
// only when its account's role is in the command's mask: the row's own
// roles (PL_CTL_ROLES in its flags, pl_ctl_cmd.h) OR'ed with the matrix below,
// which covers the commands whose rows live in other rooms. A request without a
// session is the Unix owner's and is not checked (the control socket is 0700).
#ifndef PL_ROLES_H
#define PL_ROLES_H

#include <jansson.h>
#include <stdbool.h>

// One bit per role; a command's mask is their OR (0: the owner only).
enum {
    PL_ROLE_CASE_MANAGER = 1, // "case-manager": cases, consent, refer, out
    PL_ROLE_PROVIDER = 2,     // "provider": incoming referrals, actions
    PL_ROLE_SUPERVISOR = 4,   // "supervisor": overrides, audit
    PL_ROLE_COORDINATOR = 8,  // "coordinator": coordination, network
    PL_ROLE_ADMIN = 16,       // "admin": staff accounts
    PL_ROLE_ALL = 31,         // everyone (whoami, directory, session.*)
};

// The role's name ("case-manager"), or "?" for a value that is not one bit.
const char *pl_role_name(unsigned role);
// The bit of role 'name', or 0 when 'name' is no role.
unsigned pl_role_parse(const char *name);

// The roles that may run 'cmd' with 'args' (may be NULL): 'row_roles'
// (the command row's own mask, PL_CTL_ROLES_OF(flags)) OR'ed with the matrix's
// rows for 'cmd'. A matrix row may depend on one argument (referral.act's
// "event", referrals' "direction"): it counts only when that argument has that
// value.
unsigned pl_roles_of(const char *cmd, const json_t *args, unsigned row_roles);

// The matrix, for docs and tests: row i of it, false past the end.
typedef struct {
    const char *cmd;   // command name
    const char *arg;   // argument it depends on, or NULL
    const char *value; // that argument's value
    unsigned roles;    // PL_ROLE_* mask
} pl_role_row_t;
bool pl_roles_row(size_t i, pl_role_row_t *out);

#endif
