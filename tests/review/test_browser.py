"""The app in a real browser (Debian's chromium through Playwright): sign in, triage with the keyboard alone,
reject with a reason, a supervisor dispatches, a pilot uploads a flight, the map. Screenshots go to a
temporary folder, or to PATROL_SCREENSHOTS: `make screenshots` refreshes docs/screenshots/ (the README shows
them), so that a test run never rewrites tracked files.

These tests fail when no browser starts; PATROL_SKIP_BROWSER_TESTS=1 skips them instead (see README).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.review.conftest import FLIGHT, PASSWORD, ROOT, World

SHOTS = Path(os.environ.get("PATROL_SCREENSHOTS") or Path(tempfile.gettempdir()) / "patrol-screenshots")
pytestmark = pytest.mark.slow


def _page(browser: Any, base_url: str) -> Any:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(15_000)
    return context.new_page()


def _sign_in_with_keys(page: Any, name: str) -> None:
    page.goto("/login")
    # The name field takes the focus by itself (autofocus); on a loaded machine that can land after "load",
    # and keys typed before it go nowhere.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def test_reviewer_triages_with_the_keyboard_and_a_supervisor_dispatches(browser: Any, base_url: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.wait_for_url(re.compile(r"/queue$"))
    assert page.locator("#queue tbody tr").count() > 3
    page.screenshot(path=str(SHOTS / "queue.png"))

    page.keyboard.press("n")  # claim the next case
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    confirmed_url = page.url
    page.wait_for_function(
        "() => !document.querySelector('.frame .box') || !document.querySelector('.frame .box').hidden"
    )
    assert page.locator("#case-status").inner_text() == "审核中"
    page.screenshot(path=str(SHOTS / "case.png"), full_page=True)
    page.keyboard.press("c")  # confirm: the verdict moves straight on to the next case
    page.wait_for_url(lambda url: url != confirmed_url and "/cases/" in url)
    assert "已立案" in page.inner_text(".flash")
    assert page.locator("#case-status").inner_text() == "审核中"

    rejected_url = page.url  # a false positive: reject it with a reason
    page.keyboard.press("r")
    page.keyboard.type("阴影误检")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url != rejected_url)
    assert "不予立案" in page.inner_text(".flash")
    page.goto(rejected_url)
    assert page.locator("#case-status").inner_text() == "不予立案"
    assert "阴影误检" in page.locator("dl.facts").inner_text()

    sup = _page(browser, base_url)
    _sign_in_with_keys(sup, "sup1")
    sup.goto(confirmed_url)
    sup.click("#act-dispatch button")
    sup.wait_for_selector("#case-status.st-dispatched")
    assert sup.locator("#case-status").inner_text() == "已派遣"


def test_pilot_uploads_a_flight_and_a_reviewer_sees_the_map(
    browser: Any, base_url: str, world: World
) -> None:
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "pilot1")
    page.wait_for_url(re.compile(r"/flights$"))
    page.goto("/upload")
    page.fill("#label", "早巡 东城")
    files = [FLIGHT / "DJI_0001.JPG", FLIGHT / "DJI_0002.JPG", FLIGHT / "classes.txt", ROOT / "README.md"]
    page.set_input_files("#files", [str(p) for p in files])
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-result .ok")
    assert "已收到航次" in page.inner_text("#upload-result")
    page.screenshot(path=str(SHOTS / "upload.png"))
    uploaded = [p for p in world.inbox.iterdir() if not p.name.startswith(".")]
    assert len(uploaded) == 1 and (uploaded[0] / "DJI_0002.JPG").is_file()
    page.goto("/flights")
    assert "早巡" in page.inner_text("#uploads")

    rev = _page(browser, base_url)
    _sign_in_with_keys(rev, "rev1")
    rev.goto("/map")
    rev.wait_for_selector("path.leaflet-interactive")
    assert rev.locator("path.leaflet-interactive").count() >= 5
    rev.screenshot(path=str(SHOTS / "map.png"))


def test_english_pages(browser: Any, base_url: str) -> None:
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue?lang=en")
    assert page.locator("h1").first.inner_text().startswith("Case queue")
    assert Path(SHOTS).is_dir()


def test_an_uploaded_polyglot_runs_no_script_for_an_admin(browser: Any, base_url: str, world: World) -> None:
    """Issue 11's stored XSS: an HTML/JS file whose bytes 4-8 read `ftyp`, opened by an admin from /files/."""
    from playwright.sync_api import Error

    from tests.review import badfiles as bf

    folder = world.data_root / "uploads" / f"xss-{os.getpid()}-{time.monotonic_ns()}"
    folder.mkdir(parents=True)
    (folder / "report.html").write_bytes(bf.HTML_POLYGLOT)
    (folder / "report.js").write_bytes(bf.JS_POLYGLOT)
    (folder / "DJI_0001.JPG").write_bytes(bf.JPEG)
    rel = folder.relative_to(world.data_root).as_posix()
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "adm1")
    for name in ("report.html", "report.js"):
        # a download, not a page: the navigation is aborted
        with page.expect_download() as download, contextlib.suppress(Error):
            page.goto(f"/files/{rel}/{name}")
        assert download.value.suggested_filename == name
    # the same file pulled into a page of the app's origin as a script does not run either (nosniff)
    page.goto("/users")
    page.evaluate(
        """(src) => new Promise((done) => { const s = document.createElement('script'); s.src = src;
        s.onload = s.onerror = () => done(); document.head.appendChild(s); })""",
        f"/files/{rel}/report.js",
    )
    page.wait_for_timeout(500)
    users = page.evaluate("() => fetch('/api/users').then((r) => r.json())")
    assert "mallory" not in [u["name"] for u in users] and page.title() != "pwned"
    # a real photo still shows when opened directly, under the sandboxing policy
    page.goto(f"/files/{rel}/DJI_0001.JPG")
    assert page.evaluate("() => document.images.length && document.images[0].naturalWidth") > 0
