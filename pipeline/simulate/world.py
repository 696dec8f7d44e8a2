"""The synthetic world: a flat ground plane in local east/north metres around an origin, laid out as a road
grid whose blocks are filled on demand.

Each block is generated from (world seed, block index) alone, so a flight only ever builds the blocks it can
see, and two flights over the same world agree object for object. Every object carries its whole life
(born, cleared, growth per night), so `--night K` is a filter over the same objects, never a re-draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

CLASSES: tuple[str, ...] = ("illegal_construction", "garbage_pile")
# How far beyond the origin the road grid (and so anything but bare ground) extends.
WORLD_EXTENT_M = 3000.0
# Parts and shadows may stick out of a block by this much; block queries widen by it.
BLOCK_SPILL_M = 40.0
# A growing pile stops at this multiple of its first size (heaps do not grow without bound).
MAX_GROWTH = 1.8


@dataclass(frozen=True, eq=False)
class Part:
    """One painted polygon of an object's look, in world east/north metres (N, 2)."""

    poly: np.ndarray
    colour_bgr: tuple[float, float, float]
    pattern: str = "grain"  # grain | flat | corrugated | gable | water | foliage | tarp | stripes | debris
    angle_deg: float = 0.0  # pattern axis, counter-clockwise from east
    period_m: float = 0.0
    height_m: float = 0.0  # above whatever it stands on; > 0 casts a shadow


@dataclass(frozen=True, eq=False)
class WorldObject:
    """A thing on the ground. `cls` is a detector class for targets, None for scenery and distractors."""

    id: str
    kind: str
    cls: str | None
    footprint: np.ndarray  # (N, 2) east/north metres, the outline that truth and labels use
    parts: tuple[Part, ...]
    layer: int  # draw order (see scenery.LAYER_*)
    born_night: int = 0
    cleared_night: int | None = None  # first night it is gone
    growth_per_night: float = 0.0  # linear scale added per night since birth

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        pts = np.vstack([self.footprint, *(p.poly for p in self.parts)])
        return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())

    @property
    def centroid(self) -> tuple[float, float]:
        return polygon_centroid(self.footprint)


@dataclass(frozen=True)
class World:
    """The road grid; blocks between roads are filled lazily by `scenery.block_objects`."""

    seed: int
    lat: float
    lon: float
    rotation_deg: float  # the grid's u axis, counter-clockwise from east
    roads_u: tuple[float, ...]  # road centre lines across u (block edges), ascending
    roads_v: tuple[float, ...]
    widths_u: tuple[float, ...]
    widths_v: tuple[float, ...]

    def to_world(self, uv: np.ndarray) -> np.ndarray:
        """Grid-local (u, v) metres to world east/north."""
        a = math.radians(self.rotation_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        out: np.ndarray = np.asarray(uv, dtype=float).reshape(-1, 2) @ rot.T
        return out

    def to_grid(self, en: np.ndarray) -> np.ndarray:
        a = math.radians(self.rotation_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        out: np.ndarray = np.asarray(en, dtype=float).reshape(-1, 2) @ rot
        return out


def _road_lines(rng: np.random.Generator) -> tuple[tuple[float, ...], tuple[float, ...]]:
    lines, widths = [-WORLD_EXTENT_M], [float(rng.uniform(7.0, 14.0))]
    while lines[-1] < WORLD_EXTENT_M:
        lines.append(lines[-1] + float(rng.uniform(75.0, 150.0)))
        widths.append(float(rng.choice([7.0, 9.0, 12.0, 16.0], p=[0.4, 0.3, 0.2, 0.1])))
    return tuple(lines), tuple(widths)


def make_world(seed: int, lat: float, lon: float) -> World:
    """The road grid of world `seed` around (lat, lon); cheap, it holds no objects."""
    rng = np.random.default_rng([seed, 1])
    rotation = float(rng.uniform(-45.0, 45.0))
    # The origin should not always sit on a road: shift the grid by a random fraction of a block.
    shift_u, shift_v = float(rng.uniform(0, 100)), float(rng.uniform(0, 100))
    ru, wu = _road_lines(rng)
    rv, wv = _road_lines(rng)
    return World(
        seed=seed,
        lat=lat,
        lon=lon,
        rotation_deg=rotation,
        roads_u=tuple(x + shift_u for x in ru),
        roads_v=tuple(x + shift_v for x in rv),
        widths_u=wu,
        widths_v=wv,
    )


def blocks_in(world: World, bbox: tuple[float, float, float, float]) -> list[tuple[int, int]]:
    """Indices (i, j) of the blocks whose area, widened by BLOCK_SPILL_M, meets a world east/north bbox."""
    e0, n0, e1, n1 = bbox
    corners = world.to_grid(np.array([[e0, n0], [e1, n0], [e1, n1], [e0, n1]]))
    u0, v0 = corners.min(axis=0) - BLOCK_SPILL_M
    u1, v1 = corners.max(axis=0) + BLOCK_SPILL_M
    ru, rv = np.asarray(world.roads_u), np.asarray(world.roads_v)
    i0 = max(int(np.searchsorted(ru, u0, side="right")) - 1, 0)
    i1 = min(int(np.searchsorted(ru, u1, side="left")), len(ru) - 1)
    j0 = max(int(np.searchsorted(rv, v0, side="right")) - 1, 0)
    j1 = min(int(np.searchsorted(rv, v1, side="left")), len(rv) - 1)
    return [(i, j) for i in range(i0, i1) for j in range(j0, j1)]


def polygon_centroid(poly: np.ndarray) -> tuple[float, float]:
    """Area centroid of a simple polygon (shoelace); the vertex mean for a degenerate one."""
    p = np.asarray(poly, dtype=float)
    x, y = p[:, 0], p[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2.0
    if abs(area) < 1e-12:
        return float(x.mean()), float(y.mean())
    return float(((x + xn) * cross).sum() / (6 * area)), float(((y + yn) * cross).sum() / (6 * area))


def polygon_area(poly: np.ndarray) -> float:
    p = np.asarray(poly, dtype=float)
    return float(abs((p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]).sum()) / 2.0)


def _scaled(obj: WorldObject, factor: float) -> WorldObject:
    cx, cy = obj.centroid
    centre = np.array([cx, cy])

    def grow(poly: np.ndarray) -> np.ndarray:
        out: np.ndarray = centre + (poly - centre) * factor
        return out

    # Heaps get taller as they spread, but more slowly.
    h = math.sqrt(factor)
    parts = tuple(replace(p, poly=grow(p.poly), height_m=p.height_m * h) for p in obj.parts)
    return replace(obj, footprint=grow(obj.footprint), parts=parts)


def at_night(obj: WorldObject, night: int) -> WorldObject | None:
    """The object as it stands on `night`: None before it is built or once cleared; grown if it grows."""
    if night < obj.born_night or (obj.cleared_night is not None and night >= obj.cleared_night):
        return None
    if obj.growth_per_night <= 0.0 or night == obj.born_night:
        return obj
    return _scaled(obj, min(1.0 + obj.growth_per_night * (night - obj.born_night), MAX_GROWTH))
