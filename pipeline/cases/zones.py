"""Exclusion zones: ground that raises no case (legal stacking yards, permitted structures, sports grounds).

Sightings inside an active zone still reach the queue, as evidence on a case in the `excluded` state that
no reviewer's queue shows; nothing seen there is lost, and removing the zone lets the next sighting open
an ordinary case. Zones come from a GeoJSON file (`patrol zones import`) or from a reviewer who rejects a
case as legal and asks to remember it (its footprint, widened by its position error, becomes a zone).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import dedupe, geo
from pipeline.cases import lifecycle
from pipeline.cases.lifecycle import REJECTED
from pipeline.cases.models import Case, SightingRow, Zone
from pipeline.errors import CaseError

_MAX_ZONE_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ZoneShape:
    name: str
    polygon: tuple[tuple[float, float], ...]  # (lat, lon), first point not repeated


def _ring(coords: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(coords, list) or len(coords) < 4:
        raise CaseError(f"{where}: a polygon ring needs at least 4 positions")
    pts: list[tuple[float, float]] = []
    for pos in coords:
        if not (isinstance(pos, list) and len(pos) >= 2 and all(isinstance(v, int | float) for v in pos[:2])):
            raise CaseError(f"{where}: a position must be [longitude, latitude]")
        lon, lat = float(pos[0]), float(pos[1])
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise CaseError(f"{where}: position {lon:g}, {lat:g} is not a longitude, latitude")
        pts.append((lat, lon))
    if pts[0] == pts[-1]:
        pts.pop()
    if len(set(pts)) < 3:
        raise CaseError(f"{where}: a polygon needs three distinct corners")
    return tuple(pts)


def parse_zones(text: str, source: str) -> list[ZoneShape]:
    """Polygons (and each part of MultiPolygons; holes ignored) of a GeoJSON FeatureCollection, Feature or
    geometry, RFC 7946 order (longitude first, WGS84). CaseError naming the file and the feature."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise CaseError(f"not JSON: {err.msg} at line {err.lineno}", source) from err
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, dict) and "coordinates" in data:
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise CaseError("not a GeoJSON FeatureCollection, Feature or geometry", source)
    if not isinstance(features, list):
        raise CaseError("'features' is not a list", source)
    out: list[ZoneShape] = []
    for k, feat in enumerate(features):
        where = f"{source}: feature {k + 1}"
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        props = (feat.get("properties") if isinstance(feat, dict) else None) or {}
        name = str(props.get("name") or props.get("名称") or f"zone {k + 1}")[:128]
        if not isinstance(geom, dict):
            raise CaseError(f"{where}: no geometry")
        kind, coords = geom.get("type"), geom.get("coordinates")
        if kind == "Polygon" and isinstance(coords, list) and coords:
            out.append(ZoneShape(name, _ring(coords[0], where)))
        elif kind == "MultiPolygon" and isinstance(coords, list) and coords:
            for part in coords:
                if not isinstance(part, list) or not part:
                    raise CaseError(f"{where}: an empty MultiPolygon part")
                out.append(ZoneShape(name, _ring(part[0], where)))
        else:
            raise CaseError(f"{where}: a zone must be a Polygon or MultiPolygon, not {kind}")
    if not out:
        raise CaseError("no polygons in the file", source)
    return out


def read_zone_file(path: Path) -> list[ZoneShape]:
    try:
        size = path.stat().st_size
        if size > _MAX_ZONE_FILE_BYTES:
            raise CaseError(f"zone file too large ({size} bytes)", str(path))
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise CaseError(f"cannot read zone file: {err.strerror or err}", str(path)) from err
    except UnicodeDecodeError as err:
        raise CaseError("zone file is not UTF-8 text", str(path)) from err
    return parse_zones(text, str(path))


