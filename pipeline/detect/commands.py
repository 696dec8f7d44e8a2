"""`patrol detect` and `patrol evaluate`: the detector from the command line. No model download, no Prefect:
the model is the card given by --model (default PATROL_MODEL, else models/patrol-det.json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_SEARCH_RANGE_M
from pipeline.errors import PipelineError

EXIT_SOME_FAILED = 1


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _warn(kind: str, message: str) -> None:
    print(f"patrol: {kind}: {message}", file=sys.stderr, flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output, one JSON object per line")
    p.add_argument(
        "--db", default=None, help="case database URL (default PATROL_DB_URL, else SQLite under var/)"
    )


def add_conf_arg(p: argparse.ArgumentParser) -> None:
    """--conf, for every command that runs the detector."""
    p.add_argument(
        "--conf",
        type=float,
        default=None,
        metavar="P",
        help="minimum score for every class (default: the model card's per class, else 0.25)",
    )


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=None,
        metavar="CARD",
        help="model card JSON (default PATROL_MODEL, else the shipped one)",
    )
    p.add_argument(
        "--backend", default="auto", choices=("auto", "onnx", "torch"), help="default: auto (ONNX)"
    )
    p.add_argument(
        "--threads", type=int, default=None, metavar="N", help="inference threads (default: all cores)"
    )
    add_conf_arg(p)
    p.add_argument(
        "--max-distance",
        type=float,
        default=None,
        metavar="M",
        help="search and report nothing farther than this from below the drone "
        f"(default {DEFAULT_SEARCH_RANGE_M:g} m)",
    )


def _settings(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from pipeline.detect.detector import DetectSettings

    settings = DetectSettings()
    if args.conf is not None:
        settings = replace(settings, conf=args.conf)
    if args.max_distance is not None:
        settings = replace(settings, max_ground_distance_m=args.max_distance)
    settings.check()
    return settings


def _detector(args: argparse.Namespace) -> Any:
    from pipeline.detect.backends import open_detector
    from pipeline.detect.model import load_model_spec

    return open_detector(load_model_spec(args.model), args.backend, args.threads)


def cmd_detect(args: argparse.Namespace) -> int:
    from pipeline.config import load_settings
    from pipeline.detect.detector import detect_frame, place_frame, reduction_rule
    from pipeline.ingest import load_frame, photo_ref

    settings = _settings(args)
    max_pixels = load_settings().max_pixels
    detector = _detector(args)
    failed = 0
    for name in args.images:
        try:
            # The one ingest: the header's pixel count is checked before decoding, as in `patrol process`.
            rule = reduction_rule(detector, settings)
            frame = load_frame(photo_ref(Path(name)), args.ground_elevation, max_pixels, rule)
            in_pixels = detect_frame(
                frame.image,
                frame.view,
                detector,
                settings,
                path=name,
                intrinsics=frame.intrinsics,
                why_no_pose=frame.why_no_pose,
                reduction=frame.reduction,
            )
            result = place_frame(in_pixels, settings.max_ground_distance_m)
        except PipelineError as err:
            failed += 1
            _warn("error", str(err))
            continue
        if result.fallback_scale:
            for note in result.notes:
                _warn("note", f"{name}: {note}")
        if args.frames:
            _emit(result.as_dict()) if args.json else print(_frame_line(result.as_dict()))
            continue
        for det in result.detections:
            if args.json:
                _emit(det.as_dict())
            else:
                where = (
                    f"{det.lat:.7f}, {det.lon:.7f}" if det.lat is not None and det.lon is not None else "-"
                )
                box = " ".join(f"{v:.0f}" for v in det.xyxy_px)
                print(f"{name} {det.class_name} {det.score:.2f} [{box}] {where}")
    return EXIT_SOME_FAILED if failed else 0


def _frame_line(record: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in record.items() if v not in (None, [], ()))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.detect.evaluate import run_flight

    settings = _settings(args)
    detector = _detector(args)
    runs = []
    for name in args.flights:
        folder = Path(name)
        if not folder.is_dir():
            raise PipelineError("not a folder", name)
        run = run_flight(folder, detector, settings)
        for line in run.errors:
            _warn("error", line)
        runs.append(run)
        _report(str(folder), [run], detector.classes, args)
    if len(runs) > 1:
        _report("ALL", runs, detector.classes, args)
    return EXIT_SOME_FAILED if any(r.errors for r in runs) else 0


def _report(label: str, runs: list[Any], classes: tuple[str, ...], args: argparse.Namespace) -> None:
    from pipeline.detect.evaluate import recall_by_kind, score_all

    groups = [(r.detections, r.truth) for r in runs]
    frames = sum(r.frames for r in runs)
    seconds = sum(r.seconds for r in runs)
    for score in score_all(classes, groups, args.tolerance):
        record = {
            "flight": label,
            **score.as_dict(),
            "frames": frames,
            "false_per_frame": round(score.false_positives / frames, 4) if frames else None,
            "seconds_per_frame": round(seconds / frames, 3) if frames else None,
            "fallback_frames": sum(r.fallback_frames for r in runs),
            "frames_failed": sum(len(r.errors) for r in runs),
        }
        if args.json:
            _emit(record)
        else:
            print(
                f"{label} {record['class']}: recall {record['recall']} ({record['found']}/{record['truth']}) "
                f"precision {record['precision']} AP {record['ap']} "
                f"false/frame {record['false_per_frame']} "
                f"({frames} frames, {record['seconds_per_frame']} s/frame)"
            )
    if not args.by_kind:
        return
    for k in recall_by_kind(groups, args.tolerance):
        if args.json:
            _emit({"flight": label, **k.as_dict()})
        else:
            recall = "-" if k.recall is None else f"{k.recall:.3f}"
            print(f"{label} {k.class_name} / {k.kind or '(no kind)'}: recall {recall} ({k.found}/{k.truth})")


def cmd_calibrate(args: argparse.Namespace) -> int:
    from pipeline.detect.backends import open_detector
    from pipeline.detect.calibrate import GRID, best_f1, score_curve
    from pipeline.detect.detector import DetectSettings
    from pipeline.detect.evaluate import run_flight
    from pipeline.detect.model import default_model_path, load_model_spec

    card = Path(args.model) if args.model else default_model_path()
    detector = open_detector(load_model_spec(card), args.backend, args.threads)
    settings = DetectSettings(conf=GRID[0])  # every candidate threshold sees its detections
    runs = []
    for name in args.flights:
        if not Path(name).is_dir():
            raise PipelineError("not a folder", name)
        run = run_flight(Path(name), detector, settings)
        for line in run.errors:
            _warn("error", line)
        runs.append(run)
    groups = [(r.detections, r.truth) for r in runs]
    curves = {name: score_curve(name, groups, args.tolerance) for name in detector.classes}
    for name, curve in curves.items() if args.table else ():
        for row in curve:
            if args.json:
                _emit({"row": "threshold", **row.as_dict()})
            else:
                recall, precision = row.recall or 0.0, row.precision or 0.0
                print(
                    f"{name} at {row.min_score:.2f}: recall {recall:.3f}, precision {precision:.3f}, "
                    f"F1 {row.f1:.3f} ({row.detections} detections, {row.truth} objects)"
                )
    choices = [best_f1(name, curve) for name, curve in curves.items()]
    for c in choices:
        if args.json:
            _emit(c.as_dict())
        else:
            print(
                f"{c.class_name}: min_score {c.min_score:g} (recall {c.recall:.3f}, precision "
                f"{c.precision:.3f}, F1 {c.f1:.3f}; {c.truth} objects, {sum(r.frames for r in runs)} frames)"
            )
    if args.write:
        raw = json.loads(card.read_text(encoding="utf-8"))
        raw["min_score"] = {c.class_name: c.min_score for c in choices}
        raw["min_score_from"] = (
            f"patrol calibrate {' '.join(Path(f).name for f in args.flights)}: best object-level F1 per "
            f"class, tolerance {args.tolerance:g} m"
        )
        card.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if not args.json:
            print(f"wrote min_score into {card}")
    return EXIT_SOME_FAILED if any(r.errors for r in runs) else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("detect", help="find illegal construction and garbage piles in photos")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument(
        "--ground-elevation",
        type=float,
        default=None,
        metavar="M",
        help="ground height above sea level; default: the ground is at take-off height",
    )
    p.add_argument(
        "--frames", action="store_true", help="one summary per image instead of one line per detection"
    )
    _model_args(p)
    _common(p)
    p.set_defaults(func=cmd_detect)

    p = subparsers.add_parser("evaluate", help="precision, recall and AP against a simulated flight's truth")
    p.add_argument("flights", nargs="+", metavar="FLIGHT_DIR")
    p.add_argument(
        "--tolerance",
        type=float,
        default=2.0,
        metavar="M",
        help="a detection this close to a truth footprint finds it (default 2 m)",
    )
    p.add_argument(
        "--by-kind", action="store_true", help="also recall per kind of object (blue shed, wall shack, ...)"
    )
    _model_args(p)
    _common(p)
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser(
        "calibrate", help="choose each class's minimum score on simulated or labelled flights (model card)"
    )
    p.add_argument("flights", nargs="+", metavar="FLIGHT_DIR", help="flights with truth.geojson")
    p.add_argument("--model", default=None, metavar="CARD", help="model card (default: the shipped one)")
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    p.add_argument("--threads", type=int, default=None, metavar="N")
    p.add_argument("--tolerance", type=float, default=2.0, metavar="M", help="as for evaluate (default 2 m)")
    p.add_argument("--write", action="store_true", help="store the scores in the model card as min_score")
    p.add_argument(
        "--table", action="store_true", help="first recall, precision and F1 of each class at every threshold"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per class (and table row)")
    p.set_defaults(func=cmd_calibrate)
