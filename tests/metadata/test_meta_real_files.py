"""Real files: our readers must agree with exiftool (JPEGs) and with the text read by hand (SRTs)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pipeline.metadata import intrinsics_for, read_image_meta, read_srt

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
BRIGHTON = REAL / "dji_phantom3_brighton"
SRT = REAL / "dji_srt"
CANON = REAL / "canon_sx260_caliterra" / "IMG_9354_400.jpg"

# `exiftool -n -json` (12.57): GPSLatitude GPSLongitude GPSAltitude RelativeAltitude
# GimbalYaw/Pitch/RollDegree FlightYaw/Pitch/RollDegree DateTimeOriginal
EXIFTOOL = [
    (
        "DJI_0018.JPG",
        46.8426070833333,
        -91.9945598888889,
        198.309,
        39.80,
        (45.00, -89.90, 0.00),
        (46.00, 1.80, 3.00),
        "2016-06-23T16:31:59",
    ),
    (
        "DJI_0019.JPG",
        46.8426906666667,
        -91.9944272777778,
        198.609,
        40.10,
        (42.80, -89.90, 0.00),
        (40.10, 1.20, 0.40),
        "2016-06-23T16:32:06",
    ),
    (
        "DJI_0031.JPG",
        46.8423714722222,
        -91.9939535555555,
        198.709,
        40.20,
        (41.40, -89.90, 0.00),
        (38.10, 0.10, 1.90),
        "2016-06-23T16:33:34",
    ),
]


@pytest.mark.parametrize(("name", "lat", "lon", "alt", "rel", "gimbal", "flight", "when"), EXIFTOOL)
def test_brighton_agrees_with_exiftool(
    name: str,
    lat: float,
    lon: float,
    alt: float,
    rel: float,
    gimbal: tuple[float, float, float],
    flight: tuple[float, float, float],
    when: str,
) -> None:
    meta = read_image_meta(BRIGHTON / name)
    assert meta.problems == ()
    assert meta.lat == pytest.approx(lat, abs=1e-7)
    assert meta.lon == pytest.approx(lon, abs=1e-7)
    assert meta.abs_alt_m == pytest.approx(alt, abs=0.01)
    assert meta.rel_alt_m == pytest.approx(rel, abs=0.01)
    got_gimbal = (meta.gimbal.yaw_deg, meta.gimbal.pitch_deg, meta.gimbal.roll_deg)
    got_flight = (meta.flight.yaw_deg, meta.flight.pitch_deg, meta.flight.roll_deg)
    assert got_gimbal == pytest.approx(gimbal, abs=0.01)
    assert got_flight == pytest.approx(flight, abs=0.01)
    assert meta.captured_at == when
    # exiftool: File:ImageWidth/Height 4000x2250 (the SOF), EXIF 4000x2250, FocalLength 3.61, 35 mm 20
    assert (meta.width, meta.height, meta.exif_width, meta.exif_height) == (4000, 2250, 4000, 2250)
    assert (meta.make, meta.model, meta.focal_mm, meta.focal_35mm) == ("DJI", "FC300S", 3.61, 20.0)


def test_brighton_intrinsics_from_sensor_table() -> None:
    intr = intrinsics_for(read_image_meta(BRIGHTON / "DJI_0018.JPG"))
    assert intr.source == "sensor_table"
    # 16:9 photo keeps the full 6.17 mm sensor width: 3.61 mm * 4000 px / 6.17 mm
    assert intr.focal_px == pytest.approx(3.61 * 4000 / 6.17)
    assert (intr.cx_px, intr.cy_px) == (2000.0, 1125.0)
    # exiftool's Composite:FOV for this file is 83.97 deg (from the 35 mm value); the table gives 81.0
    assert 80.0 < intr.hfov_deg < 85.0


def test_compact_camera_intrinsics_from_its_focal_plane_resolution() -> None:
    # exiftool -n on the file: ImageWidth 400 (ExifImageWidth 4000: a resized copy), FocalLength 4.5,
    # no FocalLengthIn35mmFilm, ScaleFactor35efl 5.58495 (a 7.747 mm sensor diagonal, 6.198 mm wide at 4:3).
    meta = read_image_meta(CANON)
    assert (meta.model, meta.width, meta.exif_width, meta.focal_35mm) == (
        "Canon PowerShot SX260 HS",
        400,
        4000,
        None,
    )
    intr = intrinsics_for(meta)
    assert intr.source == "focal_plane"
    sensor_width_mm = math.hypot(36.0, 24.0) / 5.58495 * 0.8
    assert intr.sensor_width_mm == pytest.approx(sensor_width_mm, rel=1e-4)
    assert intr.focal_px == pytest.approx(4.5 * 400 / sensor_width_mm, rel=1e-4)


def test_as_dict_has_the_cli_fields() -> None:
    out = read_image_meta(BRIGHTON / "DJI_0019.JPG").as_dict()
    assert out["problems"] == []
    assert out["path"].endswith("DJI_0019.JPG")
    for key in ("width", "height", "make", "model", "captured_at", "lat", "lon", "abs_alt_m", "rel_alt_m"):
        assert out[key] is not None


# (file, entry position, index, start_ms, end_ms, lat, lon, rel_alt_m, abs_alt_m, satellites) by hand
SRT_ENTRIES = [
    ("mavic_pro.SRT", 0, 1, 1000, 2000, -20.2533, 149.0251, 1.9, None, 16),
    ("mavic_pro.SRT", 233, 234, 234000, 235000, -20.2531, 149.0258, 118.5, None, 15),
    ("mavic_pro.SRT", -1, 468, 468000, 469000, -20.2532, 149.0251, 0.0, None, 16),
    ("p4_rtk.SRT", 0, 1, 0, 1000, -34.237922, -58.851745, 85.80, None, 15),
    ("p4_rtk.SRT", 27, 28, 27000, 28000, -34.235313, -58.850546, 85.67, None, 14),
    ("p4_rtk.SRT", -1, 55, 54000, 55000, -34.232349, -58.849196, 85.80, None, 15),
    ("air2s.srt", 0, 1, 0, 33, 41.424724, 2.234156, None, 117.0, None),
    ("air2s.srt", 8, 9, 266, 300, 41.424726, 2.234130, None, 117.0, None),
    ("air2s.srt", -1, 17, 533, 567, 41.424730, 2.234102, None, 117.1, None),
]


@pytest.mark.parametrize(
    ("name", "pos", "index", "start", "end", "lat", "lon", "rel", "abs_", "sats"), SRT_ENTRIES
)
def test_real_srt_entries(
    name: str,
    pos: int,
    index: int,
    start: int,
    end: int,
    lat: float,
    lon: float,
    rel: float | None,
    abs_: float | None,
    sats: int | None,
) -> None:
    entry = read_srt(SRT / name)[pos]
    assert (entry.index, entry.start_ms, entry.end_ms) == (index, start, end)
    assert entry.lat == pytest.approx(lat, abs=1e-7)
    assert entry.lon == pytest.approx(lon, abs=1e-7)
    assert entry.rel_alt_m == (pytest.approx(rel, abs=0.01) if rel is not None else None)
    assert entry.abs_alt_m == (pytest.approx(abs_, abs=0.01) if abs_ is not None else None)
    assert entry.satellites == sats


@pytest.mark.parametrize(("name", "count"), [("mavic_pro.SRT", 468), ("p4_rtk.SRT", 55), ("air2s.srt", 17)])
def test_real_srt_counts(name: str, count: int) -> None:
    entries = read_srt(SRT / name)
    assert len(entries) == count
    assert [e.index for e in entries] == list(range(1, count + 1))


# P4 RTK: F.PRY / G.PRY are (pitch, roll, yaw).
# Entry 28 by hand: F.PRY (6.1, -23.5, 109.2), G.PRY (-24.4, 0.0, 111.8)
def test_p4_rtk_attitude() -> None:
    e = read_srt(SRT / "p4_rtk.SRT")[27]
    assert (e.flight.pitch_deg, e.flight.roll_deg, e.flight.yaw_deg) == pytest.approx(
        (6.1, -23.5, 109.2), abs=0.01
    )
    assert (e.gimbal.pitch_deg, e.gimbal.roll_deg, e.gimbal.yaw_deg) == pytest.approx(
        (-24.4, 0.0, 111.8), abs=0.01
    )
    extra = dict(e.extra)
    assert extra["home_lon"] == "-58.847509" and extra["home_lat"] == "-34.232707"
    assert extra["distance_m"] == "402.15"


def test_air2s_scaled_camera_fields() -> None:
    e = read_srt(SRT / "air2s.srt")[0]
    assert e.focal_35mm == pytest.approx(24.0)  # written "240"
    extra = dict(e.extra)
    assert extra["fnum"] == "2.8"  # written "280"
    assert extra["iso"] == "100" and extra["shutter"] == "1/80.0"
    assert extra["datetime"] == "2022-08-07T13:40:40.774"
    assert "font" not in str(e.as_dict())


def test_mavic_pro_date_and_home() -> None:
    e = read_srt(SRT / "mavic_pro.SRT")[0]
    extra = dict(e.extra)
    assert extra["datetime"] == "2017-08-05T14:11:51"
    assert (extra["home_lon"], extra["home_lat"]) == ("149.0251", "-20.2532")


def test_real_files_are_present() -> None:
    for folder in (BRIGHTON, SRT):
        assert (folder / "LICENSE").is_file()
    assert Path(REAL / "README.md").is_file()
