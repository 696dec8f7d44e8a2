"""Never lose, never duplicate: a real `patrol process` killed with SIGKILL at several points, then rerun,
leaves exactly the cases of an uninterrupted run, and frames already recorded are not detected again."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flow_helpers import FAKE_PATROL, case_rows, copy_flight, env_with_fakes, make_job

from flows.process_flight import run_process


def _recorded(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM processed_frames").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def _kill_after(argv: list[str], env: dict[str, str], db: Path, frames: int, cwd: Path) -> int:
    """Start `patrol process`, SIGKILL it once `frames` frames are recorded; the frames recorded then."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while _recorded(db) < frames and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return _recorded(db)


@pytest.mark.slow
def test_sigkill_at_several_points_then_rerun_gives_the_uninterrupted_cases(
    tmp_path: Path, prefect_api_url: str
) -> None:
    flights = [
        copy_flight("nadir_mapping", tmp_path / "nadir", photos=4),
        copy_flight("video_patrol", tmp_path / "video"),
    ]
    folders = [str(f) for f in flights]
    reference = make_job(tmp_path / "ref")
    expected = run_process(folders, reference)
    total = expected["frames"]
    assert expected["cases_new"] > 0

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    db = crashed / "cases.sqlite3"
    job = make_job(crashed)
    env = env_with_fakes(prefect_api_url)
    env["PATROL_DATA_ROOT"] = job.data_root
    argv = [sys.executable, str(FAKE_PATROL), "--slow", "process", *folders, "--db", f"sqlite:///{db}"]
    argv += ["--json"]
    recorded = []
    for point in (1, 3, total):  # early, mid-flight, with every frame recorded (around the push)
        recorded.append(_kill_after(argv, env, db, point, crashed))
    assert 1 <= recorded[0] < total and recorded == sorted(recorded)

    before = _recorded(db)
    resumed = run_process(folders, job)  # same model version: the fast twin of the killed runs' detector
    assert sum(f["frames_reused"] for f in resumed["flights"]) == before
    assert _recorded(db) == total  # one record per frame, however often it was interrupted
    assert case_rows(job.db_url) == case_rows(reference.db_url)
    with sqlite3.connect(db) as conn:
        sightings = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
    with sqlite3.connect(tmp_path / "ref" / "cases.sqlite3") as conn:
        assert sightings == conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
