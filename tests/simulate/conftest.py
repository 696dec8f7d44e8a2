"""Small simulated flights, built once per session (sizes kept small so the suite stays quick)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pipeline import geo
from pipeline.simulate import FlightSettings, simulate_flight
from pipeline.types import CameraView, Intrinsics, Pose

Flight = tuple[Path, dict[str, Any]]


def _fly(tmp_path_factory: pytest.TempPathFactory, name: str, settings: FlightSettings) -> Flight:
    out = tmp_path_factory.mktemp(name)
    manifest = simulate_flight(out, settings)
    return out, manifest


@pytest.fixture(scope="session")
def nadir_flight(tmp_path_factory: pytest.TempPathFactory) -> Flight:
    return _fly(tmp_path_factory, "nadir", FlightSettings(seed=5, frames=6, width_px=1200, height_px=900))


@pytest.fixture(scope="session")
def oblique_flight(tmp_path_factory: pytest.TempPathFactory) -> Flight:
    settings = FlightSettings(seed=6, world_seed=5, frames=4, pitch_deg=-45.0, width_px=1200, height_px=900)
    return _fly(tmp_path_factory, "oblique", settings)


@pytest.fixture(scope="session")
def video_flight(tmp_path_factory: pytest.TempPathFactory) -> Flight:
    settings = FlightSettings(seed=7, frames=8, pitch_deg=-60.0, video=True, width_px=640, height_px=360)
    return _fly(tmp_path_factory, "video", settings)


def truth(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "truth.geojson").read_text())
    return data


class Geometry:
    """Where a truth object lands in a frame, by the true pose (handed out as a fixture, not imported)."""

    @staticmethod
    def intrinsics(manifest: dict[str, Any]) -> Intrinsics:
        cam, res = manifest["camera"], manifest["resolved"]
        return Intrinsics(
            res["width_px"], res["height_px"], cam["focal_px"], cam["cx_px"], cam["cy_px"], "sim"
        )

    @staticmethod
    def pose(frame: dict[str, Any]) -> Pose:
        p = frame["true_pose"]
        return Pose(p["lat"], p["lon"], p["height_m"], p["yaw_deg"], p["pitch_deg"], p["roll_deg"])

    @staticmethod
    def project(intr: Intrinsics, pose: Pose, lat: float, lon: float) -> tuple[float, float]:
        """Pixel of a ground point, stepping from the camera as a reader does (geodesic offsets)."""
        e, n = geo.latlon_offset(pose.lat, pose.lon, lat, lon)
        xy = geo.project_enu_to_pixels(intr, pose, np.array([[e, n, 0.0]]))[0]
        return float(xy[0]), float(xy[1])

    @classmethod
    def locate_errors(
        cls, manifest: dict[str, Any], features: list[dict[str, Any]], views: list[CameraView]
    ) -> list[float]:
        """For each frame (with the view a reader built for it) and each truth object drawn in it: metres
        between the truth centroid and where its rendered pixel locates back through that view."""
        intr_true = cls.intrinsics(manifest)
        errors = []
        for frame, view in zip(manifest["frames"], views, strict=True):
            for feat in features:
                p = feat["properties"]
                x, y = cls.project(intr_true, cls.pose(frame), p["centroid_lat"], p["centroid_lon"])
                if not (0 <= x < intr_true.width_px and 0 <= y < intr_true.height_px):
                    continue
                ground = geo.pixel_to_ground(view, x, y)
                errors.append(geo.distance_m(ground.lat, ground.lon, p["centroid_lat"], p["centroid_lon"]))
        return errors


@pytest.fixture(scope="session")
def geometry() -> type[Geometry]:
    return Geometry
