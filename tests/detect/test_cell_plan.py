"""Each ground cell once (pipeline.detect.cell_plan): expectations from camera geometry, not the planner.

The simulator's camera (M3E, 4000 x 3000, focal 2841.6 px) straight down from height h sees a ground
rectangle of half-width 2000 h / 2841.6 and half-height 1500 h / 2841.6 metres around the point below it.
"""

from __future__ import annotations

import math

import pytest
from detect_helpers import M3E_4000

from pipeline import geo
from pipeline.detect.cell_plan import FrameToPlan, crop_view, plan_cells
from pipeline.detect.scale import plan_scales
from pipeline.detect.tiling import plan_tiles
from pipeline.types import CameraView, Pose

ORIGIN = (22.98, 113.74)
TILE, OVERLAP, GSD = 320, 64, 0.08
CELL, MARGIN = 5.0, 5.0


def half_extent_m(height_m: float) -> tuple[float, float]:
    return 2000.0 * height_m / M3E_4000.focal_px, 1500.0 * height_m / M3E_4000.focal_px


def frame(name: str, east: float, north: float, height: float, pitch: float = -90.0, yaw: float = 0.0):
    lat, lon = geo.offset_latlon(*ORIGIN, east, north)
    view = CameraView(Pose(lat, lon, height, yaw, pitch, 0.0), M3E_4000)
    return FrameToPlan(name, view, 4000, 3000)


def search(view, width, height):
    return plan_scales(view, width, height, GSD, TILE, OVERLAP)


def plan(frames: list[FrameToPlan]):
    return plan_cells(frames, search, TILE, OVERLAP, cell_m=CELL, margin_m=MARGIN)


def centre_en(p, cell: tuple[int, int]) -> tuple[float, float]:
    """The cell's centre relative to ORIGIN (the plan's plane is at the first frame's camera)."""
    e, n = p.cell_centre_en(*cell)
    oe, on = geo.latlon_offset(*ORIGIN, *p.origin)
    return e + oe, n + on


def inside_nadir(e: float, n: float, at: tuple[float, float], height: float, by: float) -> bool:
    """(e, n) at least `by` metres inside the ground rectangle a north-facing nadir camera at `at` sees."""
    hx, hy = half_extent_m(height)
    return abs(e - at[0]) <= hx - by and abs(n - at[1]) <= hy - by


def owners(p) -> dict[tuple[int, int], str]:
    out: dict[tuple[int, int], str] = {}
    for f in p.frames:
        for c in f.cells:
            assert c not in out, f"cell {c} assigned to {out.get(c)} and {f.name}"
            out[c] = f.name
    return out


def test_lower_of_two_nadir_frames_gets_the_shared_cells() -> None:
    # The 60 m frame's left edge on the 100 m frame's centre line: they share most of the low frame.
    low_at = (half_extent_m(60.0)[0], 0.0)
    p = plan([frame("high", 0.0, 0.0, 100.0), frame("low", *low_at, 60.0)])
    got = owners(p)
    slack = MARGIN + CELL  # cells this near an edge may go either way
    checked = {"low": 0, "high": 0}
    for cell, name in got.items():
        e, n = centre_en(p, cell)
        if inside_nadir(e, n, low_at, 60.0, slack):
            assert name == "low", (cell, e, n)
            checked["low"] += 1
        elif not inside_nadir(e, n, low_at, 60.0, -CELL) and inside_nadir(e, n, (0, 0), 100.0, 0.0):
            assert name == "high", (cell, e, n)
            checked["high"] += 1
    assert min(checked.values()) > 50


def test_oblique_frame_loses_to_a_nadir_one_over_the_nadir_frames_ground() -> None:
    # The -45 degree camera 100 m south of the nadir one, looking north: its centre ray lands under the
    # nadir camera, so it sees all of the nadir frame's middle, coarser (farther, foreshortened).
    p = plan([frame("oblique", 0.0, -100.0, 100.0, pitch=-45.0), frame("nadir", 0.0, 0.0, 100.0)])
    got = owners(p)
    nadir_cells = [c for c in got if inside_nadir(*centre_en(p, c), (0.0, 0.0), 100.0, MARGIN + CELL)]
    assert len(nadir_cells) > 300
    assert all(got[c] == "nadir" for c in nadir_cells)
    assert any(name == "oblique" for name in got.values())  # ground only it sees is still searched


