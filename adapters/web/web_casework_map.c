// web_casework_map - the casework entry forms' fields to the daemon's
// commands (issue 20): assess.add, plan.set, followup.schedule,
// followup.add, rss.add, rss.skip, case.close, with the arguments the CLI
// sends (docs/casework.md). Personal text goes into args "record" only,
// as the CLI's --stdin document does. Pure: no I/O, no daemon; the daemon
// checks every value, this only shapes them. Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

// A form value, NULL when absent or empty.
static const char *
s_get(const web_form_t *f, const char *name)
{
    const char *v = web_form_get(f, name);
    return v && *v ? v : NULL;
}

// Copies form field 'name' into 'o' under 'key' when not empty.
static void
s_str(json_t *o, const web_form_t *f, const char *name, const char *key)
{
    const char *v = s_get(f, name);
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static void
s_strs(json_t *o, const web_form_t *f, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++)
        s_str(o, f, keys[i], keys[i]);
}

// A whole number of at most 15 digits into *out.
static bool
s_num(const char *v, json_int_t *out)
{
    size_t n = strlen(v);
    if (!n || n > 15 || strspn(v, "0123456789") != n)
        return false;
    *out = (json_int_t) strtoll(v, NULL, 10);
    return true;
}

// Field 'name' as a number under 'key' (absent: nothing); false when it
// is not one.
static bool
s_int(json_t *o, const web_form_t *f, const char *name, const char *key)
{
    const char *v = s_get(f, name);
    json_int_t n;
    if (!v)
        return true;
    if (!s_num(v, &n))
        return false;
    json_object_set_new(o, key, json_integer(n));
    return true;
}

// Every non-empty value of 'name' (checkboxes) as an array under 'key'.
static void
s_list(json_t *o, const web_form_t *f, const char *name, const char *key)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < f->n; i++)
        if (!strcmp(f->name[i], name) && *f->value[i])
            json_array_append_new(a, json_string(f->value[i]));
    if (json_array_size(a))
        json_object_set_new(o, key, a);
    else
        json_decref(a);
}

static const char *
s_assess(const web_form_t *f, json_t *args, json_t *rec)
{
    static const char *const keys[] = {"level",
                                       "outcome",
                                       "notes",
                                       "family_tracing",
                                       "safeguarding_reason",
                                       "protection_referral",
                                       NULL};
    s_str(args, f, "type", "type");
    s_str(args, f, "date", "date");
    s_strs(rec, f, keys);
    s_list(rec, f, "flags", "flags");
    return NULL;
}

// Plan item row 'i' (fields iN_dimension, iN_kind, ...) into 'items'; a
// row without a dimension is an unused row.
static const char *
s_item(const web_form_t *f, size_t i, json_t *items)
{
    static const char *const keys[] = {"dimension",  "kind",     "assistance",
                                       "referral",   "currency", "status",
                                       "description"};
    char name[32];
    snprintf(name, sizeof name, "i%zu_dimension", i);
    if (!s_get(f, name))
        return NULL;
    json_t *it = json_object();
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        snprintf(name, sizeof name, "i%zu_%s", i, keys[k]);
        s_str(it, f, name, keys[k]);
    }
    snprintf(name, sizeof name, "i%zu_amount", i);
    bool ok = s_int(it, f, name, "amount");
    json_array_append_new(items, it);
    return ok ? NULL : "cw-bad-number";
}

static const char *
s_plan(const web_form_t *f, json_t *args, json_t *rec)
{
    (void) args;
    static const char *const dims[] = {"economic", "social", "psychosocial",
                                       NULL};
    static const char *const keys[] = {"own_goals", "child_participation",
                                       "bia_revisited", NULL};
    json_t *goals = json_object(), *items = json_array();
    char name[32];
    for (size_t d = 0; dims[d]; d++) {
        snprintf(name, sizeof name, "goal_%s", dims[d]);
        s_str(goals, f, name, dims[d]);
    }
    if (json_object_size(goals))
        json_object_set(rec, "goals", goals);
    json_decref(goals);
    s_strs(rec, f, keys);
    const char *bad = NULL;
    for (size_t i = 0; i < WEB_CW_ROWS; i++) {
        const char *b = s_item(f, i, items);
        bad = bad ? bad : b;
    }
    if (json_array_size(items))
        json_object_set(rec, "items", items);
    json_decref(items);
    return bad;
}

