"""No credentials in what Prefect stores: a run over a case database whose URL carries a password leaves it
in none of the flow runs' parameters, the task runs, the logs or the artifacts the server keeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flow_helpers import copy_flight, make_job

from pipeline.config import DatabaseUrl, safe_url

PASSWORD = "pw-never-shown-7f3a"


def _everything_stored_for(flow_run_id: Any) -> str:
    """The flow run and its subflow runs, their task runs, logs and artifacts, as the API returns them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    parts: list[str] = []
    with get_client(sync_client=True) as client:
        runs = [client.read_flow_run(flow_run_id)]
        parent_tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))
        )
        runs += children
        ids = [r.id for r in runs]
        parts += [r.model_dump_json() for r in runs]
        parts += [t.model_dump_json() for t in parent_tasks]
        parts += [
            t.model_dump_json()
            for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        ]
        parts += [
            log.model_dump_json()
            for log in client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        ]
        parts += [
            a.model_dump_json()
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
            )
        ]
    assert len(parts) > 5
    return "\n".join(parts)


def _with_password(pg_url: str) -> str:
    """The same database with a password in its URL (trust auth: the server accepts, and ignores, it)."""
    return pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def test_the_database_password_is_in_nothing_prefect_stores(tmp_path: Path, pg_url: str) -> None:
    from flows.process_flight import process_flights, summary_of

    url = _with_password(pg_url)
    assert url != pg_url
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=2)
    job = make_job(tmp_path, db_url=url)
    state = process_flights([str(flight)], job, return_state=True)
    assert summary_of(state)["cases_new"] > 0
    stored = _everything_stored_for(state.state_details.flow_run_id)
    assert PASSWORD not in stored
    assert safe_url(url) in stored  # which database it was is still there for the operator


def test_the_nightly_run_keeps_it_out_too(tmp_path: Path, pg_url: str, monkeypatch: Any) -> None:
    from flows.nightly import nightly_flow
    from flows.process_flight import summary_of
    from pipeline.cli import main

    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    url = _with_password(pg_url)
    inbox = tmp_path / "inbox"
    assert (
        main(["upload", str(copy_flight("nadir_mapping", tmp_path / "s", photos=1)), "--inbox", str(inbox)])
        == 0
    )
    state = nightly_flow(str(inbox), job=make_job(tmp_path, db_url=url), return_state=True)
    assert summary_of(state)["flights_processed"] == 1
    assert PASSWORD not in _everything_stored_for(state.state_details.flow_run_id)


def test_a_database_url_shows_itself_masked() -> None:
    url = DatabaseUrl(f"postgresql://patrol:{PASSWORD}@db.internal:5432/patrol?sslpassword={PASSWORD}")
    for shown in (str(url), repr(url), f"{url}"):
        assert PASSWORD not in shown and "patrol:***@db.internal:5432/patrol" in shown
    assert url.get_secret_value().startswith(f"postgresql://patrol:{PASSWORD}@")
