"""Flight uploads: what is a flight, what is refused and why, and attacks, directly and over HTTP."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

import pytest
from fastapi.testclient import TestClient

from pipeline.upload import MANIFEST_NAME, IncomingFile, UploadError, UploadLimits, receive_flight, safe_name
from tests.review.conftest import FLIGHT, World

JPEG = (FLIGHT / "DJI_0001.JPG").read_bytes()
JPEG_B = (FLIGHT / "DJI_0002.JPG").read_bytes()  # another frame: a second upload of JPEG would be refused


def item(name: str, data: bytes) -> IncomingFile:
    def open_it() -> AbstractContextManager[IO[bytes]]:
        return io.BytesIO(data)

    return IncomingFile(name, open_it)


def zip_of(entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_flight_lands_whole_with_its_manifest(tmp_path: Path) -> None:
    srt = b"1\n00:00:00,000 --> 00:00:00,033\n[latitude: 23.0] [longitude: 113.7]\n"
    report = receive_flight(
        [
            item("M3E/DJI_0001.JPG", JPEG),
            item("M3E/DJI_0002.SRT", srt),
            item("M3E/notes.docx", b"PK\x05\x06not a flight file"),
            item("M3E/DJI_0003.JPG", JPEG[: len(JPEG) // 2]),
            item("M3E/.DS_Store", b"\0\0\0\1Bud1"),
        ],
        tmp_path,
        label="",
        uploaded_by="pilot1",
    )
    folder = Path(report.path)
    assert folder.parent == tmp_path and report.label == "M3E"
    assert {f.name: f.kind for f in report.files} == {"DJI_0001.JPG": "image", "DJI_0002.SRT": "telemetry"}
    reasons = {r.name: r.reason for r in report.refused}
    assert "truncated" in reasons["DJI_0003.JPG"] and "hidden" in reasons[".DS_Store"]
    assert "notes.docx" in reasons
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    assert manifest["files"][0]["sha256"] and manifest["uploaded_by"] == "pilot1"
    assert sorted(p.name for p in folder.iterdir()) == ["DJI_0001.JPG", "DJI_0002.SRT", MANIFEST_NAME]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging left behind


def test_two_uploads_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    a = receive_flight([item("a.jpg", JPEG)], tmp_path, label="x", uploaded_by="p")
    b = receive_flight([item("b.jpg", JPEG_B)], tmp_path, label="x", uploaded_by="p")
    assert a.path != b.path


@pytest.mark.parametrize(
    "name",
    ["../evil.jpg", "a/../../evil.jpg", "/etc/cron.d/x.jpg", "C:\\Windows\\x.jpg", "..\\x.jpg", "a\x00.jpg"],
)
def test_names_that_leave_the_folder_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(UploadError):
        safe_name(name)
    with pytest.raises(UploadError):
        receive_flight(
            [item("ok.jpg", JPEG), item(name, JPEG)], tmp_path / "inbox", label="x", uploaded_by="p"
        )
    assert not (tmp_path / "inbox").exists()


def test_not_a_flight(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="not a flight"):
        receive_flight(
            [item("x.txt", b"hello"), item("y.exe", b"MZ\x90\0")], tmp_path, label="x", uploaded_by="p"
        )
    with pytest.raises(UploadError, match="no files"):
        receive_flight([], tmp_path, label="x", uploaded_by="p")
    assert not any(tmp_path.iterdir())


def test_a_zip_is_expanded_under_the_same_checks(tmp_path: Path) -> None:
    data = zip_of(
        {"flight/DJI_0001.JPG": JPEG, "flight/DJI_0002.JPG": JPEG, "flight/readme.pdf": b"%PDF-1.4"}
    )
    report = receive_flight([item("flight.zip", data)], tmp_path, label="z", uploaded_by="p")
    assert [f.name for f in report.files] == ["DJI_0001.JPG", "DJI_0002.JPG"]
    assert [r.name for r in report.refused] == ["readme.pdf"]
    assert not (Path(report.path) / "flight.zip").exists()


def test_zip_slip_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    data = zip_of({"DJI_0001.JPG": JPEG, "../../outside.jpg": JPEG})
    with pytest.raises(UploadError, match="leaves the flight folder"):
        receive_flight([item("f.zip", data)], tmp_path / "inbox", label="z", uploaded_by="p")
    assert not (tmp_path / "outside.jpg").exists() and not any((tmp_path / "inbox").iterdir())


def test_links_in_a_zip_are_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("DJI_0001.JPG", JPEG)
        info = zipfile.ZipInfo("link.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UploadError, match="link"):
        receive_flight([item("f.zip", buf.getvalue())], tmp_path, label="z", uploaded_by="p")


def test_a_zip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = zip_of({"DJI_0001.JPG": JPEG, "big.jpg": b"\xff\xd8\xff" + b"\0" * (50 << 20)})
    assert len(bomb) < 1 << 20
    with pytest.raises(UploadError, match="decompression bomb"):
        receive_flight([item("f.zip", bomb)], tmp_path, label="z", uploaded_by="p")
    assert not any(tmp_path.iterdir())


def test_limits(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="more than 2 files"):
        receive_flight(
            [item(f"{i}.jpg", JPEG) for i in range(3)],
            tmp_path,
            label="x",
            uploaded_by="p",
            limits=UploadLimits(max_files=2),
        )
    with pytest.raises(UploadError, match="larger than"):
        receive_flight(
            [item("a.jpg", JPEG)],
            tmp_path,
            label="x",
            uploaded_by="p",
            limits=UploadLimits(max_file_bytes=1000),
        )
    with pytest.raises(UploadError, match="upload is larger"):
        receive_flight(
            [item("a.jpg", JPEG), item("b.jpg", JPEG)],
            tmp_path,
            label="x",
            uploaded_by="p",
            limits=UploadLimits(max_total_bytes=len(JPEG) + 10),
        )
    assert not any(tmp_path.iterdir())


# --- over HTTP -------------------------------------------------------------------------------------


def test_upload_over_http_and_the_pilot_sees_only_their_own(
    world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    pilot = client_as("pilot")
    files = [
        ("files", ("DJI_0001.JPG", JPEG, "image/jpeg")),
        ("files", ("x.exe", b"MZ", "application/octet-stream")),
    ]
    r = pilot.post("/api/uploads", data={"label": "早巡 A"}, files=files)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["uploaded_by"] == "pilot1" and body["refused"][0]["name"] == "x.exe"
    assert (world.inbox / body["flight_id"] / "DJI_0001.JPG").read_bytes() == JPEG
    assert [u["flight_id"] for u in pilot.get("/api/flights").json()["uploads"]] == [body["flight_id"]]
    admin = client_as("admin")
    admin.post("/api/uploads", data={"label": "other"}, files=[("files", ("a.jpg", JPEG_B, "image/jpeg"))])
    assert len(pilot.get("/api/flights").json()["uploads"]) == 1
    assert len(admin.get("/api/flights").json()["uploads"]) == 2


def test_content_type_is_judged_by_content_not_by_name(client_as: Callable[[str | None], TestClient]) -> None:
    pilot = client_as("pilot")
    files = [("files", ("DJI_0001.JPG", b"<html><script>alert(1)</script>", "image/jpeg"))]
    r = pilot.post("/api/uploads", files=files)
    assert r.status_code == 400 and "not a flight" in r.json()["detail"]


def test_attacks_over_http(world: World, client_as: Callable[[str | None], TestClient]) -> None:
    pilot = client_as("pilot")
    for files in (
        [("files", ("../../escape.jpg", JPEG, "image/jpeg"))],
        [("files", ("f.zip", zip_of({"../../escape.jpg": JPEG}), "application/zip"))],
        [
            (
                "files",
                (
                    "f.zip",
                    zip_of({"a.jpg": JPEG, "b.jpg": b"\xff\xd8\xff" + bytes(30 << 20)}),
                    "application/zip",
                ),
            )
        ],
    ):
        r = pilot.post("/api/uploads", files=files)
        assert r.status_code == 400, r.text
    assert not world.inbox.exists() or not any(world.inbox.iterdir())
    assert not (world.inbox.parent / "escape.jpg").exists()


def test_oversized_requests_are_cut_off(world: World) -> None:
    from pipeline.review.app import create_app

    small = type(world.config)(**{**world.config.__dict__, "max_upload_bytes": 1000})
    client = TestClient(create_app(world.settings, small))
    r = client.post("/api/uploads", files=[("files", ("a.jpg", JPEG, "image/jpeg"))])
    assert r.status_code == 413


_SLOW_UPLOAD = """
import io, sys, time
from pathlib import Path
from pipeline.upload import IncomingFile, receive_flight

