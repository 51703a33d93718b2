// pl_node_ctl - the node's control socket commands (DESIGN.md §9).
// Layer: nodes. Every request and reply is built and read with jansson.
//
// Request: {"req": "<32 hex request id>", "cmd": "...", "args": {...},
//           "as": "staff name" | null, "session": "<64 hex>" | null}
// With "session" the request runs as the session's account, if its role
// may run the command (pl_staff.h, pl_roles.h); without, as the Unix owner.
// Reply:   {"ok": true, "result": ...}
//        | {"ok": false, "error": "clear text", "code": "PL_E..."}
//
// A state-changing command stores its reply under its request id in the
// same nested transaction as its effect; a retry with the same id gets the
// stored reply and changes nothing.
#include "nodes/pl_node_ctl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_casework.h"
#include "nodes/pl_coord.h"
#include "nodes/pl_fhir_cmd.h"
#include "nodes/pl_handover_cmd.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_node_int.h"
#include "nodes/pl_node_svc.h"
#include "nodes/pl_override.h"
#include "nodes/pl_staff.h"
#include "nodes/pl_token.h"

// The reply to a request whose record or commit failed with 'rc' ('what'
// could not be done): a full store (the request record or the commit did
// not fit) in the same words as a refusal before the work.
static char *
s_undone(int rc, const char *what)
{
    if (rc == PL_EFULL)
        return pl_node_ctl_error(rc, "the node's store is full (no space on "
                                     "the disk or in the map); nothing was "
                                     "done; retry once space is freed");
    return pl_node_ctl_error(rc, "the node could not %s (%s); nothing was done",
                             what, pl_strerror(rc));
}

// ---- the command table

// Every control command is a row of one of these tables (pl_ctl_cmd.h);
// each handler file exports its own.
// clang-format off
static const pl_ctl_cmd_t *const s_tables[] = {
    pl_node_info_cmds,
    pl_node_ops_cmds,
    pl_node_test_cmds,
    pl_case_cmds,     // cases, consent, referrals
    pl_staff_cmds,    // staff accounts and sessions (issue 14)
    pl_override_cmds, // four-eyes overrides (issue 14)
    pl_handover_cmds, // handovers (issue 13)
    pl_token_cmds,    // API tokens (issue 16)
    pl_fhir_cmds,     // FHIR R4 and HSDS 3.0 (issue 16)
    pl_casework_cmds, // assessments, plan, follow-up, RSS (issue 17)
    pl_coord_cmds,    // aggregate reports, coordination (issue 15)
    pl_svc_cmds,      // service catalogue, matching, slips (issue 18)
};
// clang-format on

const pl_ctl_cmd_t *
pl_node_ctl_find(const char *cmd)
{
    for (size_t t = 0; t < sizeof s_tables / sizeof s_tables[0]; t++)
        for (const pl_ctl_cmd_t *c = s_tables[t]; c->name; c++)
            if (strcmp(c->name, cmd) == 0)
                return (c->flags & PL_CTL_HOOKS) && !pl_case_test_hooks() ? NULL
                                                                          : c;
    return NULL;
}

bool
pl_node_ctl_changes(const char *cmd)
{
    const pl_ctl_cmd_t *c = pl_node_ctl_find(cmd);
    return c && (c->flags & PL_CTL_CHANGES);
}

bool
pl_node_ctl_known(const char *cmd)
{
    return pl_node_ctl_find(cmd) != NULL;
}

char *
pl_node_ctl_run(const pl_ctl_cmd_t *row, pl_node_ctx_t *ctx, pl_txn_t *txn,
                json_t *args, const char *as, int *rc_out)
{
    *rc_out = PL_OK;
    if ((row->flags & PL_CTL_STAFF) && as && strlen(as) > PL_CTL_STAFF_MAX) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "--as is too long");
    }
    return row->fn(ctx, txn, args, as, rc_out);
}

