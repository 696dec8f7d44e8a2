"""Ground-resolution normalisation: strip scales, searched rows, far-field limits and the fallback scale."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from detect_helpers import M3E_4000, view

from pipeline import geo
from pipeline.detect.scale import ScaleLimits, local_gsd_m, plan_scales
from pipeline.types import Intrinsics

G, TILE, OVERLAP = 0.08, 320, 64


@pytest.mark.parametrize("height_m", [50.0, 100.0, 140.0])
def test_nadir_frames_are_one_uniform_scale_at_the_nadir_gsd(height_m: float):
    plan = plan_scales(view(height_m), 4000, 3000, G, TILE, OVERLAP)
    nadir_gsd = geo.nadir_gsd_m(17.3, height_m, 12.29, 4000)  # DESIGN.md's formula
    assert not plan.fallback and plan.notes == ()
    assert plan.searched_rows == (0, 3000)
    for strip in plan.strips:
        assert strip.gsd_m == pytest.approx(nadir_gsd, rel=1e-6)
        fx, fy = strip.factors(4000)
        assert fx == pytest.approx(nadir_gsd / G, rel=2e-3)
        assert fy == pytest.approx(fx, rel=5e-3)  # square pixels up to rounding


@pytest.mark.parametrize(
    ("height_m", "pitch_deg"), [(50, -90), (100, -60), (100, -45), (140, -45), (80, -35)]
)
def test_strips_are_one_tile_tall_cover_the_searched_rows_and_overlap(height_m: float, pitch_deg: float):
    plan = plan_scales(view(height_m, pitch_deg), 4000, 3000, G, TILE, OVERLAP)
    strips = plan.strips  # bottom-up
    assert strips and strips[0].bottom_px == 3000
    top, bottom = plan.searched_rows
    covered = np.zeros(3000, dtype=bool)
    for s in strips:
        assert (s.size_px[1] <= TILE and s.size_px[1] >= TILE - 2) or s is strips[-1]
        covered[s.top_px : s.bottom_px] = True
    assert covered[top:bottom].all()
    for lower, upper in itertools.pairwise(strips):
        # Consecutive strips share at least the overlap, measured in the lower strip's scaled pixels.
        shared = lower.top_px - upper.bottom_px
        assert -shared * lower.factors(4000)[1] >= OVERLAP - 2


@pytest.mark.parametrize("pitch_deg", [-60.0, -45.0, -35.0])
def test_oblique_strips_are_enlarged_more_towards_the_far_field(pitch_deg: float):
    limits = ScaleLimits(max_upscale=2.0)
    plan = plan_scales(view(100.0, pitch_deg), 4000, 3000, G, TILE, OVERLAP, limits)
    scales = [s.factors(4000)[0] for s in plan.strips]
    assert len(scales) > 2
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(scales))  # bottom-up: growing
    for s in plan.strips:
        assert s.gsd_m is not None
        # Each strip is at the model's GSD at its middle row (until the upscale cap).
        assert s.factors(4000)[0] == pytest.approx(min(s.gsd_m / G, 2.0), rel=0.02)
    # By default nothing is enlarged: rows coarser than the model's GSD keep their native pixels.
    default = plan_scales(view(100.0, pitch_deg), 4000, 3000, G, TILE, OVERLAP)
    assert default.searched_rows == plan.searched_rows
    coarse = [s for s in default.strips if s.gsd_m is not None and s.gsd_m > G * 1.05]
    assert all(s.factors(4000)[0] == pytest.approx(1.0, abs=0.01) for s in coarse)
    assert coarse or pitch_deg < -50.0  # from 100 m, only the shallower views see ground that coarse
    assert all(s.factors(4000)[0] <= 1.0 + 1e-3 for s in default.strips)


@pytest.mark.parametrize(("limit_m", "height_m", "pitch_deg"), [(300.0, 100.0, -45.0), (150.0, 60.0, -40.0)])
def test_rows_beyond_the_maximum_ground_distance_are_not_searched(limit_m, height_m, pitch_deg):
    v = view(height_m, pitch_deg)
    limits = ScaleLimits(max_ground_distance_m=limit_m, max_gsd_ratio=100.0, max_upscale=100.0)
    plan = plan_scales(v, 4000, 3000, G, TILE, OVERLAP, limits)
    top, _ = plan.searched_rows
    assert top > 0 and any("searched rows" in n for n in plan.notes)
    # The first searched row is about where the ground is `limit_m` away (at the frame's ends: the nearer).
    edge = min(geo.pixel_to_ground(v, x, top + 0.5).ground_distance_m for x in (0.5, 2000.0, 3999.5))
    assert edge == pytest.approx(limit_m, rel=0.03)


def test_rows_coarser_than_the_gsd_limit_are_not_searched():
    v = view(100.0, -40.0)
    plan = plan_scales(v, 4000, 3000, G, TILE, OVERLAP, ScaleLimits(1e6, 2.0, 2.0))
    top, _ = plan.searched_rows
    gsd_top = float(local_gsd_m(v, np.array([[2000.0, top + 0.5]]))[0])
    assert gsd_top == pytest.approx(2.0 * G, rel=0.03)


def test_a_frame_looking_at_the_horizon_only_is_not_searched_and_says_so():
    plan = plan_scales(
        view(100.0, -5.0), 4000, 3000, G, TILE, OVERLAP, ScaleLimits(max_ground_distance_m=100.0)
    )
    assert plan.strips == () and "nothing searched" in plan.notes[0]


def _lens(width: int, hfov_deg: float = 84.0) -> float:
    return width / 2.0 / math.tan(math.radians(hfov_deg / 2.0))


@pytest.mark.parametrize(
    ("intrinsics", "focal_px", "words"),
    [
        (M3E_4000, M3E_4000.focal_px, "with its own intrinsics"),
        (None, _lens(4000), "an assumed 84 degree lens"),
    ],
)
def test_without_a_pose_the_frame_is_searched_at_each_assumed_height(intrinsics, focal_px, words):
    plan = plan_scales(
        None, 4000, 3000, G, TILE, OVERLAP, intrinsics=intrinsics, why_no_pose="no GPS position"
    )
    assert plan.fallback
    assert plan.searched_rows == (0, 3000)
    # A nadir camera from 30, 60 and 120 m: GSD = height / focal length in pixels, never enlarged.
    want = {round(min(h / focal_px / G, 1.0), 3) for h in (30.0, 60.0, 120.0)}
    assert {round(s.factors(4000)[0], 3) for s in plan.strips} == want
    assert len(plan.notes) == 3
    assert all("no GPS position" in n and words in n and "fallback scale" in n for n in plan.notes)


def test_a_low_focal_length_never_enlarges_and_passes_at_one_scale_are_searched_once():
    wide = Intrinsics(4000, 3000, 500.0, 2000, 1500, "focal_35mm")  # 30 m / 500 px = 0.06 m/px: enlarging
    plan = plan_scales(None, 4000, 3000, G, TILE, OVERLAP, intrinsics=wide)
    assert {round(s.factors(4000)[0], 3) for s in plan.strips} == {round(30.0 / 500.0 / G, 3), 1.0}
    assert len(plan.notes) == 2  # 60 and 120 m both cap at native pixels: one pass


def test_gsd_above_the_horizon_is_infinite():
    assert math.isinf(float(local_gsd_m(view(100.0, -10.0), np.array([[2000.0, 0.5]]))[0]))
