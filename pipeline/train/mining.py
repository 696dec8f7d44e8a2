"""Hard negatives mined from the real training frames: tiles holding what a model already boxes there.

Random real tiles (real_*, fall_*) show the few things that fool a model -- white wrapped bales as garbage,
a single concrete pipe as construction -- only as often as the scenes hold them, a few tiles in a thousand.
So a model (normally the one the run continues) is run over every real training frame at the scales the other
real tiles are cut at: the source's stated resolution (like real_*) and each no-height fallback pass (like
fall_*), at a low score. The frames hold no target by the decisions in pipeline.train.realdata, so every box
it raises there is a false alarm; each one becomes an empty-labelled tile holding that box at a random place,
turned and flipped at random. The strongest alarms come first and each gets a tile in turn until there are
`count` (another place and turn each round). Held-out frames are never mined, so the false-alarm check on
them stays a check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.detect.backends import nms, open_detector
from pipeline.detect.model import Detector, load_model_spec
from pipeline.errors import ModelError
from pipeline.train.thumbs import Box, placed, turned
from pipeline.train.tiles import tile_origins

MINE_SCORE = 0.25  # lower than any class's shipped minimum: alarms about to appear are mined too
BATCH = 16


@dataclass(frozen=True)
class Alarm:
    image: int  # index into the scaled frames
    cls: int
    score: float
    box: Box  # in the scaled frame's pixels


def card_digest(card: Path) -> str:
    """sha256 of the weights a model card names (what the mined tiles depend on)."""
    spec = load_model_spec(card)
    chosen = spec.weights or spec.onnx
    assert chosen is not None  # load_model_spec refuses a card without one
    return hashlib.sha256(chosen.read_bytes()).hexdigest()


def alarms_in(
    detect: Detector, image: np.ndarray, size: int, overlap: float, score: float, index: int = 0
) -> list[Alarm]:
    """Every box `detect` raises on the image's tiles at `score` or above, in the image's
    pixels, duplicates from overlapping tiles suppressed (any class: one thing, one alarm)."""
    h, w = image.shape[:2]
    if h < size or w < size:
        pad = np.full((max(h, size), max(w, size), 3), 114, dtype=np.uint8)
        pad[:h, :w] = image
        image, h, w = pad, pad.shape[0], pad.shape[1]
    origins = [(x, y) for y in tile_origins(h, size, overlap) for x in tile_origins(w, size, overlap)]
    found: list[np.ndarray] = []
    for k in range(0, len(origins), BATCH):
        chunk = origins[k : k + BATCH]
        tiles = np.stack([image[y : y + size, x : x + size] for x, y in chunk])
        for (x, y), rows in zip(chunk, detect(tiles, score, 0.5), strict=True):
            if len(rows):
                shifted = rows.copy()
                shifted[:, [0, 2]] += x
                shifted[:, [1, 3]] += y
                found.append(shifted)
    if not found:
        return []
    rows = np.concatenate(found)
    keep = nms(rows[:, :4], rows[:, 4], 0.3)
    out = []
    for i in keep:
        x0, y0, x1, y1 = (float(v) for v in rows[i, :4])
        out.append(Alarm(index, int(rows[i, 5]), float(rows[i, 4]), (x0, y0, x1, y1)))
    return out


def mined_tiles(
    scaled: list[np.ndarray], card: Path, size: int, overlap: float, count: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[Alarm]]:
    """`count` empty-labelled tiles around the alarms the model of `card` raises on the scaled frames, and
    the alarms themselves (strongest first)."""
    if count <= 0:
        return [], []
    detect = open_detector(load_model_spec(card), backend="torch")
    found: list[Alarm] = []
    for k, image in enumerate(scaled):
        found += alarms_in(detect, image, size, overlap, MINE_SCORE, k)
    if not found:
        raise ModelError("the mining model raises no alarm on the real training frames", str(card))
    found.sort(key=lambda a: -a.score)
    out: list[np.ndarray] = []
    for k in range(count):
        alarm = found[k % len(found)]
        tile, _ = placed(scaled[alarm.image], [alarm.box], size, rng)
        tile, _ = turned(tile, [], int(rng.integers(4)), bool(rng.random() < 0.5))
        out.append(tile)
    return out, found
