"""Every page of the app (from its URL map, see tests/pages.py) through external checkers
and standards: the Nu Html Checker (npm ``vnu-jar`` on the JDK), RFC 4287 for the Atom
feeds, the security headers, and markup the Content-Security-Policy allows (no inline
scripts, styles or event handlers)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from search_app.security import HEADERS
from tests import pages
from tests.conftest import REPO, is_ci

NODE_MODULES = Path(
    os.environ.get("POLICYKB_NODE_MODULES", REPO / ".cache" / "node" / "node_modules")
)
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
ATOM = "{http://www.w3.org/2005/Atom}"
ENTITY_RE = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
RFC3339_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


@pytest.fixture(scope="module")
def crawled(app):
    if app.extensions["policykb"].settings.backend != "embedded":
        pytest.skip("pages are checked once, on the embedded backend")
    return pages.fetch_all(app)


def need_tool(path: Path, what: str) -> None:
    if path.exists():
        return
    message = f"{what} not found at {path}; `bash .ci/run` installs it (npm into .cache/node)"
    if is_ci():
        pytest.fail(message + "; CI=true requires it")
    pytest.skip(message)


def test_every_page_is_found(crawled):
    html = [p.url for p, r in crawled if pages.is_html(r) and r.status_code == 200]
    for expected in ("/", "/search", "/analysis", "/saved", "/admin/", "/admin/login"):
        assert expected in html, expected
    assert any(u.startswith("/documents/") for u in html)
    assert any(pages.is_atom(r) for _, r in crawled)


def test_security_headers_and_no_inline_code_on_every_page(crawled):
    for page, r in crawled:
        for name, value in HEADERS.items():
            assert r.headers.get(name) == value, (page.url, name)
        if page.admin:
            assert "no-store" in r.headers.get("Cache-Control", ""), page.url
        if not pages.is_html(r):
            continue
        html = r.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), (page.url, "inline script")
        assert not re.search(r"<style[\s>]", html), (page.url, "style element")
        assert not re.search(r"\sstyle=", html), (page.url, "style attribute")
        assert not re.search(r"\son[a-z]+=", html), (page.url, "event handler attribute")


def test_every_page_passes_the_nu_html_checker(crawled, tmp_path):
    need_tool(VNU_JAR, "the Nu Html Checker (npm vnu-jar)")
    java = shutil.which("java")
    if java is None:
        if is_ci():
            pytest.fail("java required under CI=true")
        pytest.skip("no java")
    files = {}
    for i, (page, r) in enumerate(crawled):
        if pages.is_html(r):
            path = tmp_path / f"page{i:03d}.html"
            path.write_bytes(r.get_data())
            files[path.name] = page.url
    assert len(files) >= 10
    done = subprocess.run(
        [java, "-Xss2m", "-jar", str(VNU_JAR), "--format", "json", "--exit-zero-always"]
        + [str(p) for p in sorted(tmp_path.glob("*.html"))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stderr or done.stdout)
    errors = [
        f"{files.get(m.get('url', '').rsplit('/', 1)[-1])}:{m.get('lastLine')}: {m['message']}"
        for m in report["messages"]
        if m["type"] == "error" or m.get("subType") == "fatal"
    ]
    assert not errors, "\n".join(errors)


def _text(el) -> str:
    return "".join(el.itertext())


def test_atom_feeds_follow_rfc_4287(crawled):
    feeds = [(p, r) for p, r in crawled if pages.is_atom(r) and r.status_code == 200]
    assert feeds
    for page, r in feeds:
        root = ET.fromstring(r.get_data())
        where = page.url
        assert root.tag == ATOM + "feed", where
        for name in ("id", "title", "updated"):  # atom:feed MUST have exactly one of each
            assert len(root.findall(ATOM + name)) == 1, (where, name)
        assert RFC3339_RE.fullmatch(root.findtext(ATOM + "updated")), where
        selfs = [x for x in root.findall(ATOM + "link") if x.get("rel") == "self"]
        assert len(selfs) == 1, where
        href = selfs[0].get("href")
        assert href.isascii() and " " not in href, (where, href)  # percent-encoded
        parts = urlsplit(href)
        assert parts.scheme in ("http", "https") and parts.netloc, (where, href)
        assert parts.path.endswith(urlsplit(page.url).path), (where, href)
        feed_author = root.find(ATOM + "author") is not None
        ids = [root.findtext(ATOM + "id")]
        for entry in root.findall(ATOM + "entry"):
            for name in ("id", "title", "updated"):
                assert len(entry.findall(ATOM + name)) == 1, (where, name)
            assert RFC3339_RE.fullmatch(entry.findtext(ATOM + "updated")), where
            assert feed_author or entry.find(ATOM + "author") is not None, where
            links = [
                x for x in entry.findall(ATOM + "link") if x.get("rel", "alternate") == "alternate"
            ]
            assert links or entry.find(ATOM + "content") is not None, where
            assert all(x.get("href", "").isascii() for x in entry.findall(ATOM + "link")), where
            ids.append(entry.findtext(ATOM + "id"))
            for name in ("title", "summary"):
                el = entry.find(ATOM + name)
                if el is not None and el.get("type", "text") == "text":
                    assert not ENTITY_RE.search(_text(el)), (where, name, _text(el))
        assert all(urlsplit(i).scheme for i in ids), where  # ids are absolute IRIs
        assert len(set(ids)) == len(ids), where
        updated = [
            datetime.fromisoformat(e.findtext(ATOM + "updated").replace("Z", "+00:00"))
            for e in root.findall(ATOM + "entry")
        ]
        if updated:  # the feed's updated is the latest entry's
            feed_updated = datetime.fromisoformat(
                root.findtext(ATOM + "updated").replace("Z", "+00:00")
            )
            assert feed_updated >= max(updated), where
