"""Real scenery in training: real aerial frames as negatives, and simulated targets composited into them.

The simulator's world is flat-coloured; real hedges, gardens, red-tile roofs and farm sheds are what the first
models boxed as garbage. So the training set also holds:
  real_*   tiles of real frames (no target: empty label files), rescaled to the model's ground resolution;
  litter_* other real tiles with a painted patch of scattered waste (pipeline.train.litter), one box each;
  fall_*   tiles of real frames (empty labels) rescaled the way `patrol detect` rescales a frame without a
           usable height (pipeline.detect.scale.fallback_plans: nadir at each assumed height, the frame's own
           lens or the assumed one): the scales the product actually shows these scenes at, which can be far
           from their true resolution (the building site's pipes shown as sheds at the 120 m pass);
  mine_*   tiles of real frames (empty labels) holding what a model already boxes there: the look-alikes
           that fool it, far more often than random tiles show them (pipeline.train.mining);
  hard_*   copies of the simulated tiles (with their labels) on which that model raises a false box;
  thumb_*  the training half of the dump-site thumbnails, real waste boxed by eye (pipeline.train.thumbs);
  comp_*   other real tiles with simulated targets pasted in (cut from the simulated training tiles by a soft
           mask, their brightness pulled towards the background's, a cast shadow, then blur, sensor noise and
           JPEG artefacts over the whole tile so the pasted pixels are not the only clean ones).

What the real frames hold, and what we decided it is for our two classes (models/MODEL_CARD.md repeats it):
  - wrapped white silage bales, corrugated farm sheds, houses, sheds beside houses, a pond, hedges, gardens,
    fields (boruszyn, a Polish village): **not targets**. Bales are stored crop, the sheds are the farm's
    legal buildings; nothing there is an add-on we could tell from the air.
  - stacked pipes, concrete risers, soil heaps and tyre tracks on an active building site (caliterra):
    **not targets**. Materials and spoil inside a permitted site are not 暴露垃圾; the bureau's case is waste
    dumped outside such a site, which the thumbnails below show.
  - the dump-site thumbnails (raven_thumbs): scattered waste is `garbage_pile`. Image-level labels of all of
    them in bench/real_thumbs_labels.json; one half (pipeline.train.thumbs.half) is boxed and may be
    trained on (`--thumbs`), the other half is the real validation set and never is.
The native ground resolution of these frames is not in their metadata (a kite camera; a drone whose GPS
altitude above sea level climbs 110 m over a flight in which the same pipes keep their size), so it was
measured on the frames (SOURCES below):
caliterra from a pickup (~6 m, ~390 px) and 2.44 m concrete pipes (~170 px): ~0.015 m/px in every frame;
boruszyn from two cars and a football goal in img_4937 (~0.027 m/px there), which makes the long farm
sheds ~51 m, and then from those sheds' length in pixels in each frame: a kite flies at any height, so
one frame is 0.074 m/px and another 0.031. Each frame is cut at resolutions drawn around its estimate,
so an estimate's error becomes scale jitter instead of a bias; the estimates are part of a dataset's
recipe (new estimates, a new dataset). Until the twenty-second model the folders were taken at 0.06-0.10
and 0.004-0.007 m/px: the village 2-3x too large, the building site 2-3x too small.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.detect.detector import DetectSettings, camera_for
from pipeline.detect.scale import fallback_plans
from pipeline.errors import ModelError
from pipeline.ingest import FrameRef, frame_meta
from pipeline.simulate.world import CLASSES
from pipeline.train.litter import paint_litter
from pipeline.train.mining import Alarm, card_digest, hard_simulated, mined_tiles
from pipeline.train.thumbs import Box, boxes_digest, thumb_tiles, turned
from pipeline.train.tiles import tile_origins
from pipeline.types import Intrinsics

GARBAGE = CLASSES.index("garbage_pile")


@dataclass(frozen=True)
class FrameGsd:
    name: str
    gsd_m: float  # native metres per pixel, as measured on the frame
    rows: tuple[float, float] = (0.0, 1.0)  # the band of rows (fractions, top first) the estimate holds for


@dataclass(frozen=True)
class RealSource:
    folder: str  # under the real scenery root (../shared/real_aerial)
    gsd_m: tuple[float, float]  # native metres per pixel of a frame not in `measured`: the stated range
    held_out: tuple[str, ...]  # frames kept for the false-alarm check, never trained on
    measured: tuple[FrameGsd, ...] = ()  # frames cut at resolutions drawn around their own value

    def native_range(self, name: str) -> tuple[float, float]:
        for f in self.measured:
            if f.name == name:
                return f.gsd_m / (1 + GSD_SPREAD), f.gsd_m * (1 + GSD_SPREAD)
        return self.gsd_m

    def rows(self, name: str) -> tuple[float, float]:
        return next((f.rows for f in self.measured if f.name == name), (0.0, 1.0))


GSD_SPREAD = 0.25  # a measured frame's resolution is drawn from value / 1.25 .. value * 1.25

SOURCES = (
    RealSource(
        "boruszyn",
        (0.027, 0.074),
        ("img_4928.jpg", "img_4937.jpg"),
        (
            FrameGsd("img_4854.jpg", 0.074),
            FrameGsd("img_4873.jpg", 0.046),
            FrameGsd("img_4883.jpg", 0.054),
            # Taken obliquely, the horizon in its top rows: only the near half is at (about) one resolution.
            FrameGsd("img_4890.jpg", 0.050, (0.5, 1.0)),
            FrameGsd("img_4909.jpg", 0.043),
            FrameGsd("img_4912.jpg", 0.034),
            FrameGsd("img_4918.jpg", 0.035),
            FrameGsd("img_4928.jpg", 0.032),
            FrameGsd("img_4933.jpg", 0.031),
            FrameGsd("img_4937.jpg", 0.027),
        ),
    ),
    RealSource("caliterra", (0.012, 0.018), ("IMG_9417.jpg", "IMG_9426.jpg")),
)


@dataclass(frozen=True)
class RealRecipe:
    root: str  # the real scenery folder
    gsd_m: float = 0.08
    imgsz: int = 320
    overlap: float = 0.2
    negatives: int = 600  # real tiles with empty labels
    composites: int = 600  # real tiles with pasted targets
    litter: int = 0  # real tiles with a painted patch of scattered waste (pipeline.train.litter)
    fallback_negatives: int = 0  # real tiles (empty labels) at the product's no-height fallback scales
    thumbs: int = 0  # tiles of the boxed training half of the dump-site thumbnails (pipeline.train.thumbs)
    mined: int = 0  # real tiles (empty labels) around the alarms `miner` raises (pipeline.train.mining)
    mined_simulated: int = 0  # copies of the simulated tiles on which `miner` raises a false box
    miner: str | None = None  # the model card that mines them
    per_tile: tuple[int, int] = (1, 3)  # targets pasted into one composite tile
    seed: int = 0


@dataclass(frozen=True)
class Crop:
    cls: int
    pixels: np.ndarray  # BGR, the target's box with a small margin
    box: tuple[float, float, float, float]  # the target inside `pixels`
    alpha: np.ndarray  # the object's own pixels (object_mask)


def frames(root: Path, held_out: bool) -> list[tuple[Path, RealSource]]:
    """The real frames to train on (held_out False) or to check false alarms on (held_out True)."""
    out = []
    for src in SOURCES:
        folder = root / src.folder
        if not folder.is_dir():
            raise ModelError("real scenery folder not found", str(folder))
        for path in sorted(folder.glob("*.jpg")):
            if (path.name in src.held_out) == held_out:
                out.append((path, src))
    return out


def read_frame(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ModelError("real frame cannot be read", str(path))
    return np.asarray(image)


def rescaled(image: np.ndarray, native_gsd_m: float, target_gsd_m: float) -> np.ndarray:
    factor = native_gsd_m / target_gsd_m
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    shrink = factor < 1.0
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def cut(image: np.ndarray, size_px: int, overlap: float) -> list[np.ndarray]:
    """Every whole `size_px` square of the image at the given overlap (grey-padded when it is smaller)."""
    h, w = image.shape[:2]
    if h < size_px or w < size_px:
        pad = np.full((max(h, size_px), max(w, size_px), 3), 114, dtype=np.uint8)
        pad[:h, :w] = image
        image, h, w = pad, pad.shape[0], pad.shape[1]
    return [
        image[y : y + size_px, x : x + size_px]
        for y in tile_origins(h, size_px, overlap)
        for x in tile_origins(w, size_px, overlap)
    ]


def at_model_gsd(path: Path, src: RealSource, recipe: RealRecipe, rng: np.random.Generator) -> np.ndarray:
    """A training frame's rows its estimate holds for, rescaled to the model's resolution from a native
    resolution drawn from the frame's range."""
    image = read_frame(path)
    top, bottom = src.rows(path.name)
    h = image.shape[0]
    band = image[round(top * h) : max(round(top * h) + 1, round(bottom * h))]
    return rescaled(band, float(rng.uniform(*src.native_range(path.name))), recipe.gsd_m)


