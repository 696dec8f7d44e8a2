"""Reads behind the pages: the filtered, sorted queue with its counts, nearby cases, flights, the map.

Every value from a request reaches SQL as a bound parameter (SQLAlchemy expressions, never string SQL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.orm import Session

from pipeline import geo
from pipeline.cases import lifecycle
from pipeline.cases.lifecycle import DUPLICATE, IN_REVIEW, NEW, REJECTED, STATES, VERIFIABLE
from pipeline.cases.models import Case, CaseEvent, Flight, FlightRun, Frame, ProcessedFrame, SightingRow, User
from pipeline.cases.views import CaseView, case_view
from pipeline.errors import CaseError

OPEN = (NEW, IN_REVIEW)
SORTS = ("priority", "score", "last_seen")
EVIDENCE = ("strong", "low", "all")
PAGE = 100
_Q = TypeVar("_Q", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = OPEN
    class_name: str | None = None
    flight_id: str | None = None
    since: datetime | None = None  # last seen on or after
    until: datetime | None = None  # last seen before the end of this day
    sort: str = "priority"
    page: int = 0
    claimed_by: str | None = None  # "我的": the cases this reviewer holds
    # The morning queue leaves out low-evidence cases (pipeline.cases.evidence_rule): "low" shows only them.
    evidence: str = "strong"

    def check(self) -> None:
        bad = [s for s in self.statuses if s not in STATES]
        if bad:
            raise CaseError(f"unknown status {bad[0]!r}")
        if self.sort not in SORTS:
            raise CaseError(f"unknown sort {self.sort!r} (one of {', '.join(SORTS)})")
        if self.evidence not in EVIDENCE:
            raise CaseError(f"unknown evidence view {self.evidence!r} (one of {', '.join(EVIDENCE)})")


def criteria(f: QueueFilter, *, with_status: bool = True) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions: the same for the page, its counts, claim-next and the map."""
    out: list[ColumnElement[bool]] = []
    if with_status and f.statuses:
        out.append(Case.status.in_(f.statuses))
    if f.claimed_by:
        out.append(Case.claimed_by == f.claimed_by)
    if f.evidence == "strong":
        out.append(Case.low_evidence.is_(false()))
    elif f.evidence == "low":
        out.append(Case.low_evidence.is_(true()))
    if f.class_name:
        out.append(Case.class_name == f.class_name)
    if f.flight_id:
        out.append(Case.id.in_(select(SightingRow.case_id).where(SightingRow.flight_id == f.flight_id)))
    if f.since:
        out.append(Case.last_seen >= f.since)
    if f.until:
        out.append(Case.last_seen < f.until + timedelta(days=1))
    return out


def _filtered(query: _Q, f: QueueFilter, *, with_status: bool = True) -> _Q:
    return query.where(*criteria(f, with_status=with_status))


def ordering(sort: str) -> tuple[Any, ...]:
    return {
        # The case's confidence (its scores and how consistently the frames that covered it saw it), then
        # seen on more flights, then the oldest. Cases from before confidences were kept come last.
        "priority": (
            Case.confidence.is_(None),
            Case.confidence.desc(),
            Case.flights_count.desc(),
            Case.score.desc(),
            Case.first_seen,
            Case.id,
        ),
        "score": (Case.score.desc(), Case.id),
        "last_seen": (Case.last_seen.desc(), Case.id),
    }[sort]


def claim_scope(f: QueueFilter) -> QueueFilter:
    """The queue claim-next takes from: the view's filters and sort, without "mine" (what one holds is
    not claimable) and without the page."""
    return replace(f, page=0, claimed_by=None)


def claim_next(
    session: Session, f: QueueFilter, reviewer: str, *, lease_s: int, now: datetime | None = None
) -> Case | None:
    """Claim the first claimable case of the queue `f` as the reviewer sees it (its filters and order)."""
    f.check()
    scope = claim_scope(f)
    return lifecycle.claim_next(
        session, reviewer, lease_s=lease_s, now=now, where=criteria(scope), order_by=ordering(scope.sort)
    )


def claimable_left(session: Session, f: QueueFilter, now: datetime | None = None) -> int:
    """How many cases of the view are still waiting for someone (new, or their claim ran out)."""
    now = now or lifecycle.utcnow()
    query = select(func.count(Case.id)).where(lifecycle.claimable(now), *criteria(claim_scope(f)))
    return int(session.scalar(query) or 0)


