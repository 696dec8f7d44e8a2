"""DJI-style photo metadata: an EXIF APP1 (piexif) and a DJI XMP APP1 packet, spliced into encoded JPEG bytes.

The simulator writes its photos with it, and `patrol process` the stills it keeps of video frames (so a
still, exported for training or handed on, carries the pose its frame was searched with). A value given as
None is left out, as a file that does not state it. Everything is a pure function of the values given, so
the same input writes the same bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from xml.sax.saxutils import quoteattr

import piexif

from pipeline.types import Attitude, ImageMeta

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_DMS_DEN = 1_000_000  # seconds of arc to 1e-6: about 0.03 mm on the ground


@dataclass(frozen=True)
class PhotoMeta:
    """What a DJI aircraft writes about one photo (positions as written, i.e. with any GPS noise)."""

    make: str | None
    model: str | None
    width_px: int
    height_px: int
    captured_at: datetime | None  # local time; its offset is written when it has one
    lat: float | None
    lon: float | None
    abs_alt_m: float | None
    rel_alt_m: float | None
    gimbal: Attitude
    flight: Attitude
    focal_mm: float | None
    focal_35mm: float | None
    calibrated_focal_px: float | None = None  # at the camera's native resolution, as DJI writes it
    calibrated_cx_px: float | None = None
    calibrated_cy_px: float | None = None
    software: str = "patrol-simulate"


def photo_meta(meta: ImageMeta, width_px: int, height_px: int, software: str) -> PhotoMeta:
    """What to write into a width x height JPEG of `meta`'s frame so that reading it back gives the same
    camera: a video frame's telemetry kept with its still."""
    when = None
    if meta.captured_at:
        try:
            when = datetime.fromisoformat(meta.captured_at)
        except ValueError:
            when = None
    return PhotoMeta(
        make=meta.make,
        model=meta.model,
        width_px=width_px,
        height_px=height_px,
        captured_at=when,
        lat=meta.lat,
        lon=meta.lon,
        abs_alt_m=meta.abs_alt_m,
        rel_alt_m=meta.rel_alt_m,
        gimbal=meta.gimbal,
        flight=meta.flight,
        focal_mm=meta.focal_mm,
        focal_35mm=meta.focal_35mm,
        calibrated_focal_px=meta.calibrated_focal_px,
        calibrated_cx_px=meta.calibrated_cx_px,
        calibrated_cy_px=meta.calibrated_cy_px,
        software=software,
    )


def _dms(value: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    v = abs(value)
    total = round(v * 3600 * _DMS_DEN)  # integer micro-arcseconds: no float drift in the split
    deg, rest = divmod(total, 3600 * _DMS_DEN)
    minutes, sec = divmod(rest, 60 * _DMS_DEN)
    return (deg, 1), (minutes, 1), (sec, _DMS_DEN)


def _rational(value: float, den: int) -> tuple[int, int]:
    f = Fraction(round(value * den), den)
    return f.numerator, f.denominator


def exif_bytes(meta: PhotoMeta) -> bytes:
    zeroth: dict[int, object] = {
        piexif.ImageIFD.Orientation: 1,
        piexif.ImageIFD.XResolution: (72, 1),
        piexif.ImageIFD.YResolution: (72, 1),
        piexif.ImageIFD.ResolutionUnit: 2,
        piexif.ImageIFD.Software: meta.software.encode(),
    }
    if meta.make is not None:
        zeroth[piexif.ImageIFD.Make] = meta.make.encode()
    if meta.model is not None:
        zeroth[piexif.ImageIFD.Model] = meta.model.encode()
    exif: dict[int, object] = {
        piexif.ExifIFD.ExifVersion: b"0230",
        piexif.ExifIFD.ExposureTime: (1, 1000),
        piexif.ExifIFD.FNumber: (28, 10),
        piexif.ExifIFD.ISOSpeedRatings: 100,
        piexif.ExifIFD.PixelXDimension: meta.width_px,
        piexif.ExifIFD.PixelYDimension: meta.height_px,
    }
    if meta.captured_at is not None:
        stamp = meta.captured_at.strftime("%Y:%m:%d %H:%M:%S").encode()
        zeroth[piexif.ImageIFD.DateTime] = stamp
        exif[piexif.ExifIFD.DateTimeOriginal] = stamp
        exif[piexif.ExifIFD.DateTimeDigitized] = stamp
        offset = meta.captured_at.strftime("%z")
        if offset:
            exif[piexif.ExifIFD.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:]}".encode()
        if meta.captured_at.microsecond:
            # Video frames are a fraction of a second apart: the seen-at of each is its own.
            subsec = f"{meta.captured_at.microsecond:06d}".rstrip("0")
            exif[piexif.ExifIFD.SubSecTimeOriginal] = subsec.encode()
    if meta.focal_mm is not None:
        exif[piexif.ExifIFD.FocalLength] = _rational(meta.focal_mm, 100)
    if meta.focal_35mm is not None:
        # A SHORT in EXIF: whole millimetres, as cameras write it.
        exif[piexif.ExifIFD.FocalLengthIn35mmFilm] = round(meta.focal_35mm)
    gps: dict[int, object] = {piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0)}
    if meta.lat is not None and meta.lon is not None:
        gps[piexif.GPSIFD.GPSLatitudeRef] = b"N" if meta.lat >= 0 else b"S"
        gps[piexif.GPSIFD.GPSLatitude] = _dms(meta.lat)
        gps[piexif.GPSIFD.GPSLongitudeRef] = b"E" if meta.lon >= 0 else b"W"
        gps[piexif.GPSIFD.GPSLongitude] = _dms(meta.lon)
    if meta.abs_alt_m is not None:
        gps[piexif.GPSIFD.GPSAltitudeRef] = 0 if meta.abs_alt_m >= 0 else 1
        gps[piexif.GPSIFD.GPSAltitude] = _rational(abs(meta.abs_alt_m), 1000)
    out: bytes = piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None})
    return out


