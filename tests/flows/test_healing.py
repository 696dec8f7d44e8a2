"""Failures that heal: only a frame's own faults (undecodable, no pixels, a pixel bomb) are final. A model or
runtime failure, or a full disk under the evidence crops, leaves the frame without a record and the flight
open; the next run does it and gives exactly the cases an undisturbed run gives; exit codes say the truth."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from flow_fakes import FailsThenWorksDetector
from flow_helpers import case_rows, copy_flight, make_job
from pytest import MonkeyPatch

from flows.process_flight import run_process


def _statuses(db_url: str) -> list[str]:
    from sqlalchemy import select

    from pipeline.cases.db import make_engine
    from pipeline.cases.models import ProcessedFrame

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(select(ProcessedFrame.status)).scalars())
    finally:
        engine.dispose()


def test_a_detector_that_fails_once_then_works_gives_the_full_cases_on_rerun(
    tmp_path: Path, monkeypatch: MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pipeline.process as process
    from pipeline.cli import main

    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=2)
    expected = run_process([str(flight)], make_job(tmp_path / "ref"))
    assert expected["cases_new"] > 0
    reference = case_rows(make_job(tmp_path / "ref").db_url)

    detector = FailsThenWorksDetector(failures=1)
    monkeypatch.setattr(process, "detector_for", lambda *args, **kw: (detector, detector.version))
    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")  # restored afterwards (the CLI sets a default)
    db_url = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
    argv = ["process", str(flight), "--db", db_url, "--json"]

    assert main(argv) == 1  # the run says it is not done
    first = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (first["frames"], first["frames_failed"], first["frames_pending"]) == (2, 0, 1)
    assert first["cases_new"] == 0 and not first["flights"][0]["complete"]
    assert any("CUDA out of memory" in e and "the next run does it again" in e for e in first["errors"])
    assert _statuses(db_url) == ["done"]  # the failed frame has no record: nothing final about it

    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (second["frames_failed"], second["frames_pending"]) == (0, 0) and second["flights"][0]["complete"]
    assert second["flights"][0]["frames_reused"] == 1
    assert case_rows(db_url) == reference


def test_a_full_disk_under_the_evidence_is_not_a_frames_verdict(tmp_path: Path) -> None:
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=2)
    reference = make_job(tmp_path / "ref")
    run_process([str(flight)], reference)
    blocked = tmp_path / "data"
    blocked.write_bytes(b"")  # a file where the data root's folder should be: crops cannot be stored
    job = make_job(tmp_path)
    first = run_process([str(flight)], job)
    assert first["frames_failed"] == 0 and first["frames_pending"] >= 1 and first["cases_new"] == 0
    assert any("cannot store evidence crop" in e for e in first["errors"])
    assert "failed" not in _statuses(job.db_url)
    blocked.unlink()  # space freed
    second = run_process([str(flight)], job)
    assert second["flights"][0]["complete"] and second["frames_pending"] == 0
    assert case_rows(job.db_url) == case_rows(reference.db_url) != []


def _pixel_bomb(width: int, height: int) -> bytes:
    """A real, tiny JPEG (8 x 8 pixels encoded) whose frame header declares width x height."""
    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_a_pixel_bomb_is_the_frames_own_fault_recorded_once_and_the_rest_goes_on(tmp_path: Path) -> None:
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=1)
    bomb = flight / "DJI_0000.JPG"
    bomb.write_bytes(_pixel_bomb(20000, 20000))
    assert len(bomb.read_bytes()) < 1000
    job = make_job(tmp_path)
    first = run_process([str(flight)], job)
    assert first["flights"][0]["complete"] and first["frames_failed"] == 1 and first["cases_new"] > 0
    [line] = first["errors"]
    assert line.startswith(f"{bomb}: image declares 20000x20000 (400 MP), over the 200 MP limit")
    again = run_process([str(flight)], job)
    assert again["flights"][0]["frames_reused"] == 2 and again["frames_failed"] == 1


def _recorded_positions(db_url: str) -> list[tuple[str, float, float]]:
    """(frame, lat, lon) of every sighting in the frame records, in frame and position order."""
    from sqlalchemy import select

    from pipeline.cases.db import make_engine
    from pipeline.cases.models import ProcessedFrame

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(ProcessedFrame.frame_path, ProcessedFrame.result)).all()
    finally:
        engine.dispose()
    return sorted((path, s["lat"], s["lon"]) for path, result in rows for s in (result or {})["sightings"])


def test_a_corrected_srt_takes_effect_on_the_rerun(tmp_path: Path) -> None:
    import re

    video = copy_flight("video_patrol", tmp_path / "video")
    job = make_job(tmp_path)
    first = run_process([str(video)], job)
    before = _recorded_positions(job.db_url)
    assert first["cases_new"] > 0 and before
    srt = video / "DJI_0001.SRT"
    text = srt.read_text(encoding="utf-8")
    moved = re.sub(r"\[latitude: ([\d.]+)\]", lambda m: f"[latitude: {float(m.group(1)) + 0.01:.6f}]", text)
    assert moved != text
    srt.write_text(moved, encoding="utf-8")  # the pilot's corrected telemetry: 1.1 km further north
    second = run_process([str(video)], job)
    assert second["flights"][0]["complete"]
    assert second["flights"][0]["frames_reused"] == 0  # same video bytes, new telemetry: detected anew
    after = [p for p in _recorded_positions(job.db_url) if p not in before]
    assert len(after) == len(before)
    for (frame, lat, lon), (frame2, lat2, lon2) in zip(before, after, strict=True):
        assert frame2 == frame
        assert lat2 - lat == pytest.approx(0.01, abs=2e-5) and lon2 == pytest.approx(lon, abs=2e-5)
