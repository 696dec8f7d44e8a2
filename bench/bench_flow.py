"""The flight flow end to end: frames per second, the share of time spent outside the model, peak memory of
a 20-frame against a 200-frame flight (a flight is streamed, so the second should need no more than 1.1x),
and the figure a city plans with: frames and hectares of ground searched per hour on this machine, and what
a Dask cluster of N such machines would give.

    .venv/bin/python bench/bench_flow.py [--sizes 20 200] [--width 1000 --height 750] [--model CARD]

Each size is a simulated photo flight (cached under var/bench/), processed by a fresh Python process into a
fresh SQLite database, so peak RSS is that run's alone (Prefect's temporary server is a separate process and
not counted). The model is the shipped card by default; `--model fake` uses the tests' dark-blob detector.
Results are appended to bench/RESULTS-flow.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_model_seconds = 0.0
_lock = threading.Lock()


class TimedDetector:
    """The real detector, with the time spent inside it counted (the rest of the flow is "outside")."""

    def __init__(self, inner: Any, version: str) -> None:
        self.inner, self.version = inner, version
        self.classes, self.imgsz, self.gsd_m = inner.classes, inner.imgsz, inner.gsd_m
        self.min_score = inner.min_score

    def __call__(self, tiles: Any, conf: float, iou: float) -> Any:
        global _model_seconds
        started = time.perf_counter()
        try:
            return self.inner(tiles, conf, iou)
        finally:
            with _lock:
                _model_seconds += time.perf_counter() - started


def timed() -> TimedDetector:
    """The job's detector (an object, never a name): the fake or the card BENCH_INNER_MODEL says, timed."""
    from pipeline.process import detector_for

    inner_model = os.environ.get("BENCH_INNER_MODEL") or None
    if inner_model == "fake":
        from flow_fakes import dark_blobs

        inner, version = detector_for(None, factory=dark_blobs)
    else:
        inner, version = detector_for(inner_model)
    return TimedDetector(inner, version)


def run_one(folder: str, workdir: str) -> dict[str, Any]:
    """In this process: the flow over one flight; what it took."""
    from pipeline.config import DatabaseUrl
    from pipeline.process import ProcessJob
    from pipeline.process_commands import quiet_prefect

    quiet_prefect()
    from flows.process_flight import run_process

    job = ProcessJob(
        db=DatabaseUrl(f"sqlite:///{workdir}/cases.sqlite3"), data_root=f"{workdir}/data", detector=timed
    )
    started = time.perf_counter()
    summary = run_process([folder], job)
    wall = time.perf_counter() - started
    seconds = summary["seconds"]  # inside the flow: without the temporary server's start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model_s = _model_seconds
    return {
        "ground_ha": round(searched_hectares(f"{workdir}/cases.sqlite3"), 2),
        "wall_s": round(wall, 2),
        "frames": summary["frames"],
        "frames_failed": summary["frames_failed"],
        "detections": summary["detections"],
        "cases_new": summary["cases_new"],
        "seconds": round(seconds, 2),
        "frames_per_s": round(summary["frames"] / seconds, 3),
        "model_s": round(model_s, 2),
        "outside_model_share": round(1 - model_s / seconds, 3),
        "peak_rss_mb": round(peak_mb, 1),
    }


def searched_hectares(sqlite_path: str, cell_m: float = 0.5) -> float:
    """The ground the run's frames searched, overlaps counted once: the frames' recorded footprints filled
    into one raster of `cell_m` cells on a local tangent plane (a flight spans a few km at most)."""
    import math
    import sqlite3

    import cv2
    import numpy as np

    with sqlite3.connect(sqlite_path) as db:
        query = "SELECT footprint FROM frames WHERE footprint IS NOT NULL"
        rows = [json.loads(r[0]) for r in db.execute(query)]
    if not rows:
        return 0.0
    lat0, lon0 = rows[0][0]
    k_lat, k_lon = 111_320.0, 111_320.0 * math.cos(math.radians(lat0))
    shapes = [np.array([((lon - lon0) * k_lon, (lat - lat0) * k_lat) for lat, lon in fp]) for fp in rows]
    lo = np.min([s.min(axis=0) for s in shapes], axis=0)
    hi = np.max([s.max(axis=0) for s in shapes], axis=0)
    size = np.ceil((hi - lo) / cell_m).astype(int) + 1
    canvas = np.zeros((size[1], size[0]), np.uint8)
    for shape in shapes:
        cv2.fillPoly(canvas, [np.round((shape - lo) / cell_m).astype(np.int32)], 1)
    return float(canvas.sum()) * cell_m * cell_m / 10_000.0


