// web_mail - optional email notifications of passerelle-web (issue 14 item
// 6): a thread polls the daemon's incoming referrals under a service
// session and mails the providers a count, the priorities and a link to
// the incoming page when referrals arrive or become overdue; and, when the
// account is a case manager's, the handovers of a case sent to this node
// and not yet acknowledged (a count and the link to the handovers page).
// Layer: adapters.
//
// What a message holds: counts per priority and the link, nothing else
// (no name, no case or referral id, no service, no note): a mailbox is
// outside the node's sealed store and outside its erasure.
//
// Privilege: the thread logs in as a staff account given by the operator
// (--notify-account, password from a 0600 file): the daemon checks its
// role for the calls it makes ("referrals" direction in: a provider;
// "handovers" direction in: a case manager), as for any page, instead of
// the Unix owner's full access. A call the role may not make is logged
// once and not made again.
//
// What was notified is kept in a 0600 state file (referral ids, which are
// random and never leave this machine): a restart does not resend. Ids are
// marked notified only after the SMTP server accepted the message, so a
// server that is down delays the count, never loses it; the retry waits
// 2, 4, 8 … up to WEB_MAIL_BACKOFF_MAX seconds between attempts.
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adapters/cli/cli_control.h"
#include "adapters/web/web.h"
#include "proto/pl_crypto.h"

#define WEB_MAIL_BACKOFF_MAX 300 // seconds between attempts, at most
#define WEB_MAIL_SECRET_MAX  512 // bytes of a password file

struct web_mail {
    web_mail_opts_t o;
    char *user;     // SMTP user (NULL: none)
    char *pass;     // SMTP password
    char *svc_pass; // the service account's password
    char token[WEB_TOKEN_HEX + 1];
    json_t *seen_new;     // {id: true} notified as new
    json_t *seen_overdue; // {id: true} notified as overdue
    json_t *seen_ho;      // {id: true} handovers notified as new
    bool no_refs;         // the account may not list incoming referrals
    bool no_ho;           // ... nor incoming handovers
    pthread_t thread;
    bool started; // the thread runs
    bool refused; // the daemon refused the service account's login
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static const char *const s_prios[] = {"emergency", "urgent", "normal"};
#define S_NPRIO 3

// ---- files

// Reads a secret file of one or two lines; refuses one readable by the
// group or others. 'a' gets line 1, 'b' (may be NULL) line 2.
static int
s_read_secret(const char *path, char **a, char **b, char *err, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, n, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        close(fd);
        snprintf(err, n, "%s must be a regular file of mode 0600", path);
        return -1;
    }
    char buf[WEB_MAIL_SECRET_MAX + 1];
    ssize_t got = read(fd, buf, WEB_MAIL_SECRET_MAX);
    close(fd);
    if (got <= 0 || got == WEB_MAIL_SECRET_MAX) {
        pl_wipe(buf, sizeof buf);
        snprintf(err, n, "%s is empty or too long", path);
        return -1;
    }
    buf[got] = 0;
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl++ = 0;
    char *nl2 = nl ? strchr(nl, '\n') : NULL;
    if (nl2)
        *nl2 = 0;
    *a = strdup(buf);
    if (b)
        *b = strdup(nl ? nl : "");
    pl_wipe(buf, sizeof buf);
    if (!*a || (b && !*b) || !**a) {
        snprintf(err, n, "%s: the first line is empty", path);
        return -1;
    }
    return 0;
}

static void
s_free_secret(char *s)
{
    if (s) {
        pl_wipe(s, strlen(s));
        free(s);
    }
}

static void
s_load_state(web_mail_t *m)
{
    json_t *doc = json_load_file(m->o.state_file, 0, NULL);
    json_t *a = json_object_get(doc, "new");
    json_t *b = json_object_get(doc, "overdue");
    json_t *h = json_object_get(doc, "handovers");
    m->seen_new = json_is_object(a) ? json_incref(a) : json_object();
    m->seen_overdue = json_is_object(b) ? json_incref(b) : json_object();
    m->seen_ho = json_is_object(h) ? json_incref(h) : json_object();
    json_decref(doc);
}