MAX_CUTS = 6


def real_tiles(recipe: RealRecipe, rng: np.random.Generator) -> list[np.ndarray]:
    """Tiles of every training frame, each frame at a resolution drawn from its range; cut again at fresh
    draws on a shifted grid (at most MAX_CUTS times) until there are enough for the negatives and the
    composites' backgrounds: at their true resolutions the frames hold few model-sized tiles."""
    want = recipe.negatives + recipe.composites
    stride = max(1, round(recipe.imgsz * (1 - recipe.overlap)))
    tiles: list[np.ndarray] = []
    for k in range(MAX_CUTS):
        for path, src in frames(Path(recipe.root), held_out=False):
            scaled = at_model_gsd(path, src, recipe, rng)
            dx, dy = (int(v) for v in rng.integers(0, stride, 2)) if k else (0, 0)
            tiles += cut(scaled[dy:, dx:], recipe.imgsz, recipe.overlap)
        if len(tiles) >= want:
            break
    return tiles


def fallback_factors(
    width: int, height: int, intrinsics: Intrinsics | None, gsd_m: float, imgsz: int
) -> list[float]:
    """Scaled pixels per original pixel of each pass `patrol detect` searches a frame without a usable pose
    in (default detector settings, the model's resolution and tile): the detector's own plans, so
    training sees what the product shows, whatever the formula becomes."""
    settings = DetectSettings()
    plans = fallback_plans(
        width,
        height,
        gsd_m,
        imgsz,
        round(settings.overlap * imgsz),
        settings.limits(),
        intrinsics,
        "",
    )
    return [p.strips[0].size_px[0] / width for p in plans if p.strips]


