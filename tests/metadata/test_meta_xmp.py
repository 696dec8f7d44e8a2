"""XMP: DJI in both forms, other vendors, hostile and broken packets."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.metadata import read_image_meta
from pipeline.metadata.xmp import XmpFields, parse_number, parse_xmp
from pipeline.types import flat_fields

RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'


def _packet(namespaces: str, attrs: str = "", body: str = "") -> bytes:
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF {RDF}>'
        f'<rdf:Description rdf:about="" {namespaces} {attrs}>{body}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


DJI = 'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
DJI_ATTRS = (
    'drone-dji:GpsLatitude="+22.98012345" drone-dji:GpsLongtitude="+113.74056789" '
    'drone-dji:AbsoluteAltitude="+120.50" drone-dji:RelativeAltitude="+40.10" '
    'drone-dji:GimbalYawDegree="-45.20" drone-dji:GimbalPitchDegree="-90.00" '
    'drone-dji:GimbalRollDegree="+0.00" drone-dji:FlightYawDegree="-44.90" '
    'drone-dji:FlightPitchDegree="+2.30" drone-dji:FlightRollDegree="-1.10" '
    'drone-dji:CalibratedFocalLength="3666.666504" drone-dji:CalibratedOpticalCenterX="2736.0" '
    'drone-dji:CalibratedOpticalCenterY="1824.0"'
)
DJI_ELEMENTS = "".join(
    f"<drone-dji:{name}>{value}</drone-dji:{name}>"
    for name, value in [
        ("GpsLatitude", "+22.98012345"),
        ("GpsLongitude", "+113.74056789"),
        ("AbsoluteAltitude", "+120.50"),
        ("RelativeAltitude", "+40.10"),
        ("GimbalYawDegree", "-45.20"),
        ("GimbalPitchDegree", "-90.00"),
        ("GimbalRollDegree", "+0.00"),
        ("FlightYawDegree", "-44.90"),
        ("FlightPitchDegree", "+2.30"),
        ("FlightRollDegree", "-1.10"),
        ("CalibratedFocalLength", "3666.666504"),
        ("CalibratedOpticalCenterX", "2736.0"),
        ("CalibratedOpticalCenterY", "1824.0"),
    ]
)
DJI_EXPECTED = {
    "lat": 22.98012345,
    "lon": 113.74056789,
    "abs_alt_m": 120.5,
    "rel_alt_m": 40.1,
    "gimbal_yaw_deg": -45.2,
    "gimbal_pitch_deg": -90.0,
    "gimbal_roll_deg": 0.0,
    "flight_yaw_deg": -44.9,
    "flight_pitch_deg": 2.3,
    "flight_roll_deg": -1.1,
    "calibrated_focal_px": 3666.666504,
    "calibrated_cx_px": 2736.0,
    "calibrated_cy_px": 1824.0,
}

SKYDIO = 'xmlns:drone-skydio="https://www.skydio.com/drone-skydio/1.0/"'
PARROT = 'xmlns:drone-parrot="http://www.parrot.com/drone-parrot/1.0/"'
PIX4D = 'xmlns:Camera="http://pix4d.com/camera/1.0/"'

CASES: list[tuple[str, bytes, dict[str, Any]]] = [
    ("dji attributes (misspelt GpsLongtitude)", _packet(DJI, DJI_ATTRS), DJI_EXPECTED),
    ("dji child elements", _packet(DJI, body=DJI_ELEMENTS), DJI_EXPECTED),
    (
        "skydio struct as elements",
        _packet(
            SKYDIO,
            body="<drone-skydio:Latitude>37.4</drone-skydio:Latitude>"
            "<drone-skydio:Longitude>-122.1</drone-skydio:Longitude>"
            "<drone-skydio:AbsoluteAltitude>55.5</drone-skydio:AbsoluteAltitude>"
            '<drone-skydio:CameraOrientationNED rdf:parseType="Resource">'
            "<drone-skydio:Yaw>12.5</drone-skydio:Yaw><drone-skydio:Pitch>-60.0</drone-skydio:Pitch>"
            "<drone-skydio:Roll>0.5</drone-skydio:Roll></drone-skydio:CameraOrientationNED>",
        ),
        {"lat": 37.4, "lon": -122.1, "abs_alt_m": 55.5, "gimbal_yaw_deg": 12.5, "gimbal_pitch_deg": -60.0},
    ),
    (
        "skydio struct as attributes of a nested description",
        _packet(
            SKYDIO,
            body="<drone-skydio:CameraOrientationNED><rdf:Description "
            'drone-skydio:Yaw="-170" drone-skydio:Pitch="-30" drone-skydio:Roll="1"/>'
            "</drone-skydio:CameraOrientationNED>",
        ),
        {"gimbal_yaw_deg": -170.0, "gimbal_pitch_deg": -30.0, "gimbal_roll_deg": 1.0, "lat": None},
    ),
    (
        "parrot",
        _packet(
            PARROT,
            'drone-parrot:CameraPitchDegree="-89.5" drone-parrot:CameraYawDegree="100.25" '
            'drone-parrot:CameraRollDegree="0.75" drone-parrot:DroneYawDegree="99.0" '
            'drone-parrot:DronePitchDegree="-3.0" drone-parrot:DroneRollDegree="1.5"',
        ),
        {"gimbal_pitch_deg": -89.5, "gimbal_yaw_deg": 100.25, "flight_yaw_deg": 99.0, "flight_roll_deg": 1.5},
    ),
    (
        "pix4d camera namespace: pitch 0 = nadir",
        _packet(
            PIX4D,
            body="<Camera:Yaw>112.5</Camera:Yaw><Camera:Pitch>0.1</Camera:Pitch><Camera:Roll>0.3</Camera:Roll>",
        ),
        {"gimbal_yaw_deg": 112.5, "gimbal_pitch_deg": pytest.approx(-89.9), "gimbal_roll_deg": 0.3},
    ),
    (
        "dji wins over pix4d",
        _packet(f"{DJI} {PIX4D}", 'drone-dji:GimbalPitchDegree="-45.0" Camera:Pitch="0"'),
        {"gimbal_pitch_deg": -45.0},
    ),
    (
        "autel-style dji names in another namespace",
        _packet('xmlns:drone="http://www.autelrobotics.com/drone/1.0/"', 'drone:GimbalPitchDegree="-80.0"'),
        {"gimbal_pitch_deg": -80.0},
    ),
    (
        "unknown vendor, nothing we read",
        _packet('xmlns:acme="http://acme.example/1.0/"', 'acme:Heading="12"'),
        {name: None for name in DJI_EXPECTED},
    ),
    ("empty description", _packet(DJI), {"lat": None, "gimbal_pitch_deg": None}),
]


@pytest.mark.parametrize(("case", "packet", "expected"), CASES, ids=[c[0] for c in CASES])
def test_vendor_packets(case: str, packet: bytes, expected: dict[str, Any]) -> None:
    fields = parse_xmp(packet)
    for name, value in expected.items():
        assert flat_fields(fields)[name] == (pytest.approx(value) if isinstance(value, float) else value), (
            name
        )
    assert fields.problems == ()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" drone-dji:GimbalPitchDegree="-90">
<drone-dji:Note>&lol9;</drone-dji:Note></rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_entity_bomb_is_refused_not_expanded() -> None:
    started = time.perf_counter()
    fields = parse_xmp(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0
    assert fields == XmpFields(problems=("XMP refused: DTDForbidden",))


def test_entity_bomb_inside_a_photo(make_jpeg: Callable[..., Path], exif_dict: Callable[..., Any]) -> None:
    meta = read_image_meta(make_jpeg(exif=exif_dict(), xmp=BILLION_LAUGHS))
    assert "XMP refused: DTDForbidden" in meta.problems
    assert meta.lat == pytest.approx(22.98)  # EXIF still read
    assert meta.gimbal.pitch_deg is None


def test_external_entity_is_refused() -> None:
    packet = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    assert parse_xmp(packet).problems[0].startswith("XMP refused")


def test_malformed_packet_read_by_pattern() -> None:
    packet = (
        b'<x:xmpmeta><rdf:Description drone-dji:GimbalPitchDegree="-89.90" drone-dji:RelativeAltitude="+40.1"'
    )
    fields = parse_xmp(packet)
    assert fields.gimbal.pitch_deg == -89.9 and fields.rel_alt_m == 40.1
    assert fields.problems[0].startswith("XMP not well-formed")


@pytest.mark.parametrize("packet", [b"", b"\x00\xff\xfe garbage", b"<x:xmpmeta>", b"<a><b></a>"])
def test_garbage_never_raises(packet: bytes) -> None:
    fields = parse_xmp(packet)
    assert fields.lat is None


def test_out_of_range_values_are_problems() -> None:
    fields = parse_xmp(_packet(DJI, 'drone-dji:GpsLatitude="+123.0" drone-dji:GimbalPitchDegree="+9999"'))
    assert fields.lat is None and fields.gimbal.pitch_deg is None
    assert "XMP lat out of range (123)" in fields.problems


def test_xmp_found_anywhere_in_the_file(
    tmp_path: Path, build_jpeg: Callable[..., bytes], exif_dict: Callable[..., Any]
) -> None:
    # Not in a standard APP1 segment: appended after the image, as some writers and containers do.
    data = build_jpeg(exif=exif_dict()) + _packet(DJI, 'drone-dji:RelativeAltitude="+33.30"')
    path = tmp_path / "trailing.JPG"
    path.write_bytes(data)
    assert read_image_meta(path).rel_alt_m == pytest.approx(33.3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+40.10", 40.1),
        ("-0.5", -0.5),
        ("4971569/65536", 4971569 / 65536),
        ("1/0", None),
        ("nan", None),
        ("", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected
