"""The case database failing: found at once (before the flow, one line), a flight stopped after a few frames
in a row could not be recorded (one line, the rest not tried), and a fresh PostgreSQL database opened by
several processes at once (Dask workers starting together) migrated once, by one of them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flow_helpers import case_rows, copy_flight, make_job, use_fake_model


def test_an_unreachable_database_is_one_line_before_any_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import main

    use_fake_model(monkeypatch)
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=1)
    started = time.perf_counter()
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    code = main(["process", str(flight), "--db", "postgresql://patrol:pw@127.0.0.1:1/patrol", "--json"])
    err = capsys.readouterr()
    assert code == 2 and err.out == ""  # no summary: no flow ran
    line = err.err.strip()
    assert line.startswith("patrol: error: postgresql+psycopg://patrol:***@127.0.0.1:1/patrol: cannot open")
    assert "\n" not in line and "pw" not in line.replace("psycopg", "")
    assert time.perf_counter() - started < 20


def test_a_flight_stops_after_three_frames_in_a_row_the_database_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import flows.process_flight as pf
    from pipeline.cases import progress

    calls: list[str] = []

    def refused(sessions: Any, flight_id: str, version: str, record: Any) -> Any:
        calls.append(record.frame_path)
        raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(progress, "save_frame", refused)
    monkeypatch.setattr(pf, "frame_task", pf.frame_task.with_options(retries=1, retry_delay_seconds=0))
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=8)
    summary = pf.run_process([str(flight)], make_job(tmp_path))
    (result,) = summary["flights"]
    assert not result["complete"] and result["frames_failed"] == 0 and result["frames_pending"] == 8
    # Three frames in a row (two tries each), plus the frames already handed out ahead of them (two).
    assert len(calls) == 2 * 5
    stop = [e for e in summary["errors"] if "stopped after" in e]
    assert len(stop) == 1 and "frames in a row could not be recorded in the case database" in stop[0]
    assert "server closed the connection unexpectedly" in stop[0] and "3 more frame(s) not tried" in stop[0]
    assert not any("not the frame's fault" in e for e in summary["errors"])  # one line, not one a frame


_OPEN = """
import sys, time
from pipeline.cases.db import open_db
start = float(sys.argv[2])
while time.time() < start:
    pass
open_db(sys.argv[1])
print("opened")
"""


def test_several_processes_opening_one_fresh_postgresql_database_at_once_all_succeed(pg_url: str) -> None:
    from sqlalchemy import text

    from pipeline.cases.db import make_engine

    start = time.time() + 4.0  # every process imported and waiting, then all open at the same instant
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, pg_url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-400:] for _, err in results]
    assert all(out.strip() == "opened" for out, _ in results)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    heads = sorted(p.stem.split("_")[0] for p in _versions())
    assert len(versions) == 1 and versions[0].startswith(heads[-1])


def _versions() -> list[Path]:
    from pipeline.cases.db import MIGRATIONS

    return [p for p in (MIGRATIONS / "versions").glob("[0-9]*.py")]


def test_a_flow_on_a_fresh_postgresql_database_fans_out_over_threads(tmp_path: Path, pg_url: str) -> None:
    """Migrated once before the frames fan out over four threads: none of them trips over another."""
    from flows.process_flight import run_process

    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=4)
    summary = run_process([str(flight)], make_job(tmp_path, db_url=pg_url), workers=4)
    assert summary["flights"][0]["complete"] and summary["errors"] == []
    assert len(case_rows(pg_url)) == summary["cases_new"] > 0
