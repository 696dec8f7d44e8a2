"""Groups of people: look-alikes of a small garbage pile that real frames showed, added without moving
anything the simulator placed before them."""

from __future__ import annotations

import json

import numpy as np

from pipeline.simulate import FlightSettings, scenery, simulate_flight
from pipeline.simulate.scenery import block_objects
from pipeline.simulate.world import blocks_in, make_world


def _objects(seed: int) -> list:
    world = make_world(seed, 22.98, 113.74)
    return [o for key in blocks_in(world, (-400, -400, 400, 400)) for o in block_objects(world, *key)]


def test_people_are_added_without_moving_anything_else(monkeypatch):
    with_people = _objects(9)
    monkeypatch.setattr(scenery, "PEOPLE_GROUPS", dict.fromkeys(scenery.PEOPLE_GROUPS, 0.0))
    without = _objects(9)
    rest = [o for o in with_people if o.kind != "people"]
    assert [o.id for o in rest] == [o.id for o in without]
    for a, b in zip(rest, without, strict=True):
        assert np.array_equal(a.footprint, b.footprint) and len(a.parts) == len(b.parts)
        for pa, pb in zip(a.parts, b.parts, strict=True):
            assert np.array_equal(pa.poly, pb.poly) and pa.colour_bgr == pb.colour_bgr
    groups = [o for o in with_people if o.kind == "people"]
    assert len(groups) > 5
    assert all(
        o.cls is None and 4 <= len(o.parts) <= 16 for o in groups
    )  # 2-8 people, a body and a head each


def test_a_flight_lists_the_people_it_shows_as_look_alikes_and_never_labels_them(tmp_path):
    manifest = simulate_flight(
        tmp_path, FlightSettings(seed=3108, frames=4, altitude_m=140.0, width_px=1000, height_px=750)
    )
    shown = [d for f in manifest["frames"] for d in f["distractors"] if d["kind"] == "people"]
    assert shown
    labelled = {b["id"] for f in manifest["frames"] for b in f["boxes"]}
    assert not labelled & {d["id"] for d in shown}
    truth = json.loads((tmp_path / "truth.geojson").read_text())
    assert not {feat["properties"]["id"] for feat in truth["features"]} & {d["id"] for d in shown}