int
pl_node_ctl_parse(const char *text, size_t len,
                  bool (*changes)(const char *cmd), pl_ctl_req_t *out,
                  char **reply)
{
    memset(out, 0, sizeof *out);
    *reply = NULL;
    json_error_t jerr;
    json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *jcmd = json_object_get(req, "cmd");
    json_t *jrid = json_object_get(req, "req");
    json_t *args = json_object_get(req, "args");
    json_t *as = json_object_get(req, "as");
    json_t *jses = json_object_get(req, "session");
    if (jses && !json_is_null(jses)
        && (!json_is_string(jses)
            || json_string_length(jses) != PL_SESSION_TOKEN_HEX)) {
        *reply = pl_node_ctl_error(PL_EPROTO,
                                   "\"session\" is a token of %d hex digits",
                                   PL_SESSION_TOKEN_HEX);
        json_decref(req);
        return -1;
    }
    if (!json_is_object(req) || !json_is_string(jcmd)
        || (jrid && !json_is_string(jrid) && !json_is_null(jrid))
        || (args && !json_is_object(args) && !json_is_null(args))
        || (as && !json_is_string(as) && !json_is_null(as))) {
        *reply = pl_node_ctl_error(
            PL_EPROTO, "a request is {\"req\", \"cmd\", \"args\", \"as\"}");
        json_decref(req);
        return -1;
    }
    const char *cmd = json_string_value(jcmd);
    if (json_string_length(jcmd) == 0
        || json_string_length(jcmd) > PL_CTL_CMD_MAX) {
        *reply = pl_node_ctl_error(PL_EPROTO,
                                   "the command name is 1 to %d "
                                   "bytes",
                                   PL_CTL_CMD_MAX);
        json_decref(req);
        return -1;
    }
    if (json_is_string(as) && json_string_length(as) > PL_CTL_AS_MAX) {
        *reply = pl_node_ctl_error(PL_EINVAL,
                                   "the staff name (as) is longer than %d "
                                   "bytes",
                                   PL_CTL_AS_MAX);
        json_decref(req);
        return -1;
    }
    const char *rid_hex = json_string_value(jrid);
    if (rid_hex
        && (json_string_length(jrid) != 2 * PL_CTL_RID_BYTES
            || pl_unhex(out->rid_bin, sizeof out->rid_bin, rid_hex) != PL_OK)) {
        *reply = pl_node_ctl_error(PL_EINVAL,
                                   "the request id must be 32 hex digits");
        json_decref(req);
        memset(out, 0, sizeof *out);
        return -1;
    }
    bool ch = changes && changes(cmd);
    if (ch && !rid_hex) {
        *reply = pl_node_ctl_error(
            PL_EINVAL, "'%s' changes state: it needs a request id", cmd);
        json_decref(req);
        return -1;
    }
    out->doc = req;
    out->cmd = cmd;
    out->rid = rid_hex;
    out->args = json_is_object(args) ? args : NULL;
    out->as = json_string_value(as);
    out->session = json_string_value(jses);
    out->changes = ch;
    return 0;
}

void
pl_node_ctl_req_free(pl_ctl_req_t *req)
{
    json_decref(req->doc);
    memset(req, 0, sizeof *req);
}

