"""Mined hard negatives: the alarms are where the boxed things are in the frame, every mined tile holds one,
held-out frames are never mined, and the run names the miner's weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.detect.backends import open_detector
from pipeline.detect.model import SHIPPED_MODEL, load_model_spec
from pipeline.errors import ModelError
from pipeline.train.mining import alarms_in
from pipeline.train.realdata import SOURCES, RealRecipe, build_real

FLIGHT = Path(__file__).resolve().parents[2] / "sample_flights" / "nadir_mapping"
RED = (0, 0, 255)


def _truth(name: str, width: int, height: int) -> list[tuple[float, float, float, float]]:
    """The simulator's own boxes of a sample frame (YOLO lines), in pixels."""
    out = []
    for line in (FLIGHT / "labels" / f"{Path(name).stem}.txt").read_text().splitlines():
        _c, cx, cy, w, h = (float(v) for v in line.split())
        out.append(((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height))
    return out


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _inside(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The share of box a inside box b."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h / ((a[2] - a[0]) * (a[3] - a[1]))


def test_alarms_are_in_the_frames_pixels_where_the_targets_are():
    """A simulated frame searched in overlapping tiles: every alarm lies on one of the simulator's own boxes
    and most match one (so each tile's offset was added back, far from the first tile too), and no alarm is
    raised twice from two tiles."""
    image = cv2.imread(str(FLIGHT / "DJI_0001.JPG"))
    truth = _truth("DJI_0001.JPG", image.shape[1], image.shape[0])
    spec = load_model_spec(SHIPPED_MODEL)
    found = alarms_in(open_detector(spec, backend="torch"), image, spec.imgsz, 0.2, 0.5)
    for alarm in found:
        assert max(_inside(alarm.box, t) for t in truth) > 0.8, alarm  # a part of a target at worst
    matched = [a for a in found if max(_iou(a.box, t) for t in truth) > 0.7]
    assert len(matched) >= 6
    assert max(a.box[0] for a in matched) > 2 * spec.imgsz and max(a.box[1] for a in matched) > 2 * spec.imgsz
    for k, a in enumerate(found):
        assert all(_iou(a.box, b.box) < 0.3 for b in found[k + 1 :])


def _real_root(tmp_path: Path) -> Path:
    """Real scenery folders whose one training frame is a simulated frame (targets the shipped model boxes)
    and whose held-out frames are red."""
    root = tmp_path / "real"
    for src in SOURCES:
        (root / src.folder).mkdir(parents=True)
        for name in src.held_out:
            cv2.imwrite(str(root / src.folder / name), np.full((600, 800, 3), RED, np.uint8))
    shutil.copy(FLIGHT / "DJI_0001.JPG", root / SOURCES[0].folder / "train_a.jpg")
    return root


def test_mined_tiles_hold_an_alarm_each_with_empty_labels_and_never_a_held_out_pixel(tmp_path):
    out = tmp_path / "ds"
    (out / "images" / "train").mkdir(parents=True)
    (out / "labels" / "train").mkdir(parents=True)
    recipe = RealRecipe(
        root=str(_real_root(tmp_path)), negatives=0, composites=0, mined=12, miner=str(SHIPPED_MODEL)
    )
    summary = build_real(out, "train", recipe)
    tiles = sorted((out / "images" / "train").glob("mine_*.png"))
    assert summary["mined_tiles"] == len(tiles) == 12
    assert sum(summary["mined_alarms"].values()) > 0
    spec = load_model_spec(SHIPPED_MODEL)
    detect = open_detector(spec, backend="torch")
    for t in tiles:
        tile = cv2.imread(str(t))
        assert tile.shape == (spec.imgsz, spec.imgsz, 3)
        assert not (np.abs(tile.astype(int) - RED).sum(axis=2) < 60).any()
        assert (out / "labels" / "train" / f"{t.stem}.txt").read_text() == ""
        # What was mined is in the tile: the model raises something on it again (turned or not).
        assert len(detect(tile[None], 0.25, 0.5)[0]) > 0, t.name


def test_mining_needs_a_miner_and_the_cli_spells_it_out(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.train.plan import TrainPlan
    from pipeline.train_commands import plan_command

    recipe = RealRecipe(root=str(tmp_path), negatives=0, composites=0, mined=5)
    with pytest.raises(ModelError, match="model card to mine with"):
        build_real(tmp_path, "train", recipe)
    plan = TrainPlan(out_dir="x", real_root="r", mined=300, miner="models/patrol-det.json")
    assert "--mine 300 --miner models/patrol-det.json" in plan_command(plan)
    assert plan.real_recipe().miner == "models/patrol-det.json"  # type: ignore[union-attr]
    assert main(["train", "--out", str(tmp_path / "run"), "--mine", "10"]) == 2
    assert "--miner" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_hard_simulated_tiles_are_the_ones_with_a_box_no_label_explains(tmp_path):
    """Two tiles cut from one simulated frame: one with its targets labelled, one with its labels removed.
    Only the second is hard (the model's boxes there match no label); its copies carry its (empty) labels,
    the first tile is never copied."""
    from pipeline.train.mining import hard_simulated

    image = cv2.imread(str(FLIGHT / "DJI_0001.JPG"))
    truth = _truth("DJI_0001.JPG", image.shape[1], image.shape[0])
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    size = load_model_spec(SHIPPED_MODEL).imgsz
    x, y = 100, 500  # a part of the frame with a whole target and parts of others
    cv2.imwrite(str(images / "s_labelled.png"), image[y : y + size, x : x + size])
    cv2.imwrite(str(images / "s_unlabelled.png"), image[y : y + size, x : x + size])
    classes = [int(line.split()[0]) for line in (FLIGHT / "labels" / "DJI_0001.txt").read_text().splitlines()]
    lines = []
    for c, (x0, y0, x1, y1) in zip(classes, truth, strict=True):
        a, b = max(x0 - x, 0), max(y0 - y, 0)
        e, f = min(x1 - x, size), min(y1 - y, size)
        if e > a and f > b:  # the simulator's box, clipped to the tile as its own tiles are
            lines.append(f"{c} {(a + e) / 2 / size} {(b + f) / 2 / size} {(e - a) / size} {(f - b) / size}")
    assert lines
    (labels / "s_labelled.txt").write_text("\n".join(lines) + "\n")
    (labels / "s_unlabelled.txt").write_text("")
    copies, found = hard_simulated(images, labels, SHIPPED_MODEL, 4, np.random.default_rng(0))
    assert found == 1 and len(copies) == 4
    plain = cv2.imread(str(images / "s_unlabelled.png"))
    for tile, boxes in copies:
        assert boxes == []
        assert any(
            np.array_equal(np.rot90(tile, k), plain) or np.array_equal(np.rot90(tile[:, ::-1], k), plain)
            for k in range(4)
        )
