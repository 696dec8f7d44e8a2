"""The `patrol` command as users and scripts call it: output shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import geo
from pipeline.cli import main
from pipeline.types import META_FIELDS

REAL = Path(__file__).parent / "data" / "real"
BRIGHTON = REAL / "dji_phantom3_brighton"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_meta_json_has_the_contract_fields(capsys: pytest.CaptureFixture[str]):
    code, out, err = _run(capsys, "meta", str(BRIGHTON / "DJI_0018.JPG"), "--json")
    assert code == 0 and err == []
    record = json.loads(out[0])
    assert set(META_FIELDS) <= set(record)
    assert record["lat"] == pytest.approx(46.8426070833333, abs=1e-7)  # exiftool -n
    assert record["rel_alt_m"] == pytest.approx(39.80, abs=0.01)
    assert isinstance(record["problems"], list)


def test_meta_reads_the_good_files_around_a_bad_one(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    empty = tmp_path / "DJI_9999.JPG"
    empty.write_bytes(b"")
    not_image = tmp_path / "notes.JPG"
    not_image.write_text("flight log, not a photo\n")
    files = [BRIGHTON / "DJI_0018.JPG", empty, not_image, BRIGHTON / "DJI_0019.JPG"]
    code, out, err = _run(capsys, "meta", *map(str, files), "--json")
    paths = [json.loads(line)["path"] for line in out]
    assert str(BRIGHTON / "DJI_0018.JPG") in paths and str(BRIGHTON / "DJI_0019.JPG") in paths
    # Each unreadable file is reported, once, on one line naming it — or listed with its problems.
    for bad in (empty, not_image):
        named = [line for line in err if str(bad) in line] + [
            line for line in out if json.loads(line)["path"] == str(bad) and json.loads(line)["problems"]
        ]
        assert len(named) == 1
    assert code == (1 if err else 0)


def test_meta_on_telemetry_prints_one_object_per_entry(capsys: pytest.CaptureFixture[str]):
    srt = REAL / "dji_srt" / "p4_rtk.SRT"
    code, out, _ = _run(capsys, "meta", str(srt), "--json")
    assert code == 0
    entries = [json.loads(line) for line in out]
    assert len(entries) > 1
    assert [e["index"] for e in entries] == sorted(e["index"] for e in entries)
    assert {"index", "start_ms", "end_ms", "lat", "lon", "rel_alt_m", "abs_alt_m"} <= set(entries[0])


def test_locate_the_image_centre_lands_below_the_drone(capsys: pytest.CaptureFixture[str]):
    code, out, _ = _run(capsys, "locate", str(BRIGHTON / "DJI_0018.JPG"), "2000", "1125", "--json")
    assert code == 0
    record = json.loads(out[0])
    # Gimbal pitch -89.9 at 39.8 m: the centre ray lands 7 cm ahead of the point below the drone.
    assert record["ground_distance_m"] == pytest.approx(39.8 * 0.001745, abs=0.01)
    assert geo.distance_m(record["lat"], record["lon"], 46.8426070833333, -91.9945598888889) < 0.1


def test_locate_a_corner_is_half_the_footprint_diagonal_away(capsys: pytest.CaptureFixture[str]):
    code, out, _ = _run(capsys, "locate", str(BRIGHTON / "DJI_0018.JPG"), "0", "0", "--json")
    assert code == 0
    gsd = geo.nadir_gsd_m(6.17, 39.8, 3.61, 4000)
    assert json.loads(out[0])["ground_distance_m"] == pytest.approx(
        gsd * (2000**2 + 1125**2) ** 0.5, rel=0.01
    )


def test_locate_a_file_without_gps_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    import numpy as np
    from PIL import Image

    plain = tmp_path / "plain.jpg"
    Image.fromarray(np.zeros((40, 60, 3), dtype=np.uint8)).save(plain)
    code, out, err = _run(capsys, "locate", str(plain), "10", "10", "--json")
    assert code != 0 and out == []
    assert len(err) == 1 and str(plain) in err[0]


def test_console_script_is_installed_and_fails_cleanly(tmp_path: Path):
    exe = shutil.which("patrol") or str(Path(sys.executable).parent / "patrol")
    missing = tmp_path / "nope.JPG"
    proc = subprocess.run([exe, "locate", str(missing), "1", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and str(missing) in proc.stderr
