"""Drone pose from XMP packets: DJI first, then other vendors' namespaces; never a crash.

The packet is parsed by defusedxml with DTDs forbidden, so an entity-expansion bomb is refused before any
expansion. XMP allows the same property as an attribute of `rdf:Description` or as a child element (and a
struct as nested elements or attributes); we flatten all of these into one `(namespace, path) -> text` map
and read vendors' tags from it by local name, case-insensitively (DJI's own spelling drifts between models).

Vendor facts used (checked against vendors' docs and readers of real files):
- DJI `http://www.dji.com/drone-dji/1.0/`: GpsLatitude, GpsLongitude / GpsLongtitude (real misspelling),
  AbsoluteAltitude, RelativeAltitude, Gimbal{Yaw,Pitch,Roll}Degree, Flight{Yaw,Pitch,Roll}Degree,
  CalibratedFocalLength, CalibratedOpticalCenterX/Y, RtkFlag (50 fixed, 34 float, 16 single point, 0 none)
  and RtkStdLat/Lon/Hgt (the solution's standard deviations, metres); values are signed strings such as
  "+40.10".
  Newer Autel firmware writes the same tag names (under DJI's or its own namespace): read by local name.
- Skydio `https://www.skydio.com/drone-skydio/1.0/`: Latitude, Longitude, AbsoluteAltitude and the struct
  CameraOrientationNED {Yaw, Pitch, Roll} (NED Euler angles: pitch negative below the horizon, as DJI).
- Parrot `http://www.parrot.com/drone-parrot/1.0/`: Camera{Yaw,Pitch,Roll}Degree (gimbal) and
  Drone{Yaw,Pitch,Roll}Degree (airframe); position lives in EXIF.
- Pix4D `http://pix4d.com/camera/1.0/` (older Autel, senseFly, some Parrot exports): Yaw, Pitch, Roll with
  (0, 0, 0) = looking straight down, image top to the north; so DJI pitch = Pix4D pitch - 90.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from pipeline.types import ATTITUDE_PARTS, Attitude, flat_fields

DJI_NS = "http://www.dji.com/drone-dji/1.0/"
SKYDIO_NS = "https://www.skydio.com/drone-skydio/1.0/"
PARROT_NS = "http://www.parrot.com/drone-parrot/1.0/"
PIX4D_NS = "http://pix4d.com/camera/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
META_NS = "adobe:ns:meta/"
TIFF_NS = "http://ns.adobe.com/tiff/1.0/"

MAX_PACKET_BYTES = 4 * 1024 * 1024  # real packets are a few kB; refuse to parse megabytes of "XMP"

Flat = dict[tuple[str, str], str]


@dataclass(frozen=True)
class XmpFields:
    lat: float | None = None
    lon: float | None = None
    abs_alt_m: float | None = None
    rel_alt_m: float | None = None
    gimbal: Attitude = field(default_factory=Attitude)
    flight: Attitude = field(default_factory=Attitude)
    calibrated_focal_px: float | None = None
    calibrated_cx_px: float | None = None
    calibrated_cy_px: float | None = None
    rtk_flag: float | None = None
    rtk_std_lat_m: float | None = None
    rtk_std_lon_m: float | None = None
    rtk_std_hgt_m: float | None = None
    make: str | None = None
    model: str | None = None
    problems: tuple[str, ...] = ()
    unreadable: tuple[tuple[str, str], ...] = ()  # (field, what was there): see ImageMeta.unreadable


@dataclass(frozen=True)
class Unreadable:
    """A property that is present but holds no usable number (`nan`, `inf`, junk, `1/0`): kept apart from
    an absent one, because a default may stand in for an absent value and never for this."""

    text: str


Value = float | Unreadable | None


def read_value(text: str | None) -> Value:
    """parse_number, except that a non-empty text that is no finite number is Unreadable, not None."""
    if text is None or not text.strip():
        return None
    value = parse_number(text)
    return Unreadable(text.strip()[:40]) if value is None else value


def parse_number(text: str | None) -> float | None:
    """'+40.10' -> 40.1, '4971569/65536' -> 75.86..., junk / NaN / x/0 -> None."""
    if text is None:
        return None
    s = text.strip().replace("\u2212", "-")  # a typographic minus occurs in hand-edited packets
    if not s:
        return None
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            d = float(den)
            value = float(num) / d if d != 0.0 else math.nan
        else:
            value = float(s)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


MAX_DEPTH = 64  # real packets nest 5-8 deep; a hostile one nests 100 000 deep to exhaust the stack


def flatten_xmp(root: Element) -> Flat:
    """Every property as `(namespace, path) -> text`, the first value of a path kept. Walked with a stack of
    its own, not by recursion (a deep packet once raised RecursionError and stopped the files after it);
    elements deeper than MAX_DEPTH are left out, and flatten_xmp_checked says so."""
    return flatten_xmp_checked(root)[0]


def flatten_xmp_checked(root: Element) -> tuple[Flat, bool]:
    """(properties, whether some were left out for nesting deeper than MAX_DEPTH)."""
    out: Flat = {}
    too_deep = False

    def visit(elem: Element, prefix: str) -> None:
        for attr, value in elem.attrib.items():
            ns, local = _split(attr)
            if ns not in (RDF_NS, META_NS):
                out.setdefault((ns, prefix + local), value)

    # Depth-first in document order, as a recursion would go: the first of two equal paths wins.
    visit(root, "")
    stack: list[tuple[Iterator[Element], str]] = [(iter(root), "")]
    while stack:
        children, prefix = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        ns, local = _split(child.tag)
        if ns in (RDF_NS, META_NS):  # Description, Seq/Bag/Alt, li: structure, not properties
            inner = prefix
        else:
            text = (child.text or "").strip()
            if text:
                out.setdefault((ns, prefix + local), text)
            if not (len(child) or child.attrib):
                continue
            inner = prefix + local + "/"
        if len(stack) >= MAX_DEPTH:
            too_deep = True
            continue
        visit(child, inner)
        stack.append((iter(child), inner))
    return out, too_deep


# Recovery from packets that are not well-formed XML (exiftool reads these too; damaged thermal packets from
# DJI's Zenmuse XT series are one source): properties as `prefix:Name="value"` (either quote) or
# `<prefix:Name ...>value</prefix:Name >`, their namespace from the packet's own `xmlns:` declarations (DJI's
# for an undeclared `drone-dji:`). No entity is expanded: only XML's five predefined ones and numeric
# character references are decoded, as any XML reader would.
_DECLARED = re.compile(r"""xmlns:([\w.-]+)\s*=\s*(["'])(.*?)\2""", re.DOTALL)
_PATTERN_ATTR = re.compile(r"""(?<![\w.:-])([A-Za-z][\w.-]*):(\w+)\s*=\s*(["'])(.*?)\3""", re.DOTALL)
_PATTERN_ELEM = re.compile(r"<([A-Za-z][\w.-]*):(\w+)(?:\s[^<>]*)?>([^<]*)</\1:\2\s*>")
_CHAR_REF = re.compile(r"&(?:#(\d{1,7})|#x([0-9A-Fa-f]{1,6})|(amp|lt|gt|quot|apos));")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_KNOWN_PREFIXES = {"drone-dji": DJI_NS, "tiff": TIFF_NS, "drone-skydio": SKYDIO_NS, "drone-parrot": PARROT_NS}
_STRUCTURE_PREFIXES = {"xmlns", "rdf", "x", "xml"}


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        dec, hexa, name = m.groups()
        if name:
            return _PREDEFINED[name]
        code = int(dec) if dec else int(hexa, 16)
        return chr(code) if 0 < code <= 0x10FFFF else m.group(0)

    return _CHAR_REF.sub(one, text)


def _packet_text(packet: bytes) -> str:
    if packet.startswith((b"\xff\xfe", b"\xfe\xff")) or packet[1:2] == b"\x00" or packet[:1] == b"\x00":
        return packet.decode("utf-16-be" if packet[:1] == b"\x00" else "utf-16", "replace")
    return packet.decode("utf-8", "replace")


def _flatten_by_pattern(packet: bytes) -> Flat:
    """Last resort for packets that are not well-formed XML: prefixed properties by pattern (above)."""
    text = _packet_text(packet)
    declared = {prefix: uri for prefix, _, uri in _DECLARED.findall(text)}

    def namespace(prefix: str) -> str:
        return declared.get(prefix) or _KNOWN_PREFIXES.get(prefix, "")

    out: Flat = {}
    for prefix, name, _, value in _PATTERN_ATTR.findall(text):
        if prefix not in _STRUCTURE_PREFIXES:
            out.setdefault((namespace(prefix), name), _unescape(value).strip())
    for prefix, name, value in _PATTERN_ELEM.findall(text):
        if prefix not in _STRUCTURE_PREFIXES and value.strip():
            out.setdefault((namespace(prefix), name), _unescape(value).strip())
    return out


def _lookup(flat: Flat, namespaces: Iterable[str] | None, *names: str) -> str | None:
    """The first value whose local path matches one of `names` (case-insensitive) in the namespaces."""
    wanted = [n.lower() for n in names]
    ns_list = list(namespaces) if namespaces is not None else None
    for name in wanted:
        if ns_list is None:
            hits = [v for (_ns, p), v in flat.items() if p.lower() == name]
            if hits:
                return hits[0]
            continue
        for ns in ns_list:
            for (n, p), v in flat.items():
                if n == ns and p.lower() == name:
                    return v
    return None


def _vendor_dji(flat: Flat, namespaces: Iterable[str] | None) -> dict[str, Value]:
    ns = list(namespaces) if namespaces is not None else None

    def num(*names: str) -> Value:
        return read_value(_lookup(flat, ns, *names))

    return {
        "lat": num("GpsLatitude", "GPSLatitude", "Latitude"),
        "lon": num("GpsLongitude", "GpsLongtitude", "GPSLongitude", "Longitude"),
        "abs_alt_m": num("AbsoluteAltitude"),
        "rel_alt_m": num("RelativeAltitude"),
        "gimbal_yaw_deg": num("GimbalYawDegree"),
        "gimbal_pitch_deg": num("GimbalPitchDegree"),
        "gimbal_roll_deg": num("GimbalRollDegree"),
        "flight_yaw_deg": num("FlightYawDegree"),
        "flight_pitch_deg": num("FlightPitchDegree"),
        "flight_roll_deg": num("FlightRollDegree"),
        "calibrated_focal_px": num("CalibratedFocalLength"),
        "calibrated_cx_px": num("CalibratedOpticalCenterX"),
        "calibrated_cy_px": num("CalibratedOpticalCenterY"),
        # RTK-equipped models (M3E, M30T, P4 RTK): solution state and its accuracy, metres
        "rtk_flag": num("RtkFlag"),
        "rtk_std_lat_m": num("RtkStdLat"),
        "rtk_std_lon_m": num("RtkStdLon"),
        "rtk_std_hgt_m": num("RtkStdHgt"),
    }


def _vendor_skydio(flat: Flat) -> dict[str, Value]:
    def num(*names: str) -> Value:
        return read_value(_lookup(flat, [SKYDIO_NS], *names))

    return {
        "lat": num("Latitude"),
        "lon": num("Longitude"),
        "abs_alt_m": num("AbsoluteAltitude"),
        "rel_alt_m": num("RelativeAltitude"),
        "gimbal_yaw_deg": num("CameraOrientationNED/Yaw"),
        "gimbal_pitch_deg": num("CameraOrientationNED/Pitch"),
        "gimbal_roll_deg": num("CameraOrientationNED/Roll"),
    }


def _vendor_parrot(flat: Flat) -> dict[str, Value]:
    def num(*names: str) -> Value:
        return read_value(_lookup(flat, [PARROT_NS], *names))

    return {
        "gimbal_yaw_deg": num("CameraYawDegree"),
        "gimbal_pitch_deg": num("CameraPitchDegree"),
        "gimbal_roll_deg": num("CameraRollDegree"),
        "flight_yaw_deg": num("DroneYawDegree"),
        "flight_pitch_deg": num("DronePitchDegree"),
        "flight_roll_deg": num("DroneRollDegree"),
    }


def _vendor_pix4d(flat: Flat) -> dict[str, Value]:
    namespaces = [PIX4D_NS, PIX4D_NS.rstrip("/")]
    pitch = read_value(_lookup(flat, namespaces, "Pitch"))
    return {
        "gimbal_yaw_deg": read_value(_lookup(flat, namespaces, "Yaw")),
        "gimbal_pitch_deg": pitch - 90.0 if isinstance(pitch, float) else pitch,
        "gimbal_roll_deg": read_value(_lookup(flat, namespaces, "Roll")),
    }


_LIMITS: Mapping[str, float] = {"lat": 90.0, "lon": 180.0}
_ANGLE_LIMIT = 360.0
_ALT_LIMIT = 100_000.0


def plausible(name: str, value: float) -> bool:
    """Whether a value of the field named `name` (XmpFields / ImageMeta / SrtEntry names) can be real."""
    if name in _LIMITS:
        return abs(value) <= _LIMITS[name]
    if name.endswith("_deg"):
        return abs(value) <= _ANGLE_LIMIT
    if name.endswith("_alt_m"):
        return abs(value) <= _ALT_LIMIT
    if name.startswith("rtk_"):
        return 0.0 <= value <= _ALT_LIMIT  # flag 0 (no solution) is a real value
    return value > 0.0  # calibrated focal length and optical centre


def xmp_fields_from_flat(flat: Flat) -> XmpFields:
    """Merge vendors field by field: DJI's namespace first, then Skydio, Parrot, DJI-style names elsewhere
    (newer Autel), Pix4D's Camera namespace last."""
    sources: list[Callable[[], dict[str, Value]]] = [
        lambda: _vendor_dji(flat, [DJI_NS]),
        lambda: _vendor_skydio(flat),
        lambda: _vendor_parrot(flat),
        lambda: _vendor_dji(flat, None),
        lambda: _vendor_pix4d(flat),
    ]
    merged: dict[str, Any] = {}
    problems: list[str] = []
    unreadable: dict[str, str] = {}
    for source in sources:
        for name, value in source().items():
            if value is None or merged.get(name) is not None:
                continue
            if isinstance(value, Unreadable):
                what = repr(value.text)
                problems.append(f"XMP {name} unreadable ({what}): not a number")
            elif not plausible(name, value):
                what = f"out of range ({value:g})"
                problems.append(f"XMP {name} {what}")
            else:
                merged[name] = value
                continue
            unreadable.setdefault(name, what)
    merged["make"] = _lookup(flat, [TIFF_NS], "Make")
    merged["model"] = _lookup(flat, [TIFF_NS], "Model")
    known = {f.name for f in fields(XmpFields)} - set(ATTITUDE_PARTS)
    return XmpFields(
        **{k: v for k, v in merged.items() if k in known},
        gimbal=Attitude.from_flat(merged, "gimbal"),
        flight=Attitude.from_flat(merged, "flight"),
        problems=tuple(dict.fromkeys(problems)),
        unreadable=tuple((k, v) for k, v in unreadable.items() if merged.get(k) is None),
    )


def parse_xmp(packet: bytes) -> XmpFields:
    """Fields from one XMP packet. Bad packets give problems, never exceptions."""
    import defusedxml.ElementTree as safe_et
    from defusedxml import DefusedXmlException

    if len(packet) > MAX_PACKET_BYTES:
        return XmpFields(problems=(f"XMP packet too large ({len(packet)} bytes); ignored",))
    data = packet.strip(b"\x00 \t\r\n")
    try:
        root = safe_et.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        # A DTD or entity declaration in XMP is never legitimate: refuse it without guessing at the values.
        return XmpFields(problems=(f"XMP refused: {type(exc).__name__}",))
    except (ParseError, ValueError, UnicodeError) as exc:
        flat = _flatten_by_pattern(data)
        fields_ = xmp_fields_from_flat(flat)
        why = " ".join(str(exc).split())[:80]
        found = [name for name, value in flat_fields(fields_).items() if name != "problems" and value]
        note = f"XMP not well-formed ({why})" + (
            f"; recovered by pattern: {', '.join(found)}" if found else "; nothing recovered"
        )
        return XmpFields(**{**_as_kwargs(fields_), "problems": (note, *fields_.problems)})
    flat, too_deep = flatten_xmp_checked(root)
    fields_ = xmp_fields_from_flat(flat)
    if not too_deep:
        return fields_
    note = f"XMP nested deeper than {MAX_DEPTH} levels: the deeper part ignored"
    return XmpFields(**{**_as_kwargs(fields_), "problems": (note, *fields_.problems)})


def _as_kwargs(value: XmpFields) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(XmpFields)}
