"""Our detector against SAHI and against the bare model, on the same frames with the same weights.

Run: PYTHONPATH=. .venv/bin/python bench/detect_vs_sahi.py [--model CARD] [--frames N] [--repeats R] [--quick]
Writes bench/RESULTS.md (unless --out says otherwise) and prints one JSON line per method and case; the
"Reading" section at the end of RESULTS.md is written by hand after a run (a rerun replaces the file).
Runs about 10 minutes on the 2-core box (simulating the frames the first time: a few more).

Frames: simulated flights the model never saw (seeds 7000+), 12 MP (4000 x 3000) and 20 MP (5472 x 3648), each
straight down and at -45 degrees, at 100 m; they are cached under var/bench/ (rendering a 20 MP frame takes
seconds). Every method gets the same decoded pixels; decoding the JPEG is outside every timing.

Methods:
- sahi (defaults): `get_sliced_prediction` with its defaults (automatic slice size and overlap for the image
  size, plus a full-frame pass, greedy NMM merge) over the ultralytics .pt weights, which ultralytics runs at
  the model's input size (each slice is shrunk to it).
- sahi (model-size slices): the same with slices of the model's input size (20 % overlap, the default), how
  SAHI is usually set up for small objects: native pixels, no ground-resolution normalisation.
- floor: the forward pass of the network over exactly the tiles ours cuts, batched as ours batches them,
  pre-cut outside the timing: what inference costs with nothing else around it.
- ours: `pipeline.detect.detect_frame`, everything included (scale plan, rescaling, tiling, network,
  decoding, merging, then placing with `place_frame`), with the ONNX Runtime and the PyTorch backends.
  Ours and the floor take turns frame by frame on each backend, `--repeats` rounds (default 3); their
  medians are over every round.
Recall and precision are scored alike for all: boxes placed on the ground through the frame's metadata
(pipeline.placement.place) and matched against truth.geojson (pipeline.detect.evaluate), over the
objects the benched frames label within the rows ours searches (300 m, 2x the model's GSD at most).

Threads: torch, ONNX Runtime and OpenCV (ours' rescaling) get the same deliberate count (all cores);
ultralytics resets torch to cpu_count - 1 when its predictor is set up, so the count is set again after
SAHI's warm-up frame. Importing ultralytics (as this bench does first) turns OpenCV's threading off; each of
our detectors sets it again (pipeline.detect.backends.use_opencv_threads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline.detect.backends import default_threads, open_detector
from pipeline.detect.detector import DetectSettings, detect_frame, pixel_detections, place_frame
from pipeline.detect.evaluate import Searched, TruthObject, load_truth, mark_range, score_all
from pipeline.detect.merge import FrameBoxes
from pipeline.detect.model import ModelSpec, load_model_spec
from pipeline.detect.scale import plan_scales
from pipeline.detect.tiling import batches, plan_tiles
from pipeline.ingest import SAMPLE_EVERY, IngestSettings, load_frame, plan_flight
from pipeline.placement import place
from pipeline.types import CameraView, Detection

SIZES = {"12 MP": (4000, 3000), "20 MP": (5472, 3648)}
# Held-out flights for `patrol evaluate`'s numbers (issue 3's target conditions): seed, pitch, height.
EVAL_FLIGHTS = ((7101, -90.0, 60.0), (7102, -90.0, 130.0), (7103, -45.0, 60.0), (7104, -45.0, 130.0))
QUICK_SIZES = {"1.1 MP": (1200, 900), "1.9 MP": (1680, 1120)}
VIEWS = {"nadir": -90.0, "-45": -45.0}


@dataclass
class Frame:
    name: str
    image: np.ndarray
    view: CameraView


@dataclass
class Case:
    size: str
    view: str
    frames: list[Frame]
    truth: list[TruthObject]


@dataclass
class Outcome:
    seconds: list[float] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    tiles: int = 0


def make_cases(
    cache: Path, sizes: dict[str, tuple[int, int]], frames: int, spec: ModelSpec, settings: DetectSettings
) -> list[Case]:
    from pipeline.simulate import FlightSettings, simulate_flight

    cases = []
    for k, (size, (w, h)) in enumerate(sizes.items()):
        for j, (view_name, pitch) in enumerate(VIEWS.items()):
            seed = 7000 + 10 * k + j
            flight = FlightSettings(
                seed=seed, frames=frames, width_px=w, height_px=h, pitch_deg=pitch, altitude_m=100.0
            )
            folder = cache / f"{w}x{h}_{view_name}_s{seed}_n{frames}"
            if not (folder / "manifest.json").is_file():
                print(f"simulating {folder.name} ...", file=sys.stderr, flush=True)
                simulate_flight(folder, flight)
            loaded, searched = [], {}
            # The one ingest (every frame): the frames, pixels and poses `patrol process` sees.
            for ref in plan_flight(folder, settings=IngestSettings(sampling=SAMPLE_EVERY)).frames:
                frame = load_frame(ref)
                if frame.view is None:
                    raise SystemExit(f"{ref.name}: no pose ({frame.why_no_pose})")
                loaded.append(Frame(ref.name, frame.image, frame.view))
                overlap = round(settings.overlap * spec.imgsz)
                plan = plan_scales(frame.view, w, h, spec.gsd_m, spec.imgsz, overlap, settings.limits())
                searched[ref.label] = Searched(frame.view, plan.searched_rows)
            truth = mark_range(load_truth(folder / "truth.geojson", f"{folder.name}/"), searched)
            cases.append(Case(size, view_name, loaded, truth))
    return cases


def run_ours_and_floor(
    case: Case, detector: Any, settings: DetectSettings, repeats: int
) -> tuple[Outcome, Outcome]:
    """(ours, floor) on one backend, frame by frame in turn, `repeats` rounds: a slow spell of this shared VM
    then falls on both alike instead of on whichever ran through the case during it (ratios still move by
    about 10 points between runs on these VMs). Ours' boxes are kept from the first round."""
    ours, floor = Outcome(), Outcome()
    tile = detector.imgsz
    overlap = round(settings.overlap * tile)
    cut = []
    for f in case.frames:
        h, w = f.image.shape[:2]
        plan = plan_scales(f.view, w, h, detector.gsd_m, tile, overlap, settings.limits())
        windows = plan_tiles(plan, tile, overlap)
        cut.append([b.copy() for b, _ in batches(f.image, plan, windows, tile, settings.batch)])
        floor.tiles += len(windows)
    detector.forward(cut[0][0])  # warm-up
    detect_frame(case.frames[0].image, case.frames[0].view, detector, settings)
    for round_ in range(repeats):
        for f, arrays in zip(case.frames, cut, strict=True):
            t0 = time.perf_counter()
            for a in arrays:
                detector.forward(a)
            floor.seconds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = place_frame(
                detect_frame(f.image, f.view, detector, settings, path=f.name), settings.max_ground_distance_m
            )
            ours.seconds.append(time.perf_counter() - t0)
            if round_ == 0:
                ours.detections.extend(result.detections)
                ours.tiles += result.tiles
    return ours, floor


