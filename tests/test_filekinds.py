"""pipeline.filekinds: what a file is, by its bytes. One row per kind of input, with the expected verdict."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from pipeline.filekinds import JPEG, PNG, TELEMETRY, TEXT, VIDEO, ZIP, classify_file
from tests.review import badfiles as bf

# (row, file name, bytes, kind or "" for refused, media type or words of the reason)
ROWS = [
    ("real DJI-style JPEG", "DJI_0001.JPG", bf.JPEG, JPEG, "image/jpeg"),
    ("real MP4", "DJI_0001.MP4", bf.MP4, VIDEO, "video/mp4"),
    (
        "QuickTime brand",
        "clip.MOV",
        bf.ftyp(b"qt  ", b"qt  ") + bf.box(b"moov", b"\0" * 32),
        VIDEO,
        "quicktime",
    ),
    ("DJI SRT telemetry", "DJI_0001.SRT", bf.SRT, TELEMETRY, "application/octet-stream"),
    ("text side file", "notes.txt", "巡查 notes".encode(), TEXT, "application/octet-stream"),
    ("PNG", "crop.png", bf.png(), PNG, "image/png"),
    ("zip", "flight.zip", b"PK\x03\x04" + b"\0" * 40, ZIP, "application/octet-stream"),
    ("HTML polyglot, ftyp at bytes 4-8", "report.html", bf.HTML_POLYGLOT, "", "broken ftyp"),
    ("JS polyglot, ftyp at bytes 4-8", "report.js", bf.JS_POLYGLOT, "", "broken ftyp"),
    ("real ftyp box, then HTML", "report.mp4", bf.FTYP_THEN_HTML, "", "boxes are broken"),
    ("HEIC photo", "DJI_0001.HEIC", bf.HEIC, "", "HEIC"),
    ("AVIF photo", "x.avif", bf.AVIF, "", "AVIF photos are not processed"),
    ("MP4 cut before its index", "cut.MP4", bf.MP4_NO_MOOV, "", "moov"),
    ("MP4 cut in half", "half.MP4", bf.MP4_CUT, "", "cut short"),
    ("DNG/TIFF raw photo", "DJI_0001.DNG", bf.TIFF, "", "DNG/TIFF"),
    ("JPEG cut in half", "DJI_0002.JPG", bf.JPEG_CUT, "", "truncated"),
    ("SOI, then HTML", "DJI_0003.JPG", bf.JPEG_THEN_HTML, "", "not a JPEG"),
    ("HTML named .JPG", "DJI_0004.JPG", b"<html><script>alert(1)</script>", "", "not a photo"),
    ("empty file", "DJI_0005.JPG", b"", "", "empty"),
    ("SRT without cues", "DJI_0006.SRT", b"hello", "", "not DJI .SRT"),
    ("SRT not UTF-8", "DJI_0007.SRT", "1\n00:00 --> 00:01\n纬度".encode("gb18030") + b"\xff", "", "UTF-8"),
    ("binary named .txt", "x.txt", b"\x00\x01\x02", "", "not text"),
    ("HTML named .html", "x.html", b"<html></html>", "", "not a photo"),
]


@pytest.mark.parametrize(("row", "name", "data", "kind", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_kinds(row: str, name: str, data: bytes, kind: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    found = classify_file(path)
    assert found.kind == kind, (row, found)
    if kind:
        assert expected in found.media_type and not found.reason
    else:
        assert expected in found.reason and not found.inline


def test_only_pictures_and_videos_are_inline(tmp_path: Path) -> None:
    for name, data in (("a.JPG", bf.JPEG), ("b.MP4", bf.MP4), ("c.png", bf.png())):
        (tmp_path / name).write_bytes(data)
        assert classify_file(tmp_path / name).inline
    (tmp_path / "d.txt").write_text("<script>alert(1)</script>")
    assert not classify_file(tmp_path / "d.txt").inline


def test_a_jpeg_declares_its_size_in_its_header(tmp_path: Path) -> None:
    (tmp_path / "a.JPG").write_bytes(bf.JPEG)
    found = classify_file(tmp_path / "a.JPG")
    with Image.open(tmp_path / "a.JPG") as im:
        assert (found.width_px, found.height_px) == im.size


def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "DJI_0001.JPG"
    os.mkfifo(fifo)
    found = classify_file(fifo)  # would block forever if it were opened for reading
    assert found.kind == "" and "regular file" in found.reason


def test_ingest_decides_by_the_same_classifier(tmp_path: Path) -> None:
    from pipeline.ingest import plan_flight

    files = {
        "DJI_0001.JPG": bf.JPEG,
        "renamed.bin": bf.JPEG,  # a photo by its bytes, whatever its name
        "DJI_0002.HEIC": bf.HEIC,
        "DJI_0003.DNG": bf.TIFF,
        "DJI_0004.MP4": bf.MP4_NO_MOOV,
        "report.html": bf.HTML_POLYGLOT,
        "map.png": bf.png(),
        "DJI_0005.JPG": bf.JPEG_CUT,  # named a photo: planned, and recorded failed when it cannot be decoded
        "notes.txt": b"wind 3 m/s",
        "flight.zip": b"PK\x03\x04" + bytes(40),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    plan = plan_flight(tmp_path, "F1")
    assert sorted(Path(f.source).name for f in plan.frames) == ["DJI_0001.JPG", "DJI_0005.JPG", "renamed.bin"]
    skipped = {Path(p).name: why for p, why in plan.skipped}
    assert set(skipped) == {
        "DJI_0002.HEIC",
        "DJI_0003.DNG",
        "DJI_0004.MP4",
        "report.html",
        "map.png",
        "flight.zip",
    }
    assert all(skipped.values())
    assert "convert them to JPEG" in skipped["DJI_0002.HEIC"] and "DNG/TIFF" in skipped["DJI_0003.DNG"]
    assert "moov" in skipped["DJI_0004.MP4"] and "PNG" in skipped["map.png"]


def test_the_demo_finds_flights_by_content(tmp_path: Path) -> None:
    from pipeline.demo import flight_dirs

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(bf.JPEG)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "DJI_0001.HEIC").write_bytes(bf.HEIC)
    (tmp_path / "b" / "report.mp4").write_bytes(bf.FTYP_THEN_HTML)
    assert [d.name for d in flight_dirs([tmp_path])] == ["a"]
