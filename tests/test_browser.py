"""The UI in a real browser: headless Chromium driven by Playwright against the app served
on loopback. Screenshots of the main pages go to test-artifacts/ (looked at by humans).
Every page (from the URL map) is checked with axe-core (npm package, WCAG 2.x A/AA) at
1280 px and 320 px, for reflow at 320 px and for Content-Security-Policy violations."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from tests import pages
from tests.conftest import REPO, is_ci
from tests.test_pages import NODE_MODULES, need_tool

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("POLICYKB_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
WIDTHS = (1280, 320)


@pytest.fixture(scope="module")
def live_url(app):
    from search_app.serving import make_server

    if app.extensions["policykb"].settings.backend != "embedded":
        pytest.skip("browser tests run once, on the embedded backend")
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def page(live_url):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        if is_ci():
            pytest.fail(f"playwright required under CI=true: {exc}")
        pytest.skip(f"playwright not installed: {exc}")
    if not Path(CHROMIUM).exists():
        if is_ci():
            pytest.fail(f"Chromium required under CI=true, not found at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(
            locale="ko-KR", viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        pg = context.new_page()
        pg.set_default_timeout(15000)
        yield pg
        context.close()
        browser.close()


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_search_facets_pagination_document(page, live_url):
    page.goto(live_url + "/")
    shot(page, "01-home")
    page.fill("#q", "스마트시티")
    page.press("#q", "Enter")
    page.wait_for_url("**/search?**")
    assert page.locator("ol.hits > li").count() == 10
    total = int(page.locator(".summary strong").first.inner_text())
    assert total > 10
    assert page.locator("mark").count() > 0
    shot(page, "02-results")

    # Apply a region facet, then remove it with its chip.
    page.locator("section.facet", has_text="지역").locator("a", has_text="경기").first.click()
    page.wait_for_url("**region=**")
    filtered = int(page.locator(".summary strong").first.inner_text())
    assert 0 < filtered < total
    assert page.locator(".chips").inner_text().find("지역: 경기") >= 0
    shot(page, "03-facet")
    page.locator(".chips a", has_text="지역: 경기").click()
    page.wait_for_load_state()
    assert int(page.locator(".summary strong").first.inner_text()) == total

    # Paginate.
    first_titles = page.locator("ol.hits h3").all_inner_texts()
    page.locator(".pager a[rel=next]").click()
    page.wait_for_url("**page=2**")
    assert set(page.locator("ol.hits h3").all_inner_texts()).isdisjoint(first_titles)

    # Open a document: highlighted words, jump list, related documents.
    page.locator("ol.hits h3 a").first.click()
    page.wait_for_url("**/documents/**")
    assert page.locator("article.document h1").inner_text()
    assert page.locator(".fulltext mark").count() > 0
    shot(page, "04-document")


def test_export_csv_and_feed(page, live_url):
    page.goto(live_url + "/search?q=협의체")
    with page.expect_download() as info:
        page.locator(".tools a", has_text="CSV").click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    total = int(page.locator(".summary strong").first.inner_text())
    assert lines[0].startswith("id,title,institute") and len(lines) == total + 1

    href = page.locator(".tools a.feed").get_attribute("href")
    response = page.request.get(live_url + href)
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert "<feed" in response.text()

    # Save the search, then find its feed on the saved-searches page.
    page.fill("form.save input[name=name]", "협의체 알림")
    page.locator("form.save button").click()
    page.wait_for_url("**/saved**")
    assert page.locator(".saved li", has_text="협의체 알림").count() == 1
    shot(page, "05-saved")


def test_analysis_page_and_korean_rendering(page, live_url):
    page.goto(live_url + "/analysis?q=스마트시티")
    assert page.locator("svg.timeline rect").count() > 0
    assert page.locator("svg.regions rect").count() > 0
    shot(page, "06-analysis")
    # Korean text is drawn with a real font: a Hangul string is wider than a tofu box run.
    widths = page.evaluate("""() => {
        const c = document.createElement('canvas').getContext('2d');
        c.font = '16px sans-serif';
        return [c.measureText('정책연구').width, c.measureText('\\u0378\\u0378\\u0378\\u0378').width];
    }""")
    assert widths[0] > 0
    page.locator("svg.regions a").first.click()
    page.wait_for_url("**/search?**region=**")


def test_keyboard_and_no_javascript_needed(page, live_url):
    page.goto(live_url + "/search?q=교통")
    page.keyboard.press("Tab")  # skip link first
    focused = page.evaluate("document.activeElement.textContent")
    assert "본문" in focused
    html = page.content()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # static files only
    labels = page.locator("label[for=q]").count()
    assert labels == 1


def _html_pages(app) -> list[pages.Page]:
    """Every HTML page once (a query variant only when it renders differently)."""
    seen, out = set(), []
    for page, r in pages.fetch_all(app):
        if not pages.is_html(r):
            continue
        html = r.get_data(as_text=True)
        key = re.sub(r'value="[^"]{20,}"|\(\d+ ms\)|\d+', "", html)
        if key not in seen:
            seen.add(key)
            out.append(page)
    return out


AXE_RUN = """async (tags) => {
    const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
    return r.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ` +
        v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


def test_every_page_passes_axe_reflows_and_keeps_the_csp(app, page, live_url):
    need_tool(AXE, "axe-core (npm axe-core)")
    urls = _html_pages(app)
    assert len(urls) >= 8
    context = page.context.browser.new_context(locale="ko-KR")
    pg = context.new_page()
    pg.set_default_timeout(15000)
    pg.add_init_script(path=str(AXE))  # injected by the browser, so the page's CSP holds
    csp_errors: list[str] = []
    pg.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    pg.goto(live_url + "/admin/login")
    pg.fill("input[name=username]", pages.PAGE_CHECK_USER)
    pg.fill("input[name=password]", pages.PAGE_CHECK_PASSWORD)
    pg.locator("form.login button").click()
    pg.wait_for_url("**/admin/")
    pg.goto(live_url + "/search?q=" + pages.QUERY)  # an entry for the saved-searches page
    pg.locator("form.save button").click()
    pg.wait_for_url("**/saved**")
    problems = []
    for width in WIDTHS:
        pg.set_viewport_size({"width": width, "height": 900})
        for p in urls:
            if p.url.startswith("/admin/login"):
                continue  # logged in: the login page is checked by the Nu/axe run below
            pg.goto(live_url + p.url)
            problems += [f"{width}px {p.url}: {v}" for v in pg.evaluate(AXE_RUN, WCAG_TAGS)]
            if width == 320:
                wide = pg.evaluate("document.documentElement.scrollWidth")
                if wide > width:
                    problems.append(f"320px {p.url}: page is {wide}px wide (no reflow)")
    context.clear_cookies()
    for width in WIDTHS:  # the login page, logged out
        pg.set_viewport_size({"width": width, "height": 900})
        pg.goto(live_url + "/admin/login")
        problems += [f"{width}px /admin/login: {v}" for v in pg.evaluate(AXE_RUN, WCAG_TAGS)]
    context.close()
    assert not csp_errors, csp_errors
    assert not problems, "\n".join(problems)


def test_search_box_combobox_by_keyboard_only(page, live_url):
    """Type 초성 and pick a suggestion with the arrow keys and Enter; Escape closes the
    list; the list overlays the page (no layout shift); a live region announces it."""
    page.goto(live_url + "/search?q=교통")
    box = page.locator("#q")
    assert box.get_attribute("role") == "combobox"
    assert box.get_attribute("aria-expanded") == "false"
    results_top = page.locator("section.results").bounding_box()["y"]
    box.focus()
    box.fill("")
    page.keyboard.type("ㅅㅁㅌㅅㅌ")
    listbox = page.locator("#q-suggestions")
    listbox.wait_for(state="visible")
    assert box.get_attribute("aria-expanded") == "true"
    assert box.get_attribute("aria-controls") == "q-suggestions"
    options = listbox.locator("[role=option]")
    assert options.first.text_content() == "스마트시티"
    assert page.locator("section.results").bounding_box()["y"] == results_top
    status = page.locator("form.searchbox [role=status]")
    assert "추천 검색어" in status.text_content()
    page.screenshot(path=str(ARTIFACTS / "suggest-open.png"))
    page.keyboard.press("ArrowDown")
    first_id = options.first.get_attribute("id")
    assert box.get_attribute("aria-activedescendant") == first_id
    assert options.first.get_attribute("aria-selected") == "true"
    assert box.input_value() == "스마트시티"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    assert box.get_attribute("aria-activedescendant") == first_id
    page.keyboard.press("Escape")
    assert listbox.is_hidden() and box.get_attribute("aria-expanded") == "false"
    assert box.input_value() == "ㅅㅁㅌㅅㅌ"  # Escape restores what was typed
    page.keyboard.press("ArrowDown")  # reopens the list
    listbox.wait_for(state="visible")
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "q=%EC%8A%A4%EB%A7%88%ED%8A%B8%EC%8B%9C%ED%8B%B0" in page.url  # 스마트시티


def test_combobox_keeps_only_the_latest_answer(page, live_url):
    """Fast typing: earlier requests are cancelled or ignored, the list shows the answer
    for the text in the box."""
    page.goto(live_url + "/search")
    box = page.locator("#q")
    box.focus()
    page.keyboard.type("xksthwndflq", delay=20)  # 탄소중립 in the English layout
    page.locator("#q-suggestions").wait_for(state="visible")
    page.wait_for_function(
        "document.querySelector('#q-suggestions [role=option]').textContent === '탄소중립'"
    )


def test_tile_map_renders_and_filters(page, live_url):
    page.goto(live_url + "/analysis?q=스마트시티")
    tiles = page.locator("svg.tilemap a.tile")
    assert tiles.count() == 17
    box = page.locator("svg.tilemap").bounding_box()
    assert box["width"] > 200 and box["height"] > 200
    gyeonggi = page.locator('svg.tilemap a.tile[data-region="경기"]')
    count = int(gyeonggi.locator("text[data-region]").text_content())
    assert count == int(page.locator('.tilemap-table td[data-region="경기"]').text_content())
    page.screenshot(path=str(ARTIFACTS / "tilemap.png"), full_page=True)
    gyeonggi.focus()  # reachable and operable by keyboard
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "region=%EA%B2%BD%EA%B8%B0" in page.url
    total = int(page.locator(".summary strong").first.text_content())
    assert total == count


def test_axe_with_suggestions_open_and_on_the_tile_map(page, live_url):
    """No axe violation (WCAG A/AA) on the search page with the suggestion list open, nor
    on /analysis with the tile map; the page's CSP is kept (no inline script or style)."""
    need_tool(AXE, "axe-core (npm axe-core)")
    context = page.context.browser.new_context(locale="ko-KR")
    pg = context.new_page()
    pg.add_init_script(path=str(AXE))
    csp_errors: list[str] = []
    pg.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    pg.goto(live_url + "/search?q=교통")
    pg.locator("#q").fill("")
    pg.locator("#q").focus()
    pg.keyboard.type("ㅅㅁㅌ")
    pg.locator("#q-suggestions").wait_for(state="visible")
    pg.keyboard.press("ArrowDown")
    problems = [f"/search (open): {v}" for v in pg.evaluate(AXE_RUN, WCAG_TAGS)]
    pg.goto(live_url + "/analysis?q=스마트시티")
    pg.locator("svg.tilemap").wait_for()
    problems += [f"/analysis: {v}" for v in pg.evaluate(AXE_RUN, WCAG_TAGS)]
    context.close()
    assert not csp_errors, csp_errors
    assert not problems, "\n".join(problems)