def run_sahi(case: Case, spec: ModelSpec, settings: DetectSettings, threads: int, **slicing: Any) -> Outcome:
    import torch
    from sahi import AutoDetectionModel
    from sahi.predict import get_sliced_prediction

    # The same minimum scores as ours: SAHI takes one, the lowest; each class's own is applied after.
    minimum = settings.thresholds(spec.classes, spec.min_score)
    model = AutoDetectionModel.from_pretrained(
        model_type="ultralytics",
        model_path=str(spec.weights),
        confidence_threshold=float(minimum.min()),
        device="cpu",
    )
    out = Outcome()
    get_sliced_prediction(case.frames[0].image[:, :, ::-1], model, verbose=0, **slicing)  # warm-up
    torch.set_num_threads(threads)  # ultralytics set cpu_count - 1 while setting up its predictor
    for f in case.frames:
        rgb = np.ascontiguousarray(f.image[:, :, ::-1])
        t0 = time.perf_counter()
        result = get_sliced_prediction(rgb, model, verbose=0, **slicing)
        out.seconds.append(time.perf_counter() - t0)
        preds = result.object_prediction_list
        boxes = FrameBoxes(
            np.array([p.bbox.to_xyxy() for p in preds], dtype=float).reshape(-1, 4),
            np.array([p.score.value for p in preds], dtype=float),
            np.array([p.category.id for p in preds], dtype=np.int64),
            np.zeros(len(preds), dtype=np.int8),
        )
        keep = boxes.score >= minimum[boxes.cls]
        boxes = FrameBoxes(boxes.xyxy[keep], boxes.score[keep], boxes.cls[keep], boxes.cut[keep])
        out.detections.extend(place(pixel_detections(boxes, spec.classes, f.name), f.view, 1e9).detections)
    return out


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in info.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, no GPU; {platform.platform()}"


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _versions() -> str:
    import onnxruntime
    import sahi
    import torch
    import ultralytics

    return (
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, ultralytics {ultralytics.__version__}, "
        f"sahi {sahi.__version__}, OpenCV {cv2.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model card (default: the shipped models/patrol-det.json)")
    ap.add_argument("--frames", type=int, default=3, help="frames per case (default 3)")
    ap.add_argument(
        "--repeats", type=int, default=3, help="rounds of ours and the floor over each case (default 3)"
    )
    ap.add_argument("--quick", action="store_true", help="small frames, to try the bench out")
    ap.add_argument("--cache", default="var/bench", help="where simulated frames are kept")
    ap.add_argument("--out", default=None, help="results file (default bench/RESULTS.md; none with --quick)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--part", choices=("all", "speed", "eval"), default="all", help="default: both tables")
    args = ap.parse_args()

    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    import torch

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    spec = load_model_spec(args.model)
    settings = DetectSettings()
    load_before = _load()
    sizes = {} if args.part == "eval" else QUICK_SIZES if args.quick else SIZES
    cases = make_cases(Path(args.cache), sizes, args.frames, spec, settings)
    onnx = open_detector(spec, "onnx", threads)
    pt = open_detector(spec, "torch", threads)
    evaluated = [] if args.part == "speed" else run_evaluation(Path(args.cache), spec, onnx, settings, args)
    tile_slices = {"slice_height": spec.imgsz, "slice_width": spec.imgsz}
    rows = []
    for case in cases:
        outcomes = {
            "sahi (defaults, torch)": run_sahi(case, spec, settings, threads),
            "sahi (model-size slices, torch)": run_sahi(case, spec, settings, threads, **tile_slices),
        }
        for backend, detector in (("onnx", onnx), ("torch", pt)):
            ours, floor = run_ours_and_floor(case, detector, settings, args.repeats)
            outcomes[f"floor ({backend})"], outcomes[f"ours ({backend})"] = floor, ours
        for method, o in outcomes.items():
            total = score_all(spec.classes, [(o.detections, case.truth)], 2.0)[-1]
            row = {
                "size": case.size,
                "view": case.view,
                "method": method,
                "frames": len(case.frames),
                "median_s": round(statistics.median(o.seconds), 3),
                "tiles_per_frame": round(o.tiles / len(case.frames), 1) if o.tiles else None,
                "recall": None if method.startswith("floor") else total.recall,
                "precision": None if method.startswith("floor") else total.precision,
                "truth": total.truth,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    load_after = _load()
    text = render(rows, spec, threads, load_before, load_after, args) + render_evaluation(evaluated)
    out = Path(args.out) if args.out else (None if args.quick else Path(__file__).with_name("RESULTS.md"))
    if out is not None:
        out.write_text(text)
        print(f"wrote {out}", file=sys.stderr)


def run_evaluation(
    cache: Path, spec: ModelSpec, detector: Any, settings: DetectSettings, args: Any
) -> list[dict[str, Any]]:
    """`patrol evaluate` on held-out 4000 x 3000 flights (4 frames each, 2 with --quick), per flight, all."""
    from pipeline.detect.evaluate import run_flight
    from pipeline.simulate import FlightSettings, simulate_flight

    frames = 2 if args.quick else 4
    size = (1200, 900) if args.quick else (4000, 3000)
    runs = []
    for seed, pitch, height in EVAL_FLIGHTS:
        folder = cache / "eval" / f"{size[0]}x{size[1]}_s{seed}_p{pitch:g}_h{height:g}_n{frames}"
        if not (folder / "manifest.json").is_file():
            print(f"simulating {folder.name} ...", file=sys.stderr, flush=True)
            simulate_flight(
                folder,
                FlightSettings(
                    seed=seed,
                    frames=frames,
                    width_px=size[0],
                    height_px=size[1],
                    pitch_deg=pitch,
                    altitude_m=height,
                ),
            )
        runs.append((f"{pitch:g} deg, {height:g} m", run_flight(folder, detector, settings)))
    rows = []
    for label, group in [*((lab, [r]) for lab, r in runs), ("all", [r for _, r in runs])]:
        n = sum(r.frames for r in group)
        for score in score_all(spec.classes, [(r.detections, r.truth) for r in group], 2.0):
            row = {"flight": label, **score.as_dict(), "frames": n}
            row["false_per_frame"] = round(score.false_positives / n, 3) if n else None
            row["s_per_frame"] = round(sum(r.seconds for r in group) / n, 2) if n else None
            rows.append(row)
            print(json.dumps(row), flush=True)
    rows.extend(lookalike_heavy(spec, [r for _, r in runs]))
    return rows


def lookalike_heavy(spec: ModelSpec, runs: list[Any]) -> list[dict[str, Any]]:
    """False detections per frame on the quarter of the frames that show the most look-alikes (courts,
    canopies, tarps, cars...: the manifest's `distractors`), the issue's "distractor-heavy scenes"."""
    shown = []
    for r in runs:
        manifest = json.loads((Path(r.folder) / "manifest.json").read_text())
        for record in manifest["frames"]:
            shown.append((len(record.get("distractors", ())), str(Path(r.folder) / record["file"])))
    shown.sort(key=lambda s: -s[0])
    top = shown[: max(1, len(shown) // 4)]
    heavy = {path for _, path in top}
    groups = [(tuple(d for d in r.detections if d.path in heavy), r.truth) for r in runs]
    rows = []
    for score in score_all(spec.classes, groups, 2.0):
        row = {
            "flight": "look-alike-heavy frames",
            "class": score.class_name,
            "frames": len(top),
            "lookalikes_per_frame": round(statistics.mean(n for n, _ in top), 1),
            "false_positives": score.false_positives,
            "false_per_frame": round(score.false_positives / len(top), 3),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def render_evaluation(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    lines = [
        "",
        "## Object-level evaluation on held-out flights (`patrol evaluate`)",
        "",
        "Simulated flights the model never saw (seeds 7101-7104), 4000 x 3000 frames, nadir and -45 degrees "
        "at 60 and 130 m, ONNX backend, default settings (the model card's per-class minimum scores; far "
        "rows not enlarged; searched: within 300 m, ground at most 2x the model's GSD). A truth object is "
        "found when a detection's ground position lies in its footprint or within 2 m of it; `beyond` counts "
        "objects the frames only saw outside the searched rows (not asked for).",
        "",
        "| flight | class | truth | found | recall | precision | AP | false/frame | beyond | s/frame |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    heavy = [r for r in rows if "lookalikes_per_frame" in r]
    for r in rows:
        if r in heavy:
            continue
        lines.append(
            f"| {r['flight']} | {r['class']} | {r['truth']} | {r['found']} | {_fmt(r['recall'])} "
            f"| {_fmt(r['precision'])} | {_fmt(r['ap'])} | {_fmt(r['false_per_frame'])} "
            f"| {r['beyond_range']} | {_fmt(r['s_per_frame'])} |"
        )
    if heavy:
        lines += [
            "",
            f"Look-alike-heavy frames: the quarter of these frames ({heavy[0]['frames']}) that show the most "
            "look-alikes (the manifest's `distractors`: courts, pools, market canopies, tarp trucks, "
            "material stacks, factory roofs, cars, groups of people; "
            f"{heavy[0]['lookalikes_per_frame']} a frame on average).",
            "",
            "| class | false detections | false/frame |",
            "|---|---|---|",
        ]
        lines += [f"| {r['class']} | {r['false_positives']} | {_fmt(r['false_per_frame'])} |" for r in heavy]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def render(
    rows: list[dict[str, Any]], spec: ModelSpec, threads: int, before: str, after: str, args: Any
) -> str:
    lines = [
        "# Detector: ours vs SAHI vs the bare model",
        "",
        "Written by `PYTHONPATH=. .venv/bin/python bench/detect_vs_sahi.py"
        + (f" --frames {args.frames}" if args.frames != 3 else "")
        + (f" --part {args.part}" if args.part != "all" else "")
        + (f" --repeats {args.repeats}" if args.repeats != 3 else "")
        + "`; see its docstring for what each method includes.",
        "",
        f"- Machine: {_machine()}",
        f"- Software: {_versions()}",
        f"- Threads: {threads} (torch, ONNX Runtime and OpenCV alike). Load: {before} before, {after} after.",
        f"- Model: {spec.name} ({', '.join(spec.classes)}), {spec.imgsz} px tiles at {spec.gsd_m} m/px.",
        "- Frames: simulated, seeds 7000+, 100 m above ground, nadir and -45 degrees pitch; "
        f"{rows[0]['frames'] if rows else 0} per case. Median seconds per frame (ours and the floor: over "
        f"{args.repeats} rounds, taking turns frame by frame); recall and precision over "
        "the objects these frames label in the rows ours searches (within 300 m, ground at most 2x the "
        "model's GSD), matched on the ground within 2 m.",
        "",
        "| size | view | method | s/frame (median) | tiles/frame | recall | precision |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['view']} | {r['method']} | {_fmt(r['median_s'])} "
            f"| {_fmt(r['tiles_per_frame'])} | {_fmt(r['recall'])} | {_fmt(r['precision'])} |"
        )
    lines += ["", "Ratios per case (median s/frame):", ""]
    by = {(r["size"], r["view"], r["method"]): r for r in rows}
    for size, view in dict.fromkeys((r["size"], r["view"]) for r in rows):

        def t(method: str, size: str = size, view: str = view) -> float:
            return float(by[(size, view, method)]["median_s"])

        ours, ours_t = t("ours (onnx)"), t("ours (torch)")
        sahi, sahi_tiles = t("sahi (defaults, torch)"), t("sahi (model-size slices, torch)")
        lines.append(
            f"- {size} {view}: ours (onnx) runs at {sahi / ours:.2f}x the throughput of SAHI's defaults and "
            f"{sahi_tiles / ours:.2f}x that of SAHI with model-size slices, "
            f"{100 * (ours / t('floor (onnx)') - 1):+.0f}% over its floor; ours (torch) "
            f"{100 * (ours_t / t('floor (torch)') - 1):+.0f}% over its floor."
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
