"""Evaluation: matching a detection's ground position to truth footprints, counting, AP; and, end to end on
the sample flights, that perfect boxes georeferenced through the photos' own metadata find every target."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from detect_helpers import M3E_4000, SAMPLES

from pipeline import geo
from pipeline.detect.detector import camera_for
from pipeline.detect.evaluate import (
    Searched,
    TruthObject,
    average_precision,
    distance_to_polygon_m,
    load_truth,
    mark_range,
    recall_by_kind,
    score_all,
    score_class,
)
from pipeline.detect.scale import plan_scales
from pipeline.metadata import read_image_meta
from pipeline.placement import place
from pipeline.types import CameraView, Detection, PixelDetection, Pose

LAT, LON = 22.98, 113.74
CLASSES = ("illegal_construction", "garbage_pile")


def _square(east: float, north: float, half: float) -> tuple[tuple[float, float], ...]:
    corners = [
        (east - half, north - half),
        (east + half, north - half),
        (east + half, north + half),
        (east - half, north + half),
    ]
    return tuple(geo.offset_latlon(LAT, LON, e, n) for e, n in corners)


def _at(east: float, north: float) -> tuple[float, float]:
    return geo.offset_latlon(LAT, LON, east, north)


@pytest.mark.parametrize(
    ("east", "north", "expected"),
    [(0.0, 0.0, 0.0), (1.9, -1.9, 0.0), (3.0, 0.0, 1.0), (0.0, -4.5, 2.5), (5.0, 5.0, math.hypot(3, 3))],
)
def test_distance_to_a_footprint(east: float, north: float, expected: float):
    assert distance_to_polygon_m(*_at(east, north), _square(0, 0, 2.0)) == pytest.approx(expected, abs=0.01)


def _det(cls: str, east: float, north: float, score: float = 0.9) -> Detection:
    lat, lon = _at(east, north)
    return Detection("f.jpg", cls, score, (0, 0, 1, 1), lat, lon)


TRUTH = [
    TruthObject("a", "garbage_pile", _square(0, 0, 2), True),
    TruthObject("b", "garbage_pile", _square(50, 0, 2), True),
    TruthObject("c", "illegal_construction", _square(0, 50, 5), True),
    TruthObject("sliver", "garbage_pile", _square(-50, 0, 2), False),  # labelled in no frame
    TruthObject("far", "garbage_pile", _square(0, -80, 2), True, in_range=False),
]


@pytest.mark.parametrize(
    ("dets", "found", "tp", "fp", "ignored"),
    [
        ([], 0, 0, 0, 0),
        ([_det("garbage_pile", 0, 0)], 1, 1, 0, 0),
        ([_det("garbage_pile", 3.5, 0)], 1, 1, 0, 0),  # 1.5 m outside: within the 2 m tolerance
        ([_det("garbage_pile", 5, 0)], 0, 0, 1, 0),  # 3 m outside: false
        ([_det("garbage_pile", 0, 50)], 0, 0, 1, 0),  # on an object of the other class: false
        ([_det("garbage_pile", 0, 0), _det("garbage_pile", 0.5, 0)], 1, 2, 0, 0),  # seen twice: right twice
        ([_det("garbage_pile", -50, 0), _det("garbage_pile", 0, -80)], 0, 0, 0, 2),  # not asked for: ignored
        ([_det("garbage_pile", 0, 0), _det("garbage_pile", 50, 0), _det("garbage_pile", 20, 20)], 2, 2, 1, 0),
        ([Detection("f.jpg", "garbage_pile", 0.9, (0, 0, 1, 1))], 0, 0, 1, 0),  # no ground position: false
    ],
)
def test_counting(dets, found, tp, fp, ignored):
    s = score_class("garbage_pile", [(dets, TRUTH)], tolerance_m=2.0)
    assert (s.truth, s.found, s.true_positives, s.false_positives, s.ignored) == (2, found, tp, fp, ignored)
    assert s.beyond_range == 1
    assert s.recall == found / 2


@pytest.mark.parametrize(
    ("hits", "n", "ap"),
    [
        ([True, True], 2, 1.0),
        ([False, False], 2, 0.0),
        ([True, False], 2, 0.5),  # finds half, and nothing more
        ([False, True], 2, 0.25),  # half found at precision 1/2
        ([True, None, False, True], 2, 0.5 + 0.5 * 2 / 3),  # a repeat sighting is skipped
        ([], 0, 0.0),
    ],
)
def test_average_precision(hits, n, ap):
    assert average_precision(hits, n) == pytest.approx(ap)


def test_score_all_adds_an_all_row_with_the_mean_ap():
    dets = [_det("garbage_pile", 0, 0), _det("illegal_construction", 0, 50)]
    scores = score_all(CLASSES, [(dets, TRUTH)], 2.0)
    assert [s.class_name for s in scores] == [*CLASSES, "all"]
    assert scores[-1].truth == 3 and scores[-1].found == 2
    assert scores[-1].ap == pytest.approx(np.mean([scores[0].ap, scores[1].ap]))
    nothing_to_find = score_all(CLASSES, [([], [])], 2.0)
    assert [s.ap for s in nothing_to_find] == [None, None, None]


def test_flights_scored_together_find_only_their_own_objects():
    # Two flights over one world list the same object under their own keys.
    a = [TruthObject("A/x", "garbage_pile", _square(0, 0, 2), True)]
    b = [TruthObject("B/x", "garbage_pile", _square(0, 0, 2), True)]
    seen_in_both = score_class(
        "garbage_pile", [([_det("garbage_pile", 0, 0)], a), ([_det("garbage_pile", 0, 0)], b)], 2.0
    )
    assert (seen_in_both.truth, seen_in_both.found, seen_in_both.ap) == (2, 2, 1.0)
    seen_in_a = score_class("garbage_pile", [([_det("garbage_pile", 0, 0)], a), ([], b)], 2.0)
    assert (seen_in_a.found, seen_in_a.recall) == (1, 0.5)


def test_objects_seen_only_outside_the_searched_rows_are_not_asked_for():
    # Camera A 100 m up at -45 degrees looking north sees the object 100 m ahead, in the middle of the frame;
    # camera B sees it about 250 m ahead, near the top.
    target = _square(0, 100, 2)
    obj = TruthObject("x", "garbage_pile", target, True, frames=("A.JPG", "B.JPG"))
    a = CameraView(Pose(*_at(0, 0), 100.0, 0.0, -45.0), M3E_4000)
    b = CameraView(Pose(*_at(0, -150), 100.0, 0.0, -45.0), M3E_4000)
    y_a = geo.project_enu_to_pixels(a.intrinsics, a.pose, np.array([[0.0, 100.0, 0.0]]))[0, 1]
    assert y_a == pytest.approx(1500, abs=2)
    assert mark_range([obj], {"A.JPG": Searched(a, (1000, 3000)), "B.JPG": Searched(b, (1000, 3000))})[
        0
    ].in_range
    assert not mark_range([obj], {"A.JPG": Searched(a, (1600, 3000)), "B.JPG": Searched(b, (1000, 3000))})[
        0
    ].in_range
    assert mark_range([obj], {"A.JPG": Searched(a, (1600, 3000))})[
        0
    ].in_range  # B unknown: benefit of the doubt


@pytest.mark.parametrize("flight", ["nadir_mapping", "oblique_corridor"])
def test_perfect_boxes_through_the_photos_metadata_find_every_target(flight: str):
    folder = SAMPLES / flight
    manifest = json.loads((folder / "manifest.json").read_text())
    dets: list[Detection] = []
    searched = {}
    for record in manifest["frames"]:
        v, _, why = camera_for(read_image_meta(folder / record["file"]))
        assert v is not None, why
        plan = plan_scales(v, v.intrinsics.width_px, v.intrinsics.height_px, 0.08, 320, 64)
        searched[record["file"]] = Searched(v, plan.searched_rows)
        boxes = [
            PixelDetection(record["file"], b["class"], 0.9, tuple(map(float, b["xyxy_px"])))
            for b in record["boxes"]
        ]
        dets.extend(place(boxes, v, 300.0).detections)
    truth = mark_range(load_truth(folder / "truth.geojson"), searched)
    total = score_all(CLASSES, [(dets, truth)], tolerance_m=2.0)[-1]
    assert total.truth > 10
    assert total.recall == 1.0 and total.precision == 1.0 and total.ap == pytest.approx(1.0)


def test_recall_is_told_per_kind_of_object_and_a_sample_flights_kinds_are_read():
    shed = ("illegal_construction", "blue_shed")
    truth = [
        TruthObject("s1", shed[0], _square(0, 0, 2.0), True, kind=shed[1]),
        TruthObject("s2", shed[0], _square(20, 0, 2.0), True, kind=shed[1]),
        TruthObject("w1", shed[0], _square(40, 0, 2.0), True, kind="wall_shack"),
        TruthObject("w2", shed[0], _square(60, 0, 2.0), False, kind="wall_shack"),  # no frame labels it
        TruthObject("g1", "garbage_pile", _square(80, 0, 1.0), True, kind="garbage_pile"),
    ]
    found = [
        _det(shed[0], 0, 0),
        _det(shed[0], 0.5, 0),  # s1 again: one object, found once
        _det(shed[0], 60, 0),  # finds the unlabelled one: not asked for
        _det("garbage_pile", 40, 0),  # a wall shack boxed as the wrong class finds nothing
        _det(shed[0], 200, 0),  # false
    ]
    rows = {(r.class_name, r.kind): (r.found, r.truth) for r in recall_by_kind([(found, truth)], 2.0)}
    assert rows == {shed: (1, 2), (shed[0], "wall_shack"): (0, 1), ("garbage_pile", "garbage_pile"): (0, 1)}
    flight = SAMPLES / "nadir_mapping"
    kinds = {json.loads((flight / "truth.geojson").read_text())["features"][0]["properties"]["kind"]}
    assert kinds <= {o.kind for o in load_truth(flight / "truth.geojson")} and "" not in kinds
