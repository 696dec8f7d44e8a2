"""False alarms on real aerial frames, and image-level recall on real dump-site thumbnails.

Run: PYTHONPATH=. .venv/bin/python bench/real_false_alarms.py [--model CARD ...] [--real DIR]
Prints one JSON line per model and writes a picture of every frame with its boxes under var/bench/real/
(look at them: a count hides what was boxed).

- Held-out real frames (pipeline.train.realdata.SOURCES: never trained on), judged to hold no target: a
  detection there is a false alarm. They carry no usable pose, so they go through `patrol detect`'s own path
  (search at a few assumed ground resolutions, size check): false alarms per frame. The other 17 real frames
  (real scenery training cut tiles from them) are judged empty too and counted apart (`trained_frames`).
- The thumbnails (raven_thumbs, 192 px, about 0.2 m/px judged from the houses in them) with the image-level
  labels in bench/real_thumbs_labels.json: enlarged to the model's ground resolution and searched once at
  those pixels. Recall: labelled-waste thumbnails with a garbage_pile box; precision: thumbnails with a
  garbage_pile box that are labelled waste; false alarms per 20 thumbnails labelled empty. Reported per
  half (pipeline.train.thumbs.half): `thumbs_val` was never trained on; the other half may have been.
- `--scores`: the thumbnails' best garbage_pile score at any value, at several enlargements, and how well it
  separates waste from empty (AUC): whether a miss is the threshold, the scale, or the model not firing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.detect.backends import open_detector
from pipeline.detect.detector import DetectSettings, detect_frame, place_frame
from pipeline.detect.model import load_model_spec
from pipeline.ingest import load_frame, photo_ref
from pipeline.train.realdata import frames
from pipeline.train.thumbs import half

THUMB_GSD_M = 0.2
LABELS = Path(__file__).with_name("real_thumbs_labels.json")


def draw(image: np.ndarray, dets: Any, path: Path) -> None:
    out = image.copy()
    for d in dets:
        x0, y0, x1, y1 = (round(v) for v in d.xyxy_px)
        colour = (0, 0, 255) if d.class_name == "garbage_pile" else (255, 0, 0)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, max(2, out.shape[1] // 800))
        cv2.putText(out, f"{d.score:.2f}", (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    scale = min(1.0, 1600 / out.shape[1])
    if scale < 1:
        out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), out)


def read_thumb(real: Path, name: str) -> np.ndarray:
    path = real / "raven_thumbs" / name
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"{path}: cannot be read as an image")
    return np.asarray(image)


def run(card: str, real: Path, pictures: Path) -> dict[str, Any]:
    spec = load_model_spec(card)
    detector = open_detector(spec)
    settings = DetectSettings()
    per_frame: dict[str, int] = {}
    trained: dict[str, int] = {}
    for held_out, counts_into in ((True, per_frame), (False, trained)):
        for path, _src in frames(real, held_out=held_out):
            # The one ingest, as `patrol detect` reads a photo.
            frame = load_frame(photo_ref(path))
            in_pixels = detect_frame(
                frame.image,
                frame.view,
                detector,
                settings,
                path=str(path),
                intrinsics=frame.intrinsics,
                why_no_pose=frame.why_no_pose,
            )
            result = place_frame(in_pixels, settings.max_ground_distance_m)
            counts_into[path.name] = len(result.detections)
            draw(frame.image, result.detections, pictures / f"{path.stem}.png")
    labels = json.loads(LABELS.read_text())["labels"]
    # The thumbnails are crops at a known, coarse resolution: enlarged to the model's, then searched at
    # those pixels (no assumed heights, no size check: the resolution is stated, not guessed).
    thumb_settings = DetectSettings(fallback_heights_m=(1e4,), class_size_m=())
    # Per half (pipeline.train.thumbs.half): "val" is never trained on; "train" may be (`--thumbs`).
    hits = {(h, w): 0 for h in ("train", "val") for w in (True, False)}
    counts = dict(hits)
    empty_alarms = {"train": 0, "val": 0}
    sheet = []
    for name, waste in sorted(labels.items()):
        if waste is None:
            continue
        image = read_thumb(real, name)
        k = THUMB_GSD_M / spec.gsd_m
        big = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR)
        # Unposed: the pixel detections are all there is (placing would keep every one, unplaced).
        searched = detect_frame(big, None, detector, thumb_settings, path=name)
        garbage = [d for d in searched.detections if d.class_name == "garbage_pile"]
        part = half(name)
        counts[part, waste] += 1
        hits[part, waste] += bool(garbage)
        if not waste:
            empty_alarms[part] += len(searched.detections)
        tile = big.copy()
        for d in searched.detections:
            x0, y0, x1, y1 = (round(v) for v in d.xyxy_px)
            colour = (0, 0, 255) if d.class_name == "garbage_pile" else (255, 0, 0)
            cv2.rectangle(tile, (x0, y0), (x1, y1), colour, 2)
        mark = ("W" if waste else "-") + ("" if part == "val" else " t")  # t: the half training may use
        cv2.putText(tile, mark, (6, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 255, 255), 2)
        sheet.append(cv2.resize(tile, (240, 240), interpolation=cv2.INTER_AREA))
    rows = [
        np.hstack(sheet[i : i + 10] + [np.zeros_like(sheet[0])] * (10 - len(sheet[i : i + 10])))
        for i in range(0, len(sheet), 10)
    ]
    pictures.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(pictures / "thumbs.png"), np.vstack(rows))
    every = {**trained, **per_frame}

    def thumbs(parts: tuple[str, ...]) -> dict[str, Any]:
        waste, empty = (sum(counts[p, w] for p in parts) for w in (True, False))
        found, wrong = (sum(hits[p, w] for p in parts) for w in (True, False))
        return {
            "waste": waste,
            "empty": empty,
            "recall": round(found / max(1, waste), 3),
            "precision": round(found / (found + wrong), 3) if found + wrong else None,
            "false_alarms_per_20_empty": round(20 * sum(empty_alarms[p] for p in parts) / max(1, empty), 2),
        }

    return {
        "model": card,
        "held_out_frames": per_frame,
        "false_alarms_per_frame": round(sum(per_frame.values()) / max(1, len(per_frame)), 2),
        # The frames real scenery training cut its tiles from: not held out, but judged empty all the same.
        "trained_frames": trained,
        "all_frames_alarms": sum(every.values()),
        "all_frames_per_frame": round(sum(every.values()) / max(1, len(every)), 2),
        # The validation half is the real measure; both halves together compare with models that trained on
        # neither (before `--thumbs`).
        "thumbs_val": thumbs(("val",)),
        "thumbs_train_half": thumbs(("train",)),
        "thumbs_all": thumbs(("train", "val")),
    }


def thumb_scores(card: str, real: Path, enlargements: tuple[float, ...]) -> dict[str, Any]:
    """Why thumbnails are or are not boxed: for each enlargement of the 192 px thumbnails (1: native pixels,
    the model then sees 0.2 m/px ground as if 0.08; 2.5: the model's resolution), the best garbage_pile
    score on each labelled thumbnail, at any score, and how well that score alone tells waste from empty
    (AUC: the chance a waste thumbnail outscores an empty one; 0.5 is a coin)."""
    detector = open_detector(load_model_spec(card))
    settings = DetectSettings(conf=0.01, fallback_heights_m=(1e4,), class_size_m=())
    labels = {n: w for n, w in json.loads(LABELS.read_text())["labels"].items() if w is not None}
    out: dict[str, Any] = {"model": card}
    for k in enlargements:
        best: dict[bool, list[float]] = {True: [], False: []}
        for name, waste in sorted(labels.items()):
            image = read_thumb(real, name)
            big = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_LINEAR) if k != 1 else image
            found = detect_frame(big, None, detector, settings, path=name).detections
            best[waste].append(max((d.score for d in found if d.class_name == "garbage_pile"), default=0.0))
        w, e = np.array(best[True]), np.array(best[False])
        auc = float(np.mean((w[:, None] > e[None, :]) + 0.5 * (w[:, None] == e[None, :])))
        out[f"x{k:g}"] = {
            "waste_median_max": [round(float(np.median(w)), 3), round(float(w.max()), 3)],
            "empty_median_max": [round(float(np.median(e)), 3), round(float(e.max()), 3)],
            "auc": round(auc, 3),
            "waste_share_at_0.1_0.3_0.65": [round(float(np.mean(w >= t)), 2) for t in (0.1, 0.3, 0.65)],
            "empty_share_at_0.1_0.3_0.65": [round(float(np.mean(e >= t)), 2) for t in (0.1, 0.3, 0.65)],
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=None, help="model card(s); default models/")
    ap.add_argument("--real", default="../shared/real_aerial")
    ap.add_argument("--pictures", default="var/bench/real")
    ap.add_argument(
        "--scores",
        action="store_true",
        help="instead: the thumbnails' best garbage_pile scores at several enlargements (thumb_scores)",
    )
    args = ap.parse_args()
    for k, card in enumerate(args.model or ["models/patrol-det.json"]):
        if args.scores:
            print(json.dumps(thumb_scores(card, Path(args.real), (1.0, 1.6, 2.5, 4.0))), flush=True)
            continue
        print(json.dumps(run(card, Path(args.real), Path(args.pictures) / f"model{k}")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
