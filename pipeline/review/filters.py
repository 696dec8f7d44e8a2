"""Query-string filters of the queue (and the API's case list) into a QueueFilter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from pipeline.cases.lifecycle import IN_REVIEW, STATES
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
    *,
    claimed_by: str | None = None,
    evidence: str | None = None,
) -> QueueFilter:
    chosen: tuple[str, ...]
    if claimed_by:
        chosen = (IN_REVIEW,)  # "我的": what this reviewer holds now
    elif not statuses or statuses == ["open"]:
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
        claimed_by=claimed_by or None,
        # What a reviewer holds is theirs whatever its evidence.
        evidence="all" if claimed_by else (evidence or "strong"),
    )
    f.check()
    return f


# The query-string keys that make a view of the queue, in the order links carry them.
VIEW_KEYS = ("status", "class", "flight", "since", "until", "sort", "evidence", "mine")
_MAX_LEN = {
    "status": 16, "class": 64, "flight": 128, "since": 10, "until": 10, "sort": 16, "evidence": 8, "mine": 1,
}  # fmt: skip


@dataclass(frozen=True)
class QueueView:
    """A view of the queue as the reviewer sees it: the filter, and the query string that names it (carried
    from the queue to each case page and through each verdict, so that "next" means next in this view)."""

    filter: QueueFilter
    query: str  # canonical, without the page: "status=open&class=garbage_pile"
    values: dict[str, str]

    @property
    def mine(self) -> bool:
        return self.values.get("mine") == "1"

    def suffix(self) -> str:
        return f"?{self.query}" if self.query else ""


def queue_view(params: Mapping[str, str] | Sequence[tuple[str, str]], tz: str, viewer: str) -> QueueView:
    """A QueueView from request parameters; CaseError on a bad value."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    statuses = [v for k, v in pairs if k == "status"]
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in _MAX_LEN and key != "status":
            if len(value) > _MAX_LEN[key]:
                raise CaseError(f"{key}: too long")
            values[key] = value
    for s in statuses:
        if len(s) > _MAX_LEN["status"]:
            raise CaseError("status: too long")
    page_text = next((v for k, v in pairs if k == "page"), "0")
    page = int(page_text) if page_text.isdigit() and len(page_text) < 7 else 0
    mine = values.get("mine") == "1"
    f = queue_filter(
        statuses,
        values.get("class"),
        values.get("flight"),
        values.get("since"),
        values.get("until"),
        values.get("sort"),
        page,
        tz,
        claimed_by=viewer if mine else None,
        evidence=values.get("evidence"),
    )
    keep: list[tuple[str, str]] = []
    if not mine:
        keep += [("status", s) for s in statuses if s and s != "open"]
    keep += [
        (k, values[k])
        for k in VIEW_KEYS[1:]
        if values.get(k)
        and not (k == "sort" and values[k] == "priority")
        and not (k == "evidence" and values[k] == "strong")
    ]
    if mine:
        keep = [(k, v) for k, v in keep if k != "mine"] + [("mine", "1")]
    return QueueView(f, urlencode(keep), {**values, "status": status_param(f)})


def status_param(f: QueueFilter) -> str:
    """The status filter's value for links: open, all, or the one state."""
    if f.statuses == OPEN:
        return "open"
    if not f.statuses or set(f.statuses) == set(STATES):
        return "all"
    return f.statuses[0]
