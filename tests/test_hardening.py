"""What an outside audit found (issue 17), one test per finding: unknown publishers on every
page, security headers, safe redirects, server-side sessions and login throttling, escaping
once per output format, accessibility basics, the API contract, and owned saved searches."""

from __future__ import annotations

import csv
import io
import re
import time
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import make_runtime
from tests.test_admin import app_for

ATOM = "{http://www.w3.org/2005/Atom}"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def small_rt(tmp_path_factory):
    """Three documents: one from a registered institute, two whose publisher is unknown
    (미상), one of them with an apostrophe and quotes in its text."""
    root = tmp_path_factory.mktemp("small")
    docs = root / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(
        "도시 재생과 스마트시티 협의체 운영 방안\n\n도시 재생 사업의 '콤팩트 거점' 전략과 "
        '"생활권" 계획을 다룬다. 도시 교통과 주거를 함께 본다.\n',
        encoding="utf-8",
    )
    (docs / "b.txt").write_text(
        "지방 도시의 인구 감소 대응\n\n지방 도시의 인구 감소와 도시 공간 재편을 분석한다.\n",
        encoding="utf-8",
    )
    (docs / "c.txt").write_text(
        "경기도 도시 교통 정책\n\n경기도의 도시 교통 정책 방향을 제시한다.\n", encoding="utf-8"
    )
    (docs / "manifest.csv").write_text(
        "file,title,institute,doc_type,date,url\n"
        "a.txt,도시 재생과 스마트시티 협의체,,연구보고서,2021-05-01,\n"
        "b.txt,지방 도시의 인구 감소 대응,,연구보고서,2020-03-02,\n"
        "c.txt,경기도 도시 교통 정책,경기연구원,보도자료,2022-07-03,\n",
        encoding="utf-8",
    )
    rt = make_runtime(root / "data", public_url="https://kb.example.org/policykb")
    report = rt.ingester().run([docs])
    assert report.failed == 0, report.failures
    rt.accounts.create_user("admin", PASSWORD)
    return rt


@pytest.fixture()
def small_client(small_rt):
    return app_for(small_rt).test_client()


def csrf_of(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, password=PASSWORD, next_url: str = "", username: str = "admin"):
    token = csrf_of(client, "/admin/login")
    return client.post(
        "/admin/login" + next_url,
        data={"username": username, "password": password, "csrf_token": token},
    )


# ------------------------------------------------------------- 1. unknown publishers
def test_unknown_publisher_is_a_normal_value_everywhere(small_client):
    search = small_client.get("/api/search?q=도시").get_json()
    institutes = {f["value"]: f["count"] for f in search["facets"]["institute"]}
    assert institutes.get("미상") == 2
    for path in ("/analysis?q=도시", "/api/analysis?q=도시", "/analysis?q=도시&group_by=region"):
        assert small_client.get(path).status_code == 200, path
    # The 미상 facet link on the search page works and filters to those documents.
    html = small_client.get("/search?q=도시").get_data(as_text=True)
    link = re.search(r'href="(/search\?[^"]*institute=%EB%AF%B8%EC%83%81[^"]*)"', html)
    assert link, "no 미상 facet link"
    page = small_client.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200
    only = small_client.get("/api/search?q=도시&institute=미상").get_json()
    assert only["total"] == 2 and {h["institute"] for h in only["hits"]} == {"미상"}
    assert small_client.get("/api/search?q=기관:미상").get_json()["total"] == 2
    assert small_client.get("/api/analysis?institute=미상").status_code == 200
    # A name that is neither registered nor in the data is still a clear 400.
    bad = small_client.get("/api/search?institute=없는기관")
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "institute"


# ------------------------------------------------------------------ 2. security headers
def test_security_headers_on_every_response(small_rt):
    app = app_for(small_rt)
    client = app.test_client()
    login(client)
    paths = ["/", "/search?q=도시", "/nope", "/api/search?q=도시", "/api/nope", "/feed.atom"]
    paths += ["/static/style.css", "/admin/", "/admin/login", "/api/openapi.json"]
    for path in paths:
        r = client.get(path)
        h = r.headers
        csp = h.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert h.get("X-Content-Type-Options") == "nosniff", path
        assert h.get("X-Frame-Options") == "DENY", path
        assert h.get("Referrer-Policy"), path
        if path.startswith("/admin"):
            assert "no-store" in h.get("Cache-Control", ""), path
    # A 405 and a 429 carry them too.
    assert client.post("/search").headers.get("X-Content-Type-Options") == "nosniff"


def test_server_header_has_no_versions(small_rt):
    import threading
    import urllib.request

    from search_app.serving import make_server

    server = make_server("127.0.0.1", 0, app_for(small_rt))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz") as r:
            value = r.headers.get("Server", "")
    finally:
        server.shutdown()
    assert value == "policykb", value
    assert not re.search(r"\d", value) and "Werkzeug" not in value and "Python" not in value


