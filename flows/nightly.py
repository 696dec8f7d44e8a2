"""`patrol-nightly`: every complete, not yet processed flight in the inbox, then a summary of the night.

The inbox scan (pipeline.inbox) checks each upload against its manifest; a folder still being written or
changed since its upload is reported and left for the next night. Ready flights go through the flight flow
(flows.process_flight), which isolates them from each other's failures; a flight becomes "done" only once
all its frames are recorded and its sightings pushed, so a crashed night is simply resumed the next time.

Parameters are plain JSON (inbox, database URL, model, Dask address) so that a deployment on a work pool can
pass them; everything else comes from the worker's environment (PATROL_*).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.process_flight import RETRY_OPTIONS, run_process
from pipeline.cases import progress
from pipeline.inbox import CHANGED, DONE, READY, WAITING, InboxFlight, scan_inbox
from pipeline.process import ProcessJob, default_job, sessions_for


@task(name="scan-inbox", **RETRY_OPTIONS)
def scan_task(inbox: str, job: ProcessJob) -> list[InboxFlight]:
    def finished(ids: list[str]) -> set[str]:
        with sessions_for(job.db_url)() as session:
            return progress.finished_flights(session, ids)

    return scan_inbox(Path(inbox), finished)


def night_text(night: dict[str, Any]) -> str:
    lines = [
        f"night of {night['started_at']}: {night['flights_processed']} flight(s) processed "
        f"({night['flights_failed']} incomplete), {night['flights_done_before']} done on earlier nights, "
        f"{night['flights_waiting']} waiting for their upload, "
        f"{night['flights_changed']} changed since upload",
        f"{night['frames']} frames ({night['frames_failed']} failed), {night['detections']} detections, "
        f"{night['cases_new']} new cases, {night['cases_updated']} updated, {night['seconds']} s",
    ]
    lines += [f"  left for later: {f['folder']}: {f['reason']}" for f in night["left"]]
    lines += [f"  problem: {e}" for e in night["errors"][:50]]
    return "\n".join(lines)


@flow(name="patrol-nightly", validate_parameters=False)
def nightly_flow(
    inbox: str,
    db_url: str | None = None,
    model: str | None = None,
    dask_address: str | None = None,
    workers: int = 1,
    job: ProcessJob | None = None,
) -> dict[str, Any]:
    """Process the inbox once (module docstring); returns the night's summary (also a markdown artifact)."""
    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%d %H:%M:%S %z")
    job = job or default_job(db_url, model)
    flights = scan_task(inbox, job)
    ready = [f for f in flights if f.status == READY]
    left = [f for f in flights if f.status in (WAITING, CHANGED)]
    logger = get_run_logger()
    for f in left:
        logger.warning("left for the next night: %s: %s", f.folder, f.reason)
    if ready:
        run = run_process(
            [f.folder for f in ready],
            job,
            flight_ids=[f.flight_id for f in ready],
            dask_address=dask_address,
            workers=workers,
        )
    else:
        run = {"flights": [], "errors": []}
    processed = run["flights"]
    night: dict[str, Any] = {
        "inbox": inbox,
        "started_at": started_at,
        "flights_processed": len(processed),
        "flights_failed": sum(1 for f in processed if not f["complete"]),
        "flights_done_before": sum(1 for f in flights if f.status == DONE),
        "flights_waiting": sum(1 for f in flights if f.status == WAITING),
        "flights_changed": sum(1 for f in flights if f.status == CHANGED),
        "left": [{"folder": f.folder, "status": f.status, "reason": f.reason} for f in left],
        "flights": processed,
        "errors": run["errors"],
    }
    for name in ("frames", "frames_failed", "frames_pending", "detections", "cases_new", "cases_updated"):
        night[name] = sum(int(f[name]) for f in processed)
    night["seconds"] = round(time.perf_counter() - started, 2)
    night["text"] = night_text(night)
    create_markdown_artifact(
        "# patrol: the night's run\n\n```\n" + night["text"] + "\n```", key="patrol-night-summary"
    )
    return night


def run_nightly(
    inbox: str, job: ProcessJob, dask_address: str | None = None, workers: int = 1
) -> dict[str, Any]:
    result: dict[str, Any] = nightly_flow(inbox, dask_address=dask_address, workers=workers, job=job)
    return result
