"""Camera intrinsics: the order of sources and the arithmetic of each, table-driven."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pipeline.errors import MetadataError
from pipeline.metadata import CAMERAS, camera_for, intrinsics_for
from pipeline.types import ImageMeta

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
    [{"model": "Unknown"}, {"model": None, "focal_mm": 4.5}, {"width": None, "model": "FC6310"}],
    ids=["nothing", "focal mm alone", "no size"],
)
def test_no_intrinsics_raises(fields: dict[str, Any]) -> None:
    with pytest.raises(MetadataError, match=r"x\.JPG"):
        intrinsics_for(_meta(**fields))


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
