"""Case evidence on small, hand-built flights (every test on SQLite and PostgreSQL): which frames covered an
object and which saw it, the confidence that follows, change across flights (new since, first surveyed,
grown, absent, verified cleared, recurrence), exclusion zones, and merging by the sightings' own errors.

Geometry is laid out in east/north metres from one origin, so each expected count is read off the layout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases import lifecycle, zones
from pipeline.cases.categories import CategoryConfig
from pipeline.cases.exports import to_geojson
from pipeline.cases.ingest import PushResult, push_sightings
from pipeline.cases.models import Case, CaseEvent, CaseViewRow, Frame
from pipeline.cases.views import list_cases
from pipeline.types import FrameCoverage, Sighting

Sessions = sessionmaker[Session]
Make = Callable[..., Sighting]
Square = Callable[..., FrameCoverage]
NIGHT1 = "2026-10-05T21:00:00+08:00"
NIGHT2 = "2026-10-06T21:00:00+08:00"
NIGHT3 = "2026-10-07T21:00:00+08:00"


def push(
    sessions: Sessions, cats: CategoryConfig, root: Path, sightings: list[Sighting], **kw: object
) -> PushResult:
    with sessions.begin() as s:
        return push_sightings(s, sightings, categories=cats, data_root=root, **kw)  # type: ignore[arg-type]


def frames(
    square: Square, flight: str, at: str, n: int, east: float = 0.0, half: float = 60.0
) -> list[FrameCoverage]:
    """`n` frames of one flight, each covering a 120 m square around (east, 0) (a hovering survey)."""
    return [
        FrameCoverage(flight, f"{flight}_{k:04d}.JPG", at, square(east + k, 0.0, half).footprint)
        for k in range(n)
    ]


def seen_in(
    sighting: Make, flight: str, at: str, ks: list[int], east: float = 0.0, **kw: object
) -> list[Sighting]:
    return [
        sighting(
            east, 0.0, flight=flight, frame=f"{flight}_{k:04d}.JPG", seen_at=at, position_error_m=3.0, **kw
        )
        for k in ks
    ]


def one_case(sessions: Sessions, **where: object) -> Case:
    with sessions() as s:
        return s.scalars(select(Case).filter_by(**where)).one()


def test_seen_of_covered_and_the_confidence_it_gives(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # Object A at 0 m is seen in 6 of the 7 frames that cover it; object B, 300 m east, in 1 of its 7, by a
    # far oblique view that places it to within 25 m only (the look of a false detection on a distractor).
    cover = frames(square, "F1", NIGHT1, 7) + frames(square, "F1b", NIGHT1, 7, east=300.0, half=120.0)
    cover = [FrameCoverage("F1", c.frame_path, c.seen_at, c.footprint) for c in cover]
    strong = seen_in(sighting, "F1", NIGHT1, [0, 1, 2, 3, 4, 5])
    weak = [
        sighting(
            300.0, 0.0, flight="F1", frame="F1b_0003.JPG", seen_at=NIGHT1, position_error_m=25.0, score=0.7
        )
    ]
    push(sessions, categories, tmp_path, strong + weak, frames=cover)
    a = one_case(sessions, id=1)
    b = one_case(sessions, id=2)
    assert (a.evidence_seen, a.evidence_covered) == (6, 7)
    assert (b.evidence_seen, b.evidence_covered) == (1, 7)
    assert a.confidence is not None and b.confidence is not None and a.confidence > b.confidence
    assert not a.low_evidence and b.low_evidence
    with sessions() as s:
        rows = s.scalars(select(CaseViewRow).where(CaseViewRow.case_id == a.id)).all()
        assert sorted(r.seen for r in rows) == [False] + [True] * 6
        # The queue leaves weak cases out by default and counts them.
        assert [v.id for v in list_cases(s) if not v.low_evidence] == [a.id]


def test_a_frame_that_holds_the_object_near_its_edge_has_not_covered_it(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # Frame 0 is centred on the object; frame 1's edge passes 1 m from it (an 8 m shed cannot be whole there).
    cover = [
        FrameCoverage("F1", "F1_0000.JPG", NIGHT1, square(0, 0, 60).footprint),
        FrameCoverage("F1", "F1_0001.JPG", NIGHT1, square(61, 0, 60).footprint),
    ]
    push(sessions, categories, tmp_path, seen_in(sighting, "F1", NIGHT1, [0]), frames=cover)
    case = one_case(sessions)
    assert (case.evidence_seen, case.evidence_covered) == (1, 1)


def test_new_since_the_last_flight_that_covered_the_ground(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # Night 1 covers the ground around 0 m and sees nothing; night 2 sees a shed there and one 500 m away,
    # on ground no flight had covered before.
    push(
        sessions,
        categories,
        tmp_path,
        [],
        frames=frames(square, "N1", NIGHT1, 3) + frames(square, "N1b", NIGHT1, 2),
    )
    night2 = [
        *frames(square, "N2", NIGHT2, 3),
        FrameCoverage("N2", "far.JPG", NIGHT2, square(500, 0, 60).footprint),
    ]
    far = sighting(500.0, 0.0, flight="N2", frame="far.JPG", seen_at=NIGHT2, position_error_m=3.0)
    push(sessions, categories, tmp_path, [*seen_in(sighting, "N2", NIGHT2, [0, 1, 2]), far], frames=night2)
    new = one_case(sessions, id=1)
    old = one_case(sessions, id=2)
    assert new.new_since is not None and new.new_since.isoformat() == "2026-10-05T13:00:00+00:00"
    assert not new.first_surveyed
    with sessions() as s:
        before = s.get(Frame, new.before_frame_id)
        assert before is not None and before.flight_id in ("N1", "N1b")
        # The earlier flights' looks are evidence too: five views that did not see it.
        views = s.scalars(select(CaseViewRow).where(CaseViewRow.case_id == new.id)).all()
        got = sorted((v.flight_id, v.seen) for v in views)
        assert got == [("N1", False)] * 3 + [("N1b", False)] * 2 + [("N2", True)] * 3
    assert old.new_since is None and old.first_surveyed


def test_too_few_earlier_looks_claim_neither_new_nor_existing(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # Tonight's flight saw it in 1 of its 3 views; one earlier empty view would miss such an object often.
    push(sessions, categories, tmp_path, [], frames=frames(square, "N1", NIGHT1, 1))
    tonight = frames(square, "N2", NIGHT2, 3)
    push(sessions, categories, tmp_path, seen_in(sighting, "N2", NIGHT2, [0]), frames=tonight)
    case = one_case(sessions)
    assert case.new_since is None and not case.first_surveyed


def test_one_earlier_flight_is_not_enough_to_call_it_new(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # Six empty views, but all from one flight (a corridor can miss the same thing in every frame).
    push(sessions, categories, tmp_path, [], frames=frames(square, "N1", NIGHT1, 6))
    tonight = frames(square, "N2", NIGHT2, 3)
    push(sessions, categories, tmp_path, seen_in(sighting, "N2", NIGHT2, [0, 1, 2]), frames=tonight)
    case = one_case(sessions)
    assert case.new_since is None and not case.first_surveyed


def test_a_flight_over_other_ground_does_not_make_an_object_new(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # Night 1's frames hold the object's place only 2 m inside their edge: not an adequate look.
    push(
        sessions,
        categories,
        tmp_path,
        [],
        frames=[FrameCoverage("N1", "a.JPG", NIGHT1, square(58, 0, 60).footprint)],
    )
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N2", NIGHT2, [0]),
        frames=frames(square, "N2", NIGHT2, 1),
    )
    case = one_case(sessions)
    assert case.new_since is None and case.first_surveyed


def test_absent_then_verified_cleared_then_recurrence(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N1", NIGHT1, [0, 1]),
        frames=frames(square, "N1", NIGHT1, 2),
    )
    with sessions.begin() as s:
        case_id = s.scalars(select(Case.id)).one()
        lifecycle.claim_next(s, "wang")
        lifecycle.confirm(s, case_id, "wang")
        lifecycle.dispatch(s, case_id, "li")
        lifecycle.resolve(s, case_id, "li")
    # Night 2's first flight looks properly with 3 frames and does not see it: not seen, but one flight's
    # misses are not independent (a corridor sees nothing behind a building), so not yet absent.
    result = push(sessions, categories, tmp_path, [], frames=frames(square, "N2", NIGHT2, 3))
    assert result.not_seen == 1
    case = one_case(sessions)
    assert case.absent_since is None and case.verified_cleared_at is None
    assert (case.evidence_seen, case.evidence_covered) == (0, 3)
    # A second flight that night misses it too: absent, and the resolved case is verified cleared.
    push(sessions, categories, tmp_path, [], frames=frames(square, "N2b", NIGHT2, 2))
    case = one_case(sessions)
    assert case.absent_since is not None and case.absent_since.isoformat() == "2026-10-06T13:00:00+00:00"
    assert case.verified_cleared_at == case.absent_since
    assert case.status == lifecycle.RESOLVED and not case.recurrence
    # Night 3 sees it again: a recurrence, back with the department, no longer absent.
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N3", NIGHT3, [0]),
        frames=frames(square, "N3", NIGHT3, 1),
    )
    case = one_case(sessions)
    assert case.recurrence and case.absent_since is None and case.status == lifecycle.DISPATCHED
    with sessions() as s:
        actions = s.scalars(select(CaseEvent.action).order_by(CaseEvent.id)).all()
    assert actions[-6:] == ["not_seen", "not_seen", "verified_cleared", "reopen", "recurrence", "sighted"]


def test_not_seen_from_a_flight_older_than_the_last_sighting_says_nothing(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N2", NIGHT2, [0]),
        frames=frames(square, "N2", NIGHT2, 1),
    )
    # Night 1's flight, pushed late, covered the place and saw nothing: it was not there yet.
    result = push(sessions, categories, tmp_path, [], frames=frames(square, "N1", NIGHT1, 2))
    assert result.not_seen == 0
    assert one_case(sessions).absent_since is None


def test_closed_case_seen_again_is_a_linked_recurrence(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N1", NIGHT1, [0]),
        frames=frames(square, "N1", NIGHT1, 1),
    )
    with sessions.begin() as s:
        lifecycle.claim_next(s, "wang")
        lifecycle.confirm(s, 1, "wang")
        lifecycle.dispatch(s, 1, "li")
        lifecycle.resolve(s, 1, "li")
        lifecycle.close(s, 1, "li")
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N2", NIGHT2, [0]),
        frames=frames(square, "N2", NIGHT2, 1),
    )
    again = one_case(sessions, id=2)
    assert again.previous_case_id == 1 and again.recurrence and again.status == lifecycle.NEW


def test_grown_when_the_area_is_up_by_half(
    sessions: Sessions,
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Make,
    square: Square,
    at: Callable[..., tuple[float, float]],
) -> None:
    def box(half: float) -> tuple[tuple[float, float], ...]:
        return tuple(at(e, n) for e, n in ((-half, -half), (half, -half), (half, half), (-half, half)))

    push(sessions, categories, tmp_path, seen_in(sighting, "N1", NIGHT1, [0], footprint=box(2.0)))  # 16 m2
    push(sessions, categories, tmp_path, seen_in(sighting, "N2", NIGHT2, [0], footprint=box(2.2)))  # 19 m2
    assert not one_case(sessions).grown
    push(sessions, categories, tmp_path, seen_in(sighting, "N3", NIGHT3, [0], footprint=box(3.0)))  # 36 m2
    case = one_case(sessions)
    assert case.grown
    assert case.area_first_m2 is not None and abs(case.area_first_m2 - 16.0) < 0.1
    with sessions() as s:
        assert s.scalars(select(CaseEvent.action).where(CaseEvent.action == "grown")).all() == ["grown"]


def test_zone_keeps_sightings_as_evidence_and_raises_no_case(
    sessions: Sessions,
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Make,
    at: Callable[..., tuple[float, float]],
) -> None:
    yard = [[*reversed(at(e, n))] for e, n in ((-20, -20), (20, -20), (20, 20), (-20, 20), (-20, -20))]
    feature = {"type": "Feature", "properties": {"name": "建材堆场"}}
    feature["geometry"] = {"type": "Polygon", "coordinates": [yard]}
    text = json.dumps({"type": "FeatureCollection", "features": [feature]})
    shapes = zones.parse_zones(text, "yard.geojson")
    with sessions.begin() as s:
        zone = zones.add_zone(
            s, shapes[0], "合法堆场", "admin", lifecycle.utcnow(), class_name="garbage_pile"
        )
        zone_id = zone.id
    inside = seen_in(sighting, "N1", NIGHT1, [0], cls="garbage_pile")
    other_class = seen_in(sighting, "N1", NIGHT1, [1], cls="illegal_construction")
    outside = seen_in(sighting, "N1", NIGHT1, [2], east=100.0, cls="garbage_pile")
    push(sessions, categories, tmp_path, inside + other_class + outside)
    with sessions() as s:
        got = {(c.class_name, c.status, c.zone_id) for c in s.scalars(select(Case))}
    assert got == {
        ("garbage_pile", "excluded", zone_id),
        ("illegal_construction", "new", None),
        ("garbage_pile", "new", None),
    }
    # Removed, the zone stops excluding: the next sighting makes the case an ordinary one.
    with sessions.begin() as s:
        zones.remove_zone(s, zone_id, "supervisor", lifecycle.utcnow())
    push(sessions, categories, tmp_path, seen_in(sighting, "N2", NIGHT2, [0], cls="garbage_pile"))
    assert one_case(sessions, zone_id=zone_id).status == lifecycle.NEW


def test_rejected_as_legal_and_remembered_raises_nothing_again(
    sessions: Sessions,
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Make,
    at: Callable[..., tuple[float, float]],
) -> None:
    shed = tuple(at(e, n) for e, n in ((-4, -3), (4, -3), (4, 3), (-4, 3)))
    push(sessions, categories, tmp_path, seen_in(sighting, "N1", NIGHT1, [0], footprint=shed))
    with sessions.begin() as s:
        lifecycle.claim_next(s, "wang")
        case = lifecycle.reject(s, 1, "wang", "合法建筑 (已审批)")
        zone = zones.remember_case(s, case, "wang", "已审批", lifecycle.utcnow())
        assert zone.class_name == "illegal_construction" and zone.source_case_id == 1
    # The same shed, placed 6 m off by a later flight: beyond the merge radius of the rejected case
    # (0.35 x hypot(3, 3) + 4 = 5.5 m) but inside the remembered ground (its 8 m footprint widened by 3 m),
    # so it lands on an excluded case, not a new one.
    push(sessions, categories, tmp_path, seen_in(sighting, "N2", NIGHT2, [0], east=6.0, footprint=shed))
    with sessions() as s:
        statuses = sorted(c.status for c in s.scalars(select(Case)))
    assert statuses == ["excluded", "rejected"]


def test_merge_radius_follows_the_sightings_errors(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make
) -> None:
    # Two 4 m garbage piles 7 m apart, each placed to within 2 m (nadir, low): two objects.
    precise = [
        sighting(0.0, 0.0, frame="a.JPG", cls="garbage_pile", size_m=4.0, position_error_m=2.0),
        sighting(7.0, 0.0, frame="b.JPG", cls="garbage_pile", size_m=4.0, position_error_m=2.0),
    ]
    # One pile seen from far oblique ranges, placed 7 m apart by two frames each good to 12 m: one object.
    vague = [
        sighting(0.0, 300.0, frame="c.JPG", cls="garbage_pile", size_m=4.0, position_error_m=12.0),
        sighting(7.0, 300.0, frame="d.JPG", cls="garbage_pile", size_m=4.0, position_error_m=12.0),
    ]
    push(sessions, categories, tmp_path, precise + vague)
    with sessions() as s:
        cases = s.scalars(select(Case).order_by(Case.id)).all()
        assert [c.sightings_count for c in cases] == [1, 1, 2]


def test_exports_carry_the_evidence(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    push(
        sessions,
        categories,
        tmp_path,
        [],
        frames=frames(square, "N1", NIGHT1, 2) + frames(square, "N1b", NIGHT1, 2),
    )
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N2", NIGHT2, [0, 1]),
        frames=frames(square, "N2", NIGHT2, 3),
    )
    with sessions() as s:
        props = json.loads(to_geojson(list_cases(s)))["features"][0]["properties"]
    assert (props["evidence_seen"], props["evidence_covered"]) == (2, 3)
    assert props["new_since"] == "2026-10-05T13:00:00Z"
    assert props["absent_since"] is None
    assert 0.0 < props["position_error_m"] <= 3.0


def test_a_flight_pushed_again_with_corrected_telemetry_moves_its_case(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    # The first push placed the shed 60 m off (a bad SRT); the corrected one places the same boxes right.
    wrong = [sighting(60.0, 0.0, frame=f"F1_{k:04d}.JPG", position_error_m=3.0) for k in range(2)]
    right = [sighting(0.0, 0.0, frame=f"F1_{k:04d}.JPG", position_error_m=3.0) for k in range(2)]
    push(sessions, categories, tmp_path, wrong)
    push(sessions, categories, tmp_path, wrong)  # the same records again: nothing changes
    with sessions() as s:
        assert [(c.id, c.sightings_count) for c in s.scalars(select(Case))] == [(1, 2)]
    push(sessions, categories, tmp_path, right)
    old, new = one_case(sessions, id=1), one_case(sessions, id=2)
    assert (new.status, new.sightings_count) == (lifecycle.NEW, 2)
    assert (old.status, old.duplicate_of_id, old.sightings_count) == (lifecycle.DUPLICATE, 2, 0)
    with sessions() as s:
        assert s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == 1)).all()[-1] == "superseded"


def test_a_reviewed_case_keeps_its_state_when_its_sightings_move(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make
) -> None:
    wrong = [sighting(60.0, 0.0, frame="F1_0000.JPG"), sighting(61.0, 0.0, frame="F1_0001.JPG")]
    push(sessions, categories, tmp_path, wrong)
    with sessions.begin() as s:
        lifecycle.claim_next(s, "wang")
        lifecycle.confirm(s, 1, "wang")
    # Only the second frame's placement changed.
    push(sessions, categories, tmp_path, [wrong[0], sighting(0.0, 0.0, frame="F1_0001.JPG")])
    old = one_case(sessions, id=1)
    assert (old.status, old.sightings_count) == (lifecycle.CONFIRMED, 1)
    assert one_case(sessions, id=2).sightings_count == 1


def test_an_older_flight_pushed_late_adds_views_but_not_the_latest_counts(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Make, square: Square
) -> None:
    night2 = frames(square, "N2", NIGHT2, 3)
    push(sessions, categories, tmp_path, seen_in(sighting, "N2", NIGHT2, [0, 1, 2]), frames=night2)
    # Night 1's flight arrives afterwards: it saw the shed in 1 of its 4 views.
    push(
        sessions,
        categories,
        tmp_path,
        seen_in(sighting, "N1", NIGHT1, [0]),
        frames=frames(square, "N1", NIGHT1, 4),
    )
    case = one_case(sessions)
    assert (case.evidence_seen, case.evidence_covered) == (3, 3)
    with sessions() as s:
        views = s.scalars(select(CaseViewRow).where(CaseViewRow.case_id == case.id)).all()
    assert (
        sorted((v.flight_id, v.seen) for v in views)
        == [("N1", False)] * 3 + [("N1", True)] + [("N2", True)] * 3
    )
