"""Pose values that are present but cannot be read (NaN, inf, junk, out of range), in XMP and SRT telemetry.

The rule (pipeline.geo.pose_from_meta): a field the file does not state may be assumed (no pitch: nadir), a
field it states and that is no usable number never is: the frame has no pose and the reason names the field.
Expected values are the ones written into the files; the nadir case is the closed form of a straight-down
camera (its centre pixel lands below it, at ground distance 0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.detect.detector import camera_for
from pipeline.metadata import parse_srt, read_image_meta
from pipeline.types import ImageMeta, flat_fields

POSED = (
    'drone-dji:GpsLatitude="+22.98" drone-dji:GpsLongitude="+113.74" drone-dji:RelativeAltitude="+50.0" '
    'drone-dji:GimbalYawDegree="+10.0" drone-dji:FlightYawDegree="+12.0" drone-dji:GimbalRollDegree="+0.0"'
)

# (row, the XMP attribute that replaces or adds to POSED's, field, words the reason must hold)
XMP_ROWS = [
    ("pitch nan", 'drone-dji:GimbalPitchDegree="nan"', "gimbal_pitch_deg", "gimbal pitch unreadable ('nan')"),
    ("pitch inf", 'drone-dji:GimbalPitchDegree="-inf"', "gimbal_pitch_deg", "not assumed nadir"),
    ("pitch junk", 'drone-dji:GimbalPitchDegree="-9O.0"', "gimbal_pitch_deg", "unreadable ('-9O.0')"),
    ("pitch 1/0", 'drone-dji:GimbalPitchDegree="1/0"', "gimbal_pitch_deg", "not assumed nadir"),
    (
        "pitch out of range",
        'drone-dji:GimbalPitchDegree="+9999"',
        "gimbal_pitch_deg",
        "gimbal pitch unreadable (out of range (9999))",
    ),
    (
        "roll nan",
        'drone-dji:GimbalPitchDegree="-90" drone-dji:GimbalRollDegree="nan"',
        "gimbal_roll_deg",
        "not assumed level",
    ),
    (
        "height inf",
        'drone-dji:GimbalPitchDegree="-90" drone-dji:RelativeAltitude="inf"',
        "rel_alt_m",
        "relative altitude unreadable",
    ),
    (
        "gimbal yaw nan beside a flight yaw",
        'drone-dji:GimbalPitchDegree="-90" drone-dji:GimbalYawDegree="nan"',
        "gimbal_yaw_deg",
        "not taken from the flight yaw",
    ),
]


def _attrs(extra: str) -> str:
    """POSED with `extra`'s attributes winning (an attribute may appear once in XML)."""
    names = {a.split("=")[0] for a in extra.split()}
    kept = [a for a in POSED.split() if a.split("=")[0] not in names]
    return " ".join([*kept, extra])


@pytest.mark.parametrize(("row", "extra", "field", "words"), XMP_ROWS, ids=[r[0] for r in XMP_ROWS])
def test_an_unreadable_xmp_pose_value_is_never_replaced_by_a_default(
    make_jpeg: Callable[..., Path],
    exif_dict: Callable[..., dict[str, Any]],
    xmp_packet: Callable[..., bytes],
    row: str,
    extra: str,
    field: str,
    words: str,
) -> None:
    meta = read_image_meta(make_jpeg(exif=exif_dict(), xmp=xmp_packet(_attrs(extra))))
    assert flat_fields(meta)[field] is None, row
    assert field in dict(meta.unreadable), row
    assert any(field in p for p in meta.problems), meta.problems  # `patrol meta` says so too
    view, _, why = camera_for(meta)
    assert view is None, row
    assert words in why, why


def test_a_pitch_the_file_does_not_state_is_still_assumed_nadir(
    make_jpeg: Callable[..., Path], exif_dict: Callable[..., dict[str, Any]], xmp_packet: Callable[..., bytes]
) -> None:
    from pipeline import geo

    meta = read_image_meta(make_jpeg(exif=exif_dict(), xmp=xmp_packet(POSED)))
    assert meta.gimbal.pitch_deg is None and meta.unreadable == ()
    view, _, why = camera_for(meta)
    assert view is not None and why == ""
    assert "gimbal pitch missing: assumed nadir" in view.notes
    centre = geo.pixel_to_ground(view, meta.width / 2, meta.height / 2)  # type: ignore[operator]
    assert centre.ground_distance_m == pytest.approx(0.0, abs=1e-6)


def test_a_value_another_source_gives_is_not_unreadable(
    make_jpeg: Callable[..., Path], exif_dict: Callable[..., dict[str, Any]], xmp_packet: Callable[..., bytes]
) -> None:
    # XMP's position is junk, EXIF's is good: the photo has EXIF's, and nothing is left unreadable.
    xmp = xmp_packet(_attrs('drone-dji:GpsLatitude="nan" drone-dji:GimbalPitchDegree="-90"'))
    meta = read_image_meta(make_jpeg(exif=exif_dict(), xmp=xmp))
    assert meta.lat == pytest.approx(22.98) and "lat" not in dict(meta.unreadable)
    assert camera_for(meta)[0] is not None


