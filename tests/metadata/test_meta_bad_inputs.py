"""Odd and broken photos: each gives a problem string (or, for non-images, a one-line MetadataError)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import piexif
import pytest

from pipeline.errors import MetadataError
from pipeline.metadata import read_image_meta, read_many
from pipeline.metadata.exif import dms_to_degrees, exif_datetime_to_iso

BIG = 2**31 - 1

# (case, gps_exif overrides, expected field values, expected problem substring or None)
EXIF_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    (
        "clean",
        {},
        {"lat": 22 + 58 / 60 + 48 / 3600, "lon": 113 + 44 / 60 + 24 / 3600, "abs_alt_m": 123.45},
        None,
    ),
    (
        "zero denominator in latitude",
        {"lat": ((22, 1), (58, 0), (48, 1))},
        {"lat": None, "lon": None},
        "GPSLatitude has a zero denominator",
    ),
    (
        "2^31-1 numerator in longitude",
        {"lon": ((BIG, 1), (0, 1), (0, 1))},
        {"lat": None, "lon": None},
        "GPSLongitude out of range",
    ),
    (
        "2^31-1 over 1 in seconds",
        {"lat": ((22, 1), (58, 1), (BIG, 1))},
        {"lat": None},
        "GPSLatitude out of range",
    ),
    ("missing latitude ref", {"lat_ref": None}, {"lat": pytest.approx(22.98)}, "GPSLatitudeRef missing"),
    ("missing longitude ref", {"lon_ref": None}, {"lon": pytest.approx(113.74)}, "GPSLongitudeRef missing"),
    ("south and west", {"lat_ref": b"S", "lon_ref": b"W"}, {"lat": pytest.approx(-22.98)}, None),
    (
        "position (0, 0)",
        {"lat": ((0, 1), (0, 1), (0, 1)), "lon": ((0, 1), (0, 1), (0, 1))},
        {"lat": None, "lon": None},
        "(0, 0)",
    ),
    ("below sea level", {"alt": (350, 10), "alt_ref": 1}, {"abs_alt_m": -35.0}, None),
    (
        "altitude zero denominator",
        {"alt": (350, 0)},
        {"abs_alt_m": None},
        "GPSAltitude has a zero denominator",
    ),
    ("altitude 2^31-1", {"alt": (BIG, 1)}, {"abs_alt_m": None}, "GPSAltitude out of range"),
    (
        "offset time",
        {"extra_exif": {piexif.ExifIFD.OffsetTimeOriginal: b"+08:00"}},
        {"captured_at": "2024-05-01T10:20:30+08:00"},
        None,
    ),
    (
        "bad date",
        {"extra_exif": {piexif.ExifIFD.DateTimeOriginal: b"0000:00:00 00:00:00"}},
        {"captured_at": None},
        "DateTimeOriginal unreadable",
    ),
    (
        "resized: EXIF size lies",
        {"extra_exif": {piexif.ExifIFD.PixelXDimension: 5472, piexif.ExifIFD.PixelYDimension: 3648}},
        {"width": 64, "height": 48, "exif_width": 5472, "exif_height": 3648},
        None,
    ),
    (
        "focal length 0/0",
        {"extra_exif": {piexif.ExifIFD.FocalLength: (0, 0)}},
        {"focal_mm": None},
        "FocalLength",
    ),
]


@pytest.mark.parametrize(
    ("case", "overrides", "expected", "problem"), EXIF_CASES, ids=[c[0] for c in EXIF_CASES]
)
def test_exif_oddities(
    make_jpeg: Callable[..., Path],
    exif_dict: Callable[..., dict[str, Any]],
    case: str,
    overrides: dict[str, Any],
    expected: dict[str, Any],
    problem: str | None,
) -> None:
    meta = read_image_meta(make_jpeg(exif=exif_dict(**overrides)))
    for name, value in expected.items():
        assert getattr(meta, name) == value, name
    if problem is None:
        assert meta.problems == ()
    else:
        assert any(problem in p for p in meta.problems), meta.problems


def test_no_exif_at_all(make_jpeg: Callable[..., Path]) -> None:
    meta = read_image_meta(make_jpeg())
    assert (meta.width, meta.height) == (64, 48)
    assert "no EXIF" in meta.problems
    assert "no GPS position" in meta.problems


def test_missing_ref_resolved_by_signed_xmp(
    make_jpeg: Callable[..., Path], exif_dict: Callable[..., dict[str, Any]], xmp_packet: Callable[..., bytes]
) -> None:
    xmp = xmp_packet('drone-dji:GpsLatitude="+22.98" drone-dji:GpsLongitude="-113.74"')
    meta = read_image_meta(make_jpeg(exif=exif_dict(lon_ref=None), xmp=xmp))
    assert meta.lon == pytest.approx(-113.74)


def test_xmp_position_used_when_exif_has_none(
    make_jpeg: Callable[..., Path], exif_dict: Callable[..., dict[str, Any]], xmp_packet: Callable[..., bytes]
) -> None:
    xmp = xmp_packet('drone-dji:GpsLatitude="+22.9800000" drone-dji:GpsLongtitude="+113.7400000"')
    meta = read_image_meta(make_jpeg(exif=exif_dict(lat=((1, 0),)), xmp=xmp))
    assert meta.lat == pytest.approx(22.98) and meta.lon == pytest.approx(113.74)


# EXIF/XMP position rule (pipeline.metadata.reader): within 50 m EXIF wins; beyond, no position at all.
# (row, XMP GpsLatitude/GpsLongitude, EXIF refs, lat expected, words of the problem or None)
POSITION_ROWS = [
    ("agree to 0.5 m: EXIF wins", ("+22.980005", "+113.74"), (b"N", b"E"), pytest.approx(22.98), None),
    ("1.1 km apart: refused", ("+22.99", "+113.74"), (b"N", b"E"), None, "differ by 11"),
    ("EXIF S/W, XMP positive: refused", ("+22.98", "+113.74"), (b"S", b"W"), None, "differ by 25"),
    (
        "EXIF S/W, XMP signed the same: agree",
        ("-22.98", "-113.74"),
        (b"S", b"W"),
        pytest.approx(-22.98),
        None,
    ),
]


@pytest.mark.parametrize(
    ("row", "xmp_pos", "refs", "lat", "problem"), POSITION_ROWS, ids=[r[0] for r in POSITION_ROWS]
)
def test_exif_and_xmp_positions(
    make_jpeg: Callable[..., Path],
    exif_dict: Callable[..., dict[str, Any]],
    xmp_packet: Callable[..., bytes],
    row: str,
    xmp_pos: tuple[str, str],
    refs: tuple[bytes, bytes],
    lat: object,
    problem: str | None,
) -> None:
    from pipeline.metadata.reader import POSITION_CONFLICT

    xmp = xmp_packet(f'drone-dji:GpsLatitude="{xmp_pos[0]}" drone-dji:GpsLongitude="{xmp_pos[1]}"')
    meta = read_image_meta(make_jpeg(exif=exif_dict(lat_ref=refs[0], lon_ref=refs[1]), xmp=xmp))
    assert meta.lat == lat, row
    conflicts = [p for p in meta.problems if p.startswith(POSITION_CONFLICT)]
    if problem is None:
        assert conflicts == [], row
    else:
        [text] = conflicts
        assert problem in text and text.endswith("no position trusted") and meta.lon is None, row


def test_the_refused_photo_is_a_failed_frame_naming_the_disagreement(
    make_jpeg: Callable[..., Path], exif_dict: Callable[..., dict[str, Any]], xmp_packet: Callable[..., bytes]
) -> None:
    from pipeline.errors import FrameError
    from pipeline.ingest import load_frame, photo_ref

    xmp = xmp_packet('drone-dji:GpsLatitude="+22.98" drone-dji:GpsLongitude="+113.74"')
    path = make_jpeg("DJI_0007.JPG", exif=exif_dict(lat_ref=b"S", lon_ref=b"W"), xmp=xmp)
    with pytest.raises(FrameError) as caught:
        load_frame(photo_ref(path))
    # 2 x 22.98 degrees of latitude and 2 x 113.74 of longitude apart: about 25 800 km on the sphere
    assert str(caught.value).startswith(f"{path}: EXIF and XMP positions differ by 258")


def test_truncated_in_image_data(tmp_path: Path, build_jpeg: Callable[..., bytes]) -> None:
    data = build_jpeg(size=(256, 256), exif=None)
    path = tmp_path / "cut.JPG"
    path.write_bytes(data[: len(data) - 200])
    meta = read_image_meta(path)
    assert (meta.width, meta.height) == (256, 256)
    assert any("no end-of-image marker" in p for p in meta.problems)


def test_truncated_before_frame_header(tmp_path: Path, build_jpeg: Callable[..., bytes]) -> None:
    path = tmp_path / "stub.JPG"
    path.write_bytes(build_jpeg()[:30])
    meta = read_image_meta(path)
    assert meta.width is None and meta.height is None
    assert any("no frame header" in p for p in meta.problems)


def test_decompression_bomb_header_is_refused_unread(
    tmp_path: Path, build_jpeg: Callable[..., bytes]
) -> None:
    from pipeline.errors import PixelLimitError

    data = bytearray(build_jpeg(size=(64, 48)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") + (30000).to_bytes(2, "big")
    path = tmp_path / "bomb.JPG"
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(PixelLimitError) as caught:
            read_image_meta(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value).startswith(f"{path}: image declares 30000x30000 (900 MP), over the 200 MP limit")
    assert "\n" not in str(caught.value)
    assert peak < 20 * 1024 * 1024  # decoding would need 2.7 GB
    assert read_image_meta(path, max_pixels=10**9).width == 30000  # a raised limit describes it


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file (0 bytes)"),
        (b"this is not a photo, just text with a .JPG name\n", "not an image"),
        (b"\x00" * 1000, "not an image"),
    ],
    ids=["zero bytes", "text", "zeros"],
)
def test_not_an_image_raises_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "DJI_0001.JPG"
    path.write_bytes(content)
    with pytest.raises(MetadataError) as info:
        read_image_meta(path)
    message = str(info.value)
    assert str(path) in message and reason in message
    assert "\n" not in message


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot read"):
        read_image_meta(tmp_path / "nope.JPG")


def test_read_many_never_stops(
    tmp_path: Path, make_jpeg: Callable[..., Path], exif_dict: Callable[..., Any]
) -> None:
    good = make_jpeg("good.JPG", exif=exif_dict())
    empty = tmp_path / "empty.JPG"
    empty.write_bytes(b"")
    text = tmp_path / "text.JPG"
    text.write_bytes(b"hello")
    results = read_many([empty, good, tmp_path / "missing.JPG", text])
    assert [r.path for r in results] == [str(empty), str(good), str(tmp_path / "missing.JPG"), str(text)]
    assert [r.meta is not None for r in results] == [False, True, False, False]
    assert results[0].error is not None and "empty file" in results[0].error
    assert results[1].meta is not None and results[1].meta.lat == pytest.approx(22.98)


def test_png_with_no_metadata(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "x.png"
    Image.new("RGB", (10, 7)).save(path)
    meta = read_image_meta(path)
    assert (meta.width, meta.height) == (10, 7)


@pytest.mark.parametrize(
    ("values", "axis", "expected"),
    [
        ([22, 30, 0], "lat", 22.5),
        ([22.5], "lat", 22.5),
        ([91, 0, 0], "lat", None),
        ([179, 59, 59.99], "lon", pytest.approx(179.99999722)),
        ([10, 60, 0], "lon", None),
        ([], "lat", None),
    ],
)
def test_dms_to_degrees(values: list[float], axis: str, expected: object) -> None:
    assert dms_to_degrees(values, axis)[0] == expected


@pytest.mark.parametrize(
    ("raw", "subsec", "offset", "expected"),
    [
        ("2016:06:23 16:31:59", None, None, "2016-06-23T16:31:59"),
        ("2016:06:23 16:31:59", "042", "-05:00", "2016-06-23T16:31:59.042-05:00"),
        ("2016-06-23 16:31:59", None, "junk", "2016-06-23T16:31:59"),
        ("    :  :     :  :  ", None, None, None),
    ],
)
def test_exif_datetime_to_iso(raw: str, subsec: str | None, offset: str | None, expected: str | None) -> None:
    assert exif_datetime_to_iso(raw, subsec, offset) == expected


def test_deeply_nested_xmp_is_a_problem_not_a_recursion_error(
    make_jpeg: Callable[..., Path], exif_dict: Callable[..., dict[str, Any]], xmp_packet: Callable[..., bytes]
) -> None:
    import sys

    depth = 8 * sys.getrecursionlimit()  # a recursive walk runs out of stack long before this
    nest = "<a>" * depth + "1" + "</a>" * depth  # 7 bytes a level: it fits one 64 kB APP1 segment
    xmp = xmp_packet('drone-dji:RelativeAltitude="+80.00"', body=nest)
    deep = make_jpeg("deep.JPG", exif=exif_dict(), xmp=xmp)
    good = make_jpeg("good.JPG", exif=exif_dict())
    results = read_many([deep, good])
    assert [r.meta is not None for r in results] == [True, True]
    meta = results[0].meta
    assert meta is not None and meta.rel_alt_m == 80.0  # what lies shallow is still read
    assert "XMP nested deeper than 64 levels: the deeper part ignored" in meta.problems
