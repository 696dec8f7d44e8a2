"""`patrol process`, `patrol upload`, `patrol nightly` and `patrol serve`: the commands that run flows.

Prefect is reached only inside the command functions (flows/ is imported lazily), after the environment has
been set so that Prefect sends nothing anywhere (`quiet_prefect`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_CRON, DEFAULT_TZ, check_cron, check_zone, export_env, load_settings
from pipeline.errors import PipelineError

EXIT_SOME_FAILED = 1
__all__ = ["DEFAULT_CRON", "DEFAULT_TZ"]  # spelled here for callers that import them from this module

# Prefect's anonymous analytics and telemetry off; no update checks. setdefault: an operator's explicit
# setting (a real server's URL, its own logging level) wins.
PREFECT_QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
}


def quiet_prefect(warnings_only: bool = False) -> None:
    """Call in an entry point before flows/ (and so Prefect) is imported. `warnings_only`: a command run by
    hand shows its own progress bar and summary, not a log line per task (PREFECT_LOGGING_LEVEL wins)."""
    export_env({**PREFECT_QUIET, **({"PREFECT_LOGGING_LEVEL": "WARNING"} if warnings_only else {})})


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output, one JSON object per line")
    p.add_argument(
        "--db", default=None, help="case database URL (default PATROL_DB_URL, else SQLite under var/)"
    )


def _job_args(p: argparse.ArgumentParser) -> None:
    from pipeline.detect.commands import add_conf_arg

    p.add_argument(
        "--model", default=None, metavar="CARD", help="model card (default PATROL_MODEL, else shipped)"
    )
    p.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    p.add_argument("--threads", type=int, default=None, metavar="N", help="inference threads (default: all)")
    add_conf_arg(p)
    p.add_argument(
        "--overlap",
        type=float,
        default=None,
        metavar="F",
        help="video: share of ground consecutive sampled frames have in common (default 0.8)",
    )
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="frames processed at once in this process"
    )
    p.add_argument(
        "--search",
        default="every",
        metavar="every|cells",
        help="photo flights: search every frame whole (default), or each ground cell once at its best view "
        "with re-checks in the frames that also covered what it found (fewer tiles on overlapping surveys)",
    )
    p.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="fan frames out over this Dask scheduler (default PATROL_DASK_ADDRESS; none: in this process)",
    )


def build_job(args: argparse.Namespace) -> Any:
    """The ProcessJob for these flags, over the settings from the environment (each value checked)."""
    from pipeline.process import default_job

    return default_job(
        args.db,
        args.model,
        backend=args.backend,
        threads=args.threads,
        conf=args.conf,
        overlap=args.overlap,
        search=args.search,
    )


def job_options(args: argparse.Namespace) -> dict[str, Any]:
    """The flags a deployment run is made with: plain JSON, no credentials (see flows/nightly.py)."""
    return {
        "model": str(Path(args.model).resolve()) if args.model else None,
        "backend": args.backend,
        "threads": args.threads,
        "conf": args.conf,
        "overlap": args.overlap,
        "workers": args.workers,
        "dask_address": _dask(args),
        "search": args.search,
    }


def _check_model(job: Any) -> None:
    """Load the model now: a missing or broken card is one line before any flow starts, not an error per
    frame. (The flow's worker in this process then finds it loaded.)"""
    from pipeline.process import job_version

    job_version(job)


def _dask(args: argparse.Namespace) -> str | None:
    return args.dask or load_settings().dask_address


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _emit(summary)
        return
    for f in summary["flights"]:
        print(
            f"{f['flight_id']}: {f['frames']} frames ({f['frames_failed']} failed, "
            + (f"{f['frames_pending']} left for the next run, " if f.get("frames_pending") else "")
            + f"{f['frames_reused']} already done), {f['detections']} detections, "
            f"{f['cases_new']} new cases, {f['cases_updated']} updated"
        )
    for err in summary["errors"]:
        print(f"  problem: {err}")
    for line in summary.get("not_searched", []):  # frames that are no error but found nothing placeable
        print(f"  {line}")
    print(
        f"total: {summary['frames']} frames, {summary['detections']} detections, {summary['cases_new']} new "
        f"cases, {summary['cases_updated']} updated, {summary['seconds']} s"
    )


def _incomplete(summary: dict[str, Any]) -> bool:
    return any(not f["complete"] for f in summary["flights"])


# --- process -------------------------------------------------------------------------------------------


def cmd_process(args: argparse.Namespace) -> int:
    missing = [name for name in args.flights if not Path(name).is_dir()]
    if missing and len(missing) == len(args.flights):
        raise PipelineError("not a folder", missing[0])
    # Otherwise the flow reports each missing folder as an incomplete flight and the others go on.
    job = build_job(args)
    _check_model(job)
    quiet_prefect(warnings_only=True)
    from flows.process_flight import api_url, run_process

    if not api_url() and not args.json:
        print(
            "patrol: no Prefect server (PREFECT_API_URL): starting Prefect's temporary one, about 15 s and "
            "250 MB; `patrol check` looks at an upload without it (README: Processing flights)",
            file=sys.stderr,
        )
    summary = run_process(
        [str(Path(f).resolve()) for f in args.flights],
        job,
        show_progress=True,
        dask_address=_dask(args),
        workers=args.workers,
    )
    _print_summary(summary, args.json)
    return EXIT_SOME_FAILED if _incomplete(summary) else 0


# --- upload --------------------------------------------------------------------------------------------


def cmd_upload(args: argparse.Namespace) -> int:
    from pipeline.upload import folder_files, receive_flight

    src = Path(args.src_dir)
    report = receive_flight(
        folder_files(src),
        Path(args.inbox),
        label=args.label or src.resolve().name,
        uploaded_by=args.user or _login_name(),
    )
    if args.json:
        _emit(report.as_dict())
    else:
        print(f"{report.flight_id}: {len(report.files)} files copied to {report.path}")
        for refused in report.refused:
            print(f"  left out {refused.name}: {refused.reason}")
    return 0


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (a container)
        return "cli"


# --- check ---------------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """The drone team's quick look at an upload: every frame planned, decoded and posed, as `process`
    would, but without the model, the database or Prefect (seconds, not a server start)."""
    from pipeline.flight_check import check_flight

    settings = load_settings()
    bad = 0
    for name in args.flights:
        report = check_flight(Path(name), max_pixels=settings.max_pixels)
        bad += int(not report.usable or bool(report.problems))
        if args.json:
            _emit(report.as_dict())
            continue
        print(
            f"{report.folder}: {report.frames} frames ({report.photos} photos, {report.video_frames} video "
            f"frames), {report.posed} with a pose, {len(report.problems)} problem(s), {report.seconds} s"
        )
        for problem in report.problems:
            print(f"  problem: {problem}")
    return EXIT_SOME_FAILED if bad else 0


# --- nightly and serve ---------------------------------------------------------------------------------


def _inbox(args: argparse.Namespace) -> str:
    """--inbox, else this machine's PATROL_INBOX."""
    settings = load_settings()
    inbox = args.inbox or (str(settings.inbox) if settings.inbox else None)
    if not inbox:
        raise PipelineError("no inbox: pass --inbox DIR or set PATROL_INBOX")
    return inbox


def cmd_nightly(args: argparse.Namespace) -> int:
    job = build_job(args)
    _check_model(job)
    quiet_prefect(warnings_only=True)
    from flows.nightly import run_nightly

    summary = run_nightly(
        str(Path(_inbox(args)).resolve()), job, dask_address=_dask(args), workers=args.workers
    )
    if args.json:
        _emit(summary)
    else:
        print(summary["text"])
    return EXIT_SOME_FAILED if summary["flights_failed"] else 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = load_settings()
    job = build_job(args)  # every flag checked (and the model loaded) before anything is served
    _check_model(job)
    if args.json:
        raise PipelineError("--json: `patrol serve` prints no summary (each night's is in Prefect)")
    inbox = _inbox(args)
    cron = check_cron(args.cron, "--cron") if args.cron else settings.nightly_cron
    tz = check_zone(args.timezone, "--timezone") if args.timezone else settings.nightly_tz
    quiet_prefect()
    from flows.serve import DEPLOYMENT, serve_nightly

    print(f"serving {DEPLOYMENT} on {inbox}: cron '{cron}' ({tz}); Ctrl-C stops", file=sys.stderr)
    serve_nightly(str(Path(inbox).resolve()), job_options(args), cron=cron, timezone=tz, db_url=args.db)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("process", help="run flight folders through detection into the case queue (Prefect)")
    p.add_argument("flights", nargs="+", metavar="FLIGHT_DIR")
    _job_args(p)
    _common(p)
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("upload", help="copy a flight folder into the inbox atomically, with a manifest")
    p.add_argument("src_dir", metavar="SRC_DIR")
    p.add_argument("--inbox", required=True, metavar="DIR")
    p.add_argument("--label", default=None, help="flight label (default: the folder's name)")
    p.add_argument("--user", default=None, help="who uploads (default: $USER)")
    _common(p)
    p.set_defaults(func=cmd_upload)

    p = sub.add_parser(
        "check",
        help="a quick look at a flight folder: every frame readable and posed? (no model, no Prefect)",
    )
    p.add_argument("flights", nargs="+", metavar="FLIGHT_DIR")
    _common(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("nightly", help="process every complete, new flight in the inbox (Prefect)")
    p.add_argument("--inbox", default=None, metavar="DIR", help="default PATROL_INBOX")
    _job_args(p)
    _common(p)
    p.set_defaults(func=cmd_nightly)

    p = sub.add_parser("serve", help="serve the nightly run on a cron schedule (needs a Prefect server)")
    p.add_argument("--inbox", default=None, metavar="DIR", help="default PATROL_INBOX")
    p.add_argument("--cron", default=None, help=f"default PATROL_NIGHTLY_CRON, else '{DEFAULT_CRON}'")
    p.add_argument("--timezone", default=None, help=f"default PATROL_NIGHTLY_TZ, else {DEFAULT_TZ}")
    _job_args(p)
    _common(p)
    p.set_defaults(func=cmd_serve)


# --- the demo's second half ----------------------------------------------------------------------------

DEMO_DIR = Path("var") / "demo"


def demo_cases(
    folders: list[Path],
    db_url: str | None = None,
    out_dir: Path = DEMO_DIR,
    model: str | None = None,
    detector: Any = None,
) -> int:
    """`make demo`, after the footprints: the sample flights through the flow into a fresh SQLite database,
    the cases found, a GeoJSON export, and how to look at them in the review app. `model`: a model card
    (default: PATROL_MODEL, else the shipped card); `detector`: a stand-in object for it (tests)."""
    import shutil

    from pipeline.detect.model import default_model_path
    from pipeline.process import default_job

    if detector is not None:
        model = getattr(detector, "__name__", "stand-in detector")
    elif model is None:
        card = default_model_path()
        if not card.is_file():
            print(f"no trained detector at {card}: detection skipped (`patrol train --ship models`)")
            return 0
        model = str(card)
    data_root = out_dir / "data"
    if db_url is None:  # a fresh database every time: the demo shows what one run finds
        from pipeline.process import forget_sessions

        forget_sessions()
        for name in ("cases.sqlite3", "cases.sqlite3-wal", "cases.sqlite3-shm"):
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(data_root, ignore_errors=True)
        db_url = f"sqlite:///{out_dir / 'cases.sqlite3'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    job = replace(
        default_job(db_url, None if detector is not None else model, detector=detector),
        data_root=str(data_root.resolve()),
    )
    print(f"== processing {len(folders)} flights with {Path(model).name} into {db_url} (Prefect flow)")
    quiet_prefect(warnings_only=True)
    from flows.process_flight import run_process

    summary = run_process([str(f.resolve()) for f in folders], job, show_progress=True)
    _print_summary(summary, as_json=False)
    print()
    _print_cases(job.db_url, out_dir / "cases.geojson")
    print(
        "\nreview them in the browser:\n"
        f"  patrol users add demo --role admin --password-stdin --db {db_url}\n"
        f"  PATROL_DATA_ROOT={data_root} patrol review --db {db_url}    # then http://127.0.0.1:8000"
    )
    return 0


def _print_cases(db_url: str, geojson: Path) -> None:
    from pipeline.cases.db import open_db
    from pipeline.cases.exports import export
    from pipeline.cases.views import list_cases

    with open_db(db_url)() as session:
        views = list_cases(session)
    print(f"{len(views)} cases:")
    # WGS84, as stored; the GeoJSON export also carries GCJ-02 (what AMap shows) and an AMap link per case.
    print(f"{'id':>4}  {'class':22} {'lat':>11} {'lon':>12}  {'sightings':>9}  {'confidence':>10}")
    for v in views:
        print(f"{v.id:>4}  {v.class_name:22} {v.lat:11.6f} {v.lon:12.6f}  {v.sightings:>9}  {v.score:>10.2f}")
    geojson.write_bytes(export(views, "geojson"))
    print(f"\nGeoJSON export (QGIS, WGS84): {geojson}")
