"""Names, links and flight ids in a flight folder (issue 11): a file name that is not UTF-8 is left out with
its bytes escaped (the flight goes on), a link out of the flight is not followed, and two cards' `100MEDIA`
folders are two flights."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import PipelineError
from pipeline.filenames import NOT_UTF8, shown
from pipeline.ingest import flight_id_for, plan_flight

SAMPLES = Path(__file__).resolve().parents[1] / "sample_flights" / "nadir_mapping"
GOOD = SAMPLES / "DJI_0001.JPG"
GBK_NAME = "第".encode("gbk") + b".JPG"  # b"\xb5\xda.JPG": a Windows copy's GBK name


def _flight(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(SAMPLES / name, folder / name)
    return folder


def test_a_non_utf8_name_is_left_out_with_its_bytes_escaped(tmp_path: Path) -> None:
    folder = _flight(tmp_path / "F1", "DJI_0001.JPG")
    bad = os.path.join(os.fsencode(folder), GBK_NAME)
    with open(bad, "wb") as fh:
        fh.write(GOOD.read_bytes())
    plan = plan_flight(folder)
    assert [r.name for r in plan.frames] == [str(folder / "DJI_0001.JPG")]
    [(name, reason)] = plan.skipped
    assert name == f"{folder}/\\xb5\\xda.JPG" and reason == NOT_UTF8
    json.dumps(plan.skipped, ensure_ascii=False).encode("utf-8")  # what the summary and the database carry


def test_a_non_utf8_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    folder = os.path.join(os.fsencode(tmp_path), "航拍".encode("gbk"))
    os.mkdir(folder)
    shutil.copy(GOOD, os.path.join(folder, b"DJI_0001.JPG"))
    with pytest.raises(PipelineError) as caught:
        plan_flight(Path(os.fsdecode(folder)))
    assert str(caught.value) == f"{tmp_path}/\\xba\\xbd\\xc5\\xc4: " + (
        "the folder name is not UTF-8 text (its bytes are shown as \\xNN): rename the folder"
    )


def test_meta_shows_a_non_utf8_name_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = os.path.join(os.fsencode(tmp_path), GBK_NAME)
    with open(bad, "wb") as fh:
        fh.write(GOOD.read_bytes())
    assert main(["meta", os.fsdecode(bad), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["path"] == shown(os.fsdecode(bad)) and record["path"].endswith("\\xb5\\xda.JPG")
    assert record["width"] == 2000


def test_a_link_out_of_the_flight_is_not_followed(tmp_path: Path) -> None:
    outside = _flight(tmp_path / "elsewhere", "DJI_0002.JPG")
    folder = _flight(tmp_path / "F1", "DJI_0001.JPG")
    (folder / "DJI_0002.JPG").symlink_to(outside / "DJI_0002.JPG")
    (folder / "etc").symlink_to("/etc")
    (folder / "dangling.JPG").symlink_to(tmp_path / "nowhere.JPG")
    (folder / "again.JPG").symlink_to(folder / "DJI_0001.JPG")  # inside the flight: followed
    plan = plan_flight(folder)
    assert sorted(Path(r.name).name for r in plan.frames) == ["DJI_0001.JPG", "again.JPG"]
    reason = "a link to outside the flight folder (or to nothing): not followed"
    assert sorted(plan.skipped) == sorted(
        (str(folder / n), reason) for n in ("DJI_0002.JPG", "etc", "dangling.JPG")
    )


def test_two_cards_100media_are_two_flights(tmp_path: Path) -> None:
    a = _flight(tmp_path / "card_a" / "DCIM" / "100MEDIA", "DJI_0001.JPG")
    b = _flight(tmp_path / "card_b" / "DCIM" / "100MEDIA", "DJI_0001.JPG", "DJI_0002.JPG")
    ids = plan_flight(a).flight_id, plan_flight(b).flight_id
    assert ids[0] != ids[1] and all(i.startswith("100MEDIA-") and len(i) == 17 for i in ids)
    copy = tmp_path / "copied" / "100MEDIA"
    shutil.copytree(a, copy)
    assert flight_id_for(copy) == ids[0]  # the same card's content, wherever it lies: the same flight
    named = _flight(tmp_path / "2024-05-01 东城巡查", "DJI_0001.JPG")
    assert plan_flight(named).flight_id == "2024-05-01 东城巡查"  # a name people gave stays as it is
    dated = _flight(tmp_path / "20240501", "DJI_0001.JPG")
    assert plan_flight(dated).flight_id == "20240501"
    for camera in ("101_PANO", "DJI_001", "DCIM", "100GOPRO"):
        assert flight_id_for(_flight(tmp_path / "cards" / camera, "DJI_0001.JPG")).startswith(camera + "-")
