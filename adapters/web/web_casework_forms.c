// web_casework_forms - the casework entry forms of a case's timeline
// (issue 20): an assessment, the plan, the follow-up schedule, a
// follow-up record, a survey (one field per item of the daemon's weights
// table), why the endline survey is missing, and closing the case with
// the handbook reason. Each form is a POST with the session's CSRF token
// and a "do" field (as the case page, web_case.c); web_casework_map.c
// turns its fields into the daemon's command, run as the staff member.
// A refusal shows next to its form with the values typed kept; success
// redirects back to the timeline. No script (CSP), every value escaped.
// Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

#define S_ERR 512

static void
s_t(web_req_t *r, const char *key)
{
    web_buf_esc(&r->body, web_t(r->lang, key));
}

// A value the staff member typed into form 'what' (this request posted
// it), or NULL: a refused form comes back as it was filled in.
static const char *
s_kept(web_req_t *r, const char *what, const char *name)
{
    const char *d = web_form_get(&r->form, "do");
    return d && !strcmp(d, what) ? web_form_get(&r->form, name) : NULL;
}

// Whether 'value' was among the values of 'name' posted with 'what'.
static bool
s_kept_has(web_req_t *r, const char *what, const char *name, const char *value)
{
    if (!s_kept(r, what, "do"))
        return false;
    for (size_t i = 0; i < r->form.n; i++)
        if (!strcmp(r->form.name[i], name) && !strcmp(r->form.value[i], value))
            return true;
    return false;
}

static void
s_input(web_req_t *r, const char *what, const char *key, const char *name,
        const char *type, const char *attrs)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <input name=\"%s\" type=\"%s\"%s value=\"", name,
                 type, attrs ? attrs : "");
    web_buf_esc(&r->body, s_kept(r, what, name));
    web_buf_add(&r->body, "\"></label>");
}

static void
s_textarea(web_req_t *r, const char *what, const char *key, const char *name,
           bool required)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body,
                 " <textarea name=\"%s\" rows=\"2\" maxlength=\"2000\"%s>",
                 name, required ? " required" : "");
    web_buf_esc(&r->body, s_kept(r, what, name));
    web_buf_add(&r->body, "</textarea></label>");
}

// <option>s of codes (translated), the kept one selected; an empty first
// option when 'blank'.
static void
s_options_ns(web_req_t *r, const char *kept, const char *const *opts,
             bool blank, const char *ns)
{
    if (blank)
        web_buf_add(&r->body, "<option value=\"\">—</option>");
    for (size_t i = 0; opts[i]; i++) {
        web_buf_add(&r->body, "<option value=\"");
        web_buf_esc(&r->body, opts[i]);
        web_buf_addf(&r->body, "\"%s>",
                     kept && !strcmp(kept, opts[i]) ? " selected" : "");
        web_buf_esc(&r->body, ns ? web_t_ns(r->lang, ns, opts[i])
                                 : web_t(r->lang, opts[i]));
        web_buf_add(&r->body, "</option>");
    }
}

static void
s_options(web_req_t *r, const char *kept, const char *const *opts, bool blank)
{
    s_options_ns(r, kept, opts, blank, NULL);
}

static void
s_select(web_req_t *r, const char *what, const char *key, const char *name,
         const char *const *opts, bool blank)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <select name=\"%s\">", name);
    s_options(r, s_kept(r, what, name), opts, blank);
    web_buf_add(&r->body, "</select></label>");
}

// Checkboxes 'name' of codes in a fieldset titled 'key'.
static void
s_checks(web_req_t *r, const char *what, const char *key, const char *name,
         const char *const *opts)
{
    web_buf_add(&r->body, "<fieldset><legend>");
    s_t(r, key);
    web_buf_add(&r->body, "</legend>");
    for (size_t i = 0; opts[i]; i++) {
        web_buf_addf(&r->body,
                     "<label class=\"check\"><input type=\"checkbox\" "
                     "name=\"%s\" value=\"%s\"%s> ",
                     name, opts[i],
                     s_kept_has(r, what, name, opts[i]) ? " checked" : "");
        s_t(r, opts[i]);
        web_buf_add(&r->body, "</label>");
    }
    web_buf_add(&r->body, "</fieldset>");
}

