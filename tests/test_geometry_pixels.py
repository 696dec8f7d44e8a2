"""Georeferencing against the simulator's truth, pixel by pixel, with no detector in the loop.

For a nadir and a -45 degree oblique simulated flight (no GPS noise), the frames go through the production
path (`ingest.plan_flight` -> `ingest.load_frame` -> the frame's CameraView, built from the JPEG's EXIF/XMP
alone), and then:
- projecting each true target's footprint corners (truth.geojson) through that view lands on the target's
  labelled box (the manifest's per-frame `boxes`: the box around the projected footprint);
- the labelled box's corners, placed on the ground with `geo.pixel_to_ground`, make a quadrilateral that the
  true footprint fills: every true corner inside it, and each of its sides touched by one;
- the principal point lands where the true pose's forward ray meets the ground, by closed form.

Two independent references keep this from being geo checked against geo: the same projections are done
with a pinhole written here from the documented angle conventions (pipeline/types.py; DESIGN.md) and
pyproj's geodesics, never with `pipeline.geo`; and the principal-point check is pure trigonometry. (The
simulator draws and labels with `pipeline.geo` too, so without them a convention error would be shared by
the truth and the reader. Checked when this was written: flipping roll's or yaw's sign in
`geo.camera_axes`, for renderer and reader alike, scaling CalibratedOpticalCenter by the focal's factor
instead of about the centre, or moving the reader's principal point by half a pixel each fails here; a
camera height 2 cm off fails the pose check only, being inside the geometric budget.)

Tolerance, from the geometry and not from the results: the simulator records poses to 0.01 degree and
0.01 m (and positions to 1e-9 degree, 0.1 mm), so a faithful reader may be off by half a step in each.
An angle off by eps moves a pixel at r px from the principal point by at most (f (1 + (r/f)^2) + r) eps
(pitch and yaw at most as a tilt off the axis, roll as a turn about it): three angles, all the worst way.
A camera height off by dh (a position off by dp) moves the image of a point at slant range R by at most
f (dh + dp) / R. Box corners are recorded to 0.01 px (half a step off). On the ground, a pixel error
becomes metres by the largest stretch of the pixel -> ground map at that pixel (from the local pinhole).
At 800 x 600 (f = 568 px, 100 m up) that is 0.18 px at the principal point and 0.4 px at the frame's
corners; on the ground 3-8 cm below the nadir camera and up to 0.75 m at the far edge of the oblique frame,
330 m away. (Measured when this was written: the footprints land within 0.006 px of their boxes, the box
corners' own rounding.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pyproj import Geod

from pipeline import geo
from pipeline.ingest import SAMPLE_EVERY, IngestSettings, load_frame, plan_flight
from pipeline.simulate import FlightSettings, simulate_flight
from pipeline.types import CameraView

GEOD = Geod(ellps="WGS84")
WIDTH, HEIGHT = 800, 600
ANGLE_HALF_STEP_RAD = math.radians(0.01 / 2)  # GimbalYaw/Pitch/RollDegree written with 2 decimals
LENGTH_HALF_STEP_M = 0.01 / 2  # heights rounded to 0.01 m by the flight plan
POSITION_HALF_STEP_M = 1e-9 / 2 * 111_320.0  # positions to 9 decimals of a degree
BOX_HALF_STEP_PX = 0.01 / 2  # manifest box corners to 2 decimals
MIN_BOXES = 5  # per flight: the checks below must see enough targets to mean something


# --- the references: pyproj geodesics and a pinhole from the documented conventions ---------------------


def enu_from(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """East/north metres from (lat0, lon0) to (lat, lon) along the WGS84 geodesic."""
    az, _, dist = GEOD.inv(lon0, lat0, lon, lat)
    return dist * math.sin(math.radians(az)), dist * math.cos(math.radians(az))


def axes(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Columns: the camera's right, down and forward axes in east/north/up.

    DJI's angles as pipeline/types.py states them: a level camera with yaw 0 looks north with east to its
    right; positive roll turns the image clockwise as seen from behind (its right side goes down), then
    pitch tilts the forward axis up (-90: straight down), then yaw turns everything clockwise from north.
    """
    y, p, r = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    base = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]).T  # right=E, down=-U, forward=N
    roll = np.array([[math.cos(r), 0.0, math.sin(r)], [0.0, 1.0, 0.0], [-math.sin(r), 0.0, math.cos(r)]])
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), -math.sin(p)], [0.0, math.sin(p), math.cos(p)]])
    yaw = np.array([[math.cos(y), math.sin(y), 0.0], [-math.sin(y), math.cos(y), 0.0], [0.0, 0.0, 1.0]])
    out: np.ndarray = yaw @ pitch @ roll @ base
    return out


