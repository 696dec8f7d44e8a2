"""SRT layouts, encodings and junk, table-driven."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import TelemetryError
from pipeline.metadata import parse_srt, read_srt
from pipeline.types import flat_fields

MAVIC3 = """1
00:00:00,000 --> 00:00:00,033
<font size="28">FrameCnt: 1, DiffTime: 33ms
2023-03-01 10:00:00.123
[iso: 100] [shutter: 1/1000.0] [fnum: 2.8] [ev: 0] [color_md: default] \
[focal_len: 24.00] [dzoom_ratio: 1.00], \
[latitude: 22.981234] [longtitude: 113.741234] [rel_alt: 50.000 abs_alt: 120.250] \
[gb_yaw: -12.3 gb_pitch: -90.0 gb_roll: 0.0] </font>

2
00:00:00,033 --> 00:00:00,066
<font size="28">FrameCnt: 2, DiffTime: 33ms
[latitude: 22.981300] [longitude: 113.741300] [rel_alt: 50.100 abs_alt: 120.350] </font>
"""

OLD_LAT_FIRST = """1
00:00:01,000 --> 00:00:02,000
GPS(22.9876,113.7654,12) BAROMETER:85.5

2
00:00:02,000 --> 00:00:03,000
GPS(22.9877,113.7655,11) BAROMETER:85.6
"""

DRONE_GROUP = """1
00:00:00,000 --> 00:00:01,000
[latitude: 1.5] [longitude: 2.5] [Drone: Yaw:-155.4, Pitch:2.6, Roll:-0.2]
"""

NO_FIX = """1
00:00:00,000 --> 00:00:01,000
GPS(0.0,0.0,0) BAROMETER:1.0

2
00:00:01,000 --> 00:00:02,000
GPS(113.1,22.1,9) BAROMETER:2.0
"""

# Matrice 300 firmware, old layout: latitude first, the third number an altitude with a metre suffix (held-out
# real file described in issue 10: 381 entries near Cadiz, 36.6 N 6.1 W; both numbers below 90).
M300_LAT_FIRST = """1
00:00:00,000 --> 00:00:00,033
FrameCnt : 1, DiffTime : 33ms 2021-03-02 12:00:00,000
GPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M

2
00:00:00,033 --> 00:00:00,066
FrameCnt : 2, DiffTime : 33ms 2021-03-02 12:00:00,033
GPS(36.6147,-6.1121,0.0M) BAROMETER:0.4M
"""

# Blocks out of time order (a tool spliced the file): entries come back sorted by time.
SHUFFLED = """2
00:00:01,000 --> 00:00:02,000
GPS(113.2,22.2,9) BAROMETER:2.0

