"""What a run says about itself: each frame's outcome, each flight's summary, the run's and the night's.

Frozen records built by the flows (flows/ only orchestrates); their `as_dict` is the JSON `patrol process
--json` and `patrol nightly --json` print and the data a Prefect run carries (DESIGN.md's summary names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class FrameStatus(StrEnum):
    """A frame's outcome. DONE and FAILED are recorded (pipeline.cases.progress); ERROR never is."""

    DONE = "done"  # detected and recorded
    FAILED = "failed"  # its own fault (undecodable, no pixels): recorded as its final verdict
    ERROR = "error"  # not its fault (model, runtime, disk, database): no record, the next run does it again


@dataclass(frozen=True)
class FrameOutcome:
    """What one frame task returns."""

    name: str
    status: FrameStatus
    detections: int
    sightings: int
    error: str | None = None
    reused: bool = False  # read back from an earlier run, not detected now
    seconds: float = 0.0
    # Why a DONE frame's ground was not searched at all, or why what was found in it has no place on the map
    # (searched without a pose); None when it was (pipeline.process.why_not_searched, why_not_placed).
    not_searched: str | None = None
    not_placed: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FlightSummary:
    """One flight of a run: what happened to its frames and what its push did to the queue."""

    flight_id: str
    folder: str
    frames: int = 0
    frames_failed: int = 0
    frames_pending: int = 0  # without a record (not their fault): the next run does them
    frames_reused: int = 0
    detections: int = 0
    sightings_added: int = 0
    cases_new: int = 0
    cases_updated: int = 0
    not_seen: int = 0
    complete: bool = False  # pushed, every planned frame recorded
    errors: tuple[str, ...] = ()
    frames_not_searched: int = 0
    frames_not_placed: int = 0
    not_searched: tuple[str, ...] = ()  # one line per frame not searched, or searched and not placed

    def as_dict(self) -> dict[str, Any]:
        return _plain(self)


def _whys(outcomes: Sequence[FrameOutcome]) -> dict[str, Any]:
    """Frames not searched at all, or searched without a pose (nothing they show has a place on the map),
    and one line per such frame saying why: a frame with 0 detections is otherwise silent."""
    placed_not = [o for o in outcomes if o.not_placed and not o.not_searched]
    lines = [f"{o.name}: not searched: {o.not_searched}" for o in outcomes if o.not_searched]
    lines += [f"{o.name}: searched, not placed: {o.not_placed}" for o in placed_not]
    return {
        "frames_not_searched": sum(1 for o in outcomes if o.not_searched),
        "frames_not_placed": len(placed_not),
        "not_searched": tuple(lines),
    }


def _frames(outcomes: Sequence[FrameOutcome]) -> dict[str, Any]:
    return {
        "frames_failed": sum(1 for o in outcomes if o.status == FrameStatus.FAILED),
        "frames_reused": sum(1 for o in outcomes if o.reused),
        "detections": sum(o.detections for o in outcomes),
        **_whys(outcomes),
    }


def pushed_flight(
    flight_id: str,
    folder: str,
    frames: int,
    outcomes: Sequence[FrameOutcome],
    errors: Sequence[str],
    push: Mapping[str, Any],
    complete: bool,
) -> FlightSummary:
    """A flight whose recorded frames went into the queue; `push` is the queue's counts (PushResult)."""
    return FlightSummary(
        flight_id,
        folder,
        frames=frames,
        sightings_added=int(push["sightings_added"]),
        cases_new=int(push["cases_new"]),
        cases_updated=int(push["cases_updated"]),
        not_seen=int(push["not_seen"]),
        complete=complete,
        errors=tuple(errors),
        **_frames(outcomes),
    )


def failed_flight(
    folder: str,
    flight_id: str,
    reason: str,
    errors: Sequence[str] = (),
    frames: int = 0,
    outcomes: Sequence[FrameOutcome] = (),
    pending: int = 0,
) -> FlightSummary:
    """A flight left incomplete (not planned, frames pending, or not pushed): `reason` is its last error."""
    return FlightSummary(
        flight_id,
        folder,
        frames=frames,
        frames_pending=pending,
        errors=(*errors, f"{folder}: {reason}"),
        **_frames(outcomes),
    )


_TOTALS = ("frames", "frames_failed", "frames_pending", "detections", "cases_new", "cases_updated")


@dataclass(frozen=True)
class RunSummary:
    """A `patrol process` run: its flights, in order, and how long it took."""

    flights: tuple[FlightSummary, ...]
    seconds: float

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.flights)

    @property
    def incomplete(self) -> list[str]:
        return [f.flight_id for f in self.flights if not f.complete]

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: self.total(name) for name in _TOTALS},
            "frames_not_searched": self.total("frames_not_searched"),
            "frames_not_placed": self.total("frames_not_placed"),
            "errors": [e for f in self.flights for e in f.errors],
            "not_searched": [line for f in self.flights for line in f.not_searched],
            "seconds": round(self.seconds, 2),
            "flights": [f.as_dict() for f in self.flights],
        }

    def markdown(self) -> str:
        errors = [e for f in self.flights for e in f.errors]
        whys = [line for f in self.flights for line in f.not_searched]
        pending = self.total("frames_pending")
        lines = [
            "# patrol: flights processed",
            "",
            f"{self.total('frames')} frames ({self.total('frames_failed')} failed"
            + (f", {pending} left for the next run" if pending else "")
            + f"), {self.total('detections')} detections, {self.total('cases_new')} new cases, "
            f"{self.total('cases_updated')} updated, in {round(self.seconds, 2)} s.",
        ]
        if errors:
            lines += ["", "## Problems", ""] + [f"- `{e}`" for e in errors[:200]]
        if whys:
            lines += [
                "",
                f"## Frames not searched ({self.total('frames_not_searched')}) or not placed "
                f"({self.total('frames_not_placed')})",
                "",
            ] + [f"- `{line}`" for line in whys[:200]]
        return "\n".join(lines)


@dataclass(frozen=True)
class LeftFlight:
    """An inbox flight the night did not process, and why (pipeline.inbox)."""

    folder: str
    status: str
    reason: str


@dataclass(frozen=True)
class NightSummary:
    """The nightly run: what the inbox held and what processing the ready flights did."""

    inbox: str
    started_at: str  # the bureau's wall-clock time (pipeline.night.night_started_at)
    flights_done_before: int
    flights_waiting: int
    flights_changed: int
    left: tuple[LeftFlight, ...]
    run: RunSummary | None  # None: nothing was ready
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        run = self.run or RunSummary((), 0.0)
        out: dict[str, Any] = {
            "inbox": self.inbox,
            "started_at": self.started_at,
            "flights_processed": len(run.flights),
            "flights_failed": len(run.incomplete),
            "flights_done_before": self.flights_done_before,
            "flights_waiting": self.flights_waiting,
            "flights_changed": self.flights_changed,
            "left": [asdict(f) for f in self.left],
            "flights": [f.as_dict() for f in run.flights],
            "errors": [e for f in run.flights for e in f.errors],
            **{name: run.total(name) for name in _TOTALS},
            "seconds": round(self.seconds, 2),
        }
        out["text"] = _night_text(out)
        return out

    def text(self) -> str:
        """The lines the night shows (its artifact, `patrol nightly`'s output)."""
        return str(self.as_dict()["text"])


def _night_text(night: Mapping[str, Any]) -> str:
    lines = [
        f"night of {night['started_at']}: {night['flights_processed']} flight(s) processed "
        f"({night['flights_failed']} incomplete), {night['flights_done_before']} done on earlier "
        f"nights, {night['flights_waiting']} waiting for their upload, "
        f"{night['flights_changed']} changed since upload",
        f"{night['frames']} frames ({night['frames_failed']} failed"
        + (f", {night['frames_pending']} left for the next run" if night.get("frames_pending") else "")
        + f"), {night['detections']} detections, "
        f"{night['cases_new']} new cases, {night['cases_updated']} updated, {night['seconds']} s",
    ]
    lines += [f"  left for later: {f['folder']}: {f['reason']}" for f in night["left"]]
    lines += [f"  problem: {e}" for e in night["errors"][:50]]
    return "\n".join(lines)


def _plain(record: Any) -> dict[str, Any]:
    """A record's fields with tuples as lists (JSON's shape)."""
    return {f.name: _list(getattr(record, f.name)) for f in fields(record)}


def _list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
