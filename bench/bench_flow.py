"""The flight flow end to end: frames per second, the share of time spent outside the model, and peak memory
of a 20-frame against a 200-frame flight (a flight is streamed, so the second should need no more than 1.2x).

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
    lines += ["", f"Peak memory, largest / smallest flight: {ratio:.2f}x."]
    results = ROOT / "bench" / "RESULTS-flow.md"
    if not results.exists():
        results.write_text("# The flight flow end to end (bench/bench_flow.py)\n", encoding="utf-8")
    with results.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
