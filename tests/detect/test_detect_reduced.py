"""Scaled decoding: a frame the detector shrinks at least 2x, 4x or 8x anyway is decoded that much smaller
by libjpeg, searched from those pixels, and its boxes still come out in the full frame's pixels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from detect_fakes import ColourDetector, canvas, draw
from detect_helpers import M3E_4000, SAMPLES, detect_and_place, view

from pipeline.detect.detector import DetectSettings, detect_frame, reduction_for, reduction_rule, search_plan
from pipeline.detect.scale import decode_reduction, snap_to_reduction
from pipeline.errors import ModelError
from pipeline.ingest import decode_photo, load_frame, photo_ref

NADIR_PHOTO = SAMPLES / "nadir_mapping" / "DJI_0001.JPG"  # 2000 x 1500


def _nadir_gsd(height_m: float, width_px: int = 4000) -> float:
    # sensor width x height / (focal length x image width): the M3E's 17.3 mm sensor, 12.29 mm lens
    return 17.3 * height_m / (12.29 * width_px)


@pytest.mark.parametrize(
    ("height_m", "pitch_deg", "expected"),
    [
        (100.0, -90.0, 2),  # 0.035 m/px: shrunk 2.3x to the model's 0.08
        (30.0, -90.0, 4),  # 0.011 m/px: 7.6x, not yet 8
        (15.0, -90.0, 8),  # 0.005 m/px: 15x (8 is libjpeg's most)
        (60.0, -90.0, 2),  # 0.021 m/px: 3.8x, not yet 4
        (300.0, -90.0, 1),  # 0.106 m/px: coarser than the model, never shrunk
        (100.0, -45.0, 1),  # the far rows are searched at their native pixels
    ],
)
def test_a_frame_is_decoded_as_much_smaller_as_its_least_shrunk_strip_allows(height_m, pitch_deg, expected):
    shrink = 0.08 / _nadir_gsd(height_m)
    if pitch_deg == -90.0:
        assert expected == max(k for k in (1, 2, 4, 8) if k <= max(shrink, 1.0))  # the closed form
    v = view(height_m, pitch_deg)
    assert reduction_for(v, 4000, 3000, ColourDetector()) == expected


def test_a_size_that_does_not_divide_by_the_factor_takes_the_next_smaller_one():
    # 4004 x 3002 divides by 2 but not by 4 or 8: a reduced pixel must be a whole block of the frame's.
    intr = replace(M3E_4000, width_px=4004, height_px=3002, cx_px=2002.0, cy_px=1501.0)
    assert reduction_for(view(30.0, -90.0, intr), 4004, 3002, ColourDetector()) == 2


def test_snapped_strips_start_and_end_on_whole_blocks_and_still_hold_their_rows():
    plan = search_plan(view(100.0, -90.0), 4000, 3000, ColourDetector())
    snapped = snap_to_reduction(plan, 2)
    assert decode_reduction(plan) == 2 and len(snapped.strips) == len(plan.strips)
    for before, after in zip(plan.strips, snapped.strips, strict=True):
        assert after.top_px % 2 == 0 and (after.bottom_px % 2 == 0 or after.bottom_px == 3000)
        assert after.top_px <= before.top_px and after.bottom_px >= before.bottom_px
        assert before.top_px - after.top_px < 2 and after.bottom_px - before.bottom_px < 2
        assert after.size_px == before.size_px


@pytest.mark.parametrize("reduction", [2, 4, 8])
def test_reduced_pixels_are_the_block_means_of_the_full_decode(reduction: int):
    full = decode_photo(NADIR_PHOTO).astype(float)
    small = decode_photo(NADIR_PHOTO, reduction=reduction).astype(float)
    h, w = -(-full.shape[0] // reduction), -(-full.shape[1] // reduction)
    assert small.shape == (h, w, 3)
    hk, wk = full.shape[0] // reduction, full.shape[1] // reduction
    blocks = (
        full[: hk * reduction, : wk * reduction].reshape(hk, reduction, wk, reduction, 3).mean(axis=(1, 3))
    )
    diff = np.abs(small[:hk, :wk] - blocks)
    # libjpeg's scaled inverse DCT is not a box filter, but on a photo it is within a grey level on average.
    assert diff.mean() < 1.0 and np.percentile(diff, 99) < 6.0


def test_boxes_from_half_size_pixels_are_where_the_objects_are_in_the_full_frame(tmp_path: Path):
    img = canvas(4000, 3000)
    objects = [((1800, 2000, 1900, 2080), 1), ((403, 611, 561, 733), 0), ((3301, 97, 3377, 205), 1)]
    for xyxy, cls in objects:
        draw(img, xyxy, cls)
    path = tmp_path / "frame.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    v = view(100.0, -90.0)
    full = detect_and_place(decode_photo(path), v, ColourDetector())
    half = detect_and_place(decode_photo(path, reduction=2), v, ColourDetector(), reduction=2)
    assert (half.width_px, half.height_px, half.reduction) == (4000, 3000, 2)
    assert half.tiles == full.tiles
    for result in (full, half):
        found = sorted((d.xyxy_px, d.class_name) for d in result.detections)
        truth = sorted((xyxy, ("illegal_construction", "garbage_pile")[cls]) for xyxy, cls in objects)
        assert [c for _, c in found] == [c for _, c in truth]
        for (box, _), (true_box, _) in zip(found, truth, strict=True):
            # A few pixels of the full frame: one pixel of the 2.3x shrunk strip, plus the JPEG's blur.
            assert box == pytest.approx(true_box, abs=4.0)
    by_full = {d.class_name + str(round(d.xyxy_px[0], -2)): d for d in full.detections}
    for d in half.detections:
        twin = by_full[d.class_name + str(round(d.xyxy_px[0], -2))]
        assert (d.lat, d.lon) == pytest.approx((twin.lat, twin.lon), abs=2e-6)  # within ~0.2 m


def test_pixels_decoded_smaller_than_the_plan_allows_are_refused():
    img = canvas(1000, 750)  # a 4000 x 3000 frame at 1/4, which 100 m nadir (2.3x) does not allow
    with pytest.raises(ModelError, match="allows at most 1/2"):
        detect_frame(img, view(100.0, -90.0), ColourDetector(), reduction=4)


def test_an_unposed_frame_is_decoded_no_smaller_than_its_finest_fallback_pass_allows():
    # Fallback heights 30, 60, 120 m with the M3E lens: the 120 m pass is at its native 0.042 m/px (1.9x
    # shrink), so only 1; without it the 60 m pass (3.8x) allows 2.
    settings = DetectSettings()
    assert reduction_for(None, 4000, 3000, ColourDetector(), settings, M3E_4000) == 1
    finer = replace(settings, fallback_heights_m=(30.0, 60.0))
    assert reduction_for(None, 4000, 3000, ColourDetector(), finer, M3E_4000) == 2


def test_load_frame_decodes_as_small_as_the_rule_says_and_keeps_the_full_pixels_for_evidence():
    ref = photo_ref(NADIR_PHOTO)
    whole = load_frame(ref)
    reduced = load_frame(ref, reduction=lambda view, intr, why, w, h: 4 if (w, h) == (2000, 1500) else 1)
    assert whole.reduction == 1 and reduced.reduction == 4
    assert reduced.image.shape == (375, 500, 3) and reduced.size_px == (2000, 1500) == whole.size_px
    assert np.array_equal(reduced.full_image(), whole.image)
    assert reduced.view == whole.view and reduced.seen_at == whole.seen_at


def test_the_detectors_rule_leaves_a_frame_it_would_not_shrink_whole():
    # The sample nadir flight: 2000 px wide from 100 m is 0.070 m/px, only 1.14x finer than the model.
    rule = reduction_rule(ColourDetector(), DetectSettings())
    frame = load_frame(photo_ref(NADIR_PHOTO), reduction=rule)
    assert frame.reduction == 1 and frame.image.shape == (1500, 2000, 3)


def test_full_pixels_are_searched_from_their_block_means_when_every_strip_shrinks_anyway():
    # Ground with texture a few pixels across, so that how the pixels were shrunk shows in every tile.
    texture = cv2.GaussianBlur(
        np.random.default_rng(5).integers(0, 60, (3000, 4000, 3), np.uint8), (0, 0), 1.0
    )
    img = (canvas(4000, 3000).astype(np.int16) + texture - 30).clip(0, 255).astype(np.uint8)
    draw(img, (1800, 2000, 1900, 2080), 1)
    v = view(100.0, -90.0)
    seen: dict[int, list[np.ndarray]] = {}

    class Recording(ColourDetector):
        def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
            seen.setdefault(id(self), []).append(tiles.copy())
            return super().__call__(tiles, conf, iou)

    whole, halved = Recording(), Recording()
    small = img.reshape(1500, 2, 2000, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    a = detect_frame(img, v, whole, DetectSettings())
    detect_frame(small, v, halved, DetectSettings(), reduction=2)
    tiles_a, tiles_b = np.concatenate(seen[id(whole)]), np.concatenate(seen[id(halved)])
    # The same tiles as from pixels decoded at half size, to rounding: the full rows were never rescaled.
    assert tiles_a.shape == tiles_b.shape
    assert np.abs(tiles_a.astype(int) - tiles_b.astype(int)).max() <= 1
    (found,) = a.detections
    assert found.xyxy_px == pytest.approx((1800, 2000, 1900, 2080), abs=4.0)  # where it was drawn
    assert a.reduction == 1  # what the caller decoded at