def fallback_passes(image: np.ndarray, intrinsics: Intrinsics | None, recipe: RealRecipe) -> list[np.ndarray]:
    """The frame rescaled by each fallback pass's factor (its own pixels taken as the native scale)."""
    h, w = image.shape[:2]
    return [rescaled(image, f, 1.0) for f in fallback_factors(w, h, intrinsics, recipe.gsd_m, recipe.imgsz)]


def frame_passes(path: Path, recipe: RealRecipe) -> list[np.ndarray]:
    """A real frame at each no-height fallback pass `patrol detect` would search it in."""
    meta, why = frame_meta(FrameRef("real", str(path), path.name, ""))
    _view, intrinsics, _why = camera_for(meta, None, why)
    return fallback_passes(read_frame(path), intrinsics, recipe)


def scaled_frames(recipe: RealRecipe, rng: np.random.Generator) -> list[np.ndarray]:
    """Every training frame at a resolution drawn from its range, and at each fallback pass: the
    scales real_* and fall_* tiles are cut at."""
    out = []
    for path, src in frames(Path(recipe.root), held_out=False):
        out.append(at_model_gsd(path, src, recipe, rng))
        out += frame_passes(path, recipe)
    return out


def fallback_tiles(recipe: RealRecipe, rng: np.random.Generator) -> list[np.ndarray]:
    """`recipe.fallback_negatives` tiles of the training frames at the fallback passes' scales, drawn evenly
    over (frame, pass): one from each in turn (each one's tiles shuffled) until enough, or all are used."""
    if recipe.fallback_negatives <= 0:
        return []
    groups: list[list[np.ndarray]] = []
    for path, _src in frames(Path(recipe.root), held_out=False):
        for scaled in frame_passes(path, recipe):
            tiles = cut(scaled, recipe.imgsz, recipe.overlap)
            groups.append([tiles[int(i)] for i in rng.permutation(len(tiles))])
    out: list[np.ndarray] = []
    depth = 0
    while len(out) < recipe.fallback_negatives and any(depth < len(g) for g in groups):
        out += [g[depth] for g in groups if depth < len(g)][: recipe.fallback_negatives - len(out)]
        depth += 1
    return out


