"""Real waste in training: the training half of the dump-site thumbnails, with boxes drawn by eye.

Neither painted litter nor simulated heaps taught a model what real dumped waste looks like from the air
(models/MODEL_CARD.md: it scores real littered ground no higher than empty ground). The only real waste we
hold is in ../shared/real_aerial/raven_thumbs (192 px, about 0.2 m/px). They are split in two halves by a
digest of the file name (`half`): boxes are drawn on the training half only (real_thumbs_boxes.json beside
this module), and the other half stays the real validation set (bench/real_false_alarms.py reports on it).

The boxing rules (the team's decision, kept by whoever adds boxes): one box per patch of dumped waste, the
tight rectangle around fragments whose gaps are under about 2 m; a patch over 24 m is split along its gaps
(the detector drops garbage over 25 m); not boxed: single specks, vehicles, machines, buildings, gravel or
soil heaps of a working site, bales, clean soil. A thumbnail whose waste cannot be placed is "unsure" and not
trained on; one judged empty has no boxes and is trained on as a negative.

Each tile is one thumbnail, turned and flipped, enlarged by a factor drawn between `ENLARGE` (native
pixels: what `patrol detect` does with so small a frame; 2.5: the model's own 0.08 m/px; beyond: the finer
resolutions a 4K frame without height is shown at), cut to the tile or padded grey like the detector pads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import ModelError

BOXES = Path(__file__).with_name("real_thumbs_boxes.json")
FOLDER = "raven_thumbs"
ENLARGE = (1.0, 4.0)
PAD = 114  # the grey ultralytics and the detector pad with

Box = tuple[float, float, float, float]


def half(name: str) -> str:
    """'train' or 'val': which half of the thumbnails a file belongs to, fixed by its name alone."""
    return "train" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "val"


def load_boxes(path: Path = BOXES) -> dict[str, list[Box]]:
    """The training half's labels: name -> boxes (empty: judged to hold no waste); "unsure" ones left out."""
    try:
        raw = json.loads(path.read_text())["boxes"]
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"thumbnail boxes cannot be read: {e}", str(path)) from e
    out: dict[str, list[Box]] = {}
    for name, boxes in sorted(raw.items()):
        if half(name) != "train":
            raise ModelError(f"{name} is in the validation half: it must not be trained on", str(path))
        if boxes == "unsure":
            continue
        if not isinstance(boxes, list) or any(
            len(b) != 4 or not (0 <= b[0] < b[2] and 0 <= b[1] < b[3]) for b in boxes
        ):
            raise ModelError(f"{name}: boxes must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1", str(path))
        out[name] = [tuple(float(v) for v in b) for b in boxes]  # type: ignore[misc]
    return out


def boxes_digest(path: Path = BOXES) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def turned(
    image: np.ndarray, boxes: list[Box], quarter_turns: int, flip: bool
) -> tuple[np.ndarray, list[Box]]:
    """The image turned counter-clockwise by quarter turns, then mirrored left-right; the boxes with it."""
    for _ in range(quarter_turns % 4):
        w = image.shape[1]
        image = np.ascontiguousarray(np.rot90(image))  # (x, y) -> (y, w - x)
        boxes = [(y0, w - x1, y1, w - x0) for x0, y0, x1, y1 in boxes]
    if flip:
        w = image.shape[1]
        image = np.ascontiguousarray(image[:, ::-1])
        boxes = [(w - x1, y0, w - x0, y1) for x0, y0, x1, y1 in boxes]
    return image, boxes


def placed(
    image: np.ndarray, boxes: list[Box], size: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[Box]]:
    """A `size` square of the image: a crop of a larger one (holding one of its boxes), or the image on a
    grey square at a random place. Boxes are clipped to it; those left with under 40 % of their area or under
    4 px a side are dropped (a sliver of a patch is not something to find)."""
    h, w = image.shape[:2]
    tile = np.full((size, size, 3), PAD, dtype=np.uint8)

    def origin(extent: int, lo: float, hi: float) -> int:
        if extent <= size:
            return -int(rng.integers(0, size - extent + 1))  # where the image goes on the grey square
        if hi > lo:  # a crop holding the chosen box: all of it when it fits, else its centre
            if hi - lo <= size:
                first, last = int(np.ceil(hi)) - size, int(lo)
            else:
                first = last = int((lo + hi) / 2) - size // 2
            first = min(max(0, first), extent - size)
            last = max(first, min(extent - size, last))
            return int(rng.integers(first, last + 1))
        return int(rng.integers(0, extent - size + 1))

    target = boxes[int(rng.integers(len(boxes)))] if boxes else (0.0, 0.0, 0.0, 0.0)
    ox, oy = origin(w, target[0], target[2]), origin(h, target[1], target[3])
    sx, sy = max(0, ox), max(0, oy)
    part = image[sy : sy + size, sx : sx + size]
    tile[sy - oy : sy - oy + part.shape[0], sx - ox : sx - ox + part.shape[1]] = part
    kept: list[Box] = []
    for x0, y0, x1, y1 in boxes:
        a = (x0 - ox, y0 - oy, x1 - ox, y1 - oy)
        c = (max(0.0, a[0]), max(0.0, a[1]), min(float(size), a[2]), min(float(size), a[3]))
        if c[2] - c[0] < 4 or c[3] - c[1] < 4:
            continue
        if (c[2] - c[0]) * (c[3] - c[1]) < 0.4 * (a[2] - a[0]) * (a[3] - a[1]):
            continue
        kept.append(c)
    return tile, kept


def thumb_tiles(
    root: Path, count: int, size: int, rng: np.random.Generator, path: Path = BOXES
) -> list[tuple[np.ndarray, list[Box]]]:
    """`count` tiles of the labelled training-half thumbnails, taken in turn (waste and empty alike), each
    turned, flipped and enlarged at random; their garbage_pile boxes in tile pixels."""
    if count <= 0:
        return []
    labels = load_boxes(path)
    if not labels:
        raise ModelError("no labelled thumbnails to train on", str(path))
    images = {}
    for name in labels:
        image = cv2.imread(str(root / FOLDER / name), cv2.IMREAD_COLOR)
        if image is None:
            raise ModelError("thumbnail cannot be read", str(root / FOLDER / name))
        images[name] = np.asarray(image)
    names = sorted(labels)
    out: list[tuple[np.ndarray, list[Box]]] = []
    for k in range(count):
        name = names[k % len(names)]
        image, boxes = turned(images[name], labels[name], int(rng.integers(4)), bool(rng.random() < 0.5))
        f = float(np.exp(rng.uniform(np.log(ENLARGE[0]), np.log(ENLARGE[1]))))
        if f != 1.0:
            image = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
            boxes = [(x0 * f, y0 * f, x1 * f, y1 * f) for x0, y0, x1, y1 in boxes]
        out.append(placed(image, boxes, size, rng))
    return out
