"""Georeferencing: camera geometry checked against closed-form answers, geodesy and map datums against
published numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline import geo
from pipeline.errors import GeoreferenceError
from pipeline.types import (
    ATTITUDE_PARTS,
    FLAT_ATTITUDE_NAMES,
    Attitude,
    CameraView,
    ImageMeta,
    Intrinsics,
    Pose,
)

DONGGUAN = (22.98, 113.74)


def _intr(width: int = 4000, height: int = 3000, focal_px: float = 2800.0) -> Intrinsics:
    return Intrinsics(width, height, focal_px, width / 2, height / 2, source="test")


def _view(yaw: float = 0.0, pitch: float = -90.0, roll: float = 0.0, height: float = 100.0) -> CameraView:
    return CameraView(Pose(DONGGUAN[0], DONGGUAN[1], height, yaw, pitch, roll), _intr())


def _en(view: CameraView, x: float, y: float) -> np.ndarray:
    out: np.ndarray = geo.ground_offsets(view.intrinsics, view.pose, np.array([[x, y]]))[0]
    return out


@pytest.mark.parametrize(
    ("yaw", "pitch", "expected_east", "expected_north"),
    [
        # The principal ray of a tilted camera lands height / tan(|pitch|) ahead, along the yaw.
        (0.0, -90.0, 0.0, 0.0),
        (0.0, -45.0, 0.0, 100.0),
        (90.0, -45.0, 100.0, 0.0),
        (180.0, -60.0, 0.0, -100.0 / math.tan(math.radians(60))),
        (-90.0, -30.0, -100.0 / math.tan(math.radians(30)), 0.0),
        (45.0, -45.0, 100.0 / math.sqrt(2), 100.0 / math.sqrt(2)),
    ],
)
def test_principal_ray_lands_along_heading(
    yaw: float, pitch: float, expected_east: float, expected_north: float
):
    en = _en(_view(yaw=yaw, pitch=pitch), 2000, 1500)
    assert en[0] == pytest.approx(expected_east, abs=1e-9)
    assert en[1] == pytest.approx(expected_north, abs=1e-9)


@pytest.mark.parametrize(
    ("yaw", "dx", "dy", "east_sign", "north_sign"),
    [
        # At nadir the top of the image faces the yaw direction and the right side is 90 degrees clockwise.
        (0.0, 0, -100, 0, 1),
        (0.0, 100, 0, 1, 0),
        (90.0, 0, -100, 1, 0),
        (90.0, 100, 0, 0, -1),
        (180.0, 0, -100, 0, -1),
    ],
)
def test_nadir_image_orientation(yaw: float, dx: int, dy: int, east_sign: int, north_sign: int):
    en = _en(_view(yaw=yaw), 2000 + dx, 1500 + dy)
    assert np.sign(np.round(en, 9)).tolist() == [east_sign, north_sign]


def test_nadir_pixel_spacing_is_the_gsd_formula():
    # Phantom 4 Pro: 13.2 mm sensor, 8.8 mm lens, 5472 px wide.
    focal_px = 8.8 * 5472 / 13.2
    view = CameraView(
        Pose(*DONGGUAN, 100.0, 0.0, -90.0), Intrinsics(5472, 3648, focal_px, 2736, 1824, "test")
    )
    step = _en(view, 2736 + 1000, 1824)[0] / 1000
    assert step == pytest.approx(geo.nadir_gsd_m(13.2, 100.0, 8.8, 5472), rel=1e-12)


def test_roll_turns_the_image_about_the_optical_axis():
    # Positive roll: the image's right side goes down, so at nadir a pixel right of centre swings south
    # (for yaw 0) by the roll angle.
    en = _en(_view(roll=10.0), 2000 + 280, 1500)
    assert math.degrees(math.atan2(-en[1], en[0])) == pytest.approx(10.0, abs=1e-9)


def test_roll_tilts_an_oblique_view_sideways():
    level = _en(_view(pitch=-45.0), 2000, 2500)
    rolled = _en(_view(pitch=-45.0, roll=5.0), 2000, 2500)
    assert rolled[0] < level[0] - 1.0  # the bottom-centre pixel moves west (left)


@pytest.mark.parametrize(
    ("pitch", "y_px"),
    # The half vertical field of view is atan(1500 / 2800) = 28.2 degrees.
    [(0.0, 1500), (-10.0, 1500 - 2800 * math.tan(math.radians(10)) - 1), (30.0, 3000), (-20.0, 0)],
)
def test_rays_at_or_above_the_horizon_have_no_ground_point(pitch: float, y_px: float):
    view = _view(pitch=pitch)
    with pytest.raises(GeoreferenceError, match="horizon"):
        geo.pixel_to_ground(view, 2000, y_px)


def test_just_below_the_horizon_lands_far_away():
    view = _view(pitch=-10.0)
    y = 1500 - 2800 * math.tan(math.radians(9.9))
    point = geo.pixel_to_ground(view, 2000, y)
    assert point.ground_distance_m == pytest.approx(100 / math.tan(math.radians(0.1)), rel=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_project_and_unproject_are_inverse(seed: int):
    rng = np.random.default_rng(seed)
    pose = Pose(
        *DONGGUAN,
        height_m=rng.uniform(20, 300),
        yaw_deg=rng.uniform(-180, 180),
        pitch_deg=rng.uniform(-90, -40),
        roll_deg=rng.uniform(-5, 5),
    )
    intr = _intr()
    px = np.column_stack([rng.uniform(0, 4000, 50), rng.uniform(0, 3000, 50)])
    en = geo.ground_offsets(intr, pose, px)
    enu = np.column_stack([en, np.zeros(len(en))])
    np.testing.assert_allclose(geo.project_enu_to_pixels(intr, pose, enu), px, atol=1e-6)
    h = geo.ground_to_pixel_homography(intr, pose)
    hom = np.column_stack([en, np.ones(len(en))]) @ h.T
    np.testing.assert_allclose(hom[:, :2] / hom[:, 2:], px, atol=1e-6)
    assert (hom[:, 2] > 0).all()


def test_points_behind_the_camera_do_not_project():
    pose = Pose(*DONGGUAN, 100.0, 0.0, -20.0)
    out = geo.project_enu_to_pixels(_intr(), pose, np.array([[0.0, -50.0, 0.0], [0.0, 500.0, 0.0]]))
    assert np.isnan(out[0]).all()
    assert np.isfinite(out[1]).all()


def test_a_point_above_the_ground_projects_nearer_the_centre_at_nadir():
    # A rooftop 20 m up, 30 m east, seen from 100 m: it appears at 30/80 of the focal length off centre.
    out = geo.project_enu_to_pixels(
        _intr(), Pose(*DONGGUAN, 100.0, 0.0, -90.0), np.array([[30.0, 0.0, 20.0]])
    )
    assert out[0, 0] == pytest.approx(2000 + 2800 * 30 / 80)


# --- geodesy ---------------------------------------------------------------------------------------


def test_offset_and_back():
    lat, lon = geo.offset_latlon(*DONGGUAN, 123.4, -56.7)
    east, north = geo.latlon_offset(*DONGGUAN, lat, lon)
    assert (east, north) == pytest.approx((123.4, -56.7), abs=1e-6)


def test_geodesic_metre_sizes_match_the_wgs84_ellipsoid():
    # At the equator one degree of latitude is 110574.3 m and of longitude 111319.5 m (WGS84 tables).
    assert geo.distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(110574.3, abs=0.5)
    assert geo.distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111319.5, abs=0.5)
    lat, _ = geo.offset_latlon(0.0, 0.0, 0.0, 110574.3)
    assert lat == pytest.approx(1.0, abs=1e-6)


def test_local_gsd_is_the_nadir_gsd_below_and_grows_with_distance():
    intr = _intr()
    nadir = geo.local_gsd_m(intr, Pose(*DONGGUAN, 100.0, 0.0, -90.0), np.array([[2000.0, 1500.0]]))[0]
    assert nadir == pytest.approx(100.0 / 2800, rel=1e-9)
    # At -45 the centre ray is r = sqrt(2) x 100 m long and meets the ground at 45 degrees: one pixel covers
    # r / f across and (r / f) / sin(45) along the view, so the GSD (sqrt of the area) is r / f * 2 ** 0.25.
    oblique = geo.local_gsd_m(intr, Pose(*DONGGUAN, 100.0, 0.0, -45.0), np.array([[2000.0, 1500.0]]))[0]
    r = 100.0 * math.sqrt(2)
    assert oblique == pytest.approx(r / 2800 * math.sqrt(math.sqrt(2)), rel=1e-6)
    rows = geo.local_gsd_m(
        intr, Pose(*DONGGUAN, 100.0, 0.0, -45.0), np.array([[2000.0, 2900.0], [2000.0, 100.0]])
    )
    assert rows[0] < oblique < rows[1]
    assert math.isinf(geo.local_gsd_m(intr, Pose(*DONGGUAN, 100.0, 0.0, -10.0), np.array([[2000.0, 0.5]]))[0])


def test_nadir_footprint_area_is_width_times_height_at_the_gsd():
    view = _view(height=120.0)
    gsd = 120.0 / 2800
    area = geo.polygon_area_m2(geo.frame_footprint(view))
    assert area == pytest.approx(4000 * gsd * 3000 * gsd, rel=1e-4)


def test_footprint_centroid_follows_the_heading():
    fp = geo.frame_footprint(_view(yaw=90.0, pitch=-60.0))
    east = [geo.latlon_offset(*DONGGUAN, lat, lon)[0] for lat, lon in fp]
    assert min(east) > 0  # looking east at -60: the whole footprint lies east of the drone


def test_oblique_footprint_is_cut_at_the_range_limit():
    view = _view(pitch=-15.0)  # the horizon is in the frame
    fp = geo.frame_footprint(view, max_distance_m=1000.0)
    dists = [geo.distance_m(*DONGGUAN, lat, lon) for lat, lon in fp]
    assert max(dists) == pytest.approx(1000.0, rel=1e-6)
    assert min(dists) < 250


def test_box_polygon_wholly_above_the_horizon_is_an_error():
    with pytest.raises(GeoreferenceError):
        geo.ground_polygon(_view(pitch=0.0), (0, 0, 4000, 1000))


# --- pose from metadata ----------------------------------------------------------------------------


def _meta(**kw: float | None) -> ImageMeta:
    """A photo's metadata from flat field names (`gimbal_yaw_deg` ... as files and JSON name them)."""
    base: dict[str, float | None] = dict(
        lat=22.98, lon=113.74, abs_alt_m=150.0, rel_alt_m=100.0, gimbal_yaw_deg=30.0, gimbal_pitch_deg=-80.0
    )
    base.update(kw)
    attitudes = {part: Attitude.from_flat(base, part) for part in ATTITUDE_PARTS}
    rest = {k: v for k, v in base.items() if k not in FLAT_ATTITUDE_NAMES}
    return ImageMeta(path="x.jpg", width=4000, height=3000, **rest, **attitudes)  # type: ignore[arg-type]