// A select of the case's referrals (id — sector), empty first.
static void
s_referral_select(web_req_t *r, json_t *t, const char *what, const char *key,
                  const char *name)
{
    const char *kept = s_kept(r, what, name);
    json_t *e;
    size_t i;
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <select name=\"%s\"><option value=\"\">—</option>",
                 name);
    json_array_foreach(json_object_get(t, "referrals"), i, e)
    {
        const char *id = web_s(e, "id");
        web_buf_add(&r->body, "<option value=\"");
        web_buf_esc(&r->body, id);
        web_buf_addf(&r->body, "\"%s>",
                     kept && !strcmp(kept, id) ? " selected" : "");
        web_buf_addf(&r->body, "%.8s… — ", id);
        s_t(r, web_s(e, "sector"));
        web_buf_add(&r->body, "</option>");
    }
    web_buf_add(&r->body, "</select></label>");
}

static void
s_submit(web_req_t *r, const char *key, bool danger)
{
    web_buf_addf(&r->body, "<button type=\"submit\"%s>",
                 danger ? " class=\"danger\"" : "");
    s_t(r, key);
    web_buf_add(&r->body, "</button></form></details></section>");
}

static const char *const s_types[] = {"rapid_vuln", "health", "mhpss", "risk",
                                      "family",     "skills", NULL};
static const char *const s_levels[] = {"low", "medium", "high", NULL};
static const char *const s_flags[] = {
    "trafficking",     "violence", "exploitation", "abuse", "disability",
    "serious-illness", NULL};
static const char *const s_dims[] = {"economic", "social", "psychosocial",
                                     NULL};
static const char *const s_kinds[] = {"direct", "referral", NULL};
static const char *const s_assist[] = {"cash", "in_kind", NULL};
static const char *const s_istatus[] = {"planned", "in_progress", "done",
                                        "dropped", NULL};
static const char *const s_fu_modes[] = {"home_visit", "office",      "phone",
                                         "remote",     "third_party", NULL};
static const char *const s_yesno[] = {"yes", "no", NULL};
static const char *const s_sat[] = {"1", "2", "3", "4", "5", NULL};
static const char *const s_tps[] = {"baseline", "midline", "endline", "ad-hoc",
                                    NULL};
static const char *const s_resp[] = {"self", "proxy", NULL};
static const char *const s_rss_modes[] = {"in_person", "phone", "remote", NULL};
static const char *const s_skip[] = {
    "lost-contact", "client-withdrew", "moved-away", "re-migrated",
    "deceased",     "transferred",     NULL};
static const char *const s_close[] = {"plan-completed",
                                      "support-period-ended",
                                      "criteria-not-met",
                                      "client-withdrew",
                                      "moved-away",
                                      "re-migrated",
                                      "deceased",
                                      "lost-contact",
                                      "transferred",
                                      "funding-or-security",
                                      NULL};

static void
s_assess(web_req_t *r, json_t *t)
{
    const char *w = "assess";
    web_buf_add(&r->body, "<label>"); // the types: "cw-type-" messages
    s_t(r, "kind");
    web_buf_add(&r->body, " <select name=\"type\">");
    s_options_ns(r, s_kept(r, w, "type"), s_types, false, "cw-type");
    web_buf_add(&r->body, "</select></label>");
    s_input(r, w, "date", "date", "date", NULL);
    s_select(r, w, "cw-level", "level", s_levels, true);
    s_checks(r, w, "cw-flags", "flags", s_flags);
    s_textarea(r, w, "outcome", "outcome", false);
    s_textarea(r, w, "cw-notes", "notes", false);
    s_textarea(r, w, "cw-family-tracing", "family_tracing", false);
    s_textarea(r, w, "cw-sg-reason", "safeguarding_reason", false);
    s_referral_select(r, t, w, "cw-protection-referral", "protection_referral");
    s_submit(r, "cw-add-assessment", false);
}

static void
s_plan_item(web_req_t *r, json_t *t, size_t i)
{
    const char *w = "plan";
    char n[32];
    web_buf_add(&r->body, "<fieldset class=\"row\"><legend>");
    s_t(r, "cw-item");
    web_buf_addf(&r->body, " %zu</legend>", i + 1);
    snprintf(n, sizeof n, "i%zu_dimension", i);
    s_select(r, w, "cw-dimension", n, s_dims, true);
    snprintf(n, sizeof n, "i%zu_kind", i);
    s_select(r, w, "kind", n, s_kinds, false);
    snprintf(n, sizeof n, "i%zu_assistance", i);
    s_select(r, w, "cw-assistance", n, s_assist, true);
    snprintf(n, sizeof n, "i%zu_referral", i);
    s_referral_select(r, t, w, "referral", n);
    snprintf(n, sizeof n, "i%zu_amount", i);
    s_input(r, w, "cw-amount-minor", n, "text",
            " inputmode=\"numeric\" pattern=\"[0-9]*\"");
    snprintf(n, sizeof n, "i%zu_currency", i);
    s_input(r, w, "cw-currency", n, "text",
            " pattern=\"[A-Z]{3}\" maxlength=\"3\" size=\"4\"");
    snprintf(n, sizeof n, "i%zu_status", i);
    s_select(r, w, "status", n, s_istatus, false);
    web_buf_add(&r->body, "</fieldset>");
}

