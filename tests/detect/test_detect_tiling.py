"""Tiles: origins, coverage and overlap, interior edges, batches and padding."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from detect_helpers import view

from pipeline.detect.scale import ScalePlan, Strip, plan_scales
from pipeline.detect.tiling import PAD_VALUE, batches, block_mean, plan_tiles, shrink_area, tile_origins


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "expected"),
    [
        (320, 320, 64, [0]),  # exactly one tile
        (100, 320, 64, [0]),  # smaller than a tile: one, padded
        (321, 320, 64, [0, 1]),  # one pixel more: the last tile is flush with the end
        (576, 320, 64, [0, 256]),  # two tiles, exactly the overlap
        (1000, 320, 64, [0, 256, 512, 680]),
        (1000, 320, 0, [0, 320, 640, 680]),
    ],
)
def test_tile_origins(length: int, tile: int, overlap: int, expected: list[int]):
    assert tile_origins(length, tile, overlap) == expected


@pytest.mark.parametrize("length", [320, 333, 700, 1760, 2463, 8000])
@pytest.mark.parametrize("overlap", [0, 32, 64, 96])
def test_tiles_cover_every_pixel_and_neighbours_overlap_enough(length: int, overlap: int):
    starts = tile_origins(length, 320, overlap)
    covered = np.zeros(length, dtype=bool)
    for s in starts:
        covered[s : s + 320] = True
    assert covered.all()
    assert starts == sorted(set(starts)) and starts[-1] + 320 >= length
    for a, b in itertools.pairwise(starts):
        assert a + 320 - b >= overlap


def test_interior_edges_mark_where_a_neighbour_tile_sees_beyond():
    plan = ScalePlan(1000, 700, (Strip(380, 700, (700, 320), 0.08), Strip(100, 420, (700, 320), 0.08)), False)
    windows = plan_tiles(plan, 320, 64)
    assert [(w.strip, w.x0_px) for w in windows] == [(0, 0), (0, 256), (0, 380), (1, 0), (1, 256), (1, 380)]
    # left, top, right, bottom
    assert windows[0].interior == (False, True, True, False)  # bottom-left corner of the searched area
    assert windows[1].interior == (True, True, True, False)
    assert windows[2].interior == (True, True, False, False)
    assert windows[5].interior == (True, False, False, True)  # top-right


def test_batches_cut_rescaled_strips_in_order_and_pad_with_grey():
    image = np.zeros((3000, 4000, 3), dtype=np.uint8)
    image[:, :, 2] = (np.arange(3000) // 12).astype(np.uint8)[:, None]  # red rises down the frame
    plan = plan_scales(view(100.0), 4000, 3000, 0.08, 320, 64)
    windows = plan_tiles(plan, 320, 64)
    seen = []
    for pixels, chunk in batches(image, plan, windows, 320, batch=8):
        assert pixels.shape == (len(chunk), 320, 320, 3) and pixels.dtype == np.uint8
        assert len(chunk) <= 8
        seen.extend(chunk)
        for tile, win in zip(pixels, chunk, strict=True):
            strip = plan.strips[win.strip]
            middle = (strip.top_px + strip.bottom_px) / 2
            assert abs(float(tile[160, 160, 2]) - middle // 12) <= 2
    assert seen == windows
    narrow = ScalePlan(200, 100, (Strip(0, 100, (200, 100), None),), True)
    (pixels, _), *_ = batches(np.zeros((100, 200, 3), np.uint8), narrow, plan_tiles(narrow, 320, 64), 320, 4)
    assert (pixels[0, :100, :200] == 0).all() and (pixels[0, 100:] == PAD_VALUE).all()
    assert (pixels[0, :, 200:] == PAD_VALUE).all()


@pytest.mark.parametrize("size", [(1370, 1027), (1000, 750), (2100, 1500), (4000, 2999)])
def test_halving_shrink_matches_one_area_resize(size: tuple[int, int]):
    rng = np.random.default_rng(3)
    # Texture a few pixels across (roof ridges, gravel: what a camera resolves) on a ramp, with a block whose
    # sharp edges must stay in place.
    noise = cv2.GaussianBlur(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8), (0, 0), 1.0)
    image = (noise // 2 + (np.arange(4000) // 40).astype(np.uint8)[None, :, None]).astype(np.uint8)
    image[1000:1400, 500:2100] = 250
    out = shrink_area(image, size)
    want = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    assert out.shape == want.shape == (size[1], size[0], 3)
    diff = np.abs(out.astype(int) - want.astype(int))
    # Linear interpolation (aliasing) is 2.4-3.1 levels off here; nearest neighbour 7-8.
    assert diff.mean() < 1.25
    # Edges stay where they were: the block's border is within a pixel in the result.
    cols = np.flatnonzero(out[out.shape[0] * 1200 // 3000, :, 0] > 240)
    assert abs(cols[0] - 500 * size[0] / 4000) <= 1.0 and abs(cols[-1] + 1 - 2100 * size[0] / 4000) <= 1.0


@pytest.mark.parametrize("k", [2, 4, 8])
def test_block_mean_is_the_mean_of_each_k_by_k_block(k: int):
    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (96, 160, 3), dtype=np.uint8)
    want = image.reshape(96 // k, k, 160 // k, k, 3).mean(axis=(1, 3))
    out = block_mean(image, k)
    assert out.shape == want.shape and out.dtype == np.uint8
    # One rounding per halving: at most half a level each.
    assert np.abs(out - want).max() <= 0.5 * np.log2(k) + 1e-9
