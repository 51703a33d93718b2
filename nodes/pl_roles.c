// pl_roles - role names and the command matrix (see pl_roles.h). Layer:
// nodes, domain.
#include "nodes/pl_roles.h"

#include <string.h>

static const char *const s_names[] = {"case-manager", "provider", "supervisor",
                                      "coordinator", "admin"};

const char *
pl_role_name(unsigned role)
{
    for (unsigned i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
        if (role == 1u << i)
            return s_names[i];
    return "?";
}

unsigned
pl_role_parse(const char *name)
{
    for (unsigned i = 0; name && i < sizeof s_names / sizeof s_names[0]; i++)
        if (strcmp(name, s_names[i]) == 0)
            return 1u << i;
    return 0;
}

#define CM  PL_ROLE_CASE_MANAGER
#define PRV PL_ROLE_PROVIDER
#define SUP PL_ROLE_SUPERVISOR
#define CO  PL_ROLE_COORDINATOR

// The matrix of DESIGN.md §12 for the commands of the other rooms (the
// staff, session and override rows carry their masks themselves). Keep
// docs/staff.md's table in step with it. A command absent here and with a
// row mask of 0 is the Unix owner's only (backup, rotate-box-key, outbox,
// stats, audit.export, test.*).
static const pl_role_row_t s_matrix[] = {
    // everyone
    {"whoami", NULL, NULL, PL_ROLE_ALL},
    {"directory", NULL, NULL, PL_ROLE_ALL},
    // case managers: cases, consent, refer, outgoing referrals
    {"case.add", NULL, NULL, CM},
    {"case.show", NULL, NULL, CM},
    {"case.list", NULL, NULL, CM},
    {"case.close", NULL, NULL, CM},
    {"case.bia", NULL, NULL, CM},
    {"consent.add", NULL, NULL, CM},
    {"consent.withdraw", NULL, NULL, CM},
    {"refer", NULL, NULL, CM},
    {"erase", NULL, NULL, CM},
    {"referrals", "direction", "out", CM},
    {"referral.act", "event", "cancel", CM},
    // case managers: the handover of a case across the border (§7.2),
    // both sides, and a child-protection node's cp-ack
    {"handover", NULL, NULL, CM},
    {"handovers", NULL, NULL, CM},
    {"handover.show", NULL, NULL, CM},
    {"handover.act", NULL, NULL, CM},
    {"handover.cp-ack", NULL, NULL, CM},
    // case managers and providers
    {"referral.show", NULL, NULL, CM | PRV | SUP},
    {"notifications", NULL, NULL, CM | PRV},
    // providers: incoming referrals and their lifecycle
    {"referrals", "direction", "in", PRV},
    {"referral.act", "event", "accept", PRV},
    {"referral.act", "event", "reject", PRV},
    {"referral.act", "event", "start", PRV},
    {"referral.act", "event", "hold", PRV},
    {"referral.act", "event", "resume", PRV},
    {"referral.act", "event", "complete", PRV},
    // supervisors: every referral, the audit chain
    {"referrals", NULL, NULL, SUP},
    {"audit.verify", NULL, NULL, SUP},
    // coordinators
    {"network", NULL, NULL, CO},
};

unsigned
pl_roles_of(const char *cmd, const json_t *args, unsigned row_roles)
{
    unsigned m = row_roles;
    for (size_t i = 0; i < sizeof s_matrix / sizeof s_matrix[0]; i++) {
        const pl_role_row_t *r = &s_matrix[i];
        if (strcmp(r->cmd, cmd) != 0)
            continue;
        if (r->arg) {
            const char *v = json_string_value(json_object_get(args, r->arg));
            if (!v || strcmp(v, r->value) != 0)
                continue;
        }
        m |= r->roles;
    }
    return m;
}

bool
pl_roles_row(size_t i, pl_role_row_t *out)
{
    if (i >= sizeof s_matrix / sizeof s_matrix[0])
        return false;
    *out = s_matrix[i];
    return true;
}
