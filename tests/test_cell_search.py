"""A photo flight searched each ground cell once (pipeline.cell_search) on the sample survey: a frame whose
file cannot even be described (a pixel bomb) does not stop the plan; it is searched alone, and fails there."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.cell_search import first_pass, plan_search
from pipeline.detect.detector import DetectSettings
from pipeline.errors import PixelLimitError
from pipeline.ingest import SAMPLE_EVERY, IngestSettings, plan_flight

SAMPLE = Path(__file__).resolve().parents[1] / "sample_flights" / "nadir_mapping"


class NoBoxes:
    classes = ("illegal_construction", "garbage_pile")
    imgsz = 320
    gsd_m = 0.08
    min_score = ()

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        return [np.zeros((0, 6), dtype=np.float32) for _ in tiles]


def bomb() -> bytes:
    """A tiny JPEG whose header declares 60000 x 60000 pixels."""
    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    return bytes(data)


def test_a_pixel_bomb_is_planned_to_be_searched_alone_and_fails_there(tmp_path: Path) -> None:
    for src in sorted(SAMPLE.glob("DJI_000[1-4].JPG")):
        shutil.copy2(src, tmp_path / src.name)
    (tmp_path / "DJI_0005.JPG").write_bytes(bomb())
    plan = plan_flight(tmp_path, settings=IngestSettings(sampling=SAMPLE_EVERY))
    cells = plan_search(plan.frames, NoBoxes(), DetectSettings())
    broken = cells.cells.frames[-1]
    assert broken.whole and cells.frames[-1].view is None
    assert all(not a.whole for a in cells.cells.frames[:-1]) and sum(a.tiles for a in cells.cells.frames) > 0
    with pytest.raises(PixelLimitError):
        first_pass(plan.frames[-1], broken, NoBoxes(), DetectSettings())


def test_boxes_kept_only_as_candidates_are_not_reported() -> None:
    from pipeline.cell_search import second_pass
    from pipeline.detect.detector import FrameSearch
    from pipeline.ingest import photo_ref
    from pipeline.types import CameraView, Intrinsics, PixelDetection, Pose

    view = CameraView(Pose(22.98, 113.74, 100.0, 0.0, -90.0), Intrinsics(400, 300, 400.0, 200.0, 150.0, "x"))
    weak = PixelDetection("f", "garbage_pile", 0.5, (10.0, 10.0, 20.0, 20.0))
    strong = PixelDetection("f", "garbage_pile", 0.7, (50.0, 50.0, 60.0, 60.0))
    first = FrameSearch(
        path="f", width_px=400, height_px=300, detections=(strong, weak), camera=view, fallback_scale=False,
        strips=1, tiles=1, seconds=0.0, searched_px=((0, 0, 400, 300),),
    )  # fmt: skip
    ref = photo_ref(SAMPLE / "DJI_0001.JPG")  # not read: there are no crops to search
    out = second_pass(ref, first, (), NoBoxes(), DetectSettings(conf=0.6))
    assert out.detections == (strong,)


def test_a_frame_without_cells_says_why_when_none_of_its_ground_could_be_searched() -> None:
    """A frame that got no cells because other frames see its ground better says nothing of itself; one
    whose own ground is all beyond the limits (here: every row coarser than a hundredth of the model's
    resolution) says so, as full search would, so its record names why it was not searched."""
    from pipeline.detect.cell_plan import FrameAssignment
    from pipeline.ingest import photo_ref

    ref = photo_ref(SAMPLE / "DJI_0001.JPG")
    nothing = FrameAssignment(ref.name, False, None, 0, 0)
    elsewhere, frame = first_pass(ref, nothing, NoBoxes(), DetectSettings())
    assert frame is None and elsewhere.tiles == 0 and elsewhere.notes == ()
    coarse, _ = first_pass(ref, nothing, NoBoxes(), DetectSettings(max_gsd_ratio=0.01))
    assert coarse.tiles == 0 and any(n.startswith("nothing searched") for n in coarse.notes)