class Pinhole:
    """The true camera of one frame, from the manifest alone."""

    def __init__(self, manifest: dict[str, Any], frame: dict[str, Any]) -> None:
        cam, pose = manifest["camera"], frame["true_pose"]
        self.f, self.cx, self.cy = cam["focal_px"], cam["cx_px"], cam["cy_px"]
        self.lat, self.lon, self.h = pose["lat"], pose["lon"], pose["height_m"]
        self.axes = axes(pose["yaw_deg"], pose["pitch_deg"], pose["roll_deg"])

    def enu(self, lat: float, lon: float) -> np.ndarray:
        return np.array([*enu_from(self.lat, self.lon, lat, lon), 0.0])

    def project(self, enu: np.ndarray) -> np.ndarray:
        """Pixel of a ground point (east/north/up from the point below the camera)."""
        v = (enu - np.array([0.0, 0.0, self.h])) @ self.axes
        assert v[2] > 0, "point behind the camera"
        return np.array([self.cx + self.f * v[0] / v[2], self.cy + self.f * v[1] / v[2]])

    def ground(self, xy: np.ndarray) -> np.ndarray:
        """East/north where a pixel's ray meets the ground."""
        ray = self.axes @ np.array([(xy[0] - self.cx) / self.f, (xy[1] - self.cy) / self.f, 1.0])
        assert ray[2] < 0, "pixel at or above the horizon"
        out: np.ndarray = ray[:2] * self.h / -ray[2]
        return out

    def slant_m(self, enu: np.ndarray) -> float:
        return float(np.linalg.norm(enu - np.array([0.0, 0.0, self.h])))

    def px_tolerance(self, xy: np.ndarray, enu: np.ndarray) -> float:
        """How far a faithful reader's pixel may be from the true one (module docstring)."""
        r = math.hypot(xy[0] - self.cx, xy[1] - self.cy)
        per_angle = self.f * (1.0 + (r / self.f) ** 2) + r
        lengths = self.f * (LENGTH_HALF_STEP_M + POSITION_HALF_STEP_M) / self.slant_m(enu)
        return 3 * per_angle * ANGLE_HALF_STEP_RAD + lengths + BOX_HALF_STEP_PX

    def stretch_m_per_px(self, xy: np.ndarray) -> float:
        """Largest ground metres per pixel at `xy` (the pixel -> ground Jacobian's largest singular value)."""
        dx, dy = np.array([0.5, 0.0]), np.array([0.0, 0.5])
        jac = np.column_stack(
            [self.ground(xy + dx) - self.ground(xy - dx), self.ground(xy + dy) - self.ground(xy - dy)]
        )
        return float(np.linalg.svd(jac, compute_uv=False)[0])

    def ground_tolerance_m(self, xy: np.ndarray, enu: np.ndarray) -> float:
        return self.px_tolerance(xy, enu) * self.stretch_m_per_px(xy) + 2 * POSITION_HALF_STEP_M


# --- the flights ------------------------------------------------------------------------------------------

Flight = tuple[dict[str, Any], list[dict[str, Any]], dict[str, CameraView]]

