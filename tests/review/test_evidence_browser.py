"""Case evidence and change in the real browser (issue 12): the badges and the before/after pair on the case
page, the low-evidence view beside the morning queue, and the evidence columns of the export.

The world: the seeded review app plus, 2 km away, ground that two flights of night 1 covered with four real
frames and saw nothing on, where night 2 saw a shed in two of its three frames (new), and a far, loosely
placed sighting seen in one of seven frames (weak). Expected values come from that layout."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from pipeline import geo
from pipeline.cases.categories import load_categories
from pipeline.cases.ingest import push_sightings
from pipeline.cases.models import Case
from pipeline.types import FrameCoverage, Sighting
from tests.review.conftest import BASE, FLIGHT, World
from tests.review.test_browser import SHOTS, _page, _sign_in_with_keys

pytestmark = pytest.mark.slow
FAR = geo.offset_latlon(BASE[0], BASE[1], 2000.0, 0.0)


def _at(e: float, n: float) -> tuple[float, float]:
    return geo.offset_latlon(FAR[0], FAR[1], e, n)


def _square(half: float, e0: float = 0.0) -> tuple[tuple[float, float], ...]:
    return tuple(_at(e0 + e, n) for e, n in ((-half, -half), (half, -half), (half, half), (-half, half)))


def _frame(world: World, flight: str, k: int) -> str:
    rel = f"flights/{flight}/DJI_000{k + 1}.JPG"
    (world.data_root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FLIGHT / f"DJI_000{k + 1}.JPG", world.data_root / rel)
    return rel


def _seed_change(world: World) -> tuple[int, int]:
    night1 = "2026-10-07T10:00:00+08:00"
    night2 = "2026-10-08T10:00:00+08:00"
    cover1 = [FrameCoverage("N1", _frame(world, "N1", k), night1, _square(60.0)) for k in range(2)]
    cover1 += [FrameCoverage("N1b", _frame(world, "N1b", k), night1, _square(60.0)) for k in range(2, 4)]
    cover2 = [FrameCoverage("N2", _frame(world, "N2", k), night2, _square(60.0)) for k in range(3)]
    cover2 += [
        FrameCoverage("N2", f"flights/N2/far_{k}.JPG", night2, _square(150.0, 600.0)) for k in range(7)
    ]
    shed = [
        Sighting("N2", cover2[k].frame_path, "illegal_construction", 0.9, (900.0, 600.0, 1300.0, 900.0),
                 *_at(0.0, 0.0), night2, footprint=_square(4.0), size_m=8.0, position_error_m=3.0)
        for k in (0, 1)
    ]  # fmt: skip
    weak = Sighting("N2", "flights/N2/far_3.JPG", "garbage_pile", 0.7, (10.0, 10.0, 40.0, 40.0),
                    *_at(600.0, 0.0), night2, size_m=3.0, position_error_m=25.0)  # fmt: skip
    with world.app.state.sessions.begin() as s:
        push_sightings(s, [], frames=cover1, categories=load_categories(), data_root=world.data_root)
        push_sightings(
            s, [*shed, weak], frames=cover2, categories=load_categories(), data_root=world.data_root
        )
    with world.app.state.sessions() as s:
        new = s.scalars(
            select(Case).where(Case.class_name == "illegal_construction", Case.new_since.is_not(None))
        )
        low = s.scalars(select(Case).where(Case.low_evidence.is_(True)))
        return new.one().id, low.one().id


def test_case_page_shows_new_since_with_the_before_and_after_frames(
    browser: Any, base_url: str, world: World
) -> None:
    new_id, _ = _seed_change(world)
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto(f"/cases/{new_id}")
    box = page.locator("#evidence-summary")
    assert "新增" in box.inner_text()
    # 2026-10-07 10:00 +08:00 is when night 1 looked; times are the bureau's.
    assert "2026-10-07 10:00" in page.inner_text("#ev-new")
    assert page.inner_text("#ev-seen") == "3 个画面充分覆盖，2 个看到"
    widths = page.eval_on_selector_all(
        "#before-after img", "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))"
    )
    assert len(widths) == 2 and all(w > 0 for w in widths)
    assert "DJI_0001.JPG" in page.inner_text("#before-after")  # the file's name, never a server path
    assert "/flights/" not in page.inner_text("#before-after")
    # The summary sits above the pictures, in view without scrolling at 1360 x 900.
    top = page.eval_on_selector("#evidence-summary", "e => e.getBoundingClientRect().top")
    assert top < 400
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "case-evidence.png"), full_page=False)


def test_low_evidence_cases_wait_in_their_own_view(browser: Any, base_url: str, world: World) -> None:
    _, weak_id = _seed_change(world)
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue")
    ids = [int(x) for x in page.eval_on_selector_all("#queue tbody tr", "rs => rs.map(r => r.dataset.id)")]
    assert weak_id not in ids and ids
    assert page.inner_text("#evidence-low") == "低证据 (1)"
    page.click("#evidence-low")
    page.wait_for_selector("#low-view")
    ids = [int(x) for x in page.eval_on_selector_all("#queue tbody tr", "rs => rs.map(r => r.dataset.id)")]
    assert ids == [weak_id]
    assert "低证据" in page.inner_text("#queue tbody tr")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "queue-low-evidence.png"), full_page=False)


def test_api_and_export_carry_the_evidence(client_as: Any, world: World, tmp_path: Path) -> None:
    new_id, weak_id = _seed_change(world)
    c = client_as("reviewer")
    strong = {x["id"] for x in c.get("/api/cases").json()["cases"]}
    low = {x["id"] for x in c.get("/api/cases?evidence=low").json()["cases"]}
    assert new_id in strong and weak_id not in strong and low == {weak_id}
    assert c.get("/api/cases?evidence=bogus").status_code == 400
    shown = c.get(f"/api/cases/{new_id}").json()
    assert (shown["evidence_seen"], shown["evidence_covered"]) == (2, 3)
    assert shown["new_since"] == "2026-10-07T02:00:00Z"
    assert shown["first_surveyed"] is False and shown["absent_since"] is None


def test_reject_as_legal_remembered_then_a_supervisor_removes_the_zone(
    browser: Any, base_url: str, world: World
) -> None:
    new_id, _ = _seed_change(world)
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto(f"/cases/{new_id}")
    page.check("#remember-legal")
    page.click("#preset-2")  # 误报-合法建筑
    page.wait_for_url(lambda url: f"/cases/{new_id}" not in url)
    assert "排除区 #1" in page.inner_text(".flash")
    with world.app.state.sessions() as s:
        case = s.get(Case, new_id)
        assert case is not None and case.status == "rejected" and case.zone_id == 1
    # The same shed seen again on a third night opens nothing new: it lands inside the zone.
    night3 = "2026-10-09T10:00:00+08:00"
    again = Sighting(
        "N3", "flights/N2/DJI_0001.JPG", "illegal_construction", 0.9, (900.0, 600.0, 1300.0, 900.0),
        *_at(5.0, 0.0), night3, footprint=_square(4.0, 5.0), size_m=8.0, position_error_m=3.0,
    )  # fmt: skip
    with world.app.state.sessions.begin() as s:
        before = s.scalar(select(func.count(Case.id)))
        push_sightings(s, [again], categories=load_categories(), data_root=world.data_root)
        opened = s.scalars(select(Case).where(Case.id > before)).all()
    assert all(c.status == "excluded" for c in opened)
    sup = _page(browser, base_url)
    _sign_in_with_keys(sup, "sup1")
    sup.goto("/zones")
    row = sup.locator("#zones tr[data-id='1']")
    assert "已审批" in row.inner_text() or "合法" in row.inner_text()
    sup.click("#remove-1")
    sup.wait_for_selector("#zones tr.removed[data-id='1']")
    SHOTS.mkdir(parents=True, exist_ok=True)
    sup.screenshot(path=str(SHOTS / "zones.png"), full_page=False)
