"""The world stays put across flights of one world seed, and ages night by night as designed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipeline.simulate import FlightSettings, simulate_flight
from pipeline.simulate.scenery import block_objects
from pipeline.simulate.world import at_night, blocks_in, make_world, polygon_area


def _targets_by_night(world_seed: int, nights: range) -> list[dict[str, np.ndarray]]:
    world = make_world(world_seed, 22.98, 113.74)
    objs = [o for key in blocks_in(world, (-400, -400, 400, 400)) for o in block_objects(world, *key)]
    out = []
    for night in nights:
        aged = (at_night(o, night) for o in objs if o.cls is not None)
        out.append({o.id: o.footprint for o in aged if o is not None})
    return out


def test_nights_clear_add_and_grow_targets() -> None:
    first, later = _targets_by_night(9, range(0, 11, 10))
    cleared = first.keys() - later.keys()
    added = later.keys() - first.keys()
    kept = first.keys() & later.keys()
    assert cleared and added and kept
    grown = [i for i in kept if polygon_area(later[i]) > polygon_area(first[i]) * 1.05]
    same = [i for i in kept if np.array_equal(later[i], first[i])]
    assert grown and same
    assert all(i.startswith("GP-") for i in grown if not i.startswith("IC-")), grown


def test_aging_is_deterministic() -> None:
    a = _targets_by_night(9, range(3, 4))[0]
    b = _targets_by_night(9, range(3, 4))[0]
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _truth(out: Path) -> dict[str, dict[str, object]]:
    feats = json.loads((out / "truth.geojson").read_text())["features"]
    return {f["properties"]["id"]: f for f in feats}


def test_world_seed_keeps_objects_across_flights(tmp_path: Path) -> None:
    common = {"world_seed": 12, "frames": 4, "width_px": 600, "height_px": 450}
    simulate_flight(tmp_path / "a", FlightSettings(seed=1, heading_deg=0.0, **common))  # type: ignore[arg-type]
    simulate_flight(tmp_path / "b", FlightSettings(seed=2, heading_deg=90.0, altitude_m=120.0, **common))  # type: ignore[arg-type]
    a, b = _truth(tmp_path / "a"), _truth(tmp_path / "b")
    shared = a.keys() & b.keys()
    assert shared, "two flights near one world origin should share targets"
    for i in shared:
        assert a[i]["geometry"] == b[i]["geometry"]
        pa, pb = a[i]["properties"], b[i]["properties"]
        assert isinstance(pa, dict) and isinstance(pb, dict)
        assert (pa["class"], pa["centroid_lat"], pa["centroid_lon"]) == (
            pb["class"],
            pb["centroid_lat"],
            pb["centroid_lon"],
        )
    other = simulate_flight(
        tmp_path / "c", FlightSettings(seed=1, world_seed=13, frames=2, width_px=600, height_px=450)
    )
    assert not (_truth(tmp_path / "c").keys() & a.keys())
    assert other["resolved"]["world_seed"] == 13


def test_later_night_truth_differs_but_keeps_ids(tmp_path: Path) -> None:
    common = {"seed": 4, "frames": 6, "width_px": 600, "height_px": 450}
    simulate_flight(tmp_path / "n0", FlightSettings(night=0, **common))  # type: ignore[arg-type]
    simulate_flight(tmp_path / "n8", FlightSettings(night=8, **common))  # type: ignore[arg-type]
    n0, n8 = _truth(tmp_path / "n0"), _truth(tmp_path / "n8")
    assert n0.keys() != n8.keys()
    assert n0.keys() & n8.keys()