// Writes the state file: a temporary file of mode 0600, fsync, rename.
static int
s_save_state(web_mail_t *m)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", m->o.state_file);
    json_t *doc = json_pack("{s:O, s:O, s:O}", "new", m->seen_new, "overdue",
                            m->seen_overdue, "handovers", m->seen_ho);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    int fd =
        text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    size_t len = text ? strlen(text) : 0;
    bool ok =
        fd >= 0 && write(fd, text, len) == (ssize_t) len && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, m->o.state_file) == 0;
    free(text);
    if (!ok)
        fprintf(stderr,
                "passerelle-web: mail: cannot write the state file "
                "%s\n",
                m->o.state_file);
    return ok ? 0 : -1;
}

// ---- the daemon

static int
s_login(web_mail_t *m)
{
    json_t *args =
        json_pack("{s:s, s:s}", "name", m->o.account, "password", m->svc_pass);
    json_t *res = NULL;
    char err[256], code[32];
    int rc = cli_control_session(
        CLI_PEER_NODE, m->o.home, NULL, "session.login", args, NULL, NULL,
        CLI_CONTROL_TIMEOUT_MS, &res, err, sizeof err, code, sizeof code);
    web_json_wipe(args, "password");
    json_decref(args);
    if (rc != CLI_CONTROL_OK) {
        // a wrong password tried again every poll would lock the account
        // (the daemon's lockout): a refusal stops the polling; no answer
        // (the daemon restarting) is tried again
        m->refused = !strcmp(code, "PL_EAUTH") || !strcmp(code, "PL_EPERM");
        fprintf(stderr,
                "passerelle-web: mail: the service account cannot log in "
                "(%s)%s\n",
                code[0] ? code : "no answer",
                m->refused ? "; notifications stop: fix the account or its "
                             "password file and restart"
                           : "");
        return -1;
    }
    const char *t = json_string_value(json_object_get(res, "token"));
    snprintf(m->token, sizeof m->token, "%s", t ? t : "");
    json_decref(res);
    return m->token[0] ? 0 : -1;
}

// The daemon's answer to 'cmd' with 'args' (stolen) under the service
// session (new reference), or NULL; 'code' gets the error's code ("" when
// the daemon did not answer). An expired session is logged in again.
static json_t *
s_call(web_mail_t *m, const char *cmd, json_t *args, char code[32])
{
    code[0] = 0;
    for (int attempt = 0; attempt < 2 && !m->refused; attempt++) {
        if (!m->token[0] && s_login(m) != 0)
            break;
        json_t *res = NULL;
        char err[256];
        int rc = cli_control_session(CLI_PEER_NODE, m->o.home, NULL, cmd, args,
                                     NULL, m->token, CLI_CONTROL_TIMEOUT_MS,
                                     &res, err, sizeof err, code, 32);
        if (rc == CLI_CONTROL_OK) {
            json_decref(args);
            return res;
        }
        if (strcmp(code, "PL_EAUTH") != 0)
            break;
        pl_wipe(m->token, sizeof m->token); // expired: log in again
    }
    json_decref(args);
    return NULL;
}

// The incoming items one source lists (a referral or handover list,
// new reference), or NULL: then '*off' is set, with one log line, when
// the account's role may not list them.
static json_t *
s_list(web_mail_t *m, const char *cmd, json_t *args, bool *off,
       const char *what)
{
    if (*off) {
        json_decref(args);
        return NULL;
    }
    char code[32];
    json_t *res = s_call(m, cmd, args, code);
    if (!res && !strcmp(code, "PL_EPERM")) {
        *off = true;
        fprintf(stderr,
                "passerelle-web: mail: the account %s may not list %s: "
                "they are not notified\n",
                m->o.account, what);
    } else if (!res && !m->refused && m->token[0]) {
        // (a failed login, no token, was logged by s_login)
        fprintf(stderr, "passerelle-web: mail: the %s call failed (%s)\n", cmd,
                code[0] ? code : "no answer");
    }
    json_t *list = json_object_get(res, cmd);
    if (!json_is_array(list))
        list = json_is_array(res) ? res : NULL;
    json_incref(list);
    json_decref(res);
    return list;
}

// ---- the message

static int
s_prio_index(const char *p)
{
    for (int i = 0; i < S_NPRIO; i++)
        if (p && !strcmp(p, s_prios[i]))
            return i;
    return S_NPRIO - 1; // an unknown priority counts as normal
}

