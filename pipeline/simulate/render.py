"""Pinhole rendering of the textured ground plane from one pose.

The frame is cut into horizontal bands of similar ground sample distance; each band samples the texture
pyramid level closest to its GSD (nadir frames are one band, oblique ones several), so far ground is not
aliased and near ground is not blurred. Pixels whose rays miss the ground, or land beyond `MAX_RANGE_M`, are
sky; distance haze lightens the far ground so oblique frames look like air, not like a map.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from pipeline import geo
from pipeline.simulate.texture import TextureSource
from pipeline.types import Intrinsics, Pose

MAX_RANGE_M = 1500.0
MAX_LEVEL = 8
VISIBILITY_M = 2500.0
_STEP = 8  # rows and columns sampled when planning bands and haze


def local_frame(
    origin_lat: float, origin_lon: float, east_m: float, north_m: float, radius_m: float
) -> tuple[float, float, np.ndarray]:
    """The camera's (lat, lon) and the 3x3 map from world east/north to offsets from its ground point.

    North at the camera is not quite north at the origin (meridians converge); fitting the map to geodesic
    round trips keeps rendering consistent, to millimetres, with how a reader steps from the camera position.
    """
    lat, lon = geo.offset_latlon(origin_lat, origin_lon, east_m, north_m)
    g = np.linspace(-radius_m, radius_m, 3)
    local = np.array([[a, b] for a in g for b in g])
    latlon = geo.offsets_latlon(lat, lon, local)
    world = np.array([geo.latlon_offset(origin_lat, origin_lon, la, lo) for la, lo in latlon])
    design = np.column_stack([world, np.ones(len(world))])
    coef, *_ = np.linalg.lstsq(design, local, rcond=None)
    out = np.eye(3)
    out[:2, :] = coef.T
    return lat, lon, out


def world_homography(intr: Intrinsics, pose: Pose, world_to_local: np.ndarray) -> np.ndarray:
    """3x3 from world east/north to continuous pixel coordinates."""
    h: np.ndarray = geo.ground_to_pixel_homography(intr, pose) @ world_to_local
    return h


def _ground_of(h: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 2) under pixels (N, 2), and whether each ray really meets the ground ahead."""
    hinv = np.linalg.inv(h)
    p = np.column_stack([xy, np.ones(len(xy))]) @ hinv.T
    with np.errstate(divide="ignore", invalid="ignore"):
        g = p[:, :2] / p[:, 2:3]
    ahead = (np.column_stack([g, np.ones(len(g))]) @ h[2]) > 0
    return g, ahead & np.isfinite(g).all(axis=1)


