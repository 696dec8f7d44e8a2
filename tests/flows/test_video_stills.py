"""A video frame's still carries the frame's telemetry: read back (by exiftool, and by the pipeline as a
photo) it says what the .SRT said for that frame, so an exported still trains at its own scale."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flow_helpers import copy_flight, make_job

from flows.process_flight import run_process

EXIFTOOL = shutil.which("exiftool")


def srt_blocks(path: Path) -> dict[int, dict[str, float]]:
    """FrameCnt -> the bracketed numbers of its block, straight from the file's text."""
    out = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        count = re.search(r"FrameCnt: (\d+)", block)
        if count:
            pairs = re.findall(r"(\w+)\s*:\s*(-?[\d.]+)", block)
            out[int(count.group(1))] = {k: float(v) for k, v in pairs}
    return out


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (make setup installs it)")
def test_a_video_still_says_what_the_srt_said_for_its_frame(tmp_path: Path) -> None:
    from pipeline.detect.detector import camera_for
    from pipeline.ingest import plan_flight
    from pipeline.metadata import read_image_meta

    video = copy_flight("video_patrol", tmp_path / "video")
    job = make_job(tmp_path)
    summary = run_process([str(video)], job)
    assert summary["detections"] > 0
    stills = sorted((tmp_path / "data" / "frames").rglob("*.jpg"))
    assert stills, "no still was written for the video frames that hold a sighting"
    blocks = srt_blocks(video / "DJI_0001.SRT")
    refs = {r.frame_index: r for r in plan_flight(video).frames}
    read = subprocess.run(
        [str(EXIFTOOL), "-j", "-n", *map(str, stills)], capture_output=True, text=True, check=True
    )
    for still, tags in zip(stills, json.loads(read.stdout), strict=True):
        index = int(re.search(r"_f(\d+)\.jpg$", still.name).group(1))  # type: ignore[union-attr]
        said = blocks[index + 1]  # FrameCnt is 1-based
        assert tags["GPSLatitude"] == pytest.approx(said["latitude"], abs=1e-7)
        assert tags["GPSLongitude"] == pytest.approx(said["longitude"], abs=1e-7)
        assert tags["GPSAltitude"] == pytest.approx(said["abs_alt"], abs=1e-3)
        assert float(tags["RelativeAltitude"]) == pytest.approx(said["rel_alt"], abs=1e-3)
        assert float(tags["GimbalPitchDegree"]) == pytest.approx(said["gb_pitch"], abs=0.01)
        assert float(tags["GimbalYawDegree"]) == pytest.approx(said["gb_yaw"], abs=0.01)
        assert float(tags["GimbalRollDegree"]) == pytest.approx(said["gb_roll"], abs=0.01)
        assert tags["FocalLengthIn35mmFormat"] == said["focal_len"] / 10  # DJI's SRT writes tenths of a mm
        # As a photo, the still gives the camera its frame was searched with.
        view, _, why = camera_for(read_image_meta(still), None, "")
        searched, _, _ = camera_for(refs[index].meta, None, "")
        assert view is not None and searched is not None, why
        size = (view.intrinsics.width_px, view.intrinsics.height_px)
        assert size == (tags["ImageWidth"], tags["ImageHeight"])
        assert view.intrinsics.focal_px == pytest.approx(searched.intrinsics.focal_px)
        assert view.pose.height_m == pytest.approx(searched.pose.height_m, abs=1e-3)
        assert view.pose.pitch_deg == pytest.approx(searched.pose.pitch_deg, abs=0.01)