def test_pose_uses_relative_altitude_and_gimbal_angles():
    pose, notes = geo.pose_from_meta(_meta(flight_yaw_deg=99.0))
    assert (pose.height_m, pose.yaw_deg, pose.pitch_deg, pose.roll_deg) == (100.0, 30.0, -80.0, 0.0)
    assert notes == ()


def test_pose_with_ground_elevation_uses_absolute_altitude():
    pose, _ = geo.pose_from_meta(_meta(), ground_elevation_m=12.5)
    assert pose.height_m == pytest.approx(137.5)


def test_pose_falls_back_to_flight_yaw_and_says_so():
    pose, notes = geo.pose_from_meta(_meta(gimbal_yaw_deg=None, flight_yaw_deg=-120.0))
    assert pose.yaw_deg == -120.0
    assert any("flight yaw" in n for n in notes)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"lat": None}, "no GPS position"),
        ({"rel_alt_m": None}, "no height above ground"),
        ({"gimbal_yaw_deg": None}, "no camera heading"),
        ({"rel_alt_m": -3.0}, "not positive"),
    ],
)
def test_pose_errors_name_the_file_and_reason(kw: dict[str, float | None], reason: str):
    with pytest.raises(GeoreferenceError, match=reason) as err:
        geo.pose_from_meta(_meta(**kw))
    assert str(err.value).startswith("x.jpg: ")


