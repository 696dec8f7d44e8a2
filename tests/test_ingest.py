"""pipeline.ingest: flight folders to frame descriptors; video frames sampled by ground distance, their pose
interpolated from the telemetry; frames read in order, one at a time."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline import geo
from pipeline.ingest import (
    IngestSettings,
    VideoReader,
    _lerp_angle,
    interpolate_entry,
    load_frame,
    plan_flight,
    sample_frames,
)
from pipeline.types import SrtEntry

SAMPLES = Path(__file__).resolve().parents[1] / "sample_flights"


@pytest.mark.parametrize(
    ("a", "b", "t", "expected"),
    [
        (350.0, 10.0, 0.5, 0.0),
        (10.0, 350.0, 0.25, 5.0),
        (-170.0, 170.0, 0.5, 180.0),
        (90.0, 100.0, 0.5, 95.0),
    ],
)
def test_angles_interpolate_the_short_way_round(a: float, b: float, t: float, expected: float) -> None:
    got = _lerp_angle(a, b, t)
    assert got is not None and abs((got - expected + 180) % 360 - 180) < 1e-9


def _track(n: int, speed_m_s: float, step_ms: int = 1000) -> list[SrtEntry]:
    """A straight flight north at 100 m, camera straight down, one entry per `step_ms`."""
    out = []
    for k in range(n):
        lat, lon = geo.offset_latlon(22.98, 113.74, 0.0, speed_m_s * k * step_ms / 1000)
        out.append(
            SrtEntry(
                k + 1, k * step_ms, (k + 1) * step_ms, lat, lon, 100.0, None, 0.0, -90.0, 0.0, focal_35mm=24.0
            )
        )
    return out


def test_pose_is_interpolated_between_entries() -> None:
    entries = _track(3, 10.0)
    mid = interpolate_entry(entries, 500.0, 1920, 1080, "v#1")
    assert mid.lat is not None and entries[0].lat is not None and entries[1].lat is not None
    assert mid.lat == pytest.approx((entries[0].lat + entries[1].lat) / 2)
    assert interpolate_entry(entries, 99_000.0, 1920, 1080, "v").lat == entries[-1].lat  # held at the end
    timed = [replace(e, extra=(("datetime", f"2024-06-12T11:01:0{e.index}.000"),)) for e in entries]
    assert interpolate_entry(timed, 1300.0, 1920, 1080, "v").captured_at == "2024-06-12T11:01:02.300"


@pytest.mark.parametrize(("overlap", "speed"), [(0.5, 10.0), (0.8, 10.0), (0.8, 5.0)])
def test_video_frames_are_sampled_by_ground_distance(overlap: float, speed: float) -> None:
    from pipeline.metadata import intrinsics_for

    entries = _track(60, speed)
    times = [k * 200.0 for k in range(300)]  # 5 fps for 60 s
    kept = sample_frames(entries, times, 1920, 1080, "v", IngestSettings(overlap=overlap, max_gap_s=1e6))
    # Nadir, heading north: the footprint's along-track extent is the image height on the ground.
    intr = intrinsics_for(interpolate_entry(entries, 0.0, 1920, 1080, "v"))
    step_m = (1 - overlap) * 100.0 * 1080 / intr.focal_px
    per_frame_m = 0.2 * speed
    gaps_m = [(b - a) * per_frame_m for a, b in itertools.pairwise(kept[:-1])]  # the last is forced
    assert len(gaps_m) >= 5
    for gap in gaps_m:  # the first frame at or past the step
        assert step_m - 1e-6 <= gap < step_m + per_frame_m + 1e-6
    assert kept[0] == 0 and kept[-1] == len(times) - 1


def test_hovering_is_sampled_every_max_gap() -> None:
    entries = _track(30, 0.0)
    times = [k * 100.0 for k in range(300)]
    kept = sample_frames(entries, times, 1920, 1080, "v", IngestSettings(max_gap_s=5.0))
    assert kept == [0, 50, 100, 150, 200, 250, 299]


def test_plan_lists_photos_and_sampled_video_frames_and_says_what_it_skips(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "nadir_mapping" / "DJI_0001.JPG", tmp_path / "DJI_0001.JPG")
    shutil.copy(SAMPLES / "video_patrol" / "DJI_0001.MP4", tmp_path / "DJI_0002.MP4")  # no telemetry
    sub = tmp_path / "DCIM" / "100MEDIA"
    sub.mkdir(parents=True)
    for name in ("DJI_0001.MP4", "DJI_0001.SRT"):
        shutil.copy(SAMPLES / "video_patrol" / name, sub / name)
    (tmp_path / "notes.docx").write_bytes(b"x")
    plan = plan_flight(tmp_path, "F1")
    names = [Path(f.name).name for f in plan.frames]  # in path order: DCIM/... before DJI_0001.JPG
    assert names[0] == "DJI_0001.MP4#1" and names[-2] == "DJI_0001.MP4#25" and names[-1] == "DJI_0001.JPG"
    assert 3 <= len(names) <= 10  # sampled, not all 25 frames
    skipped = dict((Path(p).name, why) for p, why in plan.skipped)
    assert "SRT" in skipped["DJI_0002.MP4"] and "notes.docx" in skipped
    video = [f for f in plan.frames if f.is_video]
    assert all(f.meta is not None and f.meta.lat is not None for f in video)
    assert len({f.key("m1") for f in plan.frames}) == len(plan.frames)


def test_video_frames_are_read_in_order_and_match_a_fresh_read() -> None:
    path = str(SAMPLES / "video_patrol" / "DJI_0001.MP4")
    streamed = VideoReader(path)
    got = [streamed.read(i) for i in (0, 5, 6, 20)]
    again = VideoReader(path).read(20)
    assert np.array_equal(got[-1], again)
    assert np.array_equal(streamed.read(5), got[1])  # going back reopens the video
    streamed.close()


def test_a_loaded_photo_has_pixels_camera_and_time() -> None:
    plan = plan_flight(SAMPLES / "nadir_mapping")
    frame = load_frame(plan.frames[0])
    assert frame.image.shape == (1500, 2000, 3) and frame.view is not None
    assert frame.seen_at.startswith("2024-06-10T09:11")