def crops_from(images_dir: Path, labels_dir: Path, limit: int, rng: np.random.Generator) -> list[Crop]:
    """Targets cut from simulated training tiles (their YOLO labels), a few pixels of margin around each."""
    crops: list[Crop] = []
    label_files = sorted(p for p in labels_dir.glob("s*.txt") if p.stat().st_size > 0)
    order = rng.permutation(len(label_files)).tolist()
    for i in order:
        if len(crops) >= limit:
            break
        lab = label_files[i]
        image = cv2.imread(str(images_dir / f"{lab.stem}.png"), cv2.IMREAD_COLOR)
        if image is None:
            continue
        s = image.shape[0]
        for line in lab.read_text().split("\n"):
            if not line.strip():
                continue
            c, cx, cy, bw, bh = line.split()
            x0, y0 = (float(cx) - float(bw) / 2) * s, (float(cy) - float(bh) / 2) * s
            x1, y1 = x0 + float(bw) * s, y0 + float(bh) * s
            if x0 < 1 or y0 < 1 or x1 > s - 1 or y1 > s - 1:
                continue  # cut by the tile border: not a whole object
            m = 3
            a, b = max(0, int(x0) - m), max(0, int(y0) - m)
            e, f = min(s, int(np.ceil(x1)) + m), min(s, int(np.ceil(y1)) + m)
            pixels, inner = image[b:f, a:e].copy(), (x0 - a, y0 - b, x1 - a, y1 - b)
            alpha = object_mask(pixels, inner, m)
            if alpha is not None:
                crops.append(Crop(int(c), pixels, inner, alpha))
    return crops


def object_mask(pixels: np.ndarray, box: tuple[float, float, float, float], margin: int) -> np.ndarray | None:
    """The object's own pixels in a simulated crop, as a soft alpha: what differs from the ground around it
    (the crop's margin), closed into its convex hull (sheds and heaps are convex from above). None when too
    little of the box differs to trust the cut."""
    px = pixels.astype(np.float32)
    m = max(1, margin)
    border = np.concatenate(
        [px[:m].reshape(-1, 3), px[-m:].reshape(-1, 3), px[:, :m].reshape(-1, 3), px[:, -m:].reshape(-1, 3)]
    )
    ref = np.median(border, axis=0)
    # The margin may catch a neighbour's edge: its median, not its extremes, says how textured the ground is.
    spread = float(np.median(np.linalg.norm(border - ref, axis=1)))
    differs = np.linalg.norm(px - ref, axis=2) > max(20.0, 3.0 * spread)
    inside = np.zeros(differs.shape, dtype=bool)
    x0, y0, x1, y1 = (round(v) for v in box)
    inside[max(0, y0) : y1, max(0, x0) : x1] = True
    points = np.argwhere(differs & inside)
    if len(points) < 6:
        return None
    hull = cv2.convexHull(points[:, ::-1].astype(np.int32))
    mask = np.zeros(differs.shape, dtype=np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    if mask[inside].mean() < 0.3:
        return None
    return cv2.GaussianBlur(mask, (0, 0), 0.7)


def _transformed(crop: Crop, rng: np.random.Generator) -> Crop:
    """A quarter turn, a flip and a scale jitter: exact for the box."""
    quarter_turns, flip = int(rng.integers(0, 4)), bool(rng.random() < 0.5)
    pixels, [(x0, y0, x1, y1)] = turned(crop.pixels, [crop.box], quarter_turns, flip)
    alpha, _ = turned(crop.alpha, [], quarter_turns, flip)
    k = float(rng.uniform(0.85, 1.2))
    size = (max(2, round(pixels.shape[1] * k)), max(2, round(pixels.shape[0] * k)))
    kx, ky = size[0] / pixels.shape[1], size[1] / pixels.shape[0]
    how = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    pixels, alpha = cv2.resize(pixels, size, interpolation=how), cv2.resize(alpha, size, interpolation=how)
    return Crop(crop.cls, pixels, (x0 * kx, y0 * ky, x1 * kx, y1 * ky), alpha)


def composite(
    background: np.ndarray, crops: list[Crop], rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, tuple[float, float, float, float]]]]:
    """Paste the crops into a real tile; returns the tile and the pasted boxes (class, xyxy in tile px)."""
    out = background.astype(np.float32)
    size = out.shape[0]
    sun = float(rng.uniform(0, 2 * np.pi))  # one light direction for the tile
    taken: list[tuple[float, float, float, float]] = []
    boxes: list[tuple[int, tuple[float, float, float, float]]] = []
    for raw in crops:
        crop = _transformed(raw, rng)
        h, w = crop.pixels.shape[:2]
        if h >= size or w >= size:
            continue
        for _ in range(20):
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            box = (x + crop.box[0], y + crop.box[1], x + crop.box[2], y + crop.box[3])
            if not any(_overlaps(box, t) for t in taken):
                break
        else:
            continue
        alpha = crop.alpha[..., None]
        region = out[y : y + h, x : x + w]
        bg_mean = float(region.mean()) + 1.0
        obj = crop.pixels.astype(np.float32)
        obj_mean = float((obj * alpha).sum() / (alpha.sum() * 3 + 1e-6)) + 1.0
        obj *= float(np.clip((bg_mean / obj_mean) ** 0.3, 0.75, 1.35))
        # A cast shadow: the object's mask moved away from the sun, darkening what is behind it.
        length = 0.15 * max(h, w)
        dx, dy = round(-np.cos(sun) * length), round(-np.sin(sun) * length)
        shift = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        shadow = cv2.warpAffine(alpha[..., 0], shift, (w, h))[..., None] * (1 - alpha)
        region *= 1 - float(rng.uniform(0.25, 0.45)) * shadow
        region[:] = region * (1 - alpha) + obj * alpha
        taken.append(box)
        boxes.append((crop.cls, box))
    return finish(out, rng), boxes


