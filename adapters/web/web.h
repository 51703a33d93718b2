// web - passerelle-web, the staff web application (issue 14, DESIGN.md
// §12): a separate process that serves server-rendered pages and speaks to
// the node daemon over its control socket, as the CLI does. Layer: adapters.
//
// Pieces:
//   web_buf     growing text buffer, the one HTML escaping function, the
//               bounded x-www-form-urlencoded parser, random hex
//   web_i18n    the one message table (English, French), per account
//   web_sess    the session table (cookie id -> daemon token, CSRF token,
//               account) and the login rate limit per IP
//   web_http    libmicrohttpd glue: limits, headers, checks, routing, log
//   web_pages   the screens: login, provider, the case manager's lists
//   web_case    the case manager's case page: consent, BIA, refer, erase
//   web_admin   the screens of supervisor, child protection and admin
//   web_api     the REST/JSON API under /api/v1/ (issue 16): Bearer tokens
//               (checked by the daemon) or the session cookie, problem
//               details, Idempotency-Key, rate limit per credential
//   web_api_doc the OpenAPI document assembled from openapi/*.json
//   web_casework  a case's timeline (issue 17); web_casework_forms its
//               entry forms, web_casework_map their fields to commands
//   web_services  services directory, suggestions, the slip (issue 18)
//   web_service_form  a supervisor adds, changes, removes this node's
//               services
//   web_handover  handovers: the list, one handover and its steps
//   main        options, TLS, start and stop
#ifndef WEB_H
#define WEB_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// fields of one form, at most: a survey form has up to 64 items
// (PL_RSS_ITEMS) and 6 other fields
#define WEB_FORM_FIELDS  96
#define WEB_BODY_MAX     (64 * 1024) // request bodies above: 413
#define WEB_SESSIONS_MAX 1024        // sessions held by one process
#define WEB_TOKEN_HEX    64          // 256-bit random ids, in hex
#define WEB_RATE_IPS     256         // login rate-limit slots
#define WEB_RATE_MAX     10          // failed logins per IP per window
#define WEB_RATE_WINDOW  60          // seconds
#define WEB_API_SLOTS    256         // API rate-limit slots (credentials)
#define WEB_API_RATE     600         // API requests per credential a minute

// ---- web_buf

typedef struct {
    char *data; // NUL-terminated (when len > 0 or after any append)
    size_t len;
    size_t cap;
    bool oom; // an append failed: the page is dropped (500)
} web_buf_t;

