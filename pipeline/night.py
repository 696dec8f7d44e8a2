"""When the nightly run's night started, in the bureau's zone (its summary: pipeline.run_summary)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def night_started_at(zone: str, now: datetime | None = None) -> str:
    """`now` (default: the current time) as the bureau's wall-clock time with its offset, whatever zone
    the machine running the night is set to: "2026-12-02 02:00:03 +0800"."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %z")
