"""--video: an MP4 readable by OpenCV and a DJI bracket-layout SRT with one entry per frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from pipeline.frames import view_for_meta
from pipeline.ingest import interpolate_entry
from pipeline.metadata import read_srt


def test_mp4_and_srt(video_flight: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = video_flight
    cap = cv2.VideoCapture(str(out / "DJI_0001.MP4"))
    try:
        assert cap.isOpened()
        frames = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            assert img.shape == (360, 640, 3)
            frames += 1
    finally:
        cap.release()
    assert frames == 8
    text = (out / "DJI_0001.SRT").read_text()
    assert "[iso : 100]" in text and "[color_md : default]" in text and "gb_pitch:" in text
    entries = read_srt(out / "DJI_0001.SRT")
    assert len(entries) == 8 == len(manifest["frames"])
    for entry, frame in zip(entries, manifest["frames"], strict=True):
        pose = frame["true_pose"]
        assert entry.lat == pytest.approx(frame["written_position"]["lat"], abs=1e-6)
        assert entry.lon == pytest.approx(frame["written_position"]["lon"], abs=1e-6)
        assert entry.rel_alt_m == pytest.approx(pose["height_m"], abs=1e-3)
        assert entry.gimbal.pitch_deg == pytest.approx(pose["pitch_deg"], abs=0.051)
        assert entry.focal_35mm == pytest.approx(24)
        assert (out / frame["labels"]).is_file()
    assert entries[1].start_ms == 200 and entries[0].end_ms == 200


def test_video_targets_locate_back_through_the_telemetry(
    video_flight: tuple[Path, dict[str, Any]], geometry: Any
) -> None:
    """A video frame is georeferenced from its SRT entry alone (position, gimbal, 35 mm focal length): the
    pixel where a truth object is drawn lands within 0.2 m of the truth. The SRT's 6-decimal positions
    (about 0.1 m) are most of the error budget."""
    out, manifest = video_flight
    features = json.loads((out / "truth.geojson").read_text())["features"]
    intr = geometry.intrinsics(manifest)
    entries = read_srt(out / "DJI_0001.SRT")
    views = [
        view_for_meta(interpolate_entry(entries, e.start_ms, intr.width_px, intr.height_px, f"#{e.index}"))
        for e in entries
    ]
    errors = geometry.locate_errors(manifest, features, views)
    assert len(errors) >= 4
    assert max(errors) < 0.2
