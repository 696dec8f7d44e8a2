"""Pixel bombs, one row per kind: a file whose header declares more pixels than the limit (PATROL_MAX_PIXELS,
200 MP by default) is refused by that header, before any decoding, with one line naming the file, in `patrol
meta`, `patrol detect` and the one ingest's `load_frame` (which `patrol process` uses); the files after it
are still read. The bombs are real files: a tiny JPEG (8 x 8 pixels encoded, well under 1 KB) or PNG whose
header says otherwise."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.cli import main
from pipeline.errors import PixelLimitError
from pipeline.ingest import load_frame, photo_ref

SAMPLES = Path(__file__).resolve().parents[1] / "sample_flights"
GOOD = SAMPLES / "nadir_mapping" / "DJI_0001.JPG"


def jpeg_declaring(width: int, height: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert ok
    data = bytearray(buf.tobytes())
    sof = data.index(b"\xff\xc0")  # baseline frame header: length(2) precision(1) height(2) width(2)
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


# (kind, file name, bytes, what the one line says)
BOMBS: list[tuple[str, str, Callable[[], bytes], str]] = [
    (
        "JPEG declaring 20000 x 20000 (674 bytes in the field)",
        "DJI_0100.JPG",
        lambda: jpeg_declaring(20000, 20000),
        "image declares 20000x20000 (400 MP), over the 200 MP limit (PATROL_MAX_PIXELS): not decoded",
    ),
    (
        "JPEG declaring 65000 x 65000 (past OpenCV's own limit: a raw cv2 error before)",
        "DJI_0101.JPG",
        lambda: jpeg_declaring(65000, 65000),
        "image declares 65000x65000 (4225 MP), over the 200 MP limit (PATROL_MAX_PIXELS): not decoded",
    ),
    (
        "PNG declaring 100000 x 100000",
        "frame.png",
        lambda: png_declaring(100000, 100000),
        "image declares 100000x100000 (10000 MP), over the 200 MP limit (PATROL_MAX_PIXELS): not decoded",
    ),
]
IDS = [b[0] for b in BOMBS]


def _write(tmp_path: Path, name: str, make: Callable[[], bytes]) -> Path:
    path = tmp_path / name
    path.write_bytes(make())
    assert path.stat().st_size < 1024
    return path


@pytest.mark.parametrize(("kind", "name", "make", "says"), BOMBS, ids=IDS)
def test_load_frame_refuses_it_by_its_header_without_decoding(
    tmp_path: Path, kind: str, name: str, make: Callable[[], bytes], says: str
) -> None:
    path = _write(tmp_path, name, make)
    tracemalloc.start()
    try:
        with pytest.raises(PixelLimitError) as caught:
            load_frame(photo_ref(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == f"{path}: {says}"
    assert peak < 32 << 20  # decoding would need gigabytes


@pytest.mark.parametrize(("kind", "name", "make", "says"), BOMBS, ids=IDS)
def test_meta_gives_one_line_naming_the_file_and_reads_the_next(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    name: str,
    make: Callable[[], bytes],
    says: str,
) -> None:
    path = _write(tmp_path, name, make)
    code = main(["meta", str(path), str(GOOD), "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines() == [f"patrol: error: {path}: {says}"]
    failed, record = [json.loads(line) for line in out.splitlines()]
    assert failed == {"path": str(path), "error": says}  # --json: the error is in the stream, in order
    assert record["path"] == str(GOOD) and record["width"] == 2000


def test_a_raised_limit_lets_meta_describe_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    path = _write(tmp_path, "DJI_0100.JPG", lambda: jpeg_declaring(20000, 20000))
    monkeypatch.setenv("PATROL_MAX_PIXELS", "500_000_000")
    assert main(["meta", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["width"] == 20000


def test_a_bad_limit_is_one_line_before_any_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATROL_MAX_PIXELS", "lots")
    assert main(["meta", str(GOOD)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "PATROL_MAX_PIXELS must be a positive whole number, not 'lots'" in line


@pytest.mark.slow
def test_detect_gives_one_line_per_bomb_and_detects_in_the_file_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.detect.model import SHIPPED_MODEL

    if not SHIPPED_MODEL.is_file():
        pytest.skip("no shipped model")  # tests/detect covers detect with a stand-in model
    paths = [_write(tmp_path, name, make) for _, name, make, _ in BOMBS]
    code = main(["detect", *map(str, paths), str(GOOD), "--frames", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert errors == [f"patrol: error: {p}: {says}" for p, (_, _, _, says) in zip(paths, BOMBS, strict=True)]
    [frame] = [json.loads(line) for line in out.splitlines()]
    assert frame["path"] == str(GOOD) and frame["georeferenced"]


def test_upload_refuses_a_pixel_bomb_by_its_header_and_keeps_the_rest(tmp_path: Path) -> None:
    from pipeline.upload import folder_files, receive_flight

    src = tmp_path / "src"
    src.mkdir()
    (src / "DJI_0100.JPG").write_bytes(jpeg_declaring(20000, 20000))
    (src / "DJI_0001.JPG").write_bytes(GOOD.read_bytes())
    report = receive_flight(folder_files(src), tmp_path / "inbox", label="f", uploaded_by="test")
    assert [(r.name, r.reason) for r in report.refused] == [("DJI_0100.JPG", BOMBS[0][3])]
    assert [f.name for f in report.files] == ["DJI_0001.JPG"]


def test_a_fifo_named_jpg_is_one_line_in_meta_and_ingest_not_a_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from pipeline.errors import FrameError
    from pipeline.ingest import FrameRef

    fifo = tmp_path / "DJI_0002.JPG"
    os.mkfifo(fifo)  # nobody ever writes: opening it for reading would block forever
    assert main(["meta", str(fifo), str(GOOD), "--json"]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"patrol: error: {fifo}: not a regular file"]
    assert [json.loads(line)["path"] for line in out.splitlines()] == [str(fifo), str(GOOD)]
    with pytest.raises(FrameError, match="not a regular file"):
        photo_ref(fifo)  # what `patrol detect` asks first
    with pytest.raises(FrameError) as caught:  # a file swapped for a FIFO after planning
        load_frame(FrameRef("F", str(fifo), str(fifo), "0" * 64))
    assert str(caught.value) == f"{fifo}: not a regular file"


def test_upload_reads_the_pixel_limit_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.upload import folder_files, receive_flight

    src = tmp_path / "src"
    src.mkdir()
    (src / "DJI_0001.JPG").write_bytes(GOOD.read_bytes())
    (src / "DJI_0002.MP4").write_bytes((SAMPLES / "video_patrol" / "DJI_0001.MP4").read_bytes())
    monkeypatch.setenv("PATROL_MAX_PIXELS", "2000000")
    report = receive_flight(folder_files(src), tmp_path / "inbox", label="f", uploaded_by="test")
    from PIL import Image

    width, height = Image.open(GOOD).size  # 2000 x 1500: 3 MP
    [refused] = report.refused
    assert refused.name == "DJI_0001.JPG" and refused.reason.startswith(f"image declares {width}x{height} (")
    assert refused.reason.endswith("over the 2 MP limit (PATROL_MAX_PIXELS): not decoded")
    assert [f.name for f in report.files] == ["DJI_0002.MP4"]
