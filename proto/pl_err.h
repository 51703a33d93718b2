// pl_err - error codes shared by every layer. Layer: proto.
//
// Every fallible function returns 0 (PL_OK) or one negative PL_E* code; each
// code means a different action for the caller. Results come back through
// out-parameters. pl_strerror() names every code.
#ifndef PL_ERR_H
#define PL_ERR_H

#define PL_MUST_CHECK __attribute__((warn_unused_result))

enum {
    PL_OK = 0,
    PL_ENOMEM = -1,    // allocation failed: fail this request
    PL_EINVAL = -2,    // bad value from outside (not a bug): reject
    PL_ENOTFOUND = -3, // key, file, route or record absent
    PL_EFULL = -4,     // bounded resource at capacity: back off, retry
    PL_EAUTH = -5,     // signature, MAC or certificate check failed: drop
    PL_EPROTO = -6,    // malformed or unsupported wire data: drop, count
    PL_EIO = -7,       // storage, file or socket failure: see errno / log
    PL_EPERM = -8,     // file permissions unsafe, or action not allowed
    PL_EEXPIRED = -9,  // certificate, envelope or consent out of validity
    PL_EREVOKED = -10, // certificate revoked
    PL_EEXIST = -11,   // already exists (duplicate, second daemon, ...)
    PL_ESTATE = -12,   // not allowed in the current state
    PL_ETIMEOUT = -13, // no answer in time
    PL_ETOOBIG = -14,  // over a size limit
};

// Static text naming 'code'; never NULL.
const char *pl_strerror(int code);

#endif
