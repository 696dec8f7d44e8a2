"""Sightings -> objects: within a flight, and against the cases already in the queue. Pure functions.

Two sightings are one object when they have the same class and lie within a radius of each other. The radius
is the GPS/georeferencing error plus half the object's extent (a 20 m shed seen from two sides has box centres
metres apart even with perfect GPS). Positions are compared in local east/north metres.

The spatial grid (`grid_key`) is shared with the database, where it is an indexed column: a nearby-case query
is an `IN` over a handful of keys, fast in SQLite and PostgreSQL alike without a spatial extension.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline import geo
from pipeline.position_error import combined_error_m
from pipeline.types import Sighting

# Grid cells of 0.0005 degrees: about 55 m north-south and 51 m east-west around Dongguan (23 N), a little
# larger than any merge radius, so a query usually touches 3 x 3 cells.
GRID_DEG = 0.0005
_GRID_ROW = 1_000_000  # keys are row * _GRID_ROW + column; 360 / GRID_DEG = 720,000 columns fit
_M_PER_DEG_LAT = 110_574.0  # the shortest degree of latitude (at the equator): cells are at least this tall


@dataclass(frozen=True)
class MergeRule:
    """How far apart two sightings of one class may be and still be one object.

    The radius is the spread of the difference of two positions, from each one's own 90 % error radius
    (pipeline.position_error: near nadir from low height it is a few metres, at a far oblique range ten or
    more), times `error_factor` (categories.toml says how it was chosen), plus half the larger object: a
    20 m shed seen from two sides has box anchors metres apart even with perfect positions. Two sightings
    without stated errors (records from before errors were kept) merge within the old fixed `gps_error_m`;
    one without, beside one with, counts with `gps_error_m` / sqrt(2).
    """

    gps_error_m: float = 8.0
    typical_size_m: float = 6.0  # used when a sighting carries no extent of its own
    error_factor: float = 1.0

    def radius_m(
        self,
        size_a_m: float | None = None,
        size_b_m: float | None = None,
        error_a_m: float | None = None,
        error_b_m: float | None = None,
    ) -> float:
        size_a = self.typical_size_m if size_a_m is None else size_a_m
        size_b = self.typical_size_m if size_b_m is None else size_b_m
        if error_a_m is None and error_b_m is None:
            return self.gps_error_m + 0.5 * max(size_a, size_b)
        fallback = self.gps_error_m / math.sqrt(2.0)
        err_a = fallback if error_a_m is None else error_a_m
        err_b = fallback if error_b_m is None else error_b_m
        return self.error_factor * math.hypot(err_a, err_b) + 0.5 * max(size_a, size_b)

    def coverage_margin_m(self, size_m: float | None, error_m: float | None) -> float:
        """How far inside a frame's searched ground an object must lie for the frame to count as having
        looked at it: the object whole in view, allowing for where it may really be."""
        size = self.typical_size_m if size_m is None else size_m
        err = self.gps_error_m / math.sqrt(2.0) if error_m is None else error_m
        return 0.5 * size + 0.5 * err


@dataclass(frozen=True)
class SightingGroup:
    """One object seen in one flight: its sightings, best first, and a score-weighted position."""

    class_name: str
    lat: float
    lon: float
    sightings: tuple[Sighting, ...]  # best (highest score) first
    size_m: float | None = None
    position_error_m: float | None = None  # 90 % radius of (lat, lon)

    @property
    def best(self) -> Sighting:
        return self.sightings[0]

    @property
    def score(self) -> float:
        return self.best.score


@dataclass(frozen=True)
class CaseRef:
    """What matching needs to know about a case already in the queue."""

    case_id: int
    class_name: str
    lat: float
    lon: float
    status: str
    size_m: float | None = None
    position_error_m: float | None = None


# --- the grid --------------------------------------------------------------------------------------


def grid_cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor((lat + 90.0) / GRID_DEG), math.floor((lon + 180.0) / GRID_DEG)


def grid_key(lat: float, lon: float) -> int:
    row, col = grid_cell(lat, lon)
    return row * _GRID_ROW + col


def _reach(lat: float, radius_m: float) -> tuple[int, int]:
    """How many cells a radius spans north-south and east-west at a latitude."""
    cell_ns = GRID_DEG * _M_PER_DEG_LAT
    cell_ew = GRID_DEG * 111_320.0 * max(math.cos(math.radians(min(abs(lat) + 0.01, 89.0))), 1e-3)
    return math.ceil(radius_m / cell_ns), math.ceil(radius_m / cell_ew)


def neighbour_keys(lat: float, lon: float, radius_m: float) -> list[int]:
    """The grid keys of every cell that may hold a point within `radius_m` of (lat, lon)."""
    row, col = grid_cell(lat, lon)
    d_row, d_col = _reach(lat, radius_m)
    return [
        r * _GRID_ROW + c
        for r in range(row - d_row, row + d_row + 1)
        for c in range(col - d_col, col + d_col + 1)
    ]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive integer ranges, overlapping or touching ones joined, in order."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def key_ranges(points: Iterable[tuple[float, float]], margin_m: float = 0.0) -> list[tuple[int, int]]:
    """Inclusive grid-key ranges, one per grid row, covering the bounding box of `points` plus a margin."""
    pts = list(points)
    if not pts:
        return []
    lat_lo, lat_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    lon_lo, lon_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    row_lo, col_lo = grid_cell(lat_lo, lon_lo)
    row_hi, col_hi = grid_cell(lat_hi, lon_hi)
    d_row, d_col = _reach(max(abs(lat_lo), abs(lat_hi)), margin_m)
    return [
        (r * _GRID_ROW + col_lo - d_col, r * _GRID_ROW + col_hi + d_col)
        for r in range(row_lo - d_row, row_hi + d_row + 1)
    ]


# --- within a flight -------------------------------------------------------------------------------


@dataclass
class _Cluster:
    members: list[Sighting]
    lat: float
    lon: float
    weight: float
    size_m: float | None
    error_m: float | None


def _rule(rules: Mapping[str, MergeRule], default: MergeRule, class_name: str) -> MergeRule:
    return rules.get(class_name, default)


def group_sightings(
    sightings: Sequence[Sighting],
    rules: Mapping[str, MergeRule],
    default_rule: MergeRule | None = None,
) -> list[SightingGroup]:
    """Merge sightings of one object (same class, within the class's radius) into groups.

    Greedy by score: the best sighting seeds a group, and each next one joins the nearest group whose
    score-weighted centre lies within the radius, else seeds its own. The order is deterministic.
    """
    default = default_rule or MergeRule()
    by_class: dict[str, list[Sighting]] = defaultdict(list)
    for s in sightings:
        by_class[s.class_name].append(s)
    groups: list[SightingGroup] = []
    for class_name in sorted(by_class):
        rule = _rule(rules, default, class_name)
        ordered = sorted(by_class[class_name], key=lambda s: (-s.score, s.frame_path, s.xyxy_px))
        clusters: list[_Cluster] = []
        cells: dict[int, list[int]] = defaultdict(list)
        for s in ordered:
            best: tuple[float, int] | None = None
            reach = 2.0 * rule.radius_m(s.size_m, None, s.position_error_m, s.position_error_m)
            for key in neighbour_keys(s.lat, s.lon, reach):
                for idx in cells.get(key, ()):
                    c = clusters[idx]
                    dist = geo.distance_m(c.lat, c.lon, s.lat, s.lon)
                    radius = rule.radius_m(c.size_m, s.size_m, c.error_m, s.position_error_m)
                    if dist <= radius and (best is None or dist < best[0]):
                        best = (dist, idx)
            if best is None:
                clusters.append(_Cluster([s], s.lat, s.lon, max(s.score, 1e-6), s.size_m, s.position_error_m))
                # A cluster stays filed under its seed's cell; its centre drifts less than one radius, which
                # the doubled search radius above allows for.
                cells[grid_key(s.lat, s.lon)].append(len(clusters) - 1)
                continue
            c = clusters[best[1]]
            w = max(s.score, 1e-6)
            c.lat = (c.lat * c.weight + s.lat * w) / (c.weight + w)
            c.lon = (c.lon * c.weight + s.lon * w) / (c.weight + w)
            c.weight += w
            if s.size_m is not None:
                c.size_m = s.size_m if c.size_m is None else max(c.size_m, s.size_m)
            if s.position_error_m is not None:
                c.error_m = s.position_error_m if c.error_m is None else min(c.error_m, s.position_error_m)
            c.members.append(s)
        for c in clusters:
            by_flight: dict[str, list[float]] = defaultdict(list)
            for m in c.members:
                if m.position_error_m is not None:
                    by_flight[m.flight_id].append(m.position_error_m)
            error = combined_error_m(by_flight)
            groups.append(SightingGroup(class_name, c.lat, c.lon, tuple(c.members), c.size_m, error))
    return groups


# --- against the queue -----------------------------------------------------------------------------


def match_groups(
    groups: Sequence[SightingGroup],
    cases: Sequence[CaseRef],
    rules: Mapping[str, MergeRule],
    default_rule: MergeRule | None = None,
) -> list[CaseRef | None]:
    """For each group, the nearest case of its class within the radius, or None (a new object)."""
    default = default_rule or MergeRule()
    cells: dict[tuple[str, int], list[CaseRef]] = defaultdict(list)
    for case in cases:
        cells[(case.class_name, grid_key(case.lat, case.lon))].append(case)
    out: list[CaseRef | None] = []
    # The search reach must allow for the least certain and the largest case (both widen its radius).
    max_error_m = max((c.position_error_m or 0.0 for c in cases), default=0.0)
    max_size_m = max((c.size_m or 0.0 for c in cases), default=0.0)
    for g in groups:
        rule = _rule(rules, default, g.class_name)
        reach = max(
            rule.radius_m(g.size_m, max_size_m or None, g.position_error_m, max_error_m or None),
            rule.radius_m(g.size_m, max_size_m or None, g.position_error_m, None),
        )
        best: tuple[float, int, CaseRef] | None = None
        for key in neighbour_keys(g.lat, g.lon, reach):
            for case in cells.get((g.class_name, key), ()):
                dist = geo.distance_m(case.lat, case.lon, g.lat, g.lon)
                if dist > rule.radius_m(case.size_m, g.size_m, case.position_error_m, g.position_error_m):
                    continue
                # Ties go to the older case, so a rerun lands on the same one.
                if best is None or (dist, case.case_id) < (best[0], best[1]):
                    best = (dist, case.case_id, case)
        out.append(best[2] if best else None)
    return out


def match_radius_m(
    rules: Mapping[str, MergeRule],
    default_rule: MergeRule | None = None,
    max_error_m: float | None = None,
    max_size_m: float | None = None,
) -> float:
    """The largest radius any class can match over, for bounding a database query: with the typical size and
    fallback errors, or with the largest error and size at hand when they are given."""
    default = default_rule or MergeRule()
    err = max_error_m
    return max(
        r.radius_m(max_size_m, max_size_m, err, err)
        if err is not None
        else r.radius_m(max_size_m, max_size_m)
        for r in [*rules.values(), default]
    )


# --- looked at, not seen ---------------------------------------------------------------------------


def _inside_by(poly_en: Sequence[tuple[float, float]], margin_m: float) -> bool:
    """Whether the origin lies inside the polygon (east/north metres), at least `margin_m` from its edge."""
    inside = False
    n = len(poly_en)
    for i in range(n):
        (x1, y1), (x2, y2) = poly_en[i], poly_en[(i + 1) % n]
        if (y1 > 0.0) != (y2 > 0.0) and x1 - y1 * (x2 - x1) / (y2 - y1) > 0.0:
            inside = not inside
    if not inside:
        return False
    for i in range(n):
        (x1, y1), (x2, y2) = poly_en[i], poly_en[(i + 1) % n]
        dx, dy = x2 - x1, y2 - y1
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / length2))
        if math.hypot(x1 + t * dx, y1 + t * dy) < margin_m:
            return False
    return True


def _bounds(fp: Sequence[tuple[float, float]]) -> tuple[float, float, float, float]:
    return min(p[0] for p in fp), max(p[0] for p in fp), min(p[1] for p in fp), max(p[1] for p in fp)


def covering(
    lat: float,
    lon: float,
    margin_m: float,
    footprints: Sequence[Sequence[tuple[float, float]]],
) -> list[int]:
    """Indices of the footprints (searched ground of frames) that hold (lat, lon) at least `margin_m`
    inside their edge: the frames that looked at an object there properly."""
    out = []
    for idx, fp in enumerate(footprints):
        if len(fp) < 3:
            continue
        lat_lo, lat_hi, lon_lo, lon_hi = _bounds(fp)
        if not (lat_lo <= lat <= lat_hi and lon_lo <= lon <= lon_hi):
            continue
        poly = [geo.latlon_offset(lat, lon, a, b) for a, b in fp]
        if _inside_by(poly, margin_m):
            out.append(idx)
    return out


def cases_not_seen(
    cases: Sequence[CaseRef],
    footprints: Sequence[Sequence[tuple[float, float]]],
    seen_case_ids: set[int],
    rule_for: Mapping[str, MergeRule],
    default_rule: MergeRule | None = None,
) -> list[tuple[int, list[int]]]:
    """(case id, indices of the footprints that covered it) for each case looked at properly and not seen.

    The margin (MergeRule.coverage_margin_m) keeps out cases at a frame's edge, where an object is cut off
    and a miss means little.
    """
    default = default_rule or MergeRule()
    out: list[tuple[int, list[int]]] = []
    for case in cases:
        if case.case_id in seen_case_ids:
            continue
        rule = rule_for.get(case.class_name, default)
        margin = rule.coverage_margin_m(case.size_m, case.position_error_m)
        idx = covering(case.lat, case.lon, margin, footprints)
        if idx:
            out.append((case.case_id, idx))
    return out
