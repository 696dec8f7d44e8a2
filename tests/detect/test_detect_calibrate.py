"""Per-class minimum scores from whole flights: the F1-best threshold, and the model card that keeps it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from detect_fakes import ColourDetector, canvas, draw
from detect_helpers import view

from pipeline.cli import main
from pipeline.detect.calibrate import choose_min_score, score_curve
from pipeline.detect.detector import DetectSettings, detect_frame
from pipeline.detect.evaluate import TruthObject
from pipeline.detect.model import SHIPPED_MODEL, load_model_spec
from pipeline.errors import ModelError
from pipeline.types import Detection

SAMPLES = Path(__file__).resolve().parents[2] / "sample_flights"


def _square(key: str, lat: float, cls: str = "illegal_construction", labelled: bool = True) -> TruthObject:
    d = 0.00002  # about 2 m
    ring = ((lat - d, 113.0 - d), (lat - d, 113.0 + d), (lat + d, 113.0 + d), (lat + d, 113.0 - d))
    return TruthObject(key, cls, ring, labelled)


def _det(lat: float, score: float, cls: str = "illegal_construction") -> Detection:
    return Detection("f.jpg", cls, score, (0.0, 0.0, 10.0, 10.0), lat, 113.0)


def test_the_threshold_with_the_best_object_level_f1_wins() -> None:
    truth = [
        _square("A", 23.000),
        _square("B", 23.001),
        _square("C", 23.002),
        _square("U", 23.003, labelled=False),
    ]
    found = [_det(23.000, 0.9), _det(23.001, 0.6), _det(23.002, 0.3)]
    false = [_det(23.010 + k * 0.001, s) for k, s in enumerate((0.5, 0.4, 0.2, 0.1))]
    ignored = [_det(23.003, 0.95)]  # finds an object no frame labels: neither right nor wrong
    other_class = [_det(23.02, 0.99, "garbage_pile")]
    choice = choose_min_score("illegal_construction", [(found + false + ignored + other_class, truth)], 2.0)
    # At 0.55 and 0.6 alike: A and B found, nothing false (F1 0.8); the lower one is kept.
    assert choice.min_score == 0.55 and choice.recall == pytest.approx(2 / 3) and choice.precision == 1.0
    assert choice.f1 == 0.8 and choice.truth == 3 and choice.detections == 2
    # The whole curve, by hand: at 0.65 only A (1 of 3, nothing false); at 0.35 A and B against the 0.5 and
    # 0.4 false ones; at 0.05 all three against four false ones.
    curve = {
        c.min_score: c for c in score_curve("illegal_construction", [(found + false + ignored, truth)], 2.0)
    }
    assert (curve[0.65].recall, curve[0.65].precision) == pytest.approx((1 / 3, 1.0))
    assert (curve[0.35].recall, curve[0.35].precision, curve[0.35].detections) == pytest.approx(
        (2 / 3, 0.5, 4)
    )
    assert (curve[0.05].recall, curve[0.05].precision) == pytest.approx((1.0, 3 / 7))
    assert curve[0.9].recall == pytest.approx(1 / 3) and curve[0.9].f1 == 0.5
    with pytest.raises(ModelError, match="cannot calibrate garbage_pile: the flights label none"):
        choose_min_score("garbage_pile", [(found, truth)], 2.0)
    with pytest.raises(ModelError, match="no detection finds one"):
        choose_min_score("illegal_construction", [(false, truth)], 2.0)


def test_each_class_is_held_to_its_own_minimum() -> None:
    image = canvas(4000, 3000)
    draw(image, (1000, 1400, 1100, 1480), 0)
    draw(image, (2800, 1400, 2900, 1480), 1)
    # The fake scores everything 0.9: a card minimum of 0.95 for class 0 drops its blob, 0.5 keeps the other.
    strict = ColourDetector(min_score=(0.95, 0.5))
    found = detect_frame(image, view(60.0), strict).detections
    assert [d.class_name for d in found] == ["garbage_pile"]
    # An explicit --conf is for every class and replaces the card's minimums.
    both = detect_frame(image, view(60.0), strict, DetectSettings(conf=0.5)).detections
    assert sorted(d.class_name for d in both) == ["garbage_pile", "illegal_construction"]
    assert DetectSettings().thresholds(("a", "b")).tolist() == [0.25, 0.25]
    assert np.allclose(DetectSettings().thresholds(("a", "b"), (0.3, 0.6)), [0.3, 0.6])


def test_a_card_with_bad_minimums_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "w.onnx").write_bytes(b"x")
    base = {"classes": ["a", "b"], "imgsz": 320, "gsd_m": 0.08, "onnx": "w.onnx"}
    card = tmp_path / "card.json"
    card.write_text(json.dumps({**base, "min_score": {"a": 0.4, "b": 0.3}}))
    assert load_model_spec(card).min_score == (0.4, 0.3)
    for bad, why in (({"a": 0.4}, "one score per class"), ({"a": 0.4, "b": 1.5}, r"in \(0, 1\)")):
        card.write_text(json.dumps({**base, "min_score": bad}))
        with pytest.raises(ModelError, match=why):
            load_model_spec(card)


@pytest.mark.slow
def test_calibrate_writes_the_minimums_into_a_model_card(
    capsys: pytest.CaptureFixture[str], model_card: Path, tmp_path: Path
) -> None:
    raw = json.loads(model_card.read_text())
    for key in ("weights", "onnx"):
        if raw.get(key):
            shutil.copy(model_card.parent / raw[key], tmp_path / raw[key])
    raw.pop("min_score", None)
    card = tmp_path / "card.json"
    card.write_text(json.dumps(raw))
    args = ["calibrate", str(SAMPLES / "nadir_mapping"), "--model", str(card), "--write", "--json", "--table"]
    code = main(args)
    out, err = capsys.readouterr()
    if model_card != SHIPPED_MODEL:  # the untrained stand-in finds nothing: it cannot be calibrated
        assert code == 2 and "cannot calibrate" in err and "\n" not in err.strip()
        return
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    rows = [r for r in lines if "row" not in r]
    table = [r for r in lines if r.get("row") == "threshold"]
    for r in rows:  # the choice is the table's best F1 for its class, at the lowest threshold among equals
        curve = [t for t in table if t["class_name"] == r["class_name"]]
        assert len(curve) == 18 and max(t["f1"] for t in curve) == r["f1"]
        assert min(t["min_score"] for t in curve if t["f1"] == r["f1"]) == r["min_score"]
    assert [r["class_name"] for r in rows] == ["illegal_construction", "garbage_pile"]
    spec = load_model_spec(card)
    assert spec.min_score == tuple(r["min_score"] for r in rows)
    assert all(0.0 < s < 1.0 for s in spec.min_score) and all(r["f1"] > 0.5 for r in rows)
    assert "nadir_mapping" in json.loads(card.read_text())["min_score_from"]
