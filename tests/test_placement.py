"""Placing pixel detections on the ground: each placed record keeps its ground distance, the ground one pixel
covers there and its position error; a camera that is not posed keeps the boxes in pixels, and boxes beyond
range or above the horizon are dropped and counted."""

from __future__ import annotations

import math

import pytest

from pipeline import geo, position_error
from pipeline.placement import place
from pipeline.types import CameraView, Intrinsics, PixelDetection, Pose, Unposed

# DJI Mavic 3 Enterprise wide camera: 12.29 mm lens on a 17.3 mm wide sensor, here at 4000 x 3000.
M3E = Intrinsics(4000, 3000, 12.29 * 4000 / 17.3, 2000.0, 1500.0, "sensor_table", 17.3)


def camera(height_m: float, pitch_deg: float) -> CameraView:
    return CameraView(Pose(22.98, 113.74, height_m, 0.0, pitch_deg, 0.0), M3E)


def box(cx: float, cy: float, half: float = 20.0) -> PixelDetection:
    return PixelDetection("f.jpg", "garbage_pile", 0.8, (cx - half, cy - half, cx + half, cy + half))


def test_a_box_below_a_nadir_camera_lands_below_it_at_the_nadir_gsd():
    (det,) = place([box(2000.0, 1500.0)], camera(100.0, -90.0), 300.0).detections
    assert det.ground_distance_m == pytest.approx(0.0, abs=1e-6)
    # Nadir GSD = sensor width x height / (focal length x image width): 17.3 x 100 / (12.29 x 4000).
    assert det.local_gsd_m == pytest.approx(17.3 * 100.0 / (12.29 * 4000.0), rel=1e-6)
    # A 40-pixel square's diagonal at that resolution.
    assert det.size_m == pytest.approx(40.0 * math.sqrt(2.0) * det.local_gsd_m, rel=1e-3)
    assert det.position_error_m == pytest.approx(
        position_error.sighting_error_m(100.0, 0.0, position_error.DEFAULT_MODEL.gnss_sigma_m, det.size_m)
    )
    assert geo.distance_m(det.lat, det.lon, 22.98, 113.74) < 1e-3
    assert len(det.footprint) == 4 and det.assumed_gsd_m is None


def test_an_oblique_view_places_the_principal_point_at_height_times_cot_of_the_depression():
    # A zero-size box at the image centre: its anchor is the principal point, on the optical axis, which
    # meets the ground 100 m / tan(45 degrees) ahead.
    centre = PixelDetection("f.jpg", "illegal_construction", 0.7, (2000.0, 1500.0, 2000.0, 1500.0))
    (det,) = place([centre], camera(100.0, -45.0), 300.0).detections
    assert det.ground_distance_m == pytest.approx(100.0, rel=1e-6)
    nadir = 17.3 * 100.0 / (12.29 * 4000.0)
    # Slant range sqrt(2) x 100 m: across-track sqrt(2) x nadir; along-track the ground is tilted 45 degrees
    # to the ray, another sqrt(2): area per pixel 2 sqrt(2) x nadir^2.
    assert det.local_gsd_m == pytest.approx(nadir * math.sqrt(2.0 * math.sqrt(2.0)), rel=1e-3)
    east, north = geo.latlon_offset(22.98, 113.74, det.lat, det.lon)
    assert (east, north) == pytest.approx((0.0, 100.0), abs=1e-3)  # yaw 0: straight ahead is north


def test_boxes_beyond_range_or_above_the_horizon_are_dropped_and_counted():
    cam = camera(100.0, -45.0)
    near, far, sky = box(2000.0, 2800.0), box(2000.0, 300.0, 10.0), box(2000.0, 10.0, 5.0)
    kept = place([near, far], cam, 300.0)
    assert len(kept.detections) == 2 and kept.dropped == 0
    short = place([near, far], cam, 200.0)
    assert [d.xyxy_px for d in short.detections] == [near.xyxy_px] and short.dropped == 1
    level = place([sky], camera(100.0, -20.0), 1e9)  # 20 degrees down, 27.8 degrees half-height: above
    assert level.detections == () and level.dropped == 1


def test_an_unposed_camera_keeps_every_box_in_pixels_with_what_the_search_assumed():
    found = PixelDetection("f.jpg", "garbage_pile", 0.6, (10.0, 20.0, 110.0, 80.0), 4.2, 0.042)
    placed = place([found], Unposed("no GPS position"), 300.0)
    (det,) = placed.detections
    assert placed.dropped == 0
    assert (det.lat, det.lon, det.ground_distance_m, det.local_gsd_m, det.footprint) == (
        None,
        None,
        None,
        None,
        (),
    )
    assert (det.xyxy_px, det.size_m, det.assumed_gsd_m, det.score) == (
        (10.0, 20.0, 110.0, 80.0),
        4.2,
        0.042,
        0.6,
    )
    assert det.as_dict()["lat"] is None
