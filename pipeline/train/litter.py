"""Scattered waste painted into real tiles: what real dump sites look like from the air, and the simulator's
garbage piles do not.

The dump-site thumbnails (../shared/real_aerial/raven_thumbs, a validation set: nothing here is drawn from
them) show waste as many small bright fragments (plastic, paper, rubble; a few tenths of a metre to a metre)
strewn over an irregular patch of ground a few metres to tens of metres across, denser in places, often on
disturbed soil. The simulator's garbage piles are single compact heaps 1-7 m across. The fourth model gave
that scattered waste no higher `garbage_pile` score than empty scenery at any scale (models/MODEL_CARD.md),
so these tiles teach it the look: a procedural patch of fragments on a real background tile at the model's
ground resolution, labelled as one `garbage_pile` box around its fragments (the label the thumbnails' image-
level judgement gives such a patch: bench/real_thumbs_labels.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GARBAGE = 1  # class index of garbage_pile (pipeline.simulate.world.CLASSES)
PAD = 114  # the grey realdata.cut pads small frames with: not ground, nothing is painted on it

# BGR fragment colours with their weights: mostly white and pale plastic and paper, some dark plastic,
# cardboard, rubble and a few bright colours.
PALETTE: tuple[tuple[tuple[int, int, int], float], ...] = (
    ((238, 238, 236), 0.30),
    ((212, 218, 222), 0.20),
    ((182, 184, 180), 0.14),
    ((205, 178, 140), 0.08),  # pale blue
    ((150, 120, 80), 0.05),  # blue tarp
    ((60, 60, 185), 0.05),  # red
    ((70, 190, 215), 0.04),  # yellow
    ((90, 140, 70), 0.03),  # green
    ((30, 30, 34), 0.10),  # black plastic
    ((85, 120, 155), 0.08),  # cardboard
    ((130, 140, 150), 0.07),  # rubble
)


@dataclass(frozen=True)
class LitterSpec:
    """How a patch is drawn, in metres on the ground."""

    extent_m: tuple[float, float] = (3.0, 18.0)  # the patch's longest side
    fragment_m: tuple[float, float] = (0.12, 1.2)  # one fragment's side
    density_per_m2: tuple[float, float] = (0.4, 4.0)  # fragments per square metre of the patch
    clusters: tuple[int, int] = (1, 4)  # denser spots inside the patch
    disturbed: float = 0.6  # chance the ground under the patch is darkened and browned (dumped-on soil)


def _colour(rng: np.random.Generator) -> np.ndarray:
    weights = np.array([w for _, w in PALETTE])
    k = int(rng.choice(len(PALETTE), p=weights / weights.sum()))
    return np.array(PALETTE[k][0], dtype=np.float32) * float(rng.uniform(0.8, 1.08))


def _fragment(centre: np.ndarray, side_px: float, rng: np.random.Generator) -> np.ndarray:
    """A small irregular polygon (4-6 corners) about `side_px` across, as int32 points (x16 fixed point)."""
    n = int(rng.integers(4, 7))
    angles = np.sort(rng.uniform(0.0, 2 * np.pi, n))
    radii = side_px / 2.0 * rng.uniform(0.5, 1.0, n)
    stretch = rng.uniform(0.4, 1.0)
    pts = np.column_stack([np.cos(angles) * radii, np.sin(angles) * radii * stretch])
    turn = rng.uniform(0.0, np.pi)
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    pts = pts @ rot.T + centre
    fixed: np.ndarray = np.round(pts * 16).astype(np.int32)
    return fixed


def paint_litter(
    tile: np.ndarray, gsd_m: float, rng: np.random.Generator, spec: LitterSpec = LitterSpec()
) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
    """A copy of `tile` (BGR uint8, square, at `gsd_m` metres per pixel) with one patch of scattered waste,
    and the patch's box (x0, y0, x1, y1 in tile pixels, around every painted fragment and its shadow); the
    tile unchanged and None when no place on real ground (not padding) holds the patch."""
    size = tile.shape[0]
    ground = ~np.all(tile == PAD, axis=2)
    extent = min(float(rng.uniform(*spec.extent_m)) / gsd_m, 0.8 * size)
    aspect = float(rng.uniform(0.4, 1.0))
    half = np.array([extent / 2.0, extent * aspect / 2.0])
    turn = float(rng.uniform(0.0, np.pi))
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    # Half the axis-aligned extent of the turned ellipse, plus what a fragment and its shadow reach beyond it.
    reach = np.abs(rot) @ half + spec.fragment_m[1] / gsd_m * (0.5 + 1.0 / 3.0) + 2.0
    for _ in range(20):
        if (2 * reach >= size).any():
            return tile.copy(), None
        centre = rng.uniform(reach, size - reach)
        x0, y0 = np.floor(centre - reach).astype(int)
        x1, y1 = np.ceil(centre + reach).astype(int)
        if ground[y0:y1, x0:x1].all():
            break
    else:
        return tile.copy(), None
    out = tile.astype(np.float32)
    if rng.random() < spec.disturbed:
        soil = np.zeros((size, size), dtype=np.float32)
        axes = (max(1, round(half[0] * 0.9)), max(1, round(half[1] * 0.9)))
        cv2.ellipse(soil, (round(centre[0]), round(centre[1])), axes, np.degrees(turn), 0, 360, 1.0, -1)
        soil = cv2.GaussianBlur(soil, (0, 0), max(1.0, extent / 12.0)) * float(rng.uniform(0.25, 0.6))
        brown = np.array([70, 95, 120], dtype=np.float32) * float(rng.uniform(0.8, 1.3))
        out = out * (1 - soil[..., None]) + brown * soil[..., None]
    area_m2 = np.pi * (extent * gsd_m / 2.0) ** 2 * aspect
    count = int(np.clip(area_m2 * rng.uniform(*spec.density_per_m2), 12, 1500))
    spots = rng.uniform(-0.6, 0.6, (int(rng.integers(spec.clusters[0], spec.clusters[1] + 1)), 2))
    spread = rng.uniform(0.25, 0.6, len(spots))
    painted = np.zeros((size, size), dtype=np.uint8)
    sun = float(rng.uniform(0.0, 2 * np.pi))
    for _ in range(count):
        k = int(rng.integers(0, len(spots)))
        unit = spots[k] + rng.normal(0.0, spread[k], 2)
        if unit @ unit > 1.0:
            continue  # outside the patch's ellipse
        where = centre + rot @ (unit * half)
        side = max(1.5, float(rng.uniform(*spec.fragment_m)) / gsd_m)
        poly = _fragment(where, side, rng)
        cast = np.array([np.cos(sun), np.sin(sun)]) * 16 * max(1.0, side / 3)
        shadow = poly + np.round(cast).astype(np.int32)
        for pts, colour in ((shadow, None), (poly, _colour(rng))):
            # Drawn in a small window around the fragment: a whole-tile mask per fragment is 100x the work.
            lo = np.maximum(pts.min(axis=0) // 16 - 1, 0)
            hi = np.minimum(pts.max(axis=0) // 16 + 2, size)
            if (hi <= lo).any():
                continue
            mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), dtype=np.uint8)
            cv2.fillPoly(mask, [pts - lo * 16], 255, cv2.LINE_AA, shift=4)
            a = mask.astype(np.float32)[..., None] / 255.0
            win = out[lo[1] : hi[1], lo[0] : hi[0]]
            if colour is None:
                win *= 1 - 0.35 * a
            else:
                win[:] = win * (1 - a) + colour * a
            painted[lo[1] : hi[1], lo[0] : hi[0]] |= mask
    ys, xs = np.nonzero(painted)
    if len(xs) == 0:
        return tile.copy(), None
    # As soft as the real ground around it: real fragments are a pixel or two across and never crisp.
    near = cv2.dilate(painted, np.ones((5, 5), np.uint8)).astype(np.float32)[..., None] / 255.0
    soft = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.2)))
    out = out * (1 - near) + soft * near
    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    return np.clip(out, 0, 255).astype(np.uint8), box
