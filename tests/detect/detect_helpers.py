"""Shared values for the detector tests. A module of its own, not conftest: several test folders have a
conftest.py, and `from conftest import ...` picks whichever was imported first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.detect.detector import DetectSettings, FrameDetections, detect_frame, place_frame
from pipeline.detect.model import Detector
from pipeline.types import CameraView, Intrinsics, Pose

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flights"
# The simulator's camera (DJI M3E) at 4000 x 3000: 2841.6 px focal length.
M3E_4000 = Intrinsics(4000, 3000, 12.29 * 4000 / 17.3, 2000.0, 1500.0, "sensor_table", 17.3)


def view(height_m: float = 100.0, pitch_deg: float = -90.0, intr: Intrinsics = M3E_4000) -> CameraView:
    return CameraView(Pose(22.98, 113.74, height_m, 30.0, pitch_deg, 0.0), intr)


def detect_and_place(
    image: np.ndarray,
    v: CameraView | None,
    detector: Detector,
    settings: DetectSettings | None = None,
    **kw: Any,
) -> FrameDetections:
    """detect_frame, then place_frame at the settings' range: the two steps every caller runs."""
    settings = settings or DetectSettings()
    return place_frame(detect_frame(image, v, detector, settings, **kw), settings.max_ground_distance_m)
