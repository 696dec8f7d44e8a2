"""What the queue knows about where frames looked: coverage cells, the frames that covered each case, and the
evidence and change tags computed from them (see pipeline.cases.ingest for when each is called).

"Covered adequately" is a frame's searched ground (pipeline.process.coverage_for: within range, fine enough
ground resolution, pose usable) holding the object at least a margin inside its edge
(dedupe.MergeRule.coverage_margin_m). Each (case, frame) pair that covered a case is one `case_views` row,
with whether that frame saw it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case as when
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pipeline import dedupe, geo
from pipeline.cases.evidence_rule import DEFAULT_RULE, EvidenceRule
from pipeline.cases.models import Case, CaseViewRow, CoverageCell, Frame, SightingRow
from pipeline.position_error import combined_error_m

# Coverage cells are ten grid cells a side (about 550 m): a frame's searched ground touches one to four of
# them, so the index stays small while a point's lookup is a single key.
COVERAGE_GRID_DEG = dedupe.GRID_DEG * 10
_ROW = 1_000_000
# An area up by more than this factor since the object was first seen is "grown" (扩大). Box footprints
# of one object vary by ~20-30 % between views; 1.5 is well clear of that.
GROWN_FACTOR = 1.5
# "Absent" needs the looks since the last sighting to make a miss of a present object this unlikely. A
# detector misses a real object in some views (far, oblique, half hidden), so one empty frame proves
# little; how often this object was seen when covered before says how much each empty look weighs.
ABSENT_MISS_P = 0.05
# "New since" needs the earlier looks that did not see it to have been as unlikely to miss it.
NEW_MISS_P = 0.05
EARLIER_FRAMES = 400  # of a coverage cell, latest first: a few nights of mapping flights over it
_CHUNK = 500


def coverage_cell(lat: float, lon: float) -> int:
    row = math.floor((lat + 90.0) / COVERAGE_GRID_DEG)
    col = math.floor((lon + 180.0) / COVERAGE_GRID_DEG)
    return row * _ROW + col


def footprint_cells(footprint: Sequence[Sequence[float]]) -> set[int]:
    lats = [p[0] for p in footprint]
    lons = [p[1] for p in footprint]
    r0 = math.floor((min(lats) + 90.0) / COVERAGE_GRID_DEG)
    r1 = math.floor((max(lats) + 90.0) / COVERAGE_GRID_DEG)
    c0 = math.floor((min(lons) + 180.0) / COVERAGE_GRID_DEG)
    c1 = math.floor((max(lons) + 180.0) / COVERAGE_GRID_DEG)
    return {r * _ROW + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}


def index_frames(session: Session, frames: Iterable[Frame]) -> None:
    """(Re)write the coverage cells of frames whose footprint is known."""
    todo = [f for f in frames if f.footprint and len(f.footprint) >= 3]
    if not todo:
        return
    ids = [f.id for f in todo]
    for i in range(0, len(ids), _CHUNK):
        session.execute(delete(CoverageCell).where(CoverageCell.frame_id.in_(ids[i : i + _CHUNK])))
    session.add_all(
        CoverageCell(cell=cell, frame_id=f.id)
        for f in todo
        for cell in sorted(footprint_cells(f.footprint or []))
    )
    session.flush()


def frames_covering(
    session: Session,
    lat: float,
    lon: float,
    margin_m: float,
    *,
    not_flight: str | None = None,
    before: datetime | None = None,
) -> list[Frame]:
    """Frames of other flights, earlier than `before`, that covered (lat, lon) adequately; latest first.
    Only the latest EARLIER_FRAMES of its coverage cell are read: a year of nightly flights over one place
    would otherwise load thousands of footprints for every new object, and only the latest looks decide."""
    query = (
        select(Frame)
        .join(CoverageCell, CoverageCell.frame_id == Frame.id)
        .where(CoverageCell.cell == coverage_cell(lat, lon))
    )
    if not_flight is not None:
        query = query.where(Frame.flight_id != not_flight)
    if before is not None:
        query = query.where(Frame.seen_at < before)
    query = query.order_by(Frame.seen_at.desc(), Frame.id.desc()).limit(EARLIER_FRAMES)
    frames = list(session.scalars(query))
    hits = dedupe.covering(lat, lon, margin_m, [[tuple(p) for p in f.footprint or ()] for f in frames])
    out = [frames[i] for i in hits]
    out.sort(key=lambda f: (f.seen_at is not None, f.seen_at, f.id), reverse=True)
    return out


def record_views(
    session: Session, case: Case, flight_id: str, covered: Sequence[Frame], seen_frame_ids: set[int]
) -> tuple[int, int]:
    """One row per frame that covered the case (seen or not); a row seen once stays seen. Returns
    (seen, covered) among these frames."""
    ids = [f.id for f in covered]
    old = {
        v.frame_id: v
        for v in session.scalars(
            select(CaseViewRow).where(CaseViewRow.case_id == case.id, CaseViewRow.frame_id.in_(ids))
        )
    }
    seen = 0
    for frame in covered:
        was = old.get(frame.id)
        now_seen = frame.id in seen_frame_ids
        if was is None:
            session.add(CaseViewRow(case_id=case.id, frame_id=frame.id, flight_id=flight_id, seen=now_seen))
        elif now_seen and not was.seen:
            was.seen = True
        seen += 1 if (now_seen or (was is not None and was.seen)) else 0
    return seen, len(covered)


def group_area_m2(group: dedupe.SightingGroup) -> float | None:
    """The object's ground area in this flight: the median of its sightings' box footprints."""
    areas = sorted(geo.polygon_area_m2(s.footprint) for s in group.sightings if len(s.footprint) >= 3)
    if not areas:
        return None
    mid = len(areas) // 2
    return areas[mid] if len(areas) % 2 else 0.5 * (areas[mid - 1] + areas[mid])


def note_area(case: Case, area_m2: float | None, fresh: bool) -> bool:
    """Record this flight's area; True when the case has just become "grown"."""
    if area_m2 is None:
        return False
    if fresh or case.area_first_m2 is None:
        case.area_first_m2 = area_m2
    case.area_last_m2 = area_m2
    was = case.grown
    case.grown = case.area_first_m2 > 0 and area_m2 > GROWN_FACTOR * case.area_first_m2
    return case.grown and not was


