"""Builders of small synthetic inputs: JPEGs with chosen EXIF (piexif) and XMP, written under tmp_path.

Handed to tests as fixtures (not imported) so the tests work under any pytest import mode.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import piexif
import pytest
from PIL import Image

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"

JpegFactory = Callable[..., Path]


def jpeg_bytes(
    size: tuple[int, int] = (64, 48), exif: dict[str, Any] | None = None, xmp: bytes | None = None
) -> bytes:
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if exif is not None:
        kwargs["exif"] = piexif.dump(exif)
    Image.new("RGB", size, (90, 120, 60)).save(buf, "JPEG", quality=80, **kwargs)
    data = buf.getvalue()
    if xmp is not None:
        payload = XMP_HEADER + xmp
        segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        data = data[:2] + segment + data[2:]
    return data


def gps_exif(
    lat: tuple[tuple[int, int], ...] = ((22, 1), (58, 1), (4800, 100)),
    lat_ref: bytes | None = b"N",
    lon: tuple[tuple[int, int], ...] = ((113, 1), (44, 1), (2400, 100)),
    lon_ref: bytes | None = b"E",
    alt: tuple[int, int] | None = (12345, 100),
    alt_ref: int | None = 0,
    model: bytes = b"FC6310R",
    extra_exif: dict[int, Any] | None = None,
) -> dict[str, Any]:
    """A DJI-like EXIF dict; pass None to leave a tag out."""
    gps: dict[int, Any] = {piexif.GPSIFD.GPSLatitude: lat, piexif.GPSIFD.GPSLongitude: lon}
    if lat_ref is not None:
        gps[piexif.GPSIFD.GPSLatitudeRef] = lat_ref
    if lon_ref is not None:
        gps[piexif.GPSIFD.GPSLongitudeRef] = lon_ref
    if alt is not None:
        gps[piexif.GPSIFD.GPSAltitude] = alt
    if alt_ref is not None:
        gps[piexif.GPSIFD.GPSAltitudeRef] = alt_ref
    exif_ifd: dict[int, Any] = {
        piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:20:30",
        piexif.ExifIFD.FocalLength: (880, 100),
        piexif.ExifIFD.FocalLengthIn35mmFilm: 24,
    }
    exif_ifd.update(extra_exif or {})
    return {
        "0th": {piexif.ImageIFD.Make: b"DJI", piexif.ImageIFD.Model: model},
        "Exif": exif_ifd,
        "GPS": gps,
    }


def dji_xmp(attrs: str = "", body: str = "") -> bytes:
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/" {attrs}>{body}</rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


@pytest.fixture
def make_jpeg(tmp_path: Path) -> JpegFactory:
    def build(name: str = "frame.JPG", **kwargs: Any) -> Path:
        path = tmp_path / name
        path.write_bytes(jpeg_bytes(**kwargs))
        return path

    return build


@pytest.fixture
def build_jpeg() -> Callable[..., bytes]:
    return jpeg_bytes


@pytest.fixture
def exif_dict() -> Callable[..., dict[str, Any]]:
    return gps_exif


@pytest.fixture
def xmp_packet() -> Callable[..., bytes]:
    return dji_xmp
