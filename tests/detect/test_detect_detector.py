"""The per-frame entry point: detections carry the original-frame box, the class, the score and the ground
position of the box's anchor; frames without a pose are searched at the fallback scale and say so."""

from __future__ import annotations

import numpy as np
import pytest
from detect_fakes import ColourDetector, canvas, draw
from detect_helpers import M3E_4000, detect_and_place, view

from pipeline import geo
from pipeline.detect.detector import DetectSettings, detect_frame, detect_image
from pipeline.errors import ModelError, PipelineError
from pipeline.placement import anchor_px


@pytest.mark.parametrize(
    ("pitch_deg", "expected"),
    [
        (-90.0, (50.0, 50.0)),  # nadir: the centre
        (-67.5, (50.0, 62.5)),  # halfway to 45 degrees of tilt
        (-45.0, (50.0, 75.0)),  # a quarter of the height above the bottom
        (-20.0, (50.0, 75.0)),  # and no lower
    ],
)
def test_anchor_slides_from_the_centre_towards_the_base_as_the_view_tilts(pitch_deg, expected):
    assert anchor_px((0.0, 0.0, 100.0, 100.0), pitch_deg) == pytest.approx(expected)


@pytest.mark.parametrize("pitch_deg", [-90.0, -60.0, -45.0])
def test_detections_are_georeferenced_at_their_anchor_with_a_footprint(pitch_deg: float):
    img = canvas(4000, 3000)
    draw(img, (1800, 2000, 1900, 2080), 1)
    v = view(80.0, pitch_deg)
    result = detect_and_place(img, v, ColourDetector(), path="f.jpg")
    assert result.georeferenced and not result.fallback_scale
    (det,) = result.detections
    assert det.path == "f.jpg" and det.class_name == "garbage_pile" and det.score == pytest.approx(0.9)
    expected = geo.pixel_to_ground(v, *anchor_px(det.xyxy_px, pitch_deg))
    assert (det.lat, det.lon) == pytest.approx((expected.lat, expected.lon), abs=1e-9)
    assert det.ground_distance_m == pytest.approx(expected.ground_distance_m)
    assert len(det.footprint) == 4
    assert geo.polygon_area_m2(det.footprint) > 0 and det.size_m is not None and det.size_m > 1.0
    record = det.as_dict()
    assert set(record) >= {"path", "class", "score", "xyxy_px", "lat", "lon", "footprint"}


def test_nothing_is_reported_beyond_the_maximum_ground_distance():
    img = canvas(4000, 3000)
    draw(img, (1900, 2800, 2000, 2900), 0)  # near
    draw(img, (1900, 300, 2000, 330), 0)  # far: about 250 m away at 100 m, -45 degrees
    v = view(100.0, -45.0)
    near_only = detect_and_place(img, v, ColourDetector(), DetectSettings(max_ground_distance_m=200.0))
    both = detect_and_place(img, v, ColourDetector(), DetectSettings(max_ground_distance_m=400.0))
    assert len(near_only.detections) == 1 and len(both.detections) == 2
    assert all(d.ground_distance_m is not None and d.ground_distance_m <= 200.0 for d in near_only.detections)


def test_a_frame_without_a_pose_is_searched_at_the_fallback_scale_and_says_so():
    img = canvas(4000, 3000)
    draw(img, (1000, 1000, 1100, 1060), 0)
    result = detect_and_place(img, None, ColourDetector(), intrinsics=M3E_4000, why_no_pose="no GPS position")
    assert result.fallback_scale and not result.georeferenced
    assert any("fallback scale" in n and "no GPS position" in n for n in result.notes)
    (det,) = result.detections
    assert det.lat is None and det.lon is None and det.footprint == ()
    assert det.xyxy_px == pytest.approx((1000, 1000, 1100, 1060), abs=8)


def test_an_unposed_frame_is_searched_at_several_resolutions_and_implausible_sizes_are_dropped():
    img = canvas(4000, 3000)
    draw(img, (200, 200, 300, 260), 1)  # 100 px: 1.0-4.1 m at 30-120 m (M3E): a plausible heap at all
    draw(img, (600, 1000, 3600, 2900), 1)  # 3000 px: 31-124 m from 30-120 m... too large for a heap
    result = detect_and_place(img, None, ColourDetector(), intrinsics=M3E_4000, why_no_pose="no altitude")
    heights = (30.0, 60.0, 120.0)
    gsds = [h / M3E_4000.focal_px for h in heights]
    assert sum("assumed ground resolution" in n for n in result.notes) == 3
    assert any("implausible" in n for n in result.notes)
    (det,) = result.detections  # the small heap once (one box across the passes); the huge blob dropped
    assert det.xyxy_px == pytest.approx((200, 200, 300, 260), abs=12)
    assert det.assumed_gsd_m is not None and min(abs(det.assumed_gsd_m - g) for g in gsds) < 1e-9
    assert det.size_m == pytest.approx(100 * det.assumed_gsd_m, rel=0.15)
    assert det.as_dict()["assumed_gsd_m"] == pytest.approx(det.assumed_gsd_m, abs=1e-4)


def test_a_resized_copy_keeps_its_pose_with_scaled_intrinsics():
    img = canvas(2000, 1500)
    draw(img, (900, 700, 950, 740), 1)
    full = canvas(4000, 3000)
    draw(full, (1800, 1400, 1900, 1480), 1)
    v = view(100.0)
    small = detect_and_place(img, v, ColourDetector()).detections[0]
    big = detect_and_place(full, v, ColourDetector()).detections[0]
    assert small.lat is not None and big.lat is not None
    assert geo.distance_m(small.lat, small.lon, big.lat, big.lon) < 0.15


def test_every_tile_goes_through_the_detector_in_batches():
    det = ColourDetector()
    result = detect_frame(canvas(4000, 3000), view(100.0), det, DetectSettings(batch=8))
    assert det.tiles_seen == result.tiles == 35 and det.calls == 5


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (DetectSettings(conf=0.0), "conf"),
        (DetectSettings(overlap=0.7), "overlap"),
        (DetectSettings(batch=0), "batch"),
    ],
)
def test_bad_settings_are_a_model_error(settings: DetectSettings, words: str):
    with pytest.raises(ModelError, match=words):
        detect_frame(canvas(64, 64), None, ColourDetector(), settings)


def test_detect_image_on_a_real_dji_photo_and_on_a_file_that_is_not_one(tmp_path):
    from detect_helpers import SAMPLES

    result = detect_image(SAMPLES / "nadir_mapping" / "DJI_0001.JPG", ColourDetector())
    assert result.georeferenced and result.width_px == 2000 and result.tiles > 0
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(PipelineError, match=r"x\.jpg"):
        detect_image(bad, ColourDetector())
    plain = tmp_path / "plain.png"
    import cv2

    cv2.imwrite(str(plain), np.full((300, 400, 3), 90, np.uint8))
    untagged = detect_image(plain, ColourDetector())
    assert untagged.fallback_scale and "an assumed 84 degree lens" in " ".join(untagged.notes)
