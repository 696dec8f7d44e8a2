"""Query-string filters of the queue (and the API's case list) into a QueueFilter."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pipeline.cases.lifecycle import STATES
from pipeline.errors import CaseError
from pipeline.review.queries import OPEN, QueueFilter


def _day(text: str | None, tz: str) -> datetime | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError as err:
        raise CaseError(f"not a date (YYYY-MM-DD): {text!r}") from err
    # A day is the squad's local day, not UTC's.
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))


def queue_filter(
    statuses: list[str],
    class_name: str | None,
    flight: str | None,
    since: str | None,
    until: str | None,
    sort: str | None,
    page: int,
    tz: str,
) -> QueueFilter:
    chosen: tuple[str, ...]
    if not statuses or statuses == ["open"]:
        chosen = OPEN
    elif statuses == ["all"]:
        chosen = ()
    else:
        chosen = tuple(s for s in statuses if s)
    f = QueueFilter(
        statuses=chosen,
        class_name=class_name or None,
        flight_id=flight or None,
        since=_day(since, tz),
        until=_day(until, tz),
        sort=sort or "priority",
        page=max(0, page),
    )
    f.check()
    return f


def status_param(f: QueueFilter) -> str:
    """The status filter's value for links: open, all, or the one state."""
    if f.statuses == OPEN:
        return "open"
    if not f.statuses or set(f.statuses) == set(STATES):
        return "all"
    return f.statuses[0]
