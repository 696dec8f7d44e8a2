"""Not searched: why. A frame that gives 0 detections because it was never searched (a gimbal above the
horizon) or whose detections have no place (no pose, and why) says so in its record and in the flight
summary, instead of looking like a frame with nothing in it.

The frames are copies of a sample oblique photo (2000 x 1500, 99.7 m above take-off, pitch -45.29) with one
XMP value rewritten in place (same length, so every segment stays valid) or its EXIF orientation turned."""

from __future__ import annotations

import shutil
from pathlib import Path

import piexif
from flow_helpers import SAMPLES, make_job

from flows.process_flight import run_process
from pipeline.ingest import photo_ref
from pipeline.process import DONE, process_frame

SOURCE = SAMPLES / "oblique_corridor" / "DJI_0001.JPG"
PITCH = b'drone-dji:GimbalPitchDegree="-45.29"'


def _variant(folder: Path, name: str, pitch: bytes | None = None, orientation: int | None = None) -> Path:
    data = SOURCE.read_bytes()
    if pitch is not None:
        assert data.count(PITCH) == 1 and len(pitch) == len(PITCH)
        data = data.replace(PITCH, pitch)
    path = folder / name
    path.write_bytes(data)
    if orientation is not None:
        exif = piexif.load(str(path))
        exif["0th"][piexif.ImageIFD.Orientation] = orientation
        piexif.insert(piexif.dump(exif), str(path))
    return path


def _flight(tmp_path: Path) -> Path:
    folder = tmp_path / "flight"
    folder.mkdir()
    shutil.copy(SOURCE, folder / "DJI_0001.JPG")
    # +30: the lower edge of a 56-degree-tall view is 2 degrees above the horizon: no row sees the ground
    _variant(folder, "DJI_0002.JPG", pitch=b'drone-dji:GimbalPitchDegree="+30.00"')
    _variant(folder, "DJI_0003.JPG", pitch=b'drone-dji:GimbalPitchDegree="nan   "')
    _variant(folder, "DJI_0004.JPG", orientation=6)  # decoded turned upright: 1500 x 2000 pixels
    return folder


def test_each_frame_says_why_it_was_not_searched_or_not_placed(tmp_path: Path) -> None:
    folder = _flight(tmp_path)
    job = make_job(tmp_path)
    outcomes = {p.name: process_frame(photo_ref(p, "F"), job) for p in sorted(folder.iterdir())}
    assert {o.status for o in outcomes.values()} == {DONE}
    good, above, nan_pitch, turned = (outcomes[f"DJI_000{k}.JPG"] for k in (1, 2, 3, 4))
    assert (good.not_searched, good.not_placed) == (None, None)
    assert above.not_searched is not None and above.not_placed is None
    assert above.not_searched.startswith("gimbal pitch +30.0 degrees is at or above the horizon: nothing")
    assert above.detections == 0
    assert nan_pitch.not_searched is None  # searched at the fallback scales, as any frame without a pose
    assert nan_pitch.not_placed == (
        "no usable pose: gimbal pitch unreadable ('nan'): "
        "the camera's direction is unknown, not assumed nadir"
    )
    assert nan_pitch.sightings == 0  # whatever it found has no place: no case
    assert turned.not_placed == (
        "no usable pose: its metadata describes a 2000x1500 image, the pixels are 1500x2000"
    )
    # Read back on a rerun, not detected again: the record keeps the reasons.
    again = process_frame(photo_ref(folder / "DJI_0003.JPG", "F"), job)
    assert again.reused and again.not_placed == nan_pitch.not_placed


def test_the_flight_summary_counts_and_names_them(tmp_path: Path) -> None:
    folder = _flight(tmp_path)
    summary = run_process([str(folder)], make_job(tmp_path))
    [flight] = summary["flights"]
    assert flight["complete"] and flight["frames"] == 4 and flight["frames_failed"] == 0
    assert (flight["frames_not_searched"], flight["frames_not_placed"]) == (1, 2)
    assert (summary["frames_not_searched"], summary["frames_not_placed"]) == (1, 2)
    lines = summary["not_searched"]
    assert len(lines) == 3 and lines == flight["not_searched"]
    assert "DJI_0002.JPG: not searched: gimbal pitch +30.0 degrees is at or above the horizon" in lines[0]
    assert any(
        "DJI_0003.JPG: searched, not placed: no usable pose: gimbal pitch unreadable" in x for x in lines
    )
    assert any(
        "DJI_0004.JPG: searched, not placed: no usable pose: its metadata describes" in x for x in lines
    )
    assert summary["errors"] == []  # these are outcomes, not errors