void
pl_node_ctl_request(pl_node_t *self, pl_txn_t *pass, const char *text,
                    size_t len)
{
    pl_ctl_req_t pr;
    if (pl_node_ctl_parse(text, len, pl_node_ctl_changes, &pr, &self->ctl_reply)
        != 0)
        return;
    json_t *req = pr.doc;
    const char *cmd = pr.cmd;
    const char *rid_hex = pr.rid;
    json_t *args = pr.args;
    const char *as_name = pr.as;
    const pl_ctl_cmd_t *row = pl_node_ctl_find(cmd);
    if (pr.session) {
        // a staff session: its account, if its role may run this command,
        // is who acts ("as" from the client is ignored)
        // an API token (issue 16, pl_token.h) or else a staff session
        pl_session_info_t who;
        bool is_token = false;
        unsigned roles = row ? PL_CTL_ROLES_OF(row->flags) : 0;
        char *refusal = pl_token_gate(
            pass, self->sessions ? pl_sessions_now(self->sessions) : pl_now(),
            cmd, args, roles, pr.session, &who, &is_token);
        if (!is_token)
            refusal = pl_staff_gate(self->sessions, cmd, args, roles,
                                    pr.session, &who);
        if (refusal) {
            self->ctl_reply = refusal;
            json_decref(req);
            return;
        }
        if (who.name[0]) {
            json_object_set_new(req, "as", json_string(who.name));
            as_name = json_string_value(json_object_get(req, "as"));
        }
    }
    if (row && (row->flags & PL_CTL_DEFERRED)) {
        // backup, rotate-box-key, audit.export: run after this pass commits,
        // with no transaction open (pl_node_ops.c)
        free(self->ctl_deferred);
        self->ctl_deferred =
            pr.session ? json_dumps(req, JSON_COMPACT) : strndup(text, len);
        if (!self->ctl_deferred)
            self->ctl_reply = pl_node_ctl_error(PL_ENOMEM, "out of memory");
        json_decref(req);
        return;
    }
    const uint8_t *rid = pr.rid_bin;
    bool changes = pr.changes;
    // kept like a change, never stored under a request id (session.login)
    bool commits = changes || (row && (row->flags & PL_CTL_COMMITS));
    pl_txn_t *c = NULL;
    size_t mark = pl_node_after_mark(self);
    int rc = pl_store_begin(self->store, pass, true, &c);
    if (rc != PL_OK) {
        self->ctl_reply = pl_node_ctl_error(rc, "the store is unavailable");
        json_decref(req);
        return;
    }
    char *reply = NULL;
    int arc = PL_OK; // whether the action's changes are kept
    if (changes) {
        pl_buf_t stored = {0};
        rc = pl_store_request_get(c, rid, &stored);
        if (rc == PL_OK) {
            // a retry: the first attempt's reply, and nothing done again
            pl_log_info(self->log, "request_replayed cmd=%s req=%s", cmd,
                        rid_hex);
            reply = strdup((const char *) stored.data);
            pl_buf_free(&stored);
            pl_store_abort(&c);
            self->ctl_reply =
                reply ? reply : pl_node_ctl_error(PL_ENOMEM, "no memory");
            json_decref(req);
            return;
        }
        pl_buf_free(&stored);
    }
    self->ctl_session = pr.session;
    pl_node_ctx_t ctx = pl_node_ctx(self);
    if (row)
        reply = pl_node_ctl_run(row, &ctx, c, args, as_name, &arc);
    else
        reply = pl_node_ctl_error(PL_EINVAL, "unknown command '%s'", cmd);
    self->ctl_session = NULL;

    if (changes && arc == PL_OK && reply) {
        arc = pl_store_request_put(c, rid, pl_now(), reply, strlen(reply));
        if (arc != PL_OK) {
            free(reply);
            reply = s_undone(arc, "record the request");
        }
    }
    if (commits && arc == PL_OK) {
        rc = pl_store_commit(&c);
        if (rc != PL_OK) {
            pl_node_after_truncate(self, mark);
            free(reply);
            reply = s_undone(rc, "commit");
        }
    } else {
        // read commands change nothing; a failed action leaves no trace
        pl_store_abort(&c);
        pl_node_after_truncate(self, mark);
    }
    if (changes)
        pl_log_info(self->log, "request cmd=%s req=%s ok=%d", cmd, rid_hex,
                    arc == PL_OK);
    if (!reply && !self->ctl_parked)
        reply = pl_node_ctl_error(PL_ENOMEM, "out of memory");
    self->ctl_reply = reply;
    json_decref(req);
}

void
pl_node_ctl_run_deferred(pl_node_t *self)
{
    if (!self->ctl_deferred)
        return;
    json_error_t jerr;
    json_t *req = json_loads(self->ctl_deferred, 0, &jerr);
    free(self->ctl_deferred);
    self->ctl_deferred = NULL;
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    const pl_ctl_cmd_t *row = cmd ? pl_node_ctl_find(cmd) : NULL;
    char *reply = NULL;
    if (!row || !(row->flags & PL_CTL_DEFERRED)) {
        reply = pl_node_ctl_error(PL_EPROTO, "bad request");
    } else {
        int arc = PL_OK;
        self->ctl_rid = json_string_value(json_object_get(req, "req"));
        pl_node_ctx_t ctx = pl_node_ctx(self); // ctx.rid: this request's
        reply = pl_node_ctl_run(row, &ctx, NULL, json_object_get(req, "args"),
                                json_string_value(json_object_get(req, "as")),
                                &arc);
        self->ctl_rid = NULL;
        if (!reply)
            reply = pl_node_ctl_error(PL_ENOMEM, "out of memory");
    }
    json_decref(req);
    free(self->ctl_reply);
    self->ctl_reply = reply;
}
