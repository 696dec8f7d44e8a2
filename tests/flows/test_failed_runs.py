"""Runs that look like what they did: a run with an incomplete flight ends Failed (after its artifacts, with
its summary), and artifacts are best effort: a Prefect API that refuses them costs the run nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from flow_fakes import ExplodingDetector
from flow_helpers import copy_flight, make_job


def _artifacts_of(run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.type: a for a in found}


def test_a_flight_left_incomplete_ends_the_run_failed_after_its_artifacts(tmp_path: Path) -> None:
    from flows.process_flight import process_flights, summary_of

    good = copy_flight("nadir_mapping", tmp_path / "good", photos=1)
    job = make_job(tmp_path)
    state = process_flights([str(good)], job, return_state=True)
    assert state.is_completed() and summary_of(state)["flights"][0]["complete"]

    bad = make_job(tmp_path / "bad", detector=ExplodingDetector)  # a model that cannot run: frames pending
    state = process_flights([str(good)], bad, return_state=True)
    assert state.is_failed()
    assert state.message.startswith("1 flight(s) incomplete, left for the next run: ")
    summary = summary_of(state)  # the Failed run still carries what it counted
    assert (summary["frames"], summary["frames_pending"]) == (1, 1)
    artifacts = _artifacts_of(state.state_details.flow_run_id)
    assert set(artifacts) >= {"progress", "table", "markdown"}
    assert "1 left for the next run" in str(artifacts["markdown"].data)


def test_an_incomplete_night_ends_failed_with_its_summary_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.nightly import nightly_flow
    from flows.process_flight import summary_of
    from pipeline.cli import main

    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    inbox = tmp_path / "inbox"
    src = copy_flight("nadir_mapping", tmp_path / "src", photos=1)
    assert main(["upload", str(src), "--inbox", str(inbox), "--json"]) == 0
    state = nightly_flow(str(inbox), job=make_job(tmp_path, detector=ExplodingDetector), return_state=True)
    assert state.is_failed() and "1 flight(s) incomplete" in str(state.message)
    night = summary_of(state)
    assert (night["flights_processed"], night["flights_failed"], night["frames_pending"]) == (1, 1, 1)
    markdown = _artifacts_of(state.state_details.flow_run_id)["markdown"]
    assert "(1 incomplete)" in str(markdown.data) and "1 left for the next run" in str(markdown.data)


def test_artifacts_the_api_refuses_cost_the_run_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What a Prefect server that went away answers (httpx.ConnectError) on every artifact call."""
    import flows.process_flight as pf

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise httpx.ConnectError("All connection attempts failed")

    for name in (
        "create_progress_artifact",
        "update_progress_artifact",
        "create_table_artifact",
        "create_markdown_artifact",
    ):
        monkeypatch.setattr(pf, name, unreachable)
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=4)
    summary = pf.run_process([str(flight)], make_job(tmp_path))
    assert summary["frames"] == 4 and summary["flights"][0]["complete"] and summary["cases_new"] > 0
    warned = [r.getMessage() for r in caplog.records if "artifacts left out" in r.getMessage()]
    assert warned == ["artifacts left out for this run (Prefect API: All connection attempts failed)"]


def test_the_night_is_told_in_the_bureaus_zone_whatever_the_machines() -> None:
    from datetime import UTC, datetime

    from pipeline.night import night_started_at

    moment = datetime(2026, 12, 1, 18, 0, 3, tzinfo=UTC)  # 02:00:03 the next day in Shanghai (UTC+8)
    assert night_started_at("Asia/Shanghai", moment) == "2026-12-02 02:00:03 +0800"
    assert night_started_at("Europe/London", moment) == "2026-12-01 18:00:03 +0000"


def test_a_push_that_fails_still_counts_the_recorded_frames_and_the_next_run_pushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flow_helpers import case_rows
    from sqlalchemy.exc import OperationalError

    import flows.process_flight as pf

    real = pf.push_flight

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("INSERT", {}, Exception("could not connect to server: Connection refused"))

    monkeypatch.setattr(pf, "push_flight", refused)
    monkeypatch.setattr(pf, "push_task", pf.push_task.with_options(retries=0))
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=4)
    job = make_job(tmp_path)
    first = pf.run_process([str(flight)], job)
    (result,) = first["flights"]
    assert not result["complete"] and (result["frames"], result["frames_pending"]) == (4, 0)
    assert result["detections"] > 0 and case_rows(job.db_url) == []
    assert any("not pushed: " in e and "Connection refused" in e for e in first["errors"])
    monkeypatch.setattr(pf, "push_flight", real)
    second = pf.run_process([str(flight)], job)
    assert (
        second["flights"][0]["frames_reused"] == 4 and second["cases_new"] == len(case_rows(job.db_url)) > 0
    )
