"""The model behind a plain callable, and the card that says at what ground resolution it must be fed.

A `Detector` sees only square tiles of its input size; everything about frames, scales and the ground lives
outside it, so a fake detector in tests and a real one in production are used the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipeline.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

# Where `patrol detect` looks when no --model is given and PATROL_MODEL is unset: the shipped model card.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / "patrol-det.json"


class Detector(Protocol):
    """A batch of tiles in, boxes out. Thresholds are arguments so one loaded model serves every setting.

    `tiles` is (B, imgsz, imgsz, 3) uint8 in OpenCV's BGR order. The answer holds one float32 array per tile,
    shape (K, 6): x0, y0, x1, y1 in tile pixels, score, class index; boxes already de-duplicated within the
    tile (class-aware NMS at `iou`) and at or above `conf`.
    """

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def imgsz(self) -> int: ...

    @property
    def gsd_m(self) -> float:
        """The ground resolution (metres per pixel) the model was trained at."""
        ...

    @property
    def min_score(self) -> tuple[float, ...]:
        """Per-class minimum scores from the model card (calibrated on whole frames), or () for none."""
        ...

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class ModelSpec:
    """What models/patrol-det.json says: classes, input size, training GSD, and the weight files."""

    classes: tuple[str, ...]
    imgsz: int
    gsd_m: float
    weights: Path | None  # ultralytics .pt
    onnx: Path | None
    min_score: tuple[float, ...] = ()  # per class, in class order: what `patrol calibrate` chose

    @property
    def name(self) -> str:
        chosen = self.onnx or self.weights
        return chosen.name if chosen else "?"


def default_model_path() -> Path:
    """PATROL_MODEL (read by pipeline.config), else the shipped card."""
    from pipeline.config import load_settings

    return load_settings().model or SHIPPED_MODEL


def load_model_spec(path: str | Path | None = None) -> ModelSpec:
    """Read a model card (JSON); file names in it are relative to the card's folder.

    ModelError, naming the file, when the card is missing or malformed or names no weight file that exists.
    """
    card = Path(path) if path is not None else default_model_path()
    try:
        raw = json.loads(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("model card not found", str(card)) from None
    except (OSError, ValueError) as err:
        raise ModelError(f"model card unreadable: {err}", str(card)) from None
    try:
        classes = tuple(str(c) for c in raw["classes"])
        imgsz = int(raw["imgsz"])
        gsd_m = float(raw["gsd_m"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"model card lacks classes/imgsz/gsd_m ({err})", str(card)) from None
    if not classes or imgsz < 32 or not 0.001 <= gsd_m <= 10.0:
        raise ModelError(f"model card has implausible values: imgsz={imgsz} gsd_m={gsd_m}", str(card))

    def file(key: str) -> Path | None:
        name = raw.get(key)
        found = card.parent / str(name) if name else None
        return found if found is not None and found.is_file() else None

    weights, onnx = file("weights"), file("onnx")
    if weights is None and onnx is None:
        raise ModelError("model card names no weight file that exists (weights / onnx)", str(card))
    return ModelSpec(classes, imgsz, gsd_m, weights, onnx, _min_score(raw.get("min_score"), classes, card))


def _min_score(raw: object, classes: tuple[str, ...], card: Path) -> tuple[float, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or set(raw) != set(classes):
        raise ModelError(
            f"model card's min_score must give one score per class ({', '.join(classes)})", str(card)
        )
    try:
        scores = tuple(float(raw[c]) for c in classes)
    except (TypeError, ValueError):
        raise ModelError("model card's min_score values must be numbers", str(card)) from None
    if not all(0.0 < s < 1.0 for s in scores):
        raise ModelError("model card's min_score values must be in (0, 1)", str(card))
    return scores
