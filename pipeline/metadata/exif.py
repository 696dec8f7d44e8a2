"""EXIF fields from exifread's tag dictionary: pure conversion, every oddity a problem string.

exifread does the TIFF/IFD walking; here we turn its raw values into numbers we trust. Real drone files carry
rationals with zero denominators, numerators of 2^31-1 or 2^32-1 (an "unset" marker), missing hemisphere
references and GPS fixes of exactly (0, 0); none of that may stop a flight.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEG_LIMITS = {"lat": 90.0, "lon": 180.0}
_REF_SIGN = {"N": 1.0, "S": -1.0, "E": 1.0, "W": -1.0}
_REF_VALID = {"lat": ("N", "S"), "lon": ("E", "W")}
_DEFAULT_REF = {"lat": "N", "lon": "E"}


@dataclass(frozen=True)
class ExifFields:
    make: str | None = None
    model: str | None = None
    captured_at: str | None = None
    lat: float | None = None
    lon: float | None = None
    lat_ref_missing: bool = False  # the value's sign was assumed; a signed XMP value should win
    lon_ref_missing: bool = False
    alt_m: float | None = None
    focal_mm: float | None = None
    focal_35mm: float | None = None
    focal_plane_px_per_mm: float | None = None  # FocalPlaneXResolution, for the image width EXIF states
    width: int | None = None
    height: int | None = None
    problems: tuple[str, ...] = ()


def read_tags(data: bytes) -> Mapping[str, Any]:
    """Raw exifread tags of an in-memory file (maker notes and thumbnail skipped: we use neither)."""
    import exifread

    tags: Mapping[str, Any] = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    return tags


def _values(tags: Mapping[str, Any], key: str) -> Any:
    tag = tags.get(key)
    return None if tag is None else getattr(tag, "values", tag)


def _text(tags: Mapping[str, Any], key: str) -> str | None:
    value = _values(tags, key)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, list):  # some writers store ASCII as BYTE arrays
        try:
            value = bytes(int(v) for v in value).decode("ascii", "replace")
        except (TypeError, ValueError):
            return None
    text = str(value).replace("\x00", "").strip()
    return text or None


def rational(value: Any) -> float | None:
    """A float from an exifread Ratio / int; None for x/0 (exifread keeps those unreduced)."""
    num = getattr(value, "numerator", value)
    den = getattr(value, "denominator", 1)
    try:
        num_f, den_f = float(num), float(den)
    except (TypeError, ValueError):
        return None
    if den_f == 0.0 or not math.isfinite(num_f):
        return None
    return num_f / den_f


def _first_number(tags: Mapping[str, Any], key: str) -> float | None:
    value = _values(tags, key)
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else rational(value)


def dms_to_degrees(values: Sequence[Any], axis: str) -> tuple[float | None, str | None]:
    """Degrees from a degree/minute/second rational triple (fewer parts allowed); (None, reason) if bad."""
    name = "GPSLatitude" if axis == "lat" else "GPSLongitude"
    if not values:
        return None, f"EXIF {name} is empty"
    parts: list[float] = []
    for raw in list(values)[:3]:
        number = rational(raw)
        if number is None:
            return None, f"EXIF {name} has a zero denominator"
        parts.append(number)
    parts += [0.0] * (3 - len(parts))
    deg, minutes, seconds = parts
    if not (0.0 <= deg <= DEG_LIMITS[axis]) or not (0.0 <= minutes < 60.0) or not (0.0 <= seconds < 60.0):
        return None, f"EXIF {name} out of range ({deg:g} {minutes:g} {seconds:g})"
    degrees = deg + minutes / 60.0 + seconds / 3600.0
    if degrees > DEG_LIMITS[axis]:
        return None, f"EXIF {name} out of range ({degrees:g})"
    return degrees, None


def _gps_axis(tags: Mapping[str, Any], axis: str) -> tuple[float | None, bool, list[str]]:
    name = "GPSLatitude" if axis == "lat" else "GPSLongitude"
    values = _values(tags, f"GPS {name}")
    if values is None:
        return None, False, []
    degrees, problem = dms_to_degrees(values if isinstance(values, list) else [values], axis)
    if degrees is None:
        return None, False, [problem] if problem else []
    ref = (_text(tags, f"GPS {name}Ref") or "").upper()[:1]
    if ref not in _REF_VALID[axis]:
        assumed = _DEFAULT_REF[axis]
        return degrees, True, [f"EXIF {name}Ref missing or invalid; assumed {assumed}"]
    return _REF_SIGN[ref] * degrees, False, []


def _altitude(tags: Mapping[str, Any]) -> tuple[float | None, list[str]]:
    if tags.get("GPS GPSAltitude") is None:
        return None, []
    alt = _first_number(tags, "GPS GPSAltitude")
    if alt is None:
        return None, ["EXIF GPSAltitude has a zero denominator"]
    if abs(alt) > 100_000.0:  # an "unset" numerator such as 2^31-1
        return None, [f"EXIF GPSAltitude out of range ({alt:g})"]
    ref_raw = _values(tags, "GPS GPSAltitudeRef")
    if isinstance(ref_raw, list):
        ref_raw = ref_raw[0] if ref_raw else 0
    if isinstance(ref_raw, bytes):
        ref_raw = ref_raw[0] if ref_raw else 0
    try:
        ref = int(ref_raw or 0)
    except (TypeError, ValueError):
        ref = 0
    # EXIF: 1 = below sea level, the magnitude stored positive.
    return (-alt if ref == 1 else alt), []


def _timestamp(tags: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    for key, offset_key, subsec_key in (
        ("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal", "EXIF SubSecTimeOriginal"),
        ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized", "EXIF SubSecTimeDigitized"),
        ("Image DateTime", "EXIF OffsetTime", "EXIF SubSecTime"),
    ):
        raw = _text(tags, key)
        if raw is None:
            continue
        iso = exif_datetime_to_iso(raw, _text(tags, subsec_key), _text(tags, offset_key))
        if iso is None:
            return None, [f"EXIF {key.split()[-1]} unreadable ({raw!r})"]
        return iso, []
    return None, []


def exif_datetime_to_iso(raw: str, subsec: str | None = None, offset: str | None = None) -> str | None:
    """'2016:06:23 16:31:59' (+ '123', '+08:00') -> '2016-06-23T16:31:59.123+08:00'; None if not a date."""
    from datetime import datetime

    text = raw.strip()
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        try:
            moment = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    iso = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if subsec and subsec.strip().isdigit():
        iso += "." + subsec.strip()
    if offset:
        off = offset.strip()
        if len(off) == 6 and off[0] in "+-" and off[3] == ":" and (off[1:3] + off[4:]).isdigit():
            iso += off
    return iso


# FocalPlaneResolutionUnit: 2 inch (the EXIF default where the tag is absent), 3 cm, and 4 mm / 5 um as
# some writers use; 1 ("no unit") gives no size at all.
_MM_PER_UNIT = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}


def _focal_plane_px_per_mm(tags: Mapping[str, Any]) -> float | None:
    """Image pixels per millimetre of sensor across its width (what compact cameras write instead of a
    35 mm equivalent); None where absent, zero or in no unit."""
    per_unit = _first_number(tags, "EXIF FocalPlaneXResolution")
    unit = _first_number(tags, "EXIF FocalPlaneResolutionUnit")
    mm = _MM_PER_UNIT.get(2 if unit is None else int(unit))
    if per_unit is None or mm is None or not per_unit > 0.0:
        return None
    return per_unit / mm


def exif_fields(tags: Mapping[str, Any]) -> ExifFields:
    """Convert exifread tags to fields. Pure; never raises on odd values."""
    if not tags:
        return ExifFields(problems=("no EXIF",))
    problems: list[str] = []
    lat, lat_missing, p = _gps_axis(tags, "lat")
    problems += p
    lon, lon_missing, p = _gps_axis(tags, "lon")
    problems += p
    alt, p = _altitude(tags)
    problems += p
    captured_at, p = _timestamp(tags)
    problems += p
    focal = _first_number(tags, "EXIF FocalLength")
    if tags.get("EXIF FocalLength") is not None and (focal is None or not 0.0 < focal < 2000.0):
        problems.append("EXIF FocalLength invalid")
        focal = None
    focal35 = _first_number(tags, "EXIF FocalLengthIn35mmFilm")
    if focal35 is not None and not 0.0 < focal35 < 5000.0:
        focal35 = None  # 0 means "unknown" in EXIF
    width = _first_number(tags, "EXIF ExifImageWidth")
    height = _first_number(tags, "EXIF ExifImageLength")
    return ExifFields(
        make=_text(tags, "Image Make"),
        model=_text(tags, "Image Model"),
        captured_at=captured_at,
        lat=lat,
        lon=lon,
        lat_ref_missing=lat_missing,
        lon_ref_missing=lon_missing,
        alt_m=alt,
        focal_mm=focal,
        focal_35mm=focal35,
        focal_plane_px_per_mm=_focal_plane_px_per_mm(tags),
        width=int(width) if width and width > 0 else None,
        height=int(height) if height and height > 0 else None,
        problems=tuple(problems),
    )
