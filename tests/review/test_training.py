"""`patrol export-training`: reviewed cases become a YOLO dataset."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from pipeline.cases import lifecycle
from pipeline.review.training import decoded_size, export_training
from tests.review.conftest import CLASSES, FLIGHT, World


def test_confirmed_boxes_and_rejected_hard_negatives(world: World, tmp_path: Path) -> None:
    sessions = world.app.state.sessions
    with sessions.begin() as s:
        ids = [v for v in range(1, 40) if s.get(lifecycle.Case, v) is not None]
        for case_id in ids:
            case = lifecycle.get_case(s, case_id)
            if case.frame_path and case.frame_path.endswith("DJI_0001.JPG"):
                lifecycle.claim(s, case_id, "rev1")
                lifecycle.confirm(s, case_id, "rev1")
            elif case.frame_path and case.frame_path.endswith("DJI_0002.JPG"):
                lifecycle.reject(s, case_id, "rev1", "误检")
    out = tmp_path / "ds"
    with sessions() as s:
        result = export_training(s, world.data_root, out, list(CLASSES))
    assert result.images == 2 and result.positives == 1 and result.hard_negatives == 1
    assert result.skipped_unreviewed == 1  # DJI_0003 still has cases nobody judged
    labels = sorted((out / "labels" / "train").glob("*.txt"))
    lines = [p.read_text().splitlines() for p in labels]
    assert sorted(len(x) for x in lines) == [0, result.boxes]
    for line in (x for x in lines if x):
        for row in line:
            cls, *xywh = row.split()
            assert int(cls) in (0, 1) and all(0.0 <= float(v) <= 1.0 for v in xywh)
    assert "names:" in (out / "data.yaml").read_text()
    assert len(list((out / "images" / "train").iterdir())) == 2
    # The rejected frame's sightings are listed where they are in its pixels (its label file: the world).
    record = json.loads((out / "export.json").read_text())
    entry = next(f for f in record["frames"] if f["frame"].endswith("DJI_0002.JPG"))
    with Image.open(FLIGHT / "DJI_0002.JPG") as im:
        w, h = im.size
    want = []
    lines = (FLIGHT / "labels" / "DJI_0002.txt").read_text().splitlines()
    for row in (x.split() for x in lines if x.strip()):
        cx, cy, bw, bh = (float(v) for v in row[1:])
        want.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
    assert len(entry["rejected"]) == len(want) >= 1
    for box in entry["rejected"]:
        assert any(all(abs(a - b) < 0.5 for a, b in zip(box, t, strict=True)) for t in want)
    assert all(f["rejected"] == [] for f in record["frames"] if f["boxes"])


def test_boxes_are_normalised_by_the_frame_as_decoded(tmp_path: Path) -> None:
    """A phone-style JPEG stored 40 x 20 with EXIF orientation 6: OpenCV (what the pipeline decodes with)
    turns it to 20 x 40, and sighting boxes are in those pixels."""
    import cv2
    import numpy as np
    import piexif

    path = tmp_path / "turned.jpg"
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}})
    Image.new("RGB", (40, 20), (90, 90, 90)).save(path, exif=exif)
    decoded = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    assert decoded_size(path) == (decoded.shape[1], decoded.shape[0]) == (20, 40)
    plain = tmp_path / "plain.jpg"
    Image.new("RGB", (40, 20), (90, 90, 90)).save(plain)
    assert decoded_size(plain) == (40, 20)
