"""Re-checks: what the first pass of a flight searched once per cell (pipeline.detect.cell_plan) found, looked
at again in every other frame that covered it, through one tile-sized crop around where it should be. Pure.

The re-checks are the case evidence: a frame that covered an object is one that searched its ground, and with
each cell searched once that is the frame the cell was assigned to plus the frames that re-checked it. Each
re-check's result (seen there or not) is what that frame says about the object; its crop is the ground it
is recorded as having searched, so "covered" stays "actually searched".

A candidate is looked at again in a frame that holds it at least `margin_m` (and half its size) inside its
searched rows and columns, unless the frame's own first-pass rectangle, or a crop already planned in it,
holds it that well: that search already speaks for it. The crop is one model tile at the local scale of the
frame there (larger, for an object that would not fit, with some ground around it), its edges on
multiples of 8 pixels.

A one-tile crop (25.6 m at the model's 0.08 m) holds a 10 m object about 7 m inside its edge: a frame
re-checked so counts as having covered the object only when the case's position falls that well inside
(dedupe.MergeRule.coverage_margin_m: half its size and half its position error), fewer looks than a whole
frame would be credited with, but every one of them real.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline import geo
from pipeline.detect.cell_plan import EDGE_WEIGHT, SNAP_PX, FrameAssignment, FrameToPlan, SearchPlan
from pipeline.types import CameraView, Detection

CROP_SLACK_M = 1.0


@dataclass(frozen=True)
class Candidate:
    """An object the first pass found, where it was placed: what the re-checks look for."""

    class_name: str
    lat: float
    lon: float
    size_m: float | None
    score: float
    frame: str  # the frame that found it (best score)


def candidates(found: Sequence[tuple[str, Sequence[Detection]]], merge_m: float = 3.0) -> list[Candidate]:
    """One candidate per object across the first pass's frames: placed detections of one class within
    max(`merge_m`, half the larger size) of a stronger one are the same object (found on both sides of
    the line between two frames' rectangles). Unplaced detections cannot be looked for elsewhere."""
    placed = [
        (d.score, name, d) for name, dets in found for d in dets if d.lat is not None and d.lon is not None
    ]
    placed.sort(key=lambda t: -t[0])
    out: list[Candidate] = []
    for score, name, d in placed:
        assert d.lat is not None and d.lon is not None
        same = False
        for c in out:
            if c.class_name != d.class_name:
                continue
            reach = max(merge_m, 0.5 * max(c.size_m or 0.0, d.size_m or 0.0))
            if geo.distance_m(c.lat, c.lon, d.lat, d.lon) <= reach:
                same = True
                break
        if not same:
            out.append(Candidate(d.class_name, d.lat, d.lon, d.size_m, score, name))
    return out


def plan_rechecks(
    frames: Sequence[FrameToPlan],
    assignments: Sequence[FrameAssignment],
    found: Sequence[Candidate],
    search: SearchPlan,
    tile_px: int,
    model_gsd_m: float,
    max_upscale: float = 1.0,
    margin_m: float = 5.0,
    max_views: int | None = None,
) -> tuple[tuple[tuple[int, int, int, int], ...], ...]:
    """Per frame (in `frames` order), the crops it must search for the candidates (module docstring); at
    most `max_views` per candidate, the best views first as the planner ranks them (None: every frame
    that covered it)."""
    plans = [search(f.view, f.width_px, f.height_px) if f.view is not None else None for f in frames]
    crops: list[list[tuple[int, int, int, int]]] = [[] for _ in frames]
    for c in found:
        margin = max(margin_m, 0.5 * (c.size_m or 0.0))
        looks: list[tuple[float, float, int, float, float]] = []
        for k, f in enumerate(frames):
            view = f.view
            plan = plans[k]
            if view is None or plan is None or not plan.strips:
                continue
            at = _pixel(view, c.lat, c.lon)
            if at is None:
                continue
            x, y = at
            gsd = float(geo.local_gsd_m(view.intrinsics, view.pose, np.array([[x, y]]))[0])
            if not math.isfinite(gsd):
                continue
            m = margin / gsd
            top, bottom = plan.searched_rows
            if not (m <= x <= f.width_px - m and top + m <= y <= bottom - m):
                continue  # not covered adequately: nothing it could say
            own = assignments[k].region_px
            if assignments[k].whole or (own is not None and _holds(own, x, y, m)):
                continue  # its first pass searched there
            if any(_holds(r, x, y, m) for r in crops[k]):
                continue
            # The planner's cost: finest ground first, then nearer the frame's centre.
            edge = max(
                abs(x - f.width_px / 2) / (f.width_px / 2), abs(y - f.height_px / 2) / (f.height_px / 2)
            )
            looks.append((gsd * (1.0 + EDGE_WEIGHT * edge), gsd, k, x, y))
        looks.sort()
        for _, gsd, k, x, y in looks[:max_views] if max_views is not None else looks:
            f = frames[k]
            scale = min(gsd / model_gsd_m, max_upscale)
            # One tile, unless the object (its box's diagonal on the ground, and a little around it) would
            # not fit in one: a crop just over a tile would take four.
            side = max(tile_px / scale, ((c.size_m or 0.0) + 2.0 * CROP_SLACK_M) / gsd)
            crops[k].append(_square(x, y, side, f.width_px, f.height_px, tile_px / scale))
    return tuple(tuple(r) for r in crops)


def _pixel(view: CameraView, lat: float, lon: float) -> tuple[float, float] | None:
    e, n = geo.latlon_offset(view.pose.lat, view.pose.lon, lat, lon)
    xy = geo.project_enu_to_pixels(view.intrinsics, view.pose, np.array([[e, n, 0.0]]))[0]
    if not np.isfinite(xy).all():
        return None
    return float(xy[0]), float(xy[1])


def _holds(rect: Sequence[float], x: float, y: float, m: float) -> bool:
    x0, y0, x1, y1 = rect
    return x0 + m <= x <= x1 - m and y0 + m <= y <= y1 - m


def _square(
    x: float, y: float, side: float, width: int, height: int, one_tile: float
) -> tuple[int, int, int, int]:
    """A square of about `side` pixels centred on (x, y), moved inside the frame, edges on multiples of 8;
    where `side` is one tile (`one_tile` pixels at the local scale) it is rounded down, so that it stays
    one tile after rescaling."""
    step = SNAP_PX
    if side <= one_tile + 1e-6:
        s = max(step, math.floor(side / step) * step)
    else:
        s = math.ceil(side / step) * step
    sw, sh = min(s, width // step * step), min(s, height // step * step)
    x0 = min(max(0, round((x - sw / 2) / step) * step), width - sw)
    y0 = min(max(0, round((y - sh / 2) / step) * step), height - sh)
    x0, y0 = max(0, x0 // step * step), max(0, y0 // step * step)
    return x0, y0, min(width, x0 + sw), min(height, y0 + sh)


def region_rects(assignment: FrameAssignment) -> tuple[tuple[int, int, int, int], ...]:
    """The first pass's rectangle of a frame as detect_regions takes it (none when it got no cells)."""
    if assignment.region_px is None:
        return ()
    x0, y0, x1, y1 = assignment.region_px
    return ((int(x0), int(y0), int(x1), int(y1)),)
