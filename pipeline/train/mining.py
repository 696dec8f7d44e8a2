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

The simulated training tiles are mined the same way (`hard_simulated`): a tile on which the model raises a box
that matches none of its labels (a legal shed, a court, a stack of materials taken for a target) is copied,
turned and flipped, with its labels, so the look-alikes that still fool the model weigh more than the ones it
has learnt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
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
        return [], []  # nothing fools it at this score: nothing to mine (the summary says 0)
    found.sort(key=lambda a: -a.score)
    out: list[np.ndarray] = []
    for k in range(count):
        alarm = found[k % len(found)]
        tile, _ = placed(scaled[alarm.image], [alarm.box], size, rng)
        tile, _ = turned(tile, [], int(rng.integers(4)), bool(rng.random() < 0.5))
        out.append(tile)
    return out, found


def read_labels(path: Path, size: int) -> list[tuple[int, Box]]:
    """A YOLO label file's boxes in pixels of a `size` square tile."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        c, cx, cy, w, h = line.split()
        x, y, bw, bh = (float(v) * size for v in (cx, cy, w, h))
        out.append((int(c), (x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2)))
    return out


def _iou(a: Box, b: Box) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _tile(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ModelError("simulated tile cannot be read", str(path))
    return np.asarray(image)


def hard_simulated(
    images_dir: Path, labels_dir: Path, card: Path, count: int, rng: np.random.Generator
) -> tuple[list[tuple[np.ndarray, list[tuple[int, Box]]]], int]:
    """`count` copies of the simulated tiles (s*.png) on which the model of `card` raises a box that
    overlaps no label of its class (IoU under 0.3), each turned and flipped at random with its labels; the
    tiles with the strongest such box first, in turn until `count`. Also: how many tiles were hard."""
    if count <= 0:
        return [], 0
    detect = open_detector(load_model_spec(card), backend="torch")
    paths = sorted(images_dir.glob("s*.png"))
    hard: list[tuple[float, Path]] = []
    for k in range(0, len(paths), BATCH):
        chunk = paths[k : k + BATCH]
        tiles = [_tile(p) for p in chunk]
        for path, rows in zip(chunk, detect(np.stack(tiles), MINE_SCORE, 0.5), strict=True):
            labels = read_labels(labels_dir / f"{path.stem}.txt", tiles[0].shape[0])
            false = [
                float(r[4])
                for r in rows
                if not any(c == int(r[5]) and _iou(b, (r[0], r[1], r[2], r[3])) >= 0.3 for c, b in labels)
            ]
            if false:
                hard.append((max(false), path))
    hard.sort(key=lambda h: (-h[0], h[1].name))
    out: list[tuple[np.ndarray, list[tuple[int, Box]]]] = []
    for k in range(count if hard else 0):
        path = hard[k % len(hard)][1]
        tile = _tile(path)
        labels = read_labels(labels_dir / f"{path.stem}.txt", tile.shape[0])
        turned_tile, boxes = turned(
            tile, [b for _, b in labels], int(rng.integers(4)), bool(rng.random() < 0.5)
        )
        out.append((turned_tile, [(c, b) for (c, _), b in zip(labels, boxes, strict=True)]))
    return out, len(hard)
