"""Each ground cell once (issue 15): a 75 %-overlap mapping flight detected every frame fully, against each
cell of ground searched once at its best view plus re-checks of what that found in the other frames that
covered it. Tiles run, frames per second, and case recall / precision of both.

    PYTHONPATH=. .venv/bin/python bench/bench_overlap.py [--frames 40] [--rounds 2] [--max-views N] [--keep N]
        [--candidate-score S] [--production]
        [--width 5472 --height 3648] [--out bench/RESULTS-throughput.md]

Flight: simulated nadir mapping survey from 100 m, 75 % forward and 75 % side overlap (the simulator's
default plan is 70 / 60 %: this bench gives its mapping plan 75 / 75 for the run, in this process only),
1 m of GNSS noise per axis, seed 7700, cached under var/bench/overlap/. ONNX Runtime, all cores, default
detection settings, scaled decoding in both arms.

Arms, whole flight each, taking turns round by round (the order swapped every round):
- every: load_frame + detect_frame + place_frame per frame (what `patrol process` does today);
- cells: pipeline.cell_search: the plan from metadata, the first pass (each frame's rectangle, decoded
  once), the re-checks (each frame with crops decoded again), everything timed, planning included.
Evidence crops and the database row per frame (process_frame's "record") are left out of both: they cost
the same per sighting either way.

Accuracy: each arm's placed detections and searched ground (coverage: the whole searched rows for
"every", the searched rectangles for "cells") are pushed with pipeline.cases.ingest.push_sightings (the
production dedupe and merge) into a fresh SQLite database; its cases are matched to truth.geojson as
bench/bench_evidence.py matches them (same class, centroid within max(5 m, half the target's extent
+ 3 m)). Recall over targets some frame's labels hold; precision over cases; "queue" leaves out low-evidence
cases (the evidence rule, which reads seen / covered).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import geo
from pipeline.cell_search import (
    coverage_pieces,
    first_pass,
    plan_search,
    plan_second_pass,
    second_pass,
)
from pipeline.detect.backends import OnnxDetector, default_threads
from pipeline.detect.detector import (
    DetectSettings,
    FrameDetections,
    detect_frame,
    place_frame,
    reduction_rule,
)
from pipeline.detect.model import load_model_spec
from pipeline.ingest import SAMPLE_EVERY, FrameRef, IngestSettings, LoadedFrame, load_frame, plan_flight
from pipeline.types import FrameCoverage, Sighting

SEED, HEIGHT_M, OVERLAP, GPS_NOISE_M = 7700, 100.0, (0.75, 0.75), 1.0
EVERY, CELLS = "every", "cells"


def ensure_flight(cache: Path, frames: int, width: int, height: int) -> Path:
    from pipeline.simulate import FlightSettings, simulate_flight

    folder = cache / f"map{width}x{height}_h{HEIGHT_M:g}_o{OVERLAP[0]:g}x{OVERLAP[1]:g}_s{SEED}_n{frames}"
    if (folder / "manifest.json").is_file():
        return folder
    print(f"simulating {folder.name} ...", file=sys.stderr, flush=True)
    simulate_flight(
        folder,
        FlightSettings(
            seed=SEED, frames=frames, width_px=width, height_px=height, altitude_m=HEIGHT_M,
            pitch_deg=-90.0, plan="mapping", gps_noise_m=GPS_NOISE_M, overlap=OVERLAP,
        ),
    )  # fmt: skip
    return folder


def _searched_rect(found: FrameDetections) -> list[tuple[float, float, float, float]]:
    top, bottom = found.searched_rows
    return list(found.searched_px) or ([(0.0, top, found.width_px, bottom)] if bottom > top else [])


def run_every(refs: list[FrameRef], det: Any, settings: DetectSettings) -> dict[str, Any]:
    started = time.perf_counter()
    frames: list[tuple[FrameRef, FrameDetections, LoadedFrame]] = []
    rule = reduction_rule(det, settings)
    decode = 0.0
    for ref in refs:
        t0 = time.perf_counter()
        frame = load_frame(ref, reduction=rule)
        decode += time.perf_counter() - t0
        found = detect_frame(
            frame.image, frame.view, det, settings, path=ref.name, intrinsics=frame.intrinsics,
            why_no_pose=frame.why_no_pose, reduction=frame.reduction,
        )  # fmt: skip
        frames.append((ref, place_frame(found, settings.max_ground_distance_m), _light(frame)))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "frames": frames,
        "tiles": sum(f.tiles for _, f, _ in frames),
        "decode_s": decode,
        "network_s": sum(dict(f.stage_seconds).get("network", 0.0) for _, f, _ in frames),
    }


def _light(frame: LoadedFrame) -> LoadedFrame:
    """The frame without its pixels (the bench keeps only what scoring needs)."""
    from dataclasses import replace

    return replace(frame, image=np.zeros((1, 1, 3), dtype=np.uint8))


def run_cells(
    refs: list[FrameRef],
    det: Any,
    settings: DetectSettings,
    max_views: int | None,
    keep: int,
    candidate_score: float | None = None,
) -> dict[str, Any]:
    """`keep`: decoded frames held from the first pass for the re-checks (the latest ones; the others are
    decoded again)."""
    started = time.perf_counter()
    plan = plan_search(refs, det, settings)
    planned = time.perf_counter()
    firsts = []
    loaded: list[LoadedFrame | None] = []
    held: dict[int, LoadedFrame] = {}
    for k, (ref, assignment) in enumerate(zip(refs, plan.cells.frames, strict=True)):
        found, frame = first_pass(ref, assignment, det, settings, candidate_score=candidate_score)
        firsts.append(found)
        loaded.append(_light(frame) if frame is not None else None)
        if frame is not None and keep > 0:
            held[k] = frame
            while len(held) > keep:
                held.pop(min(held))
    first_done = time.perf_counter()
    placed_first = [place_frame(f, settings.max_ground_distance_m) for f in firsts]
    cands, crops = plan_second_pass(plan, placed_first, det, settings, max_views=max_views)
    out = []
    decoded_again = 0
    for k, ref in enumerate(refs):
        decoded_again += int(bool(crops[k]) and k not in held)
        found = second_pass(ref, firsts[k], crops[k], det, settings, frame=held.pop(k, None))
        out.append(place_frame(found, settings.max_ground_distance_m))
    seconds = time.perf_counter() - started
    frames = []
    for k, ref in enumerate(refs):
        frame = loaded[k]
        if frame is None and crops[k]:
            frame = _light(load_frame(ref))
        frames.append((ref, out[k], frame))
    return {
        "seconds": seconds,
        "plan_s": planned - started,
        "first_s": first_done - planned,
        "second_s": time.perf_counter() - first_done,
        "frames": frames,
        "tiles": sum(f.tiles for f in out),
        "tiles_first": sum(f.tiles for f in firsts),
        "candidates": len(cands),
        "crops": sum(len(c) for c in crops),
        "frames_decoded_twice": decoded_again,
        "network_s": sum(dict(f.stage_seconds).get("network", 0.0) for f in out),
    }


def push_and_score(
    arm: str, run: dict[str, Any], truth: list[dict[str, Any]], work: Path, max_distance_m: float
) -> dict[str, Any]:
    from pipeline.cases.categories import load_categories
    from pipeline.cases.db import open_db
    from pipeline.cases.ingest import push_sightings

    sightings: list[Sighting] = []
    cover: list[FrameCoverage] = []
    for ref, found, frame in run["frames"]:
        if frame is None or frame.view is None or not found.georeferenced:
            continue
        seen_at = frame.seen_at or "2024-03-01T09:00:00+08:00"
        path = str(Path(ref.source).resolve())
        for d in found.detections:
            if d.lat is None or d.lon is None:
                continue
            sightings.append(
                Sighting(
                    ref.flight_id, path, d.class_name, d.score, d.xyxy_px, d.lat, d.lon, seen_at,
                    footprint=d.footprint, size_m=d.size_m, position_error_m=d.position_error_m,
                    ground_distance_m=d.ground_distance_m, local_gsd_m=d.local_gsd_m,
                )
            )  # fmt: skip
        rects = _searched_rect(found)
        from dataclasses import replace

        cover += coverage_pieces(
            replace(found, searched_px=tuple(rects)), frame.view, ref.flight_id, path, seen_at, max_distance_m
        )
    db = work / f"{arm}.sqlite3"
    sessions = open_db(f"sqlite:///{db}")
    with sessions.begin() as s:
        push_sightings(s, sightings, frames=cover, categories=load_categories(), data_root=work / arm)
    return {**score_db(db, truth), "sightings": len(sightings)}


def score_db(db: Path, truth: list[dict[str, Any]]) -> dict[str, Any]:
    """Cases of a case database against the flight's truth (module docstring)."""
    from sqlalchemy import select

    from pipeline.cases.db import open_db
    from pipeline.cases.evidence_rule import DEFAULT_RULE
    from pipeline.cases.models import Case

    with open_db(f"sqlite:///{db}")() as s:
        cases = list(s.scalars(select(Case)))
    findable = [t for t in truth if t["frames"]]
    matched: dict[int, str] = {}
    for c in cases:
        best = None
        for t in truth:
            if t["class"] != c.class_name:
                continue
            d = geo.distance_m(c.lat, c.lon, t["lat"], t["lon"])
            if d <= max(5.0, 0.5 * t["extent_m"] + 3.0) and (best is None or d < best[0]):
                best = (d, t["id"])
        if best is not None:
            matched[c.id] = best[1]
    queue = [c for c in cases if not c.low_evidence and c.status != "excluded"]

    def score(chosen: list[Any]) -> dict[str, Any]:
        hits = {matched[c.id] for c in chosen if c.id in matched}
        true = [c for c in chosen if c.id in matched]
        return {
            "cases": len(chosen),
            "precision": round(len(true) / len(chosen), 3) if chosen else None,
            "recall": round(len(hits & {t["id"] for t in findable}) / len(findable), 3) if findable else None,
            "found": len(hits & {t["id"] for t in findable}),
            "cases_per_object": round(len(true) / len(hits), 2) if hits else None,
        }

    true_cases = [c for c in cases if c.id in matched]
    return {
        "all": score(cases),
        "queue": score(queue),
        "findable": len(findable),
        "mean_seen": round(float(np.mean([c.evidence_seen or 0 for c in true_cases])), 2)
        if true_cases
        else None,
        "mean_covered": round(float(np.mean([c.evidence_covered or 0 for c in true_cases])), 2)
        if true_cases
        else None,
        "confidence_true": round(float(np.median([c.confidence or 0 for c in true_cases])), 3)
        if true_cases
        else None,
        "rule_low_below": DEFAULT_RULE.low_below,
    }


