"""Uploads into the inbox and the nightly run over it: complete flights processed once, the rest reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flow_helpers import copy_flight, use_fake_model

from pipeline.cli import main


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out: dict[str, object] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return out


def test_upload_refuses_what_is_not_a_flight_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "notes"
    src.mkdir()
    (src / "readme.txt").write_text("no photos here")
    inbox = tmp_path / "inbox"
    assert main(["upload", str(src), "--inbox", str(inbox)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patrol: error:") and "not a flight" in err and "\n" not in err
    assert list(inbox.iterdir()) == []


def test_nightly_processes_complete_new_flights_once_and_reports_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    use_fake_model(monkeypatch)
    inbox = tmp_path / "inbox"
    uploaded = []
    for k, name in enumerate(("mon", "tue", "wed")):  # each its own photos: uploads refuse a repeat
        src = copy_flight("nadir_mapping", tmp_path / name, photos=2, skip=2 * k)
        assert main(["upload", str(src), "--inbox", str(inbox), "--json"]) == 0
        uploaded.append(_last_json(capsys))
    assert [len(u["files"]) for u in uploaded] == [2, 2, 2]  # type: ignore[arg-type]
    changed = Path(str(uploaded[2]["path"]))
    (changed / "DJI_0009.JPG").write_bytes((changed / "DJI_0005.JPG").read_bytes())  # added after upload
    copy_flight("nadir_mapping", inbox / "by-hand", photos=1)  # copied in without an upload: no manifest

    argv = ["nightly", "--inbox", str(inbox), "--json", "--db", f"sqlite:///{tmp_path / 'c.sqlite3'}"]
    assert main(argv) == 0
    night = _last_json(capsys)
    assert night["flights_processed"] == 2 and night["flights_failed"] == 0
    assert (night["flights_waiting"], night["flights_changed"]) == (1, 1)
    assert night["cases_new"] > 0 and night["frames"] == 4
    ids = {f["flight_id"] for f in night["flights"]}  # type: ignore[attr-defined]
    assert ids == {uploaded[0]["flight_id"], uploaded[1]["flight_id"]}

    monkeypatch.setenv("PATROL_INBOX", str(inbox))  # the second night takes the inbox from the environment
    assert main([a for a in argv if a not in ("--inbox", str(inbox))]) == 0
    again = _last_json(capsys)
    assert (again["flights_processed"], again["flights_done_before"], again["cases_new"]) == (0, 2, 0)
