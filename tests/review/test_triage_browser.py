"""Issue 13 in the real browser: triage in the queue's order with one key per case, undo, preset reasons,
claims held by others, "我的", supervisors' dispatch; local time; Chinese throughout; the evidence viewer.

Each test starts from the seeded world (tests/review/conftest.py) and reads its expected values from the
database or the page's pixels, never from the code under test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pipeline.cases.categories import load_categories
from pipeline.cases.ingest import push_sightings
from pipeline.cases.models import Case, CaseEvent, OutboxMessage, SightingRow
from pipeline.cases.users import add_user
from pipeline.types import Sighting
from tests.review.conftest import PASSWORD, World
from tests.review.test_browser import SHOTS, _page, _sign_in_with_keys

pytestmark = pytest.mark.slow
PRIORITY = (
    Case.confidence.is_(None),
    Case.confidence.desc(),
    Case.flights_count.desc(),
    Case.score.desc(),
    Case.first_seen,
    Case.id,
)


def _cases(world: World, *where: Any, order: Any = PRIORITY) -> list[Case]:
    with world.app.state.sessions() as s:
        return list(s.scalars(select(Case).where(*where).order_by(*order)))


def _case_id(page: Any) -> int:
    m = re.search(r"/cases/(\d+)", page.url)
    assert m, page.url
    return int(m.group(1))


def _events(world: World, case_id: int) -> list[tuple[str, str, str | None]]:
    with world.app.state.sessions() as s:
        rows = s.execute(
            select(CaseEvent.action, CaseEvent.actor, CaseEvent.note)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_one_key_per_case_in_the_order_and_filter_shown(browser: Any, base_url: str, world: World) -> None:
    garbage = _cases(
        world, Case.class_name == "garbage_pile", Case.status == "new", order=(Case.score.desc(), Case.id)
    )
    assert len(garbage) >= 3, "the seeded world has garbage piles to triage"
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue?status=open&class=garbage_pile&sort=score")
    first_row = page.locator("#queue tbody tr").first.get_attribute("data-id")
    assert int(first_row or 0) == garbage[0].id
    assert f"待领取 {len(garbage)} 件" in page.inner_text("#left")

    page.keyboard.press("n")  # the first case of this view, not the lowest id of the whole queue
    page.wait_for_url(re.compile(r"/cases/\d+"))
    assert _case_id(page) == garbage[0].id
    assert "class=garbage_pile" in page.url and "sort=score" in page.url
    assert page.locator("#case-status").inner_text() == "审核中"

    seen = [garbage[0].id]
    for _ in range(2):  # one key per case: the verdict itself moves on to the next case of the view
        before = page.url
        page.keyboard.press("c")
        page.wait_for_url(lambda url, b=before: url != b and "/cases/" in url)
        seen.append(_case_id(page))
        left = len(garbage) - len(seen)
        assert f"还剩 {left} 件" in page.inner_text(".flash")
    assert seen == [c.id for c in garbage[:3]]
    with world.app.state.sessions() as s:
        states = {c.id: c.status for c in s.scalars(select(Case).where(Case.id.in_(seen)))}
    assert states == {seen[0]: "confirmed", seen[1]: "confirmed", seen[2]: "in_review"}
    page.screenshot(path=str(SHOTS / "triage.png"))


def test_undo_by_its_reviewer_and_reopen_by_a_supervisor(browser: Any, base_url: str, world: World) -> None:
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    first = _case_id(page)
    page.keyboard.press("c")
    page.wait_for_url(lambda url: f"/cases/{first}" not in url)
    second = _case_id(page)
    assert page.locator("#act-undo").is_visible()

    page.keyboard.press("z")  # take the confirm back: the case is mine to review again
    page.wait_for_url(re.compile(rf"/cases/{first}(\?|$)"))
    assert page.locator("#case-status").inner_text() == "审核中"
    actions = [a for a, _, _ in _events(world, first)]
    assert actions[-2:] == ["confirm", "undo"]
    assert "撤销结论" in page.inner_text("#history")
    with world.app.state.sessions() as s:
        held = s.get(Case, second)
        assert held is not None and held.status == "new" and held.claimed_by is None  # the next one let go
        # the confirm never reached the city: its outbox message is withdrawn, nothing corrects it
        states = s.scalars(select(OutboxMessage.state).where(OutboxMessage.case_id == first)).all()
        assert list(states) == ["cancelled"]

    page.keyboard.press("c")
    page.wait_for_url(lambda url: f"/cases/{first}" not in url)
    with world.app.state.sessions.begin() as s:  # the city received this confirm
        for msg in s.scalars(select(OutboxMessage).where(OutboxMessage.case_id == first)):
            if msg.state == "pending":
                msg.state, msg.sent_at = "sent", datetime.now(UTC)
        # and the undo window has passed
        for ev in s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == first, CaseEvent.action == "confirm")
        ):
            ev.at = ev.at - timedelta(minutes=30)
    page.goto(f"/cases/{first}")
    assert page.locator("#act-undo").count() == 0  # too late for the reviewer

    sup = _page(browser, base_url)
    _sign_in_with_keys(sup, "sup1")
    sup.goto(f"/cases/{first}")
    sup.click("#act-reopen_review button")
    sup.wait_for_selector("#case-status.st-new")
    assert "重新打开审核" in sup.inner_text("#history")
    with world.app.state.sessions() as s:
        last = s.scalars(
            select(OutboxMessage).where(OutboxMessage.case_id == first).order_by(OutboxMessage.id.desc())
        ).first()
        assert last is not None and last.state == "pending"  # a correcting event for the city
        assert last.payload["event"]["action"] == "reopen_review"
        assert last.payload["request"]["patrol_status"] == "new"


def test_preset_reasons_by_number_and_an_empty_reason_keeps_the_cursor(
    browser: Any, base_url: str, world: World
) -> None:
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    first = _case_id(page)
    page.keyboard.press("r")
    page.keyboard.press("Enter")  # no reason: nothing is sent, the cursor stays in the box
    page.wait_for_timeout(300)
    assert _case_id(page) == first
    assert page.evaluate("document.activeElement.id") == "reason"
    page.keyboard.press("Escape")
    page.screenshot(path=str(SHOTS / "case-reasons.png"))
    page.keyboard.press("2")  # 误报-合法建筑
    page.wait_for_url(lambda url: f"/cases/{first}" not in url)
    with world.app.state.sessions() as s:
        case = s.get(Case, first)
        assert case is not None and case.status == "rejected" and case.reason == "误报-合法建筑"


def test_a_case_claimed_by_someone_else_mine_and_the_visible_expiry(
    browser: Any, base_url: str, world: World
) -> None:
    with world.app.state.sessions.begin() as s:
        add_user(s, "rev2", "reviewer", display_name="李四", password=PASSWORD)
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    held = _case_id(page)
    assert re.search(r"剩余 1[45] 分钟", page.inner_text("#claim-info"))
    page.goto("/queue?mine=1")
    ids = [int(x) for x in page.locator("#queue tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)")]
    assert ids == [held]
    assert "我的 (1)" in page.inner_text("#mine")

    other = _page(browser, base_url)
    _sign_in_with_keys(other, "rev2")
    other.goto(f"/cases/{held}")
    assert "正由 reviewer 王 审核" in other.inner_text("#claim-info")
    assert other.locator("#act-confirm").count() == 0 and other.locator("#act-reject").count() == 0
    other.screenshot(path=str(SHOTS / "case-held.png"))

    # rev2 opened the case before rev1 took it: the late confirm is refused, in Chinese, as a 409
    with world.app.state.sessions.begin() as s:
        free = s.scalars(select(Case).where(Case.status == "new").order_by(Case.id)).first()
        assert free is not None
        free_id = free.id
    other.goto(f"/cases/{free_id}")
    page.goto(f"/cases/{free_id}")
    page.click("#act-claim button")
    page.wait_for_selector("#claim-info.mine")
    with other.expect_response(lambda r: r.request.method == "POST") as answer:
        other.keyboard.press("c")
    assert answer.value.status == 409
    other.wait_for_selector("#race")
    assert "此案件正由 reviewer 王 审核" in other.inner_text("#race")

    # a claim past its lease shows as expired, and is claimable again
    with world.app.state.sessions.begin() as s:
        case = s.get(Case, held)
        assert case is not None
        case.lease_expires_at = datetime.now(UTC) - timedelta(minutes=1)
    other.goto(f"/cases/{held}")
    assert "过期" in other.inner_text("#claim-info")
    assert other.locator("#act-confirm").count() == 1


def test_supervisor_dispatches_with_department_deadline_and_in_bulk(
    browser: Any, base_url: str, world: World
) -> None:
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    confirmed = []
    for _ in range(3):
        confirmed.append(_case_id(page))
        before = page.url
        page.keyboard.press("c")
        page.wait_for_url(lambda url, b=before: url != b)

    sup = _page(browser, base_url)
    _sign_in_with_keys(sup, "sup1")
    sup.goto(f"/cases/{confirmed[0]}")
    sup.keyboard.press("p")
    assert sup.evaluate("document.activeElement.id") == "dispatch-dept"
    sup.select_option("#dispatch-dept", "环卫所")
    sup.fill("#dispatch-due", "2026-10-09")
    sup.focus("#dispatch-dept")
    sup.keyboard.press("Enter")
    sup.wait_for_selector("#case-status.st-dispatched")
    sup.wait_for_load_state()
    assert "环卫所" in sup.inner_text("#dispatch-info") and "2026-10-09" in sup.inner_text("#dispatch-info")
    with world.app.state.sessions() as s:
        msg = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.case_id == confirmed[0])
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert msg is not None
        assert msg.payload["request"]["agency_responsible"] == "环卫所"
        assert msg.payload["request"]["expected_datetime"] == "2026-10-09"
    sup.keyboard.press("v")
    sup.wait_for_selector("#case-status.st-resolved")
    sup.wait_for_load_state()  # the keys listen once the page's scripts have run
    sup.keyboard.press("x")
    sup.wait_for_selector("#case-status.st-closed")

    sup.goto("/queue?status=confirmed")
    for cid in confirmed[1:]:
        sup.check(f"input[name=ids][value='{cid}']")
    sup.select_option("#bulk-dispatch select[name=department]", "城管执法二中队")
    sup.screenshot(path=str(SHOTS / "bulk-dispatch.png"))
    sup.click("#bulk-dispatch button[type=submit]")
    sup.wait_for_selector(".flash")
    assert "已派遣 2 件" in sup.inner_text(".flash")
    with world.app.state.sessions() as s:
        states = [s.get(Case, cid).status for cid in confirmed[1:]]  # type: ignore[union-attr]
    assert states == ["dispatched", "dispatched"]


def _night_sighting(world: World) -> int:
    """A garbage pile photographed at 01:11 Beijing time on 7 October (17:11 UTC on the 6th)."""
    with world.app.state.sessions.begin() as s:
        push_sightings(
            s,
            [
                Sighting(
                    flight_id="F9",
                    frame_path="flights/F1/DJI_0001.JPG",
                    class_name="garbage_pile",
                    score=0.91,
                    xyxy_px=(10.0, 10.0, 60.0, 60.0),
                    lat=23.05,
                    lon=113.80,
                    seen_at="2026-10-07T01:11:00+08:00",
                )
            ],
            categories=load_categories(),
            data_root=world.data_root,
        )
        return max(c.id for c in s.scalars(select(Case)))


def test_times_in_the_bureaus_zone_and_date_filters_on_the_same_days(
    browser: Any, base_url: str, world: World
) -> None:
    night = _night_sighting(world)
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/queue?status=all&since=2026-10-07&until=2026-10-07")
    ids = page.locator("#queue tbody tr").evaluate_all("rs => rs.map(r => Number(r.dataset.id))")
    assert ids == [night]  # its local day, although in UTC it was still the 6th
    assert "2026-10-07 01:11" in page.inner_text("#queue")
    assert "北京时间" in page.inner_text(".zone")
    page.goto("/queue?status=all&since=2026-10-06&until=2026-10-06")
    ids = page.locator("#queue tbody tr").evaluate_all("rs => rs.map(r => Number(r.dataset.id))")
    assert night not in ids
    page.goto(f"/cases/{night}")
    assert page.inner_text("#last-seen") == "2026-10-07 01:11"


def test_chinese_throughout_and_no_server_paths(browser: Any, base_url: str, world: World) -> None:
    with world.app.state.sessions.begin() as s:
        case = s.scalars(select(Case).order_by(Case.id)).first()
        assert case is not None
        s.add(
            CaseEvent(
                case_id=case.id,
                at=datetime.now(UTC),
                actor="patrol",
                action="not_seen",
                flight_id="F2",
                note=f"covered by {world.data_root}/flights/F2/DJI_0002.JPG and not seen",
            )
        )
        case_id = case.id
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto(f"/cases/{case_id}")
    page.click("#act-claim button")
    page.wait_for_selector("#claim-info.mine")
    history = page.inner_text("#history")
    for word in ("系统立案", "系统（巡查流程）", "领取", "复查未发现", "reviewer 王"):
        assert word in history, word
    for english in ("open", "claim", "not_seen", "patrol", "covered by"):
        assert not re.search(rf"\b{english}\b", history), english
    body = page.inner_text("body")
    assert str(world.data_root) not in body and "/tmp" not in body
    assert "DJI_0002.JPG" in history
    page.goto("/cases/999999")
    assert "未找到" in page.inner_text("main")
    page.goto("/queue?since=yesterday")
    assert "请求有误" in page.inner_text("main") or "日期" in page.inner_text("main")
    page.goto(f"/cases/{case_id}?lang=en")
    assert "claimed" in page.inner_text("#history")


def test_evidence_large_first_with_the_box_in_view(browser: Any, base_url: str, world: World) -> None:
    case = _cases(world, Case.class_name == "garbage_pile", order=(Case.id,))[0]
    with world.app.state.sessions.begin() as s:  # seen again by the second flight, in another frame
        push_sightings(
            s,
            [
                Sighting(
                    flight_id="F2",
                    frame_path="flights/F2/DJI_0002.JPG",
                    class_name=case.class_name,
                    score=0.5,
                    xyxy_px=(400.0, 300.0, 470.0, 360.0),
                    lat=case.lat,
                    lon=case.lon,
                    seen_at="2026-10-08T09:00:00+08:00",
                )
            ],
            categories=load_categories(),
            data_root=world.data_root,
        )
    case = _cases(world, Case.id == case.id)[0]
    assert case.sightings_count == 2
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", base_url=base_url)
    page = context.new_page()
    _sign_in_with_keys(page, "rev1")
    page.goto(f"/cases/{case.id}")
    page.wait_for_function(
        "() => { const b = document.querySelector('.stage .box'); return b && !b.hidden; }"
    )
    crop = page.locator("#crop-img").bounding_box()
    natural = page.evaluate(
        "() => { const i = document.getElementById('crop-img'); return [i.naturalWidth, i.naturalHeight]; }"
    )
    shown_scale = min(crop["width"] / natural[0], crop["height"] / natural[1])
    assert shown_scale > 1.5, (crop, natural)  # the crop is scaled up, not shown at its own ~100 px
    port = page.locator("#viewport").bounding_box()
    box = page.locator(".stage .box").bounding_box()
    assert port["y"] + port["height"] <= 768, "the frame viewer is above the fold"
    assert port["x"] <= box["x"] and box["x"] + box["width"] <= port["x"] + port["width"]
    assert port["y"] <= box["y"] and box["y"] + box["height"] <= port["y"] + port["height"]
    assert box["width"] >= port["width"] / 6  # large enough to judge
    page.screenshot(path=str(SHOTS / "case.png"))

    before = page.evaluate("window.patrolViewer.state().s")
    page.click("#zoom-in")
    assert page.evaluate("window.patrolViewer.state().s") > before
    page.keyboard.press("0")
    assert page.evaluate("window.patrolViewer.state().s") < before
    href = page.get_attribute("#full-res", "href")
    assert href and href.startswith("/files/")
    full = page.request.get(href)
    assert full.status == 200 and full.headers["content-type"] == "image/jpeg"

    thumbs = page.locator("#sightings-strip .sighting")
    assert thumbs.count() == case.sightings_count
    for k in range(thumbs.count()):
        thumbs.nth(k).click()
        want = thumbs.nth(k).get_attribute("data-frame")
        page.wait_for_function(
            "(src) => document.getElementById('frame-img').getAttribute('src') === src", arg=want
        )
    context.close()


def _many_cases(world: World, n: int) -> None:
    """`n` garbage piles spread over about 6 x 6 km of Dongguan, in every state the map shows."""
    from sqlalchemy import insert

    now = datetime(2026, 10, 6, 2, 0, tzinfo=UTC)
    states = ("new", "in_review", "confirmed", "dispatched", "resolved")
    rows = [
        {
            "class_name": "garbage_pile",
            "service_code": "0102",
            "service_name": "暴露垃圾",
            "category": "市容环境",
            "status": states[i % len(states)],
            "lat": 23.00 + (i * 7919 % 1000) / 1000 * 0.055,
            "lon": 113.72 + (i * 104729 % 1000) / 1000 * 0.06,
            "grid_key": 10_000 + i,
            "score": 0.5,
            "first_seen": now,
            "last_seen": now,
            "sightings_count": 1,
            "flights_count": 1,
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for i in range(n)
    ]
    with world.app.state.sessions.begin() as s:
        s.execute(insert(Case), rows)


def test_the_map_clusters_every_case_with_a_legend_filters_and_footprints(
    browser: Any, base_url: str, world: World
) -> None:
    from pipeline.cases.models import Frame

    _many_cases(world, 2000)
    shown = ("new", "in_review", "confirmed", "dispatched", "resolved")
    total = len(_cases(world, Case.status.in_(shown)))
    with world.app.state.sessions.begin() as s:  # the frames of flight F1 with their ground footprints
        frames = list(s.scalars(select(Frame).where(Frame.flight_id == "F1")))
        for k, fr in enumerate(frames):
            lat, lon = 23.0205 + 0.002 * k, 113.7518
            fr.footprint = [[lat, lon], [lat, lon + 0.002], [lat + 0.0015, lon + 0.002], [lat + 0.0015, lon]]
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "rev1")
    page.goto("/map")
    page.wait_for_function("() => Number(document.getElementById('map').dataset.drawn) > 0")
    assert f"共 {total} 件，全部显示" in page.inner_text("#map-count")
    counts = page.locator(".cluster").evaluate_all("cs => cs.map(c => Number(c.textContent))")
    singles = page.locator("path.leaflet-interactive[stroke-dasharray]").count()
    markers = page.locator("path.leaflet-interactive").count() - len(frames)  # minus the footprints
    assert counts and sum(counts) + (markers - singles) == total  # every case in a cluster or on its own
    assert len(counts) < 300  # gathered, not 2,000 overlapping dots
    legend = page.inner_text("#legend")
    for word in ("新发现", "审核中", "已立案", "已派遣", "已处置", "照片覆盖范围"):
        assert word in legend, word
    page.screenshot(path=str(SHOTS / "map.png"))

    page.goto("/map?status=new&flight=F1")
    page.wait_for_function("() => document.getElementById('map').dataset.drawn !== undefined")
    in_f1 = select(SightingRow.case_id).where(SightingRow.flight_id == "F1")
    want = len(_cases(world, Case.status == "new", Case.id.in_(in_f1)))
    assert f"共 {want} 件" in page.inner_text("#map-count")
    assert f"{len(frames)} 张照片的拍摄范围（航次 F1）" in page.inner_text("#map-count")


@pytest.mark.parametrize("where", ["/queue", "/cases/1", "/map", "/flights", "/upload"])
def test_phone_width_is_usable(browser: Any, base_url: str, where: str) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", base_url=base_url, is_mobile=True
    )
    page = context.new_page()
    _sign_in_with_keys(page, "sup1")
    page.goto(where)
    page.wait_for_load_state()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{where} is {width} px wide on a 390 px screen"
    header = page.locator("header.top").bounding_box()
    assert header["height"] < 110  # two rows at most, not a column of single characters
    heights = page.locator("header.top nav a").evaluate_all(
        "as => as.map(a => a.getBoundingClientRect().height)"
    )
    assert max(heights) < 32  # each link on one line
    if where == "/queue":
        first = page.locator("#queue tbody tr").first.bounding_box()
        assert first["x"] >= 0 and first["x"] + first["width"] <= 390
    if where == "/cases/1":
        assert page.locator("#act-confirm button").is_visible()
        page.screenshot(path=str(SHOTS / "phone-case.png"), full_page=False)
    if where == "/queue":
        page.screenshot(path=str(SHOTS / "phone-queue.png"), full_page=False)
    context.close()
