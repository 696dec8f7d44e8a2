"""Camera intrinsics: the order of sources and the arithmetic of each, table-driven."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import piexif
import pytest

from pipeline.errors import MetadataError
from pipeline.frames import view_for_meta
from pipeline.metadata import CAMERAS, camera_for, intrinsics_for, read_image_meta
from pipeline.metadata.write import PhotoMeta, with_metadata
from pipeline.types import Attitude, ImageMeta

DIAG35 = math.hypot(36.0, 24.0)


def _meta(**kwargs: Any) -> ImageMeta:
    base: dict[str, Any] = {"path": "x.JPG", "width": 4000, "height": 3000}
    base.update(kwargs)
    return ImageMeta(**base)


# (case, ImageMeta fields, expected source, expected focal_px)
CASES: list[tuple[str, dict[str, Any], str, float]] = [
    (
        "P4 RTK calibrated focal in pixels",
        {
            "model": "FC6310R",
            "width": 5472,
            "height": 3648,
            "focal_mm": 8.8,
            "calibrated_focal_px": 3666.666504,
        },
        "calibrated",
        3666.666504,
    ),
    (
        "P4 RTK resized to half: calibrated focal scaled",
        {
            "model": "FC6310R",
            "width": 2736,
            "height": 1824,
            "focal_mm": 8.8,
            "calibrated_focal_px": 3666.666504,
            "exif_width": 5472,
        },
        "calibrated",
        3666.666504 / 2,
    ),
    (
        "calibrated value that is millimetres, not pixels: table instead",
        {"model": "FC6310", "width": 5472, "height": 3648, "focal_mm": 8.8, "calibrated_focal_px": 8.8},
        "sensor_table",
        8.8 * 5472 / 13.2,
    ),
    (
        "Phantom 3 16:9 crop keeps the sensor width",
        {"model": "FC300S", "width": 4000, "height": 2250, "focal_mm": 3.61, "focal_35mm": 20},
        "sensor_table",
        3.61 * 4000 / 6.17,
    ),
    (
        "Mavic 3E calibrated",
        {"model": "M3E", "width": 5280, "height": 3956, "focal_mm": 12.29, "calibrated_focal_px": 3713.29},
        "calibrated",
        3713.29,
    ),
    (
        "Air 2 12 MP (binned) from the 48 MP table entry",
        {"model": "FC3170", "width": 4000, "height": 3000, "focal_mm": 4.49},
        "sensor_table",
        4.49 * 4000 / 6.4,
    ),
    (
        "table with no EXIF focal length uses the nominal one",
        {"model": "L1D-20c", "width": 5472, "height": 3648},
        "sensor_table",
        10.26 * 5472 / 13.2,
    ),
    (
        "unknown model, calibrated focal with a plausible FOV",
        {"model": "XYZ-1", "calibrated_focal_px": 2800.0, "focal_35mm": 24},
        "calibrated",
        2800.0,
    ),
    (
        "unknown model, implausible calibrated focal: 35 mm equivalent",
        {"model": "XYZ-1", "calibrated_focal_px": 4.5, "focal_mm": 4.5, "focal_35mm": 24},
        "focal_35mm",
        24 / DIAG35 * 5000.0,
    ),
    (
        "M30T thermal 640x512: not the wide camera of the table",
        {"model": "M30T", "width": 640, "height": 512, "focal_mm": 9.1, "focal_35mm": 40},
        "focal_35mm",
        40 / DIAG35 * math.hypot(640, 512),
    ),
    (
        "H20T zoom is wider than the table's wide camera",
        {"model": "ZH20T", "width": 5184, "height": 3888, "focal_mm": 31.7, "focal_35mm": 168},
        "focal_35mm",
        168 / DIAG35 * math.hypot(5184, 3888),
    ),
    (
        # A Canon compact's tags: 16393.44 px per inch of sensor, i.e. a 4000 px / 16393.44 * 25.4 = 6.198 mm
        # wide sensor, so f = 4.5 mm * 4000 px / 6.198 mm.
        "no 35 mm value, focal-plane resolution in pixels per inch",
        {"model": "Canon X", "focal_mm": 4.5, "focal_plane_px_per_mm": 16393.44 / 25.4, "exif_width": 4000},
        "focal_plane",
        4.5 * 4000 / (4000 / 16393.44 * 25.4),
    ),
    (
        "focal-plane resolution of the original, image resized to a quarter",
        {
            "model": "Canon X",
            "width": 1000,
            "height": 750,
            "focal_mm": 4.5,
            "focal_plane_px_per_mm": 645.411,
            "exif_width": 4000,
            "exif_height": 3000,
        },
        "focal_plane",
        4.5 * 645.411 / 4,
    ),
    (
        "a 35 mm value wins over the focal-plane resolution",
        {"model": "Canon X", "focal_mm": 4.5, "focal_35mm": 25, "focal_plane_px_per_mm": 645.411},
        "focal_35mm",
        25 / DIAG35 * 5000.0,
    ),
    (
        "16:9 with only a 35 mm value: 4:3 sensor diagonal",
        {"model": None, "width": 3840, "height": 2160, "focal_35mm": 24},
        "focal_35mm",
        24 / DIAG35 * 3840 * 1.25,
    ),
]


@pytest.mark.parametrize(("case", "fields", "source", "focal_px"), CASES, ids=[c[0] for c in CASES])
def test_intrinsics(case: str, fields: dict[str, Any], source: str, focal_px: float) -> None:
    meta = _meta(**fields)
    intr = intrinsics_for(meta)
    assert intr.source == source
    assert intr.focal_px == pytest.approx(focal_px, rel=1e-9)
    assert (intr.width_px, intr.height_px) == (meta.width, meta.height)
    assert meta.width is not None and meta.height is not None
    assert (intr.cx_px, intr.cy_px) == (meta.width / 2, meta.height / 2)


def test_crop_factor_gives_sensor_width() -> None:
    intr = intrinsics_for(_meta(model="Unknown", focal_mm=4.5, focal_35mm=24))
    # sensor diagonal = 43.27 mm * 4.5 / 24 = 8.11 mm; 4:3 -> width = diagonal * 0.8
    assert intr.sensor_width_mm is not None
    assert intr.sensor_width_mm == pytest.approx(DIAG35 * 4.5 / 24 * 0.8)
    # and the two routes agree: focal_mm * width / sensor width
    assert intr.focal_px == pytest.approx(4.5 * 4000 / intr.sensor_width_mm)


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "Unknown"},
        {"model": None, "focal_mm": 4.5},
        {"width": None, "model": "FC6310"},
        {"model": "Unknown", "focal_mm": 4.5, "focal_plane_px_per_mm": 645.411 / 0.001},  # a 0.006 mm sensor
        {"model": "Unknown", "focal_mm": 400.0, "focal_plane_px_per_mm": 645.411},  # a 0.5 degree view
        {"model": "Unknown", "focal_plane_px_per_mm": 645.411},  # no focal length
    ],
    ids=[
        "nothing",
        "focal mm alone",
        "no size",
        "focal plane: no sensor",
        "focal plane: no view",
        "plane alone",
    ],
)
def test_no_intrinsics_raises(fields: dict[str, Any]) -> None:
    with pytest.raises(MetadataError, match=r"x\.JPG"):
        intrinsics_for(_meta(**fields))


# FocalPlaneXResolution, FocalPlaneResolutionUnit as a file writes them -> pixels per millimetre (EXIF 2.3:
# unit 2 inch, 3 cm; absent means inch; 1 "no absolute unit" gives no size).
FOCAL_PLANE_TAGS = [
    ((1000000, 61), 2, 1000000 / 61 / 25.4),
    ((6454, 1), 3, 645.4),
    ((1000000, 61), None, 1000000 / 61 / 25.4),
    ((6454, 1), 1, None),
    ((0, 1), 2, None),
]


@pytest.mark.parametrize(("resolution", "unit", "px_per_mm"), FOCAL_PLANE_TAGS)
def test_focal_plane_resolution_from_a_file(
    make_jpeg: Any, exif_dict: Any, resolution: tuple[int, int], unit: int | None, px_per_mm: float | None
) -> None:
    extra: dict[int, Any] = {piexif.ExifIFD.FocalPlaneXResolution: resolution}
    if unit is not None:
        extra[piexif.ExifIFD.FocalPlaneResolutionUnit] = unit
    meta = read_image_meta(make_jpeg(exif=exif_dict(model=b"Canon X", extra_exif=extra)))
    if px_per_mm is None:
        assert meta.focal_plane_px_per_mm is None
    else:
        assert meta.focal_plane_px_per_mm == pytest.approx(px_per_mm, rel=1e-9)


REQUIRED_MODELS = [
    "FC300S",
    "FC300X",
    "FC330",
    "FC6310",
    "FC6310S",
    "FC6310R",
    "L1D-20c",
    "FC3411",
    "FC3170",
    "FC3582",
    "FC8482",
    "L2D-20c",
    "M3E",
    "M3T",
    "M30",
    "M30T",
    "ZH20",
    "ZH20T",
    "ZH20N",
    "ZenmuseP1",
    "P1",
]


@pytest.mark.parametrize("model", REQUIRED_MODELS)
def test_table_covers_required_cameras(model: str) -> None:
    camera = camera_for(model)
    assert camera is not None
    assert camera_for(model.lower()) == camera
    # sensor aspect matches the native pixel aspect (square pixels)
    assert camera.sensor_width_mm / camera.sensor_height_mm == pytest.approx(camera.aspect, rel=0.02)


def test_table_nominal_fov_is_sane() -> None:
    for camera in CAMERAS.values():
        hfov = math.degrees(2 * math.atan(camera.sensor_width_mm / (2 * camera.focal_mm)))
        assert 45.0 < hfov < 90.0, camera.name


def test_unknown_model() -> None:
    assert camera_for("Nokia 3310") is None and camera_for(None) is None


# --- principal point: DJI CalibratedOpticalCenterX/Y ----------------------------------------------------
# DJI writes the optical centre in pixels of the native sensor grid. Its offset from that grid's centre is
# the lens's decentring: it scales with the image like the focal length (long side / native long side) and
# keeps its place relative to the centre of a centred crop. Expected values below are that closed form.
M3E_TO_4000 = 4000 / 5280  # 4000 x 3000 photos from the 5280 x 3956 sensor

# (case, ImageMeta fields, expected (cx, cy))
CENTRE_CASES: list[tuple[str, dict[str, Any], tuple[float, float]]] = [
    (
        "P4 RTK at native size: as written",
        {
            "model": "FC6310R",
            "width": 5472,
            "height": 3648,
            "calibrated_cx_px": 2766.5,
            "calibrated_cy_px": 1811.75,
        },
        (2766.5, 1811.75),
    ),
    (
        "P4 RTK resized to half: the decentring halves",
        {
            "model": "FC6310R",
            "width": 2736,
            "height": 1824,
            "exif_width": 5472,
            "exif_height": 3648,
            "calibrated_focal_px": 3666.666504,
            "calibrated_cx_px": 2736 + 30.5,
            "calibrated_cy_px": 1824 - 12.25,
        },
        (1368 + 30.5 / 2, 912 - 12.25 / 2),
    ),
    (
        "M3E 4000x3000 (the simulator's photos): the native centre is the image centre",
        {
            "model": "M3E",
            "width": 4000,
            "height": 3000,
            "calibrated_cx_px": 2640.0,
            "calibrated_cy_px": 1978.0,
        },
        (2000.0, 1500.0),
    ),
    (
        "M3E 4000x3000, decentred lens",
        {
            "model": "M3E",
            "width": 4000,
            "height": 3000,
            "calibrated_cx_px": 2650.0,
            "calibrated_cy_px": 1972.0,
        },
        (2000.0 + 10 * M3E_TO_4000, 1500.0 - 6 * M3E_TO_4000),
    ),
    (
        "M3E 16:9 full-width crop: same decentring about the crop's centre",
        {
            "model": "M3E",
            "width": 5280,
            "height": 2970,
            "calibrated_cx_px": 2650.0,
            "calibrated_cy_px": 1982.0,
        },
        (2650.0, 1485.0 + 4.0),
    ),
    (
        "camera not in the table: EXIF's original size is the grid",
        {
            "model": "XYZ-1",
            "width": 2000,
            "height": 1500,
            "exif_width": 4000,
            "exif_height": 3000,
            "focal_35mm": 24,
            "calibrated_cx_px": 2020.0,
            "calibrated_cy_px": 1490.0,
        },
        (1000.0 + 10.0, 750.0 - 5.0),
    ),
]


@pytest.mark.parametrize(("case", "fields", "centre"), CENTRE_CASES, ids=[c[0] for c in CENTRE_CASES])
def test_calibrated_optical_centre(case: str, fields: dict[str, Any], centre: tuple[float, float]) -> None:
    intr = intrinsics_for(_meta(**fields))
    assert (intr.cx_px, intr.cy_px) == pytest.approx(centre, abs=1e-9)
    assert intr.notes == ()


P4RTK: dict[str, Any] = {"model": "FC6310R", "width": 5472, "height": 3648, "focal_mm": 8.8}
# (case, ImageMeta fields, words the note must hold): nonsense gives the image centre and says why
BAD_CENTRE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("zero", {"model": "M3E", "calibrated_cx_px": 0.0, "calibrated_cy_px": 0.0}, "outside the 5280x3956"),
    (
        "beyond the sensor",
        {**P4RTK, "calibrated_cx_px": 6000.0, "calibrated_cy_px": 1824.0},
        "outside",
    ),
    (
        "millimetres, not pixels",
        {**P4RTK, "calibrated_cx_px": 6.6, "calibrated_cy_px": 4.4},
        "off its centre",
    ),
    (
        "a quarter off the centre",
        {"model": "M3E", "calibrated_cx_px": 3960.0, "calibrated_cy_px": 1978.0},
        "25%",
    ),
    ("only X", {"model": "M3E", "calibrated_cx_px": 2640.0}, "only one coordinate"),
    (
        "unreadable",
        {"model": "M3E", "calibrated_cy_px": 1978.0, "unreadable": (("calibrated_cx_px", "'abc'"),)},
        "unreadable",
    ),
    (
        "turned image (portrait pixels, landscape sensor)",
        {
            "model": "M3E",
            "width": 3000,
            "height": 4000,
            "calibrated_cx_px": 2650.0,
            "calibrated_cy_px": 1972.0,
        },
        "turned",
    ),
]


@pytest.mark.parametrize(("case", "fields", "words"), BAD_CENTRE_CASES, ids=[c[0] for c in BAD_CENTRE_CASES])
def test_implausible_optical_centre_falls_back_to_the_centre(
    case: str, fields: dict[str, Any], words: str
) -> None:
    meta = _meta(**fields)
    intr = intrinsics_for(meta)
    assert meta.width is not None and meta.height is not None
    assert (intr.cx_px, intr.cy_px) == (meta.width / 2, meta.height / 2)
    assert len(intr.notes) == 1 and words in intr.notes[0] and "image centre used" in intr.notes[0]


def test_zero_optical_centre_in_a_file_is_noted(tmp_path: Path) -> None:
    """The whole path on a written file: a DJI packet with CalibratedOpticalCenterX/Y = 0 (as some firmware
    leaves them) gives the image centre, and both `patrol meta` and the camera view say why."""
    ok, buf = cv2.imencode(".jpg", np.full((300, 400, 3), 128, np.uint8))
    assert ok
    meta = PhotoMeta(
        "DJI",
        "M3E",
        400,
        300,
        datetime(2024, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=8))),
        22.98,
        113.74,
        118.0,
        100.0,
        Attitude(0.0, -90.0, 0.0),
        Attitude(0.0, 0.0, 0.0),
        12.29,
        24,
        calibrated_focal_px=12.29 * 5280 / 17.3,
        calibrated_cx_px=0.0,
        calibrated_cy_px=0.0,
    )
    path = tmp_path / "DJI_0001.JPG"
    path.write_bytes(with_metadata(buf.tobytes(), meta))
    read = read_image_meta(path)
    intr = intrinsics_for(read)
    assert intr.source == "calibrated"
    assert (intr.cx_px, intr.cy_px) == (200.0, 150.0)
    assert any("optical centre" in n for n in intr.notes)
    assert any("optical centre" in n for n in view_for_meta(read).notes)
    record = json.loads(
        subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "meta", str(path), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert (record["cx_px"], record["cy_px"]) == (200.0, 150.0)
    assert any("optical centre" in p for p in record["problems"])


@pytest.mark.parametrize("flight", ["nadir_mapping", "oblique_corridor"])
def test_sample_flight_principal_point_is_the_rendered_one(flight: str) -> None:
    """The committed sample flights (2000 x 1500 from the M3E's 5280 x 3956 grid) were rendered with the
    principal point their manifest records; the reader must find that one in the files' DJI tags."""
    folder = Path(__file__).resolve().parents[2] / "sample_flights" / flight
    manifest = json.loads((folder / "manifest.json").read_text())
    truth = (manifest["camera"]["cx_px"], manifest["camera"]["cy_px"])
    for name in manifest["media"]:
        meta = read_image_meta(folder / name)
        assert meta.calibrated_cx_px is not None
        intr = intrinsics_for(meta)
        assert (intr.cx_px, intr.cy_px) == pytest.approx(truth, abs=1e-6), name
        assert intr.focal_px == pytest.approx(manifest["camera"]["focal_px"], rel=1e-9)