static void
s_counts(web_buf_t *b, const int c[S_NPRIO])
{
    bool first = true;
    for (int i = 0; i < S_NPRIO; i++) {
        if (!c[i])
            continue;
        web_buf_addf(b, "%s%s %d", first ? "" : ", ", s_prios[i], c[i]);
        first = false;
    }
}

void
web_mail_compose(web_buf_t *b, const web_mail_opts_t *o,
                 const int new_by_prio[3], const int overdue_by_prio[3],
                 int handovers)
{
    int nn = 0, no = 0;
    for (int i = 0; i < S_NPRIO; i++) {
        nn += new_by_prio[i];
        no += overdue_by_prio[i];
    }
    char date[64], mid[33];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    // RFC 5322, section 3.3: the date-time of the Date: field
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    web_random_hex(mid, 16);
    // header lines end in CRLF (RFC 5321, section 2.3.8)
    web_buf_addf(b, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, o->from, o->to);
    web_buf_addf(b, "Message-ID: <%s@passerelle>\r\n", mid);
    web_buf_add(b, "Subject: Passerelle:");
    if (nn)
        web_buf_addf(b, " %d new referral%s", nn, nn > 1 ? "s" : "");
    if (no)
        web_buf_addf(b, "%s %d overdue", nn ? "," : "", no);
    if (handovers)
        web_buf_addf(b, "%s %d case handover%s", nn || no ? "," : "", handovers,
                     handovers > 1 ? "s" : "");
    web_buf_add(b, "\r\nMIME-Version: 1.0\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    if (nn) {
        web_buf_addf(b, "%d new referral%s arrived (priority: ", nn,
                     nn > 1 ? "s" : "");
        s_counts(b, new_by_prio);
        web_buf_add(b, ").\r\n");
    }
    if (no) {
        web_buf_addf(b, "%d referral%s overdue (priority: ", no,
                     no > 1 ? "s are" : " is");
        s_counts(b, overdue_by_prio);
        web_buf_add(b, ").\r\n");
    }
    if (handovers)
        web_buf_addf(b,
                     "%d case%s handed over to this node, to acknowledge "
                     "and decide.\r\n",
                     handovers, handovers > 1 ? "s were" : " was");
    if (nn || no)
        web_buf_addf(b, "\r\nIncoming referrals: %s/in\r\n", o->public_url);
    if (handovers)
        web_buf_addf(b, "%sHandovers: %s/handovers\r\n", nn || no ? "" : "\r\n",
                     o->public_url);
    web_buf_addf(b,
                 "\r\nThis message holds no personal data: log in to "
                 "see the %s.\r\n",
                 !handovers ? "referrals"
                 : nn || no ? "referrals and handovers"
                            : "handovers");
}

typedef struct {
    const char *data;
    size_t left;
    web_mail_t *m;
} s_upload_t;

static size_t
s_read_cb(char *out, size_t size, size_t nitems, void *arg)
{
    s_upload_t *u = arg;
    size_t n = size * nitems < u->left ? size * nitems : u->left;
    memcpy(out, u->data, n);
    u->data += n;
    u->left -= n;
    return n;
}

static int
s_progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void) a, (void) b, (void) c, (void) d;
    web_mail_t *m = arg;
    pthread_mutex_lock(&m->lock);
    bool stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    return stop ? 1 : 0; // non-zero aborts the transfer (stopping)
}