def flight(n: int, width: int, height: int) -> Path:
    out = ROOT / "var" / "bench" / f"flight-{n}-{width}x{height}"
    if not (out / "truth.geojson").exists():
        cmd = [str(ROOT / ".venv/bin/patrol"), "simulate", str(out), "--seed", "900", "--world-seed", "7"]
        cmd += ["--frames", str(n), "--width", str(width), "--height", str(height)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=750)
    parser.add_argument("--model", default=None, help="model card, or 'fake' (default: the shipped card)")
    parser.add_argument("--one", nargs=2, metavar=("FLIGHT", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return 0
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), str(ROOT / "tests" / "flows")])
    env["BENCH_INNER_MODEL"] = args.model or ""
    rows = []
    for n in args.sizes:
        folder = flight(n, args.width, args.height)
        workdir = ROOT / "var" / "bench" / f"run-{n}-{int(time.time())}"
        workdir.mkdir(parents=True)
        cmd = [sys.executable, __file__, "--one", str(folder), str(workdir)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps({"size": n, **row}))
    _record(rows, args)
    return 0


def _record(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    model = "fake dark-blob detector" if args.model == "fake" else (args.model or "models/patrol-det.json")
    ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"] if len(rows) > 1 else 1.0
    lines = [
        f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {platform.node()}, {os.cpu_count()} CPUs, {model}, "
        f"{args.width}x{args.height} photos",
        "",
        "| frames | flow s | wall s (with server start) | frames/s | model s | outside the model "
        "| peak RSS MB | cases |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['frames']} | {r['seconds']} | {r['wall_s']} | {r['frames_per_s']} | {r['model_s']} | "
        f"{r['outside_model_share']:.0%} | {r['peak_rss_mb']} | {r['cases_new']} |"
        for r in rows
    ]
    lines += ["", f"Peak memory, largest / smallest flight: {ratio:.2f}x.", *_city_figure(rows[-1])]
    results = ROOT / "bench" / "RESULTS-flow.md"
    if not results.exists():
        results.write_text("# The flight flow end to end (bench/bench_flow.py)\n", encoding="utf-8")
    with results.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


# Prefect's cost per frame task and the serial part of a flight (plan + push) with a long-running server,
# measured by bench/bench_prefect.py (bench/RESULTS.md, 2026-12-02: 26-45 ms a task, plan+push 0.6-1.4 s).
TASK_OVERHEAD_S = 0.035
FLIGHT_SERIAL_S = 1.0


def _city_figure(row: dict[str, Any], frames_per_flight: int = 300) -> list[str]:
    """Frames and hectares an hour on this machine (the largest flight measured), and for N machines on
    Dask: each frame's work spreads over the machines; submitting its task, and each flight's plan and push,
    do not."""
    per_frame = row["seconds"] / max(1, row["frames"])
    ha_per_frame = row["ground_ha"] / max(1, row["frames"])
    work = max(0.0, per_frame - TASK_OVERHEAD_S - FLIGHT_SERIAL_S / max(1, row["frames"]))  # the frame's own
    lines = [
        "",
        f"One machine: {3600 / per_frame:.0f} frames an hour, {3600 * ha_per_frame / per_frame:.0f} ha of "
        f"ground searched an hour ({ha_per_frame:.2f} new ha a frame on this flight).",
        "",
        f"Dask over N such machines, {frames_per_flight}-frame flights (extrapolated: frame work / N, plus "
        f"{TASK_OVERHEAD_S * 1000:.0f} ms of Prefect per task and {FLIGHT_SERIAL_S:.1f} s of plan and push "
        "per flight, both in the flow's process and so not divided):",
        "",
        "| N | frames / hour | ha / hour | a 6,000-frame night takes |",
        "|---:|---:|---:|---:|",
    ]
    for n in (1, 2, 4, 8):
        flight_s = frames_per_flight * (work / n + TASK_OVERHEAD_S) + FLIGHT_SERIAL_S
        rate = 3600 * frames_per_flight / flight_s
        lines.append(f"| {n} | {rate:.0f} | {rate * ha_per_frame:.0f} | {6000 / rate:.1f} h |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
