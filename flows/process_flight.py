"""`patrol-process`: flight folders -> frames -> detections -> sightings -> the case queue.

Thin tasks around pipeline.process (which knows nothing of Prefect):
  plan-flight     one per flight: the frames to look at (photos; video frames sampled by ground distance)
  process-frame   one per frame: detect, place on the ground, record (skipped when already recorded)
  push-flight     one per flight: every recorded sighting into the queue in one transaction
Tasks get paths, ids and small frozen records, never pixels or models; the model is loaded once per worker
process (pipeline.process.detector_for). Idempotency lives in the database, not in Prefect's results, so
results are neither cached nor persisted.

Failure policy, per the domain's one exception family: a frame whose own bytes cannot be used is recorded as
failed and skipped (inside process_frame); anything else that stops a frame (the model, out of memory, a full
disk, the database after its retries) leaves it without a record: the flight is not pushed nor marked done,
the summary counts the frame as pending (never as failed) and the next run does it again. Database hiccups
are retried with exponential back-off; after DB_FAILURES_TO_STOP frames in a row the database refused, the
flight stops with one line and the rest is left unsubmitted. A flight that fails is reported in the summary
and never stops the other flights; a run with an incomplete flight ends Failed (its summary attached).
The case database is opened and migrated once, before any frame fans out. Artifacts are best effort: the
Prefect API going away costs them, never the flight.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture
from prefect.states import Failed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.tasks import Task, exponential_backoff

from pipeline.detect.cell_plan import FrameAssignment
from pipeline.detect.detector import FrameSearch
from pipeline.errors import PipelineError
from pipeline.ingest import FlightPlan, FrameRef, close_readers, plan_flight
from pipeline.process import (
    DONE,
    ERROR,
    SEARCH_CELLS,
    ProcessJob,
    is_database_error,
    is_transient,
    not_the_frames_fault,
    open_case_db,
    process_frame,
    push_flight,
)
from pipeline.process_cells import Crops, first_pass_frame, plan_cells, rechecks_for, second_pass_frame
from pipeline.run_summary import (
    FlightSummary,
    FrameOutcome,
    NightSummary,
    RunSummary,
    failed_flight,
    pushed_flight,
)

RETRIES = 4
# A flight stops after this many frames in a row could not be recorded because the case database failed
# (after each frame's retries): the rest would only wait out the same retries (about an hour for 500 frames).
DB_FAILURES_TO_STOP = 3
# Frames handed to the task runner ahead of the one being waited for: enough to keep every thread or Dask
# worker busy, few enough that a flight stopped by the database leaves the rest unsubmitted.
AHEAD_PER_THREAD = 2
AHEAD_ON_DASK = 64
PROGRESS_EVERY_S = 10.0


def _transient_only(task: Task[..., Any], task_run: Any, state: State[Any]) -> bool:
    """Retry what may succeed a moment later (a locked or unreachable database); not a bad frame."""
    err = state.result(raise_on_failure=False)
    return isinstance(err, BaseException) and is_transient(err)


RETRY_OPTIONS: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": _transient_only,
    "cache_policy": NO_CACHE,
    "persist_result": False,
}


@task(name="plan-flight", **RETRY_OPTIONS)
def plan_task(folder: str, flight_id: str | None, job: ProcessJob) -> FlightPlan:
    return plan_flight(Path(folder), flight_id, job.ingest)


@task(name="process-frame", task_run_name="frame {ref.label}", **RETRY_OPTIONS)
def frame_task(ref: FrameRef, job: ProcessJob) -> FrameOutcome:
    return process_frame(ref, job)


@task(name="first-pass", task_run_name="first pass {ref.label}", **RETRY_OPTIONS)
def first_pass_task(
    ref: FrameRef, job: ProcessJob, assignment: FrameAssignment
) -> FrameSearch | FrameOutcome:
    return first_pass_frame(ref, job, assignment)


@task(name="process-frame", task_run_name="frame {ref.label}", **RETRY_OPTIONS)
def cells_frame_task(
    ref: FrameRef, job: ProcessJob, first: FrameSearch | FrameOutcome, crops: Crops
) -> FrameOutcome:
    """A frame of a flight searched each ground cell once: its re-checks and its record (or the outcome its
    first pass already ended in)."""
    if isinstance(first, FrameOutcome):
        return first
    return second_pass_frame(ref, job, first, crops)


def searches_cells(job: ProcessJob, plan: FlightPlan) -> bool:
    """Each ground cell once: asked for, and a photo flight (video frames are sampled and searched whole)."""
    return job.search == SEARCH_CELLS and bool(plan.frames) and not any(r.is_video for r in plan.frames)


def first_passes(
    plan: FlightPlan, job: ProcessJob
) -> tuple[list[FrameSearch | FrameOutcome], tuple[Crops, ...]]:
    """Every frame's first pass (a task each), then the re-check crops each frame must search."""
    cells = plan_cells(plan, job)
    futures = [
        first_pass_task.submit(ref, job, a) for ref, a in zip(plan.frames, cells.cells.frames, strict=True)
    ]
    firsts: list[FrameSearch | FrameOutcome] = []
    for ref, future in zip(plan.frames, futures, strict=True):
        future.wait()
        if future.state.is_completed():
            firsts.append(future.result())
            continue
        err = future.state.result(raise_on_failure=False)
        cause = err if isinstance(err, BaseException) else RuntimeError(str(err))
        firsts.append(FrameOutcome(ref.name, ERROR, 0, 0, not_the_frames_fault(ref, cause)))
    return firsts, rechecks_for(cells, firsts, job)


