#!/usr/bin/env python3
"""api_check.py - the HTTP side of test_web_api.sh (issue 16): every
/api/v1/ route of passerelle-web against a real agency and clinic node,
with valid, revoked, expired and wrong-role API tokens, Idempotency-Key
replays, malformed JSON, the rate limit, the session cookie, and the
OpenAPI document against the route table, both ways.

Input (environment): AU, CU (web URLs of agency and clinic), T (the test
folder: tokens.json, routes.txt), CTLRAW_AGENCY (a command that moves the
agency daemon's clock by 2 days). Prints one line per group; exits 1 on
the first failure."""
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

T = os.environ["T"]
TOK = json.load(open(os.path.join(T, "tokens.json")))
AU, CU = os.environ["AU"], os.environ["CU"]
CHECKS = 0


def fail(msg):
    print("test_web_api: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    global CHECKS
    if not cond:
        fail(msg)
    CHECKS += 1


def req(base, method, path, tok=None, body=None, headers=None, raw=None):
    """One request; returns (status, headers, parsed JSON or text)."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    h = dict(headers or {})
    if tok:
        h["Authorization"] = "Bearer " + tok
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read().decode()
    hd = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = text
    return r.status, hd, doc


def problem(st, hd, doc, want, what):
    check(st == want, "%s: status %s, wanted %s (%s)" % (what, st, want, doc))
    check(hd.get("content-type", "").startswith("application/problem+json"),
          "%s: not problem+json: %s" % (what, hd.get("content-type")))
    check(isinstance(doc, dict) and doc.get("status") == want
          and doc.get("title") and doc.get("detail") and "type" in doc,
          "%s: not an RFC 7807 problem: %s" % (what, doc))


def good(st, doc, what):
    check(st == 200, "%s: status %s: %s" % (what, st, doc))
    return doc


# ---- the route table, as the binary prints it
ROUTES = []
for line in open(os.path.join(T, "routes.txt")):
    m, tmpl, roles = line.split()
    if tmpl.startswith("/api/v1/"):
        ROUTES.append((m, tmpl, roles.split(",")))
check(len(ROUTES) >= 24, "only %d API routes listed" % len(ROUTES))


def openapi_diff(routes, doc):
    """The differences between the route list and the document."""
    have = {(m.lower(), re.sub(r":([a-z_]+)", r"{\1}", t)) for m, t, _ in routes}
    documented = set()
    errs = []
    for p, ops in doc.get("paths", {}).items():
        for m, o in ops.items():
            if m in ("get", "post", "put", "patch", "delete"):
                documented.add((m, p))
                if not o.get("responses"):
                    errs.append("%s %s has no responses" % (m, p))
    errs += ["route %s %s is not in the document" % x for x in sorted(have - documented)]
    errs += ["documented %s %s is no route" % x for x in sorted(documented - have)]
    return errs


# ---- valid tokens: the referral loop through the API
ehr, lab = TOK["ehr"], TOK["lab"]
st, hd, who = req(AU, "GET", "/api/v1/whoami", ehr)
good(st, who, "whoami")
check(who.get("address") == "sn/agency", "whoami: %s" % who)
st, hd, d = req(AU, "GET", "/api/v1/directory?sector=health", ehr)
check(st == 200 and "sn/clinic" in json.dumps(d), "directory: %s %s" % (st, d))
good(*req(AU, "GET", "/api/v1/network", TOK["coord"])[::2], what="network")
person = {"given": "Zephyrine", "family": "Quarkbottom", "birth": "1990-04-04"}
st, hd, c1 = req(AU, "POST", "/api/v1/cases", ehr, person,
                 {"Idempotency-Key": "case-1"})
good(st, c1, "case add")
st2, hd2, c1b = req(AU, "POST", "/api/v1/cases", ehr, person,
                    {"Idempotency-Key": "case-1"})
check(st2 == 200 and c1b == c1, "case add replayed: %s %s" % (c1, c1b))
st, hd, lst = req(AU, "GET", "/api/v1/cases", ehr)
check(st == 200 and len(lst) == 1, "a replayed case add acted twice: %s" % lst)
CASE = c1["id"]
st, hd, f = req(AU, "POST", "/api/v1/cases/search", ehr, {"search": "Quarkbottom"})
check(st == 200 and len(f) == 1, "case search: %s" % f)
st, hd, sh = req(AU, "GET", "/api/v1/cases/" + CASE, ehr)
check(st == 200 and "Zephyrine" in json.dumps(sh), "case show: %s" % sh)
consent = {"sectors": "health", "given_by": "returnee", "expires": "2031-01-01"}
good(*req(AU, "POST", "/api/v1/cases/%s/consent" % CASE, ehr, consent)[::2],
     what="consent add")
refer = {"to": "sn/clinic", "service": "dental", "priority": "urgent"}
st, hd, r1 = req(AU, "POST", "/api/v1/cases/%s/refer" % CASE, ehr, refer,
                 {"Idempotency-Key": "refer-1"})
good(st, r1, "refer")
st, hd, r1b = req(AU, "POST", "/api/v1/cases/%s/refer" % CASE, ehr, refer,
                  {"Idempotency-Key": "refer-1"})
check(st == 200 and r1b == r1, "refer replayed: %s / %s" % (r1, r1b))
st, hd, out = req(AU, "GET", "/api/v1/referrals?direction=out", ehr)
check(st == 200 and len(out) == 1, "a replayed refer acted twice: %s" % out)
REF = out[0]["id"]
# two more for reject and cancel
good(*req(AU, "POST", "/api/v1/cases/%s/refer" % CASE, ehr, refer)[::2], what="refer 2")
good(*req(AU, "POST", "/api/v1/cases/%s/refer" % CASE, ehr, refer)[::2], what="refer 3")
inc = []
for _ in range(150):  # bounded: 15 s
    st, hd, inc = req(CU, "GET", "/api/v1/referrals?direction=in", lab)
    if st == 200 and len(inc) == 3:
        break
    time.sleep(0.1)
check(len(inc) == 3, "the clinic did not receive 3 referrals: %s" % inc)
ids = sorted(x["id"] for x in inc if x["id"] != REF)
R2, R3 = ids
st, hd, a1 = req(CU, "POST", "/api/v1/referrals/%s/accept" % REF, lab, {},
                 {"Idempotency-Key": "acc-1"})
good(st, a1, "accept")
st, hd, a1b = req(CU, "POST", "/api/v1/referrals/%s/accept" % REF, lab, {},
                  {"Idempotency-Key": "acc-1"})
check(st == 200 and a1b == a1, "accept replayed: %s / %s" % (a1, a1b))
for ev, body in [("start", {}), ("hold", {"reason": "waiting-results"}),
                 ("resume", {}), ("complete", {"outcome": "successful"})]:
    good(*req(CU, "POST", "/api/v1/referrals/%s/%s" % (REF, ev), lab, body)[::2],
         what=ev)
good(*req(CU, "POST", "/api/v1/referrals/%s/reject" % R2, lab,
          {"reason": "no-capacity"})[::2], what="reject")
good(*req(AU, "POST", "/api/v1/referrals/%s/cancel" % R3, ehr,
          {"reason": "duplicate"})[::2], what="cancel")
st, hd, rs = req(CU, "GET", "/api/v1/referrals/" + REF, lab)
hist = json.dumps(rs)
check(st == 200 and hist.count('"accepted"') == 1,
      "a replayed accept acted twice, or show failed: %s" % hist)
check("api:lab" in hist, "the clinic's actions are not recorded as api:lab: %s" % hist)
st, hd, rs = req(AU, "GET", "/api/v1/referrals/" + REF, ehr)
check(st == 200 and "api:ehr" in json.dumps(rs),
      "the agency's referral is not recorded as api:ehr: %s" % rs)
good(*req(AU, "GET", "/api/v1/notifications", ehr)[::2], what="notifications")
good(*req(AU, "POST", "/api/v1/cases/%s/bia" % CASE, ehr,
          {"ref": "BIA-7", "date": "2026-01-02"})[::2], what="bia")
good(*req(AU, "POST", "/api/v1/cases/%s/consent/withdraw" % CASE, ehr, {})[::2],
     what="consent withdraw")
for _ in range(150):  # bounded: the agency learns the clinic's answers
    st, hd, out = req(AU, "GET", "/api/v1/referrals?direction=out", ehr)
    if all(x.get("status") in ("completed", "rejected", "cancelled") for x in out):
        break
    time.sleep(0.1)
check(all(x.get("status") in ("completed", "rejected", "cancelled") for x in out),
      "the agency's referrals did not close: %s" % out)
good(*req(AU, "POST", "/api/v1/cases/%s/close" % CASE, ehr,
          {"reason": "services-delivered"})[::2], what="case close")
st, hd, c2 = req(AU, "POST", "/api/v1/cases", ehr, {"given": "Erasable", "family": "Person", "birth": "1985-01-01"})
good(st, c2, "case add 2")
good(*req(AU, "POST", "/api/v1/cases/%s/erase" % c2["id"], ehr, {})[::2], what="erase")
# ---- a supervisor keeps the agency's catalogue (issue 18's services)
sup = TOK["sup"]
svc = {"new": True, "entry": {"code": "intake-desk", "sector": "legal",
                              "name_en": "Intake desk", "languages": ["fr"]}}
st, hd, a = req(AU, "POST", "/api/v1/services", sup, svc)
good(st, a, "service add")
check(a.get("entry", {}).get("code") == "intake-desk", "service add: %s" % a)
st, hd, doc = req(AU, "POST", "/api/v1/services", sup, svc)
problem(st, hd, doc, 409, "a second service of the same code with new")
st, hd, doc = req(AU, "POST", "/api/v1/services", sup,
                  {"entry": {"code": "Bad Code", "sector": "legal", "name_en": "X"}})
problem(st, hd, doc, 400, "a service with a bad code")
st, hd, lst = req(AU, "GET", "/api/v1/services?code=intake-desk", ehr)
check(st == 200 and len(lst) == 1 and lst[0].get("own") is True,
      "the case manager does not see the new service: %s" % lst)
good(*req(AU, "POST", "/api/v1/services/intake-desk/remove", sup, {})[::2],
     what="service remove")
st, hd, doc = req(AU, "POST", "/api/v1/services/intake-desk/remove", sup, {})
problem(st, hd, doc, 404, "removing a service twice")
st, hd, lst = req(AU, "GET", "/api/v1/services?code=intake-desk", ehr)
check(st == 200 and lst == [], "the removed service is still listed: %s" % lst)
print("test_web_api: valid tokens, every route, replays act once: ok")

# ---- bad bodies leave every store intact
st, hd, before = req(AU, "GET", "/api/v1/cases", ehr)
st, hd, doc = req(AU, "POST", "/api/v1/cases", ehr,
                  raw=b'{"given": "Half", "family": ', headers={"Content-Type": "application/json"})
problem(st, hd, doc, 400, "malformed JSON")
check("malformed JSON" in doc["detail"], "malformed JSON: %s" % doc)
st, hd, doc = req(AU, "POST", "/api/v1/cases", ehr, raw=b"[1, 2]",
                  headers={"Content-Type": "application/json"})
problem(st, hd, doc, 400, "a JSON array body")
st, hd, doc = req(AU, "POST", "/api/v1/cases", ehr, raw=b"given=x",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
problem(st, hd, doc, 415, "a form body")
st, hd, doc = req(AU, "POST", "/api/v1/cases", ehr, {"given": "", "family": ""})
problem(st, hd, doc, 400, "a case without names")
st, hd, doc = req(AU, "GET", "/api/v1/cases/0123456789abcdef0123456789abcdef", ehr)
problem(st, hd, doc, 404, "an unknown case")
st, hd, doc = req(AU, "GET", "/api/v1/nothing-here", ehr)
problem(st, hd, doc, 404, "an unknown route")
st, hd, doc = req(AU, "POST", "/api/v1/whoami", ehr, {})
problem(st, hd, doc, 405, "a wrong method")
st, hd, doc = req(AU, "POST", "/api/v1/cases", ehr, person,
                  {"Idempotency-Key": "x" * 129})
problem(st, hd, doc, 400, "an oversized Idempotency-Key")
st, hd, after = req(AU, "GET", "/api/v1/cases", ehr)
check(after == before, "a refused request changed the cases")
print("test_web_api: malformed JSON, wrong types, unknown ids: ok")

# ---- credentials: none, malformed, revoked, wrong role
st, hd, doc = req(AU, "GET", "/api/v1/cases")
problem(st, hd, doc, 401, "no credential")
check(hd.get("www-authenticate", "").startswith("Bearer"), "no WWW-Authenticate")
st, hd, doc = req(AU, "GET", "/api/v1/cases", headers={"Authorization": "Bearer abc"})
problem(st, hd, doc, 401, "a malformed token")
st, hd, doc = req(AU, "GET", "/api/v1/cases", "ab" * 32)
problem(st, hd, doc, 401, "an unknown token")
BY_ROLE = {"case-manager": TOK["ehr"], "provider": TOK["desk"],
           "supervisor": TOK["sup"], "coordinator": TOK["coord"]}


def path_of(tmpl):
    return re.sub(r"/:id", "/" + (REF if "/referrals/" in tmpl else CASE), tmpl)


n_wrong = 0
for m, tmpl, roles in ROUTES:
    p = path_of(tmpl)
    body = {} if m == "POST" else None
    st, hd, doc = req(AU, m, p, TOK["gone"], body)
    problem(st, hd, doc, 401, "revoked token on %s %s" % (m, tmpl))
    check("revoked" in doc["detail"], "revoked on %s: %s" % (tmpl, doc))
    other = [r for r in BY_ROLE if r not in roles]
    if not other or len(roles) >= 4:
        continue  # every role may
    st, hd, doc = req(AU, m, p, BY_ROLE[other[0]], body)
    problem(st, hd, doc, 403, "role %s on %s %s" % (other[0], m, tmpl))
    n_wrong += 1
check(n_wrong >= 20, "only %d routes checked with a wrong role" % n_wrong)
st, hd, doc = req(AU, "GET", "/api/v1/cases", TOK["old"])
check(st == 200, "the token that expires tomorrow works today: %s" % doc)
print("test_web_api: revoked token on %d routes, wrong role on %d: ok"
      % (len(ROUTES), n_wrong))

# ---- the session cookie
jar = os.environ["SESSION_COOKIE"]
ck = {"Cookie": jar}
st, hd, doc = req(AU, "GET", "/api/v1/cases", headers=ck)
check(st == 200 and isinstance(doc, list), "cases with the cookie: %s %s" % (st, doc))
st, hd, doc = req(AU, "POST", "/api/v1/cases", body=person, headers=dict(ck))
problem(st, hd, doc, 403, "a cookie POST without X-CSRF-Token")
h = dict(ck, **{"X-CSRF-Token": os.environ["SESSION_CSRF"]})
st, hd, doc = req(AU, "POST", "/api/v1/cases", body={"given": "Via", "family": "Cookie", "birth": "1988-02-02"}, headers=h)
check(st == 200 and "id" in doc, "a cookie POST with X-CSRF-Token: %s %s" % (st, doc))
st, hd, doc = req(AU, "GET", "/api/v1/network", headers=ck)
problem(st, hd, doc, 403, "a case manager's session on network")
print("test_web_api: session cookie (CSRF header, role): ok")

# ---- the OpenAPI document against the route table, both ways
st, hd, doc = req(AU, "GET", "/api/v1/openapi.json", ehr)
check(st == 200 and doc.get("openapi", "").startswith("3."), "openapi.json: %s" % st)
check("bearer" in doc["components"]["securitySchemes"], "no bearer scheme")
check("Problem" in doc["components"]["schemas"], "no Problem schema")
errs = openapi_diff(ROUTES, doc)
check(not errs, "OpenAPI vs routes: " + "; ".join(errs))
# the check itself must be able to fail, both ways
check(openapi_diff(ROUTES + [("GET", "/api/v1/ghost", ["admin"])], doc),
      "the check missed an undocumented route")
check(openapi_diff(ROUTES[1:], doc), "the check missed a documented route that is gone")
st, hd, doc2 = req(AU, "GET", "/api/v1/openapi.json", TOK["gone"])
problem(st, hd, doc2, 401, "openapi.json with a revoked token")
print("test_web_api: OpenAPI document = %d routes: ok" % len(ROUTES))

# ---- the rate limit of one token (the others are not touched)
burst = TOK["burst"]
limit = int(os.environ["API_RATE"])
codes = [req(AU, "GET", "/api/v1/whoami", burst)[0] for _ in range(limit)]
check(codes == [200] * limit, "under the limit: %s" % set(codes))
st, hd, doc = req(AU, "GET", "/api/v1/whoami", burst)
problem(st, hd, doc, 429, "over the rate limit")
check(int(hd.get("retry-after", "0")) > 0, "no Retry-After")
check(req(AU, "GET", "/api/v1/whoami", ehr)[0] == 200, "another token was limited")
print("test_web_api: rate limit %d a minute per token: ok" % limit)

# ---- an expired token (the daemon's clock moved 2 days)
subprocess.run(os.environ["CTLRAW_AGENCY"], shell=True, check=True,
               stdout=subprocess.DEVNULL)
for m, tmpl, roles in ROUTES:
    st, hd, doc = req(AU, m, path_of(tmpl), TOK["old"], {} if m == "POST" else None)
    problem(st, hd, doc, 401, "expired token on %s %s" % (m, tmpl))
    check("expired" in doc["detail"], "expired on %s: %s" % (tmpl, doc))
check(req(AU, "GET", "/api/v1/whoami", ehr)[0] == 200, "a token without expiry expired")
print("test_web_api: expired token on %d routes: ok" % len(ROUTES))
print("test_web_api: %d HTTP checks" % CHECKS)
