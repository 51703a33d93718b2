// test_web_unit - passerelle-web's small pieces (issue 14): the one HTML
// escaping function, the bounded form parser, the constant-time compare,
// the session table (new, get, drop, idle expiry), the login rate limit
// and the status badge of an undelivered referral; the casework forms'
// fields to the daemon's commands (issue 20).
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"
#include "proto/pl_crypto.h"

static void
test_escape(void **state)
{
    (void) state;
    web_buf_t b = {0};
    web_buf_esc(&b, "<script>alert('x')</script> & \"q\"");
    assert_string_equal(b.data,
                        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
                        "&amp; &quot;q&quot;");
    web_buf_free(&b);
    web_buf_esc(&b, NULL);
    web_buf_esc(&b, "plain été");
    assert_string_equal(b.data, "plain été");
    web_buf_free(&b);
    // a long value crosses the buffer's first growth
    char big[10000];
    memset(big, '<', sizeof big - 1);
    big[sizeof big - 1] = 0;
    web_buf_esc(&b, big);
    assert_int_equal(b.len, 4 * (sizeof big - 1));
    assert_false(b.oom);
    web_buf_free(&b);
    web_buf_addf(&b, "%s-%d", "n", 42);
    assert_string_equal(b.data, "n-42");
    web_buf_free(&b);
}

