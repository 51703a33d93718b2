// pl_notify - service readiness for systemd's Type=notify. Layer: proto.
//
// The protocol of sd_notify(3): one datagram of "KEY=VALUE\n" lines sent on
// the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the
// abstract namespace). Without that variable (not under systemd) nothing is
// sent. No libsystemd: the protocol is one sendto.
#ifndef PL_NOTIFY_H
#define PL_NOTIFY_H

// Sends 'state' (e.g. "READY=1", "STOPPING=1", "RELOADING=1") when
// NOTIFY_SOCKET is set. 1 sent, 0 no socket set, -1 failed (errno set).
int pl_notify(const char *state);

#endif