// Sends one message; 0 when the server accepted it.
static int
s_send(web_mail_t *m, const char *text)
{
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct curl_slist *rcpt = NULL;
    char to[1024];
    snprintf(to, sizeof to, "%s", m->o.to);
    char *save = NULL;
    for (char *a = strtok_r(to, ",", &save); a; a = strtok_r(NULL, ",", &save))
        rcpt = curl_slist_append(rcpt, a);
    s_upload_t u = {text, strlen(text), m};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, m->o.smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, m->o.from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, s_read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, s_progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, m);
    if (m->user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, m->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, m->pass);
        // credentials only over TLS: smtps://, or STARTTLS on smtp://
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fprintf(stderr, "passerelle-web: mail: SMTP send failed: %s\n",
                errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

// ---- one poll

static bool
s_is_new_status(const char *st)
{
    return st && (!strcmp(st, "requested") || !strcmp(st, "received"));
}

// Drops the ids of 'seen' no longer listed (the file stays small).
static void
s_prune(json_t *seen, json_t *listed)
{
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(seen, tmp, k, v)
    {
        if (!json_object_get(listed, k))
            json_object_del(seen, k);
    }
}

// The ids the state file holds (a change in it is saved).
static size_t
s_seen_size(const web_mail_t *m)
{
    return json_object_size(m->seen_new) + json_object_size(m->seen_overdue)
           + json_object_size(m->seen_ho);
}

// Polls once; sends when something waits and the backoff allows. Returns
// the number of referrals and handovers waiting to be notified after this
// pass, -1 when no source answered. A source that did not answer keeps
// its notified ids (nothing is pruned from a list that was not read).
static int
s_poll(web_mail_t *m, int64_t now, int64_t *next_try, int *backoff)
{
    json_t *list = s_list(m, "referrals", json_pack("{s:s}", "direction", "in"),
                          &m->no_refs, "incoming referrals");
    json_t *hos =
        s_list(m, "handovers",
               json_pack("{s:s, s:s}", "direction", "in", "status", "sent"),
               &m->no_ho, "incoming handovers");
    if (!list && !hos)
        return -1;
    json_t *listed = json_object(), *late = json_object(),
           *pend_new = json_object(), *pend_over = json_object(),
           *ho_listed = json_object(), *pend_ho = json_object();
    int cn[S_NPRIO] = {0}, co[S_NPRIO] = {0};
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *id = web_s(e, "id");
        if (!*id)
            continue;
        json_object_set_new(listed, id, json_true());
        int p = s_prio_index(web_s(e, "priority"));
        if (s_is_new_status(web_s(e, "status"))
            && !json_object_get(m->seen_new, id)) {
            json_object_set_new(pend_new, id, json_true());
            cn[p]++;
        }
        bool overdue = json_is_true(json_object_get(e, "overdue"));
        if (overdue)
            json_object_set_new(late, id, json_true());
        if (overdue && !json_object_get(m->seen_overdue, id)) {
            json_object_set_new(pend_over, id, json_true());
            co[p]++;
        }
    }
    json_array_foreach(hos, i, e)
    {
        const char *id = web_s(e, "id");
        if (!*id)
            continue;
        json_object_set_new(ho_listed, id, json_true());
        if (!json_object_get(m->seen_ho, id))
            json_object_set_new(pend_ho, id, json_true());
    }
    int nh = (int) json_object_size(pend_ho);
    int waiting =
        (int) (json_object_size(pend_new) + json_object_size(pend_over)) + nh;
    bool changed = false;
    if (waiting && now >= *next_try) {
        web_buf_t b = {0};
        web_mail_compose(&b, &m->o, cn, co, nh);
        if (!b.oom && s_send(m, b.data) == 0) {
            json_object_update(m->seen_new, pend_new);
            json_object_update(m->seen_overdue, pend_over);
            json_object_update(m->seen_ho, pend_ho);
            fprintf(stderr,
                    "passerelle-web: mail: sent a notification (%zu new, "
                    "%zu overdue, %d handover%s)\n",
                    json_object_size(pend_new), json_object_size(pend_over), nh,
                    nh == 1 ? "" : "s");
            waiting = 0;
            *backoff = 0;
            changed = true;
        } else {
            *backoff = *backoff ? *backoff * 2 : 2;
            if (*backoff > WEB_MAIL_BACKOFF_MAX)
                *backoff = WEB_MAIL_BACKOFF_MAX;
            *next_try = now + *backoff;
            fprintf(stderr,
                    "passerelle-web: mail: %d notification%s waiting, next "
                    "attempt in %d s\n",
                    waiting, waiting > 1 ? "s" : "", *backoff);
        }
        web_buf_free(&b);
    }
    size_t before = s_seen_size(m);
    if (list) {
        s_prune(m->seen_new, listed);
        // a referral no longer overdue (a new step moved its deadline) is
        // notified again when it is late again
        s_prune(m->seen_overdue, late);
    }
    if (hos) // acknowledged (or withdrawn): no longer listed as "sent"
        s_prune(m->seen_ho, ho_listed);
    if (changed || before != s_seen_size(m))
        s_save_state(m);
    json_decref(list);
    json_decref(hos);
    json_decref(listed);
    json_decref(late);
    json_decref(pend_new);
    json_decref(pend_over);
    json_decref(ho_listed);
    json_decref(pend_ho);
    return waiting;
}

