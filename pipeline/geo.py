"""Camera model, pixel <-> ground, footprints and geodesy.

Pixel coordinates are continuous: (0, 0) is the top-left corner of the image and pixel centres sit at i + 0.5,
so the principal point of an ideal camera is (width / 2, height / 2) and a YOLO box's xyxy needs no shift.

The ground is a plane at the camera's `height_m` below it. Offsets on it are east/north metres from the point
directly below the camera, in the local tangent plane; they become WGS84 positions by a geodesic step on the
ellipsoid, which over a frame's few hundred metres differs from the true ellipsoid surface by millimetres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import GeoreferenceError
from pipeline.types import CameraView, GroundPoint, ImageMeta, Intrinsics, Pose

if TYPE_CHECKING:
    from pyproj import Geod

# A ray this close to the horizon (its downward component, per unit of forward) lands too far away to mean
# anything; treating it as "no ground point" keeps distances finite.
_MIN_DOWNWARD = 1e-6


@lru_cache(maxsize=1)
def _geod() -> Geod:
    from pyproj import Geod

    return Geod(ellps="WGS84")


# --- camera orientation ----------------------------------------------------------------------------


def camera_axes(yaw_deg: float, pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """3x3 matrix whose columns are the camera's right, down and forward axes in east/north/up."""
    yaw, pitch, roll = (math.radians(a) for a in (yaw_deg, pitch_deg, roll_deg))
    forward = np.array(
        [math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch)], dtype=float
    )
    right0 = np.array([math.cos(yaw), -math.sin(yaw), 0.0])
    down0 = np.cross(forward, right0)
    # Positive roll turns the image clockwise as seen from behind: right goes down, down goes left.
    right = right0 * math.cos(roll) + down0 * math.sin(roll)
    down = down0 * math.cos(roll) - right0 * math.sin(roll)
    return np.column_stack([right, down, forward])


