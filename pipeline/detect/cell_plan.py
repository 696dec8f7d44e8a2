"""Which frame of an overlapping flight searches each cell of ground: each cell once, at its best view. Pure.

On a mapping flight with 75 % overlap every point of ground is in 10-16 frames; detecting all of every frame
searches it that many times. Here the ground under a flight's posed cameras is cut into square cells
(`cell_m` a side, in a local east/north plane at the first posed camera) and each cell goes to the one frame
that sees it best: the finest ground resolution at that pixel (`geo.local_gsd_m`: a lower or more nearly
straight-down camera), with a nudge towards the frame whose centre it lies nearer to (an object near a
frame's edge is more often cut off there), among the frames that hold it at least `margin_m` inside their
searched rows and columns; only when no frame holds it that well does any frame that sees it do.

Each frame then searches one pixel rectangle: the bounding box of its cells, widened by `pad_m` on the
ground (an object whose centre lies in the frame's own cells stays whole in it up to about 2 x `pad_m`
across), its edges on multiples of 8 pixels (so that a frame decoded at 1/2, 1/4 or 1/8 holds it exactly).
The rectangle is searched as a frame of its own (`crop_view`: the same pose, the principal point moved),
tiled afresh, so it takes the fewest tiles it can rather than every tile of the whole frame's tiling it
touches. One rectangle, not a ragged union of tiles, so the ground a frame is recorded as having searched
is one exact polygon, all of it searched.

No pixels are needed: only each frame's camera (metadata) and its scale plan (pipeline.detect.scale, what
the detector would search). A frame without a usable pose cannot be placed against the others and is
searched whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from pipeline import geo
from pipeline.detect.scale import ScalePlan
from pipeline.detect.tiling import plan_tiles
from pipeline.types import CameraView

# How much a cell at a frame's edge costs over one at its centre, as a share of its ground resolution: small,
# so a finer view always wins over a coarser one by more than 20 %, and between equal views (two nadir frames
# at one height) the nearer centre decides.
EDGE_WEIGHT = 0.2

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in the full frame's pixels
# Region edges fall on multiples of this: libjpeg's largest reduction, so any reduced decode holds them.
SNAP_PX = 8


@dataclass(frozen=True)
class FrameToPlan:
    """One frame as the planner sees it: its size and its camera fitted to it (None: no usable pose)."""

    name: str
    view: CameraView | None
    width_px: int
    height_px: int


# What the detector would search a width x height frame with this camera in (detector.search_plan bound to
# a model and its settings): the planner's only view of the detector.
SearchPlan = Callable[[CameraView | None, int, int], ScalePlan]


@dataclass(frozen=True)
class FrameAssignment:
    """What one frame must search in the first pass.

    `whole`: searched whole, as if alone (no usable pose). Otherwise `region_px` is the pixel rectangle
    holding its cells (None when it got none: nothing to search), `tiles` how many tiles searching it takes
    (`tiles_whole` for the whole frame), and `cells` the (column, row) of each cell it got."""

    name: str
    whole: bool
    region_px: Rect | None
    tiles: int
    tiles_whole: int
    cells: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class CellPlan:
    origin: tuple[float, float]  # (lat, lon) of the cells' east/north plane
    corner_en: tuple[float, float]  # east/north metres of cell (0, 0)'s lower-left corner in that plane
    cell_m: float
    frames: tuple[FrameAssignment, ...]
    cells_seen: int  # cells some frame searches (under the scale plans): each is assigned exactly once

    def tiles(self) -> int:
        return sum(f.tiles for f in self.frames)

    def tiles_whole(self) -> int:
        return sum(f.tiles_whole for f in self.frames)

    def cell_centre_en(self, col: int, row: int) -> tuple[float, float]:
        return self.corner_en[0] + (col + 0.5) * self.cell_m, self.corner_en[1] + (row + 0.5) * self.cell_m


def crop_view(view: CameraView, rect: tuple[int, int, int, int]) -> CameraView:
    """The camera of a pixel rectangle of a frame: the same pose and focal length, the principal point
    moved by the rectangle's corner; its pixel (x, y) is the frame's (x + x0, y + y0)."""
    x0, y0, x1, y1 = rect
    intr = replace(
        view.intrinsics,
        width_px=x1 - x0,
        height_px=y1 - y0,
        cx_px=view.intrinsics.cx_px - x0,
        cy_px=view.intrinsics.cy_px - y0,
    )
    return replace(view, intrinsics=intr)


def snap_rect(rect: Rect, width: int, height: int, step: int = SNAP_PX) -> tuple[int, int, int, int]:
    """`rect` widened to multiples of `step` pixels, within the frame."""
    x0, y0, x1, y1 = rect
    return (
        max(0, math.floor(x0 / step) * step),
        max(0, math.floor(y0 / step) * step),
        min(width, math.ceil(x1 / step) * step),
        min(height, math.ceil(y1 / step) * step),
    )


def region_tiles(
    search: SearchPlan, view: CameraView, rect: tuple[int, int, int, int], tile_px: int, overlap_px: int
) -> int:
    """How many tiles searching that rectangle of a frame takes."""
    x0, y0, x1, y1 = rect
    return len(plan_tiles(search(crop_view(view, rect), x1 - x0, y1 - y0), tile_px, overlap_px))


def plan_cells(
    frames: Sequence[FrameToPlan],
    search: SearchPlan,
    tile_px: int,
    overlap_px: int,
    cell_m: float = 5.0,
    margin_m: float = 5.0,
    pad_m: float = 4.0,
) -> CellPlan:
    """Each ground cell under the posed frames assigned to its best view (module docstring)."""
    plans = [
        search(f.view, f.width_px, f.height_px)
        if f.width_px > 0 and f.height_px > 0
        else ScalePlan(0, 0, (), f.view is None)
        for f in frames
    ]
    whole = [len(plan_tiles(p, tile_px, overlap_px)) for p in plans]
    posed = [k for k, f in enumerate(frames) if f.view is not None and plans[k].strips]
    out: list[FrameAssignment | None] = [None] * len(frames)
    for k, f in enumerate(frames):
        if f.view is None:
            out[k] = FrameAssignment(f.name, True, None, whole[k], whole[k])
    if not posed:
        done = [
            a or FrameAssignment(f.name, False, None, 0, n)
            for a, f, n in zip(out, frames, whole, strict=True)
        ]
        return CellPlan((0.0, 0.0), (0.0, 0.0), cell_m, tuple(done), 0)
    first = frames[posed[0]].view
    assert first is not None
    origin = (first.pose.lat, first.pose.lon)
    centres = {k: _camera_en(frames[k].view, origin) for k in posed}
    boxes = [_searched_box(frames[k].view, plans[k], centres[k]) for k in posed]
    e0 = min(b[0] for b in boxes)
    n0 = min(b[1] for b in boxes)
    cols = max(1, math.ceil((max(b[2] for b in boxes) - e0) / cell_m))
    rows = max(1, math.ceil((max(b[3] for b in boxes) - n0) / cell_m))
    ce, cn = np.meshgrid(e0 + (np.arange(cols) + 0.5) * cell_m, n0 + (np.arange(rows) + 0.5) * cell_m)
    grid = np.column_stack([ce.ravel(), cn.ravel()])
    inf = np.full(len(grid), np.inf)
    cost_inside, cost_any = [], []
    for k in posed:
        view = frames[k].view
        assert view is not None
        inside, anywhere = _costs(view, plans[k], grid - centres[k], margin_m)
        cost_inside.append(np.where(inside, anywhere, inf))
        cost_any.append(anywhere)
    inside_all, any_all = np.vstack(cost_inside), np.vstack(cost_any)
    # Well inside some frame: the best of those; else the best frame that sees it at all.
    use_inside = np.isfinite(inside_all).any(axis=0)
    chosen = np.where(use_inside, inside_all.argmin(axis=0), any_all.argmin(axis=0))
    seen = use_inside | np.isfinite(any_all).any(axis=0)
    for j, k in enumerate(posed):
        mine = np.flatnonzero(seen & (chosen == j))
        f = frames[k]
        view = f.view
        assert view is not None
        cells = tuple((int(i % cols), int(i // cols)) for i in mine)
        found = _region_px(view, plans[k], grid[mine] - centres[k], cell_m / 2.0 + pad_m)
        if found is None:
            out[k] = FrameAssignment(f.name, False, None, 0, whole[k], cells)
            continue
        rect = snap_rect(found, f.width_px, f.height_px)
        tiles = region_tiles(search, view, rect, tile_px, overlap_px)
        region: Rect = (float(rect[0]), float(rect[1]), float(rect[2]), float(rect[3]))
        out[k] = FrameAssignment(f.name, False, region, tiles, whole[k], cells)
    done = [
        a or FrameAssignment(f.name, False, None, 0, n) for a, f, n in zip(out, frames, whole, strict=True)
    ]
    return CellPlan(origin, (e0, n0), cell_m, tuple(done), int(seen.sum()))


def _camera_en(view: CameraView | None, origin: tuple[float, float]) -> np.ndarray:
    assert view is not None
    return np.array(geo.latlon_offset(origin[0], origin[1], view.pose.lat, view.pose.lon))


def _searched_box(
    view: CameraView | None, plan: ScalePlan, centre: np.ndarray
) -> tuple[float, float, float, float]:
    """East/north bounds of the frame's searched rows on the ground."""
    assert view is not None
    top, bottom = plan.searched_rows
    w = plan.width_px
    xs = np.linspace(0.0, w, 9)
    ys = np.linspace(top, bottom, 9)
    edge = np.array(
        [[x, top] for x in xs] + [[x, bottom] for x in xs] + [[0.0, y] for y in ys] + [[w, y] for y in ys]
    )
    en = geo.ground_offsets(view.intrinsics, view.pose, edge)
    en = en[np.isfinite(en).all(axis=1)] + centre
    return float(en[:, 0].min()), float(en[:, 1].min()), float(en[:, 0].max()), float(en[:, 1].max())