@task(name="push-flight", task_run_name="push {plan.flight_id}", **RETRY_OPTIONS)
def push_task(plan: FlightPlan, job: ProcessJob) -> dict[str, Any]:
    return asdict(push_flight(plan, job))


class ProgressBar:
    """One line on stderr, redrawn in place on a terminal; silent when stderr is not a terminal (logs, CI)."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.done, self.failed = total, label, 0, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.perf_counter()

    def step(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if not self.enabled:
            return
        width = 30
        filled = round(width * self.done / max(self.total, 1))
        rate = self.done / max(time.perf_counter() - self.started, 1e-6)
        line = (
            f"\r{self.label[:28]:28} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"{rate:.2f} frames/s {self.failed} failed"
        )
        print(line, end="" if self.done < self.total else "\n", file=sys.stderr, flush=True)


class Artifacts:
    """Prefect artifacts, best effort: they are a view of the run, never on its critical path. The first
    failure (the API away, say) is logged once; the run goes on and its summary still counts everything."""

    def __init__(self) -> None:
        self.failed = False
        self.progress_at = time.monotonic()

    def progress(self, artifact: UUID | None, percent: float, final: bool = False) -> None:
        """Move the progress bar, at most every PROGRESS_EVERY_S (each update is a round trip to the API,
        about 0.1 s on a busy machine: per frame it would be a few percent of a flight)."""
        if artifact is None or (not final and time.monotonic() - self.progress_at < PROGRESS_EVERY_S):
            return
        self.progress_at = time.monotonic()
        self(update_progress_artifact, artifact, percent)

    def __call__(self, make: Any, *args: Any, **kwargs: Any) -> Any:
        if self.failed:
            return None
        try:
            return make(*args, **kwargs)
        except Exception as err:
            self.failed = True
            reason = " ".join(str(err).split()) or type(err).__name__
            get_run_logger().warning("artifacts left out for this run (Prefect API: %s)", reason)
            return None


def _run_flight(
    folder: str,
    flight_id: str | None,
    job: ProcessJob,
    show_progress: bool,
    artifacts: Artifacts,
    ahead: int,
    progress: tuple[UUID | None, int, int] | None = None,
) -> FlightSummary:
    """One flight; `progress` is (artifact id, this flight's position, number of flights)."""
    logger = get_run_logger()
    plan: FlightPlan = plan_task(folder, flight_id, job)
    errors = [f"{path}: {reason}" for path, reason in plan.skipped]
    if not plan.frames:
        errors.append(f"{folder}: no photo or video frame to process")
    bar = ProgressBar(len(plan.frames), plan.flight_id, show_progress)
    cells = first_passes(plan, job) if searches_cells(job, plan) else None
    outcomes: list[FrameOutcome] = []
    futures: list[PrefectFuture[FrameOutcome]] = []
    db_failures: list[str] = []  # the current run of frames the database failed, in order
    stopped: tuple[int, str] | None = None  # (frames in a row, the database's answer) when the flight stops
    for k, ref in enumerate(plan.frames):
        while len(futures) <= min(k + ahead, len(plan.frames) - 1) and not stopped:
            n = len(futures)
            if cells is None:
                futures.append(frame_task.submit(plan.frames[n], job))
            else:
                futures.append(cells_frame_task.submit(plan.frames[n], job, cells[0][n], cells[1][n]))
        if k >= len(futures):  # stopped: the rest was never submitted
            break
        outcome, db_error = _outcome_of(ref, futures[k])
        outcomes.append(outcome)
        db_failures = [*db_failures, outcome.error or ""] if db_error else []
        if outcome.error and not db_error:
            errors.append(outcome.error)
        bar.step(outcome.status != DONE)
        if progress is not None and k + 1 < len(plan.frames):  # the flight's end is reported by the flow
            artifact, i, n = progress
            artifacts.progress(artifact, 100.0 * (i + (k + 1) / len(plan.frames)) / n)
        if len(db_failures) >= DB_FAILURES_TO_STOP and not stopped:
            stopped = (len(db_failures), db_failures[-1].split(" (not the frame")[0])
    close_videos_everywhere()
    if stopped:
        left = len(plan.frames) - len(outcomes)
        errors.append(
            f"{plan.flight_id}: stopped after {stopped[0]} frames in a row could not be recorded in the case "
            f"database ({stopped[1]}); {left} more frame(s) not tried, the next run does them"
        )
        logger.error("%s", errors[-1])
    else:
        errors += [e for e in db_failures if e]
    pending = sum(1 for o in outcomes if o.status == ERROR) + len(plan.frames) - len(outcomes)
    if pending:
        # Some frame has no record: pushing now would split the flight over two pushes. The next run
        # finds the recorded frames done and pushes the whole flight once.
        why = "frames without a record: the flight is pushed later"
        return failed_flight(folder, plan.flight_id, why, errors, len(plan.frames), outcomes, pending)
    try:
        pushed = push_task(plan, job)
    except Exception as err:  # after its retries; every frame is recorded: the next run pushes the flight
        reason = err.reason if isinstance(err, PipelineError) else f"{type(err).__name__}: {err}"
        why = f"not pushed: {' '.join(reason.split())}"
        return failed_flight(folder, plan.flight_id, why, errors, len(plan.frames), outcomes)
    push = pushed["push"]
    logger.info(
        "%s: %d frames (%d failed), %d detections, %d new cases, %d updated",
        plan.flight_id,
        len(plan.frames),
        pushed["frames_failed"],
        pushed["detections"],
        push["cases_new"],
        push["cases_updated"],
    )
    complete = pushed["frames_missing"] == 0
    return pushed_flight(plan.flight_id, folder, len(plan.frames), outcomes, errors, push, complete)


def close_videos_everywhere() -> None:
    """The flight's videos closed in this process and, on a Dask cluster, in every worker process (they
    would otherwise hold their handles until the worker stops)."""
    from prefect.context import FlowRunContext

    close_readers()
    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    if type(runner).__name__ != "DaskTaskRunner":
        return
    try:
        runner.client.run(close_readers)  # type: ignore[union-attr]
    except Exception as err:  # a worker gone: its handles went with it
        get_run_logger().warning("could not close videos on the Dask workers: %s", " ".join(str(err).split()))


def _outcome_of(ref: FrameRef, future: PrefectFuture[FrameOutcome]) -> tuple[FrameOutcome, bool]:
    """The frame's outcome, and whether the case database is why it has no record."""
    future.wait()
    if future.state.is_completed():
        return future.result(), False
    # Retries exhausted (the database stayed away) or the task itself failed: no record, the flight stays
    # open and the next run does the frame again.
    err = future.state.result(raise_on_failure=False)
    cause = err if isinstance(err, BaseException) else RuntimeError(str(err))
    return FrameOutcome(ref.name, ERROR, 0, 0, not_the_frames_fault(ref, cause)), is_database_error(cause)


@flow(name="patrol-process", validate_parameters=False, log_prints=False)
def process_flights(
    folders: Sequence[str],
    job: ProcessJob,
    flight_ids: Sequence[str | None] | None = None,
    show_progress: bool = False,
    ahead: int = AHEAD_PER_THREAD,
) -> RunSummary | State[Any]:
    """Process each flight folder (see the module docstring); returns the run summary DESIGN.md names:
    frames frames_failed detections cases_new cases_updated errors seconds, and per flight the same.
    The run ends Failed, with that summary as its data and after its artifacts, when a flight is left
    incomplete: the UI, automations and alerts see what the summary says."""
    started = time.perf_counter()
    logger = get_run_logger()
    logger.info("case database %s, %d flight(s)", job.db, len(folders))
    open_case_db(job)  # once, before any frame fans out (run_process has usually opened it already)
    ids = list(flight_ids) if flight_ids is not None else [None] * len(folders)
    artifacts = Artifacts()
    progress_id = artifacts(create_progress_artifact, 0.0, description="frames processed, all flights")
    progress_id = progress_id if isinstance(progress_id, UUID) else None
    flights: list[FlightSummary] = []
    for i, (folder, fid) in enumerate(zip(folders, ids, strict=True)):
        try:
            flight = _run_flight(
                folder, fid, job, show_progress, artifacts, ahead, (progress_id, i, len(folders))
            )
        except Exception as err:  # one flight's failure (after retries) never stops the others
            reason = err.reason if isinstance(err, PipelineError) else f"{type(err).__name__}: {err}"
            flight = failed_flight(folder, fid or Path(folder).name, " ".join(reason.split()))
        flights.append(flight)
        artifacts.progress(progress_id, 100.0 * (i + 1) / max(len(folders), 1), final=True)
    run = RunSummary(tuple(flights), time.perf_counter() - started)
    artifacts(
        create_table_artifact,
        table=[{k: v for k, v in f.as_dict().items() if k != "errors"} for f in flights],
        key="patrol-process-flights",
        description=f"{len(flights)} flight(s)",
    )
    artifacts(create_markdown_artifact, run.markdown(), key="patrol-process-summary")
    if run.incomplete:
        return Failed(message=incomplete_message(run.incomplete), data=run)
    return run


def incomplete_message(flight_ids: Sequence[str]) -> str:
    shown = ", ".join(flight_ids[:5]) + (f" and {len(flight_ids) - 5} more" if len(flight_ids) > 5 else "")
    return f"{len(flight_ids)} flight(s) incomplete, left for the next run: {shown}"


def task_runner(dask_address: str | None = None, workers: int = 1) -> TaskRunner[Any]:
    """Frames one at a time by default (the model already uses every core); a Dask cluster fans them out."""
    if dask_address:
        import importlib

        # Imported by name: prefect-dask is needed only where a cluster is used.
        module: Any = importlib.import_module("prefect_dask.task_runners")
        runner: TaskRunner[Any] = module.DaskTaskRunner(address=dask_address)
        return runner
    return ThreadPoolTaskRunner(max_workers=max(1, workers))


def api_url() -> str | None:
    """The Prefect server this process reports to; None: a run here starts Prefect's temporary one."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def summary_record(state: State[Any]) -> RunSummary | NightSummary:
    """The summary a finished run carries, Completed or Failed; what made it crash, raised."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    if not isinstance(result, RunSummary | NightSummary):
        raise RuntimeError(f"the run ended {state.type.value} without a summary: {state.message}")
    return result


def summary_of(state: State[Any]) -> dict[str, Any]:
    """The summary a finished run carries, as its JSON (what the CLI prints)."""
    return summary_record(state).as_dict()


def run_process(folders: Sequence[str], job: ProcessJob, **options: Any) -> dict[str, Any]:
    """Entry point for the CLI: process_run's summary as its JSON (the same keyword options)."""
    return process_run(folders, job, **options).as_dict()


def process_run(
    folders: Sequence[str],
    job: ProcessJob,
    *,
    flight_ids: Sequence[str | None] | None = None,
    show_progress: bool = False,
    dask_address: str | None = None,
    workers: int = 1,
) -> RunSummary:
    """The case database opened (and migrated) once, here, before the flow and before any fan-out; then
    the flow with the chosen task runner; its summary."""
    open_case_db(job)
    ahead = AHEAD_ON_DASK if dask_address else AHEAD_PER_THREAD * max(1, workers)
    configured = process_flights.with_options(task_runner=task_runner(dask_address, workers))
    state = configured(list(folders), job, flight_ids, show_progress, ahead, return_state=True)
    run = summary_record(state)
    if not isinstance(run, RunSummary):
        raise RuntimeError(f"patrol-process ended {state.type.value} with a night's summary")
    return run