def add_zone(
    session: Session,
    shape: ZoneShape,
    reason: str,
    actor: str,
    now: datetime,
    class_name: str | None = None,
    source_case_id: int | None = None,
) -> Zone:
    if not reason.strip():
        raise CaseError("a zone needs a reason (why nothing there is a case)")
    lats = [p[0] for p in shape.polygon]
    lons = [p[1] for p in shape.polygon]
    zone = Zone(
        name=shape.name,
        reason=reason.strip(),
        class_name=class_name,
        polygon=[[lat, lon] for lat, lon in shape.polygon],
        min_lat=min(lats),
        max_lat=max(lats),
        min_lon=min(lons),
        max_lon=max(lons),
        source_case_id=source_case_id,
        created_by=actor,
        created_at=now,
    )
    session.add(zone)
    session.flush()
    return zone


def remove_zone(session: Session, zone_id: int, actor: str, now: datetime) -> Zone:
    zone = session.get(Zone, zone_id)
    if zone is None:
        raise CaseError(f"no zone {zone_id}")
    if zone.removed_at is not None:
        raise CaseError(f"zone {zone_id} was already removed by {zone.removed_by}")
    zone.removed_at, zone.removed_by = now, actor
    session.flush()
    return zone


def list_zones(session: Session, include_removed: bool = False) -> list[Zone]:
    query = select(Zone).order_by(Zone.id)
    if not include_removed:
        query = query.where(Zone.removed_at.is_(None))
    return list(session.scalars(query))


def zones_near(session: Session, points: Iterable[tuple[float, float]]) -> list[Zone]:
    """Active zones whose bounding box overlaps that of the points."""
    pts = list(points)
    if not pts:
        return []
    lat_lo, lat_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    lon_lo, lon_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    return list(
        session.scalars(
            select(Zone).where(
                Zone.removed_at.is_(None),
                Zone.min_lat <= lat_hi,
                Zone.max_lat >= lat_lo,
                Zone.min_lon <= lon_hi,
                Zone.max_lon >= lon_lo,
            )
        )
    )


def zone_for(zones: Sequence[Zone], class_name: str, lat: float, lon: float) -> Zone | None:
    """The first active zone (lowest id) that holds the point and applies to the class."""
    for zone in sorted(zones, key=lambda z: z.id):
        if zone.class_name not in (None, class_name):
            continue
        in_box = zone.min_lat <= lat <= zone.max_lat and zone.min_lon <= lon <= zone.max_lon
        if in_box and dedupe.covering(lat, lon, 0.0, [[(p[0], p[1]) for p in zone.polygon]]):
            return zone
    return None


def case_shape(session: Session, case: Case) -> ZoneShape:
    """A case's ground as a zone: the outline of all its sightings' footprints (their bounding box in local
    metres), widened by its position error so the next sighting of the same thing falls inside."""
    pts: list[tuple[float, float]] = []
    for fp in session.scalars(select(SightingRow.footprint).where(SightingRow.case_id == case.id)):
        pts.extend((float(p[0]), float(p[1])) for p in fp or ())
    en = [geo.latlon_offset(case.lat, case.lon, lat, lon) for lat, lon in pts] or [(0.0, 0.0)]
    pad = max(case.position_error_m or 0.0, 0.5 * (case.size_m or 0.0), 3.0)
    e_lo, e_hi = min(p[0] for p in en) - pad, max(p[0] for p in en) + pad
    n_lo, n_hi = min(p[1] for p in en) - pad, max(p[1] for p in en) + pad
    corners = [(e_lo, n_lo), (e_hi, n_lo), (e_hi, n_hi), (e_lo, n_hi)]
    poly = tuple(geo.offset_latlon(case.lat, case.lon, e, n) for e, n in corners)
    return ZoneShape(f"案件 {case.id}", poly)


def remember_case(session: Session, case: Case, actor: str, reason: str, now: datetime) -> Zone:
    """A reviewer's "this is legal, remember it" on a rejected case: its ground becomes a zone for its class
    (shown and removable by a supervisor, like any zone)."""
    if case.status != REJECTED:
        raise CaseError(f"case {case.id}: only a rejected case can be remembered as legal ({case.status})")
    zone = add_zone(
        session,
        case_shape(session, case),
        reason,
        actor,
        now,
        class_name=case.class_name,
        source_case_id=case.id,
    )
    case.zone_id = zone.id
    lifecycle.record_event(session, case, "remembered", actor, now, note=f"zone {zone.id}: {reason}")
    return zone
