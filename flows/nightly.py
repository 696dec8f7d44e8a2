"""`patrol-nightly`: every complete, not yet processed flight in the inbox, then a summary of the night.

The inbox scan (pipeline.inbox) checks each upload against its manifest; a folder still being written or
changed since its upload is reported and left for the next night. Ready flights go through the flight flow
(flows.process_flight), which isolates them from each other's failures; a flight becomes "done" only once
all its frames are recorded and its sightings pushed, so a crashed night is simply resumed the next time.
A night with an incomplete flight ends Failed, after writing its summary artifact.

Parameters are plain JSON without credentials (a deployment's parameters are stored and shown by the
Prefect server): the inbox, the model card and detection options, the Dask address. The case database, the
data root and the rest come from the environment of the machine the run lands on (PATROL_*), or the URL
from a Prefect Secret block named by `db_url_secret`. `patrol nightly` passes its own job instead (its
database URL is masked wherever Prefect shows it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State
from prefect.states import Failed

from flows.process_flight import RETRY_OPTIONS, Artifacts, incomplete_message, process_run
from pipeline.cases import progress
from pipeline.errors import PipelineError
from pipeline.inbox import CHANGED, DONE, READY, WAITING, InboxFlight, scan_inbox
from pipeline.night import night_started_at
from pipeline.process import ProcessJob, default_job, open_case_db, sessions_for
from pipeline.run_summary import LeftFlight, NightSummary


@task(name="scan-inbox", **RETRY_OPTIONS)
def scan_task(inbox: str, job: ProcessJob) -> list[InboxFlight]:
    def finished(ids: list[str]) -> set[str]:
        with sessions_for(job.db_url)() as session:
            return progress.finished_flights(session, ids)

    return scan_inbox(Path(inbox), finished)


def _secret_url(block: str) -> str:
    """The case database URL kept in a Prefect Secret block (loaded on the worker, never a parameter)."""
    from prefect.blocks.system import Secret

    try:
        secret: Any = Secret.load(block)  # sync here: the sync/async-compatible API answers the block
        value = secret.get()
    except ValueError as err:  # Prefect's answer for a block that does not exist
        raise PipelineError(f"no Prefect Secret block {block!r}: {' '.join(str(err).split())}") from None
    if not isinstance(value, str) or not value:
        raise PipelineError(f"the Prefect Secret block {block!r} does not hold a database URL")
    return value


@flow(name="patrol-nightly", validate_parameters=False)
def nightly_flow(
    inbox: str | None = None,
    model: str | None = None,
    backend: str = "auto",
    threads: int | None = None,
    conf: float | None = None,
    overlap: float | None = None,
    search: str = "every",
    workers: int = 1,
    dask_address: str | None = None,
    db_url_secret: str | None = None,
    job: ProcessJob | None = None,
) -> NightSummary | State[Any]:
    """Process the inbox once (module docstring); returns the night's summary (also a markdown artifact).
    `inbox` None: this machine's PATROL_INBOX (else PATROL_DATA_ROOT/inbox)."""
    from pipeline.config import load_settings

    started = time.perf_counter()
    settings = load_settings()
    if job is not None and not isinstance(job, ProcessJob):
        raise PipelineError("`job` is for `patrol nightly` only; a deployment run passes plain options")
    if job is None:
        db_url = _secret_url(db_url_secret) if db_url_secret else None
        job = default_job(
            db_url,
            model,
            backend=backend,
            threads=threads,
            conf=conf,
            overlap=overlap,
            search=search,
            settings=settings,
        )
    inbox = inbox or str(settings.inbox_dir)
    dask_address = dask_address or settings.dask_address
    logger = get_run_logger()
    open_case_db(job)  # a wrong or unreachable database: one line, before anything else
    started_at = night_started_at(job.local_tz)
    flights = scan_task(inbox, job)
    ready = [f for f in flights if f.status == READY]
    left = [f for f in flights if f.status in (WAITING, CHANGED)]
    for f in left:
        logger.warning("left for the next night: %s: %s", f.folder, f.reason)
    run = None
    if ready:
        run = process_run(
            [f.folder for f in ready],
            job,
            flight_ids=[f.flight_id for f in ready],
            dask_address=dask_address,
            workers=workers,
        )
    night = NightSummary(
        inbox,
        started_at,
        flights_done_before=sum(1 for f in flights if f.status == DONE),
        flights_waiting=sum(1 for f in flights if f.status == WAITING),
        flights_changed=sum(1 for f in flights if f.status == CHANGED),
        left=tuple(LeftFlight(f.folder, f.status, f.reason) for f in left),
        run=run,
        seconds=time.perf_counter() - started,
    )
    Artifacts()(
        create_markdown_artifact,
        "# patrol: the night's run\n\n```\n" + night.text() + "\n```",
        key="patrol-night-summary",
    )
    if run is not None and run.incomplete:
        return Failed(message=incomplete_message(run.incomplete), data=night)
    return night


def run_nightly(
    inbox: str, job: ProcessJob, dask_address: str | None = None, workers: int = 1
) -> dict[str, Any]:
    from flows.process_flight import summary_of

    state = nightly_flow(inbox, dask_address=dask_address, workers=workers, job=job, return_state=True)
    return summary_of(state)
