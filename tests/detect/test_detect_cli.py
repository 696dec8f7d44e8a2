"""`patrol detect` and `patrol evaluate` as users and scripts call them: JSON shapes, exit codes, one-line
errors. (The flight reader behind evaluate is the one ingest: tests/test_ingest.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from detect_helpers import SAMPLES

from pipeline.cli import main
from pipeline.detect.model import SHIPPED_MODEL

DETECTION_FIELDS = {
    "path",
    "class",
    "score",
    "xyxy_px",
    "lat",
    "lon",
    "ground_distance_m",
    "size_m",
    "footprint",
}
EVALUATE_FIELDS = {
    "flight",
    "class",
    "truth",
    "found",
    "recall",
    "precision",
    "ap",
    "false_positives",
    "frames",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.mark.slow
def test_detect_json_has_one_object_per_detection(capsys: pytest.CaptureFixture[str], model_card: Path):
    # The untrained stand-in model scores everything near zero: ask for its best guesses so lines come out.
    conf = "0.25" if model_card == SHIPPED_MODEL else "0.0001"
    images = [SAMPLES / "nadir_mapping" / "DJI_0001.JPG", SAMPLES / "oblique_corridor" / "DJI_0002.JPG"]
    code, out, err = _run(
        capsys, "detect", *map(str, images), "--model", str(model_card), "--conf", conf, "--json"
    )
    assert code == 0 and err == []
    records = [json.loads(line) for line in out]
    assert records and {r["path"] for r in records} <= {str(p) for p in images}
    for r in records:
        assert set(r) >= DETECTION_FIELDS
        assert r["class"] in ("illegal_construction", "garbage_pile") and float(conf) <= r["score"] <= 1.0
        x0, y0, x1, y1 = r["xyxy_px"]
        assert 0 <= x0 < x1 <= 2000 and 0 <= y0 < y1 <= 1500
        assert isinstance(r["lat"], float) and isinstance(r["lon"], float)
        assert all(len(p) == 2 for p in r["footprint"])


@pytest.mark.slow
def test_detect_reports_bad_files_on_one_line_and_goes_on(
    capsys: pytest.CaptureFixture[str], model_card: Path, tmp_path: Path
):
    import cv2
    import numpy as np

    bad = tmp_path / "broken.JPG"
    bad.write_bytes(b"\xff\xd8 not really")
    untagged = tmp_path / "untagged.png"  # no EXIF/XMP at all: searched at the fallback scale, and said so
    cv2.imwrite(str(untagged), np.full((480, 640, 3), 90, np.uint8))
    good = SAMPLES / "nadir_mapping" / "DJI_0002.JPG"
    argv = ["detect", str(bad), str(untagged), str(good), "--model", str(model_card), "--frames", "--json"]
    code, out, err = _run(capsys, *argv)
    assert code == 1
    assert len([line for line in err if "error" in line]) == 1 and str(bad) in err[0]
    assert any(str(untagged) in line and "fallback scale" in line for line in err)
    frames = [json.loads(line) for line in out]
    assert [f["path"] for f in frames] == [str(untagged), str(good)]
    assert frames[0]["fallback_scale"] and not frames[0]["georeferenced"] and frames[1]["georeferenced"]


@pytest.mark.slow
def test_evaluate_json_has_a_row_per_class_and_one_for_all(
    capsys: pytest.CaptureFixture[str], model_card: Path
):
    flight = SAMPLES / "nadir_mapping"
    code, out, err = _run(capsys, "evaluate", str(flight), "--model", str(model_card), "--json", "--by-kind")
    assert code == 0 and err == []
    lines = [json.loads(line) for line in out]
    rows = [r for r in lines if "kind" not in r]
    for cls in ("illegal_construction", "garbage_pile"):  # the kinds of a class add up to it
        kinds = [r for r in lines if "kind" in r and r["class"] == cls]
        whole = next(r for r in rows if r["class"] == cls)
        assert kinds and sum(k["truth"] for k in kinds) == whole["truth"]
        assert sum(k["found"] for k in kinds) == whole["found"]
    assert [r["class"] for r in rows] == ["illegal_construction", "garbage_pile", "all"]
    for r in rows:
        assert set(r) >= EVALUATE_FIELDS and r["frames"] == 8 and r["flight"] == str(flight)
    assert rows[-1]["truth"] == 18
    if model_card == SHIPPED_MODEL:  # the trained model on a flight it never saw
        assert rows[-1]["recall"] >= 0.8


def test_a_missing_model_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    image = SAMPLES / "nadir_mapping" / "DJI_0001.JPG"
    code, out, err = _run(capsys, "detect", str(image), "--model", str(tmp_path / "none.json"), "--json")
    assert code == 2 and out == [] and len(err) == 1 and "none.json" in err[0]


def test_evaluate_on_a_folder_without_truth_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    code, _, err = _run(capsys, "evaluate", str(tmp_path), "--model", str(tmp_path / "none.json"))
    assert code == 2 and len(err) == 1
