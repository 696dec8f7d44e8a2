"""Searching only some rectangles of a frame (each ground cell once, issue 15): only the tiles those need run,
boxes come out in the frame's pixels, and what was searched is listed; then re-check crops are planned
where a candidate object should be in the other frames that covered it."""

from __future__ import annotations

import numpy as np
import pytest
from detect_fakes import ColourDetector, canvas, draw
from detect_helpers import M3E_4000, view

from pipeline import geo
from pipeline.cell_search import coverage_pieces
from pipeline.detect.cell_plan import FrameAssignment, FrameToPlan
from pipeline.detect.detector import (
    DetectSettings,
    combine_searches,
    detect_frame,
    detect_regions,
    place_frame,
    search_plan,
)
from pipeline.detect.rechecks import Candidate, plan_rechecks
from pipeline.errors import ModelError
from pipeline.types import CameraView, Pose

# At 100 m the M3E at 4000 px sees 0.0352 m a pixel: 0.44 of the model's 0.08, so a 320-px tile holds
# 727 frame pixels.
GSD_100 = 100.0 / M3E_4000.focal_px


def frame_with_two_blobs() -> np.ndarray:
    img = canvas(4000, 3000)
    draw(img, (600, 500, 700, 580), 1)  # A, top left
    draw(img, (3000, 2200, 3120, 2300), 0)  # B, bottom right
    return img


def test_only_the_rectangle_is_searched_and_boxes_keep_frame_pixels() -> None:
    det = ColourDetector()
    whole = detect_frame(frame_with_two_blobs(), view(), det)
    assert len(whole.detections) == 2
    tiles_whole = det.tiles_seen
    det.tiles_seen = 0
    rect = (400, 320, 1200, 960)  # holds A only
    found = detect_regions(frame_with_two_blobs(), view(), det, [rect])
    (a,) = found.detections
    assert a.class_name == "garbage_pile"
    assert a.xyxy_px == pytest.approx((600, 500, 700, 580), abs=3.0)
    # 800 x 640 frame pixels are 352 x 282 at the model's scale: two tiles across, one strip.
    assert found.tiles == det.tiles_seen == 2 < tiles_whole
    assert found.searched_px == ((400.0, 320.0, 1200.0, 960.0),)


def test_regions_of_a_frame_decoded_at_half_size_give_the_same_boxes() -> None:
    img = frame_with_two_blobs()
    half = img[::2, ::2].copy()
    rect = (400, 320, 1200, 960)
    full = detect_regions(img, view(), ColourDetector(), [rect])
    reduced = detect_regions(half, view(), ColourDetector(), [rect], reduction=2)
    assert reduced.detections[0].xyxy_px == pytest.approx(full.detections[0].xyxy_px, abs=4.0)
    with pytest.raises(ModelError, match="multiples of 2"):
        detect_regions(half, view(), ColourDetector(), [(401, 320, 1200, 960)], reduction=2)


def test_overlapping_pieces_give_one_box_per_object() -> None:
    det = ColourDetector()
    img = frame_with_two_blobs()
    one = detect_regions(img, view(), det, [(400, 320, 1200, 960)])
    # The second rectangle cuts A: its piece there is absorbed by A's whole box from the first.
    two = detect_regions(img, view(), det, [(640, 0, 1440, 800), (2800, 2000, 3600, 2640)])
    both = combine_searches([one, two], det, DetectSettings())
    assert sorted(d.class_name for d in both.detections) == ["garbage_pile", "illegal_construction"]
    assert both.tiles == one.tiles + two.tiles
    assert len(both.searched_px) == 3


def test_the_ground_recorded_is_the_rectangles_not_the_frame() -> None:
    v = view()
    found = place_frame(
        detect_regions(frame_with_two_blobs(), v, ColourDetector(), [(400, 320, 1200, 960)]), 300
    )
    (piece,) = coverage_pieces(found, v, "f1", "/x/a.jpg", "2024-01-01T10:00:00+08:00", 300.0)
    # Straight down: 800 x 640 pixels of 0.0352 m.
    assert geo.polygon_area_m2(piece.footprint) == pytest.approx(800 * 640 * GSD_100**2, rel=1e-3)
    assert geo.polygon_area_m2(piece.footprint) < 0.1 * geo.polygon_area_m2(geo.frame_footprint(v))


def nadir_at(east: float, north: float, height: float = 100.0) -> CameraView:
    lat, lon = geo.offset_latlon(22.98, 113.74, east, north)
    return CameraView(Pose(lat, lon, height, 0.0, -90.0, 0.0), M3E_4000)


def test_a_candidate_is_rechecked_where_it_should_be_in_the_other_frames_that_covered_it() -> None:
    det = ColourDetector()
    views = [nadir_at(0, 0), nadir_at(30, 0), nadir_at(60, 0), nadir_at(500, 0)]
    frames = [FrameToPlan(f"f{k}", v, 4000, 3000) for k, v in enumerate(views)]
    # f0 searched its middle (and found the candidate there); f1 and f2 searched elsewhere.
    assignments = [
        FrameAssignment("f0", False, (1600.0, 1200.0, 2400.0, 1800.0), 2, 35),
        FrameAssignment("f1", False, (3200.0, 0.0, 4000.0, 800.0), 2, 35),
        FrameAssignment("f2", False, None, 0, 35),
        FrameAssignment("f3", False, (1600.0, 1200.0, 2400.0, 1800.0), 2, 35),
    ]
    lat, lon = geo.offset_latlon(22.98, 113.74, 5.0, 3.0)
    cand = Candidate("garbage_pile", lat, lon, 2.0, 0.9, "f0")

    def search(v, w, h):
        return search_plan(v, w, h, det, DetectSettings())

    crops = plan_rechecks(frames, assignments, [cand], search, 320, 0.08)
    assert crops[0] == () and crops[3] == ()  # f0 searched there itself; f3 is 500 m away
    for k, east in ((1, 30.0), (2, 60.0)):
        (rect,) = crops[k]
        # Where the point 5 m east and 3 m north lands in a north-facing nadir frame at `east`.
        x = 2000.0 + (5.0 - east) / GSD_100
        y = 1500.0 - 3.0 / GSD_100
        x0, y0, x1, y1 = rect
        assert abs((x0 + x1) / 2 - x) <= 8 and abs((y0 + y1) / 2 - y) <= 8
        assert all(v % 8 == 0 for v in rect)
        # One model tile at 0.44 scale: at most 727 frame pixels a side, and one tile when searched.
        assert x1 - x0 == y1 - y0 == 720
        assert len(search_plan(view(), 720, 720, det).strips) == 1
    assert plan_rechecks(frames, assignments, [cand], search, 320, 0.08, max_views=1)[2] == ()
