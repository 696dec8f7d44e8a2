"""Frame -> training tiles at the model's ground resolution: the pure geometry, no files.

The contract with the inference side (pipeline/detect/): the model sees pixels of a fixed ground sample
distance (GSD, metres per pixel), cut into square tiles of its input size. A frame is rescaled by one factor,
target GSD / GSD at its centre, so a nadir frame is at the target everywhere and an oblique frame is at the
target in the middle, finer below and coarser above; tiles whose own GSD strays too far from the target are
dropped, because inference rescales each band of an oblique frame to the target and never shows the model
such pixels.

GSD here is the square root of the ground area one pixel covers (the geometric mean of the across- and
along-look resolutions), which is the plain nadir GSD for a nadir camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline import geo
from pipeline.simulate.labels import SceneryBox
from pipeline.types import Intrinsics, Pose

# A box cut by a tile border is kept when at least this share of its area is inside the tile; a smaller
# sliver is dropped (neither a fair positive nor a clean negative, and rare at the tile overlap used).
MIN_VISIBLE_SHARE = 0.4
# Boxes narrower than this after rescaling cannot be told apart at the model's resolution: dropped.
MIN_BOX_PX = 4.0


@dataclass(frozen=True)
class PixelBox:
    cls: int
    xyxy_px: tuple[float, float, float, float]


@dataclass(frozen=True)
class Tile:
    """One square window of the rescaled frame and the boxes inside it, in tile pixels."""

    x0_px: int
    y0_px: int
    size_px: int
    boxes: tuple[PixelBox, ...]
    gsd_ratio: float  # this tile's GSD / the target GSD (1 for nadir frames)
    distractors: frozenset[str] = frozenset()  # kinds of look-alike scenery the tile shows (not labels)

    def yolo_lines(self) -> list[str]:
        s = float(self.size_px)
        out = []
        for b in self.boxes:
            x0, y0, x1, y1 = b.xyxy_px
            cx, cy, w, h = (x0 + x1) / 2 / s, (y0 + y1) / 2 / s, (x1 - x0) / s, (y1 - y0) / s
            out.append(f"{b.cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
        return out


def local_gsd_m(intr: Intrinsics, pose: Pose, x_px: float, y_px: float) -> float:
    """`geo.local_gsd_m` at one pixel: the definition detection rescales frames by too."""
    return float(geo.local_gsd_m(intr, pose, np.array([[x_px, y_px]]))[0])


def rescale_factor(centre_gsd_m: float, target_gsd_m: float) -> float:
    """Pixels of the rescaled frame per pixel of the original (< 1 shrinks)."""
    return centre_gsd_m / target_gsd_m


def tile_origins(length_px: int, tile_px: int, overlap: float) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile_px`, the last one flush with the end."""
    if length_px <= tile_px:
        return [0]
    stride = max(1, round(tile_px * (1.0 - overlap)))
    starts = list(range(0, length_px - tile_px, stride))
    starts.append(length_px - tile_px)
    return sorted(set(starts))


def clip_box(
    xyxy: tuple[float, float, float, float], x0: float, y0: float, size: float
) -> tuple[float, float, float, float] | None:
    """The part of a box inside the tile, in tile pixels, or None when too little of it is inside."""
    bx0, by0, bx1, by1 = xyxy
    area = max(bx1 - bx0, 0.0) * max(by1 - by0, 0.0)
    cx0, cy0 = max(bx0, x0), max(by0, y0)
    cx1, cy1 = min(bx1, x0 + size), min(by1, y0 + size)
    if cx1 <= cx0 or cy1 <= cy0 or area <= 0:
        return None
    if (cx1 - cx0) * (cy1 - cy0) < MIN_VISIBLE_SHARE * area:
        return None
    if min(cx1 - cx0, cy1 - cy0) < MIN_BOX_PX:
        return None
    return (cx0 - x0, cy0 - y0, cx1 - x0, cy1 - y0)


def scale_boxes(boxes: list[PixelBox], factor: float) -> list[PixelBox]:
    """Boxes in original pixels -> rescaled-frame pixels, without those too small to learn from."""
    out = []
    for b in boxes:
        x0, y0, x1, y1 = (v * factor for v in b.xyxy_px)
        if min(x1 - x0, y1 - y0) >= MIN_BOX_PX:
            out.append(PixelBox(b.cls, (x0, y0, x1, y1)))
    return out


def shows(xyxy: tuple[float, float, float, float], x0: float, y0: float, size: float) -> bool:
    """Whether a tile shows enough of a box to count: 40 % of it, or a tenth of the tile for a big one."""
    bx0, by0, bx1, by1 = xyxy
    w = min(bx1, x0 + size) - max(bx0, x0)
    h = min(by1, y0 + size) - max(by0, y0)
    if w <= 0 or h <= 0:
        return False
    area = max(bx1 - bx0, 0.0) * max(by1 - by0, 0.0)
    return w * h >= min(MIN_VISIBLE_SHARE * area, 0.1 * size * size)


def cut_tiles(
    scaled_size: tuple[int, int],
    boxes: list[PixelBox],
    tile_px: int,
    overlap: float,
    gsd_ratio_at: dict[tuple[int, int], float] | None = None,
    distractors: Sequence[SceneryBox] = (),
) -> list[Tile]:
    """Every tile of a rescaled frame of `scaled_size` (w, h) with the boxes it holds.

    `gsd_ratio_at` maps a tile origin to its GSD ratio (default 1: a nadir frame); `distractors` (boxes in
    rescaled pixels) say which look-alikes each tile shows.
    """
    w, h = scaled_size
    tiles = []
    for y0 in tile_origins(h, tile_px, overlap):
        for x0 in tile_origins(w, tile_px, overlap):
            inside = []
            for b in boxes:
                clipped = clip_box(b.xyxy_px, x0, y0, tile_px)
                if clipped is not None:
                    inside.append(PixelBox(b.cls, clipped))
            ratio = 1.0 if gsd_ratio_at is None else gsd_ratio_at[(x0, y0)]
            kinds = frozenset(d.kind for d in distractors if shows(d.xyxy_px, x0, y0, tile_px))
            tiles.append(Tile(x0, y0, tile_px, tuple(inside), ratio, kinds))
    return tiles


def tile_gsd_ratios(
    intr: Intrinsics, pose: Pose, scaled_size: tuple[int, int], factor: float, tile_px: int, overlap: float
) -> dict[tuple[int, int], float]:
    """GSD at each tile's centre, as a multiple of the target (the frame's centre GSD after rescaling)."""
    centre = local_gsd_m(intr, pose, intr.cx_px, intr.cy_px)
    w, h = scaled_size
    out = {}
    for y0 in tile_origins(h, tile_px, overlap):
        for x0 in tile_origins(w, tile_px, overlap):
            size_x, size_y = min(tile_px, w), min(tile_px, h)
            gsd = local_gsd_m(intr, pose, (x0 + size_x / 2) / factor, (y0 + size_y / 2) / factor)
            out[(x0, y0)] = gsd / centre
    return out
