"""Throughput of a whole flight, stage by stage (issue 15): where a frame's time goes from JPEG to case queue,
and what each lever buys, before and after, in one run.

    PYTHONPATH=. .venv/bin/python bench/bench_throughput.py [--frames 20] [--rounds 2] [--out FILE]

Flight: a simulated 20 MP (5472 x 3648) nadir photo flight from 100 m (seed 7600; cached under var/bench/),
and for accuracy also the held-out 60 m nadir flight of bench/detect_vs_sahi.py (seed 7101, 4000 x 3000).
ONNX Runtime, all cores, default detection settings.

Parts, each a comparison run back to back in this one process, frame by frame interleaved (the arms take
turns on every frame, the order swapped every round) so that load from other work on a shared machine hits
both arms alike; medians over frames, then over rounds:
- stages: decode, plan, rescale, tile, network, merge, place, record (evidence crops written, coverage) per
  frame, for "whole decode" (before: every photo decoded at full size) and "scaled decode" (after: libjpeg's
  1/2, 1/4, 1/8 where the detector shrinks that much anyway), beside the floor (the bare network over the
  same tiles, pre-cut outside the timing).
- end to end: pipeline.process.process_frame for every frame into a fresh SQLite case database, then
  push_flight; no Prefect (its start-up and per-task costs are bench/bench_prefect.py's).
- overlap: decode + detect of the flight sequentially, with the next frame read ahead on a thread, and two
  frames at once; ONNX Runtime's pool spinning or not.
- SAHI: its default sliced prediction on the first frames, whole process per frame (decode included for
  both), against ours; model load counted once each.
Accuracy (recall / precision against truth.geojson, matched on the ground within 2 m) for both decode arms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.detect.backends import OnnxDetector, default_threads
from pipeline.detect.detector import (
    DetectSettings,
    FrameDetections,
    detect_frame,
    place_frame,
    reduction_rule,
)
from pipeline.detect.evaluate import Searched, load_truth, mark_range, score_all
from pipeline.detect.model import load_model_spec
from pipeline.detect.stages import STAGES
from pipeline.detect.tiling import batches, plan_tiles
from pipeline.ingest import SAMPLE_EVERY, FrameRef, IngestSettings, LoadedFrame, load_frame, plan_flight

FLIGHT = {"seed": 7600, "width": 5472, "height": 3648, "altitude": 100.0, "pitch": -90.0, "frames": 20}
EVAL_FLIGHT = {"seed": 7101, "width": 4000, "height": 3000, "altitude": 60.0, "pitch": -90.0, "frames": 4}
WHOLE, SCALED = "whole decode", "scaled decode"


def ensure_flight(cache: Path, frames: int, spec: dict[str, Any]) -> Path:
    from pipeline.simulate import FlightSettings, simulate_flight

    n = spec.get("frames", frames)
    folder = (
        cache
        / f"{spec['width']}x{spec['height']}_p{spec['pitch']:g}_h{spec['altitude']:g}_s{spec['seed']}_n{n}"
    )
    if not (folder / "manifest.json").is_file():
        print(f"simulating {folder.name} ...", file=sys.stderr, flush=True)
        simulate_flight(
            folder,
            FlightSettings(
                seed=spec["seed"],
                frames=n,
                width_px=spec["width"],
                height_px=spec["height"],
                pitch_deg=spec["pitch"],
                altitude_m=spec["altitude"],
            ),
        )
    return folder


def _whole(*_: Any) -> int:
    return 1


def load(ref: FrameRef, arm: str, det: Any, settings: DetectSettings) -> LoadedFrame:
    return load_frame(ref, reduction=reduction_rule(det, settings) if arm == SCALED else _whole)


def detect(frame: LoadedFrame, det: Any, settings: DetectSettings) -> FrameDetections:
    in_pixels = detect_frame(
        frame.image,
        frame.view,
        det,
        settings,
        path=frame.ref.name,
        intrinsics=frame.intrinsics,
        why_no_pose=frame.why_no_pose,
        reduction=frame.reduction,
    )
    return place_frame(in_pixels, settings.max_ground_distance_m)


def record(frame: LoadedFrame, found: FrameDetections, data_root: Path) -> None:
    """What process_frame does after detection, less the database row: evidence crops and coverage."""
    from pipeline.process import coverage_for, frame_path_for, sightings_for

    frame_path = frame_path_for(frame.ref, data_root)
    sightings_for(frame, found.detections, frame_path, data_root)
    coverage_for(frame, frame_path, 300.0, found.searched_rows)


def floor_seconds(frame: LoadedFrame, det: Any, settings: DetectSettings) -> float:
    from pipeline.detect.scale import plan_scales

    tile, overlap = det.imgsz, round(settings.overlap * det.imgsz)
    w, h = frame.size_px
    plan = plan_scales(frame.view, w, h, det.gsd_m, tile, overlap, settings.limits())
    windows = plan_tiles(plan, tile, overlap)
    full = frame.full_image()
    cut = [b.copy() for b, _ in batches(full, plan, windows, tile, settings.batch)]
    started = time.perf_counter()
    for b in cut:
        det.forward(b)
    return time.perf_counter() - started


def part_stages(
    refs: list[FrameRef], det: Any, settings: DetectSettings, rounds: int, work: Path
) -> dict[str, Any]:
    per_round: list[dict[str, dict[str, float]]] = []
    detections: dict[str, list[Any]] = {WHOLE: [], SCALED: []}
    searched: dict[str, Searched] = {}
    reductions: list[int] = []
    for r in range(rounds):
        rows: dict[str, list[dict[str, float]]] = {WHOLE: [], SCALED: [], "floor": []}
        for i, ref in enumerate(refs):
            arms = [WHOLE, SCALED] if (r + i) % 2 == 0 else [SCALED, WHOLE]
            for arm in arms:
                stages: dict[str, float] = {}
                started = time.perf_counter()
                frame = load(ref, arm, det, settings)
                stages["decode"] = time.perf_counter() - started
                found = detect(frame, det, settings)
                stages.update(dict(found.stage_seconds))
                t0 = time.perf_counter()
                record(frame, found, work / arm.replace(" ", "_"))
                stages["record"] = time.perf_counter() - t0
                stages["total"] = time.perf_counter() - started
                rows[arm].append(stages)
                if r == 0:
                    detections[arm].extend(found.detections)
                    if arm == SCALED:
                        reductions.append(found.reduction)
                        assert frame.view is not None
                        searched[ref.label] = Searched(frame.view, found.searched_rows)
                if arm == WHOLE:
                    rows["floor"].append({"network": floor_seconds(frame, det, settings)})
                del frame
        per_round.append(
            {
                arm: {k: statistics.median(x.get(k, 0.0) for x in xs) for k in xs[0]}
                for arm, xs in rows.items()
            }
        )
        print(json.dumps({"part": "stages", "round": r, **per_round[-1]}), flush=True)
    summary = {
        arm: {k: statistics.median(pr[arm][k] for pr in per_round) for k in per_round[0][arm]}
        for arm in per_round[0]
    }
    return {"summary": summary, "detections": detections, "searched": searched, "reductions": reductions}


def part_end_to_end(refs: list[FrameRef], folder: Path, det: Any, rounds: int, work: Path) -> dict[str, Any]:
    """process_frame per frame + push_flight, into a fresh database per arm and round."""
    import pipeline.detect.detector as detector_module
    from pipeline.config import DatabaseUrl
    from pipeline.ingest import FlightPlan
    from pipeline.process import ProcessJob, forget_sessions, process_frame, push_flight

    real_rule = detector_module.reduction_rule
    out: dict[str, list[dict[str, float]]] = {WHOLE: [], SCALED: []}
    for r in range(rounds):
        for arm in [WHOLE, SCALED] if r % 2 == 0 else [SCALED, WHOLE]:
            root = work / f"e2e_{r}_{arm.replace(' ', '_')}"
            root.mkdir(parents=True)
            job = ProcessJob(
                db=DatabaseUrl(f"sqlite:///{root}/cases.sqlite3"),
                data_root=str(root / "data"),
                detector=lambda: det,
            )
            plan = FlightPlan(refs[0].flight_id, str(folder), tuple(refs))
            # Before: process.py's own rule swapped for "never reduce" (it imports the rule when it runs).
            detector_module.reduction_rule = real_rule if arm == SCALED else (lambda *_a, **_k: _whole)  # type: ignore[assignment]
            try:
                process_frame(refs[0], job)  # opens the database and warms the model: not timed
                started = time.perf_counter()
                for ref in refs[1:]:
                    process_frame(ref, job)
                frames_s = time.perf_counter() - started
                t0 = time.perf_counter()
                push_flight(plan, job)
                push_s = time.perf_counter() - t0
            finally:
                detector_module.reduction_rule = real_rule
                forget_sessions()
            out[arm].append(
                {"frames_s": frames_s, "per_frame_s": frames_s / (len(refs) - 1), "push_s": push_s}
            )
            print(json.dumps({"part": "end to end", "round": r, "arm": arm, **out[arm][-1]}), flush=True)
    return {arm: {k: statistics.median(x[k] for x in xs) for k in xs[0]} for arm, xs in out.items()}


def part_overlap(
    refs: list[FrameRef], spec: Any, settings: DetectSettings, threads: int, rounds: int
) -> list[dict[str, Any]]:
    """Decode + detect over the frames (scaled decode), several ways of arranging the work."""
    spinning = OnnxDetector(spec, threads, spinning=True)
    calm = OnnxDetector(spec, threads, spinning=False)
    single = OnnxDetector(spec, 1, spinning=False)

    def sequential(det: Any) -> float:
        started = time.perf_counter()
        for ref in refs:
            detect(load(ref, SCALED, det, settings), det, settings)
        return time.perf_counter() - started

    def read_ahead(det: Any) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(1) as pool:
            nxt = pool.submit(load, refs[0], SCALED, det, settings)
            for k in range(len(refs)):
                frame = nxt.result()
                if k + 1 < len(refs):
                    nxt = pool.submit(load, refs[k + 1], SCALED, det, settings)
                detect(frame, det, settings)
        return time.perf_counter() - started

    def two_at_once(det: Any) -> float:
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda ref: detect(load(ref, SCALED, det, settings), det, settings), refs))
        return time.perf_counter() - started

    configs: list[tuple[str, Callable[[Any], float], Any]] = [
        ("sequential, ORT 2 threads spinning (today)", sequential, spinning),
        ("sequential, ORT 2 threads not spinning", sequential, calm),
        ("read ahead, ORT 2 threads spinning", read_ahead, spinning),
        ("read ahead, ORT 2 threads not spinning", read_ahead, calm),
        ("two frames at once, ORT 1 thread each", two_at_once, single),
    ]
    for _, _, det in configs:  # warm every session
        detect(load(refs[0], SCALED, det, settings), det, settings)
    seconds: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    for r in range(rounds):
        order = configs[r % len(configs) :] + configs[: r % len(configs)]  # a different one goes first
        for name, run, det in order:
            seconds[name].append(run(det))
            print(
                json.dumps({"part": "overlap", "round": r, "how": name, "s": seconds[name][-1]}), flush=True
            )
    return [
        {"how": name, "frames": len(refs), "per_frame_s": statistics.median(xs) / len(refs)}
        for name, xs in seconds.items()
    ]


def part_sahi(
    refs: list[FrameRef], spec: Any, det: Any, settings: DetectSettings, threads: int
) -> dict[str, Any]:
    """Whole process per frame, decode included, SAHI defaults against ours (scaled decode)."""
    import cv2
    import torch
    from sahi import AutoDetectionModel
    from sahi.predict import get_sliced_prediction

    minimum = settings.thresholds(spec.classes, spec.min_score)
    t0 = time.perf_counter()
    model = AutoDetectionModel.from_pretrained(
        model_type="ultralytics",
        model_path=str(spec.weights),
        confidence_threshold=float(minimum.min()),
        device="cpu",
    )
    sahi_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_det = OnnxDetector(spec, threads)
    ours_load = time.perf_counter() - t0
    warm = cv2.imdecode(np.fromfile(refs[0].source, dtype=np.uint8), cv2.IMREAD_COLOR)
    get_sliced_prediction(warm[:, :, ::-1], model, verbose=0)
    torch.set_num_threads(threads)  # ultralytics set cpu_count - 1 while setting up its predictor
    sahi_s, ours_s = [], []
    for ref in refs:
        started = time.perf_counter()
        image = cv2.imdecode(np.fromfile(ref.source, dtype=np.uint8), cv2.IMREAD_COLOR)
        get_sliced_prediction(np.ascontiguousarray(image[:, :, ::-1]), model, verbose=0)
        sahi_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        detect(load(ref, SCALED, ours_det, settings), ours_det, settings)
        ours_s.append(time.perf_counter() - started)
    row = {
        "part": "sahi",
        "frames": len(refs),
        "sahi_median_s": statistics.median(sahi_s),
        "ours_median_s": statistics.median(ours_s),
        "sahi_load_s": sahi_load,
        "ours_load_s": ours_load,
    }
    print(json.dumps(row), flush=True)
    return row


def accuracy(classes: tuple[str, ...], detections: list[Any], truth: list[Any]) -> dict[str, Any]:
    total = score_all(classes, [(detections, truth)], 2.0)[-1]
    return {"recall": total.recall, "precision": total.precision, "found": total.found, "truth": total.truth}


def part_eval_flight(
    folder: Path, det: Any, settings: DetectSettings, classes: tuple[str, ...]
) -> dict[str, Any]:
    from pipeline.detect.evaluate import run_flight

    out = {}
    for arm, reduced in ((WHOLE, False), (SCALED, True)):
        run = run_flight(folder, det, settings, decode_reduced=reduced)
        out[arm] = {
            **accuracy(classes, list(run.detections), list(run.truth)),
            "s_per_frame": run.seconds / run.frames,
        }
    print(json.dumps({"part": "eval flight", **out}), flush=True)
    return out


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def render(res: dict[str, Any], args: Any) -> str:
    st = res["stages"]["summary"]
    stages = [s for s in STAGES if s in st[WHOLE] or s in st[SCALED]]
    lines = [
        "",
        "## Throughput by stage, scaled decoding, overlap "
        f"(bench/bench_throughput.py, {time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other "
        f"engineers' test runs: load average {res['load_before']} before, {res['load_after']} after.",
        f"- Flight: {res['flight']} ({len(res['refs'])} frames), ONNX Runtime, {res['threads']} threads, "
        f"default settings; decode reductions chosen: {sorted(set(res['stages']['reductions']))}.",
        f"- Medians per frame over the frames, then over {args.rounds} rounds; arms interleaved frame by "
        "frame.",
        "",
        "Per frame, seconds (median):",
        "",
        "| arm | " + " | ".join(stages) + " | total |",
        "|---|" + "---:|" * (len(stages) + 1),
    ]
    for arm in (WHOLE, SCALED):
        lines.append(
            f"| {arm} | "
            + " | ".join(f"{st[arm].get(s, 0.0):.3f}" for s in stages)
            + f" | {st[arm]['total']:.3f} |"
        )
    lines.append(
        "| floor (network only, same tiles) | "
        + " | ".join(f"{st['floor']['network']:.3f}" if s == "network" else "" for s in stages)
        + f" | {st['floor']['network']:.3f} |"
    )
    acc = res["accuracy"]
    lines += ["", "| arm | recall | precision | found / truth | vs floor |", "|---|---|---|---|---|"]
    for arm in (WHOLE, SCALED):
        a = acc[arm]
        lines.append(
            f"| {arm} | {a['recall']:.3f} | {a['precision']:.3f} | {a['found']} / {a['truth']} "
            f"| {st[arm]['total'] / st['floor']['network']:.2f}x |"
        )
    if "eval" in res:
        ev = res["eval"]
        lines += [
            "",
            f"Held-out flight {res['eval_flight']} (`patrol evaluate`'s run_flight):",
            "",
            "| arm | recall | precision | found / truth | s/frame |",
            "|---|---|---|---|---|",
        ]
        for arm in (WHOLE, SCALED):
            a = ev[arm]
            lines.append(
                f"| {arm} | {a['recall']:.3f} | {a['precision']:.3f} | {a['found']} / {a['truth']} "
                f"| {a['s_per_frame']:.3f} |"
            )
    e2e = res["end_to_end"]
    lines += [
        "",
        "End to end without Prefect (process_frame per frame into SQLite, then push_flight):",
        "",
        "| arm | s/frame | push s | vs floor |",
        "|---|---|---|---|",
    ]
    for arm in (WHOLE, SCALED):
        lines.append(
            f"| {arm} | {e2e[arm]['per_frame_s']:.3f} | {e2e[arm]['push_s']:.3f} "
            f"| {e2e[arm]['per_frame_s'] / st['floor']['network']:.2f}x |"
        )
    lines += [
        "",
        f"Overlap and threads ({res['overlap'][0]['frames']} frames, scaled decode, decode + detect; median "
        f"of {args.rounds} rounds, a different arrangement first each round):",
        "",
        "| arrangement | s/frame |",
        "|---|---|",
    ]
    lines += [f"| {o['how']} | {o['per_frame_s']:.3f} |" for o in res["overlap"]]
    if "sahi" in res:
        s = res["sahi"]
        lines += [
            "",
            f"Whole process per frame, decode included ({s['frames']} frames): SAHI defaults "
            f"{s['sahi_median_s']:.3f} s, ours {s['ours_median_s']:.3f} s: "
            f"**{s['sahi_median_s'] / s['ours_median_s']:.2f}x**; "
            f"model load SAHI {s['sahi_load_s']:.2f} s, ours {s['ours_load_s']:.2f} s.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--overlap-frames", type=int, default=8)
    ap.add_argument("--sahi-frames", type=int, default=3)
    ap.add_argument("--cache", default="var/bench/throughput")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-throughput.md")))
    ap.add_argument("--skip", nargs="*", default=[], choices=("e2e", "overlap", "sahi", "eval"))
    args = ap.parse_args()
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    threads = default_threads()
    spec = load_model_spec(None)
    settings = DetectSettings()
    folder = ensure_flight(Path(args.cache), 20, FLIGHT)  # --frames takes the first of its 20
    refs = list(plan_flight(folder, settings=IngestSettings(sampling=SAMPLE_EVERY)).frames)[: args.frames]
    det = OnnxDetector(spec, threads)
    res: dict[str, Any] = {"flight": folder.name, "refs": refs, "threads": threads, "load_before": _load()}
    with tempfile.TemporaryDirectory(dir="var") as tmp:
        work = Path(tmp)
        detect(load(refs[0], SCALED, det, settings), det, settings)  # warm-up
        res["stages"] = part_stages(refs, det, settings, args.rounds, work)
        truth = mark_range(load_truth(folder / "truth.geojson", ""), res["stages"]["searched"])
        res["accuracy"] = {
            arm: accuracy(spec.classes, res["stages"]["detections"][arm], truth) for arm in (WHOLE, SCALED)
        }
        print(json.dumps({"part": "accuracy", **res["accuracy"]}), flush=True)
        if "e2e" not in args.skip:
            res["end_to_end"] = part_end_to_end(refs, folder, det, args.rounds, work)
        if "overlap" not in args.skip:
            res["overlap"] = part_overlap(refs[: args.overlap_frames], spec, settings, threads, args.rounds)
        if "sahi" not in args.skip:
            res["sahi"] = part_sahi(refs[: args.sahi_frames], spec, det, settings, threads)
        if "eval" not in args.skip:
            ev = ensure_flight(Path(args.cache), 4, EVAL_FLIGHT)
            res["eval_flight"] = ev.name
            res["eval"] = part_eval_flight(ev, det, settings, spec.classes)
    res["load_after"] = _load()
    if {"e2e", "overlap"} & set(args.skip):
        print(json.dumps({k: v for k, v in res.items() if k in ("load_before", "load_after")}))
        return
    with open(args.out, "a") as fh:
        fh.write(render(res, args))
    print(f"appended to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
