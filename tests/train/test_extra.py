"""`patrol train --extra`: exported review frames cut into tiles at the model's ground resolution."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.errors import ModelError
from pipeline.train.extra import Holdout, add_extra, flight_of, held_out_flights
from pipeline.train.recipe import DatasetRecipe

ROOT = Path(__file__).resolve().parents[2]
FLIGHT = ROOT / "sample_flights" / "nadir_mapping"
RECIPE = DatasetRecipe(seed=61, gsd_m=0.08, imgsz=128)
MAGENTA = (255, 0, 255)


def _dataset(tmp_path: Path, frames: dict[str, tuple[np.ndarray | Path, str]]) -> Path:
    """A YOLO dataset of whole frames, as `patrol export-training` writes one: name -> (pixels or a file to
    copy, label text)."""
    ds = tmp_path / "export"
    for kind in ("images", "labels"):
        (ds / kind / "train").mkdir(parents=True)
    for name, (pixels, text) in frames.items():
        if isinstance(pixels, Path):
            shutil.copyfile(pixels, ds / "images" / "train" / name)
        else:
            cv2.imwrite(str(ds / "images" / "train" / name), pixels)
        (ds / "labels" / "train" / f"{Path(name).stem}.txt").write_text(text)
    return ds


def _split(tmp_path: Path) -> Path:
    out = tmp_path / "ds"
    for kind in ("images", "labels"):
        (out / kind / "train").mkdir(parents=True)
    return out


def _tile_boxes(label: Path, size: int) -> list[tuple[int, tuple[float, float, float, float]]]:
    out = []
    for row in label.read_text().splitlines():
        cls, cx, cy, w, h = row.split()
        c = [float(v) * size for v in (cx, cy, w, h)]
        out.append((int(cls), (c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2)))
    return out


def test_a_posed_frame_is_cut_at_the_target_ground_resolution(tmp_path: Path) -> None:
    """A sample frame with its simulator-written EXIF/XMP: nadir from about 100 m, so its GSD is height /
    focal length in pixels (the manifest's truth), and the tiles are that frame shrunk to 0.08 m/px."""
    manifest = json.loads((FLIGHT / "manifest.json").read_text())
    record = next(r for r in manifest["frames"] if r["file"] == "DJI_0001.JPG")
    gsd = record["true_pose"]["height_m"] / manifest["camera"]["focal_px"]
    factor = gsd / RECIPE.gsd_m
    label = (FLIGHT / "labels" / "DJI_0001.txt").read_text()
    ds = _dataset(tmp_path, {"DJI_0001.JPG": (FLIGHT / "DJI_0001.JPG", label)})
    out = _split(tmp_path)
    summary = add_extra(out, "train", (str(ds),), RECIPE)

    assert summary["frames"] == 1 and summary["unposed_frames"] == 0
    truth = [(b["class"], [v * factor for v in b["xyxy_px"]]) for b in record["boxes"]]
    tiles = sorted((out / "labels" / "train").glob("extra0_*.txt"))
    assert summary["tiles"] == len(tiles) and summary["positive_tiles"] >= 1
    names = ["illegal_construction", "garbage_pile"]
    for path in tiles:
        x0, y0 = (int(part[1:]) for part in path.stem.split("_")[-2:])
        assert cv2.imread(str(out / "images" / "train" / f"{path.stem}.png")).shape == (128, 128, 3)
        for cls, (bx0, by0, bx1, by1) in _tile_boxes(path, 128):
            # Inside a truth box of its class at the closed-form scale (clipped by the tile border; the
            # written height carries the simulated barometer's error, a few per cent).
            assert any(
                c == names[cls]
                and bx0 + x0 >= t[0] * 0.95 - 2
                and by0 + y0 >= t[1] * 0.95 - 2
                and bx1 + x0 <= t[2] * 1.05 + 2
                and by1 + y0 <= t[3] * 1.05 + 2
                for c, t in truth
            ), f"{path.name}: box matches no truth box"
    # Mostly targets: all positive tiles and at most two empty ones.
    assert summary["tiles"] - summary["positive_tiles"] <= 2
    assert sum(summary["boxes"].values()) >= len(record["boxes"]) // 2


def test_a_frame_without_a_pose_is_cut_at_the_no_height_passes(tmp_path: Path) -> None:
    """No metadata at all (a PNG): each pass's tiles are the frame shrunk by the factor its labels say (the
    target's extent over the pass's tiles / its width in the frame), pixel for pixel."""
    frame = np.full((900, 1200, 3), 60, np.uint8)
    cv2.rectangle(frame, (500, 400), (539, 429), (30, 200, 230), -1)  # a 40 x 30 px target
    label = f"1 {520 / 1200:.6f} {415 / 900:.6f} {40 / 1200:.6f} {30 / 900:.6f}\n"
    ds = _dataset(tmp_path, {"case.png": (frame, label)})
    out = _split(tmp_path)
    summary = add_extra(out, "train", (str(ds),), RECIPE, negatives_per_frame=0)

    assert summary["unposed_frames"] == 1 and summary["boxes"]["garbage_pile"] >= 1
    passes: dict[str, list[tuple[Path, tuple[float, float, float, float]]]] = {}
    for path in sorted((out / "labels" / "train").glob("extra0_*.txt")):
        boxes = _tile_boxes(path, 128)
        assert len(boxes) == 1 and boxes[0][0] == 1
        passes.setdefault(path.stem.split("_")[-3], []).append((path, boxes[0][1]))
    assert len(passes) >= 2, "a frame with no height is searched at several scales, so trained at them"
    for tiles in passes.values():
        origins = [tuple(int(part[1:]) for part in p.stem.split("_")[-2:]) for p, _ in tiles]
        left = min(o[0] + b[0] for o, (_, b) in zip(origins, tiles, strict=True))
        right = max(o[0] + b[2] for o, (_, b) in zip(origins, tiles, strict=True))
        f = (right - left) / 40
        scaled = cv2.resize(frame, (round(1200 * f), round(900 * f)), interpolation=cv2.INTER_AREA)
        for path, (bx0, by0, bx1, by1) in tiles:
            x0, y0 = (int(part[1:]) for part in path.stem.split("_")[-2:])
            tile = cv2.imread(str(out / "images" / "train" / f"{path.stem}.png"))
            want = scaled[y0 : y0 + 128, x0 : x0 + 128]
            # The same picture (a rounding pixel of the scaled size aside), the box where its pixels are.
            assert np.abs(tile[: want.shape[0], : want.shape[1]].astype(int) - want).mean() < 3
            centre = tile[int((by0 + by1) / 2), int((bx0 + bx1) / 2)]
            assert tuple(int(v) for v in centre) == (30, 200, 230)


def test_rejected_sightings_become_hard_negatives_and_other_empty_tiles_are_few(tmp_path: Path) -> None:
    """A frame staff rejected: the tiles showing the rejected thing (magenta here) are all kept, with empty
    labels, and at most `negatives_per_frame` tiles besides."""
    frame = np.full((1500, 2000, 3), 90, np.uint8)
    cv2.rectangle(frame, (1400, 300), (1479, 379), MAGENTA, -1)
    ds = _dataset(tmp_path, {"rej.png": (frame, "")})
    entry = {"image": "rej.png", "frame": "x", "boxes": 0, "rejected": [[1400, 300, 1480, 380]]}
    record = {"frames": [entry]}
    (ds / "export.json").write_text(json.dumps(record))
    out = _split(tmp_path)
    summary = add_extra(out, "train", (str(ds),), RECIPE, negatives_per_frame=1)

    with_magenta = without = 0
    for path in (out / "images" / "train").glob("extra0_*.png"):
        assert (out / "labels" / "train" / f"{path.stem}.txt").read_text() == ""
        tile = cv2.imread(str(path))
        shows = bool(np.all(np.abs(tile.astype(int) - MAGENTA) < 40, axis=2).sum() >= 4)
        with_magenta += shows
        without += not shows
    assert summary["frames"] == 1 and summary["cuts"] >= 2  # no pose: the no-height passes
    assert summary["positive_tiles"] == 0 and with_magenta >= summary["cuts"]
    assert without <= summary["cuts"]  # one other empty tile per cut at most


def test_earlier_extras_are_replaced_and_bad_labels_named(tmp_path: Path) -> None:
    frame = np.full((300, 400, 3), 60, np.uint8)
    out = _split(tmp_path)
    stale = out / "images" / "train" / "extra0_old.png"
    cv2.imwrite(str(stale), frame)
    add_extra(out, "train", (str(_dataset(tmp_path / "a", {"f.png": (frame, "")})),), RECIPE)
    assert not stale.exists()
    bad = _dataset(tmp_path / "b", {"g.png": (frame, "7 0.5 0.5 0.1 0.1\n")})
    with pytest.raises(ModelError, match="unknown class 7") as err:
        add_extra(out, "train", (str(bad),), RECIPE)
    assert "g.txt" in str(err.value)
    with pytest.raises(ModelError, match="not a YOLO dataset"):
        add_extra(out, "train", (str(tmp_path / "nothing"),), RECIPE)


def test_held_out_flights_are_a_share_and_each_keeps_its_side_as_flights_are_added() -> None:
    many = {f"inbox/2026-11-{d:02d}_{k}" for d in range(1, 31) for k in range(4)}  # 120 flights
    held = held_out_flights(many, 0.25)
    # A quarter, give or take what 120 coin flips at 1 in 4 spread to (4 standard deviations: 4.7 each).
    assert 30 - 19 <= len(held) <= 30 + 19
    assert held <= many and not held_out_flights(many, 0.0)
    # Exporting again after more flights: every earlier flight stays on the side it was on.
    fewer = set(sorted(many)[:60])
    assert held_out_flights(fewer, 0.25) == held & fewer
    # Never all or none of two or more flights; one flight alone is held out by its hash like any other.
    for share in (1e-9, 1 - 1e-9):
        two = held_out_flights({"a", "b"}, share)
        assert len(two) == 1 and two <= {"a", "b"}
    assert held_out_flights({"a"}, 1e-9) == frozenset() and held_out_flights({"a"}, 1 - 1e-9) == {"a"}


def test_a_frame_belongs_to_the_flight_folder_it_was_read_from() -> None:
    assert flight_of("inbox/2026-11-30_east/DJI_0007.JPG") == "inbox/2026-11-30_east"
    assert flight_of("C:\\drone\\n1\\DJI_0001.JPG") == "C:/drone/n1"
    assert flight_of("DJI_0001.JPG") == "DJI_0001.JPG"


def test_held_out_flights_are_cut_apart_from_training_whole(tmp_path: Path) -> None:
    """Six frames of three flights: the training call and the held-out call cut disjoint frames that
    together are all six, and the two frames of a flight always land on the same side."""
    frames, entries = {}, []
    for f in range(3):
        for k in range(2):
            name = f"f{f}k{k}.png"
            frame = np.full((300, 400, 3), 40 + 30 * f, np.uint8)
            cv2.rectangle(frame, (180, 130), (219, 169), (30, 200, 230), -1)
            frames[name] = (frame, f"1 {200 / 400:.6f} {150 / 300:.6f} {40 / 400:.6f} {40 / 300:.6f}\n")
            entries.append({"image": name, "frame": f"inbox/flight{f}/DJI_000{k}.JPG", "rejected": []})
    ds = _dataset(tmp_path, frames)
    (ds / "export.json").write_text(json.dumps({"frames": entries}))
    out = _split(tmp_path)
    trained = add_extra(out, "train", (str(ds),), RECIPE, holdout=Holdout(0.5, held=False))
    held = add_extra(out, "extra_held_out", (str(ds),), RECIPE, holdout=Holdout(0.5, held=True))

    def cut(split: str) -> set[str]:
        return {p.stem.split("_")[1] for p in (out / "images" / split).glob("extra0_*.png")}

    in_train, in_held = cut("train"), cut("extra_held_out")
    assert in_train and in_held and not in_train & in_held
    assert in_train | in_held == {Path(n).stem for n in frames}
    for side in (in_train, in_held):
        assert all(f"f{f}k0" in side if f"f{f}k1" in side else f"f{f}k0" not in side for f in range(3))
    assert trained["flights"] == held["flights"] == 3
    assert trained["flights_cut"] + held["flights_cut"] == 3
    assert trained["frames"] + held["frames"] == 6
