"""Fixtures for the detector tests: a fake detector that sees coloured blobs, camera views, and a real model
(the shipped one when it exists, else a randomly initialised YOLOv8n built here: no download either way)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from detect_fakes import ColourDetector

from pipeline.detect.model import SHIPPED_MODEL


@pytest.fixture
def colour_detector() -> ColourDetector:
    return ColourDetector()


@pytest.fixture(scope="session")
def model_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """models/patrol-det.json when shipped; else an untrained two-class YOLOv8n (.pt + ONNX) with a card
    saying 320-px tiles at 0.08 m/px: it finds nothing useful, but it runs through every real code path."""
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL
    folder = tmp_path_factory.mktemp("model")
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics(folder / "ultralytics")
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from pipeline.detect.backends import export_onnx

    torch.manual_seed(0)
    net = DetectionModel("yolov8n.yaml", nc=2, verbose=False)
    net.names = {0: "illegal_construction", 1: "garbage_pile"}
    torch.save({"model": net.half(), "train_args": {"imgsz": 320}}, folder / "tiny.pt")
    export_onnx(folder / "tiny.pt", 320, folder / "tiny.onnx")
    card = {
        "classes": ["illegal_construction", "garbage_pile"],
        "imgsz": 320,
        "gsd_m": 0.08,
        "weights": "tiny.pt",
        "onnx": "tiny.onnx",
    }
    (folder / "tiny.json").write_text(json.dumps(card))
    return folder / "tiny.json"
