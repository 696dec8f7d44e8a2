"""The flight flow under Prefect: photos and video into the queue, reruns add nothing, a bad frame is recorded
and skipped, one failed flight leaves the others alone, artifacts are written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flow_fakes import ExplodingDetector
from flow_helpers import case_rows, copy_flight, make_job
from pytest import MonkeyPatch, approx

from flows.process_flight import run_process


def test_photos_and_video_reach_the_queue_and_a_rerun_adds_nothing(tmp_path: Path, db_url: str) -> None:
    nadir = copy_flight("nadir_mapping", tmp_path / "nadir", photos=3)
    video = copy_flight("video_patrol", tmp_path / "video")
    job = make_job(tmp_path, db_url=db_url)
    first = run_process([str(nadir), str(video)], job)
    assert first["frames"] >= 3 + 3 and first["frames_failed"] == 0 and first["errors"] == []
    assert first["detections"] > 0 and first["cases_new"] > 0
    cases = case_rows(job.db_url)
    assert len(cases) == first["cases_new"]
    again = run_process([str(nadir), str(video)], job)
    assert (again["cases_new"], again["cases_updated"]) == (0, 0)
    assert all(f["frames_reused"] == f["frames"] for f in again["flights"])
    assert case_rows(job.db_url) == cases


def test_a_database_hiccup_is_retried_with_backoff(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from pipeline.cases import progress

    real = progress.save_frame
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> progress.FrameRecord:
        calls.append(1)
        if len(calls) <= 2:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(progress, "save_frame", flaky)
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=1)
    summary = run_process([str(flight)], make_job(tmp_path))
    assert len(calls) == 3  # two failures, retried, then stored
    assert summary["frames_failed"] == 0 and summary["flights"][0]["complete"]


def test_a_model_that_cannot_run_leaves_the_flight_open_not_its_frames_failed(tmp_path: Path) -> None:
    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=2)
    summary = run_process([str(flight)], make_job(tmp_path, detector=ExplodingDetector))
    assert (summary["frames_failed"], summary["frames_pending"]) == (0, 2)
    assert not summary["flights"][0]["complete"]
    assert all("model exploded" in e for e in summary["errors"][:2])


def test_the_run_leaves_progress_table_and_summary_artifacts(tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from flows.process_flight import process_flights

    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=1)
    state = process_flights([str(flight)], make_job(tmp_path), return_state=True)
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    by_type = {a.type: a for a in found}
    assert set(by_type) >= {"progress", "table", "markdown"}
    assert float(by_type["progress"].data) == 100.0
    assert "1 frames (0 failed)" in str(by_type["markdown"].data)


def test_a_frame_left_without_a_record_holds_the_push_until_the_next_run(
    tmp_path: Path, monkeypatch: MonkeyPatch
) -> None:
    import flows.process_flight as pf

    real = pf.process_frame

    def lost(ref: Any, job: Any) -> Any:
        if ref.name.endswith("DJI_0002.JPG"):
            raise RuntimeError("worker lost")  # not a frame's fault, not transient: the task fails
        return real(ref, job)

    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=2)
    job = make_job(tmp_path)
    monkeypatch.setattr(pf, "process_frame", lost)
    first = run_process([str(flight)], job)
    assert not first["flights"][0]["complete"] and first["cases_new"] == 0 and case_rows(job.db_url) == []
    monkeypatch.setattr(pf, "process_frame", real)
    second = run_process([str(flight)], job)
    assert second["flights"][0]["complete"] and second["flights"][0]["frames_reused"] == 1
    assert second["cases_new"] == len(case_rows(job.db_url)) > 0


def test_a_placed_sighting_keeps_its_ground_distance_resolution_and_error(tmp_path: Path) -> None:
    """Placing is its own step after detection; what it knows reaches the stored sighting."""
    from pipeline import position_error
    from pipeline.ingest import photo_ref
    from pipeline.process import detect_and_place, job_detector

    flight = copy_flight("nadir_mapping", tmp_path / "f", photos=1)
    job = make_job(tmp_path)
    detector, _ = job_detector(job)
    (photo,) = sorted(flight.glob("*.JPG"))
    detections, result = detect_and_place(photo_ref(photo, "f"), job, detector)
    assert detections > 0 and len(result["sightings"]) == detections and result["not_placed"] is None
    # DJI_0001: 100.65 m above take-off, looking straight down (-89.65 degrees), 1420.8 px focal length
    # at 2000 x 1500 (its metadata): 0.0708 m per pixel below the camera, coarser towards the corners (41
    # degrees off the axis there: 1 / cos^1.5, about 1.5x), and no anchor farther than the half-diagonal
    # of 1250 px (88.6 m).
    nadir_gsd = 100.65 / 1420.8
    for s in result["sightings"]:
        assert 0.0 <= s["ground_distance_m"] <= 88.6
        assert 0.98 * nadir_gsd <= s["local_gsd_m"] <= 1.55 * nadir_gsd
        assert s["position_error_m"] == approx(
            position_error.sighting_error_m(100.65, s["ground_distance_m"], 2.0, s["size_m"]), rel=1e-6
        )
