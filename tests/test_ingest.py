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
    SAMPLE_EVERY,
    IngestSettings,
    VideoReader,
    interpolate_entry,
    load_frame,
    plan_flight,
    sample_frames,
)
from pipeline.types import Attitude, SrtEntry

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
    got = Attitude(a).toward(Attitude(b), t).yaw_deg
    assert got is not None and abs((got - expected + 180) % 360 - 180) < 1e-9


def _track(n: int, speed_m_s: float, step_ms: int = 1000) -> list[SrtEntry]:
    """A straight flight north at 100 m, camera straight down, one entry per `step_ms`."""
    out = []
    for k in range(n):
        lat, lon = geo.offset_latlon(22.98, 113.74, 0.0, speed_m_s * k * step_ms / 1000)
        out.append(
            SrtEntry(
                k + 1,
                k * step_ms,
                (k + 1) * step_ms,
                lat,
                lon,
                100.0,
                None,
                Attitude(0.0, -90.0, 0.0),
                focal_35mm=24.0,
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


# --- the one ingest: every frame, poses from the telemetry by time ---------------------------------------

REAL_SRT = Path(__file__).resolve().parent / "data" / "real" / "dji_srt"


def _write_video(path: Path, frames: int, fps: float, size: tuple[int, int] = (64, 48)) -> None:
    """A small real MP4 (OpenCV's mp4v encoder): frame k is filled with grey level k % 256."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), k % 256, np.uint8))
    writer.release()


def _video_flight(tmp_path: Path, srt: Path | str, frames: int, fps: float) -> Path:
    folder = tmp_path / "flight"
    folder.mkdir()
    _write_video(folder / "DJI_0001.MP4", frames, fps)
    target = folder / "DJI_0001.SRT"
    if isinstance(srt, Path):
        shutil.copy(srt, target)
    else:
        target.write_text(srt, encoding="utf-8")
    return folder


EVERY = IngestSettings(sampling=SAMPLE_EVERY)


def test_a_30_fps_video_with_a_real_1_hz_srt_gets_poses_by_time_not_by_entry(tmp_path: Path) -> None:
    # p4_rtk.SRT (a real P4 RTK file): one block a second from 0 s. Its text, by hand:
    #   block 1 at 0 s  GPS (-58.851745, -34.237922, 15)   block 2 at 1 s  GPS (-58.851740, -34.237911, 15)
    #   block 3 at 2 s  GPS (-58.851723, -34.237873, 15)   block 31 (30 s later) is elsewhere.
    folder = _video_flight(tmp_path, REAL_SRT / "p4_rtk.SRT", frames=90, fps=30.0)
    plan = plan_flight(folder, "F", EVERY)
    assert [f.frame_index for f in plan.frames] == list(range(90)) and plan.skipped == ()
    by_index = {f.frame_index: f.meta for f in plan.frames}
    at_1s = by_index[30]
    assert at_1s is not None and plan.frames[30].time_ms == pytest.approx(1000.0)
    assert (at_1s.lat, at_1s.lon) == pytest.approx((-34.237911, -58.851740), abs=1e-9)
    assert at_1s.rel_alt_m == pytest.approx(85.83)  # "H 85.83m" of block 2
    half = by_index[15]  # t = 0.5 s: halfway between blocks 1 and 2
    assert half is not None
    assert half.lat == pytest.approx((-34.237922 - 34.237911) / 2, abs=1e-9)
    assert half.lon == pytest.approx((-58.851745 - 58.851740) / 2, abs=1e-9)
    at_2s = by_index[60]
    assert at_2s is not None and (at_2s.lat, at_2s.lon) == pytest.approx((-34.237873, -58.851723), abs=1e-9)
    names = [f.name for f in plan.frames]
    assert names[30] == "DJI_0001.MP4#31"  # 1-based like FrameCnt; the pose is still that of t = 1 s


def test_a_1_hz_srt_that_starts_at_1_s_places_no_frame_of_the_first_half_second(tmp_path: Path) -> None:
    # mavic_pro.SRT (real): its first block runs 00:00:01 -> 00:00:02, GPS(149.0251,-20.2533,16).
    folder = _video_flight(tmp_path, REAL_SRT / "mavic_pro.SRT", frames=60, fps=30.0)
    plan = plan_flight(folder, "F", EVERY)
    assert [f.frame_index for f in plan.frames] == list(range(15, 60))  # t >= 0.5 s
    [(path, note)] = plan.skipped
    assert path.endswith("DJI_0001.MP4") and note.startswith("15 of 60 frames lie outside the telemetry's")
    at_1s = next(f.meta for f in plan.frames if f.frame_index == 30)
    assert at_1s is not None and (at_1s.lat, at_1s.lon) == pytest.approx((-20.2533, 149.0251))


def test_a_one_block_srt_does_not_give_every_later_frame_its_pose(tmp_path: Path) -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,000\nGPS(113.7400,22.9800,12) BAROMETER:80.0\n"
    folder = _video_flight(tmp_path, srt, frames=100, fps=10.0)  # 10 s of video, 1 s of telemetry
    plan = plan_flight(folder, "F", EVERY)
    # Held half a block beyond its end: frames at 0.0 ... 1.5 s.
    assert [f.frame_index for f in plan.frames] == list(range(16))
    assert "84 of 100 frames lie outside the telemetry's time span (0.0-1.5 s)" in plan.skipped[0][1]


def test_a_corrected_srt_gives_the_video_frames_new_keys(tmp_path: Path) -> None:
    folder = _video_flight(tmp_path, REAL_SRT / "p4_rtk.SRT", frames=30, fps=30.0)
    before = plan_flight(folder, "F", EVERY)
    srt = folder / "DJI_0001.SRT"
    srt.write_text(srt.read_text(encoding="utf-8").replace("-34.2379", "-34.2479"), encoding="utf-8")
    after = plan_flight(folder, "F", EVERY)
    assert [f.file_sha256 for f in before.frames] == [f.file_sha256 for f in after.frames]
    assert not {f.key("m1") for f in before.frames} & {f.key("m1") for f in after.frames}
    assert after.frames[0].meta is not None and after.frames[0].meta.lat == pytest.approx(-34.247922)


def test_every_frame_of_the_simulated_video_has_the_true_pose_of_its_time() -> None:
    import json

    folder = SAMPLES / "video_patrol"
    plan = plan_flight(folder, settings=EVERY)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [f.label for f in plan.frames] == [r["file"] for r in manifest["frames"]]
    for ref, record in zip(plan.frames[::6], manifest["frames"][::6], strict=True):
        frame = load_frame(ref)
        assert frame.view is not None and frame.image.shape == (720, 1280, 3)
        assert frame.view.pose.height_m == pytest.approx(record["true_pose"]["height_m"], abs=0.05)


def test_an_unreadable_photo_is_the_frames_own_fault_and_the_next_one_loads(tmp_path: Path) -> None:
    from pipeline.errors import FrameError

    (tmp_path / "A.JPG").write_bytes(b"junk")
    shutil.copy(SAMPLES / "nadir_mapping" / "DJI_0001.JPG", tmp_path / "B.JPG")
    plan = plan_flight(tmp_path)
    with pytest.raises(FrameError) as caught:
        load_frame(plan.frames[0])
    assert str(caught.value) == f"{tmp_path / 'A.JPG'}: not a decodable image"
    assert load_frame(plan.frames[1]).view is not None
