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
    # Each unreadable file is reported once on stderr, one line naming it, and (--json) once in the stream
    # as {"path", "error"} in file order.
    records = [json.loads(line) for line in out]
    assert [r["path"] for r in records] == list(map(str, files))
    for bad, why in ((empty, "empty file (0 bytes)"), (not_image, "not an image")):
        [line] = [line for line in err if str(bad) in line]
        assert line.startswith(f"patrol: error: {bad}: {why}")
        [failed] = [r for r in records if r["path"] == str(bad)]
        assert set(failed) == {"path", "error"} and why in failed["error"]
    assert code == 1


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


@pytest.mark.parametrize(("x", "y"), [("-1", "10"), ("4001", "10"), ("10", "2251"), ("nan", "10")])
def test_locate_a_pixel_outside_the_image_is_a_one_line_error(capsys: pytest.CaptureFixture[str], x, y):
    # DJI_0018.JPG is 4000 x 2250 pixels (exiftool: ImageWidth, ImageHeight).
    code, out, err = _run(capsys, "locate", str(BRIGHTON / "DJI_0018.JPG"), x, y, "--json")
    assert code == 2 and out == []
    assert len(err) == 1 and "outside the 4000x2250 image" in err[0] and "DJI_0018.JPG" in err[0]


def test_console_script_is_installed_and_fails_cleanly(tmp_path: Path):
    exe = shutil.which("patrol") or str(Path(sys.executable).parent / "patrol")
    missing = tmp_path / "nope.JPG"
    proc = subprocess.run([exe, "locate", str(missing), "1", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and str(missing) in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("pitch", [-90.0, -45.0])
def test_simulate_then_locate_a_labelled_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pitch: float
):
    """Through the command line only: a simulated target's box centre locates back onto its footprint."""
    out = tmp_path / "flight"
    code, lines, _ = _run(
        capsys, "simulate", str(out), "--seed", "11", "--frames", "4", "--pitch", str(pitch),
        "--width", "1000", "--height", "750", "--altitude", "120", "--json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(lines[0])
    assert summary["frames"] == 4 and summary["seconds"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    truth = {f["properties"]["id"]: f for f in json.loads((out / "truth.geojson").read_text())["features"]}
    checked = 0
    for frame in manifest["frames"]:
        for box in frame["boxes"]:
            x0, y0, x1, y1 = box["xyxy_px"]
            if min(x0, y0) <= 1 or x1 >= 999 or y1 >= 749:
                continue  # cut by the frame edge: its centre is not the object's
            code, lines, _ = _run(
                capsys, "locate", str(out / frame["file"]), str((x0 + x1) / 2), str((y0 + y1) / 2), "--json"
            )
            assert code == 0
            got = json.loads(lines[0])
            ring = truth[box["id"]]["geometry"]["coordinates"][0]
            lats, lons = [p[1] for p in ring], [p[0] for p in ring]
            # The box centre is inside the object's bounding box on the ground, give or take a metre.
            slack = 1.0 / 111_000
            assert min(lats) - slack <= got["lat"] <= max(lats) + slack
            assert min(lons) - slack <= got["lon"] <= max(lons) + slack
            checked += 1
    assert checked >= 3, checked


def test_simulate_with_bad_settings_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    code, out, err = _run(capsys, "simulate", str(tmp_path / "x"), "--seed", "1", "--pitch", "10")
    assert code != 0 and out == []
    assert len(err) == 1 and "pitch" in err[0]


def test_locate_above_the_horizon_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path):
    out = tmp_path / "flight"
    assert main(["simulate", str(out), "--seed", "2", "--frames", "1", "--pitch", "-20",
                 "--width", "400", "--height", "300"]) == 0  # fmt: skip
    capsys.readouterr()
    code, lines, err = _run(capsys, "locate", str(out / "DJI_0001.JPG"), "200", "0", "--json")
    assert code != 0 and lines == []
    assert len(err) == 1 and "horizon" in err[0]


def test_demo_shows_every_sample_flight(capsys: pytest.CaptureFixture[str]):
    flights = Path(__file__).parent.parent / "sample_flights"
    code, out, err = _run(capsys, "demo", str(flights), "--json")
    assert code == 0 and err == []
    records = [json.loads(line) for line in out]
    assert {Path(r["flight"]).name for r in records} == {"nadir_mapping", "oblique_corridor", "video_patrol"}
    for r in records:
        assert "error" not in r, r
        assert len(r["footprint"]) == 4 and r["footprint_area_m2"] > 0
        # The frame's centre looks at a point inside its own footprint's bounding box.
        lats, lons = [p[0] for p in r["footprint"]], [p[1] for p in r["footprint"]]
        assert min(lats) < r["centre_lat"] < max(lats) and min(lons) < r["centre_lon"] < max(lons)
