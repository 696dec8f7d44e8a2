"""What the flight flow has already done, in the case database: frames (keyed by file hash, frame and model
version) and whole flights. Each frame's record is its own small transaction, written once its detections
are known; a crash loses at most the frames in flight, and a rerun reads the rest back instead of detecting
again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases import lifecycle
from pipeline.cases.models import FlightRun, ProcessedFrame
from pipeline.run_summary import FrameStatus

DONE, FAILED = FrameStatus.DONE, FrameStatus.FAILED  # what a frame's record says (never ERROR)
_CHUNK = 500


@dataclass(frozen=True)
class FrameRecord:
    key: str
    frame_path: str
    status: FrameStatus  # DONE or FAILED
    error: str | None
    detections: int
    result: dict[str, Any] | None
    seconds: float


def _record(row: ProcessedFrame) -> FrameRecord:
    return FrameRecord(
        row.key, row.frame_path, FrameStatus(row.status), row.error, row.detections, row.result, row.seconds
    )


def frame_records(session: Session, keys: Iterable[str]) -> dict[str, FrameRecord]:
    wanted = sorted(set(keys))
    out: dict[str, FrameRecord] = {}
    for i in range(0, len(wanted), _CHUNK):
        rows = session.scalars(select(ProcessedFrame).where(ProcessedFrame.key.in_(wanted[i : i + _CHUNK])))
        out.update((r.key, _record(r)) for r in rows)
    return out


def save_frame(
    sessions: sessionmaker[Session],
    flight_id: str,
    model_version: str,
    record: FrameRecord,
    now: datetime | None = None,
) -> FrameRecord:
    """Store a frame's record in its own transaction; the record already stored wins when two workers raced
    on one frame (the unique key decides), and is returned."""
    row = ProcessedFrame(
        key=record.key,
        flight_id=flight_id,
        frame_path=record.frame_path,
        model_version=model_version,
        status=record.status,
        error=record.error,
        detections=record.detections,
        result=record.result,
        seconds=record.seconds,
        created_at=now or lifecycle.utcnow(),
    )
    try:
        with sessions.begin() as session:
            session.add(row)
    except IntegrityError:
        with sessions() as session:
            return frame_records(session, [record.key])[record.key]
    return record


def flight_done(session: Session, flight_id: str) -> FlightRun | None:
    return session.get(FlightRun, flight_id)


def finished_flights(session: Session, flight_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(flight_ids))
    done: set[str] = set()
    for i in range(0, len(wanted), _CHUNK):
        done.update(
            session.scalars(
                select(FlightRun.flight_id).where(FlightRun.flight_id.in_(wanted[i : i + _CHUNK]))
            )
        )
    return done


def mark_flight_done(
    session: Session,
    flight_id: str,
    folder: str,
    model_version: str,
    counts: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Upsert the flight's record inside the caller's transaction (the one that pushed its sightings)."""
    run = session.get(FlightRun, flight_id)
    if run is None:
        run = FlightRun(flight_id=flight_id)
        session.add(run)
    run.folder = folder
    run.model_version = model_version
    run.frames = int(counts.get("frames", 0))
    run.frames_failed = int(counts.get("frames_failed", 0))
    run.detections = int(counts.get("detections", 0))
    run.summary = counts
    run.finished_at = now or lifecycle.utcnow()
