"""The metadata writer on what a frame does not say: nothing stated is made up, and odd text survives."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.metadata import read_image_meta
from pipeline.metadata.write import photo_meta, with_metadata
from pipeline.types import Attitude, ImageMeta

EXIFTOOL = shutil.which("exiftool")


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (make setup installs it)")
def test_unstated_values_are_left_out_and_text_is_escaped(tmp_path: Path) -> None:
    meta = ImageMeta(
        path="x.MP4#3",
        width=64,
        height=48,
        make='Acme & "Sons"',
        captured_at="2024-06-12T11:01:03.250",
        rel_alt_m=42.5,
        gimbal=Attitude(pitch_deg=-90.0),
    )
    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))
    assert ok
    path = tmp_path / "still.jpg"
    path.write_bytes(with_metadata(buf.tobytes(), photo_meta(meta, 64, 48, "test")))
    out = subprocess.run([str(EXIFTOOL), "-j", "-G", str(path)], capture_output=True, text=True, check=True)
    tags = json.loads(out.stdout)[0]
    assert not [k for k in tags if "GPSLatitude" in k or "GPSAltitude" in k or "Yaw" in k]
    assert tags["EXIF:Make"] == tags["XMP:Make"] == 'Acme & "Sons"'
    assert tags["EXIF:DateTimeOriginal"] == "2024:06:12 11:01:03" and tags["EXIF:SubSecTimeOriginal"] == 25
    assert "EXIF:OffsetTimeOriginal" not in tags  # a time without an offset is not given one
    read = read_image_meta(path)
    assert (read.lat, read.lon, read.abs_alt_m) == (None, None, None)
    assert read.rel_alt_m == 42.5 and read.gimbal.pitch_deg == -90.0 and read.gimbal.yaw_deg is None