static void
s_plan(web_req_t *r, json_t *t)
{
    const char *w = "plan";
    bool child = json_is_true(json_object_get(t, "child"));
    web_buf_add(&r->body, "<p>");
    s_t(r, "cw-plan-help");
    web_buf_add(&r->body, "</p>");
    s_textarea(r, w, "cw-goal-economic", "goal_economic", false);
    s_textarea(r, w, "cw-goal-social", "goal_social", false);
    s_textarea(r, w, "cw-goal-psychosocial", "goal_psychosocial", false);
    s_textarea(r, w, "cw-own-goals", "own_goals", false);
    for (size_t i = 0; i < WEB_CW_ROWS; i++)
        s_plan_item(r, t, i);
    if (child) { // DOMAIN.md §3: the child takes part, the BIA is revisited
        s_textarea(r, w, "cw-child-participation", "child_participation", true);
        s_input(r, w, "cw-bia-revisited", "bia_revisited", "date", " required");
    }
    s_submit(r, "cw-set-plan", false);
}

static void
s_schedule(web_req_t *r)
{
    const char *w = "schedule";
    s_input(r, w, "cw-return-date", "return_date", "date", " required");
    s_input(r, w, "cw-months", "months", "text",
            " pattern=\"[0-9,]*\" placeholder=\"1,3,6,9,12,18\"");
    s_submit(r, "cw-set-schedule", false);
}

static void
s_followup(web_req_t *r)
{
    const char *w = "followup";
    s_input(r, w, "date", "date", "date", NULL);
    s_select(r, w, "cw-mode", "mode", s_fu_modes, false);
    s_select(r, w, "cw-contact-made", "contact_made", s_yesno, false);
    s_select(r, w, "cw-satisfied", "satisfaction", s_sat, true);
    s_checks(r, w, "cw-services-received", "services_received", web_sectors);
    s_checks(r, w, "cw-new-needs", "new_needs", web_sectors);
    web_buf_addf(&r->body,
                 "<label class=\"check\"><input type=\"checkbox\" "
                 "name=\"safeguarding_concern\" value=\"yes\"%s> ",
                 s_kept(r, w, "safeguarding_concern") ? " checked" : "");
    s_t(r, "cw-sg-concern");
    web_buf_add(&r->body, "</label>");
    s_textarea(r, w, "cw-notes", "notes", false);
    s_submit(r, "cw-add-followup", false);
}

// One survey item: a select of its ranks (yes/no for a 2-point item) and
// the reasons an answer is missing.
static void
s_question(web_req_t *r, json_t *q)
{
    static const char *const missing[] = {"dont_know", "refused", "n_a", NULL};
    const char *code = web_s(q, "code");
    json_int_t k = json_integer_value(json_object_get(q, "scale"));
    char name[40];
    snprintf(name, sizeof name, "a_%s", code);
    const char *kept = s_kept(r, "rss", name);
    web_buf_add(&r->body, "<label>");
    web_buf_esc(&r->body, code);
    web_buf_add(&r->body, " <select name=\"");
    web_buf_esc(&r->body, name);
    web_buf_add(&r->body, "\">");
    if (k == 2) {
        s_options(r, kept, s_yesno, true);
    } else {
        web_buf_add(&r->body, "<option value=\"\">—</option>");
        for (json_int_t i = 1; i <= k && i <= 11; i++) {
            char v[8];
            snprintf(v, sizeof v, "%lld", (long long) i);
            web_buf_addf(&r->body, "<option value=\"%s\"%s>%s / %lld</option>",
                         v, kept && !strcmp(kept, v) ? " selected" : "", v,
                         (long long) k);
        }
    }
    s_options(r, kept, missing, false);
    web_buf_add(&r->body, "</select></label>");
}

