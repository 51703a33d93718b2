// pl_door - keeps the broker's TCP door from exhausting the process's file
// descriptors. Layer: broker.
//
// libzmq gives every TCP connection a descriptor as soon as it accepts it,
// long before CURVE/ZAP decide who it is; at the open-files limit
// its ipc listener (the operator's control socket) aborts the process
// (libzmq 4.3.4, src/ipc_listener.cpp: accept's EMFILE is an errno_assert),
// and LMDB or a reload of certs/ fail too. So:
//   - at start the soft RLIMIT_NOFILE is raised to the hard one;
//   - the listening socket is made here and handed to libzmq (ZMQ_USE_FD),
//     so that the door can be closed without zmq_unbind (which would also
//     drop every connection accepted through it: libzmq's listener owns its
//     sessions): closing attaches a drop-everything socket filter to the
//     listening socket, new SYNs are dropped (peers retry later), the
//     connections already accepted are untouched;
//   - a socket monitor on the ROUTER (ZMQ_EVENT_ACCEPTED/DISCONNECTED) is
//     read by a watcher thread of its own, which counts the open
//     descriptors (/proc/self/fd) as soon as the accepted connections could
//     reach the mark: the door closes at limit - reserve and opens again at
//     limit - 2 x reserve, the reserve (limit / 8 in 256 .. 4096, at most a
//     quarter of the limit) staying for the control socket, LMDB, reloads
//     and the listen backlog still accepted after the close.
#ifndef PL_DOOR_H
#define PL_DOOR_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/pl_log.h"

typedef struct pl_door pl_door_t;

// Raises the soft open-files limit to the hard one, then binds 'router'
// to 'endpoint' (tcp://HOST:PORT through a listening socket of its own;
// any other transport is bound as is, without door control) and starts
// the monitor on 'ctx'. 'enrolled' is the registry size, for the warning
// when the limit cannot hold them. NULL on failure, reason logged.
pl_door_t *pl_door_open(void *ctx, void *router, const char *endpoint,
                        size_t enrolled, pl_log_t *log);
void pl_door_close(pl_door_t **self_p);
// The monitor socket for the main loop to poll, or NULL (no door control,
// or the watcher thread reads it).
void *pl_door_monitor(pl_door_t *self);
// Without a watcher thread: reads the monitor's events and closes or opens
// the door; call once per loop pass. With one: does nothing.
void pl_door_tick(pl_door_t *self);
// True while new connections are refused.
bool pl_door_is_closed(const pl_door_t *self);
// The open-files limit in force and the descriptors open at the last count.
size_t pl_door_limit(const pl_door_t *self);
size_t pl_door_open_fds(const pl_door_t *self);
// Logs a warning when 'enrolled' nodes could not all be connected at once.
void pl_door_check_registry(pl_door_t *self, size_t enrolled);

#endif
