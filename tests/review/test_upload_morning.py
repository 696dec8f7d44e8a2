"""Issue 13's uploads: the same frames uploaded twice, zips from Chinese Windows, a loose Word file, and in
the real browser the button, the progress and "checking", the accepted list, and later the outcome."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.cases.models import FlightRun
from pipeline.upload import UploadError, receive_flight
from tests.review.conftest import FLIGHT, World
from tests.review.test_browser import SHOTS, _page, _sign_in_with_keys
from tests.review.test_upload import item

A, B, C = (FLIGHT / f"DJI_000{n}.JPG" for n in (1, 2, 3))


def test_the_same_frames_again_are_refused_and_never_counted_twice(tmp_path: Path) -> None:
    first = receive_flight(
        [item("早巡/DJI_0001.JPG", A.read_bytes()), item("早巡/DJI_0002.JPG", B.read_bytes())],
        tmp_path,
        label="早巡",
        uploaded_by="pilot1",
    )
    with pytest.raises(UploadError, match=f"already received as flight {first.flight_id}"):
        receive_flight(
            [item("again/DJI_0001.JPG", A.read_bytes()), item("again/DJI_0002.JPG", B.read_bytes())],
            tmp_path,
            label="again",
            uploaded_by="pilot1",
        )
    # one new frame among old ones: the new one is kept, the old ones named with where they already are
    mixed = receive_flight(
        [item("m/renamed.JPG", A.read_bytes()), item("m/DJI_0003.JPG", C.read_bytes())],
        tmp_path,
        label="m",
        uploaded_by="pilot2",
    )
    assert [f.name for f in mixed.files] == ["DJI_0003.JPG"]
    assert {r.name: r.reason for r in mixed.refused} == {
        "renamed.JPG": f"the same content as DJI_0001.JPG in flight {first.flight_id}"
    }
    flights = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert flights == sorted([first.flight_id, mixed.flight_id])  # no third folder


def _gbk_zip(entries: dict[str, bytes]) -> bytes:
    """A zip as Chinese Windows' built-in compressor writes it: names in GBK, no UTF-8 flag."""
    buf = io.BytesIO()
    placeholders = {}
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for k, (name, data) in enumerate(entries.items()):
            raw = name.encode("gbk")
            stand_in = f"{k:0{len(raw)}d}".encode()  # ASCII of the same length: no flag is set
            placeholders[stand_in] = raw
            zf.writestr(stand_in.decode(), data)
    out = buf.getvalue()
    for stand_in, raw in placeholders.items():
        out = out.replace(stand_in, raw)
    return out


def test_a_zip_from_chinese_windows_keeps_its_names(tmp_path: Path) -> None:
    data = _gbk_zip({"东城早巡/航点一.JPG": A.read_bytes(), "东城早巡/说明.txt": "巡查说明".encode()})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert all(not (i.flag_bits & 0x800) for i in zf.infolist())  # really the legacy encoding
        assert "东城早巡" not in zf.namelist()[0]  # which zipfile alone misreads
    report = receive_flight([item("东城早巡.zip", data)], tmp_path, label="", uploaded_by="pilot1")
    assert {f.name for f in report.files} == {"航点一.JPG", "说明.txt"}
    assert (Path(report.path) / "航点一.JPG").read_bytes() == A.read_bytes()


def test_a_loose_word_file_is_one_unsupported_file(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        zf.writestr("docProps/core.xml", "<cp:coreProperties/>")
    report = receive_flight(
        [item("f/DJI_0001.JPG", A.read_bytes()), item("f/巡查报告.docx", buf.getvalue())],
        tmp_path,
        label="f",
        uploaded_by="pilot1",
    )
    assert [(r.name, r.reason) for r in report.refused] == [
        ("巡查报告.docx", "an Office document (.docx), not a photo or video")
    ]


@pytest.mark.slow
def test_upload_page_progress_checking_accepted_list_and_outcome(
    browser: Any, base_url: str, world: World
) -> None:
    page = _page(browser, base_url)
    _sign_in_with_keys(page, "pilot1")
    page.goto("/upload")
    page.wait_for_load_state()
    # a slow uplink, so that the upload is seen while it runs
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 400 * 1024},
    )
    page.fill("#label", "东城 早巡")
    page.set_input_files("#files", [str(A), str(B)])
    page.click("#upload-form button[type=submit]")
    page.wait_for_function("() => /正在上传 \\d+%/.test(document.getElementById('upload-state').textContent)")
    assert page.locator("#upload-form button[type=submit]").is_disabled()
    assert page.locator("#progress").is_visible()
    page.screenshot(path=str(SHOTS / "upload-progress.png"))
    page.wait_for_function(
        "() => document.getElementById('upload-state').textContent.includes('检查')"
        " || document.querySelector('#upload-result .ok')"
    )
    page.wait_for_selector("#upload-result .ok")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    assert page.locator("#upload-form button[type=submit]").is_enabled()
    accepted = page.inner_text("#accepted")
    assert "DJI_0001.JPG" in accepted and "DJI_0002.JPG" in accepted and "照片" in accepted
    page.screenshot(path=str(SHOTS / "upload.png"))
    flight_id = re.search(r"已收到航次 (\S+)：", page.inner_text("#upload-result .ok")).group(1)  # type: ignore[union-attr]

    # the same photos again: refused, in Chinese, naming the flight that has them
    page.set_input_files("#files", [str(A), str(B)])
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-result .error")
    assert f"所有照片和视频已作为航次 {flight_id} 上传过" in page.inner_text("#upload-result")

    page.goto("/flights")
    assert "等待夜间处理" in page.inner_text(f"tr[data-flight='{flight_id}']")
    with world.app.state.sessions.begin() as s:  # the nightly run got to it
        s.add(
            FlightRun(
                flight_id="F1",
                folder=str(world.inbox / flight_id),
                model_version="test",
                frames=2,
                frames_failed=0,
                detections=3,
                finished_at=datetime(2026, 10, 6, 18, 30, tzinfo=UTC),
            )
        )
    page.reload()
    row = page.inner_text(f"tr[data-flight='{flight_id}']")
    assert "已处理 2026-10-07 02:30" in row and "2 帧" in row
    assert re.search(r"涉及 \d+ 件案件", row)
