"""`patrol serve`: the deployment it registers (its own name, the flags as parameters, no credentials), and
the clear refusal without a Prefect server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from flow_helpers import ROOT

from pipeline.cli import main


def test_nightly_deployment_runs_at_two_in_shanghai_by_default_under_its_own_name(tmp_path: Path) -> None:
    from flows.serve import DEPLOYMENT, nightly_deployment
    from pipeline.config import DEFAULT_CRON, DEFAULT_TZ

    dep = nightly_deployment(str(tmp_path / "inbox"), {"conf": 0.4}, cron=DEFAULT_CRON, timezone=DEFAULT_TZ)
    (schedule,) = dep.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
    assert dep.parameters == {"inbox": str(tmp_path / "inbox"), "conf": 0.4}
    pool = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert DEPLOYMENT not in {d["name"] for d in pool["deployments"]}  # serving never replaces the pool's


@pytest.mark.slow
def test_serve_registers_its_flags_as_parameters_and_never_the_database_url(
    tmp_path: Path, prefect_api_url: str
) -> None:
    """A real `patrol serve` against the session's Prefect server, stopped once its deployment exists."""
    from prefect.client.orchestration import get_client

    from flows.serve import DEPLOYMENT

    secret = "s3rve-pw"
    env = dict(os.environ, PREFECT_API_URL=prefect_api_url)
    argv = [sys.executable, "-m", "pipeline.cli", "serve", "--inbox", str(tmp_path / "inbox")]
    argv += ["--conf", "0.45", "--backend", "onnx", "--threads", "1", "--overlap", "0.7", "--workers", "2"]
    argv += ["--search", "cells"]
    argv += ["--dask", "tcp://127.0.0.1:1", "--cron", "30 3 * * *", "--timezone", "Asia/Urumqi"]
    argv += ["--db", f"postgresql://patrol:{secret}@db.invalid/patrol"]
    proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        with get_client(sync_client=True) as client:
            while True:
                found = [d for d in client.read_deployments() if d.name == DEPLOYMENT]
                if found or proc.poll() is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert found, err
    (dep,) = found
    assert dep.parameters == {
        "inbox": str(tmp_path / "inbox"),
        "backend": "onnx",
        "threads": 1,
        "conf": 0.45,
        "overlap": 0.7,
        "workers": 2,
        "dask_address": "tcp://127.0.0.1:1",
        "search": "cells",
    }
    (schedule,) = dep.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("30 3 * * *", "Asia/Urumqi")
    assert secret not in dep.model_dump_json() and "db.invalid" not in dep.model_dump_json()


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--conf", "1.5"], "conf must be in (0, 1)"),
        (["--backend", "onnx", "--threads", "0"], "threads must be at least 1"),
        (["--overlap", "1.2"], "video overlap must be in [0, 1)"),
        (["--cron", "every night"], "--cron must be a cron expression"),
        (["--timezone", "Mars/Olympus"], "--timezone must be a time zone"),
        (["--json"], "prints no summary"),
    ],
)
def test_serve_refuses_a_bad_flag_in_one_line_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], reason: str
) -> None:
    code = main(["serve", "--inbox", str(tmp_path), "--db", f"sqlite:///{tmp_path}/c.db", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2 and reason in err and "\n" not in err


def test_serve_without_a_server_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: None}):
        code = main(["serve", "--inbox", str(tmp_path), "--db", f"sqlite:///{tmp_path}/c.db"])
    assert code == 2
    assert "prefect server start" in capsys.readouterr().err
