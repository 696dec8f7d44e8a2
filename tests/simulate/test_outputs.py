"""What a simulated flight folder holds: files, truth, labels, and that targets are really drawn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pipeline.errors import SimulationError
from pipeline.simulate import FlightSettings, simulate_flight
from pipeline.simulate.world import CLASSES


def test_same_settings_give_the_same_bytes(tmp_path: Path) -> None:
    settings = FlightSettings(seed=11, frames=2, width_px=800, height_px=600, gps_noise_m=2.0)
    simulate_flight(tmp_path / "a", settings)
    simulate_flight(tmp_path / "b", settings)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_folder_layout(nadir_flight: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = nadir_flight
    names = [f"DJI_{k:04d}.JPG" for k in range(1, 7)]
    assert [f["file"] for f in manifest["frames"]] == names
    for name in names:
        assert (out / name).is_file()
        assert (out / "labels" / name.replace(".JPG", ".txt")).is_file()
    assert (out / "classes.txt").read_text().split() == list(CLASSES)
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["resolved"]["plan"] == "mapping"


def test_truth_geojson_shape(nadir_flight: tuple[Path, dict[str, Any]]) -> None:
    out, _ = nadir_flight
    data = json.loads((out / "truth.geojson").read_text())
    assert data["type"] == "FeatureCollection"
    assert data["features"], "a flight over the default world should see some targets"
    ids = [f["properties"]["id"] for f in data["features"]]
    assert len(ids) == len(set(ids))
    for feat in data["features"]:
        props = feat["properties"]
        assert props["class"] in CLASSES
        assert abs(props["centroid_lat"] - 22.98) < 0.01 and abs(props["centroid_lon"] - 113.74) < 0.01
        assert feat["geometry"]["type"] == "Polygon"
        ring = feat["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1] and len(ring) >= 4
        lons, lats = zip(*ring, strict=True)  # [lon, lat] order
        assert all(113.7 < v < 113.8 for v in lons) and all(22.9 < v < 23.1 for v in lats)
        assert min(lats) <= props["centroid_lat"] <= max(lats)


def _yolo(path: Path) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for line in path.read_text().splitlines():
        c, *vals = line.split()
        cx, cy, w, h = map(float, vals)
        rows.append((int(c), cx, cy, w, h))
    return rows


@pytest.mark.parametrize("flight", ["nadir_flight", "oblique_flight"])
def test_labels_sit_on_projected_truth(flight: str, request: pytest.FixtureRequest, geometry: Any) -> None:
    out, manifest = request.getfixturevalue(flight)
    features = {
        f["properties"]["id"]: f["properties"]
        for f in json.loads((out / "truth.geojson").read_text())["features"]
    }
    intr = geometry.intrinsics(manifest)
    checked = 0
    for frame in manifest["frames"]:
        rows = _yolo(out / frame["labels"])
        assert len(rows) == len(frame["boxes"])
        for (cls, cx, cy, w, h), box in zip(rows, frame["boxes"], strict=True):
            assert CLASSES[cls] == box["class"]
            assert (
                cx - w / 2 >= -1e-6
                and cx + w / 2 <= 1 + 1e-6
                and cy - h / 2 >= -1e-6
                and cy + h / 2 <= 1 + 1e-6
            )
            props = features[box["id"]]
            assert frame["file"] in props["frames"]
            x, y = geometry.project(intr, geometry.pose(frame), props["centroid_lat"], props["centroid_lon"])
            x0, y0, x1, y1 = box["xyxy_px"]
            inside_frame = x0 > 1 and y0 > 1 and x1 < intr.width_px - 1 and y1 < intr.height_px - 1
            if inside_frame:
                # A whole footprint: the centroid lies inside its box, near the middle.
                assert x0 <= x <= x1 and y0 <= y <= y1
                assert abs(x - (x0 + x1) / 2) <= 0.3 * (x1 - x0) + 1
                assert abs(y - (y0 + y1) / 2) <= 0.3 * (y1 - y0) + 1
                checked += 1
    assert checked >= 3


def test_targets_are_drawn_where_the_truth_says(
    nadir_flight: tuple[Path, dict[str, Any]], geometry: Any
) -> None:
    """Rendering the same frame without targets changes the pixels at each labelled target's centroid."""
    from pipeline.simulate.flight import _Flight
    from pipeline.simulate.render import local_frame, render_frame
    from pipeline.simulate.texture import TextureSource

    out, manifest = nadir_flight

    class NoTargets(TextureSource):
        def objects(self, bbox: tuple[float, float, float, float], detail: bool = True) -> list[Any]:
            return [o for o in super().objects(bbox, detail) if o.cls is None]

    settings = FlightSettings(**manifest["settings"])
    fl = _Flight(settings)
    bare = NoTargets(fl.world, settings.night, fl.lighting, fl.src.base_res_m)
    features = {
        f["properties"]["id"]: f["properties"]
        for f in json.loads((out / "truth.geojson").read_text())["features"]
    }
    intr = geometry.intrinsics(manifest)
    changed, total = 0, 0
    for k, frame in enumerate(manifest["frames"]):
        if not frame["boxes"]:
            continue
        shot = fl.shots[k]
        _, _, w2l = local_frame(
            settings.lat, settings.lon, shot.east_m, shot.north_m, max(300.0, 6 * shot.height_m)
        )
        pose = geometry.pose(frame)
        with_t = cv2.imread(str(out / frame["file"])).astype(float)
        without = render_frame(bare, intr, pose, w2l).astype(float)
        for box in frame["boxes"]:
            p = features[box["id"]]
            x, y = geometry.project(intr, pose, p["centroid_lat"], p["centroid_lon"])
            c, r = min(max(int(x), 2), intr.width_px - 3), min(max(int(y), 2), intr.height_px - 3)
            win = (slice(max(r - 2, 0), r + 3), slice(max(c - 2, 0), c + 3))
            total += 1
            if np.abs(with_t[win] - without[win]).mean() > 12:
                changed += 1
    assert total >= 3
    assert changed >= 0.9 * total


def test_bad_settings_raise_simulation_error(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="pitch"):
        simulate_flight(tmp_path, FlightSettings(pitch_deg=10.0))
    with pytest.raises(SimulationError, match="camera model"):
        simulate_flight(tmp_path, FlightSettings(camera_model="NOPE"))