# ------------------------------------------------------------------- 3. safe redirects
@pytest.mark.parametrize(
    "target",
    [
        "/admin/%0d%0aSet-Cookie:%20x=1",
        "/admin/%0aX:1",
        "//evil.example/admin",
        "/admin\\..\\x",
        "https://evil.example/admin",
        "/adminx",
    ],
)
def test_login_next_never_breaks_or_leaves_admin(small_rt, target):
    client = app_for(small_rt).test_client()
    r = login(client, next_url="?next=" + target)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert "\r" not in location and "\n" not in location
    assert location in ("/admin/", "http://localhost/admin/"), location
    assert "x=1" not in r.headers.get("Set-Cookie", "")


def test_login_next_keeps_a_good_admin_target(small_rt):
    r = login(app_for(small_rt).test_client(), next_url="?next=/admin/audit")
    assert r.headers["Location"].endswith("/admin/audit")


# -------------------------------------------------------- 4. sessions end, throttling
def test_logout_ends_the_session_server_side(small_rt):
    app = app_for(small_rt)
    client = app.test_client()
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200
    copied = client.get_cookie("session").value
    client.post("/admin/logout", data={"csrf_token": csrf_of(client, "/admin/")})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    r = thief.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]


def test_sessions_expire_idle_and_absolute(tmp_path):
    rt = make_runtime(tmp_path / "data", session_idle_minutes=30, session_max_hours=12)
    rt.accounts.create_user("admin", PASSWORD)
    sid = rt.accounts.start_session("admin")
    now = time.time()
    assert rt.accounts.session_user(sid, now=now + 60) == "admin"
    assert rt.accounts.session_user(sid, now=now + 60 + 31 * 60) is None  # idle
    sid = rt.accounts.start_session("admin")
    t = time.time()
    for minutes in range(20, 12 * 60, 20):  # active all day, never idle
        assert rt.accounts.session_user(sid, now=t + minutes * 60) == "admin", minutes
    assert rt.accounts.session_user(sid, now=t + 12 * 3600 + 60) is None  # absolute


def test_login_is_throttled_per_account_and_per_client(small_rt):
    app = app_for(small_rt)
    statuses = []
    for i in range(15):
        client = app.test_client()
        r = login(client, password=f"wrong-password-{i}")
        statuses.append(r.status_code)
    assert 429 in statuses, statuses
    assert statuses[:5] == [401] * 5
    throttled = statuses.index(429)
    r = login(app.test_client())  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "잠시 후" in r.get_data(as_text=True)
    # Per client: one address trying many accounts is throttled as well.
    small_rt.accounts.clear_login_failures()
    client = app.test_client()
    codes = [
        login(client, password="wrong-password", username=f"user{i}").status_code for i in range(25)
    ]
    assert 429 in codes and throttled >= 5
    small_rt.accounts.clear_login_failures()
    assert login(app.test_client()).status_code == 302


# -------------------------------------------------------------- 5. escaping, base URL
def test_feed_and_csv_escape_once_and_use_the_public_url(small_client):
    headers = {"Host": "evil.example"}
    r = small_client.get("/feed.atom?q=콤팩트 거점", headers=headers)
    root = ET.fromstring(r.data)
    summaries = [e.findtext(f"{ATOM}summary") for e in root.iter(f"{ATOM}entry")]
    assert summaries and any("'콤팩트 거점'" in s for s in summaries), summaries
    assert not any(re.search(r"&(#x?[0-9a-f]+|amp|quot|lt|gt);", s) for s in summaries)
    links = [link.get("href") for link in root.iter(f"{ATOM}link")]
    assert links and all(href.startswith("https://kb.example.org/policykb/") for href in links)
    self_href = next(x.get("href") for x in root.iter(f"{ATOM}link") if x.get("rel") == "self")
    assert self_href.isascii() and "%EC%BD%A4" in self_href  # 콤 percent-encoded
    assert "evil.example" not in r.get_data(as_text=True)

    body = small_client.get("/export.csv?q=콤팩트", headers=headers).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows and "'콤팩트 거점'" in rows[0]["snippet"] and '"생활권"' in rows[0]["snippet"]
    assert not re.search(r"&(#x?[0-9a-f]+|amp|quot|lt|gt);", rows[0]["snippet"])
    assert rows[0]["link"].startswith("https://kb.example.org/policykb/documents/")
    ris = small_client.get(f"/documents/{rows[0]['id']}.ris", headers=headers)
    assert "evil.example" not in ris.get_data(as_text=True)


def test_api_snippet_is_documented_as_html(small_client):
    spec = small_client.get("/api/openapi.json").get_json()
    hit = spec["components"]["schemas"]["SearchResult"]["properties"]["hits"]["items"]
    snippet = hit["properties"]["snippet"]
    assert snippet.get("contentMediaType") == "text/html" and "<mark>" in snippet["description"]
    assert "snippet_text" in hit["properties"]
    first = small_client.get("/api/search?q=콤팩트").get_json()["hits"][0]
    assert "&#x27;" in first["snippet"] and "'콤팩트 거점'" in first["snippet_text"]