def run_production(refs: list[FrameRef], folder: Path, det: Any, search: str, work: Path) -> dict[str, Any]:
    """What `patrol process` runs per frame, without Prefect: process_frame (every), or plan_cells,
    first_pass_frame, rechecks_for and second_pass_frame (cells), each frame recorded (evidence crops
    written) into a fresh SQLite database; then push_flight. The model is warm; the database opened first."""
    from pipeline.config import DatabaseUrl
    from pipeline.ingest import FlightPlan
    from pipeline.process import ProcessJob, forget_sessions, process_frame, push_flight, sessions_for
    from pipeline.process_cells import first_pass_frame, plan_cells, rechecks_for, second_pass_frame
    from pipeline.run_summary import FrameOutcome

    root = work / f"production_{search}"
    root.mkdir(parents=True)
    job = ProcessJob(
        db=DatabaseUrl(f"sqlite:///{root}/cases.sqlite3"), data_root=str(root / "data"),
        detector=lambda: det, search=search,
    )  # fmt: skip
    sessions_for(job.db_url)
    plan = FlightPlan(refs[0].flight_id, str(folder), tuple(refs))
    started = time.perf_counter()
    if search == "every":
        outcomes = [process_frame(ref, job) for ref in refs]
    else:
        cells = plan_cells(plan, job)
        firsts = [first_pass_frame(r, job, a) for r, a in zip(refs, cells.cells.frames, strict=True)]
        crops = rechecks_for(cells, firsts, job)
        outcomes = [
            f if isinstance(f, FrameOutcome) else second_pass_frame(r, job, f, c)
            for r, f, c in zip(refs, firsts, crops, strict=True)
        ]
    frames_s = time.perf_counter() - started
    push_flight(plan, job)
    seconds = time.perf_counter() - started
    from sqlalchemy import select

    from pipeline.cases.models import ProcessedFrame

    with sessions_for(job.db_url)() as s:
        tiles = sum(int((r.result or {}).get("tiles", 0)) for r in s.scalars(select(ProcessedFrame)))
    forget_sessions()
    return {
        "seconds": seconds,
        "frames_s": frames_s,
        "tiles": tiles,
        "failed": sum(1 for o in outcomes if o.status != "done"),
        "db": root / "cases.sqlite3",
    }


