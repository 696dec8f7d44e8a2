"""Scale-out: the same flights fanned out over a local two-worker Dask cluster give the same cases, and the
workers hold no video open once the flights are done."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_helpers import case_rows, copy_flight, make_job

from flows.process_flight import run_process


@pytest.mark.slow
def test_two_dask_workers_give_the_cases_of_the_default_runner(tmp_path: Path) -> None:
    pytest.importorskip("prefect_dask")
    from distributed import Client, LocalCluster

    from pipeline.video_readers import open_videos

    folders = [
        str(copy_flight("nadir_mapping", tmp_path / "nadir", photos=3)),
        str(copy_flight("video_patrol", tmp_path / "video")),
    ]
    plain = make_job(tmp_path / "plain")
    expected = run_process(folders, plain)
    fanned = make_job(tmp_path / "dask")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        summary = run_process(folders, fanned, dask_address=cluster.scheduler_address)
        with Client(cluster) as client:
            still_open = client.run(lambda: open_videos().open_count())
    assert len(still_open) == 2 and set(still_open.values()) == {0}  # video handles closed after the flight
    assert summary["frames"] == expected["frames"] and summary["frames_failed"] == 0
    assert case_rows(fanned.db_url) == case_rows(plain.db_url)
