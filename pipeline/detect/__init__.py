"""Detection: a frame in, pixel detections out, at the model's ground resolution; then placed.

The stages, each a small module:
  model     the Detector protocol (a plain callable over a batch of tiles) and the model card (ModelSpec)
  backends  PyTorch (ultralytics weights) and ONNX Runtime implementations of that protocol
  scale     ground-resolution normalisation: the horizontal strips a frame is searched in, each at its scale
  tiling    the model-sized tiles of each strip, in batches
  merge     one box per object across tiles and strips, in original-frame pixels
  detector  the per-frame entry point: `detect_frame` (pixels in, pixel detections out), `place_frame`
            (those placed by pipeline.placement) and `detect_image` (a photo read, searched and placed)
  evaluate  object-level precision, recall and AP against a simulated flight's truth.geojson
  commands  `patrol detect` and `patrol evaluate`
  offline   keeps ultralytics off the network (the model side's; the backends call it)

Imports are lazy: importing this package loads neither numpy-heavy code nor a model runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.detect.backends import open_detector
    from pipeline.detect.detector import (
        DetectSettings,
        FrameDetections,
        FrameSearch,
        detect_frame,
        detect_image,
        place_frame,
    )
    from pipeline.detect.model import Detector, ModelSpec, load_model_spec

__all__ = [
    "DetectSettings",
    "Detector",
    "FrameDetections",
    "FrameSearch",
    "ModelSpec",
    "detect_frame",
    "detect_image",
    "load_model_spec",
    "open_detector",
    "place_frame",
]

_HOME = {
    "open_detector": "backends",
    "DetectSettings": "detector",
    "FrameDetections": "detector",
    "FrameSearch": "detector",
    "place_frame": "detector",
    "detect_frame": "detector",
    "detect_image": "detector",
    "Detector": "model",
    "ModelSpec": "model",
    "load_model_spec": "model",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f"pipeline.detect.{_HOME[name]}"), name)
    raise AttributeError(name)
