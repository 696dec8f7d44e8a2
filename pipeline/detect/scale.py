"""Ground-resolution normalisation: which rows of a frame are searched, and at what scale.

The model was trained on pixels of one ground sample distance G (metres per pixel). A frame is searched in
horizontal strips exactly one model tile tall after rescaling, stacked from the bottom of the frame (the
near field of an oblique camera) upwards; each strip is rescaled by its own factor, local GSD / G at its
middle row, so an object has about the trained size in pixels wherever it is. At nadir the GSD is the same
everywhere and the strips are simply the rows of one uniform tiling; at -45 degrees the far rows get coarser
and would need enlarging: they are enlarged at most `max_upscale` times (default 1: not at all, see
DetectSettings), so objects there look somewhat smaller than in the near field.

Rows are not searched at all where the ground is farther than `max_ground_distance_m` from the point below
the camera, at or above the horizon, or coarser than `max_gsd_ratio` x G (objects there are a few pixels
across: a detector cannot tell a garbage pile from a shadow, and the evidence would be useless to a person).

GSD is the square root of the ground area one pixel covers (`geo.local_gsd_m`, which the training side
uses too); at nadir it is the plain nadir GSD.

A frame without a usable pose (real files often lack the altitude tag) is searched at a few plausible ground
resolutions: those of a nadir camera at each of `fallback_heights_m`, with the frame's own intrinsics when
known, else with a typical drone lens (`fallback_hfov_deg` across the frame's width). Searching at native
pixels instead would show the model a 1.5 m pile 3-4x larger than it ever saw. The detector merges the
passes and rejects boxes whose implied ground size is implausible for the class; the notes say so.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline import geo
from pipeline.config import DEFAULT_SEARCH_RANGE_M
from pipeline.types import CameraView, Intrinsics

# Rows sampled to find the searched range and the GSD profile; the GSD is smooth along a column, so
# interpolating between ~250 samples is exact to a fraction of a percent.
_ROW_SAMPLES = 257
_SCALE_ITERATIONS = 4


@dataclass(frozen=True)
class ScaleLimits:
    """The knobs of scale planning (all in DetectSettings; repeated here so this module stands alone)."""

    max_ground_distance_m: float = DEFAULT_SEARCH_RANGE_M
    max_gsd_ratio: float = 2.0
    max_upscale: float = 1.0
    fallback_heights_m: tuple[float, ...] = (30.0, 60.0, 120.0)
    fallback_hfov_deg: float = (
        84.0  # a DJI wide camera's horizontal field of view, when intrinsics are unknown
    )


@dataclass(frozen=True)
class Strip:
    """Original rows [top_px, bottom_px) of the full frame width, resized to `size_px` (w, h) for tiling."""

    top_px: int
    bottom_px: int
    size_px: tuple[int, int]
    gsd_m: float | None  # local GSD at the strip's middle row before rescaling; None when unknown

    def factors(self, width_px: int) -> tuple[float, float]:
        """Scaled pixels per original pixel, (x, y); equal up to rounding."""
        return self.size_px[0] / width_px, self.size_px[1] / (self.bottom_px - self.top_px)


@dataclass(frozen=True)
class ScalePlan:
    width_px: int
    height_px: int
    strips: tuple[Strip, ...]
    fallback: bool  # searched at a stated fallback scale: no usable pose
    notes: tuple[str, ...] = ()

    @property
    def searched_rows(self) -> tuple[int, int]:
        if not self.strips:
            return (0, 0)
        return min(s.top_px for s in self.strips), max(s.bottom_px for s in self.strips)


def local_gsd_m(view: CameraView, xy_px: np.ndarray) -> np.ndarray:
    """`geo.local_gsd_m` for a view: the definition training rescaled its tiles by."""
    return geo.local_gsd_m(view.intrinsics, view.pose, xy_px)


def _row_profile(view: CameraView, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampled rows, the GSD at their middle column, and the nearest ground distance along each row."""
    ys = np.linspace(0.5, height - 0.5, min(height, _ROW_SAMPLES))
    cx = width / 2.0
    gsd = local_gsd_m(view, np.column_stack([np.full_like(ys, cx), ys]))
    # Under roll a row's two ends lie at different distances: the nearer one decides whether it is searched.
    cols = (0.5, cx, width - 0.5)
    pts = np.array([[x, y] for y in ys for x in cols])
    en = geo.ground_offsets(view.intrinsics, view.pose, pts).reshape(len(ys), len(cols), 2)
    with np.errstate(invalid="ignore"):
        dist = np.hypot(en[..., 0], en[..., 1])
    nearest = np.where(np.isfinite(dist), dist, np.inf).min(axis=1)
    return ys, gsd, nearest


