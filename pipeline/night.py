"""The nightly run's summary: when the night started, in the bureau's zone, and the text the run shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


def night_started_at(zone: str, now: datetime | None = None) -> str:
    """`now` (default: the current time) as the bureau's wall-clock time with its offset, whatever zone
    the machine running the night is set to: "2026-12-02 02:00:03 +0800"."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %z")


def night_text(night: dict[str, Any]) -> str:
    lines = [
        f"night of {night['started_at']}: {night['flights_processed']} flight(s) processed "
        f"({night['flights_failed']} incomplete), {night['flights_done_before']} done on earlier nights, "
        f"{night['flights_waiting']} waiting for their upload, "
        f"{night['flights_changed']} changed since upload",
        f"{night['frames']} frames ({night['frames_failed']} failed"
        + (f", {night['frames_pending']} left for the next run" if night.get("frames_pending") else "")
        + f"), {night['detections']} detections, "
        f"{night['cases_new']} new cases, {night['cases_updated']} updated, {night['seconds']} s",
    ]
    lines += [f"  left for later: {f['folder']}: {f['reason']}" for f in night["left"]]
    lines += [f"  problem: {e}" for e in night["errors"][:50]]
    return "\n".join(lines)
