"""`patrol serve`: the nightly flow as a deployment on a cron schedule, served from this process.

Prefect schedules runs only through a real API server (`prefect server start`, PREFECT_API_URL pointing at
it); this process then polls it and runs each scheduled night in a child process, which inherits this
process's environment (so `--db` reaches it as PATROL_DB_URL, never as a stored parameter). For workers on
other machines, use the work-pool deployment in prefect.yaml instead (README). The two have different names,
so serving never replaces (nor, on exit, pauses) the work pool's deployment.
"""

from __future__ import annotations

from typing import Any

from prefect import serve
from prefect.schedules import Cron

from flows.nightly import nightly_flow
from pipeline.config import export_env
from pipeline.errors import PipelineError

DEPLOYMENT = "patrol-nightly-served"  # prefect.yaml's work-pool deployment is "patrol-nightly"


def nightly_deployment(inbox: str, options: dict[str, Any], *, cron: str, timezone: str) -> Any:
    """The deployment `serve` runs: the nightly flow, its schedule and the JSON parameters of each run:
    the inbox and `options` (model, backend, threads, conf, overlap, workers, dask_address), no secrets."""
    return nightly_flow.to_deployment(
        name=DEPLOYMENT,
        schedule=Cron(cron, timezone=timezone),
        parameters={"inbox": inbox, **{k: v for k, v in options.items() if v is not None}},
        description=f"Every new flight in {inbox}, nightly ({cron}, {timezone}).",
    )


def serve_nightly(
    inbox: str, options: dict[str, Any], *, cron: str, timezone: str, db_url: str | None = None
) -> None:
    """Serve until interrupted. `db_url` (`--db`): each served run is a child of this process and
    inherits its environment, so the URL reaches it there, never as a parameter the server stores."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise PipelineError(
            "schedules need a Prefect server: run `prefect server start` and set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api)"
        )
    if db_url:
        export_env(forced={"PATROL_DB_URL": db_url})
    serve(nightly_deployment(inbox, options, cron=cron, timezone=timezone))
