"""Ship a trained run into models/: weights without optimizer state, the model description JSON, ONNX.

models/patrol-det.json is the contract with pipeline/detect/: the classes in index order, the tile size the
model takes (imgsz) and the ground resolution its tiles were cut at (gsd_m), and the weight files.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError
from pipeline.train.recipe import CLASSES

MODEL_NAME = "patrol-det"
GSD_DEFINITION = "square root of the ground area one pixel covers (the plain GSD at nadir)"


@dataclass(frozen=True)
class ModelInfo:
    imgsz: int
    gsd_m: float
    trained_on: str
    command: str
    metrics: dict[str, Any] | None = None

    def as_json(self, onnx: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "classes": list(CLASSES),
            "imgsz": self.imgsz,
            "gsd_m": self.gsd_m,
            "gsd_definition": GSD_DEFINITION,
            "weights": f"{MODEL_NAME}.pt",
            "onnx": onnx,
            "trained_on": self.trained_on,
            "command": self.command,
        }
        if self.metrics is not None:
            out["metrics"] = self.metrics
        return out


def strip_weights(src: Path, dst: Path) -> Path:
    """Copy a training checkpoint to `dst` as the EMA model in fp16, without optimizer or training state."""
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    from ultralytics.utils.torch_utils import strip_optimizer

    if not src.is_file():
        raise ModelError("checkpoint not found", str(src))
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp.pt")
    shutil.copyfile(src, tmp)
    if not strip_optimizer(str(tmp), s=str(dst)):
        tmp.unlink(missing_ok=True)
        raise ModelError("not an ultralytics checkpoint", str(src))
    tmp.unlink(missing_ok=True)
    return dst


def export_onnx(weights: Path, imgsz: int) -> Path | None:
    """ONNX beside the weights (static input imgsz, simplified when onnxslim is present); None when the
    onnx package is missing, so a machine without it still ships the PyTorch weights."""
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    try:
        import onnx  # noqa: F401
    except ImportError:
        return None
    from ultralytics.models.yolo.model import YOLO

    out = YOLO(str(weights)).export(format="onnx", imgsz=imgsz, dynamic=True, simplify=True, device="cpu")
    path = Path(str(out))
    if not path.is_file():
        raise ModelError("ONNX export wrote nothing", str(weights))
    return path


def ship(best: Path, models_dir: Path, info: ModelInfo, onnx: bool = True) -> dict[str, Any]:
    """Write models_dir/patrol-det.{pt,json} (and .onnx): the model the detector loads."""
    weights = strip_weights(best, models_dir / f"{MODEL_NAME}.pt")
    onnx_path = export_onnx(weights, info.imgsz) if onnx else None
    desc = info.as_json(onnx_path.name if onnx_path else None)
    (models_dir / f"{MODEL_NAME}.json").write_text(json.dumps(desc, indent=1, ensure_ascii=False) + "\n")
    return desc
