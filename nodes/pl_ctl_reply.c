// pl_ctl_reply - control replies (see pl_ctl_reply.h). Layer: domain.
#include "nodes/pl_ctl_reply.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_err.h"
#include "proto/pl_util.h"

const char *
pl_ctl_code_name(int code)
{
    static const struct {
        int code;
        const char *name;
    } s_names[] = {
        {PL_ENOMEM, "PL_ENOMEM"},
        {PL_EINVAL, "PL_EINVAL"},
        {PL_ENOTFOUND, "PL_ENOTFOUND"},
        {PL_EFULL, "PL_EFULL"},
        {PL_EAUTH, "PL_EAUTH"},
        {PL_EPROTO, "PL_EPROTO"},
        {PL_EIO, "PL_EIO"},
        {PL_EPERM, "PL_EPERM"},
        {PL_EEXPIRED, "PL_EEXPIRED"},
        {PL_EREVOKED, "PL_EREVOKED"},
        {PL_EEXIST, "PL_EEXIST"},
        {PL_ESTATE, "PL_ESTATE"},
        {PL_ETIMEOUT, "PL_ETIMEOUT"},
        {PL_ETOOBIG, "PL_ETOOBIG"},
    };
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
        if (s_names[i].code == code)
            return s_names[i].name;
    return "PL_EUNKNOWN";
}

char *
pl_node_ctl_error(int code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *r = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", text, "code",
                          pl_ctl_code_name(code));
    char *out = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return out ? out : strdup("{\"ok\":false,\"error\":\"out of memory\"}");
}

char *
pl_node_ctl_ok(json_t *result)
{
    if (!result)
        return pl_node_ctl_error(PL_ENOMEM, "out of memory");
    json_t *r = json_pack("{s:b, s:o}", "ok", 1, "result", result);
    char *out = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return out ? out : pl_node_ctl_error(PL_ENOMEM, "out of memory");
}

json_t *
pl_node_json_time(uint64_t t)
{
    char buf[32];
    pl_time_fmt(buf, t);
    return json_string(buf);
}

json_t *
pl_node_json_hex(const uint8_t *id, size_t n)
{
    char hex[2 * 64 + 1];
    assert(n <= 64); // ids and keys only
    pl_hex(hex, id, n);
    return json_string(hex);
}
