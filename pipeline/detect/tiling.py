"""Model-sized tiles of each strip, with overlap, handed out in batches.

A strip is one tile tall after rescaling, so tiles only step across it; the last tile of a strip is flush with
its right end (more overlap there rather than a half-empty tile). Each tile records which of its edges are
interior, i.e. have a neighbouring tile beyond them: a box that touches an interior edge may be a cut piece of
an object that the neighbour sees too, which the merge step needs to know.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.detect.scale import ScalePlan, Strip
from pipeline.detect.stages import StageClock

PAD_VALUE = 114  # the grey ultralytics pads with, so padding looks like what the model saw in training


@dataclass(frozen=True)
class TileWindow:
    """One tile: `x0_px` across strip `strip` (an index into the plan), in the strip's rescaled pixels."""

    strip: int
    x0_px: int
    # Edges with a neighbouring tile beyond them: left, top, right, bottom.
    interior: tuple[bool, bool, bool, bool]


def tile_origins(length_px: int, tile_px: int, overlap_px: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile_px` that overlap by at least `overlap_px`."""
    if length_px <= tile_px:
        return [0]
    stride = max(1, tile_px - overlap_px)
    starts = list(range(0, length_px - tile_px, stride))
    starts.append(length_px - tile_px)
    return starts


def plan_tiles(plan: ScalePlan, tile_px: int, overlap_px: int) -> list[TileWindow]:
    """Every tile of every strip. Strips run bottom-up: strip k has one above unless it is the last."""
    windows = []
    last = len(plan.strips) - 1
    for k, strip in enumerate(plan.strips):
        width = strip.size_px[0]
        for x0 in tile_origins(width, tile_px, overlap_px):
            windows.append(TileWindow(k, x0, (x0 > 0, k < last, x0 + tile_px < width, k > 0)))
    return windows


def shrink_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area averaging down to `size` (w, h): halved while it still shrinks by 2x or more (OpenCV's 2x2 block
    mean, its fastest resize by far), then one `cv2.INTER_AREA` step for the remainder (a factor below 2).

    0.4-0.9 grey levels on average from one `cv2.INTER_AREA` call (what training uses) on real and rendered
    frames, up to 2 on pixel-fine noise (no worse than the whole-factor first step it replaces), and faster
    where rescaling is most of the detector's cost beyond the network: a halving costs about 0.4 of a 3x or
    4x area step (a 20 MP frame's rows shrunk 4.6x: 8 ms instead of 14). Each halving drops an odd last
    column or row, fewer original pixels in all than one pixel of the result, so nothing moves by more.
    """
    w, h = size
    while image.shape[1] >= 2 * w and image.shape[0] >= 2 * h:
        hh, ww = image.shape[0] // 2, image.shape[1] // 2
        image = cv2.resize(image[: hh * 2, : ww * 2], (ww, hh), interpolation=cv2.INTER_AREA)
    if (image.shape[1], image.shape[0]) == (w, h):
        return image
    out: np.ndarray = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return out


def block_mean(image: np.ndarray, k: int) -> np.ndarray:
    """The image at 1/`k` (a power of two dividing both sides): each pixel the mean of a k x k block, by
    halving (OpenCV's 2x2 path): what a frame decoded `k` times smaller holds, without the DCT's ringing."""
    while k > 1:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
        k //= 2
    return image


def resize_strip(image: np.ndarray, strip: Strip, reduction: int = 1) -> np.ndarray:
    """The strip's rows at its scale: area averaging to shrink (as training did), linear to enlarge.

    `image` may be the frame decoded at 1/`reduction` of its size (libjpeg's scaled decoding); the strip's
    rows are then multiples of `reduction` (scale.snap_to_reduction) and are taken from the reduced rows."""
    top, bottom = strip.top_px // reduction, -(-strip.bottom_px // reduction)
    rows = image[top:bottom]
    w, h = strip.size_px
    if (w, h) == (rows.shape[1], rows.shape[0]):
        return rows
    if w < rows.shape[1]:
        return shrink_area(rows, (w, h))
    out: np.ndarray = cv2.resize(rows, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def batches(
    image: np.ndarray,
    plan: ScalePlan,
    windows: list[TileWindow],
    tile_px: int,
    batch: int,
    reduction: int = 1,
    clock: StageClock | None = None,
) -> Iterator[tuple[np.ndarray, list[TileWindow]]]:
    """(B, tile, tile, 3) uint8 arrays of the windows' pixels, in order, `batch` at a time.

    Each strip is rescaled once, when its first tile is cut (windows come strip by strip). `image` is the
    frame at 1/`reduction` of the plan's size (see resize_strip); `clock` gets "rescale" and "tile" time.
    """
    clock = clock or StageClock()
    current: tuple[int, np.ndarray] | None = None
    for start in range(0, len(windows), batch):
        chunk = windows[start : start + batch]
        started, rescaled = time.perf_counter(), clock.seconds.get("rescale", 0.0)
        out = np.full((len(chunk), tile_px, tile_px, 3), PAD_VALUE, dtype=np.uint8)
        for i, win in enumerate(chunk):
            if current is None or current[0] != win.strip:
                with clock("rescale"):
                    current = (win.strip, resize_strip(image, plan.strips[win.strip], reduction))
            piece = current[1][:tile_px, win.x0_px : win.x0_px + tile_px]
            out[i, : piece.shape[0], : piece.shape[1]] = piece
        # Rescaling done inside this batch is counted once, under "rescale", not under "tile" too.
        inside = clock.seconds.get("rescale", 0.0) - rescaled
        clock.add("tile", time.perf_counter() - started - inside)
        yield out, chunk
