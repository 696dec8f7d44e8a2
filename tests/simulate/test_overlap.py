"""A mapping flight's overlap is a setting: the spacing between shots is (1 - overlap) of the footprint, so
two overlaps give spacings in the closed-form ratio, whatever the camera; an impossible overlap is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import SimulationError
from pipeline.simulate import FlightSettings, simulate_flight


def _spacing(tmp_path: Path, overlap: tuple[float, float]) -> tuple[float, float]:
    """(along-track step between consecutive shots of a leg, across-track step between legs), metres: the
    legs run north (heading 0), so legs differ in east and shots of a leg in north."""
    settings = FlightSettings(seed=3, frames=16, width_px=200, height_px=150, overlap=overlap)
    frames = simulate_flight(tmp_path / f"o{overlap[0]}x{overlap[1]}", settings)["frames"]
    poses = [(f["true_pose"]["east_m"], f["true_pose"]["north_m"]) for f in frames]
    easts = sorted({round(e, 6) for e, _ in poses})
    assert len(easts) >= 2, "one leg only: no across-track spacing to measure"
    return abs(poses[1][1] - poses[0][1]), easts[1] - easts[0]


def test_shot_spacing_follows_the_overlap(tmp_path: Path) -> None:
    along_a, across_a = _spacing(tmp_path, (0.8, 0.5))
    along_b, across_b = _spacing(tmp_path, (0.6, 0.75))
    assert along_a / along_b == pytest.approx(
        (1 - 0.8) / (1 - 0.6), rel=1e-4
    )  # the manifest rounds positions to 0.1 mm
    assert across_a / across_b == pytest.approx(
        (1 - 0.5) / (1 - 0.75), rel=1e-4
    )  # the manifest rounds positions to 0.1 mm


def test_an_impossible_overlap_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match=r"overlap must be 0\.\.0\.95"):
        simulate_flight(
            tmp_path / "bad", FlightSettings(frames=2, width_px=200, height_px=150, overlap=(1.0, 0.6))
        )