static const char *
s_schedule(const web_form_t *f, json_t *args, json_t *rec)
{
    (void) rec;
    s_str(args, f, "return_date", "return_date");
    s_str(args, f, "months", "months");
    return NULL;
}

// "yes" / "no" as true / false under 'key'; absent: nothing.
static void
s_yesno(json_t *o, const web_form_t *f, const char *name, const char *key)
{
    const char *v = s_get(f, name);
    if (v && (!strcmp(v, "yes") || !strcmp(v, "no")))
        json_object_set_new(o, key, json_boolean(!strcmp(v, "yes")));
    else if (v)
        json_object_set_new(o, key, json_string(v)); // the daemon refuses it
}

static const char *
s_followup(const web_form_t *f, json_t *args, json_t *rec)
{
    (void) args;
    static const char *const keys[] = {"mode", "notes", "date",
                                       "safeguarding_reason", NULL};
    s_strs(rec, f, keys);
    s_yesno(rec, f, "contact_made", "contact_made");
    s_list(rec, f, "services_received", "services_received");
    s_list(rec, f, "new_needs", "new_needs");
    // a checkbox: absent is "no concern"
    json_object_set_new(rec, "safeguarding_concern",
                        json_boolean(s_get(f, "safeguarding_concern")));
    return s_int(rec, f, "satisfaction", "satisfaction") ? NULL
                                                         : "cw-bad-number";
}

// Answers: every field "a_CODE" with a value; a rank as a number, the
// other answers (yes, no, dont_know, refused, n_a) as text.
static const char *
s_rss(const web_form_t *f, json_t *args, json_t *rec)
{
    static const char *const keys[] = {"respondent", "mode", "date", NULL};
    json_t *ans = json_object();
    s_str(args, f, "timepoint", "timepoint");
    s_strs(rec, f, keys);
    for (size_t i = 0; ans && i < f->n; i++) {
        const char *n = f->name[i], *v = f->value[i];
        json_int_t rank;
        if (strncmp(n, "a_", 2) != 0 || !n[2] || !*v)
            continue;
        json_object_set_new(
            ans, n + 2, s_num(v, &rank) ? json_integer(rank) : json_string(v));
    }
    json_object_set_new(rec, "answers", ans);
    return NULL;
}

static const char *
s_reason(const web_form_t *f, json_t *args, json_t *rec)
{
    (void) rec;
    s_str(args, f, "reason", "reason");
    return NULL;
}

typedef struct {
    const char *what, *cmd;
    bool record; // takes args "record"
    const char *(*fn)(const web_form_t *f, json_t *args, json_t *rec);
} s_form_t;

static const s_form_t s_forms[] = {
    {"assess", "assess.add", true, s_assess},
    {"plan", "plan.set", true, s_plan},
    {"schedule", "followup.schedule", false, s_schedule},
    {"followup", "followup.add", true, s_followup},
    {"rss", "rss.add", true, s_rss},
    {"rss-skip", "rss.skip", false, s_reason},
    {"close", "case.close", false, s_reason},
};

int
web_cw_map(const web_form_t *f, const char *case_id, const char **cmd,
           json_t **args, const char **why)
{
    const char *what = web_form_get(f, "do");
    *args = NULL;
    *why = "bad-form";
    for (size_t i = 0; what && i < sizeof s_forms / sizeof s_forms[0]; i++) {
        const s_form_t *m = &s_forms[i];
        if (strcmp(what, m->what) != 0)
            continue;
        // case.close names its case "id", the casework commands "case"
        json_t *a = json_pack("{s:s}",
                              strcmp(m->cmd, "case.close") ? "case" : "id",
                              case_id),
               *rec = json_object();
        const char *bad = a && rec ? m->fn(f, a, rec) : "bad-form";
        if (!bad && m->record)
            json_object_set(a, "record", rec);
        json_decref(rec);
        if (bad) {
            json_decref(a);
            *why = bad;
            return -1;
        }
        *cmd = m->cmd;
        *args = a;
        *why = NULL;
        return 0;
    }
    return -1;
}
