"""`patrol serve`: the deployment it serves, and the clear refusal without a Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_helpers import FAKE, make_job

from pipeline.cli import main


def test_nightly_deployment_runs_at_two_in_shanghai_by_default(tmp_path: Path) -> None:
    from flows.serve import nightly_deployment
    from pipeline.process_commands import DEFAULT_CRON, DEFAULT_TZ

    job = make_job(tmp_path)
    dep = nightly_deployment(str(tmp_path / "inbox"), job, cron=DEFAULT_CRON, timezone=DEFAULT_TZ)
    (schedule,) = dep.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert dep.parameters["inbox"] == str(tmp_path / "inbox") and dep.parameters["db_url"] == job.db_url


def test_serve_without_a_server_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: None}):
        code = main(
            ["serve", "--inbox", str(tmp_path), "--model", FAKE, "--db", f"sqlite:///{tmp_path}/c.db"]
        )
    assert code == 2
    assert "prefect server start" in capsys.readouterr().err
