"""The per-frame steps of a photo flight searched each ground cell once (`ProcessJob.search == "cells"`,
pipeline.cell_search), in the shape pipeline.process gives the every-frame path, for the flow to wrap:

    plan_cells(plan, job)                      once per flight, metadata only
    first_pass_frame(ref, job, assignment)     per frame: its own rectangle (held decoded for its re-checks)
    rechecks_for(cells, firsts, job)           once per flight: the crops each frame must search
    second_pass_frame(ref, job, first, crops)  per frame: the crops, then the record, as process_frame's

A frame recorded before (same bytes, model, settings and search) is reused as it was recorded: its
re-checks are not redone for what frames processed later found. Records carry one coverage piece per
rectangle searched ("coverage" its own, "coverage_pieces" the crops), which push_flight hands on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cases import progress
from pipeline.errors import FrameError, GeoreferenceError
from pipeline.process import (
    ERROR,
    ProcessJob,
    coverage_for,
    coverage_json,
    frame_path_for,
    is_transient,
    job_detector,
    job_version,
    not_the_frames_fault,
    outcome_of_record,
    seen_at_of,
    sessions_for,
    sighting_json,
    sightings_for,
    why_not_placed,
    why_not_searched,
)
from pipeline.run_summary import FrameOutcome

if TYPE_CHECKING:
    from pipeline.cell_search import SearchCells
    from pipeline.detect.cell_plan import FrameAssignment
    from pipeline.detect.detector import FrameDetections, FrameSearch
    from pipeline.detect.model import Detector
    from pipeline.ingest import FlightPlan, FrameRef, LoadedFrame
    from pipeline.types import FrameCoverage

# Decoded frames a process holds between a flight's two passes (the re-checks then need no second decode);
# beyond it the oldest are dropped and decoded again when their re-checks come.
HELD_FRAMES_BYTES = 2 << 30
Crops = tuple[tuple[int, int, int, int], ...]


class _HeldFrames:
    """Decoded frames kept in this process between a flight's two passes, up to a byte budget, oldest out
    first; keyed by frame key. Thread-safe (frames may be processed by several threads)."""

    def __init__(self, budget: int) -> None:
        import threading

        self.budget, self.lock = budget, threading.Lock()
        self.frames: dict[str, LoadedFrame] = {}

    def put(self, key: str, frame: LoadedFrame) -> None:
        with self.lock:
            self.frames[key] = frame
            while sum(f.image.nbytes for f in self.frames.values()) > self.budget and len(self.frames) > 1:
                self.frames.pop(next(iter(self.frames)))

    def pop(self, key: str) -> LoadedFrame | None:
        with self.lock:
            return self.frames.pop(key, None)


_HELD = _HeldFrames(HELD_FRAMES_BYTES)


def plan_cells(plan: FlightPlan, job: ProcessJob) -> SearchCells:
    """Each ground cell of the flight to its best view, from the frames' metadata (pipeline.cell_search)."""
    from pipeline.cell_search import plan_search

    detector, _ = job_detector(job)
    return plan_search(plan.frames, detector, job.detect, job.ground_elevation_m, job.ingest.max_pixels)


def first_pass_frame(
    ref: FrameRef, job: ProcessJob, assignment: FrameAssignment
) -> FrameSearch | FrameOutcome:
    """The frame's first pass (its own rectangle), or its outcome when there is nothing more to do: already
    recorded (reused, whatever it was searched with), its own fault (recorded as failed), or not its fault
    (ERROR, no record). The decoded frame is held for its re-checks."""
    from pipeline.cell_search import first_pass

    detector, _ = job_detector(job)
    key = ref.key(job_version(job))
    sessions = sessions_for(job.db_url)
    with sessions() as session:
        old = progress.frame_records(session, [key]).get(key)
    if old is not None:
        return outcome_of_record(ref, old, reused=True)
    try:
        found, frame = first_pass(
            ref, assignment, detector, job.detect, job.ground_elevation_m, job.ingest.max_pixels
        )
    except Exception as err:
        return _not_searched_outcome(ref, job, key, err)
    if frame is not None:
        _HELD.put(key, frame)
    return found


def _not_searched_outcome(ref: FrameRef, job: ProcessJob, key: str, err: Exception) -> FrameOutcome:
    """process_frame's rule for a frame that could not be searched: its own fault recorded, else ERROR."""
    if isinstance(err, FrameError | GeoreferenceError):
        reason = str(err) if err.path else f"{ref.name}: {err.reason}"
        record = progress.FrameRecord(key, ref.name, progress.FAILED, reason, 0, None, 0.0)
        saved = progress.save_frame(sessions_for(job.db_url), ref.flight_id, job_version(job), record)
        return outcome_of_record(ref, saved, reused=False)
    if is_transient(err):
        raise err
    return FrameOutcome(ref.name, ERROR, 0, 0, not_the_frames_fault(ref, err))