class Slow(io.RawIOBase):
    def __init__(self): self.sent = False
    def readable(self): return True
    def readinto(self, buf):
        if self.sent:
            time.sleep(3600)  # killed here, with the staging folder half written
        self.sent = True
        buf[:4] = b"\\xff\\xd8\\xff\\xe0"
        return 4

receive_flight([IncomingFile("DJI_0001.JPG", lambda: io.BufferedReader(Slow()))], Path(sys.argv[1]),
               label="x", uploaded_by="p")
"""


def test_a_killed_upload_leaves_staging_that_the_next_start_removes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import os
    import signal
    import subprocess
    import sys
    import time

    from pipeline.upload import STAGING_PREFIX, _staging_prefix, clean_stale_staging

    inbox = tmp_path / "inbox"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_UPLOAD, str(inbox)], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    while not (inbox.is_dir() and any(p.name.startswith(STAGING_PREFIX) for p in inbox.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "the upload did not start"
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = [p for p in inbox.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert len(left) == 1 and str(proc.pid) in left[0].name
    # a staging folder of this (live) process, and another machine's that is still fresh, are kept
    mine = inbox / f"{_staging_prefix()}live"
    theirs = inbox / f"{STAGING_PREFIX}otherhost-1-fresh"
    old = inbox / f"{STAGING_PREFIX}otherhost-2-old"
    for folder in (mine, theirs, old):
        folder.mkdir()
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    with caplog.at_level(logging.WARNING, logger="patrol.upload"):
        report = receive_flight([item("a.jpg", JPEG)], inbox, label="x", uploaded_by="p")
    assert not left[0].exists() and not old.exists() and mine.exists() and theirs.exists()
    assert "stale upload staging folder" in caplog.text and left[0].name in caplog.text
    assert "process is gone" in caplog.text and "untouched for 48" in caplog.text
    assert Path(report.path).is_dir()
    assert clean_stale_staging(inbox, 3600.0, now=time.time() + 7200) == sorted([mine.name, theirs.name])


def test_the_review_app_removes_stale_staging_when_it_starts(world: World) -> None:
    import os
    import time

    from pipeline.review.app import create_app
    from pipeline.upload import STAGING_PREFIX

    old = world.inbox / f"{STAGING_PREFIX}elsewhere-7-old"
    old.mkdir(parents=True)
    os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    app = create_app(world.settings, world.config)
    app.state.sessions.kw["bind"].dispose()
    assert not old.exists()


def test_a_name_that_is_not_utf8_is_left_out_escaped_and_the_rest_lands(tmp_path: Path) -> None:
    import os

    from pipeline.filenames import NOT_UTF8
    from pipeline.upload import folder_files

    src = tmp_path / "src"
    src.mkdir()
    (src / "DJI_0001.JPG").write_bytes(JPEG)
    with open(os.path.join(os.fsencode(src), "第".encode("gbk") + b".JPG"), "wb") as fh:
        fh.write(JPEG)
    report = receive_flight(folder_files(src), tmp_path / "inbox", label="f", uploaded_by="p")
    assert [f.name for f in report.files] == ["DJI_0001.JPG"]
    assert [(r.name, r.reason) for r in report.refused] == [("\\xb5\\xda.JPG", NOT_UTF8)]
    assert (Path(report.path) / "upload-manifest.json").read_text(encoding="utf-8")
