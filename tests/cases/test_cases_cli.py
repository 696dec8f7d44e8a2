"""`patrol cases ...` and `patrol users add` through the real entry point, on both databases."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.categories import CategoryConfig
from pipeline.cases.ingest import push_sightings
from pipeline.cli import main
from pipeline.types import Sighting


@pytest.fixture
def filled(
    db_url: str,
    sessions: sessionmaker[Session],
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Callable[..., Sighting],
) -> str:
    with sessions.begin() as s:
        batch = [sighting(0, 0, frame="a"), sighting(80, 0, frame="b", cls="garbage_pile")]
        push_sightings(s, batch, categories=categories, data_root=tmp_path)
    return db_url


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_list_show_and_act(filled: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cases", "list", "--db", filled, "--json"]) == 0
    listed = lines(capsys.readouterr().out)
    assert [c["status"] for c in listed] == ["new", "new"]
    assert {c["category"] for c in listed} == {"私搭乱建", "暴露垃圾"}
    assert main(["cases", "claim", "--user", "wang", "--db", filled, "--json"]) == 0
    claimed = lines(capsys.readouterr().out)[0]
    assert claimed["status"] == "in_review"
    assert main(["cases", "act", str(claimed["id"]), "confirm", "--user", "wang", "--db", filled]) == 0
    assert "confirmed" in capsys.readouterr().out
    assert main(["cases", "show", str(claimed["id"]), "--db", filled, "--json"]) == 0
    shown = lines(capsys.readouterr().out)[0]
    assert [e["action"] for e in shown["events"]] == ["open", "claim", "confirm"]  # type: ignore[union-attr]
    assert main(["cases", "list", "--status", "confirmed", "--db", filled]) == 0
    assert capsys.readouterr().out.count("\n") == 1


@pytest.mark.parametrize("fmt", ["geojson", "csv", "kml"])
def test_export_to_file_and_stdout(
    filled: str, fmt: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out = tmp_path / f"cases.{fmt}"
    assert main(["cases", "export", "--format", fmt, "--output", str(out), "--db", filled]) == 0
    capsysbinary.readouterr()
    assert main(["cases", "export", "--format", fmt, "--db", filled]) == 0
    assert capsysbinary.readouterr().out == out.read_bytes()
    body = out.read_bytes()
    if fmt == "geojson":
        assert len(json.loads(body)["features"]) == 2
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))) == 2
    else:
        assert len(ET.fromstring(body).findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == 2


def test_users_add(db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    args = ["users", "add", "wang", "--role", "supervisor", "--display-name", "王队", "--password-stdin"]
    assert main([*args, "--db", db_url, "--json"]) == 0
    assert lines(capsys.readouterr().out)[0]["role"] == "supervisor"
    assert main(["users", "add", "wang", "--db", db_url]) == 2
    assert capsys.readouterr().err.strip() == "patrol: error: user 'wang' already exists"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cases", "show", "42"], "no case 42"),
        (["cases", "act", "1", "dispatch", "--user", "li"], "cannot dispatch a case that is new"),
        (["cases", "list", "--status", "open"], "unknown status 'open'"),
        (["cases", "push"], "no endpoint to push to"),
    ],
)
def test_errors_are_one_line(
    filled: str,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PATROL_PUSH_URL", raising=False)
    assert main([*argv, "--db", filled]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_unreachable_database_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://postgres@127.0.0.1:1/none"
    assert main(["cases", "list", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "127.0.0.1:1" in err and "cannot open the case database" in err


def test_default_database_is_sqlite_under_var(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATROL_DB_URL", raising=False)
    monkeypatch.delenv("PATROL_VAR_DIR", raising=False)
    assert main(["cases", "list", "--json"]) == 0
    assert (tmp_path / "var" / "patrol.sqlite3").exists()


def test_push_puts_refused_messages_back_in_line_when_asked(
    filled: str, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import select

    from pipeline.cases.models import OutboxMessage

    assert main(["cases", "claim", "--user", "wang", "--db", filled, "--json"]) == 0
    case_id = lines(capsys.readouterr().out)[0]["id"]
    assert main(["cases", "act", str(case_id), "confirm", "--user", "wang", "--db", filled]) == 0
    with sessions.begin() as s:
        (msg,) = s.scalars(select(OutboxMessage)).all()
        msg.state = "rejected"
    # Nothing listens on port 9: the requeued message is tried, fails, and stays pending (exit 1).
    argv = ["cases", "push", "--endpoint", "http://127.0.0.1:9/requests.json", "--db", filled]
    assert main([*argv, "--retry-rejected"]) == 1
    out = capsys.readouterr().out
    assert "put 1 refused message(s) back in line" in out and "failed 1, refused 0, pending 1" in out
    with sessions() as s:
        assert [m.state for m in s.scalars(select(OutboxMessage))] == ["pending"]


def test_zones_import_list_remove(
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    at: Callable[[float, float], tuple[float, float]],
) -> None:
    ring = [[*reversed(at(e, n))] for e, n in ((0, 0), (50, 0), (50, 40), (0, 40), (0, 0))]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    multi = {"type": "MultiPolygon", "coordinates": [[ring]]}
    two = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "东区堆场"}, "geometry": polygon},
            {"type": "Feature", "properties": {}, "geometry": multi},
        ],
    }
    path = tmp_path / "yards.geojson"
    path.write_text(json.dumps(two, ensure_ascii=False), encoding="utf-8")
    assert main(["zones", "import", str(path), "--reason", "合法堆场", "--db", db_url, "--json"]) == 0
    added = lines(capsys.readouterr().out)
    assert [(z["name"], z["reason"]) for z in added] == [("东区堆场", "合法堆场"), ("zone 2", "合法堆场")]
    # Stored as (lat, lon), the file's ring without its closing point.
    assert added[0]["polygon"][1] == pytest.approx(list(at(50, 0)))
    assert len(added[0]["polygon"]) == 4
    assert main(["zones", "remove", str(added[0]["id"]), "--user", "li", "--db", db_url]) == 0
    capsys.readouterr()
    assert main(["zones", "list", "--db", db_url, "--json"]) == 0
    assert [z["id"] for z in lines(capsys.readouterr().out)] == [added[1]["id"]]
    assert main(["zones", "list", "--all", "--db", db_url, "--json"]) == 0
    assert [z["removed_by"] for z in lines(capsys.readouterr().out)] == ["li", None]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "not JSON"),
        ('{"type": "FeatureCollection", "features": []}', "no polygons"),
        ('{"type": "Point", "coordinates": [113.7, 23.0]}', "must be a Polygon"),
        ('{"type": "Polygon", "coordinates": [[[113.7, 23.0], [113.8, 23.0], [113.7, 23.0]]]}', "at least 4"),
        (
            '{"type": "Polygon", "coordinates": '
            "[[[413.7, 23.0], [113.8, 23.0], [113.8, 23.1], [413.7, 23.0]]]}",
            "not a longitude",
        ),
    ],
)  # fmt: skip
def test_a_bad_zone_file_is_one_line_naming_it(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, reason: str
) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content, encoding="utf-8")
    assert main(["zones", "import", str(path), "--reason", "x", "--db", db_url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.geojson" in err[0] and reason in err[0]
