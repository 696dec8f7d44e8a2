"""Build a YOLO dataset from simulated flights: simulate -> rescale to the target GSD -> tile -> files.

Layout written under the dataset folder (what ultralytics reads):
  images/{split}/*.png  labels/{split}/*.txt  data.yaml  recipe-{split}.json
A flight is simulated into a scratch folder that is deleted once its tiles are written; flights are
independent, so they run in worker processes and the result does not depend on how many.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.errors import ModelError
from pipeline.simulate.flight import simulate_flight
from pipeline.simulate.labels import SceneryBox
from pipeline.train.recipe import CLASSES, DatasetRecipe, flight_settings
from pipeline.train.tiles import (
    PixelBox,
    Tile,
    cut_tiles,
    local_gsd_m,
    rescale_factor,
    scale_boxes,
    tile_gsd_ratios,
)
from pipeline.types import Intrinsics, Pose

RARE_CLASS = CLASSES.index("garbage_pile")


@dataclass(frozen=True)
class SplitSummary:
    split: str
    flights: int
    frames: int
    tiles: int
    positive_tiles: int
    boxes: tuple[int, ...]  # per class

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "boxes": dict(zip(CLASSES, self.boxes, strict=True))}


def frame_camera(manifest: dict[str, Any], record: dict[str, Any]) -> tuple[Intrinsics, Pose]:
    """The true camera of one simulated frame, from its manifest (no metadata reading, no GPS noise)."""
    cam, res, p = manifest["camera"], manifest["resolved"], record["true_pose"]
    intr = Intrinsics(
        int(res["width_px"]),
        int(res["height_px"]),
        float(cam["focal_px"]),
        float(cam["cx_px"]),
        float(cam["cy_px"]),
        "sensor_table",
        float(cam["sensor_width_mm"]),
    )
    pose = Pose(p["lat"], p["lon"], p["height_m"], p["yaw_deg"], p["pitch_deg"], p["roll_deg"])
    return intr, pose


def frame_tiles(
    manifest: dict[str, Any], record: dict[str, Any], recipe: DatasetRecipe
) -> tuple[float, tuple[int, int], list[Tile]]:
    """(rescale factor, rescaled size, tiles within the recipe's GSD range) of one simulated frame."""
    intr, pose = frame_camera(manifest, record)
    factor = rescale_factor(local_gsd_m(intr, pose, intr.cx_px, intr.cy_px), recipe.gsd_m)
    size = (max(1, round(intr.width_px * factor)), max(1, round(intr.height_px * factor)))
    boxes = [PixelBox(CLASSES.index(b["class"]), tuple(b["xyxy_px"])) for b in record["boxes"]]
    distractors = [
        SceneryBox(d["id"], d["kind"], tuple(v * factor for v in d["xyxy_px"]))
        for d in record.get("distractors", ())
    ]
    ratios = tile_gsd_ratios(intr, pose, size, factor, recipe.imgsz, recipe.overlap)
    tiles = cut_tiles(size, scale_boxes(boxes, factor), recipe.imgsz, recipe.overlap, ratios, distractors)
    lo, hi = recipe.gsd_ratio
    return factor, size, [t for t in tiles if lo <= t.gsd_ratio <= hi]


def choose_tiles(tiles: list[Tile], recipe: DatasetRecipe, rng: np.random.Generator) -> list[Tile]:
    """Every tile with a target; a random draw of those without, `negatives_per_positive` as many; and
    `hard_negatives_per_positive` as many again among those without that show a look-alike (`distractors`
    in the manifest: pipeline.simulate.labels.DISTRACTOR_KINDS).

    A frame with no target at all still gives one negative tile of each draw (so such scenes are seen).
    """
    pos = [t for t in tiles if t.boxes]
    neg = [t for t in tiles if not t.boxes]
    hard: list[Tile] = []
    if recipe.hard_negatives_per_positive > 0:
        pool = [t for t in neg if t.distractors]
        want_hard = min(len(pool), max(1, round(len(pos) * recipe.hard_negatives_per_positive)))
        if want_hard:
            hard = [pool[i] for i in sorted(rng.choice(len(pool), size=want_hard, replace=False).tolist())]
        chosen = {id(t) for t in hard}
        neg = [t for t in neg if id(t) not in chosen]
    want = min(len(neg), max(1, round(len(pos) * recipe.negatives_per_positive)))
    picked = sorted(rng.choice(len(neg), size=want, replace=False).tolist()) if want else []
    return pos + hard + [neg[i] for i in picked]


def tile_window(image: np.ndarray, t: Tile) -> np.ndarray:
    """The tile's pixels, padded with grey where the rescaled frame is smaller than a tile."""
    crop = image[t.y0_px : t.y0_px + t.size_px, t.x0_px : t.x0_px + t.size_px]
    if crop.shape[:2] == (t.size_px, t.size_px):
        return crop
    out = np.full((t.size_px, t.size_px, 3), 114, dtype=np.uint8)
    out[: crop.shape[0], : crop.shape[1]] = crop
    return out


def resize_frame(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area averaging when shrinking (what a coarser sensor would record), linear when enlarging."""
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _flight_job(args: tuple[DatasetRecipe, int, str, str]) -> tuple[int, int, int, list[int]]:
    """Simulate flight k and write its tiles; returns (frames, tiles, positive tiles, boxes per class)."""
    recipe, k, out_dir, split = args
    out = Path(out_dir)
    settings = flight_settings(recipe, k)
    counts = [0] * len(CLASSES)
    n_tiles = n_pos = 0
    with tempfile.TemporaryDirectory(prefix=f"flight{settings.seed}-", dir=out) as tmp:
        manifest = simulate_flight(tmp, settings)
        for j, record in enumerate(manifest["frames"]):
            image = cv2.imread(str(Path(tmp) / record["file"]), cv2.IMREAD_COLOR)
            if image is None:
                raise ModelError("simulated frame cannot be read", str(Path(tmp) / record["file"]))
            _, size, tiles = frame_tiles(manifest, record, recipe)
            rng = np.random.default_rng([recipe.seed, k, j, 23])
            chosen = choose_tiles(tiles, recipe, rng)
            if not chosen:
                continue
            scaled = resize_frame(image, size)
            for t in chosen:
                copies = recipe.rare_repeat if any(b.cls == RARE_CLASS for b in t.boxes) else 1
                for c in range(copies):
                    stem = f"s{settings.seed}_f{j}_x{t.x0_px}_y{t.y0_px}" + (f"_r{c}" if c else "")
                    cv2.imwrite(str(out / "images" / split / f"{stem}.png"), tile_window(scaled, t))
                    text = "".join(x + "\n" for x in t.yolo_lines())
                    (out / "labels" / split / f"{stem}.txt").write_text(text)
                    for b in t.boxes:
                        counts[b.cls] += 1
                    n_tiles += 1
                    n_pos += bool(t.boxes)
    return len(manifest["frames"]), n_tiles, n_pos, counts


def build_split(out_dir: Path, split: str, recipe: DatasetRecipe, workers: int = 1) -> SplitSummary:
    """Write one split (train/val/test) of the dataset; an existing split folder is replaced, unless it was
    completed from the same recipe (then its summary is returned and nothing is redone)."""
    recipe.check()
    done = out_dir / f"recipe-{split}.json"
    if done.is_file():
        old = json.loads(done.read_text())
        if old.get("recipe") == json.loads(json.dumps(asdict(recipe))):
            s = old["summary"]
            boxes = tuple(s["boxes"][c] for c in CLASSES)
            return SplitSummary(split, s["flights"], s["frames"], s["tiles"], s["positive_tiles"], boxes)
        done.unlink()
    for kind in ("images", "labels"):
        folder = out_dir / kind / split
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    jobs = [(recipe, k, str(out_dir), split) for k in range(recipe.flights)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_flight_job, jobs))
    else:
        results = [_flight_job(j) for j in jobs]
    summary = SplitSummary(
        split=split,
        flights=recipe.flights,
        frames=sum(r[0] for r in results),
        tiles=sum(r[1] for r in results),
        positive_tiles=sum(r[2] for r in results),
        boxes=tuple(sum(r[3][c] for r in results) for c in range(len(CLASSES))),
    )
    record = {"recipe": asdict(recipe), "summary": summary.as_dict()}
    done.write_text(json.dumps(record, indent=1))
    return summary


def write_data_yaml(out_dir: Path, splits: dict[str, str], file_name: str = "data.yaml") -> Path:
    """A data file (`file_name`, in `out_dir`) naming the splits (e.g. {"train": "images/train", "val":
    "images/val"}) and the classes."""
    lines = [f"path: {out_dir.resolve()}"]
    lines += [f"{name}: {folder}" for name, folder in splits.items()]
    lines.append("names:")
    lines += [f"  {k}: {c}" for k, c in enumerate(CLASSES)]
    path = out_dir / file_name
    path.write_text("\n".join(lines) + "\n")
    return path