1
00:00:00,000 --> 00:00:01,000
GPS(113.1,22.1,9) BAROMETER:1.0
"""

# (case, text, entry position, expected fields)
CASES: list[tuple[str, str, int, dict[str, Any]]] = [
    (
        "bracket layout with rel/abs, gimbal, misspelt longtitude",
        MAVIC3,
        0,
        {
            "index": 1,
            "start_ms": 0,
            "end_ms": 33,
            "lat": 22.981234,
            "lon": 113.741234,
            "rel_alt_m": 50.0,
            "abs_alt_m": 120.25,
            "gimbal_yaw_deg": -12.3,
            "gimbal_pitch_deg": -90.0,
            "gimbal_roll_deg": 0.0,
            "focal_35mm": 24.0,
        },
    ),
    (
        "bracket layout, second entry",
        MAVIC3,
        1,
        {"index": 2, "start_ms": 33, "end_ms": 66, "rel_alt_m": 50.1},
    ),
    ("CRLF and BOM", "\ufeff" + MAVIC3.replace("\n", "\r\n"), 1, {"lat": 22.9813, "abs_alt_m": 120.35}),
    ("old layout, latitude first", OLD_LAT_FIRST, 1, {"lat": 22.9877, "lon": 113.7655, "satellites": 11}),
    ("drone group of angles", DRONE_GROUP, 0, {"flight_yaw_deg": -155.4, "flight_pitch_deg": 2.6}),
    ("no fix is no position", NO_FIX, 0, {"lat": None, "lon": None, "rel_alt_m": 1.0, "satellites": 0}),
    ("then a fix", NO_FIX, 1, {"lat": 22.1, "lon": 113.1}),
    (
        "M300 old layout, latitude first, metre suffix",
        M300_LAT_FIRST,
        1,
        {"lat": 36.6147, "lon": -6.1121, "rel_alt_m": 0.4, "satellites": None},
    ),
    ("blocks out of order: first by time", SHUFFLED, 0, {"index": 1, "start_ms": 0, "lon": 113.1}),
    ("blocks out of order: then", SHUFFLED, 1, {"index": 2, "start_ms": 1000, "lon": 113.2}),
    (
        "dot millisecond separator and missing index",
        "00:01:02.5 --> 00:01:03.250\nGPS (1.0, 2.0, 7), H 3.00m, G.PRY (-10.0°, 0.0°, 5.0°)\n",
        0,
        {
            "index": 1,
            "start_ms": 62500,
            "end_ms": 63250,
            "lon": 1.0,
            "lat": 2.0,
            "rel_alt_m": 3.0,
            "gimbal_yaw_deg": 5.0,
        },
    ),
]


@pytest.mark.parametrize(("case", "text", "pos", "expected"), CASES, ids=[c[0] for c in CASES])
def test_layouts(case: str, text: str, pos: int, expected: dict[str, Any]) -> None:
    entry = parse_srt(text)[pos]
    for name, value in expected.items():
        got = flat_fields(entry)[name]
        assert got == (pytest.approx(value) if isinstance(value, float) else value), name


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("99:99:99,000 --> 99:99:99,500", "block 1 (line 2): 99:99:99,000 is not a time"),
        ("00:00:61,000 --> 00:00:62,000", "block 1 (line 2): 00:00:61,000 is not a time"),
        ("00:00:05,000 --> 00:00:04,000", "block 1 (line 2) ends before it starts"),
    ],
    ids=["99:99:99", "61 seconds", "ends before it starts"],
)
def test_times_that_are_not_times_refuse_the_file(tmp_path: Path, stamp: str, reason: str) -> None:
    path = tmp_path / "DJI_0001.SRT"
    path.write_text(f"1\n{stamp}\nGPS(113.1,22.1,9) BAROMETER:1.0\n", encoding="utf-8")
    with pytest.raises(TelemetryError) as caught:
        read_srt(path)
    assert str(caught.value).startswith(f"{path}: bad subtitle time: {reason}")
    assert "\n" not in str(caught.value)


def test_bracket_extra_fields() -> None:
    entry = parse_srt(MAVIC3)[0]
    extra = dict(entry.extra)
    assert extra["fnum"] == "2.8" and extra["dzoom_ratio"] == "1.00" and extra["iso"] == "100"
    assert extra["datetime"] == "2023-03-01T10:00:00.123"
    out = entry.as_dict()
    assert out["gimbal_pitch_deg"] == -90.0 and out["shutter"] == "1/1000.0"


@pytest.mark.parametrize(
    "text",
    ["", "hello\nworld\n", "1\n00:00:00,000 --> 00:00:01,000\nnothing here\n", "\x00\x01\x02" * 100],
    ids=["empty", "prose", "blocks without telemetry", "binary"],
)
def test_junk_raises_telemetry_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "junk.SRT"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TelemetryError) as info:
        read_srt(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_junk_blocks_are_skipped_not_fatal() -> None:
    text = (
        "1\n00:00:00,000 --> 00:00:01,000\n@@@@ garbage [x: ]\n\n"
        "2\n00:00:01,000 --> 00:00:02,000\nGPS(113.1,22.1,9) BAROMETER:2.0\n"
    )
    entries = parse_srt(text)
    assert [(e.index, e.lat) for e in entries] == [(2, 22.1)]


def test_utf16_file(tmp_path: Path) -> None:
    path = tmp_path / "u16.SRT"
    path.write_bytes(OLD_LAT_FIRST.encode("utf-16"))
    assert read_srt(path)[0].rel_alt_m == 85.5


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TelemetryError, match="cannot read"):
        read_srt(tmp_path / "missing.SRT")
