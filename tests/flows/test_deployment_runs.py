"""The nightly flow as a deployment run gets it: plain parameters only, everything else from the machine's
environment; the case database URL from a Prefect Secret block when one is named; the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_helpers import case_rows, copy_flight

from pipeline.cli import main


@pytest.mark.slow
def test_a_run_with_plain_parameters_takes_the_database_from_a_secret_block_and_the_rest_from_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.blocks.system import Secret

    from flows.nightly import nightly_flow
    from flows.process_flight import summary_of

    inbox, data_root = tmp_path / "inbox", tmp_path / "data"
    db_url = f"sqlite:///{tmp_path / 'from-secret.sqlite3'}"
    Secret(value=db_url).save("patrol-test-case-db", overwrite=True)
    monkeypatch.setenv("PATROL_DATA_ROOT", str(data_root))
    monkeypatch.setenv("PATROL_INBOX", str(inbox))
    monkeypatch.setenv("PATROL_DB_URL", f"sqlite:///{tmp_path / 'not-this-one.sqlite3'}")
    src = copy_flight("nadir_mapping", tmp_path / "src", photos=1)
    assert main(["upload", str(src), "--inbox", str(inbox), "--json"]) == 0
    capsys.readouterr()

    # What `prefect deployment run --param db_url_secret=... --param conf=0.3` gives the flow: JSON only.
    state = nightly_flow(db_url_secret="patrol-test-case-db", conf=0.3, return_state=True)
    night = summary_of(state)
    assert state.is_completed() and night["inbox"] == str(inbox) and night["flights_processed"] == 1
    assert night["detections"] > 0 and len(case_rows(db_url)) == night["cases_new"] > 0  # the shipped model
    assert not (tmp_path / "not-this-one.sqlite3").exists()
    assert any(data_root.rglob("*.jpg"))  # evidence crops under this machine's data root


def test_a_secret_block_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    from flows.nightly import nightly_flow

    state = nightly_flow(str(tmp_path), db_url_secret="no-such-block", return_state=True)
    assert state.is_failed()
    with pytest.raises(Exception, match="no Prefect Secret block 'no-such-block'"):
        state.result()


def test_a_deployment_run_cannot_pass_a_job(tmp_path: Path) -> None:
    from flows.nightly import nightly_flow

    state = nightly_flow(str(tmp_path), job={"db": "sqlite:///x", "detector": "os:system"}, return_state=True)
    assert state.is_failed() and "`job` is for `patrol nightly` only" in str(state.message)
