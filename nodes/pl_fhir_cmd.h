// pl_fhir_cmd - the table of the FHIR R4 and HSDS 3.0 control commands
// (issue 16): fhir.bundle, fhir.import, hsds.services, hsds.import. Layer:
// nodes, handlers.
#ifndef PL_FHIR_CMD_H
#define PL_FHIR_CMD_H
#include "nodes/pl_ctl_cmd.h"

extern const pl_ctl_cmd_t pl_fhir_cmds[];
#endif