static void *
s_thread(void *arg)
{
    web_mail_t *m = arg;
    int64_t next_try = 0;
    int backoff = 0;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        pthread_mutex_unlock(&m->lock);
        s_poll(m, web_now(), &next_try, &backoff);
        pthread_mutex_lock(&m->lock);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += m->o.every_s;
        while (!m->stop
               && pthread_cond_timedwait(&m->cond, &m->lock, &ts) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

// ---- start, stop

// An address for a header: something@something, no CR/LF, no <>, ","
// only as the separator of a list.
static bool
s_addr_ok(const char *s, bool list)
{
    if (!s || !*s || strlen(s) > 900 || strpbrk(s, "\r\n<>\"() ;"))
        return false;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    int n = 0;
    for (char *a = strtok_r(buf, ",", &save); a;
         a = strtok_r(NULL, ",", &save)) {
        char *at = strchr(a, '@');
        if (!at || at == a || !at[1] || strchr(at + 1, '@'))
            return false;
        n++;
    }
    return n > 0 && (list || n == 1) && s[strlen(s) - 1] != ',';
}

int
web_mail_check(const web_mail_opts_t *o, char *err, size_t n)
{
    if (strncmp(o->smtp_url, "smtp://", 7)
        && strncmp(o->smtp_url, "smtps://", 8)) {
        snprintf(err, n,
                 "--smtp-url takes smtp://HOST:PORT or smtps://HOST:PORT");
        return -1;
    }
    if (!s_addr_ok(o->from, false)) {
        snprintf(err, n, "--smtp-from takes one address (name@domain)");
        return -1;
    }
    if (!s_addr_ok(o->to, true)) {
        snprintf(err, n, "--notify-to takes ADDR[,ADDR…] (name@domain)");
        return -1;
    }
    if (!o->public_url
        || (strncmp(o->public_url, "http://", 7)
            && strncmp(o->public_url, "https://", 8))
        || strpbrk(o->public_url, "\r\n \"<>") || strlen(o->public_url) > 512) {
        snprintf(err, n,
                 "--public-url takes http(s)://HOST[:PORT] (the "
                 "address staff open; it goes into the link)");
        return -1;
    }
    if (!o->account || !o->account_pass_file) {
        snprintf(err, n,
                 "email notifications need --notify-account NAME and "
                 "--notify-password-file FILE (a provider account for "
                 "referrals, a case manager's for handovers)");
        return -1;
    }
    return 0;
}

web_mail_t *
web_mail_start(const web_mail_opts_t *o, char *err, size_t n)
{
    if (web_mail_check(o, err, n) != 0)
        return NULL;
    web_mail_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    m->o = *o;
    if (s_read_secret(o->account_pass_file, &m->svc_pass, NULL, err, n) != 0
        || (o->cred_file
            && s_read_secret(o->cred_file, &m->user, &m->pass, err, n) != 0)) {
        s_free_secret(m->svc_pass);
        s_free_secret(m->user);
        s_free_secret(m->pass);
        free(m);
        return NULL;
    }
    s_load_state(m);
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&m->thread, NULL, s_thread, m) != 0) {
        snprintf(err, n, "cannot start the mail thread");
        web_mail_stop(m);
        return NULL;
    }
    m->started = true;
    fprintf(stderr,
            "passerelle-web: mail: notifications on (every %u s, as the "
            "account %s)\n",
            o->every_s, o->account);
    return m;
}

void
web_mail_stop(web_mail_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    bool running = m->started;
    m->stop = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    if (running)
        pthread_join(m->thread, NULL);
    if (m->token[0]) {
        json_t *res = NULL;
        char e[128], code[32];
        if (cli_control_session(CLI_PEER_NODE, m->o.home, NULL,
                                "session.logout", NULL, NULL, m->token,
                                CLI_CONTROL_TIMEOUT_MS, &res, e, sizeof e, code,
                                sizeof code)
            == CLI_CONTROL_OK)
            json_decref(res);
    }
    pl_wipe(m->token, sizeof m->token);
    s_free_secret(m->svc_pass);
    s_free_secret(m->user);
    s_free_secret(m->pass);
    json_decref(m->seen_new);
    json_decref(m->seen_overdue);
    json_decref(m->seen_ho);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