def pixel_rays(intr: Intrinsics, pose: Pose, xy_px: np.ndarray) -> np.ndarray:
    """Unnormalised ray directions (N, 3) in east/north/up for pixels (N, 2)."""
    xy = np.asarray(xy_px, dtype=float).reshape(-1, 2)
    cam = np.column_stack(
        [
            (xy[:, 0] - intr.cx_px) / intr.focal_px,
            (xy[:, 1] - intr.cy_px) / intr.focal_px,
            np.ones(len(xy)),
        ]
    )
    axes = camera_axes(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    rays: np.ndarray = cam @ axes.T
    return rays


def ground_offsets(intr: Intrinsics, pose: Pose, xy_px: np.ndarray) -> np.ndarray:
    """East/north metres (N, 2) where each pixel's ray meets the ground; NaN at or above the horizon."""
    if pose.height_m <= 0:
        raise GeoreferenceError(f"camera height {pose.height_m:.2f} m is not above the ground plane")
    rays = pixel_rays(intr, pose, xy_px)
    down = -rays[:, 2]
    out = np.full((len(rays), 2), np.nan)
    hits = down > _MIN_DOWNWARD
    scale = pose.height_m / down[hits]
    out[hits] = rays[hits, :2] * scale[:, None]
    return out


def project_enu_to_pixels(intr: Intrinsics, pose: Pose, enu: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) of points given as east/north/up metres from the ground point below the camera.

    Points behind the camera give NaN.
    """
    pts = np.asarray(enu, dtype=float).reshape(-1, 3)
    rel = pts - np.array([0.0, 0.0, pose.height_m])
    cam = rel @ camera_axes(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    out = np.full((len(pts), 2), np.nan)
    ahead = cam[:, 2] > 1e-9
    out[ahead, 0] = intr.cx_px + intr.focal_px * cam[ahead, 0] / cam[ahead, 2]
    out[ahead, 1] = intr.cy_px + intr.focal_px * cam[ahead, 1] / cam[ahead, 2]
    return out


def ground_to_pixel_homography(intr: Intrinsics, pose: Pose) -> np.ndarray:
    """3x3 H with (x, y, w) = H @ (east_m, north_m, 1) for ground points; w <= 0 means behind the camera."""
    k = np.array([[intr.focal_px, 0.0, intr.cx_px], [0.0, intr.focal_px, intr.cy_px], [0.0, 0.0, 1.0]])
    lift = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -pose.height_m]])
    axes = camera_axes(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    h: np.ndarray = k @ axes.T @ lift
    return h


def local_gsd_m(intr: Intrinsics, pose: Pose, xy_px: np.ndarray) -> np.ndarray:
    """Ground sample distance at each of (N, 2) pixels: the square root of the ground area one pixel covers
    (metres), so it is the nadir GSD straight down and grows towards an oblique frame's far rows; inf where a
    pixel looks at or above the horizon. Training and detection both rescale frames by this definition."""
    xy = np.asarray(xy_px, dtype=float).reshape(-1, 2)
    half_steps = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, -0.5], [0.0, 0.5]])
    pts = (xy[:, None, :] + half_steps[None, :, :]).reshape(-1, 2)
    en = ground_offsets(intr, pose, pts).reshape(-1, 4, 2)
    dx, dy = en[:, 1] - en[:, 0], en[:, 3] - en[:, 2]
    area = np.abs(dx[:, 0] * dy[:, 1] - dx[:, 1] * dy[:, 0])
    out: np.ndarray = np.where(np.isfinite(area), np.sqrt(area), np.inf)
    return out


def nadir_gsd_m(sensor_width_mm: float, height_m: float, focal_mm: float, image_width_px: int) -> float:
    """Ground sample distance straight below a nadir camera, metres per pixel."""
    return sensor_width_mm * height_m / (focal_mm * image_width_px)


# --- geodesy ---------------------------------------------------------------------------------------


def offset_latlon(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The WGS84 position `east_m`, `north_m` away from (lat, lon), by a geodesic step."""
    dist = math.hypot(east_m, north_m)
    if dist == 0.0:
        return lat, lon
    az = math.degrees(math.atan2(east_m, north_m))
    lon2, lat2, _ = _geod().fwd(lon, lat, az, dist)
    return float(lat2), float(lon2)


def offsets_latlon(lat: float, lon: float, en: np.ndarray) -> np.ndarray:
    """Vectorised `offset_latlon`: (N, 2) east/north -> (N, 2) lat/lon; NaN rows stay NaN."""
    en = np.asarray(en, dtype=float).reshape(-1, 2)
    out = np.full_like(en, np.nan)
    ok = np.isfinite(en).all(axis=1)
    if ok.any():
        e, n = en[ok, 0], en[ok, 1]
        az = np.degrees(np.arctan2(e, n))
        dist = np.hypot(e, n)
        lons, lats, _ = _geod().fwd(np.full(len(e), lon), np.full(len(e), lat), az, dist)
        out[ok, 0] = lats
        out[ok, 1] = lons
    return out


def latlon_offset(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """East/north metres from (lat0, lon0) to (lat, lon) along the geodesic."""
    az, _, dist = _geod().inv(lon0, lat0, lon, lat)
    return dist * math.sin(math.radians(az)), dist * math.cos(math.radians(az))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    _, _, dist = _geod().inv(lon1, lat1, lon2, lat2)
    return float(dist)


# --- frames ----------------------------------------------------------------------------------------


# Names in reasons, per ImageMeta field.
_FIELD_WORDS = {
    "lat": "GPS latitude",
    "lon": "GPS longitude",
    "rel_alt_m": "relative altitude",
    "abs_alt_m": "absolute altitude",
    "gimbal_yaw_deg": "gimbal yaw",
    "gimbal_pitch_deg": "gimbal pitch",
    "gimbal_roll_deg": "gimbal roll",
    "flight_yaw_deg": "flight yaw",
}


def pose_from_meta(meta: ImageMeta, ground_elevation_m: float | None = None) -> tuple[Pose, tuple[str, ...]]:
    """The camera pose a photo's metadata gives, and notes on what had to be assumed.

    Height is above take-off (`rel_alt_m`) unless a ground elevation above sea level is known, in which case
    it is `abs_alt_m` minus that elevation. Gimbal yaw wins over flight yaw: the gimbal points the lens.

    The rule for values that cannot be read: a field the file does not state may be assumed (no gimbal
    pitch: nadir; no roll: level; no gimbal yaw: the flight yaw), but a field it states and that is no usable
    number (`meta.unreadable`: NaN, inf, junk, out of range) is never replaced by that assumption, which
    would place the frame's cases wherever the assumption points: the frame gets no pose, and the reason
    names the field (GeoreferenceError). Every value used must also be finite.
    """
    notes: list[str] = []
    bad = dict(meta.unreadable)

    def refuse(name: str, consequence: str) -> GeoreferenceError:
        return GeoreferenceError(
            f"{_FIELD_WORDS.get(name, name)} unreadable ({bad[name]}): {consequence}", meta.path
        )

    if meta.lat is None or meta.lon is None:
        for name in ("lat", "lon"):
            if name in bad:
                raise refuse(name, "no GPS position")
        raise GeoreferenceError("no GPS position", meta.path)
    if ground_elevation_m is not None:
        if meta.abs_alt_m is None:
            if "abs_alt_m" in bad:
                raise refuse("abs_alt_m", "no height above the ground elevation")
            raise GeoreferenceError("no absolute altitude to set against the ground elevation", meta.path)
        height = meta.abs_alt_m - ground_elevation_m
    elif meta.rel_alt_m is not None:
        height = meta.rel_alt_m
    elif "rel_alt_m" in bad:
        raise refuse("rel_alt_m", "no height above ground")
    else:
        raise GeoreferenceError("no height above ground (no relative altitude)", meta.path)
    if meta.gimbal.yaw_deg is not None:
        yaw = meta.gimbal.yaw_deg
    elif "gimbal_yaw_deg" in bad:
        raise refuse("gimbal_yaw_deg", "the camera's heading is unknown, not taken from the flight yaw")
    elif meta.flight.yaw_deg is not None:
        yaw = meta.flight.yaw_deg
        notes.append("gimbal yaw missing: used flight yaw")
    elif "flight_yaw_deg" in bad:
        raise refuse("flight_yaw_deg", "no camera heading")
    else:
        raise GeoreferenceError("no camera heading (neither gimbal nor flight yaw)", meta.path)
    if meta.gimbal.pitch_deg is not None:
        pitch = meta.gimbal.pitch_deg
    elif "gimbal_pitch_deg" in bad:
        raise refuse("gimbal_pitch_deg", "the camera's direction is unknown, not assumed nadir")
    else:
        pitch = -90.0
        notes.append("gimbal pitch missing: assumed nadir")
    if meta.gimbal.roll_deg is not None:
        roll = meta.gimbal.roll_deg
    elif "gimbal_roll_deg" in bad:
        raise refuse("gimbal_roll_deg", "not assumed level")
    else:
        roll = 0.0
    used = {"lat": meta.lat, "lon": meta.lon, "height": height, "yaw": yaw, "pitch": pitch, "roll": roll}
    for name, value in used.items():
        if not math.isfinite(value):
            raise GeoreferenceError(f"{name} is {value} (not a finite number)", meta.path)
    if abs(meta.lat) > 90.0 or abs(meta.lon) > 180.0:
        raise GeoreferenceError(f"GPS position ({meta.lat:g}, {meta.lon:g}) out of range", meta.path)
    for name, value in (("pitch", pitch), ("roll", roll)):
        if abs(value) > 180.0:
            raise GeoreferenceError(f"gimbal {name} {value:g} degrees out of range", meta.path)
    if height <= 0:
        raise GeoreferenceError(f"height above ground {height:.2f} m is not positive", meta.path)
    return Pose(meta.lat, meta.lon, height, yaw, pitch, roll, rtk_sigma_m(meta)), tuple(notes)


# DJI RtkFlag values with a differential solution (fixed 50, float 34): only then do RtkStd* describe the
# position; a single-point (16) or absent (0) solution is ordinary GNSS.
_RTK_SOLUTIONS = frozenset({34, 50})


def rtk_sigma_m(meta: ImageMeta) -> float | None:
    """The per-axis horizontal accuracy an RTK solution states for the frame, or None."""
    if meta.rtk_flag not in _RTK_SOLUTIONS:
        return None
    stds = [v for v in (meta.rtk_std_lat_m, meta.rtk_std_lon_m) if v is not None and v > 0.0]
    return max(stds) if stds else None


def view_from_meta(
    meta: ImageMeta, intrinsics: Intrinsics, ground_elevation_m: float | None = None
) -> CameraView:
    pose, notes = pose_from_meta(meta, ground_elevation_m)
    return CameraView(pose=pose, intrinsics=intrinsics, notes=(*intrinsics.notes, *notes))


def pixel_to_ground(view: CameraView, x_px: float, y_px: float) -> GroundPoint:
    """Where pixel (x_px, y_px) looks on the ground; GeoreferenceError at or above the horizon."""
    en = ground_offsets(view.intrinsics, view.pose, np.array([[x_px, y_px]]))[0]
    if not np.isfinite(en).all():
        raise GeoreferenceError(f"pixel ({x_px:g}, {y_px:g}) looks at or above the horizon: no ground point")
    lat, lon = offset_latlon(view.pose.lat, view.pose.lon, float(en[0]), float(en[1]))
    return GroundPoint(lat=lat, lon=lon, ground_distance_m=float(math.hypot(en[0], en[1])))


def _outline_px(x0: float, y0: float, x1: float, y1: float, per_side: int) -> np.ndarray:
    """Points around a rectangle, clockwise from the top-left corner, `per_side` steps per side."""
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    top = np.column_stack([x0 + (x1 - x0) * t, np.full_like(t, y0)])
    right = np.column_stack([np.full_like(t, x1), y0 + (y1 - y0) * t])
    bottom = np.column_stack([x1 - (x1 - x0) * t, np.full_like(t, y1)])
    left = np.column_stack([np.full_like(t, x0), y1 - (y1 - y0) * t])
    return np.vstack([top, right, bottom, left])


def _clip_to_range(intr: Intrinsics, pose: Pose, xy: np.ndarray, max_distance_m: float) -> np.ndarray:
    """Ground offsets of pixels, with rays that land beyond `max_distance_m` (or never) cut off there."""
    en = ground_offsets(intr, pose, xy)
    if not np.isfinite(en).all(axis=1).any():
        raise GeoreferenceError("the outline lies entirely at or above the horizon: no ground polygon")
    rays = pixel_rays(intr, pose, xy)
    horiz = np.hypot(rays[:, 0], rays[:, 1])
    far = ~np.isfinite(en).all(axis=1) | (np.hypot(en[:, 0], en[:, 1]) > max_distance_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        cut = rays[:, :2] / horiz[:, None] * max_distance_m
    en[far] = cut[far]
    # A ray pointing straight up has no horizontal direction to cut along; it simply drops out.
    kept: np.ndarray = en[np.isfinite(en).all(axis=1)]
    return kept


def ground_polygon(
    view: CameraView,
    xyxy_px: Sequence[float],
    max_distance_m: float | None = None,
    per_side: int = 8,
) -> list[tuple[float, float]]:
    """A pixel rectangle's outline on the ground as (lat, lon) pairs, first point not repeated.

    Edges are sampled because under roll and tilt a straight image edge stays straight on a plane but its
    cut-off at `max_distance_m` (default 20 x the camera height) does not.
    """
    x0, y0, x1, y1 = (float(v) for v in xyxy_px)
    limit = max_distance_m if max_distance_m is not None else 20.0 * view.pose.height_m
    en = _clip_to_range(view.intrinsics, view.pose, _outline_px(x0, y0, x1, y1, per_side), limit)
    latlon: np.ndarray = offsets_latlon(view.pose.lat, view.pose.lon, en)
    return [(float(a), float(b)) for a, b in latlon]


def frame_footprint(view: CameraView, max_distance_m: float | None = None) -> list[tuple[float, float]]:
    """The ground the whole frame sees, as (lat, lon) pairs, clipped at `max_distance_m` when oblique."""
    intr = view.intrinsics
    return ground_polygon(view, (0.0, 0.0, intr.width_px, intr.height_px), max_distance_m)


def polygon_area_m2(latlon: Sequence[tuple[float, float]]) -> float:
    """Geodesic area of a (lat, lon) polygon, square metres, regardless of winding."""
    lats = [p[0] for p in latlon]
    lons = [p[1] for p in latlon]
    area, _ = _geod().polygon_area_perimeter(lons, lats)
    return abs(float(area))


# --- Chinese map datums ----------------------------------------------------------------------------
# GCJ-02 is WGS84 shifted by a published obfuscation formula on the Krasovsky 1940 ellipsoid; AMap and Tencent
# draw in it. BD-09 is Baidu's further rotation and offset of GCJ-02. Both apply only inside China.

_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0


def in_china(lat: float, lon: float) -> bool:
    """The rough box the GCJ-02 shift applies within (outside it, the datums coincide)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _gcj_shift(lat: Any, lon: Any, m: Any = math) -> tuple[Any, Any]:
    # One formula for a point (`m` = math) and for arrays of them (`m` = numpy, the map's 20,000 cases).
    x, y = lon - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * m.sqrt(abs(x))
    d_lat += (20.0 * m.sin(6.0 * x * math.pi) + 20.0 * m.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat += (20.0 * m.sin(y * math.pi) + 40.0 * m.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * m.sin(y / 12.0 * math.pi) + 320.0 * m.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * m.sqrt(abs(x))
    d_lon += (20.0 * m.sin(6.0 * x * math.pi) + 20.0 * m.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lon += (20.0 * m.sin(x * math.pi) + 40.0 * m.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lon += (150.0 * m.sin(x / 12.0 * math.pi) + 300.0 * m.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = m.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * m.sin(rad_lat) ** 2
    sqrt_magic = m.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * m.cos(rad_lat) * math.pi)
    return d_lat, d_lon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_china(lat, lon):
        return lat, lon
    d_lat, d_lon = _gcj_shift(lat, lon)
    return lat + d_lat, lon + d_lon


def wgs84_to_gcj02_arrays(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`wgs84_to_gcj02` over arrays of points at once (points outside China are left as they are)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    inside = (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)
    d_lat, d_lon = _gcj_shift(lat, lon, np)
    return np.where(inside, lat + d_lat, lat), np.where(inside, lon + d_lon, lon)


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """Inverse of `wgs84_to_gcj02` by fixed-point iteration (the forward shift has no closed inverse)."""
    if not in_china(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(30):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
        if abs(e_lat) < 1e-12 and abs(e_lon) < 1e-12:
            break
    return w_lat, w_lon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def amap_url(lat: float, lon: float, name: str = "") -> str:
    """An AMap marker link for a WGS84 position (AMap wants GCJ-02, longitude first)."""
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    url = f"https://uri.amap.com/marker?position={g_lon:.6f},{g_lat:.6f}&coordinate=gaode"
    if name:
        from urllib.parse import quote

        url += f"&name={quote(name)}"
    return url