static void
test_form(void **state)
{
    (void) state;
    web_form_t f;
    const char *body = "a=1&b=h%C3%A9+ll%26o&c=&d&sectors=health&sectors="
                       "housing&&e=%3Cx%3E";
    assert_int_equal(web_form_parse(&f, body, strlen(body)), 0);
    assert_string_equal(web_form_get(&f, "a"), "1");
    assert_string_equal(web_form_get(&f, "b"), "hé ll&o");
    assert_string_equal(web_form_get(&f, "c"), "");
    assert_string_equal(web_form_get(&f, "d"), "");
    assert_string_equal(web_form_get(&f, "e"), "<x>");
    assert_null(web_form_get(&f, "z"));
    char joined[64];
    web_form_join(&f, "sectors", joined, sizeof joined);
    assert_string_equal(joined, "health,housing");
    web_form_join(&f, "none", joined, sizeof joined);
    assert_string_equal(joined, "");
    web_form_free(&f);

    // bad escapes, a NUL byte, too many fields: refused
    static const char *const bad[] = {"a=%4", "a=%zz", "a=%00", "a=%", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(web_form_parse(&f, bad[i], strlen(bad[i])), -1);
    char many[WEB_FORM_FIELDS * 4 + 8] = "";
    for (int i = 0; i <= WEB_FORM_FIELDS; i++)
        strcat(many, "x=1&");
    assert_int_equal(web_form_parse(&f, many, strlen(many)), -1);
    // a body that is not NUL-terminated: only 'len' bytes are read
    assert_int_equal(web_form_parse(&f, "k=v-rest", 3), 0);
    assert_string_equal(web_form_get(&f, "k"), "v");
    web_form_free(&f);
}

static void
test_same(void **state)
{
    (void) state;
    assert_true(web_same("abc", "abc"));
    assert_false(web_same("abc", "abd"));
    assert_false(web_same("abc", "abcd"));
    assert_false(web_same("", ""));
    char h1[WEB_TOKEN_HEX + 1], h2[WEB_TOKEN_HEX + 1];
    web_random_hex(h1, WEB_TOKEN_HEX / 2);
    web_random_hex(h2, WEB_TOKEN_HEX / 2);
    assert_int_equal(strlen(h1), WEB_TOKEN_HEX);
    assert_false(web_same(h1, h2));
}

static web_ctx_t s_w;

static void
test_sessions(void **state)
{
    (void) state;
    web_ctx_t *w = &s_w;
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    w->idle_s = 900;
    web_session_t a, b, got;
    assert_int_equal(
        web_sess_new(w, "tok-a", "amina", "case-manager", "fr", &a), 0);
    assert_int_equal(web_sess_new(w, "tok-b", "fatou", "provider", "en", &b),
                     0);
    assert_string_not_equal(a.id, b.id);
    assert_string_not_equal(a.csrf, a.id);
    assert_true(web_sess_get(w, a.id, &got));
    assert_string_equal(got.token, "tok-a");
    assert_string_equal(got.lang, "fr");
    assert_false(web_sess_get(w, "nope", &got));
    char wrong[WEB_TOKEN_HEX + 1];
    memcpy(wrong, a.id, sizeof wrong);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    assert_false(web_sess_get(w, wrong, &got));
    // logout: the cookie is useless afterwards
    web_sess_drop(w, a.id);
    assert_false(web_sess_get(w, a.id, &got));
    assert_true(web_sess_get(w, b.id, &got));
    // idle past the bound: gone
    for (size_t i = 0; i < WEB_SESSIONS_MAX; i++)
        if (w->sess[i].used)
            w->sess[i].last -= 901;
    assert_false(web_sess_get(w, b.id, &got));
    // a full table refuses, and frees idle slots for new logins
    for (int i = 0; i < WEB_SESSIONS_MAX; i++)
        assert_int_equal(web_sess_new(w, "t", "n", "provider", "en", &got), 0);
    assert_int_equal(web_sess_new(w, "t", "n", "provider", "en", &got), -1);
    for (size_t i = 0; i < WEB_SESSIONS_MAX; i++)
        w->sess[i].last -= 901;
    assert_int_equal(web_sess_new(w, "t", "n", "provider", "en", &got), 0);
}

static void
test_rate(void **state)
{
    (void) state;
    web_ctx_t *w = &s_w;
    memset(w->rate, 0, sizeof w->rate);
    for (int i = 0; i < WEB_RATE_MAX; i++) {
        assert_true(web_rate_ok(w, "127.0.0.1"));
        web_rate_fail(w, "127.0.0.1");
    }
    assert_false(web_rate_ok(w, "127.0.0.1"));
    assert_true(web_rate_ok(w, "127.0.0.2")); // per address
    // the window passes: allowed again
    for (size_t i = 0; i < WEB_RATE_IPS; i++)
        w->rate[i].start -= WEB_RATE_WINDOW;
    assert_true(web_rate_ok(w, "127.0.0.1"));
}

static void
test_i18n(void **state)
{
    (void) state;
    assert_string_equal(web_t("en", "login"), "Log in");
    assert_string_equal(web_t("fr", "login"), "Se connecter");
    assert_string_equal(web_t(NULL, "login"), "Log in");
    assert_string_equal(web_t("fr", "no-such-key"), "no-such-key");
    // a key held twice would show its first text only ("family": the
    // name's label, not the assessment type)
    assert_null(web_i18n_duplicate());
    assert_string_equal(web_t("en", "family"), "Family name");
    assert_string_equal(web_t_ns("fr", "cw-type", "family"), "famille");
    assert_string_equal(web_t_ns("en", "cw-type", "risk"), "risk");
    assert_string_equal(web_t("en", "services"), "Services");
}

// A referral whose envelope will never arrive says so beside its status,
// in the reader's language, its code escaped.
static void
test_badge_undelivered(void **state)
{
    (void) state;
    web_req_t r = {0};
    r.lang = "fr";
    json_t *ref = json_pack("{s:s, s:s, s:s}", "status", "requested",
                            "delivery", "refused-by-broker", "delivery_reason",
                            "<unknown_recipient>");
    web_status_badge(&r, ref);
    assert_non_null(strstr(r.body.data, "jamais remise"));
    assert_non_null(strstr(r.body.data, "refusée par le broker"));
    assert_non_null(strstr(r.body.data, "&lt;unknown_recipient&gt;"));
    web_buf_free(&r.body);
    json_object_del(ref, "delivery");
    web_status_badge(&r, ref);
    assert_null(strstr(r.body.data, "jamais remise"));
    web_buf_free(&r.body);
    json_decref(ref);
}

// The casework forms' fields as the daemon's commands (issue 20): the
// personal text in args "record" only, numbers as numbers, checkboxes as
// lists, empty fields and unused plan rows left out; a number field that
// holds text and an unknown form are refused.
static void
s_map(const char *body, const char *cmd, const char *args)
{
    web_form_t f;
    const char *c = NULL, *why = "x";
    json_t *a = NULL;
    assert_int_equal(web_form_parse(&f, body, strlen(body)), 0);
    assert_int_equal(web_cw_map(&f, "c0ffee", &c, &a, &why), 0);
    assert_null(why);
    assert_string_equal(c, cmd);
    char *got = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(got, args);
    free(got);
    json_decref(a);
    web_form_free(&f);
}

static void
s_map_bad(const char *body, const char *why_want)
{
    web_form_t f;
    const char *c = NULL, *why = NULL;
    json_t *a = NULL;
    assert_int_equal(web_form_parse(&f, body, strlen(body)), 0);
    assert_int_equal(web_cw_map(&f, "c0ffee", &c, &a, &why), -1);
    assert_null(a);
    assert_string_equal(why, why_want);
    web_form_free(&f);
}

static void
test_cw_map(void **state)
{
    (void) state;
    s_map("csrf=x&do=assess&type=risk&date=2026-11-02&level=high&flags="
          "trafficking&flags=abuse&notes=N%C3%B4te+%3Cb%3E&outcome=&"
          "protection_referral=",
          "assess.add",
          "{\"case\":\"c0ffee\",\"date\":\"2026-11-02\",\"record\":{"
          "\"flags\":[\"trafficking\",\"abuse\"],\"level\":\"high\","
          "\"notes\":\"Nôte <b>\"},\"type\":\"risk\"}");
    s_map("do=plan&goal_economic=Shop&goal_social=&own_goals=Mine&"
          "i0_dimension=economic&i0_kind=direct&i0_assistance=cash&"
          "i0_amount=15000&i0_currency=XOF&i0_status=planned&i0_referral=&"
          "i1_dimension=&i1_kind=direct&i1_amount=&i2_dimension="
          "psychosocial&i2_kind=referral&i2_referral=abcd&i2_status=planned",
          "plan.set",
          "{\"case\":\"c0ffee\",\"record\":{\"goals\":{\"economic\":\"Shop\"},"
          "\"items\":[{\"amount\":15000,\"assistance\":\"cash\",\"currency\":"
          "\"XOF\",\"dimension\":\"economic\",\"kind\":\"direct\",\"status\":"
          "\"planned\"},{\"dimension\":\"psychosocial\",\"kind\":\"referral\","
          "\"referral\":\"abcd\",\"status\":\"planned\"}],\"own_goals\":"
          "\"Mine\"}}");
    s_map("do=schedule&return_date=2026-09-23&months=1%2C3",
          "followup.schedule",
          "{\"case\":\"c0ffee\",\"months\":\"1,3\",\"return_date\":"
          "\"2026-09-23\"}");
    s_map("do=followup&mode=phone&contact_made=yes&satisfaction=4&"
          "services_received=tvet&new_needs=housing&new_needs=health&notes=ok",
          "followup.add",
          "{\"case\":\"c0ffee\",\"record\":{\"contact_made\":true,\"mode\":"
          "\"phone\",\"new_needs\":[\"housing\",\"health\"],\"notes\":\"ok\","
          "\"safeguarding_concern\":false,\"satisfaction\":4,"
          "\"services_received\":[\"tvet\"]}}");
    s_map("do=followup&mode=office&contact_made=no&satisfaction=&"
          "safeguarding_concern=yes",
          "followup.add",
          "{\"case\":\"c0ffee\",\"record\":{\"contact_made\":false,\"mode\":"
          "\"office\",\"safeguarding_concern\":true}}");
    s_map("do=rss&timepoint=baseline&respondent=self&mode=in_person&a_E1=4&"
          "a_E3=yes&a_P5=refused&a_S1=&a_=3",
          "rss.add",
          "{\"case\":\"c0ffee\",\"record\":{\"answers\":{\"E1\":4,\"E3\":"
          "\"yes\",\"P5\":\"refused\"},\"mode\":\"in_person\",\"respondent\":"
          "\"self\"},\"timepoint\":\"baseline\"}");
    s_map("do=rss-skip&reason=lost-contact", "rss.skip",
          "{\"case\":\"c0ffee\",\"reason\":\"lost-contact\"}");
    s_map("do=close&reason=plan-completed", "case.close",
          "{\"id\":\"c0ffee\",\"reason\":\"plan-completed\"}");
    s_map_bad("do=plan&i0_dimension=economic&i0_amount=150.00",
              "cw-bad-number");
    s_map_bad("do=followup&mode=phone&satisfaction=four", "cw-bad-number");
    s_map_bad("do=nothing", "bad-form");
    s_map_bad("notes=x", "bad-form");
}

int
main(void)
{
    if (pl_crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_same),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_i18n),
        cmocka_unit_test(test_badge_undelivered),
        cmocka_unit_test(test_cw_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
