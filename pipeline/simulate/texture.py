"""The world painted as an orthophoto, in tiles, at a pyramid of resolutions.

Level L has texels of `base_res_m * 2**L` metres; every tile is rendered straight from the vector world at its
own resolution (patterns and noise finer than two texels are averaged out there), so a far-away band of an
oblique frame samples a coarse level instead of aliasing a fine one. Tiles are cached per flight with an LRU
bound on memory, because neighbouring frames of a survey see mostly the same ground.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pipeline.simulate import noise
from pipeline.simulate.scenery import LAYER_GROUND, block_objects
from pipeline.simulate.world import Part, World, WorldObject, at_night, blocks_in

TILE_PX = 512
# Coarser than this (metres per texel) a tile shows roads only: blocks' contents would be specks.
DETAIL_RES_M = 0.6
_SHIFT = 4  # cv2 fixed-point bits: polygon vertices keep 1/16 texel precision


@dataclass(frozen=True)
class Lighting:
    """Per-flight light: where the sun is, how bright, how tinted; drives shading, shadows and haze."""

    sun_azimuth_deg: float  # clockwise from north, where the sun is
    sun_elevation_deg: float
    gain: float
    tint_bgr: tuple[float, float, float]
    shadow_factor: float  # shadowed ground keeps this fraction of its light
    haze_bgr: tuple[float, float, float]
    sky_bgr: tuple[float, float, float]

    @property
    def shadow_dir(self) -> np.ndarray:
        """Shadow displacement (east, north) per metre of object height."""
        az = math.radians(self.sun_azimuth_deg + 180.0)
        length = 1.0 / math.tan(math.radians(self.sun_elevation_deg))
        return np.array([math.sin(az), math.cos(az)]) * length


def make_lighting(seed: int) -> Lighting:
    rng = np.random.default_rng([seed, 11])
    tint = rng.uniform(-0.05, 0.05, 3) + np.array([-0.02, 0.0, 0.02]) * rng.uniform(-1, 2)
    return Lighting(
        sun_azimuth_deg=float(rng.uniform(60.0, 300.0)),
        sun_elevation_deg=float(rng.uniform(28.0, 75.0)),
        gain=float(rng.uniform(0.82, 1.12)),
        tint_bgr=(float(1 + tint[0]), float(1 + tint[1]), float(1 + tint[2])),
        shadow_factor=float(rng.uniform(0.42, 0.62)),
        haze_bgr=(float(rng.uniform(185, 215)), float(rng.uniform(185, 205)), float(rng.uniform(175, 200))),
        sky_bgr=(float(rng.uniform(200, 235)), float(rng.uniform(175, 200)), float(rng.uniform(140, 175))),
    )


@dataclass(frozen=True)
class TileSpec:
    level: int
    tx: int
    ty: int


class TextureSource:
    """Tiles of one world on one night under one light, rendered on demand and kept while memory allows."""

    def __init__(
        self, world: World, night: int, lighting: Lighting, base_res_m: float, max_bytes: int = 192 << 20
    ) -> None:
        self.world, self.night, self.lighting, self.base_res_m = world, night, lighting, base_res_m
        self._tiles: OrderedDict[TileSpec, np.ndarray] = OrderedDict()
        self._blocks: dict[tuple[tuple[int, int], bool], tuple[list[WorldObject], np.ndarray]] = {}
        self._max_tiles = max(16, max_bytes // (TILE_PX * TILE_PX * 3))

    def res(self, level: int) -> float:
        return self.base_res_m * (2.0**level)

    def _block(self, key: tuple[int, int], detail: bool) -> tuple[list[WorldObject], np.ndarray]:
        full = self._blocks.get((key, True))
        hit = full if full is not None else self._blocks.get((key, detail))
        if hit is None:
            objs = block_objects(self.world, key[0], key[1], detail)
            aged = [a for a in (at_night(o, self.night) for o in objs) if a is not None]
            boxes = np.array([o.bbox for o in aged], dtype=float).reshape(-1, 4)
            hit = self._blocks[(key, detail)] = (aged, boxes)
        return hit

    def objects(self, bbox: tuple[float, float, float, float], detail: bool = True) -> list[WorldObject]:
        """Objects standing on this night whose extent meets the bbox, in draw order."""
        found: list[WorldObject] = []
        for key in blocks_in(self.world, bbox):
            objs, boxes = self._block(key, detail)
            meets = (
                (boxes[:, 0] <= bbox[2])
                & (boxes[:, 2] >= bbox[0])
                & (boxes[:, 1] <= bbox[3])
                & (boxes[:, 3] >= bbox[1])
            )
            found.extend(objs[k] for k in np.flatnonzero(meets))
        found.sort(key=lambda o: o.layer)
        return found

    def tile(self, spec: TileSpec) -> np.ndarray:
        hit = self._tiles.get(spec)
        if hit is not None:
            self._tiles.move_to_end(spec)
            return hit
        img = render_tile(self, spec)
        self._keep(spec, img)
        return img

    def _keep(self, spec: TileSpec, img: np.ndarray) -> None:
        self._tiles[spec] = img
        while len(self._tiles) > self._max_tiles:
            self._tiles.popitem(last=False)

    def mosaic(
        self, level: int, bbox: tuple[float, float, float, float], hull: np.ndarray | None = None
    ) -> tuple[np.ndarray, float, float]:
        """Tiles of `level` covering the east/north bbox, joined; returns (image, west_m, north_m) of its
        north-west corner.

        With `hull` (world points whose convex hull is all that will be sampled) tiles outside it stay black:
        a turned frame's bbox is up to twice its area.
        """
        size = TILE_PX * self.res(level)
        tx0, tx1 = math.floor(bbox[0] / size), math.floor(bbox[2] / size)
        ty0, ty1 = math.floor(bbox[1] / size), math.floor(bbox[3] / size)
        need = np.ones((ty1 - ty0 + 1, tx1 - tx0 + 1), dtype=np.uint8)
        if hull is not None and need.size > 4:
            need[:] = 0
            pts = (
                np.asarray(hull, dtype=float) / size - [tx0, ty0]
            ) - 0.5  # cv2 puts cell centres at integers
            poly = cv2.convexHull(np.round(pts * 16).astype(np.int32))
            cv2.fillConvexPoly(need, poly, 1, lineType=cv2.LINE_8, shift=4)
            need = np.asarray(cv2.dilate(need, np.ones((3, 3), np.uint8)), dtype=np.uint8)
        specs = [TileSpec(level, tx0 + c, ty0 + r) for r, c in zip(*np.nonzero(need), strict=True)]
        missing = [sp for sp in specs if sp not in self._tiles]
        if len(missing) > 1:
            # numpy and cv2 release the GIL in the heavy loops: two threads use both cores of a small box.
            with ThreadPoolExecutor(max_workers=2) as pool:
                for sp, img in zip(missing, pool.map(lambda sp: render_tile(self, sp), missing), strict=True):
                    self._keep(sp, img)
        out = np.zeros(((ty1 - ty0 + 1) * TILE_PX, (tx1 - tx0 + 1) * TILE_PX, 3), dtype=np.uint8)
        for sp in specs:
            r = (ty1 - sp.ty) * TILE_PX  # rows run southwards
            c = (sp.tx - tx0) * TILE_PX
            out[r : r + TILE_PX, c : c + TILE_PX] = self.tile(sp)
        return out, tx0 * size, (ty1 + 1) * size


# --- painting one tile ------------------------------------------------------------------------------------


def _field(
    east: np.ndarray, north: np.ndarray, cell_m: float, octaves: int, seed: int, res: float
) -> np.ndarray:
    """fbm, sampled only as densely as its finest visible octave needs (a third of that octave's cell)."""
    finest = max(cell_m / 2 ** (octaves - 1), 2.0 * res)
    step = int(np.clip(finest / res / 3.0, 1, 8))
    return noise.fbm_coarse(east, north, cell_m, octaves, seed, res, step)


def _ground(east: np.ndarray, north: np.ndarray, res: float, seed: int) -> np.ndarray:
    """Bare ground: patches of grass and soil, mottled at several scales."""
    land = _field(east, north, 60.0, 3, seed + 1, res)
    mix = np.clip((land - 0.42) * 5.0, 0.0, 1.0)
    tone = 0.75 + 0.5 * _field(east, north, 6.0, 4, seed + 2, res)
    grass = np.array([55, 118, 82], dtype=np.float32)  # BGR
    soil = np.array([88, 118, 145], dtype=np.float32)
    out: np.ndarray = (soil + (grass - soil) * mix[..., None]) * tone[..., None]
    return out


def _f32(x: Any) -> np.ndarray:
    out: np.ndarray = np.asarray(x, dtype=np.float32)
    return out


def _pattern(
    part: Part, east: np.ndarray, north: np.ndarray, res: float, fields: dict[str, np.ndarray]
) -> np.ndarray:
    """Brightness multiplier (rows, cols) of a part's pattern on its window, faded where it would alias."""
    kind = part.pattern
    if kind == "flat":
        return np.ones((len(north), len(east)), dtype=np.float32)
    if kind in ("grain", "debris", "water", "foliage"):
        mid, fine = fields["mid"], fields["fine"]
        if kind == "grain":
            return _f32(0.9 + 0.2 * mid)
        if kind == "debris":
            return _f32(0.6 + 0.5 * mid + 0.3 * fine)
        if kind == "water":
            return _f32(0.9 + 0.25 * fine * mid)
        return _f32(0.45 + 0.8 * mid * (0.6 + 0.6 * fine))
    a = math.radians(part.angle_deg)
    cx, cy = part.poly[:, 0].mean(), part.poly[:, 1].mean()
    u = ((east - cx) * math.cos(a))[None, :] + ((north - cy) * math.sin(a))[:, None]
    period = max(part.period_m, 1e-3)
    # A ripple finer than about three texels cannot be shown: fade it to its mean instead of aliasing.
    fade = float(np.clip((period / res - 2.5) / 2.5, 0.0, 1.0))
    wave = np.sin(u * (2 * math.pi / period))
    if kind == "corrugated":
        return _f32(1.0 + 0.13 * fade * wave)
    if kind == "stripes":
        return _f32(1.0 + 0.25 * fade * np.sign(wave))
    if kind == "tarp":
        return _f32(0.92 + 0.12 * fade * wave + 0.25 * (fields["mid"] - 0.5))
    # gable: ridge along the pattern's normal direction through the centre; the two slopes face opposite ways.
    v = ((east - cx) * -math.sin(a))[None, :] + ((north - cy) * math.cos(a))[:, None]
    side = np.sign(v)
    slope = 0.1 * side * math.cos(a - math.radians(fields["sun_az_math"][0, 0]))
    ridge = np.where(np.abs(v) < max(0.15, res * 0.5), 0.12, 0.0)
    return _f32(1.0 + 0.12 * fade * wave + slope + ridge)


def _window(poly_px: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    c0 = max(math.floor(poly_px[:, 0].min()) - 1, 0)
    r0 = max(math.floor(poly_px[:, 1].min()) - 1, 0)
    c1 = min(math.ceil(poly_px[:, 0].max()) + 2, shape[1])
    r1 = min(math.ceil(poly_px[:, 1].max()) + 2, shape[0])
    if c1 <= c0 or r1 <= r0:
        return None
    return r0, r1, c0, c1


def _alpha(poly_px: np.ndarray, win: tuple[int, int, int, int]) -> np.ndarray:
    """Anti-aliased coverage (rows, cols) in [0, 1] of the polygon on the window (cv2 centres at integers)."""
    r0, r1, c0, c1 = win
    mask = np.zeros((r1 - r0, c1 - c0), dtype=np.uint8)
    pts = np.round((poly_px - [c0 + 0.5, r0 + 0.5]) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)


def render_tile(src: TextureSource, spec: TileSpec) -> np.ndarray:
    """One BGR uint8 tile, TILE_PX square; row 0 is its north edge."""
    res = src.res(spec.level)
    size = TILE_PX * res
    west, south = spec.tx * size, spec.ty * size
    east = west + (np.arange(TILE_PX) + 0.5) * res
    north = south + size - (np.arange(TILE_PX) + 0.5) * res
    seed = src.world.seed
    light = src.lighting
    img = _ground(east, north, res, seed)
    fields = {
        "mid": _field(east, north, 1.2, 2, seed + 3, res),
        "fine": _field(east, north, 0.25, 2, seed + 4, res),
        "sun_az_math": np.array([[90.0 - light.sun_azimuth_deg]]),
    }
    shadow_vec = light.shadow_dir
    reach = 40.0 * float(np.hypot(*shadow_vec))  # tall towers throw long shadows into the tile
    detail = res <= DETAIL_RES_M
    objs = src.objects((west - reach, south - reach, west + size + reach, south + size + reach), detail)

    def to_px(poly: np.ndarray) -> np.ndarray:
        return np.column_stack([(poly[:, 0] - west) / res, (south + size - poly[:, 1]) / res])

    light_map = np.ones((TILE_PX, TILE_PX), dtype=np.float32)
    layer = -1
    for obj in objs:
        if obj.layer != layer:
            layer = obj.layer
            if layer >= LAYER_GROUND:
                # Shadows of this layer fall on everything drawn before it (ground, lower layers).
                same = [o for o in objs if o.layer == layer]
                if _cast_shadows(same, shadow_vec, to_px, light_map, light):
                    img *= light_map[..., None]
                    light_map[:] = 1.0
        for part in obj.parts:
            poly_px = to_px(part.poly)
            # A part under a third of a texel across would only tint one texel faintly: leave it out.
            if np.ptp(poly_px[:, 0]) < 0.33 and np.ptp(poly_px[:, 1]) < 0.33:
                continue
            win = _window(poly_px, (TILE_PX, TILE_PX))
            if win is None:
                continue
            r0, r1, c0, c1 = win
            alpha = _alpha(poly_px, win)
            if not alpha.any():
                continue
            sub = {
                k: (v[r0:r1, c0:c1] if v.ndim == 2 and v.shape[0] == TILE_PX else v)
                for k, v in fields.items()
            }
            pat = _pattern(part, east[c0:c1], north[r0:r1], res, sub)
            colour = np.asarray(part.colour_bgr, dtype=np.float32)
            paint = pat[..., None] * colour
            a = alpha[..., None]
            img[r0:r1, c0:c1] = img[r0:r1, c0:c1] * (1.0 - a) + paint * a
    gain = np.asarray(light.tint_bgr, dtype=np.float32) * np.float32(light.gain)
    img *= (0.94 + 0.12 * fields["fine"])[..., None] * gain
    out: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _cast_shadows(
    objs: list[WorldObject],
    shadow_vec: np.ndarray,
    to_px: Callable[[np.ndarray], np.ndarray],
    light_map: np.ndarray,
    light: Lighting,
) -> bool:
    """Darken `light_map` under the shadows the parts cast; whether any shadow fell on it."""
    cast = False
    for obj in objs:
        for part in obj.parts:
            if part.height_m <= 0:
                continue
            moved = part.poly + shadow_vec * part.height_m
            hull = cv2.convexHull(np.vstack([part.poly, moved]).astype(np.float32)).reshape(-1, 2)
            poly_px = to_px(hull.astype(float))
            win = _window(poly_px, (light_map.shape[0], light_map.shape[1]))
            if win is None:
                continue
            r0, r1, c0, c1 = win
            alpha = _alpha(poly_px, win)
            cast = True
            np.minimum(
                light_map[r0:r1, c0:c1],
                1.0 - alpha * (1.0 - light.shadow_factor),
                out=light_map[r0:r1, c0:c1],
            )
    return cast
