"""The demo's second half: flights into a fresh database, a table of cases, a GeoJSON export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flow_fakes import dark_blobs
from flow_helpers import copy_flight

from pipeline.process_commands import demo_cases


def test_demo_prints_cases_writes_geojson_and_starts_fresh(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flights = [copy_flight("nadir_mapping", tmp_path / "nadir", photos=2)]
    out = tmp_path / "demo"
    assert demo_cases(flights, out_dir=out, detector=dark_blobs) == 0
    text = capsys.readouterr().out
    features = json.loads((out / "cases.geojson").read_text(encoding="utf-8"))["features"]
    assert features and f"{len(features)} cases:" in text
    assert "patrol review --db sqlite:///" in text and "sightings" in text and "confidence" in text
    # A second demo run starts from an empty database: the same cases again, not "0 new".
    assert demo_cases(flights, out_dir=out, detector=dark_blobs) == 0
    again = json.loads((out / "cases.geojson").read_text(encoding="utf-8"))["features"]
    assert len(again) == len(features)
    assert f"{len(features)} new cases" in capsys.readouterr().out