void web_buf_add(web_buf_t *b, const char *s);
void web_buf_addn(web_buf_t *b, const char *s, size_t n);
void web_buf_addf(web_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
// Appends 's' HTML-escaped (& < > " ' become entities): the one escaping
// function every value of every page goes through. NULL appends nothing.
void web_buf_esc(web_buf_t *b, const char *s);
void web_buf_free(web_buf_t *b);

// One parsed form: names and values, decoded, NUL-terminated, owned.
typedef struct {
    size_t n;
    char *name[WEB_FORM_FIELDS];
    char *value[WEB_FORM_FIELDS];
} web_form_t;

// Parses an application/x-www-form-urlencoded body of 'len' bytes. Returns
// 0, or -1 on a malformed body or more than WEB_FORM_FIELDS fields.
int web_form_parse(web_form_t *f, const char *body, size_t len);
// The first value of 'name', or NULL.
const char *web_form_get(const web_form_t *f, const char *name);
// Every value of 'name' joined with commas into 'out' (checkboxes); ""
// when none.
void web_form_join(const web_form_t *f, const char *name, char *out,
                   size_t size);
void web_form_free(web_form_t *f);

// Wipes the string value of 'key' in 'o' (a password) before 'o' is freed.
void web_json_wipe(json_t *o, const char *key);
// 'hex' gets 2*bytes hex digits of fresh randomness + NUL.
void web_random_hex(char *hex, size_t bytes);
// Constant-time comparison of two NUL-terminated strings of equal length
// (false when the lengths differ).
bool web_same(const char *a, const char *b);

// ---- web_i18n

// The text of message 'key' in 'lang' ("fr" or anything else: English);
// the key itself when the table has none (a missing entry shows, never
// crashes).
const char *web_t(const char *lang, const char *key);
// The text of code 'key' in namespace 'ns' (message "NS-KEY"), else of
// 'key' itself: a code whose plain key means something else ("family", an
// assessment type, against the family name's label).
const char *web_t_ns(const char *lang, const char *ns, const char *key);
// The first key the message table holds twice (the later one would never
// show), or NULL (tests/web/test_web_unit.c).
const char *web_i18n_duplicate(void);

// ---- web_sess

typedef struct {
    bool used;
    char id[WEB_TOKEN_HEX + 1];    // the cookie value
    char csrf[WEB_TOKEN_HEX + 1];  // the CSRF token of its forms
    char token[WEB_TOKEN_HEX + 1]; // the daemon's session token
    char name[64];                 // the account
    char role[32];
    char lang[8];
    int64_t last; // last use (monotonic seconds)
} web_session_t;

typedef struct {
    char ip[64];
    int64_t start; // window start
    int count;
} web_rate_t;

// One credential's API requests in the current window (web_api.c); the
// key is a keyed hash of the credential, never the credential itself.
typedef struct {
    char key[33];
    int64_t start; // window start
    unsigned count;
} web_api_rate_t;

typedef struct {
    const char *home;   // the node's home
    bool tls;           // serving HTTPS (Secure, __Host- cookie)
    const char *cookie; // cookie name
    pthread_mutex_t lock;
    web_session_t sess[WEB_SESSIONS_MAX];
    web_rate_t rate[WEB_RATE_IPS];
    int idle_s;          // local idle bound of a session (the daemon's own too)
    unsigned api_rate;   // API requests per credential a minute
    uint8_t api_key[32]; // keys the rate slots' hashes
    web_api_rate_t api[WEB_API_SLOTS]; // under 'lock'
    bool broker; // --broker-home: the broker's status page and /metrics only
} web_ctx_t;

int64_t web_now(void);
// A new session for a daemon login; copies it to 'out'. Returns 0 or -1
// (table full).
int web_sess_new(web_ctx_t *w, const char *token, const char *name,
                 const char *role, const char *lang, web_session_t *out);
// Looks the cookie value 'id' up; on a hit copies the session to 'out',
// refreshes its use time and returns true.
bool web_sess_get(web_ctx_t *w, const char *id, web_session_t *out);
// Forgets the session 'id' (logout, expiry): its cookie is useless after.
void web_sess_drop(web_ctx_t *w, const char *id);
// Whether 'ip' may try to log in: fewer than WEB_RATE_MAX failed logins
// in the current window (successful logins do not count: a shared office
// PC or a NAT logs many people in).
bool web_rate_ok(web_ctx_t *w, const char *ip);
// Counts one failed login from 'ip'.
void web_rate_fail(web_ctx_t *w, const char *ip);

// ---- web_http: one request as the pages see it

typedef struct {
    web_ctx_t *w;
    const char *method;   // "GET" or "POST"
    const char *path;     // the URL path, without query
    const char *arg;      // the id in the path (/referral/ID), or NULL
    const char *arg2;     // an action in the path, or NULL
    const char *ip;       // the peer address
    web_form_t form;      // a POST's fields
    web_session_t s;      // the session, when has_session
    bool has_session;     // a valid cookie came
    const char *lang;     // the session's lang or "en"
    const char *q_sector; // GET query values (not personal)
    const char *q_region;
    const char *q_lang;
    // the answer
    int status;
    web_buf_t body;
    char location[256];       // a redirect
    char set_cookie[256];     // a Set-Cookie value
    const char *content_type; // NULL: text/html
    bool personal;            // Cache-Control: no-store (always set anyway)
    // the API (web_api.c)
    struct MHD_Connection *conn; // headers and query values
    const char *route;           // the matched route's template
    bool api_token;              // s.token is a Bearer API token
    char api_rid[33];            // request id from Idempotency-Key, or ""
    json_t *api_body;            // a POST's JSON object (owned), or NULL
    char retry_after[24];        // a 429's Retry-After, or ""
    char www_auth[64];           // a 401's WWW-Authenticate, or ""
} web_req_t;

// A GET query value of the request (NULL: absent); codes and numbers
// only, never personal data.
const char *web_query(web_req_t *r, const char *key);

// Calls 'cmd' on the daemon for the request's session (a request id is
// added when 'changes'). Returns 0 with '*res' (caller decrefs) or -1 with
// 'err' (the daemon's text) and 'code' ("PL_E…" or ""). A PL_EAUTH answer
// drops the local session too.
int web_call(web_req_t *r, const char *cmd, json_t *args, bool changes,
             json_t **res, char *err, size_t err_size, char *code,
             size_t code_size);
// A read-only call of 'cmd' (args stolen): its answer, or NULL; then, when
// 'page', an error page titled 'title' (404 for PL_ENOTFOUND, else 400).
json_t *web_read(web_req_t *r, const char *title, const char *cmd, json_t *args,
                 bool page);

// Page frame: header with the account and the role's menu, then the body
// the caller adds, then web_page_end. 'title' is a message key.
void web_page_begin(web_req_t *r, const char *title);
void web_page_end(web_req_t *r);
// <form method=post action=ACTION> with its CSRF field.
void web_form_begin(web_req_t *r, const char *action);
// An error box (escaped text) and the status.
void web_error(web_req_t *r, int status, const char *msg);
// The HTTP status of a daemon error code, one table for every page and the
// API (docs/api.md): PL_EINVAL/PL_EPROTO 400, PL_EAUTH 401, PL_EPERM 403,
// PL_ENOTFOUND 404, PL_EEXIST/PL_ESTATE/PL_EEXPIRED/PL_EREVOKED 409,
// PL_ETOOBIG 413, PL_EFULL 503, PL_ETIMEOUT 504, no code (the daemon did
// not answer) 503, any other 500.
int web_status_of(const char *code);
// A failed daemon call inside a page: web_error with the code's status;
// an ended session (PL_EAUTH) says so and links to the login.
void web_fail(web_req_t *r, const char *err, const char *code);
// A 303 redirect to 'path'.
void web_redirect(web_req_t *r, const char *path);

// A route handler.
typedef void (*web_handler_t)(web_req_t *r);

// ---- screens (web_pages.c, web_admin.c)

void web_pg_login(web_req_t *r);
void web_pg_login_post(web_req_t *r);
void web_pg_logout(web_req_t *r);
void web_pg_home(web_req_t *r);
void web_pg_incoming(web_req_t *r);
void web_pg_outgoing(web_req_t *r);
void web_pg_referral(web_req_t *r);
void web_pg_referral_act(web_req_t *r);
void web_pg_cases(web_req_t *r);
void web_pg_cases_search(web_req_t *r);
void web_pg_case_new(web_req_t *r);
void web_pg_case(web_req_t *r);
void web_pg_case_post(web_req_t *r);
void web_pg_case_timeline(web_req_t *r); // web_casework.c (issue 17)
void web_pg_overrides(web_req_t *r);
void web_pg_override_post(web_req_t *r);
void web_pg_audit(web_req_t *r);
void web_pg_notifications(web_req_t *r);
void web_pg_staff(web_req_t *r);
void web_pg_staff_post(web_req_t *r);
// FHIR R4 and HSDS 3.0 reads (web_fhir.c, issue 16)
void web_api_fhir_tasks(web_req_t *r);
void web_api_fhir_bundle(web_req_t *r);
void web_api_hsds_services(web_req_t *r);
// web_coord.c, web_metrics.c (issue 15)
void web_pg_coord(web_req_t *r);
void web_pg_coord_csv(web_req_t *r);
void web_pg_coord_request(web_req_t *r);
void web_api_coord_figures(web_req_t *r);
void web_api_coord_network(web_req_t *r);
void web_pg_metrics(web_req_t *r);
// <table class="list"><thead> with the translated 'keys' (NULL-ended),
// then <tbody> (web_coord.c), inside a region named by the translated
// 'label' that scrolls sideways on a narrow screen, not the whole page;
// web_table_end closes both. The columns of the network health table.
void web_table_head(web_req_t *r, const char *label, const char *const *keys);
void web_table_end(web_req_t *r);
extern const char *const web_health_cols[];
// --broker-home (web_broker.c): answers GET / and /metrics (true), or
// false for any other path (404).
bool web_broker_route(web_req_t *r);
// The broker families of /metrics from a `network` (or broker status)
// reply.
void web_metrics_broker(web_buf_t *b, const json_t *net);

// ---- web_casework*.c: the case timeline and its entry forms (issues 17, 20)

#define WEB_CW_ROWS 3 // plan item rows of the plan form

// The timeline page of case r->arg; 'error' (text, or NULL) is shown next
// to the form of the request's "do" with the values typed kept.
void web_cw_page(web_req_t *r, const char *error, int status);
// The entry form 'what' (assess, plan, schedule, followup, rss, rss-skip,
// close) of the timeline 't', with 'error' inside it when the request
// posted that form.
void web_cw_form(web_req_t *r, json_t *t, const char *what, const char *error,
                 int status);
// POST /case/:id/timeline: one form, to its daemon command; success
// redirects back to the timeline.
void web_pg_case_timeline_post(web_req_t *r);
// Maps the fields of a casework form 'f' (its "do") for case 'case_id' to
// the daemon command '*cmd' and its args '*args' (new; personal text only
// in args "record"). Returns 0, or -1 with '*why' a message key (an
// unknown "do", a number field that holds no whole number).
int web_cw_map(const web_form_t *f, const char *case_id, const char **cmd,
               json_t **args, const char **why);

// ---- web_handover.c: handovers of a case (DESIGN.md §7.2, §12)
void web_pg_handovers(web_req_t *r);
void web_pg_handover(web_req_t *r);
void web_pg_handover_act(web_req_t *r);
// "N handovers received wait for a decision" (a link to /handovers) when
// there are any; nothing otherwise (the case manager's /cases page).
void web_ho_waiting(web_req_t *r);
// ---- web_services.c: services, suggestions, slips (issue 18)

void web_pg_services(web_req_t *r);
void web_pg_services_post(web_req_t *r);
// ---- web_service_form.c: a supervisor keeps this node's catalogue
void web_pg_service_new(web_req_t *r);
void web_pg_service_edit(web_req_t *r);
void web_pg_service_save(web_req_t *r);
void web_pg_service_remove(web_req_t *r);
void web_pg_slip(web_req_t *r);
void web_pg_slip_form(web_req_t *r);
void web_pg_slip_check(web_req_t *r);
// The ranked suggestions of services for case 'case_id' (refer screen).
void web_svc_suggest(web_req_t *r, const char *case_id);

// ---- web_mail: email notifications (issue 14 item 6)

typedef struct {
    const char *home;              // the node's home
    const char *smtp_url;          // smtp://HOST:PORT or smtps://
    const char *from;              // one address
    const char *to;                // ADDR[,ADDR]
    const char *public_url;        // http(s)://HOST[:PORT], for the link
    const char *cred_file;         // SMTP user and password (0600), or NULL
    const char *account;           // the service staff account
    const char *account_pass_file; // its password (0600)
    const char *state_file;        // what was notified (0600)
    unsigned every_s;              // poll interval
} web_mail_opts_t;

typedef struct web_mail web_mail_t;

// Checks the options; 0, or -1 with one line in 'err'.
int web_mail_check(const web_mail_opts_t *o, char *err, size_t n);
// Reads the secret files and starts the polling thread; NULL with 'err'.
web_mail_t *web_mail_start(const web_mail_opts_t *o, char *err, size_t n);
// Stops the thread, logs the service session out, wipes the secrets.
void web_mail_stop(web_mail_t *m);
// The message (headers and body, CRLF lines) for counts per priority
// (emergency, urgent, normal) and a count of handovers: counts,
// priorities and the links only.
void web_mail_compose(web_buf_t *b, const web_mail_opts_t *o,
                      const int new_by_prio[3], const int overdue_by_prio[3],
                      int handovers);

// ---- web_api: the REST/JSON API (issue 16)

struct MHD_Connection;

// Runs API route handler 'fn' for 'r' after the checks every /api/v1/
// route shares: a credential (Bearer token or session cookie; with the
// cookie a POST needs X-CSRF-Token and 'origin_ok'), 'role_ok' (the
// session's role is in the row's roles; a token's role the daemon checks),
// the rate limit, a JSON object body for a POST, Idempotency-Key. Every
// refusal is an RFC 7807 problem.
void web_api_serve(web_req_t *r, web_handler_t fn, bool role_ok, bool origin_ok,
                   const char *body, size_t len);
// An RFC 7807 problem+json answer (replaces the body).
void web_api_problem(web_req_t *r, int status, const char *detail,
                     const char *code);
// Calls daemon command 'cmd' with 'args' (consumed) and answers its
// result as JSON, or the daemon's refusal as a problem.
void web_api_reply(web_req_t *r, const char *cmd, json_t *args);
// The handler of the core routes (cases, consent, refer, referrals and
// their actions, notifications, directory, network, whoami): a table in
// web_api.c maps the route to its daemon command.
void web_api_core(web_req_t *r);
// GET /api/v1/openapi.json: the assembled document.
void web_api_openapi(web_req_t *r);

// ---- web_api_doc: the OpenAPI document

// Assembles 'dir'/base.json and every other 'dir'/*.json fragment
// ({"paths", "components": {"schemas"}}) into one document. Returns 0, or
// -1 with one line in 'err' (unreadable, malformed, a path+method or a
// schema defined twice).
int web_api_doc_load(const char *dir, char *err, size_t err_size);
// The assembled document's text (static), or NULL before a load.
const char *web_api_doc_text(void);

// The referral sectors, NULL-ended (web_case.c).
extern const char *const web_sectors[];
// Helpers the screens share (web_pages.c).
const char *web_s(json_t *o, const char *key);
void web_status_badge(web_req_t *r, json_t *ref);

#endif