def mapping_grid(overlap: float = 0.75, height: float = 100.0, n: int = 3) -> list[FrameToPlan]:
    hx, hy = half_extent_m(height)
    step_e, step_n = 2 * hx * (1 - overlap), 2 * hy * (1 - overlap)
    return [
        frame(f"f{i}{j}", i * step_e, j * step_n, height, yaw=0.0 if j % 2 == 0 else 180.0)
        for j in range(n)
        for i in range(n)
    ]


def test_every_cell_a_frame_sees_is_assigned_once() -> None:
    frames = mapping_grid()
    p = plan(frames)
    got = owners(p)  # asserts no cell twice
    assert len(got) == p.cells_seen
    # Every cell whose centre some frame sees (its ground rectangle, by the closed form) has an owner.
    hx, hy = half_extent_m(100.0)
    cols = math.ceil((2 * hx + 2 * 2 * hx * 0.25) / CELL) + 4
    rows = math.ceil((2 * hy + 2 * 2 * hy * 0.25) / CELL) + 4
    centres = [geo.latlon_offset(*ORIGIN, f.view.pose.lat, f.view.pose.lon) for f in frames]
    seen_somewhere = 0
    for col in range(-2, cols):
        for row in range(-2, rows):
            e, n = centre_en(p, (col, row))
            if any(inside_nadir(e, n, c, 100.0, 0.5) for c in centres):
                seen_somewhere += 1
                assert (col, row) in got, (col, row, e, n)
    assert seen_somewhere == pytest.approx(p.cells_seen, rel=0.05)


def test_each_frame_searches_its_cells_in_few_tiles() -> None:
    frames = mapping_grid()
    p = plan(frames)
    centre = next(a for a in p.frames if a.name == "f11")
    # The middle frame of a 75 % overlap grid owns about its middle quarter by quarter, and no more: at
    # 100 m the frame is 1760 x 1320 pixels at the model's 0.08 m/px, so its quarter (440 x 330, and a few
    # metres of pad around) takes 2 x 2 or 3 x 2 tiles of 320 against 35 for the whole frame.
    hx, hy = half_extent_m(100.0)
    area = len(centre.cells) * CELL * CELL
    assert area == pytest.approx((2 * hx * 0.25) * (2 * hy * 0.25), rel=0.35)
    assert centre.tiles_whole == 35
    assert 4 <= centre.tiles <= 6
    assert p.tiles() < 0.7 * p.tiles_whole()  # edge frames own the flight's rim: 1.6x fewer on 3 x 3
    for a, f in zip(p.frames, frames, strict=True):
        if not a.cells:
            continue
        assert a.region_px is not None
        assert all(v % 8 == 0 for v in a.region_px)
        oe, on = geo.latlon_offset(*ORIGIN, f.view.pose.lat, f.view.pose.lon)
        for cell in a.cells:
            e, n = centre_en(p, cell)
            (x, y) = geo.project_enu_to_pixels(f.view.intrinsics, f.view.pose, [[e - oe, n - on, 0.0]])[0]
            x0, y0, x1, y1 = a.region_px
            assert x0 <= x <= x1 and y0 <= y <= y1


def test_a_cropped_camera_sees_the_same_ground_as_the_frame() -> None:
    view = frame("o", 0.0, 0.0, 80.0, pitch=-60.0, yaw=37.0).view
    crop = crop_view(view, (1000, 800, 1800, 1400))
    for x, y in ((0.5, 0.5), (400.0, 300.0), (799.5, 599.5)):
        a = geo.pixel_to_ground(crop, x, y)
        b = geo.pixel_to_ground(view, x + 1000, y + 800)
        assert geo.distance_m(a.lat, a.lon, b.lat, b.lon) < 1e-6


def test_a_frame_without_a_pose_is_searched_whole() -> None:
    frames = mapping_grid(n=2)
    p = plan([*frames, FrameToPlan("unposed", None, 4000, 3000)])
    last = p.frames[-1]
    assert last.whole and last.cells == ()
    assert last.tiles == len(plan_tiles(search(None, 4000, 3000), TILE, OVERLAP))