SRT = """1
00:00:00,000 --> 00:00:01,000
[latitude: 22.981000] [longitude: 113.741000] [rel_alt: 50.0 abs_alt: 120.0] \
[gb_yaw: 10.0 gb_pitch: -90.0 gb_roll: 0.0]

2
00:00:01,000 --> 00:00:02,000
[latitude: 22.981100] [longitude: 113.741100] [rel_alt: {alt} abs_alt: 120.0] \
[gb_yaw: 10.0 gb_pitch: {pitch} gb_roll: 0.0]

3
00:00:02,000 --> 00:00:03,000
[latitude: {lat}] [longitude: 113.741200] [rel_alt: 50.0 abs_alt: 120.0] \
[gb_yaw: 10.0 gb_pitch: -90.0 gb_roll: 0.0]
"""


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_srt_nan_and_inf_never_reach_a_value(bad: str) -> None:
    entries = parse_srt(SRT.format(alt=bad, pitch=bad, lat=bad))
    assert [e.index for e in entries] == [1, 2, 3]
    second, third = entries[1], entries[2]
    assert second.rel_alt_m is None and second.gimbal.pitch_deg is None
    assert dict(second.unreadable).keys() == {"rel_alt_m", "gimbal_pitch_deg"}
    assert third.lat is None and third.lon is None and "lat" in dict(third.unreadable)
    assert second.as_dict()["problems"] == [
        f"rel_alt_m unreadable ({float(bad)})",
        f"gimbal_pitch_deg unreadable ({float(bad)})",
    ]


def test_srt_out_of_range_values_are_unreadable() -> None:
    [_, second, third] = parse_srt(SRT.format(alt="250000", pitch="720", lat="95.0"))
    assert dict(second.unreadable) == {"rel_alt_m": "250000", "gimbal_pitch_deg": "720"}
    assert third.lat is None


def test_a_video_frame_beside_an_unreadable_block_gets_no_pose_nor_nadir() -> None:
    from pipeline.ingest import interpolate_entry

    entries = parse_srt(SRT.format(alt="50.0", pitch="nan", lat="22.981200"))
    # Blocks start at 0, 1 and 2 s; a value missing on one side of a frame is the nearer block's. At 1.2 s
    # that is block 2, whose pitch is nan; at 1.6 s block 3's -90; at 0.4 s block 1's -90.
    meta = interpolate_entry(entries, 1200.0, 1920, 1080, "DJI_0001.MP4#37")
    assert meta.gimbal.pitch_deg is None
    assert dict(meta.unreadable) == {"gimbal_pitch_deg": "nan"}
    assert "telemetry gimbal_pitch_deg unreadable (nan) in block 2/3" in meta.problems
    view, _, why = camera_for(ImageMeta(**{**_fields(meta), "focal_35mm": 24.0}))
    assert view is None and "gimbal pitch unreadable (nan): the camera's direction is unknown" in why
    for ms in (400.0, 1600.0):
        near = interpolate_entry(entries, ms, 1920, 1080, "DJI_0001.MP4#k")
        assert near.gimbal.pitch_deg == -90.0 and near.unreadable == ()


def test_a_telemetry_block_with_an_unreadable_position_is_left_out_and_named(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from pipeline.ingest import SAMPLE_EVERY, IngestSettings, plan_flight

    folder = tmp_path / "flight"
    folder.mkdir()
    writer = cv2.VideoWriter(str(folder / "DJI_0001.MP4"), cv2.VideoWriter_fourcc(*"mp4v"), 2.0, (64, 48))
    for k in range(6):  # 3 s at 2 fps
        writer.write(np.full((48, 64, 3), 40 * k, np.uint8))
    writer.release()
    (folder / "DJI_0001.SRT").write_text(SRT.format(alt="50.0", pitch="-90.0", lat="nan"))
    plan = plan_flight(folder, "F", IngestSettings(sampling=SAMPLE_EVERY))
    notes = [note for _, note in plan.skipped]
    assert any(
        n.startswith("1 telemetry block(s) with an unreadable position") and "block 3" in n for n in notes
    )
    # Block 3 no longer speaks: the telemetry ends with block 2 at 2 s, held half a block (0.5 s): frames at
    # 0, 0.5 ... 2.5 s, every one with block 1's or block 2's position.
    assert [f.frame_index for f in plan.frames] == [0, 1, 2, 3, 4, 5]
    for f in plan.frames:
        assert f.meta is not None and f.meta.lat is not None and 22.981 <= f.meta.lat <= 22.9811


def _fields(meta: ImageMeta) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(meta, f.name) for f in fields(ImageMeta)}