def refresh_evidence(session: Session, cases: Sequence[Case], rule: EvidenceRule = DEFAULT_RULE) -> None:
    """Confidence, low-evidence flag and position error of cases from all their views and sightings."""
    ids = [c.id for c in cases]
    totals: dict[int, tuple[int, int]] = {}
    errors: dict[int, dict[str, list[float]]] = defaultdict(dict)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        seen_sum = func.sum(when((CaseViewRow.seen, 1), else_=0))
        for case_id, seen, covered in session.execute(
            select(CaseViewRow.case_id, seen_sum, func.count())
            .where(CaseViewRow.case_id.in_(chunk))
            .group_by(CaseViewRow.case_id)
        ):
            totals[case_id] = (int(seen or 0), int(covered))
        for case_id, flight_id, best in session.execute(
            select(SightingRow.case_id, SightingRow.flight_id, func.min(SightingRow.position_error_m))
            .where(SightingRow.case_id.in_(chunk), SightingRow.position_error_m.is_not(None))
            .group_by(SightingRow.case_id, SightingRow.flight_id)
        ):
            if best is not None:
                errors[case_id][flight_id] = [float(best)]
    for case in cases:
        err = combined_error_m(errors.get(case.id, {}))
        if err is not None:
            case.position_error_m = err
        seen, covered = totals.get(case.id, (0, 0))
        case.confidence = rule.confidence(case.score, seen, covered, case.position_error_m)
        case.low_evidence = rule.is_low(case.confidence)


def absence_is_likely(session: Session, case: Case, miss_p: float = ABSENT_MISS_P) -> bool:
    """Whether the adequate views since the case was last seen, none of which saw it, come from at least
    two flights and would all have missed it with probability at most `miss_p` were it still there:
    (1 - p)^n, with p its seen rate over the views up to its last sighting (Laplace-smoothed).

    Two flights, because one flight's misses are not independent: a corridor at -45 degrees sees the
    ground behind buildings in none of its frames, and on simulated worlds most wrong "absent" claims
    came from a single such flight (bench/RESULTS-evidence.md)."""
    rows = session.execute(
        select(CaseViewRow.seen, Frame.seen_at, CaseViewRow.flight_id)
        .join(Frame, Frame.id == CaseViewRow.frame_id)
        .where(CaseViewRow.case_id == case.id)
    ).all()
    before = [seen for seen, at, _ in rows if at is None or at <= case.last_seen]
    after = [flight for seen, at, flight in rows if at is not None and at > case.last_seen and not seen]
    rate = (sum(before) + 1.0) / (len(before) + 2.0)
    return len(set(after)) >= 2 and (1.0 - rate) ** len(after) <= miss_p
