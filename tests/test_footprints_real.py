"""Footprints of the real Brighton frames (DJI Phantom 3, nadir, ~40 m) agree with their GPS positions.

Consecutive frames of one leg are two copies of one rectangle shifted by the distance the drone flew, so the
area they share is (W - |dx|) (H - |dy|), with (dx, dy) the GPS displacement in the frame's own axes. The
footprints come from the pixel -> ground model (intrinsics, yaw, height); the expectation only from the GPS
positions and the footprint's size, so a wrong yaw, scale or axis shows up as a mismatch.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline import geo
from pipeline.frames import view_for_image
from pipeline.types import CameraView

REAL = Path(__file__).parent / "data" / "real" / "dji_phantom3_brighton"


def _local(view: CameraView, origin: tuple[float, float]) -> np.ndarray:
    corners = geo.ground_polygon(
        view, (0, 0, view.intrinsics.width_px, view.intrinsics.height_px), per_side=1
    )
    return np.array([geo.latlon_offset(*origin, lat, lon) for lat, lon in corners], dtype=np.float32)


def _overlap_m2(a: np.ndarray, b: np.ndarray) -> float:
    area, _ = cv2.intersectConvexConvex(a, b)
    return float(area)


def _axes(yaw_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Image right and image up on the ground for a nadir camera turned by `yaw_deg`."""
    yaw = math.radians(yaw_deg)
    return np.array([math.cos(yaw), -math.sin(yaw)]), np.array([math.sin(yaw), math.cos(yaw)])


# DJI_0018 -> DJI_0019: the next frame on one leg (forward overlap); DJI_0018 -> DJI_0031: the parallel leg
# flown back with the same heading (side overlap).
@pytest.mark.parametrize(
    ("first", "second"), [("DJI_0018.JPG", "DJI_0019.JPG"), ("DJI_0018.JPG", "DJI_0031.JPG")]
)
def test_frames_overlap_as_their_positions_say(first: str, second: str):
    a, b = view_for_image(REAL / first), view_for_image(REAL / second)
    origin = (a.pose.lat, a.pose.lon)
    poly_a, poly_b = _local(a, origin), _local(b, origin)
    shift = np.array(geo.latlon_offset(*origin, b.pose.lat, b.pose.lon))

    # Centre to centre, nadir footprints are as far apart as the GPS positions (a 0.1 degree tilt at 40 m
    # moves a footprint by 7 cm).
    centres = poly_b.mean(axis=0) - poly_a.mean(axis=0)
    assert np.linalg.norm(centres - shift) < 0.3

    right, up = _axes((a.pose.yaw_deg + b.pose.yaw_deg) / 2)
    width_m = float(np.linalg.norm(poly_a[1] - poly_a[0]))
    height_m = float(np.linalg.norm(poly_a[2] - poly_a[1]))
    expected = max(0.0, width_m - abs(shift @ right)) * max(0.0, height_m - abs(shift @ up))
    assert expected > 0.1 * width_m * height_m  # the frames do overlap
    # The two yaws differ by a few degrees, which the shifted-rectangle formula ignores.
    assert _overlap_m2(poly_a, poly_b) == pytest.approx(expected, rel=0.05)


def test_footprint_size_matches_the_nadir_gsd():
    view = view_for_image(REAL / "DJI_0018.JPG")
    # FC300S: 6.17 mm sensor width, 3.61 mm lens (EXIF FocalLength), 4000 px across; 16:9 crop of 4:3.
    gsd = geo.nadir_gsd_m(6.17, view.pose.height_m, 3.61, 4000)
    area = geo.polygon_area_m2(geo.frame_footprint(view))
    assert area == pytest.approx(4000 * gsd * 2250 * gsd, rel=0.01)
    # The image's top edge faces the gimbal yaw (45 degrees: north-east).
    corners = _local(view, (view.pose.lat, view.pose.lon))
    top_mid = (corners[0] + corners[1]) / 2
    assert math.degrees(math.atan2(top_mid[0], top_mid[1])) == pytest.approx(45.0, abs=0.5)
