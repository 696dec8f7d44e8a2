"""`patrol serve`: the nightly flow as a deployment on a cron schedule, served from this process.

Prefect schedules runs only through a real API server (`prefect server start`, PREFECT_API_URL pointing at
it); this process then polls it and runs each scheduled night here. For workers on other machines, use the
work-pool deployment in prefect.yaml instead (README).
"""

from __future__ import annotations

from typing import Any

from prefect import serve
from prefect.schedules import Cron

from flows.nightly import nightly_flow
from pipeline.errors import PipelineError
from pipeline.process import ProcessJob

DEPLOYMENT = "patrol-nightly"


def nightly_deployment(
    inbox: str, job: ProcessJob, *, cron: str, timezone: str, dask_address: str | None = None
) -> Any:
    """The deployment `serve` runs: the nightly flow, its schedule, and JSON parameters a run is made with."""
    return nightly_flow.to_deployment(
        name=DEPLOYMENT,
        schedule=Cron(cron, timezone=timezone),
        parameters={"inbox": inbox, "db_url": job.db_url, "model": job.model, "dask_address": dask_address},
        description=f"Every new flight in {inbox}, nightly ({cron}, {timezone}).",
    )


def serve_nightly(
    inbox: str, job: ProcessJob, *, cron: str, timezone: str, dask_address: str | None = None
) -> None:
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise PipelineError(
            "schedules need a Prefect server: run `prefect server start` and set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api)"
        )
    serve(nightly_deployment(inbox, job, cron=cron, timezone=timezone, dask_address=dask_address))