def finish(out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, sensor noise and JPEG over a whole edited tile (float BGR), so the pasted pixels are not the
    only clean ones."""
    sigma = float(rng.uniform(0.0, 0.7))
    if sigma > 0.2:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), sigma), dtype=np.float32)
    out += rng.normal(0.0, float(rng.uniform(1.0, 3.0)), out.shape).astype(np.float32)
    tile = np.clip(out, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", tile, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 91))])
    if not ok:
        raise ModelError("cannot encode a composite tile")
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ModelError("cannot decode a composite tile")
    return np.asarray(decoded)


def _overlaps(a: tuple[float, ...], b: tuple[float, ...], pad: float = 4.0) -> bool:
    return not (a[2] + pad <= b[0] or b[2] + pad <= a[0] or a[3] + pad <= b[1] or b[3] + pad <= a[1])


def yolo_line(cls: int, box: tuple[float, float, float, float], size: int) -> str:
    x0, y0, x1, y1 = (v / size for v in box)
    return f"{cls} {(x0 + x1) / 2:.6f} {(y0 + y1) / 2:.6f} {x1 - x0:.6f} {y1 - y0:.6f}"


def build_real(out_dir: Path, split: str, recipe: RealRecipe) -> dict[str, Any]:
    """Add real negatives and composites to a split the simulator already wrote (its targets are the
    composites' source); done once per recipe, like the simulated splits."""
    done = out_dir / f"recipe-real-{split}.json"
    want = json.loads(json.dumps(asdict(recipe)))
    want["sources"] = json.loads(json.dumps([asdict(s) for s in SOURCES]))
    if recipe.thumbs:
        want["thumb_boxes_sha256"] = boxes_digest()  # new boxes: a new dataset
    if recipe.mined or recipe.mined_simulated:
        if recipe.miner is None:
            raise ModelError("mined negatives need a model card to mine with")
        want["miner_sha256"] = card_digest(Path(recipe.miner))  # other weights mine other tiles
    if done.is_file() and json.loads(done.read_text()).get("recipe") == want:
        return dict(json.loads(done.read_text())["summary"])
    images, labels = out_dir / "images" / split, out_dir / "labels" / split
    for old in [
        *images.glob("real_*"),
        *images.glob("comp_*"),
        *labels.glob("real_*"),
        *labels.glob("comp_*"),
        *images.glob("litter_*"),
        *labels.glob("litter_*"),
        *images.glob("fall_*"),
        *labels.glob("fall_*"),
        *images.glob("thumb_*"),
        *labels.glob("thumb_*"),
        *images.glob("mine_*"),
        *labels.glob("mine_*"),
        *images.glob("hard_*"),
        *labels.glob("hard_*"),
    ]:
        old.unlink()
    rng = np.random.default_rng([recipe.seed, 29])
    tiles = real_tiles(recipe, rng)
    order = rng.permutation(len(tiles)).tolist()
    n_neg = min(recipe.negatives, len(tiles))
    negatives = [tiles[i] for i in order[:n_neg]]
    backgrounds = [tiles[i] for i in order[n_neg:]] or negatives
    crops = crops_from(images, labels, 4 * recipe.composites, rng)
    if recipe.composites and not crops:
        raise ModelError("no simulated targets to composite (build the simulated split first)", str(labels))
    for k, tile in enumerate(negatives):
        cv2.imwrite(str(images / f"real_{k:05d}.png"), tile)
        (labels / f"real_{k:05d}.txt").write_text("")
    counts = [0, 0]
    for k in range(recipe.composites):
        bg = backgrounds[k % len(backgrounds)]
        n = int(rng.integers(recipe.per_tile[0], recipe.per_tile[1] + 1))
        chosen = [crops[int(i)] for i in rng.choice(len(crops), size=min(n, len(crops)), replace=False)]
        tile, boxes = composite(bg, chosen, rng)
        cv2.imwrite(str(images / f"comp_{k:05d}.png"), tile)
        text = "".join(yolo_line(c, b, recipe.imgsz) + "\n" for c, b in boxes)
        (labels / f"comp_{k:05d}.txt").write_text(text)
        for c, _ in boxes:
            counts[c] += 1
    # Their own random stream, after the composites: adding litter leaves the other tiles as they were.
    litter_rng = np.random.default_rng([recipe.seed, 31])
    painted = 0
    for k in range(recipe.litter):
        for _ in range(10):  # a small padded frame's tile may have no room for the patch: another one
            bg = backgrounds[int(litter_rng.integers(len(backgrounds)))]
            tile, box = paint_litter(bg, recipe.gsd_m, litter_rng)
            if box is not None:
                break
        if box is None:
            continue
        tile = finish(tile.astype(np.float32), litter_rng)
        cv2.imwrite(str(images / f"litter_{k:05d}.png"), tile)
        (labels / f"litter_{k:05d}.txt").write_text(yolo_line(GARBAGE, box, recipe.imgsz) + "\n")
        painted += 1
    # Their own random stream too: adding them leaves every other tile as it was.
    fallback = fallback_tiles(recipe, np.random.default_rng([recipe.seed, 37]))
    for k, tile in enumerate(fallback):
        cv2.imwrite(str(images / f"fall_{k:05d}.png"), tile)
        (labels / f"fall_{k:05d}.txt").write_text("")
    thumb_boxes = 0
    thumbs = thumb_tiles(
        Path(recipe.root), recipe.thumbs, recipe.imgsz, np.random.default_rng([recipe.seed, 41])
    )
    for k, (tile, waste) in enumerate(thumbs):
        cv2.imwrite(str(images / f"thumb_{k:05d}.png"), tile)
        (labels / f"thumb_{k:05d}.txt").write_text(
            "".join(yolo_line(GARBAGE, b, recipe.imgsz) + "\n" for b in waste)
        )
        thumb_boxes += len(waste)
    mined: list[np.ndarray] = []
    alarms: list[Alarm] = []
    if recipe.mined:
        mine_rng = np.random.default_rng([recipe.seed, 43])
        assert recipe.miner is not None
        mined, alarms = mined_tiles(
            scaled_frames(recipe, mine_rng),
            Path(recipe.miner),
            recipe.imgsz,
            recipe.overlap,
            recipe.mined,
            mine_rng,
        )
    for k, tile in enumerate(mined):
        cv2.imwrite(str(images / f"mine_{k:05d}.png"), tile)
        (labels / f"mine_{k:05d}.txt").write_text("")
    hard: list[tuple[np.ndarray, list[tuple[int, Box]]]] = []
    hard_found = 0
    if recipe.mined_simulated:
        assert recipe.miner is not None
        hard, hard_found = hard_simulated(
            images,
            labels,
            Path(recipe.miner),
            recipe.mined_simulated,
            np.random.default_rng([recipe.seed, 47]),
        )
    for k, (tile, boxes) in enumerate(hard):
        cv2.imwrite(str(images / f"hard_{k:05d}.png"), tile)
        (labels / f"hard_{k:05d}.txt").write_text(
            "".join(yolo_line(c, b, recipe.imgsz) + "\n" for c, b in boxes)
        )
    summary = {
        "real_frames": len(frames(Path(recipe.root), held_out=False)),
        "real_tiles_cut": len(tiles),
        "negatives": n_neg,
        "composites": recipe.composites,
        "composited_boxes": {"illegal_construction": counts[0], "garbage_pile": counts[1]},
        "litter_tiles": painted,
        "fallback_negatives": len(fallback),
        "thumb_tiles": len(thumbs),
        "thumb_boxes": thumb_boxes,
        "mined_tiles": len(mined),
        "hard_simulated_tiles": len(hard),
        "hard_simulated_found": hard_found,
        "mined_alarms": {name: sum(1 for a in alarms if a.cls == k) for k, name in enumerate(CLASSES)},
    }
    done.write_text(json.dumps({"recipe": want, "summary": summary}, indent=1))
    return summary
