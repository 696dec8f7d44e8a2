"""A deterministic stand-in for the trained model: it reports dark blobs in a tile as objects.

It looks only at the tile's pixels, like a real detector, so the same frame always gives the same boxes and
overlapping frames see the same dark roofs and heaps: enough to exercise ingest, tiling, georeferencing,
dedupe and the queue without weights. Tests hand the factory object itself to the job (ProcessJob.detector)
or put it in place of the model (flow_helpers.use_fake_model, patrol_with_fake.py): nothing names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class DarkBlobDetector:
    classes: tuple[str, ...] = ("illegal_construction", "garbage_pile")
    imgsz: int = 320
    gsd_m: float = 0.1
    min_score: tuple[float, ...] = ()
    version: str = "dark-blobs-1"
    per_tile: int = 3

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        out = []
        for tile in tiles:
            dark = (tile.max(axis=2) < 45).astype(np.uint8)
            n, _, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=4)
            rows = []
            for j in range(1, n):
                x, y, w, h, area = (int(v) for v in stats[j])
                if area < 60:
                    continue
                score = 0.5 + min(area / 4000.0, 0.45)
                if score >= conf:
                    rows.append([x, y, x + w, y + h, score, 0 if w >= h else 1])
            rows.sort(key=lambda r: -r[4])
            out.append(np.array(rows[: self.per_tile], dtype=np.float32).reshape(-1, 6))
        return out


def dark_blobs() -> DarkBlobDetector:
    return DarkBlobDetector()


class ExplodingDetector(DarkBlobDetector):
    """Raises on every call: a model that cannot run (not a bad frame)."""

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        raise RuntimeError("model exploded")


@dataclass
class SlowDarkBlobDetector(DarkBlobDetector):
    """The same boxes, slowly: gives a test time to kill the process between frames."""

    delay_s: float = 0.3

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        import time

        time.sleep(self.delay_s)
        return super().__call__(tiles, conf, iou)


def slow_dark_blobs() -> SlowDarkBlobDetector:
    return SlowDarkBlobDetector()


@dataclass
class FailsThenWorksDetector(DarkBlobDetector):
    """Raises RuntimeError, as an out-of-memory runtime does, on its first `failures` calls; then finds what
    DarkBlobDetector finds (same version: its records are the same frames' records)."""

    failures: int = 1

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (fake)")
        return super().__call__(tiles, conf, iou)