def _signed(value: float, places: int) -> str:
    return f"{value:+.{places}f}"


def xmp_packet(meta: PhotoMeta) -> bytes:
    """The DJI XMP packet, drone-dji values as attributes and signed strings, as the aircraft writes them."""
    attrs: list[tuple[str, str]] = []
    if meta.make is not None:
        attrs.append(("tiff:Make", meta.make))
    if meta.model is not None:
        attrs.append(("tiff:Model", meta.model))
    if meta.captured_at is not None:
        stamp = meta.captured_at.isoformat()
        attrs += [("xmp:CreateDate", stamp), ("xmp:ModifyDate", stamp)]
    attrs.append(("dc:format", "image/jpg"))
    if meta.lat is not None and meta.lon is not None:
        attrs.append(("drone-dji:GpsStatus", "Normal"))
        attrs.append(("drone-dji:GpsLatitude", _signed(meta.lat, 9)))
        attrs.append(("drone-dji:GpsLongitude", _signed(meta.lon, 9)))
    if meta.abs_alt_m is not None:
        attrs.append(("drone-dji:AbsoluteAltitude", _signed(meta.abs_alt_m, 3)))
    if meta.rel_alt_m is not None:
        attrs.append(("drone-dji:RelativeAltitude", _signed(meta.rel_alt_m, 3)))
    for part, attitude in (("Gimbal", meta.gimbal), ("Flight", meta.flight)):
        # DJI's order; an angle the aircraft does not state is left out, as real files do.
        for axis, value in (
            ("Roll", attitude.roll_deg),
            ("Yaw", attitude.yaw_deg),
            ("Pitch", attitude.pitch_deg),
        ):
            if value is not None:
                attrs.append((f"drone-dji:{part}{axis}Degree", _signed(value, 2)))
    if meta.calibrated_focal_px is not None:
        attrs.append(("drone-dji:CalibratedFocalLength", f"{meta.calibrated_focal_px:.6f}"))
    if meta.calibrated_cx_px is not None and meta.calibrated_cy_px is not None:
        attrs.append(("drone-dji:CalibratedOpticalCenterX", f"{meta.calibrated_cx_px:.6f}"))
        attrs.append(("drone-dji:CalibratedOpticalCenterY", f"{meta.calibrated_cy_px:.6f}"))
    # Values read from another file (a make, a model) may hold XML's special characters.
    body = "\n".join(f"    {k}={quoteattr(v)}" for k, v in attrs)
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="DJI Meta Data"\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n'
        f"{body}>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return text.encode("utf-8")


def _segment(marker: bytes, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise ValueError(f"APP segment of {len(payload)} bytes does not fit in one JPEG segment")
    return marker + struct.pack(">H", len(payload) + 2) + payload


def with_metadata(jpeg: bytes, meta: PhotoMeta) -> bytes:
    """The JPEG with its JFIF/EXIF/XMP APP segments replaced by ours: SOI, EXIF APP1, XMP APP1, the rest."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    pos = 2
    # Drop the encoder's APP0..APP15 segments (JFIF): DJI files start with EXIF, as exiftool expects of them.
    while jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xEF:
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        pos += 2 + length
    return (
        b"\xff\xd8"
        + _segment(b"\xff\xe1", exif_bytes(meta))
        + _segment(b"\xff\xe1", XMP_HEADER + xmp_packet(meta))
        + jpeg[pos:]
    )