def queue(session: Session, f: QueueFilter) -> tuple[list[CaseView], int]:
    """One page of the queue and how many cases match in all."""
    f.check()
    order = ordering(f.sort)
    rows = session.scalars(_filtered(select(Case), f).order_by(*order).limit(PAGE).offset(f.page * PAGE))
    total = session.scalar(_filtered(select(func.count(Case.id)), f)) or 0
    return [case_view(c) for c in rows], int(total)


def low_evidence_count(session: Session, f: QueueFilter) -> int:
    """How many cases of the view the evidence rule holds back (shown in their own view)."""
    query = select(func.count(Case.id)).where(*criteria(replace(f, evidence="low")))
    return int(session.scalar(query) or 0)


def status_counts(session: Session, f: QueueFilter) -> dict[str, int]:
    """Cases per state under the other filters (the counts beside the status filter)."""
    query = _filtered(select(Case.status, func.count(Case.id)), f, with_status=False).group_by(Case.status)
    counts = {s: 0 for s in STATES}
    counts.update({status: int(n) for status, n in session.execute(query)})
    return counts


def classes(session: Session) -> list[str]:
    return list(session.scalars(select(Case.class_name).distinct().order_by(Case.class_name)))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    # An equirectangular approximation: exact to well under a metre at the few hundred metres compared here.
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_000.0 * math.hypot(x, math.radians(lat2 - lat1))


def nearby(session: Session, case: Case, radius_m: float = 100.0) -> list[tuple[CaseView, float]]:
    """Other cases of the same class within `radius_m`: the candidates it may duplicate."""
    dlat = radius_m / 111_000.0
    dlon = dlat / max(math.cos(math.radians(case.lat)), 0.01)
    rows = session.scalars(
        select(Case).where(
            Case.id != case.id,
            Case.class_name == case.class_name,
            Case.status.not_in((DUPLICATE,)),
            Case.lat.between(case.lat - dlat, case.lat + dlat),
            Case.lon.between(case.lon - dlon, case.lon + dlon),
        )
    )
    found = [(case_view(c), distance_m(case.lat, case.lon, c.lat, c.lon)) for c in rows]
    return sorted([x for x in found if x[1] <= radius_m], key=lambda x: x[1])[:10]


def best_box(session: Session, case: Case) -> list[float] | None:
    if case.best_sighting_id is None:
        return None
    s = session.get(SightingRow, case.best_sighting_id)
    return [s.x0_px, s.y0_px, s.x1_px, s.y1_px] if s else None


def processed_flights(session: Session) -> list[dict[str, Any]]:
    frames = select(Frame.flight_id, func.count(Frame.id).label("n")).group_by(Frame.flight_id).subquery()
    sightings = (
        select(SightingRow.flight_id, func.count(SightingRow.id).label("n"))
        .group_by(SightingRow.flight_id)
        .subquery()
    )
    rows = session.execute(
        select(Flight.id, Flight.first_pushed_at, Flight.last_pushed_at, frames.c.n, sightings.c.n)
        .outerjoin(frames, frames.c.flight_id == Flight.id)
        .outerjoin(sightings, sightings.c.flight_id == Flight.id)
        .order_by(Flight.last_pushed_at.desc())
        .limit(500)
    )
    flights = [
        {
            "id": r[0],
            "first_pushed_at": r[1],
            "last_pushed_at": r[2],
            "frames": r[3] or 0,
            "sightings": r[4] or 0,
            "failed": [],
        }
        for r in rows
    ]
    by_id = {f["id"]: f for f in flights}
    # Frames the flow could not use, with its reason: the drone team's answer to "what went wrong".
    failed = session.execute(
        select(ProcessedFrame.flight_id, ProcessedFrame.frame_path, ProcessedFrame.error)
        .where(ProcessedFrame.status == "failed", ProcessedFrame.flight_id.in_(list(by_id)))
        .order_by(ProcessedFrame.flight_id, ProcessedFrame.frame_path)
    )
    for flight_id, frame_path, error in failed:
        by_id[flight_id]["failed"].append({"path": frame_path, "error": error or ""})
    return flights


def map_features(session: Session, datum: str) -> dict[str, Any]:
    """Open cases as GeoJSON points in the datum the map's tiles use (GCJ-02 for AMap-style tiles)."""
    features = []
    statuses = tuple(s for s in VERIFIABLE if s != REJECTED)
    for c in session.scalars(select(Case).where(Case.status.in_(statuses)).order_by(Case.id)):
        lat, lon = geo.wgs84_to_gcj02(c.lat, c.lon) if datum == "gcj02" else (c.lat, c.lon)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
                "properties": {
                    "id": c.id,
                    "class": c.class_name,
                    "category": c.service_name or c.class_name,
                    "status": c.status,
                    "score": round(c.score, 3),
                },
            }
        )
    return {"type": "FeatureCollection", "datum": datum, "features": features}


