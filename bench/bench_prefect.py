"""What Prefect costs a flight: start-up, per task, artifacts, and the memory of each process, for a 4-frame
and a 100-frame flight, with Prefect's temporary server and with a real one (`prefect server start`).

    .venv/bin/python bench/bench_prefect.py [--sizes 4 100] [--model fake|CARD] [--width 1000 --height 750]

Each run is a fresh Python process (`--child`) that processes one simulated photo flight (cached under
var/bench/) into a fresh SQLite database, one frame at a time, as `patrol process` does. The model and the
database are opened before the clock starts (the CLI does the same before its flow), so what is timed is
the flow: from the call to its first task ("start-up": the temporary server, if any, and the flow run's
creation), each frame's own work inside its task (detect, place, record), planning and the push, the
artifact calls, and the rest (Prefect's per-task cost). The parent samples the resident memory of the run's
process, of its children (the temporary server) and of the real server's processes. The model is the
shipped card by default; `--model fake` is the flow tests' dark-blob detector (state which in the results).
Results are appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}


# --- the child: one flight, timed from inside ------------------------------------------------------------


def child(folder: str, workdir: str, model: str) -> dict[str, Any]:
    import flows.process_flight as pf
    from pipeline.process import default_job, job_version, open_case_db

    detector = None
    if model == "fake":
        sys.path.insert(0, str(ROOT / "tests" / "flows"))
        from flow_fakes import dark_blobs

        detector = dark_blobs
    job = default_job(
        f"sqlite:///{workdir}/cases.sqlite3", None if model == "fake" else model, detector=detector
    )
    job_version(job)  # the model loaded, as the CLI does before its flow
    open_case_db(job)

    spans: dict[str, list[tuple[float, float]]] = {"frame": [], "plan": [], "push": [], "artifact": []}
    lock = threading.Lock()

    def timed(kind: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                with lock:
                    spans[kind].append((started, time.time()))

        return wrapper

    pf.process_frame = timed("frame", pf.process_frame)  # type: ignore[assignment]
    pf.plan_flight = timed("plan", pf.plan_flight)  # type: ignore[assignment]
    pf.push_flight = timed("push", pf.push_flight)  # type: ignore[assignment]
    for name in (
        "create_progress_artifact",
        "update_progress_artifact",
        "create_table_artifact",
        "create_markdown_artifact",
    ):
        setattr(pf, name, timed("artifact", getattr(pf, name)))
    called = time.time()
    summary = pf.run_process([folder], job)
    ended = time.time()

    def total(kind: str) -> float:
        return sum(b - a for a, b in spans[kind])

    return {
        "called": called,
        "ended": ended,
        "first_task": min(a for a, _ in spans["plan"]),
        "frames": summary["frames"],
        "cases": summary["cases_new"],
        "frame_s": total("frame"),
        "plan_push_s": total("plan") + total("push"),
        "artifact_s": total("artifact"),
        "artifact_calls": len(spans["artifact"]),
    }


# --- the parent: processes, servers, memory -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sampler(threading.Thread):
    """Peak resident memory (MB) of a process and, separately, of all its descendants together."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_self, self.peak_children = pid, 0.0, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            proc = psutil.Process(self.pid)
            while not self.done.is_set():
                self.peak_self = max(self.peak_self, proc.memory_info().rss / 2**20)
                kids = 0.0
                for kid in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # a child that just exited
                        kids += kid.memory_info().rss / 2**20
                self.peak_children = max(self.peak_children, kids)
                time.sleep(0.1)
        except psutil.Error:
            return


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PATROL_"))}
    return {**env, **QUIET, "PYTHONPATH": str(ROOT), **extra}


