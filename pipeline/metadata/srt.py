"""DJI video telemetry (.SRT): every layout we know, junk tolerated, one entry per subtitle block.

Layouts (real samples in tests/data/real/):
- bracket (newer): `[latitude: 22.98] [longitude: 113.7] [rel_alt: 50.0 abs_alt: 120.0]`, also
  `[altitude: ..]`, `[longtitude: ..]` (real misspelling), `[gb_yaw: .. gb_pitch: .. gb_roll: ..]`,
  `[focal_len: 240]`, `[fnum: 280]`, `[iso : 100]`, `[dzoom_ratio: ..]`, wrapped in `<font>` tags.
- old: `GPS(lon,lat,satellites) BAROMETER:h` (the third GPS number is a satellite count, not altitude;
  BAROMETER is height above take-off).
- P4 RTK style: `GPS (lon, lat, n), HOME (lon, lat, alt m), D 698.70m, H 85.80m, F.PRY (p°, r°, y°),
  G.PRY (pitch°, roll°, yaw°)`; H is height above take-off, F.PRY the airframe, G.PRY the gimbal.

Choices (documented because the files do not say):
- Coordinate order of unnamed pairs (`GPS(a, b, n)`) is decided once per file, by the first rule that
  speaks: (1) some |a| > 90: a is longitude; (2) some |b| > 90: the file is latitude-first; (3) the layout:
  a third number with a metre suffix (`GPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M`, Matrice 200/300 series
  firmware) is an altitude, and that layout writes latitude first, while a bare whole third number is the
  satellite count of the Mavic/Phantom layout, which writes longitude first; the majority of the file's
  blocks decides; (4) otherwise DJI's documented order (longitude first).
- Blocks are put in time order (files spliced or rewritten by tools arrive shuffled); a time that is not a
  time (minutes or seconds over 59, `99:99:99`) or a block that ends before it starts makes the file
  unreadable, with the block named: its times, and so every frame's pose, cannot be trusted.
- `[altitude: x]` carries no datum: it is reported as `abs_alt_m` (above sea level), never as height above
  take-off, so that georeferencing never mistakes it for height above the ground.
- `focal_len` is DJI's 35 mm-equivalent focal length (24.00 on a Mavic 3 / Mini 3 Pro, whose lenses are
  24 mm equivalent); firmware that writes it x10 as an integer (`240`) is detected by "no decimal point and
  >= 100" and divided by 10. `fnum` written x100 (`280`) is detected by ">= 50" (no drone lens is f/50).
- An entry whose position is exactly (0, 0) has no fix: lat/lon None.
- A value written as `nan` or `inf`, or out of range (a latitude over 90, an angle over 360), is no value:
  None, and named in the entry's `unreadable` so that no default stands in for it downstream (a gimbal
  pitch that cannot be read is not "nadir": pipeline.geo.pose_from_meta).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import TelemetryError
from pipeline.metadata.xmp import plausible
from pipeline.types import Attitude, SrtEntry

_NUM = r"[-+]?\d+(?:\.\d+)?"
_TIME = re.compile(
    r"(\d{1,2}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d{1,2}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
)
_TAG = re.compile(r"<[^>]*>")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
# key: value pairs inside a bracket. A key with an empty value ("[Drone: Yaw:-1.0, ...]") names a group.
_PAIR = re.compile(r"([A-Za-z_][\w.]*)\s*:\s*([^\s\],:]*+)(?!\s*:)")
_GPS = re.compile(rf"\bGPS\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*(?:,\s*({_NUM})\s*([mM])?\s*)?\)")
_HOME = re.compile(rf"\bHOME\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*(?:,\s*({_NUM})\s*m?\s*)?\)")
_BARO = re.compile(rf"\bBAROMETER\s*:\s*({_NUM})")
_HEIGHT = re.compile(rf"(?<![\w.])H\s+({_NUM})\s*m\b")
_DIST = re.compile(rf"(?<![\w.])D\s+({_NUM})\s*m\b")
_PRY = re.compile(rf"\b([FG])\.PRY\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\)")
_DATETIME = re.compile(r"\b(\d{4})[.\-/](\d{2})[.\-/](\d{2})\s+(\d{2}):(\d{2}):(\d{2})(?:[,.](\d{1,3}))?")
_OLD_SETTINGS = re.compile(r"\b(ISO|Shutter|EV|Fnum|SS|F)\s*[:/ ]\s*([-+]?[\d.]+(?:/[\d.]+)?)")

_LAT_KEYS = {"latitude", "lat"}
_LON_KEYS = {"longitude", "longtitude", "lon", "lng", "long"}


@dataclass(frozen=True)
class _Block:
    index: int
    start_ms: int
    end_ms: int
    body: str


def _ms(h: str, m: str, s: str, frac: str) -> int:
    """Milliseconds of an SRT time; ValueError for one that is not a time (minutes or seconds over 59)."""
    if int(m) > 59 or int(s) > 59:
        raise ValueError(f"{h}:{m}:{s},{frac} is not a time")
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(frac.ljust(3, "0"))


def _clean(text: str) -> str:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return _TAG.sub(" ", text).replace("°", "")


def split_blocks(text: str) -> list[_Block]:
    """Subtitle blocks found by their timestamp lines (robust to missing blank lines and junk), in file
    order. ValueError naming the block when its times are not times or it ends before it starts."""
    lines = _clean(text).split("\n")
    stamps = [i for i, line in enumerate(lines) if _TIME.search(line)]
    blocks: list[_Block] = []
    for n, i in enumerate(stamps):
        m = _TIME.search(lines[i])
        assert m is not None
        end = stamps[n + 1] if n + 1 < len(stamps) else len(lines)
        if n + 1 < len(stamps) and end - 1 > i and lines[end - 1].strip().isdigit():
            end -= 1  # the next block's index line
        prev = lines[i - 1].strip() if i > 0 else ""
        index = int(prev) if prev.isdigit() else len(blocks) + 1
        body = " ".join(line.strip() for line in lines[i + 1 : end] if line.strip())
        try:
            start_ms, end_ms = _ms(*m.group(1, 2, 3, 4)), _ms(*m.group(5, 6, 7, 8))
        except ValueError as err:
            raise ValueError(f"block {index} (line {i + 1}): {err}") from None
        if end_ms < start_ms:
            raise ValueError(f"block {index} (line {i + 1}) ends before it starts: {m.group(0)}")
        blocks.append(_Block(index, start_ms, end_ms, body))
    return blocks


def _float(text: str) -> float | None:
    try:
        return float(text.rstrip(",;"))
    except ValueError:
        return None


def _scaled(raw: str, divisor: float, threshold: float, need_integer: bool) -> float | None:
    value = _float(raw)
    if value is None:
        return None
    if value >= threshold and (not need_integer or "." not in raw):
        return value / divisor
    return value


def _bracket_entry(block: _Block) -> SrtEntry | None:
    pairs: list[tuple[str, str]] = []
    for inner in _BRACKET.findall(block.body):
        group = ""
        for key, value in _PAIR.findall(inner):
            key = key.lower()
            if value == "":
                group = key + "_"
                continue
            pairs.append((group + key if group and not key.startswith(group) else key, value.rstrip(",;")))
    keys = {k for k, _ in pairs}
    if not keys & (_LAT_KEYS | _LON_KEYS | {"rel_alt", "abs_alt", "altitude"}):
        return None
    out: dict[str, float | None] = {}
    extra: list[tuple[str, str]] = []
    names = {
        "rel_alt": "rel_alt_m",
        "abs_alt": "abs_alt_m",
        "altitude": "abs_alt_m",
        "gb_yaw": "gimbal_yaw_deg",
        "gb_pitch": "gimbal_pitch_deg",
        "gb_roll": "gimbal_roll_deg",
        "gimbal_yaw": "gimbal_yaw_deg",
        "gimbal_pitch": "gimbal_pitch_deg",
        "gimbal_roll": "gimbal_roll_deg",
        "drone_yaw": "flight_yaw_deg",
        "drone_pitch": "flight_pitch_deg",
        "drone_roll": "flight_roll_deg",
    }
    for key, raw in pairs:
        if key in _LAT_KEYS:
            out.setdefault("lat", _float(raw))
        elif key in _LON_KEYS:
            out.setdefault("lon", _float(raw))
        elif key in names:
            out.setdefault(names[key], _float(raw))
        elif key == "focal_len":
            out.setdefault("focal_35mm", _scaled(raw, 10.0, 100.0, need_integer=True))
        elif key == "fnum":
            fnum = _scaled(raw, 100.0, 50.0, need_integer=False)
            extra.append(("fnum", f"{fnum:g}" if fnum is not None else raw))
        else:
            extra.append((key, raw))
    dt = _DATETIME.search(block.body)
    if dt:
        extra.insert(0, ("datetime", _iso(dt)))
    return _entry(block, out, extra)


def _iso(m: re.Match[str]) -> str:
    y, mo, d, h, mi, s, frac = m.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}" + (f".{frac.ljust(3, '0')}" if frac else "")


def _entry(block: _Block, values: dict[str, float | None], extra: list[tuple[str, str]]) -> SrtEntry:
    sats = values.pop("satellites", None)
    # `nan`, `inf` and impossible values are no telemetry: never let them into a pose (module docstring).
    unreadable: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is not None and not (math.isfinite(value) and plausible(name, value)):
            unreadable.append((name, f"{value:g}" if math.isfinite(value) else str(value)))
            values[name] = None
    lat, lon = values.pop("lat", None), values.pop("lon", None)
    if (lat is None) != (lon is None):  # half a position is none
        lat = lon = None
    if lat == 0.0 and lon == 0.0:
        lat = lon = None
    return SrtEntry(
        index=block.index,
        start_ms=block.start_ms,
        end_ms=block.end_ms,
        lat=lat,
        lon=lon,
        satellites=int(sats) if sats is not None and math.isfinite(sats) else None,
        extra=tuple(extra),
        unreadable=tuple(unreadable),
        rel_alt_m=values.get("rel_alt_m"),
        abs_alt_m=values.get("abs_alt_m"),
        gimbal=Attitude.from_flat(values, "gimbal"),
        flight=Attitude.from_flat(values, "flight"),
        focal_35mm=values.get("focal_35mm"),
    )


def _legacy_entry(block: _Block, lon_first: bool) -> SrtEntry | None:
    body = block.body
    gps = _GPS.search(body)
    baro = _BARO.search(body)
    height = _HEIGHT.search(body)
    if not (gps or baro or height):
        return None
    values: dict[str, float | None] = {}
    extra: list[tuple[str, str]] = []
    dt = _DATETIME.search(body)
    if dt:
        extra.append(("datetime", _iso(dt)))
    if gps:
        a, b = float(gps.group(1)), float(gps.group(2))
        values["lon"], values["lat"] = (a, b) if lon_first else (b, a)
        third = gps.group(3)
        if third is not None and gps.group(4) is None and "." not in third and 0 <= int(third) <= 99:
            values["satellites"] = float(third)
        elif third is not None:
            extra.append(("gps_third", third))
    home = _HOME.search(body)
    if home:
        first, second = home.group(1), home.group(2)
        home_lon, home_lat = (first, second) if lon_first else (second, first)
        extra += [("home_lon", home_lon), ("home_lat", home_lat)]
        if home.group(3) is not None:
            extra.append(("home_alt_m", home.group(3)))
    if baro:
        values["rel_alt_m"] = float(baro.group(1))
    elif height:
        values["rel_alt_m"] = float(height.group(1))
    dist = _DIST.search(body)
    if dist:
        extra.append(("distance_m", dist.group(1)))
    for pry in _PRY.finditer(body):
        prefix = "flight" if pry.group(1) == "F" else "gimbal"
        values[f"{prefix}_pitch_deg"] = float(pry.group(2))
        values[f"{prefix}_roll_deg"] = float(pry.group(3))
        values[f"{prefix}_yaw_deg"] = float(pry.group(4))
    for key, raw in _OLD_SETTINGS.findall(body):
        name = {"F": "fnum", "SS": "shutter"}.get(key, key.lower())
        extra.append((name, raw))
    return _entry(block, values, extra)


def _lon_first(blocks: list[_Block]) -> bool:
    """Coordinate order of unnamed GPS(a, b, ...) pairs, decided once for the whole file (module
    docstring: magnitudes first, then the layout the third number reveals, then DJI's documented order)."""
    found = [m for b in blocks if (m := _GPS.search(b.body))]
    pairs = [(abs(float(m.group(1))), abs(float(m.group(2)))) for m in found]
    if any(a > 90.0 for a, _ in pairs):
        return True
    if any(b > 90.0 for _, b in pairs):
        return False
    metres = sum(1 for m in found if m.group(3) is not None and m.group(4) is not None)
    counts = sum(1 for m in found if m.group(3) is not None and m.group(4) is None and "." not in m.group(3))
    return not metres > counts


def parse_srt(text: str, source: str = "<srt>") -> list[SrtEntry]:
    """Entries of a DJI SRT text, in time order. Raises TelemetryError (naming `source`) when no entry is
    usable or a block's times are not times."""
    try:
        blocks = split_blocks(text)
    except ValueError as err:
        raise TelemetryError(f"bad subtitle time: {err}", source) from None
    blocks.sort(key=lambda b: (b.start_ms, b.end_ms))  # stable: equal times keep the file's order
    lon_first = _lon_first(blocks)
    entries: list[SrtEntry] = []
    for block in blocks:
        entry = _bracket_entry(block) if "[" in block.body else None
        if entry is None:
            entry = _legacy_entry(block, lon_first)
        if entry is not None and (entry.lat, entry.rel_alt_m, entry.abs_alt_m) != (None, None, None):
            entries.append(entry)
    if not entries:
        reason = "no telemetry entry found" if blocks else "no subtitle blocks found"
        raise TelemetryError(f"not a DJI telemetry file: {reason}", source)
    return entries


def decode_srt(data: bytes) -> str:
    """Text of an SRT file: UTF-8 (BOM or not), UTF-16 by BOM; undecodable bytes replaced."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


def read_srt(path: str | Path) -> list[SrtEntry]:
    """Entries of a DJI .SRT file; TelemetryError (naming the file) when it is unreadable or has none."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TelemetryError(f"cannot read: {exc.strerror or exc}", str(p)) from exc
    if not data:
        raise TelemetryError("empty file (0 bytes)", str(p))
    return parse_srt(decode_srt(data), source=str(p))