def _stack_strips(
    top: float, bottom: float, tile: int, overlap: int, scale_at: Callable[[float], float]
) -> list[tuple[int, int, float]]:
    """(top, bottom, scale) of tile-tall strips covering rows [top, bottom), from the bottom up.

    Each strip's scale is taken at its own middle row (a fixed point: the middle depends on the height, which
    depends on the scale); consecutive strips overlap by `overlap` scaled pixels of the lower one, and the
    last strip is flush with `top`, as the last tile of a row is flush with its end.
    """
    strips: list[tuple[int, int, float]] = []
    low = bottom
    while True:
        s = scale_at(low)
        for _ in range(_SCALE_ITERATIONS):
            s = scale_at(low - tile / (2.0 * s))
        tall = tile / s
        if low - tall <= top + 0.5:
            # Flush with the top: the strip's middle moved, so its scale is taken again there.
            for _ in range(_SCALE_ITERATIONS):
                s = scale_at(top + tile / (2.0 * s))
            # It must still reach the strip below (`low` includes the overlap): if it would fall short, it
            # is enlarged a little less, so that it does.
            s = min(s, tile / max(low - top, 1.0))
            hi = min(top + tile / s, bottom)
            strips.append((math.floor(top), math.ceil(hi), s))
            return strips
        strips.append((round(low - tall), round(low), s))
        low = low - tall + overlap / s


def plan_scales(
    view: CameraView | None,
    width: int,
    height: int,
    gsd_m: float,
    tile: int,
    overlap: int,
    limits: ScaleLimits = ScaleLimits(),
    intrinsics: Intrinsics | None = None,
    why_no_pose: str = "",
) -> ScalePlan:
    """The strips to search a width x height frame in, for a model trained at `gsd_m` with `tile`-pixel
    inputs. `view` None means no usable pose (`why_no_pose` says why): the strips of every fallback pass."""
    if view is None:
        return _fallback_plan(width, height, gsd_m, tile, overlap, limits, intrinsics, why_no_pose)
    ys, gsd, nearest = _row_profile(view, width, height)
    usable = (
        np.isfinite(gsd) & (nearest <= limits.max_ground_distance_m) & (gsd <= limits.max_gsd_ratio * gsd_m)
    )
    if not usable.any():
        note = (
            f"nothing searched: no row sees ground within {limits.max_ground_distance_m:g} m "
            f"at {limits.max_gsd_ratio * gsd_m:.3g} m/px or finer"
        )
        return ScalePlan(width, height, (), False, (note,))
    first, last = np.flatnonzero(usable)[[0, -1]]
    step = height / len(ys)
    top = max(0.0, ys[first] - step / 2) if first > 0 else 0.0
    bottom = min(float(height), ys[last] + step / 2) if last < len(ys) - 1 else float(height)
    keep_ys, keep_gsd = ys[first : last + 1], gsd[first : last + 1]

    def scale_at(y: float) -> float:
        local = float(np.interp(y, keep_ys, keep_gsd))
        return min(local / gsd_m, limits.max_upscale)

    notes = []
    if top > 0 or bottom < height:
        notes.append(
            f"searched rows {int(top)}-{math.ceil(bottom)} of {height}: the rest is beyond "
            f"{limits.max_ground_distance_m:g} m, above the horizon or coarser than "
            f"{limits.max_gsd_ratio * gsd_m:.3g} m/px"
        )
    strips = []
    for t, b, s in _stack_strips(top, bottom, tile, overlap, scale_at):
        local = float(np.interp((t + b) / 2.0, keep_ys, keep_gsd))
        strips.append(Strip(t, b, _scaled_size(width, t, b, s, tile), local))
    if any(st.gsd_m is not None and st.gsd_m / gsd_m > limits.max_upscale for st in strips):
        notes.append(
            f"far rows coarser than {gsd_m:g} m/px enlarged at most {limits.max_upscale:g}x: "
            "objects there look smaller"
        )
    return ScalePlan(width, height, tuple(strips), False, tuple(notes))


