"""Reads behind the pages: the filtered, sorted queue with its counts, nearby cases, flights, the map.

Every value from a request reaches SQL as a bound parameter (SQLAlchemy expressions, never string SQL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pipeline import geo
from pipeline.cases.lifecycle import DUPLICATE, IN_REVIEW, NEW, REJECTED, STATES, VERIFIABLE
from pipeline.cases.models import Case, Flight, Frame, ProcessedFrame, SightingRow
from pipeline.cases.views import CaseView, case_view
from pipeline.errors import CaseError

OPEN = (NEW, IN_REVIEW)
SORTS = ("priority", "score", "last_seen")
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

    def check(self) -> None:
        bad = [s for s in self.statuses if s not in STATES]
        if bad:
            raise CaseError(f"unknown status {bad[0]!r}")
        if self.sort not in SORTS:
            raise CaseError(f"unknown sort {self.sort!r} (one of {', '.join(SORTS)})")


def _filtered(query: _Q, f: QueueFilter, *, with_status: bool = True) -> _Q:
    if with_status and f.statuses:
        query = query.where(Case.status.in_(f.statuses))
    if f.class_name:
        query = query.where(Case.class_name == f.class_name)
    if f.flight_id:
        query = query.where(
            Case.id.in_(select(SightingRow.case_id).where(SightingRow.flight_id == f.flight_id))
        )
    if f.since:
        query = query.where(Case.last_seen >= f.since)
    if f.until:
        query = query.where(Case.last_seen < f.until + timedelta(days=1))
    return query


def queue(session: Session, f: QueueFilter) -> tuple[list[CaseView], int]:
    """One page of the queue and how many cases match in all."""
    f.check()
    order = {
        # Seen on more flights first (it persists), then the detector's confidence, then the oldest.
        "priority": (Case.flights_count.desc(), Case.score.desc(), Case.first_seen, Case.id),
        "score": (Case.score.desc(), Case.id),
        "last_seen": (Case.last_seen.desc(), Case.id),
    }[f.sort]
    rows = session.scalars(_filtered(select(Case), f).order_by(*order).limit(PAGE).offset(f.page * PAGE))
    total = session.scalar(_filtered(select(func.count(Case.id)), f)) or 0
    return [case_view(c) for c in rows], int(total)


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
    for c in session.scalars(select(Case).where(Case.status.in_(statuses)).order_by(Case.id).limit(5000)):
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
