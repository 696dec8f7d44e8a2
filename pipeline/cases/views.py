"""Frozen views of cases for listing and export, and the queries that produce them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import geo
from pipeline.cases.lifecycle import STATES, get_case
from pipeline.cases.models import Case, CaseEvent, SightingRow
from pipeline.cases.payloads import iso
from pipeline.errors import CaseError

# The GeoJSON / CSV / KML attribute names, in order (DESIGN.md's list first).
EXPORT_FIELDS: tuple[str, ...] = (
    "id",
    "class",
    "category",
    "status",
    "score",
    "first_seen",
    "last_seen",
    "sightings",
    "gcj02_lat",
    "gcj02_lon",
    "amap_url",
    "lat",
    "lon",
    "category_major",
    "category_code",
    "flights",
    "evidence_path",
    "frame_path",
    "claimed_by",
    # Evidence and change (pipeline.cases.coverage): the latest flight's adequate views and how many saw it,
    # the confidence they give, and the change tags; times are UTC ISO 8601.
    "evidence_seen",
    "evidence_covered",
    "confidence",
    "low_evidence",
    "position_error_m",
    "new_since",
    "first_surveyed",
    "absent_since",
    "verified_cleared_at",
    "recurrence",
    "grown",
    "area_m2",
    "zone_id",
)


@dataclass(frozen=True)
class CaseView:
    id: int
    class_name: str
    category: str  # the event (私搭乱建), the most specific name the city uses
    category_major: str  # its major class (市容环境)
    category_code: str
    status: str
    score: float
    first_seen: str
    last_seen: str
    sightings: int
    flights: int
    lat: float  # WGS84
    lon: float
    gcj02_lat: float
    gcj02_lon: float
    amap_url: str
    evidence_path: str | None
    frame_path: str | None
    claimed_by: str | None
    lease_expires_at: str | None = None  # of the claim, UTC ISO; not exported
    evidence_seen: int = 0
    evidence_covered: int = 0
    confidence: float | None = None
    low_evidence: bool = False
    position_error_m: float | None = None
    new_since: str | None = None
    first_surveyed: bool = False
    absent_since: str | None = None
    verified_cleared_at: str | None = None
    recurrence: bool = False
    grown: bool = False
    area_m2: float | None = None  # the latest flight's
    zone_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in EXPORT_FIELDS if name != "class"}
        return {"id": self.id, "class": self.class_name, **out}


def case_view(case: Case) -> CaseView:
    g_lat, g_lon = geo.wgs84_to_gcj02(case.lat, case.lon)
    name = case.service_name or case.class_name
    return CaseView(
        id=case.id,
        class_name=case.class_name,
        category=name,
        category_major=case.category,
        category_code=case.service_code,
        status=case.status,
        score=round(case.score, 4),
        first_seen=iso(case.first_seen) or "",
        last_seen=iso(case.last_seen) or "",
        sightings=case.sightings_count,
        flights=case.flights_count,
        lat=case.lat,
        lon=case.lon,
        gcj02_lat=g_lat,
        gcj02_lon=g_lon,
        amap_url=geo.amap_url(case.lat, case.lon, f"案件 {case.id} {name}"),
        evidence_path=case.evidence_path,
        frame_path=case.frame_path,
        claimed_by=case.claimed_by,
        lease_expires_at=iso(case.lease_expires_at),
        evidence_seen=case.evidence_seen or 0,
        evidence_covered=case.evidence_covered or 0,
        confidence=None if case.confidence is None else round(case.confidence, 4),
        low_evidence=bool(case.low_evidence),
        position_error_m=None if case.position_error_m is None else round(case.position_error_m, 2),
        new_since=iso(case.new_since),
        first_surveyed=bool(case.first_surveyed),
        absent_since=iso(case.absent_since),
        verified_cleared_at=iso(case.verified_cleared_at),
        recurrence=bool(case.recurrence),
        grown=bool(case.grown),
        area_m2=None if case.area_last_m2 is None else round(case.area_last_m2, 1),
        zone_id=case.zone_id,
    )


def list_cases(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    class_name: str | None = None,
    limit: int | None = None,
) -> list[CaseView]:
    unknown = [s for s in statuses if s not in STATES]
    if unknown:
        raise CaseError(f"unknown status {unknown[0]!r} (one of {', '.join(STATES)})")
    query = select(Case).order_by(Case.id)
    if statuses:
        query = query.where(Case.status.in_(statuses))
    if class_name:
        query = query.where(Case.class_name == class_name)
    if limit is not None:
        query = query.limit(limit)
    return [case_view(c) for c in session.scalars(query)]


def case_detail(session: Session, case_id: int) -> dict[str, Any]:
    """One case with its history and sightings: what `patrol cases show` prints."""
    case = get_case(session, case_id)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
    sightings = session.scalars(
        select(SightingRow)
        .where(SightingRow.case_id == case_id)
        .order_by(SightingRow.seen_at, SightingRow.id)
    )
    return {
        **case_view(case).as_dict(),
        "duplicate_of": case.duplicate_of_id,
        "previous_case": case.previous_case_id,
        "reason": case.reason,
        "lease_expires_at": iso(case.lease_expires_at),
        "last_not_seen_at": iso(case.last_not_seen_at),
        "events": [
            {
                "at": iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "flight_id": e.flight_id,
                "note": e.note,
            }
            for e in events
        ],
        "sighting_list": [
            {
                "flight_id": s.flight_id,
                "seen_at": iso(s.seen_at),
                "score": s.score,
                "xyxy_px": [s.x0_px, s.y0_px, s.x1_px, s.y1_px],
                "lat": s.lat,
                "lon": s.lon,
                "evidence_path": s.evidence_path,
                "evidence_sha256": s.evidence_sha256,
            }
            for s in sightings
        ],
    }