def load_truth(folder: Path) -> list[dict[str, Any]]:
    doc = json.loads((folder / "truth.geojson").read_text())
    out = []
    for f in doc["features"]:
        p = f["properties"]
        ring = f["geometry"]["coordinates"][0][:-1]
        en = np.array(
            [geo.latlon_offset(p["centroid_lat"], p["centroid_lon"], lat, lon) for lon, lat in ring]
        )
        extent = float(np.max(np.hypot(*(en[:, None, :] - en[None, :, :]).transpose(2, 0, 1))))
        out.append(
            {"id": p["id"], "class": p["class"], "lat": p["centroid_lat"], "lon": p["centroid_lon"],
             "extent_m": extent, "frames": p["frames"]}
        )  # fmt: skip
    return out


def _load() -> list[float]:
    return [round(x, 1) for x in os.getloadavg()]


def render(res: dict[str, Any], args: argparse.Namespace) -> str:
    e, c = res[EVERY], res[CELLS]
    n = res["frames"]
    lines = [
        "",
        f"## Each ground cell once on a 75 %-overlap mapping flight (bench/bench_overlap.py, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other engineers' work: load "
        f"average {res['load_before']} before, {res['load_after']} after.",
        f"- Command: `PYTHONPATH=. .venv/bin/python bench/bench_overlap.py {' '.join(res['argv'])}`",
        f"- Flight: {res['flight']} ({n} frames, {args.width}x{args.height}, nadir from {HEIGHT_M:g} m, "
        f"75 % forward and side overlap, {GPS_NOISE_M:g} m GNSS noise); ONNX Runtime, {res['threads']} "
        f"threads, default settings, scaled decoding in both arms; re-checks per candidate: "
        f"{'all covering frames' if args.max_views is None else args.max_views}; decoded frames held "
        f"between the passes: {args.keep}; first-pass candidates down to score "
        f"{args.candidate_score if args.candidate_score is not None else 'the class minimums'}.",
        f"- Rounds: {args.rounds}, arms alternating; seconds are each arm's median over rounds "
        f"(per round: every {e['seconds_all']}, cells {c['seconds_all']}).",
        "",
        "| arm | tiles | tiles/frame | seconds | frames/s | cases | precision | recall | queue "
        "| queue precision | queue recall | seen/covered (true cases, mean) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in ((EVERY, e), (CELLS, c)):
        a, q = r["score"]["all"], r["score"]["queue"]
        lines.append(
            f"| {name} | {r['tiles']} | {r['tiles'] / n:.1f} | {r['seconds']:.1f} | {n / r['seconds']:.2f} "
            f"| {a['cases']} | {a['precision']} | {a['recall']} ({a['found']}/{r['score']['findable']}) "
            f"| {q['cases']} | {q['precision']} | {q['recall']} ({q['found']}/{r['score']['findable']}) "
            f"| {r['score']['mean_seen']}/{r['score']['mean_covered']} |"
        )
    lines += [
        "",
        f"Cells arm: {c['tiles_first']} tiles in the first pass, {c['tiles'] - c['tiles_first']} in "
        f"{c['crops']} re-check crops for {c['candidates']} candidates; {c['frames_decoded_twice']} frames "
        f"decoded twice; plan {c['plan_s']:.2f} s, first pass {c['first_s']:.1f} s, re-checks "
        f"{c['second_s']:.1f} s. Network (first round): every {e['network_s']:.1f} s, cells "
        f"{c['network_s']:.1f} s; decoding every frame once (every arm): {e['decode_s']:.1f} s. "
        f"Ratios: **{e['tiles'] / c['tiles']:.2f}x fewer tiles, {e['seconds'] / c['seconds']:.2f}x the "
        f"frames per second**.",
    ]
    if "production" in res:
        p = res["production"]
        lines += [
            "",
            "Production path, once each, without Prefect (process_frame per frame, or --search cells' "
            "first_pass_frame / rechecks_for / second_pass_frame; evidence crops and frame records written; "
            "then push_flight):",
            "",
            "| search | tiles | seconds | frames/s | queue | queue precision | queue recall |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name in (EVERY, CELLS):
            r, q = p[name], p[name]["score"]["queue"]
            lines.append(
                f"| {name} | {r['tiles']} | {r['seconds']:.1f} | {n / r['seconds']:.2f} | {q['cases']} "
                f"| {q['precision']} | {q['recall']} ({q['found']}/{p[name]['score']['findable']}) |"
            )
        lines.append(
            f"\nRatios: {p[EVERY]['tiles'] / p[CELLS]['tiles']:.2f}x fewer tiles, "
            f"{p[EVERY]['seconds'] / p[CELLS]['seconds']:.2f}x the frames per second."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--width", type=int, default=5472)
    ap.add_argument("--height", type=int, default=3648)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--max-views", type=int, default=None)
    ap.add_argument("--keep", type=int, default=0, help="decoded frames held for the re-checks")
    ap.add_argument("--candidate-score", type=float, default=None, help="first-pass candidates down to it")
    ap.add_argument("--cache", default="var/bench/overlap")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-throughput.md")))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--production", action="store_true", help="also the per-frame path patrol process runs")
    args = ap.parse_args()
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    threads = default_threads()
    spec = load_model_spec(None)
    settings = DetectSettings()
    folder = ensure_flight(Path(args.cache), args.frames, args.width, args.height)
    refs = list(plan_flight(folder, settings=IngestSettings(sampling=SAMPLE_EVERY)).frames)
    det = OnnxDetector(spec, threads)
    truth = load_truth(folder)
    res: dict[str, Any] = {
        "flight": folder.name, "frames": len(refs), "threads": threads, "load_before": _load(),
        "argv": sys.argv[1:],
    }  # fmt: skip
    detect_frame(load_frame(refs[0]).image[:640, :640], None, det, settings)  # warm the model up
    runs: dict[str, list[dict[str, Any]]] = {EVERY: [], CELLS: []}
    for r in range(args.rounds):
        for arm in (EVERY, CELLS) if r % 2 == 0 else (CELLS, EVERY):
            run = (
                run_every(refs, det, settings)
                if arm == EVERY
                else run_cells(refs, det, settings, args.max_views, args.keep, args.candidate_score)
            )
            runs[arm].append(run)
            line = {"round": r, "arm": arm, "seconds": round(run["seconds"], 2), "tiles": run["tiles"]}
            print(json.dumps(line), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir="var") as tmp:
        if args.production:
            prod = {}
            for arm in (EVERY, CELLS):
                run = run_production(refs, folder, det, arm, Path(tmp))
                run["score"] = score_db(run.pop("db"), truth)
                prod[arm] = run
                line = {"production": arm, "seconds": round(run["seconds"], 2), "tiles": run["tiles"]}
                print(json.dumps(line), file=sys.stderr, flush=True)
            res["production"] = prod
        for arm in (EVERY, CELLS):
            first = runs[arm][0]
            secs = [x["seconds"] for x in runs[arm]]
            summary = {k: v for k, v in first.items() if k != "frames"}
            summary["seconds"] = float(np.median(secs))
            summary["seconds_all"] = [round(x, 1) for x in secs]
            summary["score"] = push_and_score(arm, first, truth, Path(tmp), settings.max_ground_distance_m)
            res[arm] = summary
    res["load_after"] = _load()
    print(json.dumps({k: v for k, v in res.items()}, default=str, indent=1))
    if not args.no_write:
        with open(args.out, "a") as fh:
            fh.write(render(res, args))
        print(f"appended to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
