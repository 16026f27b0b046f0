"""Every page of the app, found from its URL map (so pages added later are checked too):
the HTML and feed URLs that the external checkers (Nu Html Checker, axe-core, the Atom
rules) go over. Path arguments are filled with real values (a document id, a saved
search's key, a job id); pages taking a query are also fetched with one."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

PAGE_CHECK_USER = "pagecheck"
PAGE_CHECK_PASSWORD = "page check password"
QUERY = "스마트시티"
SKIP_ENDPOINTS = {"static"}


@dataclass(frozen=True)
class Page:
    url: str
    admin: bool  # needs a logged-in admin


def _csrf(client, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _samples(app, client) -> dict[str, str]:
    """Values for path arguments, by argument name; ``client`` saves a search (so the
    saved-searches page has an entry)."""
    rt = app.extensions["policykb"]
    doc_id = rt.service.search(_request(rt, QUERY)).hits[0].id
    r = client.post(
        "/saved",
        data={"name": "페이지 점검", "query": "q=" + QUERY, "csrf_token": _csrf(client, "/search")},
    )
    assert r.status_code == 302, r.status_code
    key = client.get("/api/saved").get_json()[0]["key"]
    job = rt.jobs.start("pagecheck", PAGE_CHECK_USER, lambda job: "점검")
    for _ in range(50):  # let the job finish (a finished job page has no refresh)
        if rt.jobs.get(job.id).state != "running":
            break
        time.sleep(0.05)
    return {"doc_id": doc_id, "key": key, "job_id": str(job.id)}


def _request(rt, q: str):
    from policykb.service import parse_request

    return parse_request({"q": [q]}, rt.settings)


def ensure_admin(app) -> None:
    accounts = app.extensions["policykb"].accounts
    if not accounts.exists(PAGE_CHECK_USER):
        accounts.create_user(PAGE_CHECK_USER, PAGE_CHECK_PASSWORD)


def every_page(app, client) -> list[Page]:
    """One URL per GET route (arguments filled), plus its variant with a query, plus a
    404 page. Routes whose arguments have no sample value are left out."""
    samples = _samples(app, client)
    pages: list[Page] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS:
            continue
        admin = rule.rule.startswith("/admin")
        if not rule.arguments:
            pages.append(Page(rule.rule, admin))
            pages.append(Page(rule.rule + "?q=" + QUERY, admin))
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if name in samples:
                values[name] = samples[name]
            elif type(converter).__name__ == "IntegerConverter":
                values[name] = "1"
        if set(values) != set(rule.arguments):
            continue
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m, v=values: v[m.group(1)], rule.rule)
        pages.append(Page(url, admin))
        pages.append(Page(url + ("&" if "?" in url else "?") + "q=" + QUERY, admin))
    pages.append(Page("/no-such-page", False))
    return list(dict.fromkeys(pages))


def login(client) -> None:
    token = _csrf(client, "/admin/login")
    r = client.post(
        "/admin/login",
        data={"username": PAGE_CHECK_USER, "password": PAGE_CHECK_PASSWORD, "csrf_token": token},
    )
    assert r.status_code == 302, r.status_code


def fetch_all(app) -> list[tuple[Page, object]]:
    """(page, response) for every page, admin pages with a logged-in client."""
    ensure_admin(app)
    anonymous, admin = app.test_client(), app.test_client()
    login(admin)
    out = []
    for page in every_page(app, anonymous):
        client = admin if page.admin else anonymous
        response = client.get(page.url)
        response.get_data()  # consume streamed bodies inside their request
        response.close()
        out.append((page, response))
    return out


def is_html(response) -> bool:
    return response.mimetype == "text/html"


def is_atom(response) -> bool:
    return response.mimetype == "application/atom+xml"