def case_sightings(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Each sighting of a case with the frame it was seen in (for the thumbnails and the frame viewer)."""
    rows = session.execute(
        select(SightingRow, Frame.path)
        .join(Frame, Frame.id == SightingRow.frame_id)
        .where(SightingRow.case_id == case_id)
        .order_by(SightingRow.seen_at, SightingRow.id)
    )
    return [
        {
            "id": s.id,
            "flight_id": s.flight_id,
            "seen_at": s.seen_at,
            "score": s.score,
            "box": [s.x0_px, s.y0_px, s.x1_px, s.y1_px],
            "evidence_path": s.evidence_path,
            "frame_path": path,
        }
        for s, path in rows
    ]


def display_names(session: Session) -> dict[str, str]:
    return {name: shown or name for name, shown in session.execute(select(User.name, User.display_name))}


def held_by(session: Session, reviewer: str, now: datetime | None = None) -> int:
    """How many cases `reviewer` holds under a live claim ("我的")."""
    now = now or lifecycle.utcnow()
    query = select(func.count(Case.id)).where(
        Case.status == IN_REVIEW, Case.claimed_by == reviewer, Case.lease_expires_at >= now
    )
    return int(session.scalar(query) or 0)


def last_dispatch(session: Session, case_id: int) -> str | None:
    """The note of the case's latest dispatch (department, deadline, note)."""
    return session.scalar(
        select(CaseEvent.note)
        .where(CaseEvent.case_id == case_id, CaseEvent.action == "dispatch")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


# The map draws every case that matches; the statuses it shows when the view names none.
MAP_DEFAULT = tuple(s for s in VERIFIABLE if s != REJECTED)


def count(session: Session, f: QueueFilter) -> int:
    """How many cases the filter matches (the map's count; its points come from pipeline.review.map_data)."""
    f.check()
    return int(session.scalar(select(func.count(Case.id)).where(*criteria(f))) or 0)


def flight_footprints(
    session: Session, flight_id: str | None, datum: str, latest: int = 5
) -> tuple[list[dict[str, Any]], list[str]]:
    """Ground footprints of the frames of one flight (or of the `latest` flights): (polygons, flight ids)."""
    if flight_id:
        flights = [flight_id]
    else:
        flights = list(
            session.scalars(select(Flight.id).order_by(Flight.last_pushed_at.desc()).limit(latest))
        )
    polygons = []
    rows = session.execute(
        select(Frame.flight_id, Frame.path, Frame.footprint).where(
            Frame.flight_id.in_(flights), Frame.footprint.is_not(None)
        )
    )
    for fid, path, footprint in rows:
        ring = []
        for lat, lon in footprint or []:
            if datum == "gcj02":
                lat, lon = geo.wgs84_to_gcj02(lat, lon)
            ring.append([round(lat, 6), round(lon, 6)])
        if len(ring) >= 3:
            polygons.append({"flight": fid, "file": path.replace("\\", "/").rsplit("/", 1)[-1], "ring": ring})
    return polygons, flights


def flight_outcomes(session: Session, names: list[str]) -> dict[str, dict[str, Any]]:
    """For uploaded flight folders (by their name in the inbox): whether a run has processed each, and the
    cases it raised."""
    wanted = set(names)
    if not wanted:
        return {}
    runs = session.execute(
        select(
            FlightRun.folder,
            FlightRun.flight_id,
            FlightRun.frames,
            FlightRun.frames_failed,
            FlightRun.finished_at,
        )
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for folder, fid, frames, failed, finished in runs:
        name = folder.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        if name not in wanted:
            continue
        cases = session.scalar(
            select(func.count(func.distinct(SightingRow.case_id))).where(SightingRow.flight_id == fid)
        )
        opened = session.scalar(
            select(func.count(CaseEvent.id)).where(CaseEvent.action == "open", CaseEvent.flight_id == fid)
        )
        out[name] = {
            "flight_id": fid,
            "frames": frames,
            "frames_failed": failed,
            "finished_at": finished,
            "cases": int(cases or 0),
            "cases_new": int(opened or 0),
        }
    return out
