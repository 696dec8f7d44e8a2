"""Reviewed cases back into training data: a YOLO dataset of the frames staff gave verdicts on.

A frame holding sightings of confirmed cases (or cases dispatched, resolved or closed since) becomes an
image with those boxes as labels; a frame whose sightings all belong to rejected cases becomes a
hard-negative image with an empty label file. A frame that also shows a case nobody has judged yet is left
out: its unjudged object would teach the model something nobody checked. export.json lists each frame's
rejected sightings (boxes in its pixels), so `patrol train --extra` can keep the tiles showing them.

    OUT/images/train/*.jpg  OUT/labels/train/*.txt  OUT/data.yaml  OUT/export.json
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.cases.lifecycle import CLOSED, CONFIRMED, DISPATCHED, REJECTED, RESOLVED
from pipeline.cases.models import Case, Frame, SightingRow
from pipeline.errors import CaseError

POSITIVE = (CONFIRMED, DISPATCHED, RESOLVED, CLOSED)
ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class TrainingExport:
    images: int
    positives: int  # images with at least one box
    hard_negatives: int
    boxes: int
    skipped_unreviewed: int  # frames that also show cases nobody judged
    skipped_missing: int  # frames whose file is gone


def _frame_file(data_root: Path, stored: str) -> Path | None:
    path = Path(stored)
    path = path if path.is_absolute() else data_root / path
    return path if path.is_file() else None


def decoded_size(path: Path) -> tuple[int, int]:
    """(width, height) of a photo as the pipeline decodes it: sighting boxes are in those pixels, which an
    EXIF orientation of 5 to 8 turns a quarter from the stored ones."""
    with Image.open(path) as im:
        width, height = im.size
        turned = im.getexif().get(ORIENTATION_TAG, 1) in (5, 6, 7, 8)
    return (height, width) if turned else (width, height)


def _yolo_line(cls: int, box: tuple[float, float, float, float], w: int, h: int) -> str:
    x0, y0, x1, y1 = (max(0.0, min(v, lim)) for v, lim in zip(box, (w, h, w, h), strict=True))
    return f"{cls} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"


def export_training(session: Session, data_root: Path, out_dir: Path, classes: list[str]) -> TrainingExport:
    index = {name: i for i, name in enumerate(classes)}
    rows = session.execute(
        select(SightingRow, Case.status, Frame.path)
        .join(Case, Case.id == SightingRow.case_id)
        .join(Frame, Frame.id == SightingRow.frame_id)
        .order_by(Frame.path, SightingRow.id)
    ).all()
    frames: dict[str, list[tuple[SightingRow, str]]] = defaultdict(list)
    for sighting, status, frame_path in rows:
        frames[frame_path].append((sighting, status))
    images_dir, labels_dir = out_dir / "images" / "train", out_dir / "labels" / "train"
    images_dir.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    counts = {"images": 0, "positives": 0, "hard_negatives": 0, "boxes": 0, "unreviewed": 0, "missing": 0}
    sources = []
    for frame_path, items in frames.items():
        statuses = {status for _, status in items}
        if not statuses <= set(POSITIVE) | {REJECTED}:
            counts["unreviewed"] += 1
            continue
        src = _frame_file(data_root, frame_path)
        if src is None:
            counts["missing"] += 1
            continue
        width, height = decoded_size(src)
        lines = [
            _yolo_line(index[s.class_name], (s.x0_px, s.y0_px, s.x1_px, s.y1_px), width, height)
            for s, status in items
            if status in POSITIVE and s.class_name in index
        ]
        stem = hashlib.sha256(frame_path.encode()).hexdigest()[:16]
        shutil.copyfile(src, images_dir / f"{stem}{src.suffix.lower()}")
        (labels_dir / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        counts["images"] += 1
        counts["positives" if lines else "hard_negatives"] += 1
        counts["boxes"] += len(lines)
        # Where staff said "not this": `patrol train --extra` keeps the tiles showing them as hard negatives.
        rejected = [[s.x0_px, s.y0_px, s.x1_px, s.y1_px] for s, status in items if status == REJECTED]
        image = f"{stem}{src.suffix.lower()}"
        sources.append({"image": image, "frame": frame_path, "boxes": len(lines), "rejected": rejected})
    if counts["images"] == 0:
        raise CaseError("no reviewed frames to export (confirm or reject some cases first)", str(out_dir))
    names = "".join(f"  {i}: {name}\n" for i, name in enumerate(classes))
    yaml = f"path: .\ntrain: images/train\nval: images/train\nnames:\n{names}"
    (out_dir / "data.yaml").write_text(yaml, encoding="utf-8")
    result = TrainingExport(
        counts["images"],
        counts["positives"],
        counts["hard_negatives"],
        counts["boxes"],
        counts["unreviewed"],
        counts["missing"],
    )
    record = {**asdict(result), "classes": classes, "frames": sources}
    (out_dir / "export.json").write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    return result
