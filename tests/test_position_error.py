"""Position error of a placed detection: the stated 90 % radius against the spread the georeferencing itself
gives when the pose is perturbed by the model's own error sizes (Monte Carlo through pipeline.geo), and the
RTK accuracy tags from DJI XMP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import geo, position_error
from pipeline.metadata.xmp import parse_xmp
from pipeline.position_error import ErrorModel
from pipeline.types import Attitude, ImageMeta, Intrinsics, Pose

INTR = Intrinsics(4000, 3000, 2800.0, 2000.0, 1500.0, source="test")


def _placed_spread(pose: Pose, x: float, y: float, model: ErrorModel, n: int = 4000) -> tuple[float, float]:
    """(true ground distance, 90th percentile of the horizontal displacement) of pixel (x, y) when the
    camera's position, height, pitch and yaw are drawn from the model's standard deviations."""
    rng = np.random.default_rng(7)
    true = geo.ground_offsets(INTR, pose, np.array([[x, y]]))[0]
    moved = []
    a = model.angle_sigma_deg
    for _ in range(n):
        p = Pose(
            pose.lat,
            pose.lon,
            pose.height_m + rng.normal(0, model.height_sigma_m),
            pose.yaw_deg + rng.normal(0, a),
            pose.pitch_deg + rng.normal(0, a),
        )
        en = geo.ground_offsets(INTR, p, np.array([[x, y]]))[0]
        en = en + rng.normal(0, model.gnss_sigma_m, 2)
        moved.append(math.hypot(*(en - true)))
    return float(math.hypot(*true)), float(np.quantile(moved, 0.9))


@pytest.mark.parametrize(
    ("height", "pitch", "y_px"),
    [
        (90.0, -90.0, 1500.0),  # straight below
        (90.0, -90.0, 200.0),  # the far edge of a nadir frame
        (60.0, -45.0, 1500.0),  # an oblique corridor's centre
        (130.0, -45.0, 600.0),  # far rows of an oblique frame
    ],
)
def test_stated_radius_covers_the_geometry_and_is_not_far_above_it(
    height: float, pitch: float, y_px: float
) -> None:
    model = ErrorModel(anchor_share=0.0)  # the anchor's share depends on the object, not the pose
    pose = Pose(23.0, 113.7, height, 30.0, pitch)
    distance, p90 = _placed_spread(pose, 2000.0, y_px, model)
    stated = position_error.sighting_error_m(height, distance, model.gnss_sigma_m, 0.0, model)
    assert stated >= p90
    assert stated <= 1.6 * p90  # conservative, not useless


def test_error_grows_with_range_and_shrinks_with_rtk() -> None:
    near = position_error.sighting_error_m(90.0, 0.0, 2.0, 4.0)
    far = position_error.sighting_error_m(90.0, 150.0, 2.0, 4.0)
    rtk = position_error.sighting_error_m(90.0, 0.0, position_error.gnss_sigma_m(0.02), 4.0)
    assert near < far
    assert rtk < near
    # An RTK fix's stated accuracy is floored; a missing or nonsense one falls back to single-point GNSS.
    assert position_error.gnss_sigma_m(0.001) == ErrorModel().rtk_floor_m
    assert position_error.gnss_sigma_m(None) == ErrorModel().gnss_sigma_m
    assert position_error.gnss_sigma_m(float("nan")) == ErrorModel().gnss_sigma_m


def test_flights_combine_and_sightings_of_one_flight_do_not() -> None:
    one = position_error.combined_error_m({"F1": [4.0, 4.0, 4.0, 6.0]})
    two = position_error.combined_error_m({"F1": [4.0], "F2": [4.0]})
    assert one == pytest.approx(4.0)
    assert two == pytest.approx(4.0 / math.sqrt(2.0))
    assert position_error.combined_error_m({}) is None


XMP_RTK = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
 drone-dji:GpsLatitude="+22.98000000" drone-dji:GpsLongitude="+113.74000000"
 drone-dji:RelativeAltitude="+90.00" drone-dji:GimbalYawDegree="+0.00" drone-dji:GimbalPitchDegree="-90.00"
 drone-dji:RtkFlag="%s" drone-dji:RtkStdLon="0.01230" drone-dji:RtkStdLat="0.01810"
 drone-dji:RtkStdHgt="0.02950"/></rdf:RDF></x:xmpmeta>"""


@pytest.mark.parametrize(("flag", "sigma"), [(50, 0.0181), (34, 0.0181), (16, None), (0, None)])
def test_rtk_tags_give_the_pose_its_accuracy_only_with_a_differential_fix(
    flag: int, sigma: float | None
) -> None:
    fields = parse_xmp(XMP_RTK % str(flag).encode())
    assert fields.problems == ()
    assert (fields.rtk_flag, fields.rtk_std_lat_m, fields.rtk_std_lon_m, fields.rtk_std_hgt_m) == (
        flag,
        0.0181,
        0.0123,
        0.0295,
    )
    meta = ImageMeta(
        "x.jpg", 4000, 3000, lat=22.98, lon=113.74, rel_alt_m=90.0, gimbal=Attitude(0.0, -90.0),
        rtk_flag=flag, rtk_std_lat_m=0.0181, rtk_std_lon_m=0.0123,
    )  # fmt: skip
    pose, _ = geo.pose_from_meta(meta)
    assert pose.gnss_sigma_m == sigma
