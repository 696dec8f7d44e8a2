"""Issue 11's bad-input tables for uploads and served files: one row per kind, the outcome named.

Outcomes: `stored` (kept as that kind), `left out` (the file is refused with the reason, the flight lands),
`refused` (the whole upload is refused, nothing is left in the inbox); for /files/: `inline` (shown as that
picture or video type) or `download` (an octet-stream attachment, never rendered).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.upload import UploadError, receive_flight
from tests.review import badfiles as bf
from tests.review.conftest import World
from tests.review.test_upload import item


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _small_bomb() -> bytes:
    """Issue 11's zip bomb under the per-entry ratio check: 300 entries of 1 MiB (zeros after a JPEG header),
    each too small to be ratio-checked alone; about 0.3 GB from a zip of about 0.3 MB."""
    entry = b"\xff\xd8\xff\xe0" + bytes((1 << 20) - 4)
    return _zip({"DJI_0001.JPG": bf.JPEG} | {f"x{i:03d}.jpg": entry for i in range(300)})


# (row, file name, bytes, outcome, the stored kind or words of the reason)
UPLOAD_ROWS = [
    ("JPEG photo", "DJI_0002.JPG", bf.JPEG, "stored", "image"),
    ("MP4 video", "DJI_0003.MP4", bf.MP4, "stored", "video"),
    ("DJI SRT", "DJI_0003.SRT", bf.SRT, "stored", "telemetry"),
    ("text side file", "notes.txt", b"wind 3 m/s", "stored", "sidecar"),
    ("HTML polyglot (ftyp at 4-8)", "report.html", bf.HTML_POLYGLOT, "left out", "not a video"),
    ("JS polyglot (ftyp at 4-8)", "report.js", bf.JS_POLYGLOT, "left out", "not a video"),
    ("ftyp box, then HTML", "report.mp4", bf.FTYP_THEN_HTML, "left out", "boxes are broken"),
    (
        "HEIC photo",
        "DJI_0004.HEIC",
        bf.HEIC,
        "left out",
        "HEIC photos are not processed: convert them to JPEG",
    ),
    ("AVIF photo", "DJI_0005.avif", bf.AVIF, "left out", "AVIF photos are not processed"),
    ("DNG raw photo", "DJI_0006.DNG", bf.TIFF, "left out", "DNG/TIFF raw photos are not processed"),
    ("PNG picture", "map.png", bf.png(), "left out", "PNG"),
    ("MP4 without its index", "DJI_0007.MP4", bf.MP4_NO_MOOV, "left out", "moov"),
    ("JPEG cut short", "DJI_0008.JPG", bf.JPEG_CUT, "left out", "truncated"),
    ("SOI, then HTML", "DJI_0009.JPG", bf.JPEG_THEN_HTML, "left out", "not a JPEG"),
    ("HTML named .JPG", "DJI_0010.JPG", b"<html><script>alert(1)</script>", "left out", "not a photo"),
    ("zip bomb of small entries", "bomb.zip", _small_bomb(), "refused", "decompression bomb"),
]


@pytest.mark.parametrize(
    ("row", "name", "data", "outcome", "expected"), UPLOAD_ROWS, ids=[r[0] for r in UPLOAD_ROWS]
)
def test_upload_table(row: str, name: str, data: bytes, outcome: str, expected: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    items = [item("f/DJI_0001.JPG", bf.JPEG), item(f"f/{name}", data)]
    if outcome == "refused":
        with pytest.raises(UploadError, match=expected):
            receive_flight(items, inbox, label="x", uploaded_by="p")
        assert not any(inbox.iterdir()), row
        return
    report = receive_flight(items, inbox, label="x", uploaded_by="p")
    kinds = {f.name: f.kind for f in report.files}
    refused = {r.name: r.reason for r in report.refused}
    if outcome == "stored":
        assert kinds.get(name) == expected, (row, kinds, refused)
    else:
        assert name not in kinds and expected in refused[name], (row, refused)
        assert not (Path(report.path) / name).exists()


def test_the_bomb_is_small_and_would_expand_far(tmp_path: Path) -> None:
    bomb = _small_bomb()
    assert len(bomb) < 1 << 20
    with zipfile.ZipFile(io.BytesIO(bomb)) as zf:
        assert sum(i.file_size for i in zf.infolist()) > 300 << 20
        assert max(i.file_size for i in zf.infolist()) <= 1 << 20  # no entry big enough for the ratio check


def test_polyglots_are_refused_over_http(world: World, client_as: Callable[[str | None], TestClient]) -> None:
    pilot = client_as("pilot")
    files = [
        ("files", ("DJI_0001.JPG", bf.JPEG, "image/jpeg")),
        ("files", ("report.html", bf.HTML_POLYGLOT, "text/html")),
        ("files", ("report.js", bf.JS_POLYGLOT, "text/javascript")),
    ]
    r = pilot.post("/api/uploads", files=files)
    assert r.status_code == 201, r.text
    body = r.json()
    assert [f["name"] for f in body["files"]] == ["DJI_0001.JPG"]
    assert {x["name"] for x in body["refused"]} == {"report.html", "report.js"}


# (row, file name, bytes, outcome, the media type it is served as)
FILE_ROWS = [
    ("JPEG", "DJI_0001.JPG", bf.JPEG, "inline", "image/jpeg"),
    ("PNG", "crop.png", bf.png(), "inline", "image/png"),
    ("MP4", "DJI_0001.MP4", bf.MP4, "inline", "video/mp4"),
    ("HTML polyglot (ftyp at 4-8)", "report.html", bf.HTML_POLYGLOT, "download", "application/octet-stream"),
    ("JS polyglot (ftyp at 4-8)", "report.js", bf.JS_POLYGLOT, "download", "application/octet-stream"),
    ("ftyp box, then HTML", "x.mp4", bf.FTYP_THEN_HTML, "download", "application/octet-stream"),
    ("HTML named .JPG", "x.JPG", b"<html><script>alert(1)</script>", "download", "application/octet-stream"),
    (
        "SVG with a script",
        "x.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>",
        "download",
        "application/octet-stream",
    ),
    ("text side file", "notes.txt", b"<script>alert(1)</script>", "download", "application/octet-stream"),
    ("HEIC photo", "x.HEIC", bf.HEIC, "download", "application/octet-stream"),
]


@pytest.mark.parametrize(
    ("row", "name", "data", "outcome", "media"), FILE_ROWS, ids=[r[0] for r in FILE_ROWS]
)
def test_files_table(
    row: str,
    name: str,
    data: bytes,
    outcome: str,
    media: str,
    world: World,
    client_as: Callable[[str | None], TestClient],
    tmp_path: Path,
) -> None:
    folder = world.data_root / "uploads" / tmp_path.name  # a fresh folder per test in the shared data root
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    r = client_as("admin").get(f"/files/uploads/{tmp_path.name}/{name}")
    assert r.status_code == 200 and r.content == data, row
    assert r.headers["content-type"].split(";")[0] == media, row
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp and "script-src 'self'" not in csp
    disposition = r.headers.get("content-disposition", "")
    if outcome == "inline":
        assert not disposition.startswith("attachment"), row
    else:
        assert disposition.startswith("attachment"), row


def test_the_small_entry_bomb_is_refused_over_http(
    world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    r = client_as("pilot").post(
        "/api/uploads", files=[("files", ("f.zip", _small_bomb(), "application/zip"))]
    )
    assert r.status_code == 400 and "decompression bomb" in r.json()["detail"]
    assert not world.inbox.exists() or not any(world.inbox.iterdir())