def _gsd(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Square root of the ground area one pixel covers (metres), from the inverse homography's Jacobian."""
    hinv = np.linalg.inv(h)
    w = np.column_stack([xy, np.ones(len(xy))]) @ hinv[2]
    with np.errstate(divide="ignore"):
        out: np.ndarray = np.sqrt(abs(np.linalg.det(hinv)) / np.abs(w) ** 3)
    return out


def plan_bands(
    h: np.ndarray, intr: Intrinsics, cam_en: np.ndarray, base_res_m: float
) -> list[tuple[int, int, int]]:
    """(row0, row1, level) runs; level -1 for rows that see no ground within range."""
    ys = np.arange(0, intr.height_px, _STEP) + _STEP / 2
    xs = np.array([0.5, intr.width_px / 2, intr.width_px - 0.5])
    xy = np.array([[x, y] for y in ys for x in xs])
    g, ok = _ground_of(h, xy)
    far = np.hypot(*(g - cam_en).T) > MAX_RANGE_M
    gsd = np.where(ok & ~far, _gsd(h, xy), np.inf).reshape(len(ys), len(xs))
    finest = gsd.min(axis=1)
    with np.errstate(divide="ignore"):
        # Nearest level in log scale: texels at most 1.41x the pixel's ground size, so little blur or alias.
        levels = np.floor(np.log2(finest / base_res_m) + 0.5)
    levels = np.where(np.isfinite(finest), np.clip(levels, 0, MAX_LEVEL), -1).astype(int)
    bands: list[tuple[int, int, int]] = []
    start = 0
    for k in range(1, len(ys) + 1):
        if k == len(ys) or levels[k] != levels[start]:
            bands.append((start * _STEP, min(k * _STEP, intr.height_px), int(levels[start])))
            start = k
    return bands


def ground_bbox(
    h: np.ndarray, intr: Intrinsics, pose: Pose, w2l: np.ndarray, rows: tuple[int, int], margin: float
) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """World east/north bbox of the ground a band of rows sees, cut off at MAX_RANGE_M."""
    y0, y1 = rows
    cam_en = np.linalg.solve(w2l, [0.0, 0.0, 1.0])[:2]
    xs = np.linspace(0, intr.width_px, 9)
    ys = np.linspace(y0, y1, 5)
    border = np.array(
        [[x, y] for x in xs for y in (y0, y1)] + [[x, y] for x in (0, intr.width_px) for y in ys]
    )
    g, ok = _ground_of(h, border.astype(float))
    rel = g - cam_en
    dist = np.hypot(rel[:, 0], rel[:, 1])
    # Rays that land beyond range, or never, stop at range along their bearing: the band ends there anyway.
    bearing = geo.pixel_rays(intr, pose, border)[:, :2] @ np.linalg.inv(w2l[:2, :2]).T
    bearing /= np.maximum(np.hypot(bearing[:, 0], bearing[:, 1]), 1e-12)[:, None]
    cut = ~ok | (dist > MAX_RANGE_M)
    rel[cut] = bearing[cut] * MAX_RANGE_M
    pts = rel + cam_en
    box = (
        float(pts[:, 0].min() - margin),
        float(pts[:, 1].min() - margin),
        float(pts[:, 0].max() + margin),
        float(pts[:, 1].max() + margin),
    )
    return box, pts


def _atmosphere(
    h: np.ndarray, intr: Intrinsics, pose: Pose, cam_en: np.ndarray, src: TextureSource
) -> tuple[np.ndarray, np.ndarray] | None:
    """Full-size (colour, alpha) of haze and sky to lay over the ground, or None for a near nadir view."""
    xs = np.arange(0, intr.width_px + _STEP, _STEP, dtype=float)
    ys = np.arange(0, intr.height_px + _STEP, _STEP, dtype=float)
    gx, gy = np.meshgrid(xs, ys)
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    g, ok = _ground_of(h, xy)
    dist = np.where(ok, np.hypot(*(g - cam_en).T), np.inf)
    slant = np.hypot(dist, pose.height_m)
    if np.all(slant < 0.1 * VISIBILITY_M):
        return None
    light = src.lighting
    haze = np.asarray(light.haze_bgr, dtype=np.float32)
    sky = np.asarray(light.sky_bgr, dtype=np.float32)
    # Haze thickens with distance and closes in completely at MAX_RANGE_M, so the cut-off never shows.
    fade = np.clip((dist - 0.6 * MAX_RANGE_M) / (0.4 * MAX_RANGE_M), 0.0, 1.0)
    haze_a = 0.85 * (1.0 - np.exp(-slant / VISIBILITY_M))
    alpha = np.where(dist > MAX_RANGE_M, 1.0, haze_a + (1.0 - haze_a) * fade * fade).astype(np.float32)
    # Sky: haze at the horizon, bluer above it, by elevation angle of the ray.
    rays = geo.pixel_rays(intr, pose, xy)
    elev = np.arctan2(rays[:, 2], np.hypot(rays[:, 0], rays[:, 1]))
    t = np.clip(elev / math.radians(25.0), 0.0, 1.0)[:, None].astype(np.float32)
    sky_col = haze * (1 - t) + sky * t
    colour = np.where((dist > MAX_RANGE_M)[:, None], sky_col, haze[None, :])
    size = (intr.width_px, intr.height_px)
    shape = (len(ys), len(xs))
    # The coarse grid's points sit on pixel corners k * _STEP; resize maps centres, close enough for haze.
    # uint8 colour keeps a 12 MP frame's overlay at 36 MB instead of 144 MB.
    a_full = cv2.resize(alpha.reshape(shape), size, interpolation=cv2.INTER_LINEAR)
    c_small = np.clip(colour.reshape(*shape, 3), 0, 255).astype(np.uint8)
    c_full = cv2.resize(c_small, size, interpolation=cv2.INTER_LINEAR)
    return c_full, a_full


def render_frame(src: TextureSource, intr: Intrinsics, pose: Pose, world_to_local: np.ndarray) -> np.ndarray:
    """The BGR uint8 image the camera at `pose` sees of the world in `src`."""
    h = world_homography(intr, pose, world_to_local)
    cam_en = np.linalg.solve(world_to_local, [0.0, 0.0, 1.0])[:2]
    out = np.zeros((intr.height_px, intr.width_px, 3), dtype=np.uint8)
    for y0, y1, level in plan_bands(h, intr, cam_en, src.base_res_m):
        if level < 0:
            continue
        res = src.res(level)
        bbox, outline = ground_bbox(h, intr, pose, world_to_local, (y0, y1), 3 * res)
        mosaic, west, north = src.mosaic(level, bbox, outline)
        tex_to_world = np.array(
            [[res, 0.0, west + 0.5 * res], [0.0, -res, north - 0.5 * res], [0.0, 0.0, 1.0]]
        )
        to_band = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5 - y0], [0.0, 0.0, 1.0]])
        m = to_band @ h @ tex_to_world
        out[y0:y1] = cv2.warpPerspective(
            mosaic, m, (intr.width_px, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    air = _atmosphere(h, intr, pose, cam_en, src)
    if air is not None:
        colour, alpha = air
        for r0 in range(0, intr.height_px, 256):  # in row chunks: float copies of a whole frame are big
            a = alpha[r0 : r0 + 256, :, None]
            mixed = out[r0 : r0 + 256] * (1.0 - a) + colour[r0 : r0 + 256] * a
            out[r0 : r0 + 256] = np.clip(mixed, 0, 255).astype(np.uint8)
    return out