FLIGHTS = {
    "nadir": FlightSettings(
        seed=3, frames=4, pitch_deg=-90.0, heading_deg=120.0, width_px=WIDTH, height_px=HEIGHT
    ),
    "oblique": FlightSettings(
        seed=11, frames=4, pitch_deg=-45.0, heading_deg=35.0, width_px=WIDTH, height_px=HEIGHT
    ),
}


@pytest.fixture(scope="module", params=sorted(FLIGHTS))
def flight(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Flight:
    """(manifest, truth features, the production path's camera view per file name)."""
    settings = FLIGHTS[request.param]
    assert settings.gps_noise_m == 0.0
    out = tmp_path_factory.mktemp(request.param)
    manifest = simulate_flight(out, settings)
    features = json.loads((out / "truth.geojson").read_text())["features"]
    plan = plan_flight(out, settings=IngestSettings(sampling=SAMPLE_EVERY))
    views = {}
    for ref in plan.frames:
        loaded = load_frame(ref)
        assert loaded.view is not None, loaded.why_no_pose
        assert loaded.size_px == (WIDTH, HEIGHT)
        views[Path(ref.source).name] = loaded.view
    assert sorted(views) == sorted(f["file"] for f in manifest["frames"])
    return manifest, features, views


def whole_boxes(manifest: dict[str, Any], features: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(frame, box, true footprint corners as (lat, lon)) for every labelled box not cut by the frame's edge
    (a cut box's sides are the frame's, not the object's)."""
    corners = {
        f["properties"]["id"]: [(lat, lon) for lon, lat in f["geometry"]["coordinates"][0][:-1]]
        for f in features
    }
    out = []
    for frame in manifest["frames"]:
        for box in frame["boxes"]:
            x0, y0, x1, y1 = box["xyxy_px"]
            if x0 > BOX_HALF_STEP_PX and y0 > BOX_HALF_STEP_PX and x1 < WIDTH - 0.01 and y1 < HEIGHT - 0.01:
                out.append((frame, box, corners[box["id"]]))
    return out


# --- the checks -------------------------------------------------------------------------------------------


def test_the_files_give_the_true_pose(flight: Flight) -> None:
    """Nothing lost between the simulator's truth and what the reader takes from the JPEG."""
    manifest, _, views = flight
    for frame in manifest["frames"]:
        pose, true = views[frame["file"]].pose, frame["true_pose"]
        assert (pose.yaw_deg, pose.pitch_deg, pose.roll_deg, pose.height_m) == pytest.approx(
            (true["yaw_deg"], true["pitch_deg"], true["roll_deg"], true["height_m"]), abs=1e-9
        )
        _, _, off = GEOD.inv(pose.lon, pose.lat, true["lon"], true["lat"])
        assert off < 2 * POSITION_HALF_STEP_M


def test_true_footprints_project_onto_their_labelled_boxes(flight: Flight) -> None:
    manifest, features, views = flight
    boxes = whole_boxes(manifest, features)
    assert len(boxes) >= MIN_BOXES
    worst = 0.0
    for frame, box, corners in boxes:
        cam, view = Pinhole(manifest, frame), views[frame["file"]]
        enu = np.array([cam.enu(lat, lon) for lat, lon in corners])
        reference = np.array([cam.project(p) for p in enu])
        # The production path steps from the position the file gives, as it does for every frame.
        pose = view.pose
        local = np.array([[*enu_from(pose.lat, pose.lon, lat, lon), 0.0] for lat, lon in corners])
        produced = geo.project_enu_to_pixels(view.intrinsics, pose, local)
        labelled = np.array(box["xyxy_px"])
        for name, px in (("reference pinhole", reference), ("pipeline", produced)):
            extent = np.array([*px.min(axis=0), *px.max(axis=0)])
            # Each side of the box is set by one corner of the footprint: that corner's tolerance applies.
            sides = [px[:, 0].argmin(), px[:, 1].argmin(), px[:, 0].argmax(), px[:, 1].argmax()]
            tol = np.array([cam.px_tolerance(reference[k], enu[k]) for k in sides])
            miss = np.abs(extent - labelled)
            worst = max(worst, float((miss / tol).max()))
            assert (miss <= tol).all(), (
                name,
                frame["file"],
                box["id"],
                extent.round(3),
                labelled,
                tol.round(3),
            )
    assert worst <= 1.0


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _inside_by(quad: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Signed distance (m) of `point` inside each side of a convex quadrilateral, sides in order."""
    orient = math.copysign(1.0, _cross(quad[1] - quad[0], quad[2] - quad[1]))
    out = []
    for k in range(4):
        a, b = quad[k], quad[(k + 1) % 4]
        out.append(orient * _cross(b - a, point - a) / float(np.linalg.norm(b - a)))
    return np.array(out)


def test_labelled_boxes_land_on_the_true_footprints(flight: Flight) -> None:
    """The box's corners on the ground (geo.pixel_to_ground) bound the true footprint tightly: every true
    corner inside each side (or within tolerance of it), and some corner on each side."""
    manifest, features, views = flight
    boxes = whole_boxes(manifest, features)
    assert len(boxes) >= MIN_BOXES
    centroids = {f["properties"]["id"]: f["properties"] for f in features}
    for frame, box, corners in boxes:
        cam, view = Pinhole(manifest, frame), views[frame["file"]]
        x0, y0, x1, y1 = box["xyxy_px"]
        box_px = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        quad = np.array([cam.enu(*_latlon(geo.pixel_to_ground(view, x, y)))[:2] for x, y in box_px])
        enu = np.array([cam.enu(lat, lon) for lat, lon in corners])
        # Tolerance of each side: the larger of its two ends' (the error along a side lies between them).
        at_corner = [cam.ground_tolerance_m(xy, np.array([*cam.ground(xy), 0.0])) for xy in box_px]
        tol = np.array([max(at_corner[k], at_corner[(k + 1) % 4]) for k in range(4)])
        inside = np.array([_inside_by(quad, p[:2]) for p in enu])  # (corners, sides)
        where = (frame["file"], box["id"])
        assert (inside >= -tol).all(), (where, inside.min(axis=0).round(3), tol.round(3))
        assert (inside.min(axis=0) <= tol).all(), (where, inside.min(axis=0).round(3), tol.round(3))
        c = centroids[box["id"]]
        assert (_inside_by(quad, cam.enu(c["centroid_lat"], c["centroid_lon"])[:2]) > 0).all(), where


def _latlon(point: Any) -> tuple[float, float]:
    return point.lat, point.lon


def test_principal_point_lands_on_the_forward_ray(flight: Flight) -> None:
    """Closed form: the principal ray (roll turns the image about it) meets the ground h / tan(-pitch)
    ahead of the camera along the gimbal yaw; straight below it at nadir."""
    manifest, _, views = flight
    for frame in manifest["frames"]:
        cam, view, true = Pinhole(manifest, frame), views[frame["file"]], frame["true_pose"]
        ahead_m = true["height_m"] / math.tan(math.radians(-true["pitch_deg"]))
        lon, lat, _ = GEOD.fwd(true["lon"], true["lat"], true["yaw_deg"], ahead_m)
        centre = np.array([view.intrinsics.cx_px, view.intrinsics.cy_px])
        assert tuple(centre) == (manifest["camera"]["cx_px"], manifest["camera"]["cy_px"])
        got = geo.pixel_to_ground(view, *centre)
        _, _, miss = GEOD.inv(got.lon, got.lat, lon, lat)
        tol = cam.ground_tolerance_m(centre, np.array([*enu_from(cam.lat, cam.lon, lat, lon), 0.0]))
        assert miss <= tol, (frame["file"], miss, tol)
        assert got.ground_distance_m == pytest.approx(ahead_m, abs=tol)
