"""Damaged XMP packets (issue 10: a DJI Zenmuse XT S thermal frame whose packet is not well-formed XML, from
which exiftool still reads RelativeAltitude, GimbalPitchDegree +19.90 and GimbalYawDegree +91.30): the
fields are recovered by pattern, without entity expansion, and `problems` says the packet was damaged and
what was recovered. exiftool, run on the same files, is the reference."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.metadata import read_image_meta

H = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
RDF = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
DJI = 'xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"'
VALUES = (
    'drone-dji:RelativeAltitude="+49.70" drone-dji:GimbalPitchDegree="+19.90" '
    'drone-dji:GimbalYawDegree="+91.30"'
)
# (row, packet, words of the parser's complaint)
DAMAGED = [
    (
        "prefix never declared",
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{RDF}<rdf:Description rdf:about="" {VALUES}/>'
        "</rdf:RDF></x:xmpmeta>",
        "unbound prefix",
    ),
    (
        "single quotes and a bare ampersand",
        f"<x:xmpmeta xmlns:x='adobe:ns:meta/'>{RDF}<rdf:Description {DJI} tiff:Model='XT S & co' "
        "drone-dji:RelativeAltitude='+49.70' drone-dji:GimbalPitchDegree='+19.90' "
        "drone-dji:GimbalYawDegree='+91.30'/></rdf:RDF></x:xmpmeta>",
        "invalid token",
    ),
    (
        "character references and a bare <",
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/">{RDF}<rdf:Description {DJI} '
        'drone-dji:RelativeAltitude="&#43;49.70" drone-dji:GimbalPitchDegree="&#x2B;19.90" '
        'drone-dji:GimbalYawDegree="+91.30" drone-dji:Note="a < b"/></rdf:RDF></x:xmpmeta>',
        "invalid token",
    ),
    (
        "old x:xapmeta wrapper with a stray element",
        f'<x:xapmeta xmlns:x="adobe:ns:meta/">{RDF}<rdf:Description {DJI} {VALUES} <bad/>'
        "</rdf:RDF></x:xapmeta>",
        "invalid token",
    ),
]


def _exiftool(path: Path) -> dict[str, float]:
    exe = shutil.which("exiftool")
    assert exe, "exiftool is the reference here (make tools installs it)"
    out = subprocess.run(
        [exe, "-n", "-j", "-RelativeAltitude", "-GimbalPitchDegree", "-GimbalYawDegree", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    [found] = json.loads(out.stdout)
    return {k: float(v) for k, v in found.items() if k != "SourceFile"}


@pytest.mark.parametrize(("row", "packet", "complaint"), DAMAGED, ids=[r[0] for r in DAMAGED])
def test_fields_of_a_damaged_packet_are_recovered_as_exiftool_reads_them(
    make_jpeg: Callable[..., Path], row: str, packet: str, complaint: str
) -> None:
    path = make_jpeg("DJI_0001_R.JPG", xmp=(H + packet).encode())
    reference = _exiftool(path)
    assert reference == {"RelativeAltitude": 49.7, "GimbalPitchDegree": 19.9, "GimbalYawDegree": 91.3}, row
    meta = read_image_meta(path)
    got = (meta.rel_alt_m, meta.gimbal.pitch_deg, meta.gimbal.yaw_deg)
    assert got == (
        reference["RelativeAltitude"],
        reference["GimbalPitchDegree"],
        reference["GimbalYawDegree"],
    )
    [note] = [p for p in meta.problems if p.startswith("XMP not well-formed")]
    assert complaint in note and "recovered by pattern: rel_alt_m, gimbal_yaw_deg, gimbal_pitch_deg" in note


def test_an_entity_in_a_damaged_packet_is_not_expanded(make_jpeg: Callable[..., Path]) -> None:
    packet = (
        '<!DOCTYPE x [<!ENTITY h "+12.0">]><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'{RDF}<rdf:Description drone-dji:RelativeAltitude="&h;" drone-dji:GimbalYawDegree="+91.30"'
    )
    meta = read_image_meta(make_jpeg(xmp=packet.encode()))
    assert meta.rel_alt_m is None  # "&h;" stays text: no number
    assert any("XMP refused" in p or "unreadable ('&h;')" in p for p in meta.problems), meta.problems
