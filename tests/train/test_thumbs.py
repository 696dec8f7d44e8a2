"""The real waste thumbnails in training: the two halves stay apart, and boxes follow their pixels through
every turn, flip, enlargement, crop and pad."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import ModelError
from pipeline.train.thumbs import BOXES, half, load_boxes, placed, thumb_tiles, turned

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_aerial"
IMAGE_LABELS = Path(__file__).resolve().parents[2] / "bench" / "real_thumbs_labels.json"


def _white_box(image: np.ndarray) -> tuple[float, float, float, float]:
    """The bounding box (pixel edges) of the image's white pixels: what a box must be after any move."""
    ys, xs = np.nonzero((image == 255).all(axis=2))
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def _scene() -> np.ndarray:
    image = np.full((60, 80, 3), 40, dtype=np.uint8)
    image[10:25, 50:70] = 255  # x 50..70, y 10..25
    return image


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_a_turned_box_is_where_its_pixels_went(turns: int, flip: bool) -> None:
    image, boxes = turned(_scene(), [(50.0, 10.0, 70.0, 25.0)], turns, flip)
    assert boxes == [_white_box(image)]


@pytest.mark.parametrize("seed", range(6))
def test_a_placed_box_covers_its_pixels_in_a_crop_and_on_a_pad(seed: int) -> None:
    rng = np.random.default_rng(seed)
    small, s_boxes = placed(_scene(), [(50.0, 10.0, 70.0, 25.0)], 96, rng)
    assert small.shape == (96, 96, 3) and s_boxes == [_white_box(small)]
    assert (small == 114).all(axis=2).sum() == 96 * 96 - 60 * 80  # the grey pad around the whole image
    big = np.repeat(np.repeat(_scene(), 4, axis=0), 4, axis=1)  # 240 x 320, the box at 200..280, 40..100
    tile, boxes = placed(big, [(200.0, 40.0, 280.0, 100.0)], 128, rng)
    assert tile.shape == (128, 128, 3)
    assert boxes == [_white_box(tile)]  # cropped around the box: it is in, whole or in its larger part


def test_a_sliver_of_a_box_at_the_crop_edge_is_dropped() -> None:
    image = np.full((400, 400, 3), 40, dtype=np.uint8)
    # Two boxes far apart: a 100 px crop around one cannot hold the other.
    for seed in range(10):
        _tile, boxes = placed(
            image, [(10.0, 10.0, 40.0, 40.0), (350.0, 350.0, 390.0, 390.0)], 100, np.random.default_rng(seed)
        )
        assert len(boxes) == 1


def test_the_boxed_thumbnails_are_all_in_the_training_half() -> None:
    names = json.loads(IMAGE_LABELS.read_text())["labels"]
    judged = [n for n, waste in names.items() if waste is not None]
    halves = {n: half(n) for n in judged}
    assert 0.35 < sum(h == "train" for h in halves.values()) / len(judged) < 0.65
    for part in ("train", "val"):  # each half holds waste and empty thumbnails
        assert {names[n] for n in judged if halves[n] == part} == {True, False}
    boxed = json.loads(BOXES.read_text())["boxes"]
    assert all(halves.get(n) == "train" for n in boxed)
    labels = load_boxes()
    for name, boxes in labels.items():
        assert bool(boxes) == names[name]  # boxes exactly where the image-level label says waste
        assert all(0 <= b[0] < b[2] <= 192 and 0 <= b[1] < b[3] <= 192 for b in boxes)


def test_a_validation_thumbnail_in_the_boxes_is_refused(tmp_path: Path) -> None:
    val = next(n for n in json.loads(IMAGE_LABELS.read_text())["labels"] if half(n) == "val")
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"boxes": {val: [[1, 1, 20, 20]]}}))
    with pytest.raises(ModelError, match="validation half"):
        load_boxes(path)
    path.write_text(json.dumps({"boxes": {}}))
    with pytest.raises(ModelError, match="no labelled thumbnails"):
        thumb_tiles(tmp_path, 3, 320, np.random.default_rng(0), path)


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real scenery is not on this machine")
def test_thumbnail_tiles_hold_the_labelled_waste() -> None:
    tiles = thumb_tiles(REAL, 60, 320, np.random.default_rng(0))
    assert len(tiles) == 60
    assert all(t.shape == (320, 320, 3) for t, _ in tiles)
    with_waste = [b for _, b in tiles if b]
    assert len(with_waste) > 20  # the training half is more than half waste
    for tile, boxes in tiles:
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 320
            inside = tile[int(y0) : int(y1), int(x0) : int(x1)]
            assert not (inside == 114).all()  # a box is on the photo, not on the grey pad
