"""Admin area, limits and attacks: authentication on every admin route, CSRF, tokens,
re-index with progress, lexicon editing, uploads and paths, rate limits, XSS, fuzzing,
and an unreachable Elasticsearch."""

from __future__ import annotations

import re
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policykb.query import parse_lenient
from tests.conftest import make_runtime
from wiring.wsgi import create_app

PASSWORD = "correct horse battery"


@pytest.fixture()
def admin_rt(tmp_path, sample_copy):
    folder = tmp_path / "docs"
    shutil.copytree(sample_copy, folder)
    rt = make_runtime(tmp_path / "data", ingest_roots=str(tmp_path))
    rt.ingester().run([folder])
    rt.accounts.create_user("admin", PASSWORD)
    return rt


def app_for(rt, **config):
    app = create_app(
        {"TESTING": True, "SESSION_COOKIE_SECURE": False, **config}, settings=rt.settings
    )
    app.extensions["policykb"] = rt
    return app


def token_of(client, path="/admin/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, password=PASSWORD):
    token = token_of(client)
    return client.post(
        "/admin/login", data={"username": "admin", "password": password, "csrf_token": token}
    )


def admin_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and rule.endpoint != "admin.login":
            path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, path


def test_every_admin_route_refuses_anonymous_and_forged_sessions(admin_rt):
    app = app_for(admin_rt)
    routes = list(admin_routes(app))
    assert len(routes) >= 10
    client = app.test_client()
    for method, path in routes:
        r = client.open(path, method=method)
        assert r.status_code in (302, 401), (method, path, r.status_code)
        if r.status_code == 302:
            assert "/admin/login" in r.headers["Location"]
    # A session cookie signed with another key is ignored.
    other = create_app(
        {"TESTING": True, "SECRET_KEY": "not-the-key", "SESSION_COOKIE_SECURE": False},
        settings=admin_rt.settings,
    )
    with other.test_request_context():
        from flask import session

        session["admin"] = "admin"
        forged = other.session_interface.get_signing_serializer(other).dumps(dict(session))
    client.set_cookie("session", forged)
    for method, path in routes:
        assert client.open(path, method=method).status_code in (302, 401), path
    # A bearer token that is not ours is refused too.
    for method, path in routes:
        r = client.open(path, method=method, headers={"Authorization": "Bearer pkb_forged"})
        assert r.status_code in (302, 401), path


def test_login_csrf_and_wrong_password(admin_rt):
    client = app_for(admin_rt).test_client()
    r = client.post("/admin/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 400  # no CSRF token
    assert login(client, "wrong password!").status_code == 401
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200
    # Admin forms need the CSRF token even when logged in.
    assert client.post("/admin/reindex").status_code == 400
    assert "login" in {e.action for e in admin_rt.accounts.audit_log()}


def test_session_cookie_flags(admin_rt):
    app = app_for(admin_rt, SESSION_COOKIE_SECURE=True)
    client = app.test_client()
    r = client.get("/admin/login")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_reindex_with_progress_and_audit(admin_rt):
    client = app_for(admin_rt).test_client()
    login(client)
    r = client.post("/admin/reindex", data={"csrf_token": token_of(client, "/admin/")})
    assert r.status_code == 302
    job_url = r.headers["Location"]
    job_id = int(job_url.rstrip("/").split("/")[-1])
    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/admin/api/jobs/{job_id}").get_json()
        assert client.get("/api/search?q=협의체").get_json()["total"] > 0  # still answering
        if job["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["state"] == "done" and job["done"] == job["total"] > 0
    assert "재색인" in client.get(job_url).get_data(as_text=True)
    actions = [e.action for e in admin_rt.accounts.audit_log()]
    assert "reindex" in actions


def test_api_token_for_scripts(admin_rt):
    client = app_for(admin_rt).test_client()
    token = admin_rt.accounts.create_token("admin", "ci")
    r = client.get("/admin/api/stats", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.get_json()["documents"] > 0
    r = client.post("/admin/reindex", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202


def test_a_second_reindex_while_one_runs_is_a_409(admin_rt):
    """One job of a kind at a time: starting another answers 409 with a Korean message."""
    import threading

    client = app_for(admin_rt).test_client()
    token = admin_rt.accounts.create_token("admin", "ci")
    release = threading.Event()
    running = admin_rt.jobs.start("reindex", "admin", lambda job: release.wait(30) and "ok")
    try:
        r = client.post("/admin/reindex", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 409
        assert "이미 재색인이 진행 중입니다" in r.get_data(as_text=True)
    finally:
        release.set()
    for _ in range(100):
        if running.state != "running":
            break
        time.sleep(0.05)
    assert running.state == "done"


def test_lexicon_edit_is_validated_previewed_then_live_without_reindex(admin_rt):
    client = app_for(admin_rt).test_client()
    login(client)
    page = client.get("/admin/lexicon").get_data(as_text=True)
    token = token_of(client, "/admin/lexicon")
    synonyms = re.search(r'<textarea name="synonyms"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    import html as html_mod

    synonyms = html_mod.unescape(synonyms)
    user_dict = html_mod.unescape(
        re.search(r'<textarea name="user_dict"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    )
    bad = client.post(
        "/admin/lexicon",
        data={"csrf_token": token, "user_dict": user_dict, "synonyms": synonyms + "\n외톨이\n"},
    )
    assert bad.status_code == 400 and "저장하지 않았습니다" in bad.get_data(as_text=True)
    assert client.get("/api/search?q=시민실험실&match=all").get_json()["total"] == 0
    preview = client.post(
        "/admin/lexicon",
        data={
            "csrf_token": token,
            "op": "add-synonym",
            "entries": "생활실험실, 리빙랩",
            "action": "preview",
        },
    )
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "미리 보기" in text and "생활실험실" in text
    assert not (admin_rt.lexicon_dir / "synonyms.txt").exists()  # nothing saved
    for op in (
        {"op": "add-word", "word": "수성 알파시티"},
        {"op": "add-synonym", "entries": "외톨이"},
    ):
        r = client.post("/admin/lexicon", data={"csrf_token": token, **op})
        assert r.status_code == 400 and "않았습니다" in r.get_data(as_text=True)
    # while an ingest (or reindex) runs, here or in another process: refused on the form
    typed = synonyms + "\n리빙랩, 시민실험실\n"
    with admin_rt.analysis_lock.shared("수집(ingest)"):
        busy = client.post(
            "/admin/lexicon", data={"csrf_token": token, "user_dict": user_dict, "synonyms": typed}
        )
    text = busy.get_data(as_text=True)
    assert busy.status_code == 409 and "수집(ingest)" in text and "바꾸지 않았습니다" in text
    assert "시민실험실" in text  # what the admin typed is still on the form
    assert not (admin_rt.lexicon_dir / "synonyms.txt").exists()
    ok = client.post(
        "/admin/lexicon",
        data={
            "csrf_token": token,
            "user_dict": user_dict,
            "synonyms": synonyms + "\n리빙랩, 시민실험실\n",
        },
    )
    assert ok.status_code == 200 and "검색에 바로 반영됩니다" in ok.get_data(as_text=True)
    stats = client.get("/admin/api/stats").get_json()
    assert stats["stale_documents"] == 0
    assert client.get("/api/search?q=시민실험실&match=all").get_json()["total"] > 0


def test_ingest_paths_and_uploads(admin_rt, tmp_path):
    client = app_for(admin_rt).test_client()
    login(client)
    token = token_of(client, "/admin/")
    for folder in ("/etc", str(tmp_path / ".." / ".."), "../../../../etc"):
        r = client.post("/admin/ingest", data={"csrf_token": token, "folder": folder})
        assert r.status_code == 400, folder
    import io

    r = client.post(
        "/admin/ingest",
        data={"csrf_token": token, "files": (io.BytesIO(b"#!/bin/sh\necho hi"), "../../evil.sh")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    text = "국토연구원 보도자료\n\n얼룩말 도시 실험을 발족하였다.".encode()
    r = client.post(
        "/admin/ingest",
        data={"csrf_token": token, "files": (io.BytesIO(text), "../../얼룩말 보도자료.txt")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    deadline = time.monotonic() + 30
    while client.get("/api/search?q=얼룩말").get_json()["total"] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    uploads = list((admin_rt.settings.data_dir / "uploads").rglob("*.txt"))
    assert [p.name for p in uploads] == ["_얼룩말 보도자료.txt"] or all(
        p.is_relative_to(admin_rt.settings.data_dir / "uploads") for p in uploads
    )


def test_rate_limit_gives_429(admin_rt):
    rt = make_runtime(admin_rt.settings.data_dir, rate_limit=6)
    client = app_for(rt).test_client()
    codes = [client.get("/api/search?q=교통").status_code for _ in range(12)]
    assert codes[0] == 200 and codes[-1] == 429
    r = client.get("/api/search?q=교통")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "요청이 너무 많습니다" in r.get_json()["error"]["message"]
    assert client.get("/healthz").status_code == 200  # not limited


def test_xss_in_titles_text_and_queries_is_escaped(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "x.txt").write_text(
        "<script>alert('본문')</script> 협의체를 <img src=x onerror=alert(1)> 발족", "utf-8"
    )
    (folder / "manifest.csv").write_text(
        'file,title,institute,doc_type,date,url\nx.txt,"<script>alert(1)</script>협의체",'
        "국토연구원,보도자료,2020-01-01,javascript:alert(1)\n",
        "utf-8",
    )
    rt = make_runtime(tmp_path / "data")
    rt.ingester().run([folder])
    client = app_for(rt).test_client()
    for url in (
        "/search?q=협의체",
        "/search?q=<script>alert(1)</script>",
        "/analysis?q=<img src=x onerror=alert(1)>",
    ):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
    doc_id = client.get("/api/search?q=협의체").get_json()["hits"][0]["id"]
    html = client.get(f"/documents/{doc_id}?q=협의체").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
    r = client.get("/api/search?q=<script>")
    assert r.mimetype == "application/json"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(
        alphabet=st.sampled_from(list('"()-:|* 가나다스마트시티ORAND기관지역연도유형.ab12\\/{}[]')),
        max_size=40,
    )
)
def test_query_parser_never_crashes(text):
    tree, notices = parse_lenient(text)
    assert tree is not None


@pytest.fixture(scope="module")
def fuzz_client(indexed):
    return app_for(indexed).test_client()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    q=st.text(max_size=60),
    page=st.one_of(st.none(), st.text(max_size=6)),
    size=st.one_of(st.none(), st.integers(-5, 500).map(str)),
    region=st.one_of(st.none(), st.sampled_from(["경기", "경기도", "화성", "", "서울특별시"])),
)
def test_search_api_fuzz_never_500(fuzz_client, q, page, size, region):
    params = {"q": q}
    if page is not None:
        params["page"] = page
    if size is not None:
        params["size"] = size
    if region is not None:
        params["region"] = region
    r = fuzz_client.get("/api/search", query_string=params)
    assert r.status_code in (200, 400), (params, r.status_code)
    assert r.is_json


def test_elasticsearch_unavailable_is_a_clear_503(tmp_path):
    rt = make_runtime(
        tmp_path / "data", backend="elasticsearch", es_url="http://127.0.0.1:9", es_index="nowhere"
    )
    client = app_for(rt).test_client()
    r = client.get("/search?q=협의체")
    assert r.status_code == 503 and "검색 엔진에 연결할 수 없습니다" in r.get_data(as_text=True)
    r = client.get("/api/search?q=협의체")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "backend_unavailable"
    assert client.get("/healthz").status_code == 503