def _pixels(view: CameraView, en: np.ndarray) -> np.ndarray:
    enu = np.column_stack([en, np.zeros(len(en))])
    return geo.project_enu_to_pixels(view.intrinsics, view.pose, enu)


def _costs(
    view: CameraView, plan: ScalePlan, en: np.ndarray, margin_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """(held at least `margin_m` inside the searched part, cost where searched else inf) per point."""
    w, h = plan.width_px, plan.height_px
    top, bottom = plan.searched_rows
    xy = _pixels(view, en)
    ok = np.isfinite(xy).all(axis=1)
    x, y = np.where(ok, xy[:, 0], -1.0), np.where(ok, xy[:, 1], -1.0)
    searched = ok & (x >= 0) & (x < w) & (y >= top) & (y < bottom)
    gsd = np.full(len(en), np.inf)
    if searched.any():
        gsd[searched] = geo.local_gsd_m(view.intrinsics, view.pose, xy[searched])
    margin_px = margin_m / np.where(np.isfinite(gsd), gsd, 1.0)
    inside = (
        searched
        & (x >= margin_px)
        & (x <= w - margin_px)
        & (y >= top + margin_px)
        & (y <= bottom - margin_px)
    )
    edge = np.maximum(np.abs(x - w / 2.0) / (w / 2.0), np.abs(y - h / 2.0) / (h / 2.0))
    cost = np.where(searched, gsd * (1.0 + EDGE_WEIGHT * edge), np.inf)
    return inside, cost


def _region_px(view: CameraView, plan: ScalePlan, en: np.ndarray, half_m: float) -> Rect | None:
    """The pixel bounding box of squares of half-side `half_m` around each point, within the searched rows."""
    if len(en) == 0:
        return None
    corners = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]) * half_m
    pts = (en[:, None, :] + corners[None, :, :]).reshape(-1, 2)
    xy = _pixels(view, pts)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return None
    top, bottom = plan.searched_rows
    x0 = max(0.0, float(xy[:, 0].min()))
    x1 = min(float(plan.width_px), float(xy[:, 0].max()))
    y0 = max(float(top), float(xy[:, 1].min()))
    y1 = min(float(bottom), float(xy[:, 1].max()))
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)