def assumed_gsds(
    width: int, limits: ScaleLimits, intrinsics: Intrinsics | None
) -> tuple[tuple[float, str], ...]:
    """(native metres per pixel, how it was assumed) for each fallback height, coarsest last."""
    if intrinsics is not None and intrinsics.focal_px > 0:
        focal, lens = intrinsics.focal_px, "its own intrinsics"
    else:
        focal = width / 2.0 / math.tan(math.radians(limits.fallback_hfov_deg) / 2.0)
        lens = f"an assumed {limits.fallback_hfov_deg:g} degree lens"
    return tuple((h / focal, f"nadir from {h:g} m with {lens}") for h in sorted(limits.fallback_heights_m))


def fallback_plans(
    width: int,
    height: int,
    gsd_m: float,
    tile: int,
    overlap: int,
    limits: ScaleLimits,
    intrinsics: Intrinsics | None,
    why: str,
) -> tuple[ScalePlan, ...]:
    """One plan per assumed ground resolution (never enlarged beyond `max_upscale`; passes that would
    search the same pixels are searched once, at the finest resolution assumed for them)."""
    plans: list[ScalePlan] = []
    seen: set[float] = set()
    reason = f"no usable pose ({why})" if why else "no usable pose"
    for assumed, how in assumed_gsds(width, limits, intrinsics):
        scale = min(assumed / gsd_m, limits.max_upscale)
        if round(scale, 4) in seen:
            continue
        seen.add(round(scale, 4))
        stacked = _stack_strips(0.0, float(height), tile, overlap, functools.partial(_constant, scale))
        strips = tuple(Strip(t, b, _scaled_size(width, t, b, s, tile), assumed) for t, b, s in stacked)
        note = (
            f"{reason}: searched at fallback scale {scale:.3g}, assumed ground resolution {assumed:.3g} m/px "
            f"({how}); detections are not georeferenced"
        )
        plans.append(ScalePlan(width, height, strips, True, (note,)))
    return tuple(plans)


def _constant(value: float, _y: float) -> float:
    return value


def _fallback_plan(
    width: int,
    height: int,
    gsd_m: float,
    tile: int,
    overlap: int,
    limits: ScaleLimits,
    intrinsics: Intrinsics | None,
    why: str,
) -> ScalePlan:
    """Every fallback pass as one plan (what the searched tiles add up to)."""
    plans = fallback_plans(width, height, gsd_m, tile, overlap, limits, intrinsics, why)
    strips = tuple(st for p in plans for st in p.strips)
    return ScalePlan(width, height, strips, True, tuple(n for p in plans for n in p.notes))


def _scaled_size(width: int, top: int, bottom: int, scale: float, tile: int) -> tuple[int, int]:
    # Whole-pixel rows can make a strip a pixel taller than a tile after rescaling; squeezing that pixel
    # (0.3 % at 320 px) beats a second row of tiles.
    return max(1, round(width * scale)), max(1, min(tile, round((bottom - top) * scale)))


# libjpeg decodes a JPEG at 1/2, 1/4 or 1/8 of its size for little more than the entropy decoding: its
# inverse DCT then computes only the pixels asked for.
REDUCTIONS = (8, 4, 2)


def decode_reduction(plan: ScalePlan) -> int:
    """The largest factor (8, 4, 2, else 1) the frame may be decoded smaller by for this plan: every strip
    is shrunk by at least that much in both directions anyway, and the frame's size divides by it (so each
    reduced pixel is exactly a block of the original's: boxes keep mapping to original pixels exactly)."""
    if not plan.strips:
        return 1
    shrink = min(
        min(plan.width_px / s.size_px[0], (s.bottom_px - s.top_px) / s.size_px[1]) for s in plan.strips
    )
    for k in REDUCTIONS:
        if shrink >= k and plan.width_px % k == 0 and plan.height_px % k == 0:
            return k
    return 1


def snap_to_reduction(plan: ScalePlan, reduction: int) -> ScalePlan:
    """The plan with each strip's rows widened to multiples of `reduction` (at most reduction - 1 rows each
    way; its rescaled size unchanged), so a frame decoded at 1/`reduction` holds exactly those rows."""
    if reduction == 1:
        return plan
    strips = tuple(
        Strip(
            s.top_px // reduction * reduction,
            min(-(-s.bottom_px // reduction) * reduction, plan.height_px),
            s.size_px,
            s.gsd_m,
        )
        for s in plan.strips
    )
    return ScalePlan(plan.width_px, plan.height_px, strips, plan.fallback, plan.notes)
