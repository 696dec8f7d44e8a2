"""Detector implementations: ultralytics weights run by PyTorch, and the same network exported to ONNX and run
by ONNX Runtime. Both share one pre-processing and one decoder, so they differ only in the forward pass.

We do not call ultralytics' `predict`: it letterboxes, converts and post-processes image by image, which on
this workload costs more than the network. Our tiles are already the input size, so pre-processing is one
array conversion for the whole batch.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.detect.model import ModelSpec
from pipeline.errors import ModelError

BACKENDS = ("auto", "onnx", "torch")
# Candidates kept per tile before NMS: a nearly untrained model scores everything, and greedy NMS is
# quadratic in what it is given.
MAX_CANDIDATES = 2000
MAX_PER_TILE = 300


def default_threads() -> int:
    """Every core: ultralytics leaves torch at cpu_count - 1, which on a 2-core box is half the machine."""
    return max(1, os.cpu_count() or 1)


def use_opencv_threads(threads: int) -> None:
    """Rescaling (OpenCV) gets the detector's thread count too. Importing ultralytics switches OpenCV's
    threading off for the whole process (for its DataLoader workers), which doubled the rescale of a 20 MP
    nadir frame (41 -> 78 ms) wherever the PyTorch backend, the bench or training had imported it."""
    import cv2

    cv2.setNumThreads(threads)


def to_network_input(tiles: np.ndarray) -> np.ndarray:
    """(B, N, N, 3) uint8 BGR -> (B, 3, N, N) float32 RGB in 0..1, as ultralytics trains."""
    rgb = tiles[..., ::-1].transpose(0, 3, 1, 2)
    out: np.ndarray = np.ascontiguousarray(rgb, dtype=np.float32)
    out *= 1.0 / 255.0
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, classes: np.ndarray | None = None) -> np.ndarray:
    """Indices kept by non-maximum suppression within each class (OpenCV's), highest score first: a box is
    dropped when its IoU with a better one of its class exceeds `iou`."""
    import cv2

    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]]).astype(np.float64)
    labels = np.zeros(len(boxes), dtype=np.int64) if classes is None else classes.astype(np.int64)
    kept = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores.astype(float).tolist(), labels.tolist(), 0.0, float(iou)
    )
    keep = np.asarray(kept, dtype=np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


def decode(raw: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
    """YOLOv8-style head output (B, 4 + classes, anchors), boxes as centre/size in input pixels and class
    scores already sigmoid, -> per tile (K, 6) x0 y0 x1 y1 score class, class-aware NMS applied."""
    out = []
    for pred in raw:
        cls_scores = pred[4:]
        best = cls_scores.argmax(axis=0)
        score = cls_scores[best, np.arange(cls_scores.shape[1])]
        hit = np.flatnonzero(score >= conf)
        if hit.size > MAX_CANDIDATES:
            hit = hit[np.argsort(-score[hit])[:MAX_CANDIDATES]]
        if hit.size == 0:
            out.append(np.zeros((0, 6), dtype=np.float32))
            continue
        cx, cy, w, h = pred[0, hit], pred[1, hit], pred[2, hit], pred[3, hit]
        boxes = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        cls = best[hit].astype(np.float32)
        keep = nms(boxes, score[hit], iou, cls)[:MAX_PER_TILE]
        out.append(np.column_stack([boxes[keep], score[hit][keep], cls[keep]]).astype(np.float32))
    return out


class TorchDetector:
    """ultralytics .pt weights, fused, run by PyTorch on the CPU."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        if spec.weights is None:
            raise ModelError("no PyTorch weights (.pt) in the model card", spec.name)
        self.classes, self.imgsz, self.gsd_m = spec.classes, spec.imgsz, spec.gsd_m
        self.min_score = spec.min_score
        self.name = spec.weights.name
        quiet_ultralytics()
        import torch

        torch.set_num_threads(threads)
        # Through importlib: ultralytics is untyped, and this keeps it Any rather than a checked call.
        tasks: Any = importlib.import_module("ultralytics.nn.tasks")
        try:
            model, _ = tasks.load_checkpoint(str(spec.weights), device="cpu", fuse=True)
        except Exception as err:  # a broken or foreign file fails deep inside torch/pickle in many ways
            raise ModelError(f"cannot load PyTorch weights: {err}", str(spec.weights)) from None
        self._model: Any = model.float().eval()
        self._torch = torch
        use_opencv_threads(threads)  # last: after every ultralytics import this constructor makes

    def forward(self, tiles: np.ndarray) -> np.ndarray:
        """The raw head output for a batch: the network and nothing else (what the bench calls the floor)."""
        torch = self._torch
        with torch.inference_mode():
            y = self._model(torch.from_numpy(to_network_input(tiles)))
        first = y[0] if isinstance(y, (tuple, list)) else y
        raw: np.ndarray = first.numpy()
        return raw

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        return decode(self.forward(tiles), conf, iou)


class OnnxDetector:
    """The same network exported to ONNX (dynamic batch), run by ONNX Runtime's CPU provider."""

    def __init__(self, spec: ModelSpec, threads: int, spinning: bool = False) -> None:
        if spec.onnx is None:
            raise ModelError("no ONNX file in the model card", spec.name)
        self.classes, self.imgsz, self.gsd_m = spec.classes, spec.imgsz, spec.gsd_m
        self.min_score = spec.min_score
        self.name = spec.onnx.name
        try:
            ort: Any = importlib.import_module("onnxruntime")  # untyped: Any, not a checked import
        except ImportError:
            raise ModelError("onnxruntime is not installed", str(spec.onnx)) from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # ONNX Runtime's idle pool threads spin for work unless told not to: on a 2-core box shared with
        # anything else (the flow, the database, other workers) that halved throughput (1.34 vs 0.72 s a
        # 20 MP frame; bench/RESULTS-throughput.md), so they sleep.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings about unused initialisers are noise
        try:
            self._session = ort.InferenceSession(
                str(spec.onnx), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types for a bad file
            raise ModelError(f"cannot load ONNX model: {err}", str(spec.onnx)) from None
        self._input = self._session.get_inputs()[0].name
        use_opencv_threads(threads)

    def forward(self, tiles: np.ndarray) -> np.ndarray:
        raw: np.ndarray = self._session.run(None, {self._input: to_network_input(tiles)})[0]
        return raw

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        return decode(self.forward(tiles), conf, iou)


def quiet_ultralytics() -> None:
    """The model side's guard against every network access of ultralytics (see pipeline.detect.offline)."""
    from pipeline.detect.offline import quiet_ultralytics as quiet

    quiet()


def _onnx_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def open_detector(
    spec: ModelSpec, backend: str = "auto", threads: int | None = None
) -> TorchDetector | OnnxDetector:
    """Load the model for one backend. "auto" is ONNX Runtime when the card has an ONNX file and the runtime
    is installed (faster on CPU for the same numbers; bench/RESULTS.md), else PyTorch."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    n = threads if threads is not None else default_threads()
    if backend == "onnx" or (backend == "auto" and spec.onnx is not None and _onnx_available()):
        return OnnxDetector(spec, n)
    return TorchDetector(spec, n)


def export_onnx(weights: Path, imgsz: int, out: Path | None = None) -> Path:
    """Export .pt weights to ONNX with a dynamic batch axis (what OnnxDetector expects)."""
    quiet_ultralytics()
    yolo: Any = importlib.import_module("ultralytics").YOLO
    made = Path(yolo(str(weights)).export(format="onnx", imgsz=imgsz, dynamic=True, verbose=False))
    if out is not None and made != out:
        made.replace(out)
        return out
    return made