def test_public_url_setting_is_validated():
    from policykb.settings import SettingsError, load_settings

    assert load_settings({"public_url": "https://a.example/x/"}, environ={}).public_url == (
        "https://a.example/x"
    )
    for bad in ("ftp://a.example", "a.example", "https://a.example/?q=1"):
        with pytest.raises(SettingsError):
            load_settings(environ={"POLICYKB_PUBLIC_URL": bad})


# ------------------------------------------------------------------- 6. accessibility
def test_pages_have_one_h1_and_charts_without_nested_interactive(small_client):
    for path in ("/search?q=도시", "/search", "/analysis?q=도시", "/saved", "/"):
        html = small_client.get(path).get_data(as_text=True)
        assert len(re.findall(r"<h1[\s>]", html)) == 1, path
    html = small_client.get("/analysis?q=도시").get_data(as_text=True)
    for svg in re.findall(r"<svg[^>]*>.*?</svg>", html, re.S):
        if "<a " in svg:
            assert 'role="img"' not in svg.split(">", 1)[0]


# ------------------------------------------------------------------- 7. API contract
def test_405_names_the_allowed_methods(small_client):
    for path in ("/api/search", "/search", "/healthz"):
        r = small_client.post(path)
        assert r.status_code == 405
        assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}, path
    assert small_client.post("/api/search").get_json()["error"]["code"] == "method_not_allowed"


def test_empty_enum_and_number_parameters_are_rejected_by_the_api(small_client):
    for qs in ("sort=", "match=", "year_from=", "size=", "group_by="):
        path = "/api/analysis?" if qs.startswith("group_by") else "/api/search?"
        r = small_client.get(path + qs)
        assert r.status_code == 400, qs
        assert r.get_json()["error"]["param"] == qs.rstrip("="), qs
    # The HTML search form sends empty year fields: the page still works.
    assert small_client.get("/search?q=도시&year_from=&year_to=").status_code == 200


def test_too_long_url_is_414(small_client):
    r = small_client.get("/api/search?q=" + "가" * 5000)
    assert r.status_code == 414 and r.get_json()["error"]["code"] == "uri_too_long"


def test_openapi_lists_every_status_a_route_answers(small_rt):
    app = app_for(small_rt)
    spec = app.test_client().get("/api/openapi.json").get_json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"405", "414", "429"} <= codes, (path, method, codes)
            if any(p["in"] == "query" for p in op.get("parameters", [])):
                assert "400" in codes, (path, method)
    # Every JSON route of the app is described (what others add must be, too).
    documented = {re.sub(r"\{(\w+)\}", r"<\1>", p) for p in spec["paths"]}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule == "/healthz":
            plain = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
            assert plain in documented, f"{rule.rule} is missing from /api/openapi.json"
    year_to = next(
        p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "year_to"
    )
    assert "year_from" in year_to["description"]  # year_from > year_to: 400, documented


# --------------------------------------------------------------- 8. saved searches
def test_saved_searches_belong_to_their_owner_with_a_limit(small_rt):
    app = app_for(small_rt, SAVED_SEARCH_LIMIT=3)
    alice, bob = app.test_client(), app.test_client()

    def save(client, name, query="q=도시"):
        return client.post(
            "/saved",
            data={"name": name, "query": query, "csrf_token": csrf_of(client, "/search")},
        )

    assert save(alice, "alice-1").status_code == 302
    assert save(bob, "bob-1").status_code == 302
    assert [s["name"] for s in alice.get("/api/saved").get_json()] == ["alice-1"]
    assert [s["name"] for s in bob.get("/api/saved").get_json()] == ["bob-1"]
    assert "bob-1" not in alice.get("/saved").get_data(as_text=True)
    stranger = app.test_client()
    assert stranger.get("/api/saved").get_json() == []
    # The feed URL is a capability: it works without the cookie, and is not guessable.
    feed_url = alice.get("/api/saved").get_json()[0]["feed_url"]
    assert stranger.get(feed_url).status_code == 200
    assert stranger.get("/saved/1/feed.atom").status_code == 404
    # Limits per owner.
    save(alice, "alice-2")
    save(alice, "alice-3")
    r = save(alice, "alice-4")
    assert r.status_code == 429 and "최대 3개" in r.get_data(as_text=True)
    # Deleting one frees a place.
    key = alice.get("/api/saved").get_json()[0]["key"]
    token = csrf_of(alice, "/saved")
    assert alice.post(f"/saved/{key}/delete", data={"csrf_token": token}).status_code == 302
    assert len(alice.get("/api/saved").get_json()) == 2
    assert bob.post(f"/saved/{key}/delete", data={"csrf_token": token}).status_code in (
        400,
        404,
    )