def run_child(folder: Path, model: str, env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-prefect-") as work:
        env = {**env, "PATROL_DATA_ROOT": f"{work}/data", "PREFECT_HOME": f"{work}/prefect-home"}
        spawned = time.time()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(folder), work, "--model", model],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sampler = Sampler(proc.pid)
        sampler.start()
        out, err = proc.communicate()
        exited = time.time()
        sampler.done.set()
        sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {err[-3000:]}")
    got: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    total = got["ended"] - got["called"]
    startup = got["first_task"] - got["called"]
    # Artifact calls partly overlap a frame being worked on (the flow waits while a thread detects), so
    # they are not taken out again: "per task" is what Prefect adds, artifacts included.
    rest = total - startup - got["frame_s"] - got["plan_push_s"]
    return {
        "frames": got["frames"],
        "cases": got["cases"],
        "process_s": round(exited - spawned, 2),
        "flow_s": round(total, 2),
        "startup_s": round(startup, 2),
        "frame_s": round(got["frame_s"], 2),
        "plan_push_s": round(got["plan_push_s"], 2),
        "artifact_s": round(got["artifact_s"], 3),
        "artifact_calls": got["artifact_calls"],
        "per_task_ms": round(1000 * rest / (got["frames"] + 2), 1),
        "outside_frames": (total - got["frame_s"]) / total,
        "outside_after_startup": (total - startup - got["frame_s"]) / (total - startup),
        "run_rss_mb": round(sampler.peak_self, 1),
        "children_rss_mb": round(sampler.peak_children, 1),
    }


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=_clean_env(PREFECT_HOME=str(home), PREFECT_SERVER_UI_ENABLED="false"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    url = f"http://127.0.0.1:{port}/api"
    for _ in range(240):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the Prefect server did not start")


def flight(n: int, width: int, height: int) -> Path:
    folder = ROOT / "var" / "bench" / f"prefect-{n}-{width}x{height}"
    if not (folder / "manifest.json").exists():
        size = ["--width", str(width), "--height", str(height)]
        subprocess.run(
            [
                str(BIN / "patrol"),
                "simulate",
                str(folder),
                "--seed",
                str(5100 + n),
                "--frames",
                str(n),
                *size,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 100])
    ap.add_argument("--model", default=str(ROOT / "models" / "patrol-det.json"))
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--height", type=int, default=750)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "WORKDIR"))
    ap.add_argument("--no-write", action="store_true", help="print the table, do not append it")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.model)))
        return
    folders = {n: flight(n, args.width, args.height) for n in args.sizes}
    rows: list[tuple[str, int, dict[str, Any]]] = []
    for n in args.sizes:
        rows.append(("temporary", n, run_child(folders[n], args.model, _clean_env())))
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-prefect-server-") as home:
        server, url = start_server(Path(home))
        watcher = Sampler(server.pid)
        watcher.start()
        try:
            for n in args.sizes:
                rows.append(("server", n, run_child(folders[n], args.model, _clean_env(PREFECT_API_URL=url))))
                print(rows[-1], flush=True)
        finally:
            watcher.done.set()
            server.terminate()
            server.wait(timeout=30)
        server_rss = watcher.peak_self + watcher.peak_children
    write_results(rows, server_rss, args)


def write_results(rows: list[tuple[str, int, dict[str, Any]]], server_rss: float, args: Any) -> None:
    model = "the tests' fake dark-blob detector" if args.model == "fake" else Path(args.model).name
    lines = [
        "",
        f"## Prefect's overhead on a flight (bench/bench_prefect.py, {time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"{platform.node()}, {os.cpu_count()} CPUs, {model} (ONNX/auto backend), simulated "
        f"{args.width}x{args.height} photos, one frame at a time, SQLite case database. Times in seconds.",
        "",
        "| server | frames | process | flow | start-up | frames' own work | plan+push | artifacts (calls) "
        "| per task ms | outside the frames | same, after start-up | run process MB | its children MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, n, r in rows:
        lines.append(
            f"| {mode} | {n} | {r['process_s']} | {r['flow_s']} | {r['startup_s']} | {r['frame_s']} | "
            f"{r['plan_push_s']} | {r['artifact_s']} ({r['artifact_calls']}) | {r['per_task_ms']} | "
            f"{100 * r['outside_frames']:.1f}% | {100 * r['outside_after_startup']:.1f}% | "
            f"{r['run_rss_mb']} | {r['children_rss_mb']} |"
        )
    lines += [
        "",
        f"Real server (`prefect server start`, SQLite, UI off), peak resident memory over its runs: "
        f'{server_rss:.0f} MB. "process": spawn to exit (imports, model load, a temporary server\'s start '
        'and stop); "flow": the call to its return; "per task": what is left of the flow once start-up, the '
        "frames' work, planning and the push are taken out (artifact calls stay in), over frames + 2 tasks; "
        '"its children": the temporary server, when there is one.',
        "",
    ]
    print("\n".join(lines))
    if not args.no_write:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as f:
            f.write("\n".join(lines))


if __name__ == "__main__":
    main()
