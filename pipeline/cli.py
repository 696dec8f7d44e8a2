"""The `patrol` command: the composition root. Each command parses its arguments, calls pipeline functions
and prints; errors become one line on stderr naming the file and the reason, and a non-zero exit."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline import filenames
from pipeline.errors import PipelineError
from pipeline.types import ImageMeta

EXIT_BAD_INPUT = 2
EXIT_SOME_FAILED = 1

# Command groups that live beside their domain code: each module has `register(subparsers)`, which adds its
# commands (with `set_defaults(func=...)`) and imports its heavy dependencies only inside those functions.
COMMAND_MODULES: tuple[str, ...] = (
    "pipeline.cases.commands",
    "pipeline.cases.zone_commands",
    "pipeline.review.commands",
    "pipeline.detect.commands",
    "pipeline.train_commands",
    "pipeline.process_commands",
)


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _fail(message: str) -> None:
    print(f"patrol: error: {message}", file=sys.stderr, flush=True)


def _fmt(value: object, digits: int = 7) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


# --- meta ------------------------------------------------------------------------------------------


def _is_telemetry(path: Path) -> bool:
    return path.suffix.lower() == ".srt"


def cmd_meta(args: argparse.Namespace) -> int:
    from pipeline.config import load_settings
    from pipeline.metadata import read_image_meta, read_srt

    max_pixels = load_settings().max_pixels
    failed = 0
    for name in args.files:
        path = Path(name)
        shown = filenames.shown(name)
        try:
            if _is_telemetry(path):
                entries = read_srt(path)
                for entry in entries:
                    _print_record({"path": shown, **entry.as_dict()}, args.json)
            else:
                record = _meta_record(read_image_meta(path, max_pixels))
                _print_record({**record, "path": shown}, args.json)
        except (PipelineError, OSError) as err:
            failed += 1
            reason = err.reason if isinstance(err, PipelineError) else str(err.strerror or err)
            _fail(f"{shown}: {reason}")
            if args.json:
                # In the stream too, in file order, so a script reading stdout learns which file failed.
                _emit({"path": shown, "error": reason})
    return EXIT_SOME_FAILED if failed else 0


def _meta_record(meta: ImageMeta) -> dict[str, Any]:
    """DESIGN.md's meta fields plus the pinhole camera this image gets and where its focal came from."""
    from pipeline.metadata import intrinsics_for

    record = meta.as_dict()
    try:
        intr = intrinsics_for(meta)
    except PipelineError as err:
        record.update(focal_px=None, cx_px=None, cy_px=None, intrinsics_source=None)
        record["problems"] = [*record["problems"], err.reason]
    else:
        record.update(
            focal_px=intr.focal_px, cx_px=intr.cx_px, cy_px=intr.cy_px, intrinsics_source=intr.source
        )
        record["problems"] = [*record["problems"], *intr.notes]
    return record


