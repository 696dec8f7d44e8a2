"""Merging across tiles and strips: one box per object at tile borders, big objects fused from pieces, and
distinct neighbours kept apart. The fake detector really looks at the tiles, so cut pieces are real."""

from __future__ import annotations

import numpy as np
import pytest
from detect_fakes import ColourDetector, canvas, draw
from detect_helpers import view

from pipeline.detect.detector import DetectSettings, detect_frame
from pipeline.detect.merge import FUSED, PIECE, WHOLE, FrameBoxes, fuse_pieces, merge, suppress

# At 100 m nadir the 4000 x 3000 frame is scaled by 0.44 (0.0352 m/px -> 0.08 m/px): tiles start every 256
# scaled px = 583 original px across, so the overlaps are [583, 729), [1166, 1312) ... in x; strips are
# stacked bottom-up from row 3000, overlapping on rows [2272, 2418), [1690, 1835) ...
Box = tuple[int, int, int, int]


def _run(objects: list[tuple[Box, int]]) -> list[tuple[str, tuple[float, ...]]]:
    img = canvas(4000, 3000)
    for box, cls in objects:
        draw(img, box, cls)
    result = detect_frame(img, view(100.0), ColourDetector(), DetectSettings(), path="t.jpg")
    return [(d.class_name, d.xyxy_px) for d in result.detections]


def _close(a: tuple[float, ...], b: Box, tol: float = 4.0) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


CASES = {
    "inside one tile": [((100, 100, 200, 180), 0)],
    "across a tile border, within the overlap": [((560, 900, 700, 980), 1)],
    "wider than the overlap, over three tiles": [((500, 1000, 1400, 1100), 0)],
    "taller than a strip, over three strips": [((3000, 600, 3100, 2900), 0)],
    "on the corner of four tiles": [((1100, 2200, 1400, 2500), 1)],
    "two of a class side by side across a border": [((560, 400, 640, 470), 0), ((660, 400, 760, 470), 0)],
    "two of a class stacked across a strip line": [
        ((1500, 2250, 1700, 2330), 1),
        ((1500, 2345, 1700, 2430), 1),
    ],
    "two classes overlapping": [((2000, 1000, 2400, 1300), 0), ((2100, 1100, 2200, 1200), 1)],
    "at the frame's corner": [((3900, 2900, 4000, 3000), 1)],
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_object_is_reported_once_with_its_full_box(name: str):
    objects = CASES[name]
    found = _run(objects)
    assert len(found) == len(objects), found
    classes = ("illegal_construction", "garbage_pile")
    for box, cls in objects:
        hits = [b for c, b in found if c == classes[cls] and _close(b, box)]
        assert len(hits) == 1, (box, found)


def _boxes(rows: list[tuple[float, float, float, float, float, int, int]]) -> FrameBoxes:
    a = np.array(rows, dtype=float).reshape(-1, 7)
    return FrameBoxes(a[:, :4], a[:, 4], a[:, 5].astype(np.int64), a[:, 6].astype(np.int8))


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # Two pieces of one object cut by a vertical border (they share the overlap, agree on rows): fused.
        (
            [(0, 10, 120, 50, 0.8, 0, PIECE), (100, 11, 300, 50, 0.6, 0, PIECE)],
            [((0, 10, 300, 50), 0.8, FUSED)],
        ),
        # A chain of three pieces: one object.
        (
            [
                (0, 0, 120, 40, 0.5, 0, PIECE),
                (100, 0, 320, 40, 0.7, 0, PIECE),
                (300, 0, 400, 41, 0.6, 0, PIECE),
            ],
            [((0, 0, 400, 41), 0.7, FUSED)],
        ),
        # Same place, other class: not fused.
        ([(0, 10, 120, 50, 0.8, 0, PIECE), (100, 10, 300, 50, 0.6, 1, PIECE)], None),
        # Touching the cut but disagreeing on extent (a different object beside it): not fused.
        ([(0, 10, 120, 50, 0.8, 0, PIECE), (100, 40, 300, 200, 0.6, 0, PIECE)], None),
        # Not overlapping at all: not fused.
        ([(0, 10, 100, 50, 0.8, 0, PIECE), (110, 10, 300, 50, 0.6, 0, PIECE)], None),
        # Whole boxes are never fused.
        ([(0, 10, 120, 50, 0.8, 0, WHOLE), (100, 10, 300, 50, 0.6, 0, WHOLE)], None),
    ],
)
def test_fuse_pieces(rows, expected):
    out = fuse_pieces(_boxes(rows))
    if expected is None:
        assert len(out) == len(rows)
        return
    assert len(out) == len(expected)
    for (box, score, kind), xy, s, c in zip(expected, out.xyxy, out.score, out.cut, strict=True):
        assert tuple(xy) == box and s == score and c == kind


@pytest.mark.parametrize(
    ("rows", "kept"),
    [
        # The same whole object from two tiles: one kept, with the higher score.
        ([(0, 0, 100, 100, 0.5, 0, WHOLE), (2, 1, 101, 99, 0.9, 0, WHOLE)], [((2, 1, 101, 99), 0.9)]),
        # A piece inside the whole box of its object: the whole box wins, even at a lower score.
        ([(0, 0, 100, 100, 0.6, 0, WHOLE), (60, 0, 100, 100, 0.9, 0, PIECE)], [((0, 0, 100, 100), 0.9)]),
        # A small whole object inside a big whole one of the same class: both stay (no IoS between wholes).
        (
            [(0, 0, 100, 100, 0.9, 0, WHOLE), (10, 10, 30, 30, 0.8, 0, WHOLE)],
            [((0, 0, 100, 100), 0.9), ((10, 10, 30, 30), 0.8)],
        ),
        # Overlapping boxes of different classes: both stay.
        (
            [(0, 0, 100, 100, 0.9, 0, WHOLE), (0, 0, 100, 100, 0.8, 1, WHOLE)],
            [((0, 0, 100, 100), 0.9), ((0, 0, 100, 100), 0.8)],
        ),
    ],
)
def test_suppress(rows, kept):
    out = suppress(_boxes(rows), iou=0.5, ios=0.6)
    got = sorted((tuple(float(v) for v in xy), float(s)) for xy, s in zip(out.xyxy, out.score, strict=True))
    assert got == sorted((tuple(float(v) for v in b), s) for b, s in kept)


def test_merge_of_nothing_is_nothing():
    assert len(merge(FrameBoxes.empty(), 0.5, 0.6)) == 0
