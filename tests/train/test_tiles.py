"""Tile geometry: coverage, clipping, scale and the GSD definition shared with pipeline/detect."""

from __future__ import annotations

import math

import pytest

from pipeline.train.tiles import (
    MIN_BOX_PX,
    PixelBox,
    Tile,
    clip_box,
    cut_tiles,
    local_gsd_m,
    scale_boxes,
    tile_origins,
)
from pipeline.types import Intrinsics, Pose

INTR = Intrinsics(4000, 3000, 2841.0, 2000.0, 1500.0, "sensor_table", 17.3)


@pytest.mark.parametrize(
    ("length", "tile", "overlap", "want"),
    [
        (100, 320, 0.2, [0]),
        (320, 320, 0.2, [0]),
        (600, 320, 0.2, [0, 256, 280]),
        (1000, 320, 0.0, [0, 320, 640, 680]),
    ],
)
def test_tile_origins_cover_and_end_flush(length: int, tile: int, overlap: float, want: list[int]) -> None:
    assert tile_origins(length, tile, overlap) == want


@pytest.mark.parametrize(
    ("box", "want"),
    [
        ((10.0, 10.0, 30.0, 40.0), (10.0, 10.0, 30.0, 40.0)),  # inside
        ((-10.0, 10.0, 30.0, 40.0), (0.0, 10.0, 30.0, 40.0)),  # 3/4 inside: clipped
        ((-30.0, 10.0, 10.0, 40.0), None),  # 1/4 inside: below MIN_VISIBLE_SHARE
        ((200.0, 10.0, 230.0, 40.0), None),  # outside
        ((10.0, 10.0, 12.0, 40.0), None),  # too thin to learn from
    ],
)
def test_clip_box(box: tuple[float, float, float, float], want: object) -> None:
    assert clip_box(box, 0.0, 0.0, 128.0) == want


def test_clip_box_is_in_tile_coordinates() -> None:
    assert clip_box((300.0, 420.0, 340.0, 450.0), 256.0, 384.0, 128.0) == (44.0, 36.0, 84.0, 66.0)


def test_scale_boxes_drops_tiny_ones() -> None:
    boxes = [PixelBox(0, (0.0, 0.0, 100.0, 50.0)), PixelBox(1, (0.0, 0.0, 10.0, 10.0))]
    out = scale_boxes(boxes, 0.3)
    assert out == [PixelBox(0, (0.0, 0.0, 30.0, 15.0))]
    assert all(min(b.xyxy_px[2] - b.xyxy_px[0], b.xyxy_px[3] - b.xyxy_px[1]) >= MIN_BOX_PX for b in out)


def test_cut_tiles_puts_each_box_in_the_tiles_that_hold_it() -> None:
    boxes = [PixelBox(1, (240.0, 20.0, 300.0, 60.0))]  # straddles the border between x tiles 0 and 256
    tiles = cut_tiles((600, 300), boxes, 320, 0.2)
    holding = {(t.x0_px, t.y0_px): t.boxes for t in tiles if t.boxes}
    assert holding == {
        (0, 0): (PixelBox(1, (240.0, 20.0, 300.0, 60.0)),),
        (256, 0): (PixelBox(1, (0.0, 20.0, 44.0, 60.0)),),
    }  # the tile at x 280 holds a third of it: below MIN_VISIBLE_SHARE, left out


def test_yolo_lines_are_normalised_centre_size() -> None:
    t = Tile(0, 0, 100, (PixelBox(1, (10.0, 20.0, 30.0, 60.0)),), 1.0)
    assert t.yolo_lines() == ["1 0.200000 0.400000 0.200000 0.400000"]


def test_local_gsd_is_the_nadir_gsd_straight_down() -> None:
    pose = Pose(22.98, 113.74, 100.0, 30.0, -90.0)
    assert local_gsd_m(INTR, pose, 2000.0, 1500.0) == pytest.approx(100.0 / 2841.0, rel=1e-6)


def test_local_gsd_grows_towards_the_top_of_an_oblique_frame() -> None:
    pose = Pose(22.98, 113.74, 100.0, 0.0, -45.0)
    centre = local_gsd_m(INTR, pose, 2000.0, 1500.0)
    # At the centre of a -45 degree view: range h*sqrt(2); across R/f, along R/(f sin 45).
    assert centre == pytest.approx(100.0 * math.sqrt(2) / 2841.0 / math.sqrt(math.sin(math.pi / 4)), rel=1e-4)
    assert local_gsd_m(INTR, pose, 2000.0, 100.0) > centre > local_gsd_m(INTR, pose, 2000.0, 2900.0)


def test_local_gsd_above_the_horizon_is_infinite() -> None:
    pose = Pose(22.98, 113.74, 100.0, 0.0, -10.0)
    assert local_gsd_m(INTR, pose, 2000.0, 0.0) == math.inf


def test_tiles_name_the_look_alikes_they_show() -> None:
    from pipeline.simulate.labels import SceneryBox
    from pipeline.train.tiles import shows

    assert shows((10, 10, 50, 50), 0, 0, 320)
    assert not shows((300, 300, 400, 400), 0, 0, 320)  # 4 % of it inside: a sliver
    assert shows((0, 0, 1000, 1000), 0, 0, 320)  # a big roof filling the tile
    assert not shows((400, 0, 500, 100), 0, 0, 320)
    court = SceneryBox("S-1", "sports_court", (300.0, 10.0, 500.0, 100.0))
    roof = SceneryBox("S-2", "factory", (0.0, 0.0, 200.0, 200.0))
    tiles = cut_tiles((600, 300), [], 320, 0.2, None, [court, roof])
    kinds = {t.x0_px: t.distractors for t in tiles}
    assert kinds == {
        0: frozenset({"factory"}),
        256: frozenset({"sports_court"}),
        280: frozenset({"sports_court"}),
    }
