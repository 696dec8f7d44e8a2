"""One box per object across overlapping tiles and strips, in original-frame pixels.

Tiles overlap, so an object near a border is reported by two or more tiles: whole by a tile that holds it, and
as a cut piece by a tile whose edge runs through it. An object larger than the overlap is never whole in any
tile: only its pieces exist. So, per class:
1. Pieces (boxes touching an interior tile edge) that overlap each other and agree on their extent across the
   cut are fused into their union: a large object split by a border becomes one box again.
2. Greedy suppression, lone pieces last and otherwise by score: a box is dropped when it overlaps a kept
   one (IoU >= `iou`), or, when either of the two came from pieces, when most of the smaller lies inside
   the other (intersection over the smaller >= `ios`): a piece inside the whole box of the object. Using the
   intersection-over-smaller test only for pieces keeps two distinct whole objects, one beside or on top of
   the other, from swallowing each other.
The kept box takes the highest score of what it absorbed: a confident view in one tile supports the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.detect.scale import Strip
from pipeline.detect.tiling import TileWindow

WHOLE, FUSED, PIECE = 0, 1, 2
# Pieces must agree this well (1-D IoU) on their extent along the cut to be fused.
FUSE_EXTENT_IOU = 0.5


@dataclass(frozen=True)
class FrameBoxes:
    """Boxes in original-frame pixels: xyxy (N, 4), score (N,), class index (N,), and what each is (N,):
    WHOLE, FUSED (the union of pieces) or PIECE (cut by an interior tile edge, not fused with anything)."""

    xyxy: np.ndarray
    score: np.ndarray
    cls: np.ndarray
    cut: np.ndarray

    @staticmethod
    def empty() -> FrameBoxes:
        return FrameBoxes(
            np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
        )

    @staticmethod
    def concat(parts: list[FrameBoxes]) -> FrameBoxes:
        if not parts:
            return FrameBoxes.empty()
        return FrameBoxes(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.cls for p in parts]),
            np.concatenate([p.cut for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.score)


def to_frame(
    dets: np.ndarray, win: TileWindow, strip: Strip, width_px: int, tile_px: int, edge_px: float
) -> FrameBoxes:
    """A tile's (K, 6) detections -> original-frame pixels, flagging boxes within `edge_px` (tile pixels) of
    an interior edge of the tile as pieces."""
    if len(dets) == 0:
        return FrameBoxes.empty()
    sw, sh = strip.size_px
    # Padding beyond the strip's pixels is not image: clip boxes to what the tile really holds.
    right, bottom = min(tile_px, sw - win.x0_px), min(tile_px, sh)
    b = dets[:, :4].astype(float)
    b[:, [0, 2]] = b[:, [0, 2]].clip(0.0, right)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0.0, bottom)
    left_in, top_in, right_in, bottom_in = win.interior
    piece = (
        (left_in & (b[:, 0] <= edge_px))
        | (top_in & (b[:, 1] <= edge_px))
        | (right_in & (b[:, 2] >= right - edge_px))
        | (bottom_in & (b[:, 3] >= bottom - edge_px))
    )
    fx, fy = strip.factors(width_px)
    xyxy = np.column_stack(
        [
            (b[:, 0] + win.x0_px) / fx,
            strip.top_px + b[:, 1] / fy,
            (b[:, 2] + win.x0_px) / fx,
            strip.top_px + b[:, 3] / fy,
        ]
    )
    cut = np.where(piece, PIECE, WHOLE).astype(np.int8)
    return FrameBoxes(xyxy, dets[:, 4].astype(float), dets[:, 5].astype(np.int64), cut)


def _area(b: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.maximum(b[..., 2] - b[..., 0], 0.0) * np.maximum(b[..., 3] - b[..., 1], 0.0)
    return out


def _inter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    h = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    out: np.ndarray = w * h
    return out


def _extent_iou(a: np.ndarray, b: np.ndarray, lo: int, hi: int) -> np.ndarray:
    inter = np.maximum(0.0, np.minimum(a[..., hi], b[..., hi]) - np.maximum(a[..., lo], b[..., lo]))
    union = np.maximum(a[..., hi], b[..., hi]) - np.minimum(a[..., lo], b[..., lo])
    out: np.ndarray = inter / np.maximum(union, 1e-9)
    return out


def fuse_pieces(boxes: FrameBoxes) -> FrameBoxes:
    """Union of each group of same-class pieces that overlap and agree on their extent across the cut."""
    idx = np.flatnonzero(boxes.cut == PIECE)
    if len(idx) < 2:
        return boxes
    parent = {int(i): int(i) for i in idx}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    xy = boxes.xyxy
    for n, i in enumerate(idx):
        rest = idx[n + 1 :]
        rest = rest[boxes.cls[rest] == boxes.cls[i]]
        if not len(rest):
            continue
        a, b = xy[i][None, :], xy[rest]
        agree = np.maximum(_extent_iou(a, b, 0, 2), _extent_iou(a, b, 1, 3)) >= FUSE_EXTENT_IOU
        for j in rest[(_inter(a, b) > 0) & agree]:
            parent[root(int(j))] = root(int(i))
    groups: dict[int, list[int]] = {}
    for i in idx:
        groups.setdefault(root(int(i)), []).append(int(i))
    rows, scores, classes, cuts = [], [], [], []
    for w in np.flatnonzero(boxes.cut != PIECE):
        rows.append(xy[w])
        scores.append(boxes.score[w])
        classes.append(boxes.cls[w])
        cuts.append(int(boxes.cut[w]))
    for members in groups.values():
        m = np.array(members)
        rows.append(np.concatenate([xy[m, :2].min(axis=0), xy[m, 2:].max(axis=0)]))
        scores.append(boxes.score[m].max())
        classes.append(boxes.cls[m[0]])
        # A single piece stays a piece; fused pieces are the object as far as any tile saw it.
        cuts.append(PIECE if len(members) == 1 else FUSED)
    return FrameBoxes(
        np.array(rows, dtype=float).reshape(-1, 4),
        np.array(scores, dtype=float),
        np.array(classes, dtype=np.int64),
        np.array(cuts, dtype=np.int8),
    )


def suppress(boxes: FrameBoxes, iou: float, ios: float) -> FrameBoxes:
    """Greedy class-aware suppression, whole boxes first, then by score (see the module docstring)."""
    if len(boxes) == 0:
        return boxes
    order = np.lexsort((-boxes.score, boxes.cut == PIECE))  # last key first: lone pieces go last
    alive = np.ones(len(boxes), dtype=bool)
    kept, best = [], []
    xy, area = boxes.xyxy, _area(boxes.xyxy)
    for i in order:
        if not alive[i]:
            continue
        alive[i] = False
        others = np.flatnonzero(alive & (boxes.cls == boxes.cls[i]))
        inter = _inter(xy[i][None, :], xy[others])
        union = area[i] + area[others] - inter
        over = inter / np.maximum(union, 1e-9) >= iou
        smaller = inter / np.maximum(np.minimum(area[i], area[others]), 1e-9)
        over |= ((boxes.cut[i] != WHOLE) | (boxes.cut[others] != WHOLE)) & (smaller >= ios)
        absorbed = others[over]
        alive[absorbed] = False
        kept.append(i)
        best.append(max(boxes.score[i], *boxes.score[absorbed]) if len(absorbed) else boxes.score[i])
    k = np.array(kept, dtype=np.int64)
    return FrameBoxes(boxes.xyxy[k], np.array(best, dtype=float), boxes.cls[k], boxes.cut[k])


def merge(boxes: FrameBoxes, iou: float, ios: float) -> FrameBoxes:
    return suppress(fuse_pieces(boxes), iou, ios)
