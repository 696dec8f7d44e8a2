"""Reviewed frames back into training tiles: `patrol export-training` output cut the way simulated frames are.

An exported image is the whole drone frame, EXIF and XMP included, with the confirmed boxes in its pixels.
Handed to ultralytics as it is, a 4000 x 3000 frame is shrunk to one 320 px tile, about twelve times coarser
than the ground resolution the model works at, and a 1.5 m pile becomes a few pixels. So each frame is
rescaled the way detection rescales it and cut into tiles:

- a frame with a usable pose: to the target GSD at its centre, tiles whose own GSD strays outside the
  recipe's range dropped (an oblique frame's far field, which detection shows the model at another scale);
- a frame without one (no height tag, an unknown camera): at each pass `patrol detect` searches such a
  frame in (pipeline.detect.scale.fallback_plans), so training sees what the product shows.

Every tile holding a confirmed box is kept. Of the tiles without one, those showing a sighting staff
rejected (export.json lists them) are kept as hard negatives, and at most `negatives_per_frame` others at
random: a confirmed frame is mostly ordinary ground the simulated and real negatives already cover.

`patrol train --extra-holdout F` keeps about a share F of each export's flights out of training and cuts
them, the same way, into a validation split of their own: the model card's numbers on real reviewed frames.
Whole flights are held out, never single frames, since neighbouring frames show the same objects.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from pipeline.detect.detector import camera_for
from pipeline.errors import ModelError
from pipeline.ingest import FrameRef, frame_meta
from pipeline.simulate.labels import SceneryBox
from pipeline.train.dataset import resize_frame, tile_window
from pipeline.train.realdata import fallback_factors
from pipeline.train.recipe import CLASSES, DatasetRecipe
from pipeline.train.tiles import (
    PixelBox,
    Tile,
    cut_tiles,
    local_gsd_m,
    rescale_factor,
    scale_boxes,
    tile_gsd_ratios,
)
from pipeline.types import CameraView, Intrinsics

REJECTED = "rejected"  # the distractor kind a rejected sighting is carried as through cut_tiles
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


@dataclass(frozen=True)
class Scale:
    """One way to cut a frame: pixels of the cut per original pixel, and each tile origin's GSD ratio
    (None: the whole cut is taken at the target, as for a frame without a pose)."""

    factor: float
    ratios: dict[tuple[int, int], float] | None


def scales_for(
    view: CameraView | None, intrinsics: Intrinsics | None, width: int, height: int, recipe: DatasetRecipe
) -> list[Scale]:
    """The cuts detection would make of a frame of this size and camera (see the module's docstring)."""
    if view is not None:
        intr, pose = view.intrinsics, view.pose
        if (intr.width_px, intr.height_px) == (width, height):
            factor = rescale_factor(local_gsd_m(intr, pose, intr.cx_px, intr.cy_px), recipe.gsd_m)
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            return [Scale(factor, tile_gsd_ratios(intr, pose, size, factor, recipe.imgsz, recipe.overlap))]
        intrinsics = None  # metadata of another image shape (turned, cropped): detection ignores it too
    factors = fallback_factors(width, height, intrinsics, recipe.gsd_m, recipe.imgsz)
    return [Scale(f, None) for f in factors]


def pixel_boxes(label_text: str, width: int, height: int, where: str) -> list[PixelBox]:
    """YOLO label lines (class, centre and size as shares of the frame) -> boxes in frame pixels."""
    out = []
    for n, line in enumerate(label_text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        try:
            cls, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:5])
        except ValueError:
            raise ModelError(f"label line {n} is not 'class cx cy w h'", where) from None
        if len(parts) != 5:
            raise ModelError(f"label line {n} is not 'class cx cy w h'", where)
        if cls not in range(len(CLASSES)):
            raise ModelError(f"label line {n} has unknown class {cls}", where)
        box = ((cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height)
        out.append(PixelBox(cls, box))
    return out


def frame_tiles(
    size: tuple[int, int],
    boxes: list[PixelBox],
    rejected: list[tuple[float, float, float, float]],
    scale: Scale,
    recipe: DatasetRecipe,
    negatives: int,
    rng: np.random.Generator,
) -> list[Tile]:
    """The tiles of one cut to keep: all with a confirmed box, those showing a rejected sighting, and up to
    `negatives` other empty ones."""
    f = scale.factor
    scaled = (max(1, round(size[0] * f)), max(1, round(size[1] * f)))
    shown = [
        SceneryBox(f"r{k}", REJECTED, (x0 * f, y0 * f, x1 * f, y1 * f))
        for k, (x0, y0, x1, y1) in enumerate(rejected)
    ]
    tiles = cut_tiles(scaled, scale_boxes(boxes, f), recipe.imgsz, recipe.overlap, scale.ratios, shown)
    lo, hi = recipe.gsd_ratio
    tiles = [t for t in tiles if lo <= t.gsd_ratio <= hi]
    keep = [t for t in tiles if t.boxes or t.distractors]
    rest = [t for t in tiles if not t.boxes and not t.distractors]
    picked = rng.choice(len(rest), size=min(negatives, len(rest)), replace=False).tolist() if rest else []
    return keep + [rest[int(i)] for i in sorted(picked)]


def _export_record(dataset: Path) -> dict[str, tuple[str, list[tuple[float, float, float, float]]]]:
    """Image name -> (the flight it came from, the rejected sightings' boxes in its pixels), from
    export.json (absent: each image its own flight, no rejected sightings known)."""
    record = dataset / "export.json"
    if not record.is_file():
        return {}
    try:
        frames = json.loads(record.read_text(encoding="utf-8")).get("frames", [])
        return {
            f["image"]: (
                flight_of(str(f.get("frame") or f["image"])),
                [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in f.get("rejected", [])],
            )
            for f in frames
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ModelError("export.json is not an export-training record", str(record)) from None


def flight_of(frame_path: str) -> str:
    """The flight a frame belongs to: its folder (a flight is one folder of photos, `patrol process`'s
    input), or the frame itself when it names no folder. Frames of one flight see the same objects from
    a few metres apart, so they are held out together or not at all."""
    parent = PurePosixPath(frame_path.replace("\\", "/")).parent
    return str(parent) if str(parent) not in ("", ".") else frame_path


def held_out_flights(flights: set[str], share: float) -> frozenset[str]:
    """The flights kept out of training for validation, about `share` of them.

    A flight is held out when a hash of its name falls below `share`, so the choice does not depend on the
    other flights: exporting again after more flights keeps every earlier flight on its side. With two or
    more flights, at least one is held out and at least one trains (the lowest or highest hash moved)."""
    if share <= 0 or not flights:
        return frozenset()
    ranked = sorted(flights, key=lambda f: (_unit_hash(f), f))
    held = [f for f in ranked if _unit_hash(f) < share]
    if len(ranked) >= 2:
        if not held:
            held = ranked[:1]
        elif len(held) == len(ranked):
            held = ranked[:-1]
    return frozenset(held)


def _unit_hash(name: str) -> float:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2.0**64


@dataclass(frozen=True)
class Holdout:
    """Which frames of the exports a call cuts: with `share` 0, all; else the flights `held_out_flights`
    holds out (`held` True, a validation split) or the others (`held` False, training)."""

    share: float = 0.0
    held: bool = False


def add_extra(
    out_dir: Path,
    split: str,
    datasets: tuple[str, ...],
    recipe: DatasetRecipe,
    negatives_per_frame: int = 2,
    holdout: Holdout = Holdout(),
) -> dict[str, Any]:
    """Cut the frames of other YOLO datasets (`patrol export-training` output) into `extra{k}_*` tiles of a
    split; earlier extras are replaced. Returns counts: frames, cuts (a frame without a pose is cut once per
    no-height pass), tiles, positive tiles, boxes per class, frames cut without a pose, and the flights
    seen and cut (`holdout` chooses which flights' frames this call cuts)."""
    images, labels = out_dir / "images" / split, out_dir / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for old in [*images.glob("extra*_*"), *labels.glob("extra*_*")]:
        old.unlink()
    counts = {"frames": 0, "cuts": 0, "tiles": 0, "positive_tiles": 0, "unposed_frames": 0}
    boxes_per_class = [0] * len(CLASSES)
    flights_seen, flights_cut = 0, 0
    for k, name in enumerate(datasets):
        src = Path(name)
        src_images, src_labels = src / "images" / "train", src / "labels" / "train"
        if not src_images.is_dir() or not src_labels.is_dir():
            raise ModelError("not a YOLO dataset (no images/train and labels/train)", name)
        record = _export_record(src)
        frames = []
        for path in sorted(src_images.iterdir()):
            label = src_labels / f"{path.stem}.txt"
            if path.suffix.lower() in IMAGE_SUFFIXES and label.is_file():
                frames.append((path, label, record.get(path.name, (path.name, []))))
        flights = {flight for _, _, (flight, _) in frames}
        held = held_out_flights(flights, holdout.share)
        wanted = flights if holdout.share <= 0 else held if holdout.held else flights - held
        flights_seen += len(flights)
        flights_cut += len(wanted)
        for n, (path, label, (flight, not_this)) in enumerate(frames):
            if flight not in wanted:
                continue
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise ModelError("exported frame cannot be decoded", str(path))
            height, width = image.shape[:2]
            boxes = pixel_boxes(label.read_text(encoding="utf-8"), width, height, str(label))
            meta, why = frame_meta(FrameRef("extra", str(path), path.name, ""))
            view, intrinsics, _why = camera_for(meta, None, why)
            scales = scales_for(view, intrinsics, width, height, recipe)
            counts["frames"] += 1
            counts["cuts"] += len(scales)
            counts["unposed_frames"] += view is None or scales[0].ratios is None
            rng = np.random.default_rng([recipe.seed, k, n, 71])
            for p, scale in enumerate(scales):
                size = (width, height)
                chosen = frame_tiles(size, boxes, not_this, scale, recipe, negatives_per_frame, rng)
                if not chosen:
                    continue
                f = scale.factor
                scaled = resize_frame(image, (max(1, round(width * f)), max(1, round(height * f))))
                for t in chosen:
                    stem = f"extra{k}_{path.stem}_p{p}_x{t.x0_px}_y{t.y0_px}"
                    cv2.imwrite(str(images / f"{stem}.png"), tile_window(scaled, t))
                    (labels / f"{stem}.txt").write_text("".join(x + "\n" for x in t.yolo_lines()))
                    counts["tiles"] += 1
                    counts["positive_tiles"] += bool(t.boxes)
                    for b in t.boxes:
                        boxes_per_class[b.cls] += 1
    return {
        "datasets": len(datasets),
        **counts,
        "boxes": dict(zip(CLASSES, boxes_per_class, strict=True)),
        "flights": flights_seen,
        "flights_cut": flights_cut,
    }
