"""The README's several-machines steps, literally, on loopback: a Prefect server with its own home on a free
port, the work pool, `prefect deploy --all` from prefect.yaml, the zombie automation, a worker with its own
PATROL_DB_URL (a fresh PostgreSQL database), a run over an inbox with the shipped model, the cases checked;
then a flight left incomplete (the data root gone) ends the run Failed."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flow_helpers import ROOT, SAMPLES, case_rows

from pipeline.config import PREFECT_STARTUP_TIMEOUT_S

BIN = Path(sys.executable).parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without the test session's Prefect and patrol settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PATROL_"))}
    return {**env, **QUIET, **extra}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`prefect server start` on a free loopback port, with its own PREFECT_HOME; its API URL."""
    port = _free_port()
    env = _clean_env(PREFECT_HOME=str(tmp_path / "server-home"), PREFECT_SERVER_UI_ENABLED="false")
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + PREFECT_STARTUP_TIMEOUT_S  # a minute and more on a busy 2-core machine
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"the Prefect server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _prefect(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}: {done.stdout[-1500:]} {done.stderr[-1500:]}"
    return done.stdout


def _upload(photos: list[str], src: Path, inbox: Path) -> str:
    src.mkdir(parents=True)
    for name in photos:
        shutil.copy2(SAMPLES / "nadir_mapping" / name, src / name)
    done = subprocess.run(
        [str(BIN / "patrol"), "upload", str(src), "--inbox", str(inbox), "--json"],
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout.splitlines()[-1])["flight_id"])


def _run_and_wait(cli_env: dict[str, str], api: str, timeout_s: float = 150) -> Any:
    """`prefect deployment run patrol-nightly/patrol-nightly`; the run, once it has finished."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    out = _prefect(["deployment", "run", "patrol-nightly/patrol-nightly"], cli_env)
    run_id = UUID.findall(out)[-1]
    deadline = time.monotonic() + timeout_s
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run
            assert time.monotonic() < deadline, f"the run is still {run.state_name}"
            time.sleep(1)


@pytest.mark.slow
def test_the_readmes_work_pool_steps_run_a_night_on_loopback(
    tmp_path: Path, server: str, pg_url: str
) -> None:
    recipe = (ROOT / "prefect.yaml").read_bytes()
    assert not (ROOT / ".prefect").exists()
    cli_env = _clean_env(
        PREFECT_API_URL=server, PREFECT_HOME=str(tmp_path / "cli-home"), PATROL_HOME=str(ROOT)
    )
    _prefect(["work-pool", "create", "patrol-process", "--type", "process"], cli_env)
    _prefect(["deploy", "--all"], cli_env)
    _prefect(["automation", "create", "--from-file", "flows/crash-zombies.yaml"], cli_env)

    # The worker machine: its own home, case database, data root and inbox; nothing from the deployment.
    inbox, data_root = tmp_path / "inbox", tmp_path / "data"
    worker_env = _clean_env(
        PREFECT_API_URL=server,
        PREFECT_HOME=str(tmp_path / "worker-home"),
        PREFECT_WORKER_QUERY_SECONDS="1",
        PATROL_DB_URL=pg_url,
        PATROL_DATA_ROOT=str(data_root),
        PATROL_INBOX=str(inbox),
    )
    first = _upload(["DJI_0001.JPG", "DJI_0002.JPG"], tmp_path / "mon", inbox)
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "patrol-process"],
        env=worker_env,
        cwd=tmp_path,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        run = _run_and_wait(cli_env, server)
        log = (tmp_path / "worker.log").read_text
        assert run.state.is_completed(), f"{run.state_name}: {run.state.message}\n{log()[-3000:]}"
        assert run.parameters == {}  # no database URL, no data root, no placeholder inbox
        cases = case_rows(pg_url)
        assert cases, "the shipped model found nothing in two nadir frames"
        with_pool = run.work_pool_name
        assert with_pool == "patrol-process"

        # The next night: a new flight, but the data root is gone (a disk not mounted): its frames with a
        # detection cannot be kept, the flight stays open, and the run says so.
        second = _upload(["DJI_0003.JPG", "DJI_0004.JPG"], tmp_path / "tue", inbox)
        shutil.rmtree(data_root)
        data_root.write_text("not a folder: the disk is not mounted")
        run = _run_and_wait(cli_env, server)
        assert run.state.is_failed(), f"{run.state_name}: {run.state.message}\n{log()[-3000:]}"
        assert run.state.message == f"1 flight(s) incomplete, left for the next run: {second}"
        assert case_rows(pg_url) == cases  # nothing of the open flight reached the queue
        assert first != second
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        worker_log.close()
    # Deploying wrote nothing into the repository.
    assert (ROOT / "prefect.yaml").read_bytes() == recipe and not (ROOT / ".prefect").exists()
