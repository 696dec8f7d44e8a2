"""`patrol process` from the command line: the --json summary, a corrupt frame, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flow_helpers import copy_flight, use_fake_model

from pipeline.cli import main

SUMMARY_KEYS = {"frames", "frames_failed", "detections", "cases_new", "cases_updated", "errors", "seconds"}


def test_json_summary_and_a_corrupt_frame_is_recorded_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    flight = copy_flight("nadir_mapping", tmp_path / "flight", photos=2)
    (flight / "DJI_0009.JPG").write_bytes((flight / "DJI_0001.JPG").read_bytes()[:5000])  # cut short
    (flight / "notes.docx").write_bytes(b"not media")
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    use_fake_model(monkeypatch)
    argv = ["process", str(flight), "--json", "--db", db]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) >= SUMMARY_KEYS
    assert (out["frames"], out["frames_failed"]) == (3, 1)
    assert out["detections"] > 0 and out["cases_new"] > 0
    assert any("DJI_0009.JPG" in e for e in out["errors"])
    assert any("notes.docx" in e for e in out["errors"])

    # The corrupt frame was recorded once: the rerun neither retries it nor adds anything.
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["frames_failed"], again["cases_new"], again["cases_updated"]) == (1, 0, 0)
    assert again["flights"][0]["frames_reused"] == 3


def test_a_flight_that_fails_does_not_sink_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flow_helpers import make_job

    from flows.process_flight import run_process

    good = copy_flight("nadir_mapping", tmp_path / "good", photos=1)
    gone = copy_flight("nadir_mapping", tmp_path / "gone", photos=1)
    shutil.rmtree(gone)  # vanished between listing and processing
    summary = run_process([str(gone), str(good)], make_job(tmp_path))
    first, second = summary["flights"]
    assert not first["complete"] and "not a folder" in first["errors"][0]
    assert second["complete"] and second["frames"] == 1


def test_not_a_folder_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["process", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patrol: error:") and "not a folder" in err and "\n" not in err


def test_a_missing_folder_among_good_ones_does_not_stop_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    good = copy_flight("nadir_mapping", tmp_path / "good", photos=1)
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    use_fake_model(monkeypatch)
    argv = ["process", str(tmp_path / "nonexistent"), str(good), "--json", "--db", db]
    assert main(argv) == 1  # not everything could be done, and it says so
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["frames"] == 1 and out["cases_new"] > 0
    assert any("nonexistent" in e and "not a folder" in e for e in out["errors"])


def test_a_missing_model_is_a_one_line_error_before_any_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=1)
    assert main(["process", str(flight), "--model", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "model card not found" in err and "none.json" in err and "\n" not in err


def test_check_looks_at_an_upload_without_the_model_or_prefect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flight = copy_flight("nadir_mapping", tmp_path / "flight", photos=2)
    video = copy_flight("video_patrol", tmp_path / "video")
    assert main(["check", str(flight), str(video), "--json"]) == 0
    photos, frames = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (photos["frames"], photos["photos"], photos["posed"], photos["problems"]) == (2, 2, 2, [])
    assert frames["video_frames"] == frames["frames"] >= 3 and frames["usable"]

    (flight / "DJI_0009.JPG").write_bytes((flight / "DJI_0001.JPG").read_bytes()[:5000])  # cut short
    (flight / "notes.docx").write_bytes(b"not media")
    assert main(["check", str(flight)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{flight}: 3 frames (3 photos, 0 video frames), 2 with a pose, 2 problem(s)")
    assert "DJI_0009.JPG" in out and "notes.docx" in out
