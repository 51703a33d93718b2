// pl_msg_kind - the message body kinds, named in one place: the stored
// kind (outbox and inbox records), the Message oneof case it stands for,
// and its name (outbox listing, logs, audit). Layer: domain. What each kind
// does on arrival is the table of pl_inbound.c.
#ifndef PL_MSG_KIND_H
#define PL_MSG_KIND_H

// Message kinds (stored; the numbers of the Message oneof: never renumber).
enum {
    S_KIND_TEST = 1,
    S_KIND_REFERRAL = 2,
    S_KIND_STATUS = 3,
    S_KIND_RECEIPT = 4,
    S_KIND_WITHDRAWAL = 6, // consent-withdrawal (issue 8)
    S_KIND_ERASURE = 7,    // erasure-confirmation (issue 8)
    S_KIND_CP = 8,         // cp-notification (issue 8)
    S_KIND_HANDOVER = 5,   // handover of a case (issue 13)
    S_KIND_REPORT = 9,     // aggregate-report (issue 15)
};

// "test", "referral", ... ("unknown" for others).
const char *pl_kind_name(int kind);
// The kind of a Message body case (PASSERELLE__V1__MESSAGE__BODY_*), 0 for
// a body this code does not know.
int pl_kind_of_body(int body_case);

#endif
