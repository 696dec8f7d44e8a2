"""Dataset building on a tiny simulated flight: tile labels and pixels match the rescaled frame."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.simulate import simulate_flight
from pipeline.simulate.labels import DISTRACTOR_KINDS
from pipeline.train.dataset import (
    build_split,
    choose_tiles,
    frame_tiles,
    resize_frame,
    write_data_yaml,
)
from pipeline.train.recipe import CLASSES, DatasetRecipe, flight_settings
from pipeline.train.tiles import MIN_VISIBLE_SHARE, PixelBox, Tile

# Seeds below 100 belong to the tests (pipeline/train/recipe.py lists the ranges in use).
RECIPE = DatasetRecipe(
    seed=61,
    flights=1,
    frames_per_flight=1,
    imgsz=128,
    altitude_m=(60.0, 60.0),
    nadir_share=1.0,
    min_width_px=800,
    max_width_px=800,
    negatives_per_positive=1.0,
    rare_repeat=1,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("train-ds")
    summary = build_split(root / "ds", "train", RECIPE)
    manifest = simulate_flight(root / "flight", flight_settings(RECIPE, 0))
    return root, {"summary": summary, "manifest": manifest}


def _labels(path: Path) -> list[tuple[int, float, float, float, float]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(r[0]), *(float(v) for v in r[1:])) for r in rows]  # type: ignore[misc]


def test_flight_settings_are_a_function_of_the_recipe() -> None:
    a = flight_settings(DatasetRecipe(seed=1000, flights=5), 3)
    assert a == flight_settings(DatasetRecipe(seed=1000, flights=9), 3)
    assert a.seed == a.world_seed == 1003
    assert 40.0 <= a.altitude_m <= 150.0 and -90.0 <= a.pitch_deg <= -35.0
    assert a.width_px is not None and a.height_px == a.width_px * 3 // 4
    assert flight_settings(DatasetRecipe(seed=1000), 4) != flight_settings(DatasetRecipe(seed=3000), 4)


def test_tile_labels_match_the_rescaled_boxes(built: tuple[Path, dict[str, object]]) -> None:
    root, info = built
    manifest = info["manifest"]
    assert isinstance(manifest, dict)
    record = manifest["frames"][0]
    factor, size, tiles = frame_tiles(manifest, record, RECIPE)
    truth = [(CLASSES.index(b["class"]), [v * factor for v in b["xyxy_px"]]) for b in record["boxes"]]
    assert truth, "the test flight should see at least one target"
    images = sorted((root / "ds" / "images" / "train").glob("*.png"))
    assert images
    scaled = resize_frame(cv2.imread(str(root / "flight" / record["file"])), size)
    matched = 0
    for img in images:
        stem = img.stem
        x0, y0 = (int(part[1:]) for part in stem.split("_")[2:4])
        tile = cv2.imread(str(img))
        assert tile.shape == (128, 128, 3)
        want = scaled[y0 : y0 + 128, x0 : x0 + 128]
        assert np.array_equal(tile[: want.shape[0], : want.shape[1]], want)
        for cls, cx, cy, w, h in _labels(root / "ds" / "labels" / "train" / f"{stem}.txt"):
            box = (
                x0 + (cx - w / 2) * 128,
                y0 + (cy - h / 2) * 128,
                x0 + (cx + w / 2) * 128,
                y0 + (cy + h / 2) * 128,
            )
            # Each label is a truth box of the same class, clipped to the tile, with enough of it inside.
            hits = [
                t
                for c, t in truth
                if c == cls
                and box[0] >= t[0] - 0.01
                and box[1] >= t[1] - 0.01
                and box[2] <= t[2] + 0.01
                and box[3] <= t[3] + 0.01
                and (box[2] - box[0]) * (box[3] - box[1])
                >= MIN_VISIBLE_SHARE * (t[2] - t[0]) * (t[3] - t[1]) - 0.1
            ]
            assert hits, f"{stem}: label {cls} {box} matches no rescaled truth box"
            matched += 1
    assert matched >= 1
    # Every truth box wholly inside some tile is labelled in a written tile (positives are all kept).
    written = {tuple(int(p[1:]) for p in s.stem.split("_")[2:4]) for s in images}
    assert {(t.x0_px, t.y0_px) for t in tiles if t.boxes} <= written


def test_split_summary_counts_and_rebuild_is_skipped(built: tuple[Path, dict[str, object]]) -> None:
    root, info = built
    summary = info["summary"]
    labels = list((root / "ds" / "labels" / "train").glob("*.txt"))
    boxes = sum(len(p.read_text().splitlines()) for p in labels)
    assert summary.tiles == len(labels) and sum(summary.boxes) == boxes  # type: ignore[attr-defined]
    assert 0 < summary.positive_tiles < summary.tiles  # type: ignore[attr-defined]
    recorded = json.loads((root / "ds" / "recipe-train.json").read_text())
    assert recorded["recipe"]["seed"] == 61
    # Same recipe: nothing is rebuilt (the files keep their times); another recipe rebuilds.
    before = {p: p.stat().st_mtime_ns for p in labels}
    assert build_split(root / "ds", "train", RECIPE) == summary
    assert {p: p.stat().st_mtime_ns for p in labels} == before


def test_data_yaml_names_the_classes(tmp_path: Path) -> None:
    path = write_data_yaml(tmp_path, {"train": "images/train", "val": "images/val"})
    text = path.read_text()
    assert f"path: {tmp_path.resolve()}" in text
    assert "  0: illegal_construction\n  1: garbage_pile\n" in text


def test_bad_recipe_is_a_model_error(tmp_path: Path) -> None:
    from pipeline.errors import ModelError

    with pytest.raises(ModelError, match="imgsz"):
        build_split(tmp_path, "train", replace(RECIPE, imgsz=100))


def _tile(x0: int, target: bool = False, kinds: tuple[str, ...] = ()) -> Tile:
    boxes = (PixelBox(0, (1.0, 1.0, 20.0, 20.0)),) if target else ()
    return Tile(x0, 0, 128, boxes, 1.0, frozenset(kinds))


def test_hard_negatives_come_from_tiles_showing_a_rare_look_alike() -> None:
    pos = [_tile(k, target=True) for k in range(4)]
    hard = [_tile(100 + k, kinds=("sports_court",)) for k in range(10)]
    plain = [_tile(200 + k) for k in range(30)]
    tiles = pos + hard + plain
    recipe = replace(RECIPE, negatives_per_positive=0.5, hard_negatives_per_positive=1.0)
    chosen = choose_tiles(tiles, recipe, np.random.default_rng(0))
    assert chosen[:4] == pos
    assert all(t in hard for t in chosen[4:8]) and len(set(map(id, chosen))) == len(chosen) == 10
    # Without the hard draw the choice is what it always was (old recipes rebuild the same tiles).
    plain_recipe = replace(RECIPE, negatives_per_positive=0.5)
    a = choose_tiles(tiles, plain_recipe, np.random.default_rng(0))
    neg = [t for t in tiles if not t.boxes]
    picked = sorted(np.random.default_rng(0).choice(len(neg), size=2, replace=False).tolist())
    assert a == pos + [neg[i] for i in picked]
    # Fewer look-alikes than asked for: all of them, no repeats.
    few = choose_tiles(pos + hard[:2] + plain, recipe, np.random.default_rng(1))
    assert sum(t in hard for t in few) == 2 and len(few) == 4 + 2 + 2


def test_frames_list_the_look_alikes_they_show() -> None:
    # The committed oblique sample flight sees a few hundred metres of town: cars and courts at least.
    manifest = json.loads(Path("sample_flights/oblique_corridor/manifest.json").read_text())
    width, height = manifest["resolved"]["width_px"], manifest["resolved"]["height_px"]
    kinds = set()
    for record in manifest["frames"]:
        targets = {b["id"] for b in record["boxes"]}
        for d in record["distractors"]:
            assert d["kind"] in DISTRACTOR_KINDS and d["id"].startswith("S-") and d["id"] not in targets
            x0, y0, x1, y1 = d["xyxy_px"]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
            kinds.add(d["kind"])
    assert len(kinds) >= 2
