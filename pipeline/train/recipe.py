"""What a simulated training set is made of: a recipe that expands, flight by flight, into simulator settings.

Everything is drawn from (recipe seed, flight index), so a recipe names its data exactly and two recipes with
disjoint seed ranges never share a flight or a world. The seed ranges in use:
  101-103 (world 7)  sample_flights/          below 100        tests
  1000+              training                 3000+            validation (model selection while training)
  3101-3104          calibration flights (`patrol calibrate`: per-class minimum scores; models/MODEL_CARD.md)
  5000+              held-out evaluation (the model card's numbers)
  7000+              bench/detect_vs_sahi.py (speed cases, and the whole-frame evaluation flights 7101-7104)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.errors import ModelError
from pipeline.metadata.cameras import camera_for
from pipeline.simulate.flight import FlightSettings
from pipeline.simulate.world import CLASSES

CAMERA = "M3E"  # the squad's survey drone; its sensor table entry sets the field of view
TRAIN_SEED = 1000
VAL_SEED = 3000
HELD_OUT_SEED = 5000
__all__ = ["CLASSES", "DatasetRecipe", "flight_settings"]


@dataclass(frozen=True)
class DatasetRecipe:
    """Simulated flights -> tiles at `gsd_m` metres per pixel, `imgsz` pixels square."""

    seed: int = TRAIN_SEED  # flight k uses seed + k as its flight seed and its world seed
    flights: int = 60
    frames_per_flight: int = 2
    gsd_m: float = 0.08
    imgsz: int = 320
    overlap: float = 0.2  # between neighbouring tiles, so a target cut by one border is whole in the next
    negatives_per_positive: float = 0.5  # tiles without a target, drawn at random, per tile with one
    # And, on top, tiles without a target showing a rare look-alike (courts, canopies, tarps: the manifest's
    # `distractors`): many of the first model's false detections fell on these, which a random draw shows
    # it too seldom.
    hard_negatives_per_positive: float = 0.0
    altitude_m: tuple[float, float] = (40.0, 150.0)
    oblique_pitch_deg: tuple[float, float] = (-80.0, -35.0)
    nadir_share: float = 0.4  # flights straight down (mapping plan); the rest oblique (corridor plan)
    max_night: int = 10  # a flight's night is drawn from 0..max_night (targets appear, grow, get cleared)
    # Frames are 4:3 at most this wide (a 12 MP survey camera), rendered only as fine as needed: about
    # `oversample` times finer than the target at the centre, so rescaling still averages several pixels
    # the way it does on real 4000 x 3000 frames, without paying for detail that is thrown away.
    max_width_px: int = 4000
    min_width_px: int = 1600
    oversample: float = 2.0
    rare_repeat: int = 2  # tiles holding a garbage pile (the rarer class) are written this many times
    gsd_ratio: tuple[float, float] = (0.6, 1.7)  # keep tiles whose GSD is within this multiple of the target

    def check(self) -> None:
        problems = []
        if self.flights < 1 or self.frames_per_flight < 1:
            problems.append("flights and frames per flight must be at least 1")
        if not 0.005 <= self.gsd_m <= 1.0:
            problems.append(f"GSD must be 0.005..1 m per pixel, not {self.gsd_m:g}")
        if self.imgsz < 32 or self.imgsz % 32:
            problems.append(f"imgsz must be a multiple of 32, at least 32, not {self.imgsz}")
        if not 0.0 <= self.overlap < 0.9:
            problems.append(f"tile overlap must be 0..0.9, not {self.overlap:g}")
        if problems:
            raise ModelError("; ".join(problems))


def flight_settings(recipe: DatasetRecipe, k: int) -> FlightSettings:
    """The simulator settings of flight `k` of the recipe (0-based)."""
    rng = np.random.default_rng([recipe.seed, k, 17])
    nadir = bool(rng.random() < recipe.nadir_share)
    pitch = -90.0 if nadir else float(rng.uniform(*recipe.oblique_pitch_deg))
    seed = recipe.seed + k
    altitude = round(float(rng.uniform(*recipe.altitude_m)), 1)
    width = frame_width(recipe, altitude, pitch)
    return FlightSettings(
        seed=seed,
        world_seed=seed,
        night=int(rng.integers(0, recipe.max_night + 1)),
        frames=recipe.frames_per_flight,
        altitude_m=altitude,
        pitch_deg=round(pitch, 1),
        heading_deg=round(float(rng.uniform(0.0, 360.0)), 1),
        width_px=width,
        height_px=width * 3 // 4,
        camera_model=CAMERA,
    )


def frame_width(recipe: DatasetRecipe, altitude_m: float, pitch_deg: float) -> int:
    """Image width (multiple of 8) giving `oversample` x the target resolution at the frame centre."""
    cam = camera_for(CAMERA)
    assert cam is not None
    slant_m = altitude_m / math.sin(math.radians(abs(pitch_deg)))
    # centre GSD = slant / focal_px and focal_px = width * focal_mm / sensor_width_mm (nadir; close enough)
    width = slant_m * cam.sensor_width_mm / (cam.focal_mm * recipe.gsd_m / recipe.oversample)
    return int(min(max(width, recipe.min_width_px), recipe.max_width_px)) // 8 * 8
