// pl_err - error code names. Layer: proto.
#include "proto/pl_err.h"

const char *
pl_strerror(int code)
{
    switch (code) {
    case PL_OK:
        return "success";
    case PL_ENOMEM:
        return "out of memory";
    case PL_EINVAL:
        return "invalid argument";
    case PL_ENOTFOUND:
        return "not found";
    case PL_EFULL:
        return "resource full";
    case PL_EAUTH:
        return "authentication failed";
    case PL_EPROTO:
        return "malformed or unsupported data";
    case PL_EIO:
        return "input/output error";
    case PL_EPERM:
        return "permission denied or unsafe permissions";
    case PL_EEXPIRED:
        return "expired or not yet valid";
    case PL_EREVOKED:
        return "revoked";
    case PL_EEXIST:
        return "already exists";
    case PL_ESTATE:
        return "not allowed in the current state";
    case PL_ETIMEOUT:
        return "timed out";
    case PL_ETOOBIG:
        return "too large";
    default:
        return "unknown error";
    }
}
