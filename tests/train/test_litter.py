"""Scattered waste painted into real tiles (pipeline.train.litter) and written by build_real."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.train.litter import PAD, LitterSpec, paint_litter
from pipeline.train.realdata import RealRecipe, build_real

FLAT = LitterSpec(disturbed=0.0)  # no soil darkening: only the fragments and their shadows change pixels


def _ground(size: int = 320) -> np.ndarray:
    tile = np.empty((size, size, 3), np.uint8)
    tile[:] = (60, 110, 90)  # a flat grass colour, far from the padding grey
    return tile


@pytest.mark.parametrize("seed", range(6))
def test_every_painted_pixel_is_inside_the_box(seed):
    tile = _ground()
    out, box = paint_litter(tile, 0.08, np.random.default_rng(seed), FLAT)
    assert box is not None
    changed = np.abs(out.astype(int) - tile.astype(int)).max(axis=2) > 2
    assert changed.sum() > 20
    x0, y0, x1, y1 = box
    ys, xs = np.nonzero(changed)
    # The softening spreads a painted edge by at most the 5 x 5 neighbourhood it is blended over.
    assert xs.min() >= x0 - 2 and xs.max() < x1 + 2 and ys.min() >= y0 - 2 and ys.max() < y1 + 2
    assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 320


@pytest.mark.parametrize("gsd", [0.04, 0.08])
def test_the_patch_has_its_ground_size_at_any_resolution(gsd):
    # Patches 2-4 m long, fragments up to 0.5 m, shadows up to a third of a fragment: never more than
    # 4 + 2 x (0.25 + 0.17) m across on the ground, whatever the pixels.
    spec = LitterSpec(extent_m=(2.0, 4.0), fragment_m=(0.2, 0.5), disturbed=0.0)
    sides = []
    for seed in range(8):
        _, box = paint_litter(_ground(), gsd, np.random.default_rng(seed), spec)
        assert box is not None
        sides.append(max(box[2] - box[0], box[3] - box[1]) * gsd)
    assert max(sides) <= 4.0 + 2 * 0.42 + 2 * gsd
    assert min(sides) >= 0.5  # a patch, not a speck


def test_nothing_is_painted_on_padding():
    tile = np.full((320, 320, 3), PAD, np.uint8)
    out, box = paint_litter(tile, 0.08, np.random.default_rng(0))
    assert box is None and np.array_equal(out, tile)
    tile[:, :100] = (60, 110, 90)  # a strip of real ground 8 m wide: only small patches fit there
    small = LitterSpec(extent_m=(2.0, 3.0), disturbed=0.0)
    out, box = paint_litter(tile, 0.08, np.random.default_rng(1), small)
    assert box is not None and box[2] <= 100
    assert np.array_equal(out[:, 100:], tile[:, 100:])


def _real_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    for folder, name in (("boruszyn", "img_0001.jpg"), ("caliterra", "IMG_0001.jpg")):
        (tmp_path / folder).mkdir(parents=True)
        pixels = rng.integers(40, 200, (700, 900, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / folder / name), cv2.GaussianBlur(pixels, (0, 0), 3))
    return tmp_path


def test_build_real_writes_one_garbage_box_per_litter_tile_and_leaves_the_rest(tmp_path):
    root = _real_root(tmp_path / "real")
    recipe = RealRecipe(root=str(root), negatives=2, composites=0, litter=0)
    runs = {}
    for litter in (0, 3):
        out = tmp_path / f"ds{litter}"
        (out / "images" / "train").mkdir(parents=True)
        (out / "labels" / "train").mkdir(parents=True)
        summary = build_real(out, "train", replace(recipe, litter=litter))
        runs[litter] = out
        assert summary["litter_tiles"] == litter
    labels = sorted((runs[3] / "labels" / "train").glob("litter_*.txt"))
    assert len(labels) == 3
    for lab in labels:
        (line,) = lab.read_text().splitlines()
        cls, cx, cy, w, h = line.split()
        assert cls == "1"
        assert 0 < float(w) <= 1 and 0 < float(h) <= 1
        assert float(w) / 2 <= float(cx) <= 1 - float(w) / 2 + 1e-6
        assert float(h) / 2 <= float(cy) <= 1 - float(h) / 2 + 1e-6
        image = cv2.imread(str(runs[3] / "images" / "train" / f"{lab.stem}.png"))
        assert image is not None and image.shape == (320, 320, 3)
    for neg in sorted((runs[0] / "images" / "train").glob("real_*.png")):
        assert neg.read_bytes() == (runs[3] / "images" / "train" / neg.name).read_bytes()


def test_patrol_train_spells_out_litter_and_refuses_a_negative_count(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.train.plan import TrainPlan
    from pipeline.train_commands import plan_command

    plan = TrainPlan(out_dir="var/train/x", real_root="../shared/real_aerial", litter=600)
    assert "--real-negatives 600 --composites 600 --litter 600" in plan_command(plan)
    assert "--litter" not in plan_command(replace(plan, litter=0))
    assert plan.real_recipe() is not None and plan.real_recipe().litter == 600  # type: ignore[union-attr]
    assert main(["train", "--out", str(tmp_path / "run"), "--litter", "-1"]) == 2
    assert "litter not below 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
