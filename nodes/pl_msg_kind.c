// pl_msg_kind - the message body kinds (see pl_msg_kind.h). Layer: domain.
#include "nodes/pl_msg_kind.h"

#include <stddef.h>

#include "proto/pl_wire.h"

static const struct {
    int kind;         // S_KIND_*
    int body;         // PASSERELLE__V1__MESSAGE__BODY_*
    const char *name; // as listed and logged
} s_kinds[] = {
    {S_KIND_TEST, PASSERELLE__V1__MESSAGE__BODY_TEST, "test"},
    {S_KIND_REFERRAL, PASSERELLE__V1__MESSAGE__BODY_REFERRAL, "referral"},
    {S_KIND_STATUS, PASSERELLE__V1__MESSAGE__BODY_STATUS_UPDATE,
     "status-update"},
    {S_KIND_RECEIPT, PASSERELLE__V1__MESSAGE__BODY_RECEIPT, "receipt"},
    {S_KIND_WITHDRAWAL, PASSERELLE__V1__MESSAGE__BODY_CONSENT_WITHDRAWAL,
     "consent-withdrawal"},
    {S_KIND_ERASURE, PASSERELLE__V1__MESSAGE__BODY_ERASURE_CONFIRMATION,
     "erasure-confirmation"},
    {S_KIND_CP, PASSERELLE__V1__MESSAGE__BODY_CP_NOTIFICATION,
     "cp-notification"},
    {S_KIND_HANDOVER, PASSERELLE__V1__MESSAGE__BODY_HANDOVER, "handover"},
    {S_KIND_REPORT, PASSERELLE__V1__MESSAGE__BODY_AGGREGATE_REPORT,
     "aggregate-report"},
};
#define S_N (sizeof s_kinds / sizeof s_kinds[0])

const char *
pl_kind_name(int kind)
{
    for (size_t i = 0; i < S_N; i++)
        if (s_kinds[i].kind == kind)
            return s_kinds[i].name;
    return "unknown";
}

int
pl_kind_of_body(int body_case)
{
    for (size_t i = 0; i < S_N; i++)
        if (s_kinds[i].body == body_case)
            return s_kinds[i].kind;
    return 0;
}
