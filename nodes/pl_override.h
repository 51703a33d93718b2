// pl_override - four-eyes consent overrides (issue 14, DESIGN.md §12): an
// override of the consent gate is requested by one account and approved
// by a different one before anything is sealed or sent. Layer: nodes,
// handlers.
//
//   override.request {the refer args: case, to, service, purpose,
//                    priority, due, note, override_justification}
//                    -> {id}                                  (changes state)
//                    approved_by may not be given: the approver is whoever
//                    approves.
//   override.list    {} -> [{id, requested_by, requested_at, args}] pending
//   override.approve {id} -> the reply of `refer` with
//                    approved_by = the approving account (changes state);
//                    PL_EPERM "an override must be approved by another
//                    account" when the approver is the requester. A refer
//                    refused (consent, recipient) leaves the request
//                    pending.
//   override.reject  {id, reason?} -> {id}                     (changes state)
//
// A pending request is one record of the "overrides" database, sealed
// under a data key of its own (pl_sealed.h): its note and justification
// are never in clear at rest, and approving or rejecting it destroys that
// key. Through a session, `refer` itself takes no override (pl_staff.c).
#ifndef PL_OVERRIDE_H
#define PL_OVERRIDE_H

#include "nodes/pl_ctl_cmd.h"

#define PL_OVERRIDE_ID 16 // bytes of an override request's id

extern const pl_ctl_cmd_t pl_override_cmds[];

#endif
