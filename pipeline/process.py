"""One flight through the pipeline, step by step, as plain functions the Prefect flow wraps in tasks:

    plan_flight (pipeline.ingest)  ->  process_frame, per frame  ->  push_flight, once per flight

`process_frame` detects in one frame, places its detections on the ground as sightings (with evidence crops
written content-addressed under the data root) and stores that as the frame's record; a frame already
recorded for the same file bytes and model version is read back, not detected again. `push_flight` puts the
whole flight's sightings into the case queue in one transaction and marks the flight done, so the queue sees a
flight entirely or not at all, whatever crashed in between.

Nothing here knows about Prefect. The model and the database sessions are opened once per process.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cases import progress
from pipeline.config import DEFAULT_TZ, DatabaseUrl, Settings
from pipeline.detect.detector import DetectSettings
from pipeline.errors import CaseError, FrameError, GeoreferenceError, PipelineError
from pipeline.ingest import FlightPlan, FrameRef, IngestSettings
from pipeline.run_summary import FrameOutcome, FrameStatus
from pipeline.types import FrameCoverage, Sighting

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy.orm import Session, sessionmaker

    from pipeline.cases.ingest import PushResult
    from pipeline.detect.detector import FrameDetections
    from pipeline.detect.model import Detector
    from pipeline.ingest import LoadedFrame
    from pipeline.types import Detection, ImageMeta

BACKENDS = ("auto", "onnx", "torch")
# How a photo flight's frames are searched: each frame whole, or each ground cell once at its best view with
# re-checks of what that finds in the other frames that covered it (pipeline.cell_search).
SEARCH_EVERY, SEARCH_CELLS = "every", "cells"
SEARCHES = (SEARCH_EVERY, SEARCH_CELLS)
CROP_MARGIN = 0.25  # evidence crops show this share of the box around it: context for the reviewer
CROP_MIN_PX = 96
_SESSIONS_SEEN: list[sessionmaker[Session]] = []  # what sessions_for opened, to dispose of on request


@dataclass(frozen=True)
class ProcessJob:
    """Everything a worker needs to process frames of a flight: small, frozen, picklable (it travels to Dask
    workers and into Prefect parameters). The database URL is held as a DatabaseUrl, which shows itself
    (in run parameters, logs, reprs) with its password masked; `db_url` gives the real one."""

    db: DatabaseUrl
    data_root: str
    model: str | None = None  # a model card's path; None: PATROL_MODEL, else the shipped card
    backend: str = "auto"
    threads: int | None = None
    detect: DetectSettings = field(default_factory=DetectSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    categories_path: str | None = None
    local_tz: str = DEFAULT_TZ
    closed_seen_again: str = "new_linked"
    ground_elevation_m: float | None = None
    search: str = SEARCH_EVERY  # SEARCHES; "cells" applies to photo flights (video frames: every frame)
    # Tests and benches put a stand-in for the model here: a callable object, never a name to import, so
    # nothing a user or a deployment parameter says can make a worker run other code.
    detector: Callable[[], Detector] | None = None

    @property
    def db_url(self) -> str:
        return self.db.get_secret_value()


# A frame's outcome (pipeline.run_summary.FrameStatus): DONE and FAILED are recorded, ERROR never is.
DONE, FAILED, ERROR = FrameStatus.DONE, FrameStatus.FAILED, FrameStatus.ERROR


# --- per-process resources -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def detector_for(
    model: str | None,
    backend: str = "auto",
    threads: int | None = None,
    factory: Callable[[], Detector] | None = None,
) -> tuple[Detector, str]:
    """(detector, model version), loaded once per process. The version names the weights by content, so a
    retrained model reprocesses frames and the same model never does. `factory`: a stand-in (tests)."""
    if factory is not None:
        det = factory()
        return det, str(getattr(det, "version", getattr(factory, "__name__", "stand-in")))
    from pipeline.detect.backends import open_detector
    from pipeline.detect.model import load_model_spec
    from pipeline.ingest import file_sha256

    spec = load_model_spec(model)
    weights = spec.weights or spec.onnx
    assert weights is not None  # load_model_spec refuses a card without weights
    digest = file_sha256(weights)[:16]
    return open_detector(spec, backend, threads), f"{weights.name}:{digest}"


def job_detector(job: ProcessJob) -> tuple[Detector, str]:
    return detector_for(job.model, job.backend, job.threads, job.detector)


def job_version(job: ProcessJob) -> str:
    """The model version frames are keyed by: the weights and every setting that changes what is found
    (detection settings, ground elevation, the pixel limit; the telemetry is in each frame's own key)."""
    _, version = job_detector(job)
    knobs = repr((job.detect, job.ground_elevation_m, job.ingest.max_pixels))
    if job.search != SEARCH_EVERY:  # a frame searched in part is another record than one searched whole
        knobs += f" search={job.search}"
    return f"{version}:{hashlib.sha256(knobs.encode()).hexdigest()[:8]}"


@functools.lru_cache(maxsize=4)
def sessions_for(db_url: str) -> sessionmaker[Session]:
    from pipeline.cases.db import open_db

    sessions = open_db(db_url)
    _SESSIONS_SEEN.append(sessions)
    return sessions


def forget_sessions() -> None:
    """Close the cached engines: before a database file is removed and made anew in this process."""
    for sessions in _SESSIONS_SEEN:
        bind = sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
    _SESSIONS_SEEN.clear()
    sessions_for.cache_clear()


def open_case_db(job: ProcessJob) -> None:
    """Open (and migrate) the job's case database now, once, before any flight or fan-out: a wrong or
    unreachable database is one line (CaseError) at the start, and workers then find the schema at head."""
    sessions_for(job.db_url)


def is_database_error(err: BaseException) -> bool:
    """The case database failed (unreachable, locked, refused): not the frame's fault nor the model's."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(err, DBAPIError):
        return True
    return isinstance(err, CaseError) and isinstance(err.__cause__, DBAPIError)


def is_transient(err: BaseException) -> bool:
    """Worth retrying: the database briefly unreachable or locked, a file still held by its writer."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(err, OperationalError | TimeoutError | PermissionError):
        return True
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    # open_db turns an unreachable database into a CaseError carrying the driver's OperationalError.
    return isinstance(err, CaseError) and isinstance(err.__cause__, OperationalError)


# --- one frame ---------------------------------------------------------------------------------------


def frame_path_for(ref: FrameRef, data_root: Path) -> str:
    """The frame path the queue records: the photo itself; for a video frame, the still written for it."""
    if not ref.is_video:
        return str(Path(ref.source).resolve())
    stem = Path(ref.source).name.replace(".", "_")
    return str((data_root / "frames" / ref.flight_id / f"{stem}_f{ref.frame_index:06d}.jpg").resolve())


def seen_at_of(frame: LoadedFrame) -> str:
    if frame.seen_at:
        return frame.seen_at
    # No capture time in the file: its modification time, which at least is the same on every rerun.
    mtime = Path(frame.ref.source).stat().st_mtime
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")


def _jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise PipelineError("cannot encode a JPEG")
    return bytes(buf.tobytes())


def crop(image: np.ndarray, xyxy: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = xyxy
    mx = max((x1 - x0) * CROP_MARGIN, (CROP_MIN_PX - (x1 - x0)) / 2, 0.0)
    my = max((y1 - y0) * CROP_MARGIN, (CROP_MIN_PX - (y1 - y0)) / 2, 0.0)
    h, w = image.shape[:2]
    a, b = max(int(x0 - mx), 0), min(int(x1 + mx + 1), w)
    c, d = max(int(y0 - my), 0), min(int(y1 + my + 1), h)
    out: np.ndarray = image[c:d, a:b]
    return out


def sightings_for(
    frame: LoadedFrame, detections: tuple[Detection, ...], frame_path: str, data_root: Path
) -> list[Sighting]:
    """Detections with a ground position as sightings; evidence crops are written now (content-addressed,
    so a rerun writes nothing new) and referenced by path."""
    from pipeline.cases.evidence import evidence_file, store_evidence

    seen_at = seen_at_of(frame)
    out = []
    for det in detections:
        if det.lat is None or det.lon is None:
            continue  # no pose, no place on the map: counted as a detection, never a case
        sighting = Sighting(
            flight_id=frame.ref.flight_id,
            frame_path=frame_path,
            class_name=det.class_name,
            score=det.score,
            xyxy_px=det.xyxy_px,
            lat=det.lat,
            lon=det.lon,
            seen_at=seen_at,
            footprint=det.footprint,
            size_m=det.size_m,
            position_error_m=det.position_error_m,
            ground_distance_m=det.ground_distance_m,
            local_gsd_m=det.local_gsd_m,
            evidence_jpeg=_jpeg(crop(frame.full_image(), det.xyxy_px)),
        )
        stored, _ = store_evidence(data_root, sighting)
        assert stored is not None
        path = str(evidence_file(data_root, stored))
        out.append(Sighting(**{**asdict(sighting), "evidence_jpeg": None, "evidence_path": path}))
    return out


def coverage_for(
    frame: LoadedFrame, frame_path: str, max_distance_m: float, searched_rows: tuple[int, int]
) -> FrameCoverage | None:
    """The ground the detector actually searched in this frame (the rows within range and fine enough:
    pipeline.detect.scale), which is what "covered adequately" means for the case evidence. None when the
    frame has no pose or nothing was searched."""
    from pipeline import geo
    from pipeline.errors import GeoreferenceError

    top, bottom = searched_rows
    if frame.view is None or bottom <= top:
        return None
    intr = frame.view.intrinsics
    # Rows are the decoded image's; the view may describe the same picture at another size.
    scale = intr.height_px / frame.size_px[1]
    box = (0.0, top * scale, float(intr.width_px), bottom * scale)
    try:
        footprint = tuple(geo.ground_polygon(frame.view, box, max_distance_m=max_distance_m))
    except GeoreferenceError:
        return None
    return FrameCoverage(frame.ref.flight_id, frame_path, seen_at_of(frame), footprint)


def _write_still(image: np.ndarray, path: Path, meta: ImageMeta | None) -> None:
    """A video frame that holds a detection is kept as a still: the reviewer's "full frame". Its telemetry
    goes in as EXIF and DJI XMP, so the still read as a photo gives the camera its frame was searched with:
    `patrol export-training` hands it to `patrol train --extra` like any photo, cut at its own scale."""
    from pipeline.metadata.write import photo_meta, with_metadata

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _jpeg(image, 85)
    if meta is not None:
        data = with_metadata(data, photo_meta(meta, image.shape[1], image.shape[0], "patrol video still"))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def detect_and_place(ref: FrameRef, job: ProcessJob, detector: Detector) -> tuple[int, dict[str, Any]]:
    """(detections, result record) for one frame; PipelineError when its pixels cannot be used."""
    from pipeline.detect.detector import detect_frame, place_frame, reduction_rule
    from pipeline.ingest import load_frame

    data_root = Path(job.data_root)
    # Decoded as small as the detector allows; crops and stills come from the full pixels (full_image).
    rule = reduction_rule(detector, job.detect)
    frame = load_frame(ref, job.ground_elevation_m, job.ingest.max_pixels, rule)
    in_pixels = detect_frame(
        frame.image,
        frame.view,
        detector,
        job.detect,
        path=ref.name,
        intrinsics=frame.intrinsics,
        why_no_pose=frame.why_no_pose,
        reduction=frame.reduction,
    )
    found = place_frame(in_pixels, job.detect.max_ground_distance_m)
    frame_path = frame_path_for(ref, data_root)
    sightings = sightings_for(frame, found.detections, frame_path, data_root)
    if sightings and ref.is_video:
        _write_still(frame.full_image(), Path(frame_path), ref.meta)
    cover = (
        coverage_for(frame, frame_path, job.detect.max_ground_distance_m, found.searched_rows)
        if found.georeferenced
        else None
    )
    result = {
        "sightings": [sighting_json(s) for s in sightings],
        "coverage": None if cover is None else coverage_json(cover),
        "notes": list(found.notes),
        "searched_rows": list(found.searched_rows),
        "tiles": found.tiles,
        "not_searched": why_not_searched(frame, found),
        "not_placed": why_not_placed(frame, found),
    }
    return len(found.detections), result


def why_not_searched(frame: LoadedFrame, found: FrameDetections) -> str | None:
    """Why no pixel of the frame was searched (None when some were): every row beyond the search range,
    above the horizon or too coarse. A gimbal at or above the horizon (a fixed-wing or tilted frame) is
    named, since that is what the pilot can change."""
    top, bottom = found.searched_rows
    if bottom > top:
        return None
    why = next((n for n in found.notes if n.startswith("nothing searched")), "nothing searched")
    pitch = frame.view.pose.pitch_deg if frame.view is not None else None
    if pitch is not None and pitch >= 0.0:
        why = f"gimbal pitch {pitch:+.1f} degrees is at or above the horizon: {why}"
    return why


def why_not_placed(frame: LoadedFrame, found: FrameDetections) -> str | None:
    """Why the frame's detections get no ground position (None when they do): no usable pose, and why (no
    GPS, no height, a value the file holds that cannot be read ...), or metadata of another image shape."""
    if found.georeferenced:
        return None
    if frame.view is None:
        return f"no usable pose: {frame.why_no_pose or 'no metadata'}"
    intr = frame.view.intrinsics
    width, height = frame.size_px
    return (
        f"no usable pose: its metadata describes a {intr.width_px}x{intr.height_px} image, "
        f"the pixels are {width}x{height}"
    )


def process_frame(ref: FrameRef, job: ProcessJob) -> FrameOutcome:
    """One frame, done once per model version (module docstring).

    Only the frame's own faults are final: pixels that cannot be used (FrameError: undecodable, none, a
    pixel bomb) or a pose that cannot be placed (GeoreferenceError) are recorded as failed, with the
    reason, and not tried again. Anything else (the model or its runtime failing, out of memory, a full
    disk under the evidence crops, a database error) leaves the frame without a record and comes back as
    an ERROR outcome, so the flight stays open and the next run does the frame again. Transient database
    errors propagate (the caller retries them)."""
    detector, _ = job_detector(job)
    version = job_version(job)
    key = ref.key(version)
    sessions = sessions_for(job.db_url)
    with sessions() as session:
        old = progress.frame_records(session, [key]).get(key)
    if old is not None:
        return outcome_of_record(ref, old, reused=True)
    started = time.perf_counter()
    try:
        detections, result = detect_and_place(ref, job, detector)
        record = progress.FrameRecord(
            key, ref.name, progress.DONE, None, detections, result, time.perf_counter() - started
        )
    except (FrameError, GeoreferenceError) as err:
        reason = str(err) if err.path else f"{ref.name}: {err.reason}"
        record = progress.FrameRecord(key, ref.name, progress.FAILED, reason, 0, None, 0.0)
    except Exception as err:
        if is_transient(err):
            raise
        return FrameOutcome(ref.name, ERROR, 0, 0, not_the_frames_fault(ref, err))
    saved = progress.save_frame(sessions, ref.flight_id, version, record)
    return outcome_of_record(ref, saved, reused=False)


def not_the_frames_fault(ref: FrameRef, err: BaseException) -> str:
    """One line for a frame left without a record: what failed, and that the next run tries again."""
    if isinstance(err, PipelineError):
        what = str(err) if err.path else f"{ref.name}: {err.reason}"
    else:
        what = f"{ref.name}: {type(err).__name__}: {err}"
    what = " ".join(what.split())  # one line, whatever a runtime's message holds
    return f"{what} (not the frame's fault: not recorded, the next run does it again)"


def outcome_of_record(ref: FrameRef, record: progress.FrameRecord, reused: bool) -> FrameOutcome:
    result = record.result or {}
    return FrameOutcome(
        ref.name,
        record.status,
        record.detections,
        len(result.get("sightings", [])),
        record.error,
        reused,
        record.seconds,
        not_searched=result.get("not_searched"),
        not_placed=result.get("not_placed"),
    )


# --- the flight ----------------------------------------------------------------------------------------


def sighting_json(s: Sighting) -> dict[str, Any]:
    out = asdict(s)
    out.pop("evidence_jpeg")
    out["xyxy_px"] = list(s.xyxy_px)
    out["footprint"] = [list(p) for p in s.footprint]
    return out


def sighting_from_json(d: dict[str, Any]) -> Sighting:
    return Sighting(
        **{
            **d,
            "xyxy_px": tuple(d["xyxy_px"]),
            "footprint": tuple(tuple(p) for p in d["footprint"]),
        }
    )


def coverage_json(c: FrameCoverage) -> dict[str, Any]:
    return {**asdict(c), "footprint": [list(p) for p in c.footprint]}


def coverage_from_json(d: dict[str, Any]) -> FrameCoverage:
    return FrameCoverage(
        d["flight_id"], d["frame_path"], d["seen_at"], tuple(tuple(p) for p in d["footprint"])
    )


@dataclass(frozen=True)
class FlightPush:
    flight_id: str
    frames: int
    frames_failed: int
    frames_missing: int  # planned but with no record (a worker lost): the flight is not marked done
    detections: int
    push: dict[str, Any]


def push_flight(plan: FlightPlan, job: ProcessJob) -> FlightPush:
    """Every recorded frame's sightings and coverage of `plan` into the queue, in one transaction that also
    marks the flight done (only when every planned frame has a record)."""
    from pipeline.cases.categories import load_categories
    from pipeline.cases.ingest import push_sightings

    version = job_version(job)
    sessions = sessions_for(job.db_url)
    keys = [ref.key(version) for ref in plan.frames]
    categories = load_categories(Path(job.categories_path) if job.categories_path else None)
    data_root = Path(job.data_root)
    with sessions.begin() as session:
        records = progress.frame_records(session, keys)
        sightings: list[Sighting] = []
        coverage: list[FrameCoverage] = []
        done = []
        for ref, key in zip(plan.frames, keys, strict=True):
            record = records.get(key)
            if record is None or record.status != progress.DONE or record.result is None:
                continue
            done.append(record)
            # A record is reused for the same bytes wherever they lie: it is told which flight and path
            # it belongs to now.
            where = {"flight_id": plan.flight_id, "frame_path": frame_path_for(ref, data_root)}
            sightings += [sighting_from_json({**s, **where}) for s in record.result.get("sightings", [])]
            if (c := record.result.get("coverage")) is not None:
                coverage.append(coverage_from_json({**c, **where}))
            # A frame searched in pieces (each ground cell once): its re-check crops after its own rectangle.
            coverage += [coverage_from_json({**c, **where}) for c in record.result.get("coverage_pieces", [])]
        result: PushResult = push_sightings(
            session,
            sightings,
            frames=coverage,
            categories=categories,
            data_root=data_root,
            closed_seen_again=job.closed_seen_again,
            local_tz=job.local_tz,
        )
        counts = FlightPush(
            plan.flight_id,
            frames=len(plan.frames),
            frames_failed=sum(1 for r in records.values() if r.status == progress.FAILED),
            frames_missing=len(set(keys) - set(records)),
            detections=sum(r.detections for r in done),
            push=result.as_dict(),
        )
        if counts.frames_missing == 0:
            progress.mark_flight_done(session, plan.flight_id, plan.folder, version, asdict(counts))
    return counts


def default_job(
    db_url: str | None = None,
    model: str | None = None,
    *,
    backend: str = "auto",
    threads: int | None = None,
    conf: float | None = None,
    overlap: float | None = None,
    detector: Callable[[], Detector] | None = None,
    settings: Settings | None = None,
    search: str = SEARCH_EVERY,
) -> ProcessJob:
    """A job from the settings (default: this machine's PATROL_* environment, as a worker on another
    machine builds it) and the options `patrol process`/`nightly`/`serve` and the deployment share: each
    checked here, so a bad one is one line before any frame is touched."""
    from pipeline.config import load_settings

    if settings is None:
        settings = load_settings()
    if backend not in BACKENDS:
        raise PipelineError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if threads is not None and threads < 1:
        raise PipelineError(f"threads must be at least 1, not {threads}")
    if search not in SEARCHES:
        raise PipelineError(f"search must be one of {', '.join(SEARCHES)}, not {search!r}")
    detect = DetectSettings() if conf is None else replace(DetectSettings(), conf=conf)
    detect.check()
    ingest = IngestSettings() if overlap is None else IngestSettings(overlap=overlap)
    ingest.check()
    return ProcessJob(
        db=DatabaseUrl(db_url or settings.db_url),
        data_root=str(settings.data_root.resolve()),
        model=model if model is not None else (str(settings.model) if settings.model else None),
        backend=backend,
        threads=threads,
        detect=detect,
        ingest=replace(ingest, max_pixels=settings.max_pixels),
        categories_path=str(settings.categories_path) if settings.categories_path else None,
        local_tz=settings.local_tz,
        closed_seen_again=settings.closed_seen_again,
        detector=detector,
        search=search,
    )
