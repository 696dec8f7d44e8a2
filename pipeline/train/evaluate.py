"""Tile-level metrics of a trained model on a YOLO split (the model card's held-out numbers).

These are ultralytics' box metrics over tiles at the training GSD: they say how well the model separates
targets from everything else at its own scale. Object-level recall and precision over whole frames (tiling,
rescaling, merging, georeferencing) are `patrol evaluate`'s job (pipeline/detect/).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError
from pipeline.train.recipe import CLASSES


@dataclass(frozen=True)
class ClassMetrics:
    cls: str
    instances: int
    precision: float
    recall: float
    map50: float
    map50_95: float


@dataclass(frozen=True)
class Evaluation:
    split: str
    images: int
    map50: float
    map50_95: float
    per_class: tuple[ClassMetrics, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    weights: Path, data_yaml: Path, split: str, imgsz: int, batch: int = 32, folder: str | None = None
) -> Evaluation:
    """Validate `weights` on `split` of `data_yaml` (conf 0.001, IoU 0.7: ultralytics' mAP protocol), whose
    images are in `folder` beside data.yaml (default images/{split}, as our datasets keep them)."""
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    from ultralytics.models.yolo.model import YOLO

    if not weights.is_file():
        raise ModelError("weights not found", str(weights))
    model = YOLO(str(weights))
    m = model.val(
        data=str(data_yaml), split=split, imgsz=imgsz, batch=batch, device="cpu", plots=False, verbose=False
    )
    box = m.box
    per_class = []
    counts = [int(n) for n in m.nt_per_class]
    indexed = [int(i) for i in box.ap_class_index]
    for c, name in enumerate(CLASSES):
        if c in indexed:
            p, r, ap50, ap = (float(v) for v in box.class_result(indexed.index(c)))
        else:
            p = r = ap50 = ap = 0.0
        n = counts[c] if c < len(counts) else 0
        per_class.append(ClassMetrics(name, n, round(p, 4), round(r, 4), round(ap50, 4), round(ap, 4)))
    where = data_yaml.parent / (folder or f"images/{split}")
    images = len(list(where.glob("*.png")))
    return Evaluation(
        where.name, images, round(float(box.map50), 4), round(float(box.map), 4), tuple(per_class)
    )
