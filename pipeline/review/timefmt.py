"""Times as the bureau reads them: in its zone (Settings.local_tz, Asia/Shanghai by default), labelled."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def _parse(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def local_text(value: datetime | str | None, tz: str, *, seconds: bool = False) -> str:
    """`2026-10-05 09:11` in zone `tz`; empty for no time."""
    dt = _parse(value)
    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_iso(value: datetime | str | None, tz: str) -> str:
    """The full ISO time with the zone's offset (for a `<time datetime>` attribute and scripts)."""
    dt = _parse(value)
    return "" if dt is None else dt.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def zone_label(tz: str, lang: str, at: datetime | None = None) -> str:
    """What the shown times are: 北京时间 (UTC+8) for Asia/Shanghai, else the zone's name and offset."""
    offset = (at or datetime.now(UTC)).astimezone(ZoneInfo(tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
    if tz in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
        return f"北京时间 {utc}" if lang != "en" else f"Beijing time, {utc}"
    return f"{tz} {utc}"