static void
s_rss(web_req_t *r)
{
    const char *w = "rss";
    json_t *res = NULL, *q;
    char err[S_ERR], code[32];
    size_t i;
    json_t *none = json_object();
    int rc = web_call(r, "rss.weights", none, false, &res, err, sizeof err,
                      code, sizeof code);
    json_decref(none);
    if (rc != 0) {
        web_buf_add(&r->body, "<p class=\"error\">");
        web_buf_esc(&r->body, err);
        web_buf_add(&r->body, "</p></form></details></section>");
        return;
    }
    s_select(r, w, "cw-timepoint", "timepoint", s_tps, false);
    s_input(r, w, "date", "date", "date", NULL);
    s_select(r, w, "cw-respondent", "respondent", s_resp, false);
    s_select(r, w, "cw-mode", "mode", s_rss_modes, false);
    for (size_t d = 0; s_dims[d]; d++) {
        web_buf_add(&r->body, "<fieldset class=\"items\"><legend>");
        s_t(r, s_dims[d]);
        web_buf_add(&r->body, "</legend>");
        json_array_foreach(json_object_get(res, "questions"), i, q)
        {
            if (!strcmp(web_s(q, "dimension"), s_dims[d]))
                s_question(r, q);
        }
        web_buf_add(&r->body, "</fieldset>");
    }
    web_buf_add(&r->body, "<p>");
    web_buf_esc(&r->body, web_s(res, "instrument_version"));
    web_buf_add(&r->body, " — ");
    web_buf_esc(&r->body, web_s(res, "weights_version"));
    web_buf_add(&r->body, "</p>");
    json_decref(res);
    s_submit(r, "cw-add-survey", false);
}

typedef struct {
    const char *what, *title;
    bool danger;
} s_form_t;

static const s_form_t s_forms[] = {
    {"assess", "cw-add-assessment", false},
    {"plan", "cw-set-plan", false},
    {"schedule", "cw-set-schedule", false},
    {"followup", "cw-add-followup", false},
    {"rss", "cw-add-survey", false},
    {"rss-skip", "cw-skip-endline", false},
    {"close", "cw-close", true},
};

void
web_cw_form(web_req_t *r, json_t *t, const char *what, const char *error,
            int status)
{
    const s_form_t *f = NULL;
    for (size_t i = 0; i < sizeof s_forms / sizeof s_forms[0]; i++)
        if (!strcmp(s_forms[i].what, what))
            f = &s_forms[i];
    if (!f || strcmp(web_s(t, "status"), "open") != 0)
        return;
    // folded, so that the timeline reads first; the form just refused
    // comes back open, its error inside
    bool mine = error && s_kept(r, what, "do");
    web_buf_addf(&r->body,
                 "<section class=\"card%s\" id=\"form-%s\"><details%s>"
                 "<summary><h2>",
                 f->danger ? " danger" : "", what, mine ? " open" : "");
    s_t(r, f->title);
    web_buf_add(&r->body, "</h2></summary>");
    if (mine)
        web_error(r, status, error);
    char action[128];
    snprintf(action, sizeof action, "/case/%s/timeline", web_s(t, "id"));
    web_form_begin(r, action);
    web_buf_addf(&r->body, "<input type=\"hidden\" name=\"do\" value=\"%s\">",
                 what);
    if (!strcmp(what, "assess")) {
        s_assess(r, t);
    } else if (!strcmp(what, "plan")) {
        s_plan(r, t);
    } else if (!strcmp(what, "schedule")) {
        s_schedule(r);
    } else if (!strcmp(what, "followup")) {
        s_followup(r);
    } else if (!strcmp(what, "rss")) {
        s_rss(r);
    } else if (!strcmp(what, "rss-skip")) {
        s_select(r, what, "reason", "reason", s_skip, false);
        s_submit(r, "cw-skip-endline", false);
    } else {
        web_buf_add(&r->body, "<p>");
        s_t(r, "cw-close-help");
        web_buf_add(&r->body, "</p>");
        s_select(r, what, "reason", "reason", s_close, false);
        s_submit(r, "cw-close", true);
    }
}

void
web_pg_case_timeline_post(web_req_t *r)
{
    const char *cmd = NULL, *why = NULL;
    json_t *args = NULL, *res = NULL;
    if (web_cw_map(&r->form, r->arg, &cmd, &args, &why) != 0) {
        web_cw_page(r, web_t(r->lang, why), 400);
        return;
    }
    char err[S_ERR], code[32];
    int rc =
        web_call(r, cmd, args, true, &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        // the daemon's reason, in the staff member's language where the
        // table has it (web_i18n.c keys the casework refusals by text)
        char msg[S_ERR + 128];
        snprintf(msg, sizeof msg, "%s %s", web_t(r->lang, "cw-not-recorded"),
                 web_t(r->lang, err));
        web_cw_page(r, msg, web_status_of(code));
        return;
    }
    json_decref(res);
    char to[160];
    snprintf(to, sizeof to, "/case/%s/timeline", r->arg);
    web_redirect(r, to);
}