def _print_record(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _emit(record)
        return
    print(" ".join(f"{k}={_fmt(v)}" for k, v in record.items() if v not in (None, [], ())))


# --- locate ----------------------------------------------------------------------------------------


def cmd_locate(args: argparse.Namespace) -> int:
    from pipeline import geo
    from pipeline.frames import view_for_image

    view = view_for_image(Path(args.image), ground_elevation_m=args.ground_elevation)
    w, h = view.intrinsics.width_px, view.intrinsics.height_px
    if not (0.0 <= args.x_px <= w and 0.0 <= args.y_px <= h):
        raise PipelineError(f"pixel ({args.x_px:g}, {args.y_px:g}) is outside the {w}x{h} image", args.image)
    point = geo.pixel_to_ground(view, args.x_px, args.y_px)
    g_lat, g_lon = geo.wgs84_to_gcj02(point.lat, point.lon)
    record = {
        "path": args.image,
        "x_px": args.x_px,
        "y_px": args.y_px,
        "lat": point.lat,
        "lon": point.lon,
        "ground_distance_m": point.ground_distance_m,
        "gcj02_lat": g_lat,
        "gcj02_lon": g_lon,
        "intrinsics_source": view.intrinsics.source,
        "notes": list(view.notes),
    }
    if args.json:
        _emit(record)
    else:
        print(
            f"{args.image} ({args.x_px:g}, {args.y_px:g}) -> {point.lat:.7f}, {point.lon:.7f} "
            f"({point.ground_distance_m:.1f} m from below the drone; GCJ-02 {g_lat:.7f}, {g_lon:.7f})"
        )
    return 0


# --- simulate --------------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from pipeline.simulate import FlightSettings, simulate_flight

    overrides = {
        "seed": args.seed,
        "world_seed": args.world_seed,
        "night": args.night,
        "frames": args.frames,
        "altitude_m": args.altitude,
        "pitch_deg": args.pitch,
        "heading_deg": args.heading,
        "width_px": args.width,
        "height_px": args.height,
        "gps_noise_m": args.gps_noise,
        "lat": args.lat,
        "lon": args.lon,
        "video": args.video,
        "overlap": tuple(args.overlap) if args.overlap else None,
    }
    settings = FlightSettings(**{k: v for k, v in overrides.items() if v is not None})
    started = time.perf_counter()
    manifest = simulate_flight(Path(args.out_dir), settings)
    summary = {
        "out_dir": args.out_dir,
        "frames": len(manifest.get("frames", [])),
        "targets": manifest.get("targets"),
        # Timing stays out of manifest.json, which is byte-for-byte deterministic for a seed.
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        _emit(summary)
    else:
        print(
            f"wrote {summary['frames']} frames and truth.geojson ({summary['targets']} targets) "
            f"to {args.out_dir}"
        )
    return 0


# --- demo ------------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.demo import run_demo

    return run_demo([Path(p) for p in args.flights], as_json=args.json, db_url=args.db)


# --- parser ----------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output, one JSON object per line")
    p.add_argument(
        "--db", default=None, help="case database URL (default PATROL_DB_URL, else SQLite under var/)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patrol", description="Drone patrol imagery pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("meta", help="print what each photo or .SRT file says about itself")
    p.add_argument("files", nargs="+", metavar="FILE")
    _common(p)
    p.set_defaults(func=cmd_meta)

    p = sub.add_parser("locate", help="put one pixel of a photo on the ground")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("x_px", type=float, metavar="X_PX")
    p.add_argument("y_px", type=float, metavar="Y_PX")
    p.add_argument(
        "--ground-elevation",
        type=float,
        default=None,
        metavar="M",
        help="ground height above sea level; default: the ground is at take-off height",
    )
    _common(p)
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("simulate", help="write a synthetic flight with known ground truth")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--world-seed", type=int, default=None)
    p.add_argument("--night", type=int, default=None)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--altitude", type=float, default=None, metavar="M")
    p.add_argument("--pitch", type=float, default=None, metavar="DEG")
    p.add_argument("--heading", type=float, default=None, metavar="DEG")
    p.add_argument("--width", type=int, default=None, metavar="PX")
    p.add_argument("--height", type=int, default=None, metavar="PX")
    p.add_argument("--gps-noise", type=float, default=None, metavar="M")
    p.add_argument("--lat", type=float, default=None, metavar="DEG")
    p.add_argument("--lon", type=float, default=None, metavar="DEG")
    p.add_argument("--video", action="store_true", default=None)
    p.add_argument(
        "--overlap",
        type=float,
        nargs=2,
        default=None,
        metavar=("FORWARD", "SIDE"),
        help="a mapping flight's overlap between neighbouring footprints (default 0.7 0.6)",
    )
    _common(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="show each sample flight's frames, metadata and ground footprints")
    p.add_argument("flights", nargs="*", default=["sample_flights"], metavar="FLIGHT_DIR")
    _common(p)
    p.set_defaults(func=cmd_demo)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # exifread logs "possibly corrupted field" for damaged files; the reader already reports those as
    # problems, and a user should see one line per bad file, not a library's chatter.
    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BrokenPipeError:
        # The reader went away (`patrol ... | head`): nothing left to say, and nothing went wrong here.
        sys.stderr.close()
        return 0
    except PipelineError as err:
        _fail(str(err))
        return EXIT_BAD_INPUT
    except (OSError, ValueError) as err:
        _fail(str(err))
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