def second_pass_frame(
    ref: FrameRef, job: ProcessJob, first: FrameSearch, crops: tuple[tuple[int, int, int, int], ...]
) -> FrameOutcome:
    """The frame's re-check crops searched and combined with its first pass, placed and recorded as
    process_frame records a frame, with one coverage piece per rectangle searched."""
    from pipeline.cell_search import second_pass
    from pipeline.detect.detector import place_frame

    detector, _ = job_detector(job)
    version = job_version(job)
    key = ref.key(version)
    started = time.perf_counter()
    try:
        frame = _HELD.pop(key)
        if frame is None and crops:  # held in another process (Dask), or dropped for memory
            frame = _load_for(ref, job, detector)
        found = second_pass(
            ref, first, crops, detector, job.detect, job.ground_elevation_m, job.ingest.max_pixels, frame
        )
        placed = place_frame(found, job.detect.max_ground_distance_m)
        if frame is None and placed.detections:  # its evidence crops need its pixels
            frame = _load_for(ref, job, detector)
        detections, result = _record_cells(ref, job, frame, placed)
        record = progress.FrameRecord(
            key, ref.name, progress.DONE, None, detections, result, time.perf_counter() - started
        )
    except Exception as err:
        return _not_searched_outcome(ref, job, key, err)
    saved = progress.save_frame(sessions_for(job.db_url), ref.flight_id, version, record)
    return outcome_of_record(ref, saved, reused=False)


def _load_for(ref: FrameRef, job: ProcessJob, detector: Detector) -> LoadedFrame:
    from pipeline.detect.detector import reduction_rule
    from pipeline.ingest import load_frame

    return load_frame(
        ref, job.ground_elevation_m, job.ingest.max_pixels, reduction_rule(detector, job.detect)
    )


def _record_cells(
    ref: FrameRef, job: ProcessJob, frame: LoadedFrame | None, found: FrameDetections
) -> tuple[int, dict[str, Any]]:
    """(detections, result record) of a frame searched in pieces: sightings (evidence crops written) and one
    coverage piece per rectangle searched, its own first. A posed frame none of whose ground was its to
    search, nor to re-check, searched nothing and covered nothing: not a frame "not searched" for a fault."""
    from pipeline.cell_search import coverage_pieces

    data_root = Path(job.data_root)
    frame_path = frame_path_for(ref, data_root)
    sightings = sightings_for(frame, found.detections, frame_path, data_root) if frame is not None else []
    pieces: list[FrameCoverage] = []
    if frame is not None and frame.view is not None and found.georeferenced:
        if found.searched_px:
            pieces = coverage_pieces(
                found,
                frame.view,
                ref.flight_id,
                frame_path,
                seen_at_of(frame),
                job.detect.max_ground_distance_m,
            )
        elif whole := coverage_for(frame, frame_path, job.detect.max_ground_distance_m, found.searched_rows):
            pieces = [whole]
    out_of_range = any(n.startswith("nothing searched") for n in found.notes)
    elsewhere = not found.searched_px and found.tiles == 0 and found.georeferenced and not out_of_range
    notes = list(found.notes) + (
        ["its ground was searched in other frames (each ground cell once)"] if elsewhere else []
    )
    result = {
        "sightings": [sighting_json(s) for s in sightings],
        "coverage": coverage_json(pieces[0]) if pieces else None,
        "coverage_pieces": [coverage_json(c) for c in pieces[1:]],
        "notes": notes,
        "searched_rows": list(found.searched_rows),
        "searched_px": [list(r) for r in found.searched_px],
        "tiles": found.tiles,
        "not_searched": None if elsewhere or frame is None else why_not_searched(frame, found),
        "not_placed": None if frame is None else why_not_placed(frame, found),
    }
    return len(found.detections), result


def rechecks_for(
    cells: SearchCells, firsts: list[FrameSearch | FrameOutcome], job: ProcessJob
) -> tuple[Crops, ...]:
    """The re-check crops of each frame (none for a frame its first pass did not search: recorded, failed
    or in error) from what the first passes found, placed."""
    from pipeline.cell_search import plan_second_pass
    from pipeline.detect.detector import FrameSearch, place_frame

    detector, _ = job_detector(job)
    placed = [place_frame(f, job.detect.max_ground_distance_m) for f in firsts if isinstance(f, FrameSearch)]
    _, crops = plan_second_pass(cells, placed, detector, job.detect)
    return tuple(c if isinstance(f, FrameSearch) else () for c, f in zip(crops, firsts, strict=True))
