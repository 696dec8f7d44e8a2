"""The camera model against the real Brighton frames (DJI Phantom 3, FC300S, nadir, ~40 m above take-off).

The expectation comes from the pixels and the GPS, not from the model: the same patch of beach, found by
feature matching (SIFT, then a RANSAC similarity) in two overlapping frames, is one place on the ground. The
model turns each frame's pixel offset of that patch into metres from where the frame was taken (its ground
resolution, yaw and axes), so the shift of the patch between the frames, in metres, must be the GPS
displacement between the frames: a wrong scale, yaw sense or axis shows up as a mismatch of metres to tens of
metres (`test_a_wrong_scale_or_yaw_would_not_pass` shows it does).

The tolerance is what the aircraft's own errors allow. DJI states the Phantom 3's hover accuracy with GPS as
+-1.5 m horizontally and +-0.5 m vertically: two positions may disagree by 3 m, and a height off by 0.5 m of
40 m scales every offset from the nadir point by 1.25 %. The gimbal's yaw is the compass's: 2 degrees (the
rotation the matched features show between the frames differs from the difference of the two recorded yaws
by 1 and 2 degrees) turn an offset of r metres by r * 0.035 m. Measured (OpenCV 5.0 SIFT): 1.6 m off, 5.1 m
allowed, over 105 matches (DJI_0018 -> DJI_0019); 2.2 m off, 5.8 m allowed, over 37 (DJI_0018 -> DJI_0031).
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from pyproj import Geod

from pipeline import geo
from pipeline.frames import view_for_image
from pipeline.types import CameraView

REAL = Path(__file__).parent / "data" / "real" / "dji_phantom3_brighton"
REDUCE = 4  # features are found at a quarter of the size (1000 x 563): plenty of them, in a second
GPS_M = 2 * 1.5  # two horizontal positions, each within DJI's stated +-1.5 m
HEIGHT_M = 0.5  # each frame's height above take-off, DJI's stated +-0.5 m
YAW_DEG = 2.0
MIN_MATCHES = 20
WGS84 = Geod(ellps="WGS84")

# DJI_0018 -> DJI_0019: the next frame on one leg (forward overlap, ~14 m apart); DJI_0018 -> DJI_0031: the
# parallel leg (side overlap, ~53 m apart).
PAIRS = [("DJI_0018.JPG", "DJI_0019.JPG"), ("DJI_0018.JPG", "DJI_0031.JPG")]


@cache
def _features(name: str) -> tuple[np.ndarray, np.ndarray]:
    """SIFT keypoints (full-size pixel coordinates) and descriptors of one frame."""
    gray = cv2.imread(str(REAL / name), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    assert gray is not None, name
    keypoints, descriptors = cv2.SIFT_create(nfeatures=8000).detectAndCompute(gray, None)
    xy = np.array([k.pt for k in keypoints], dtype=np.float64) * REDUCE + (REDUCE - 1) / 2
    return xy, descriptors


@cache
def _matches(first: str, second: str) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of the same ground in both frames: ratio-tested matches a RANSAC similarity agrees with."""
    xy_a, des_a = _features(first)
    xy_b, des_b = _features(second)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_a, des_b, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    a = xy_a[[m.queryIdx for m in good]]
    b = xy_b[[m.trainIdx for m in good]]
    _, inliers = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC, ransacReprojThreshold=3.0 * REDUCE)
    keep = inliers.ravel().astype(bool)
    assert keep.sum() >= MIN_MATCHES, f"{first} -> {second}: only {keep.sum()} consistent matches"
    return a[keep], b[keep]


def _east_north(lat0: float, lon0: float, lat: float, lon: float) -> np.ndarray:
    azimuth, _, distance = WGS84.inv(lon0, lat0, lon, lat)
    return distance * np.array([math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth))])


def _offsets(view: CameraView, xy: np.ndarray) -> np.ndarray:
    """Where the model puts each pixel on the ground: metres east and north of the camera's GPS position."""
    out = []
    for x, y in xy:
        point = geo.pixel_to_ground(view, float(x), float(y))
        out.append(_east_north(view.pose.lat, view.pose.lon, point.lat, point.lon))
    return np.array(out)


def _mismatch(a: CameraView, b: CameraView, xy_a: np.ndarray, xy_b: np.ndarray) -> tuple[float, float]:
    """How far the model's shift of the matched ground between the frames is from the GPS displacement
    (metres, the median over the matches), and what the aircraft's errors allow there."""
    off_a, off_b = _offsets(a, xy_a), _offsets(b, xy_b)
    shift = np.median(off_a - off_b, axis=0)  # the ground's offset in A less its offset in B
    gps = _east_north(a.pose.lat, a.pose.lon, b.pose.lat, b.pose.lon)
    reach = float(np.median(np.linalg.norm(off_a, axis=1)) + np.median(np.linalg.norm(off_b, axis=1)))
    allowed = GPS_M + reach * (HEIGHT_M / min(a.pose.height_m, b.pose.height_m) + math.radians(YAW_DEG))
    return float(np.linalg.norm(shift - gps)), allowed


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_the_ground_shifts_between_frames_as_their_gps_positions_say(first: str, second: str) -> None:
    a, b = view_for_image(REAL / first), view_for_image(REAL / second)
    xy_a, xy_b = _matches(first, second)
    mismatch, allowed = _mismatch(a, b, xy_a, xy_b)
    assert mismatch < allowed, f"{first} -> {second}: {mismatch:.2f} m off the GPS (allowed {allowed:.2f})"


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_wrong_scale_or_yaw_would_not_pass(first: str, second: str) -> None:
    """The same comparison with the ground resolution doubled (half the focal length) or the yaw turned the
    other way round fails by far: the test above can fail."""
    a, b = view_for_image(REAL / first), view_for_image(REAL / second)
    xy_a, xy_b = _matches(first, second)

    def doubled_gsd(v: CameraView) -> CameraView:
        return dataclasses.replace(
            v, intrinsics=dataclasses.replace(v.intrinsics, focal_px=v.intrinsics.focal_px / 2)
        )

    def yaw_flipped(v: CameraView) -> CameraView:
        return dataclasses.replace(v, pose=dataclasses.replace(v.pose, yaw_deg=-v.pose.yaw_deg))

    for wrong in (doubled_gsd, yaw_flipped):
        mismatch, allowed = _mismatch(wrong(a), wrong(b), xy_a, xy_b)
        assert mismatch > 2 * allowed, wrong.__name__


def test_footprint_size_matches_the_nadir_gsd() -> None:
    view = view_for_image(REAL / "DJI_0018.JPG")
    # FC300S: 6.17 mm sensor width, 3.61 mm lens (EXIF FocalLength), 4000 px across; 16:9 crop of 4:3.
    gsd = 6.17 * view.pose.height_m / (3.61 * 4000)
    area = geo.polygon_area_m2(geo.frame_footprint(view))
    assert area == pytest.approx(4000 * gsd * 2250 * gsd, rel=0.01)
    # The image's top edge faces the gimbal yaw (45 degrees: north-east).
    top_mid = _offsets(view, np.array([[2000.0, 0.0]]))[0]
    assert math.degrees(math.atan2(top_mid[0], top_mid[1])) == pytest.approx(45.0, abs=0.5)
