"""A detector that really looks at the pixels: it reports every blob of a pure class colour as an object.

Because it sees only what a tile holds, it reports an object cut by a tile border as a cut piece, exactly the
situation the merge step exists for; and because it works on resized pixels, it checks the scale mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# BGR colours of the two classes (the model's class order), far from anything else drawn in the tests.
CLASS_COLOURS: tuple[tuple[int, int, int], ...] = ((0, 0, 255), (255, 0, 0))
GROUND = (90, 120, 100)


@dataclass
class ColourDetector:
    classes: tuple[str, ...] = ("illegal_construction", "garbage_pile")
    imgsz: int = 320
    gsd_m: float = 0.08
    min_score: tuple[float, ...] = ()
    calls: int = 0
    tiles_seen: int = 0

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        assert tiles.dtype == np.uint8 and tiles.shape[1:] == (self.imgsz, self.imgsz, 3)
        self.calls += 1
        self.tiles_seen += len(tiles)
        out = []
        for tile in tiles:
            rows = []
            for k, colour in enumerate(CLASS_COLOURS):
                # Resizing blends a blob's rim with the ground: a pixel counts when it is mostly the colour.
                near = np.abs(tile.astype(np.int16) - np.array(colour, dtype=np.int16)).max(axis=2) < 100
                n, _, stats, _ = cv2.connectedComponentsWithStats(near.astype(np.uint8), connectivity=4)
                for j in range(1, n):
                    x, y, w, h, area = stats[j]
                    if area >= 4:
                        rows.append([x, y, x + w, y + h, 0.9, k])
            out.append(np.array(rows, dtype=np.float32).reshape(-1, 6))
        return out


def canvas(width: int, height: int) -> np.ndarray:
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = GROUND
    return img


def draw(img: np.ndarray, xyxy: tuple[int, int, int, int], cls: int) -> None:
    x0, y0, x1, y1 = xyxy
    img[y0:y1, x0:x1] = CLASS_COLOURS[cls]
