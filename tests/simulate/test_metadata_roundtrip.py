"""The metadata written into simulated photos reads back, by exiftool and by our own reader, and the
georeferencing chain (reader -> pose -> pixel_to_ground) puts rendered targets where the truth says."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline import geo
from pipeline.metadata import intrinsics_for, read_image_meta
from pipeline.simulate import FlightSettings, simulate_flight


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")
def test_exiftool_reads_back_what_was_written(nadir_flight: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = nadir_flight
    frame = manifest["frames"][0]
    run = subprocess.run(
        ["exiftool", "-n", "-json", "-G1", str(out / frame["file"])],
        capture_output=True,
        text=True,
        check=True,
    )
    tags = json.loads(run.stdout)[0]
    pose, written = frame["true_pose"], frame["written_position"]
    assert tags["IFD0:Make"] == "DJI" and tags["IFD0:Model"] == "M3E"
    assert tags["ExifIFD:OffsetTimeOriginal"] == "+08:00"
    assert tags["ExifIFD:DateTimeOriginal"].startswith("2024:")
    assert tags["ExifIFD:FocalLength"] == pytest.approx(12.29)
    assert tags["ExifIFD:FocalLengthIn35mmFormat"] == 24
    assert tags["GPS:GPSLatitudeRef"] == "N" and tags["GPS:GPSLongitudeRef"] == "E"
    assert tags["GPS:GPSLatitude"] == pytest.approx(written["lat"], abs=1e-9)
    assert tags["GPS:GPSLongitude"] == pytest.approx(written["lon"], abs=1e-9)
    assert tags["GPS:GPSAltitude"] == pytest.approx(
        18.0 + pose["height_m"] + manifest["baro_bias_m"], abs=2e-3
    )
    dji = "XMP-drone-dji:"  # exiftool spells the DJI tags GPSLatitude/GPSLongitude
    assert float(tags[dji + "GPSLatitude"]) == pytest.approx(written["lat"], abs=1e-9)
    assert float(tags[dji + "GPSLongitude"]) == pytest.approx(written["lon"], abs=1e-9)
    assert float(tags[dji + "RelativeAltitude"]) == pytest.approx(pose["height_m"])
    assert float(tags[dji + "GimbalYawDegree"]) == pytest.approx(pose["yaw_deg"])
    assert float(tags[dji + "GimbalPitchDegree"]) == pytest.approx(pose["pitch_deg"])
    assert float(tags[dji + "GimbalRollDegree"]) == pytest.approx(pose["roll_deg"])
    assert float(tags[dji + "FlightYawDegree"]) == pytest.approx(frame["flight_attitude"]["yaw_deg"])


def test_our_reader_reads_back_what_was_written(nadir_flight: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = nadir_flight
    for frame in manifest["frames"]:
        meta = read_image_meta(out / frame["file"])
        pose, written = frame["true_pose"], frame["written_position"]
        assert meta.problems == ()
        assert (meta.make, meta.model, meta.width, meta.height) == ("DJI", "M3E", 1200, 900)
        assert meta.captured_at is not None and meta.captured_at.endswith("+08:00")
        assert meta.lat == pytest.approx(written["lat"], abs=1e-9)
        assert meta.lon == pytest.approx(written["lon"], abs=1e-9)
        assert meta.rel_alt_m == pytest.approx(pose["height_m"])
        assert (meta.gimbal.yaw_deg, meta.gimbal.pitch_deg, meta.gimbal.roll_deg) == pytest.approx(
            (pose["yaw_deg"], pose["pitch_deg"], pose["roll_deg"])
        )
        intr = intrinsics_for(meta)
        assert intr.focal_px == pytest.approx(manifest["camera"]["focal_px"], rel=1e-6)
        assert (intr.cx_px, intr.cy_px) == pytest.approx(
            (manifest["camera"]["cx_px"], manifest["camera"]["cy_px"])
        )


def test_a_frame_size_the_camera_never_takes_reads_back_the_centre_it_was_rendered_with(
    tmp_path: Path,
) -> None:
    # 20 MP 3:2 from the 4:3 M3E: the native sensor's optical centre (2640, 1978), written as DJI writes it,
    # is 4 % of the height off this frame's centre, close enough to pass for a lens's decentring.
    settings = FlightSettings(
        seed=4, frames=1, width_px=5472, height_px=3648, pitch_deg=-45.0, altitude_m=30.0
    )
    m = simulate_flight(tmp_path, settings)
    intr = intrinsics_for(read_image_meta(tmp_path / m["frames"][0]["file"]))
    assert (intr.width_px, intr.height_px) == (5472, 3648)
    assert (intr.cx_px, intr.cy_px) == pytest.approx((m["camera"]["cx_px"], m["camera"]["cy_px"]), abs=1e-6)
    assert intr.focal_px == pytest.approx(m["camera"]["focal_px"], rel=1e-6)


def test_gps_noise_moves_only_the_written_position(tmp_path: Path) -> None:
    m = simulate_flight(
        tmp_path, FlightSettings(seed=3, frames=2, width_px=400, height_px=300, gps_noise_m=3.0)
    )
    gaps = [
        geo.distance_m(
            f["true_pose"]["lat"],
            f["true_pose"]["lon"],
            f["written_position"]["lat"],
            f["written_position"]["lon"],
        )
        for f in m["frames"]
    ]
    assert all(0.0 < g < 20.0 for g in gaps)
    meta = read_image_meta(tmp_path / m["frames"][0]["file"])
    assert meta.lat == pytest.approx(m["frames"][0]["written_position"]["lat"], abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pitch", "altitude", "tolerance_m"),
    [
        (-90.0, 50.0, 0.05),
        (-90.0, 100.0, 0.05),
        (-90.0, 150.0, 0.05),
        (-45.0, 50.0, 0.2),
        (-45.0, 150.0, 0.2),
    ],
)
def test_rendered_targets_locate_back_to_truth(
    tmp_path: Path, geometry: Any, pitch: float, altitude: float, tolerance_m: float
) -> None:
    """The issue's accuracy check: the pixel where a truth object is drawn (its projected centroid), taken
    through the pose and intrinsics the READER gets from the JPEG, lands within tolerance of the truth."""
    settings = FlightSettings(
        seed=21, world_seed=4, frames=4, altitude_m=altitude, pitch_deg=pitch, width_px=1000, height_px=750
    )
    manifest = simulate_flight(tmp_path, settings)
    features = json.loads((tmp_path / "truth.geojson").read_text())["features"]
    views = []
    for frame in manifest["frames"]:
        meta = read_image_meta(tmp_path / frame["file"])
        views.append(geo.view_from_meta(meta, intrinsics_for(meta)))
    errors = geometry.locate_errors(manifest, features, views)
    assert len(errors) >= 2
    assert max(errors) < tolerance_m