# --- Chinese map datums ----------------------------------------------------------------------------

# (wgs lat, wgs lon, gcj lat, gcj lon): the test table of the eviltransform project and the example output
# printed in coordtransform's README test; both implement the same published GCJ-02 formula.
GCJ_VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
    (39.915, 116.404, 39.91640428150164, 116.41024449916938),
]


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), GCJ_VECTORS)
def test_wgs84_to_gcj02_published_vectors(w_lat: float, w_lon: float, g_lat: float, g_lon: float):
    assert geo.wgs84_to_gcj02(w_lat, w_lon) == pytest.approx((g_lat, g_lon), abs=1e-9)
    assert geo.gcj02_to_wgs84(g_lat, g_lon) == pytest.approx((w_lat, w_lon), abs=1e-9)


def test_wgs84_to_gcj02_over_arrays_gives_the_published_vectors():
    import numpy as np

    lat, lon = geo.wgs84_to_gcj02_arrays(
        np.array([v[0] for v in GCJ_VECTORS] + [50.82]), np.array([v[1] for v in GCJ_VECTORS] + [-0.14])
    )
    # Brighton: outside China, unshifted
    assert lat.tolist() == pytest.approx([v[2] for v in GCJ_VECTORS] + [50.82], abs=1e-9)
    assert lon.tolist() == pytest.approx([v[3] for v in GCJ_VECTORS] + [-0.14], abs=1e-9)


def test_gcj02_bd09_published_vectors():
    # coordtransform's README: gcj02tobd09(116.404, 39.915) and bd09togcj02(116.404, 39.915).
    assert geo.gcj02_to_bd09(39.915, 116.404) == pytest.approx(
        (39.92133699351021, 116.41036949371029), abs=1e-9
    )
    assert geo.bd09_to_gcj02(39.915, 116.404) == pytest.approx(
        (39.90865673957631, 116.39762729119315), abs=1e-9
    )


def test_dongguan_gcj02_offset_is_hundreds_of_metres():
    g = geo.wgs84_to_gcj02(*DONGGUAN)
    assert 400 < geo.distance_m(*DONGGUAN, *g) < 700


def test_outside_china_the_datums_coincide():
    assert geo.wgs84_to_gcj02(50.82, -0.14) == (50.82, -0.14)  # Brighton


def test_amap_link_carries_gcj02_lon_first():
    url = geo.amap_url(*DONGGUAN, name="违建")
    g_lat, g_lon = geo.wgs84_to_gcj02(*DONGGUAN)
    assert f"position={g_lon:.6f},{g_lat:.6f}" in url
    assert "name=%E8%BF%9D%E5%BB%BA" in url
