"""`patrol review` (the web app) and `patrol export-training` (reviewed cases as a YOLO dataset).

Heavy imports (FastAPI, uvicorn, SQLAlchemy) happen inside the command functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config import Settings

DEFAULT_CLASSES = ("illegal_construction", "garbage_pile")  # the shipped detector's class order


def _settings(args: argparse.Namespace) -> Settings:
    from pipeline.config import load_settings

    settings = load_settings()
    if args.db:
        settings = dataclasses.replace(settings, db_url=args.db)
    return settings


def cmd_review(args: argparse.Namespace) -> int:
    import uvicorn

    from pipeline.config import load_review_settings
    from pipeline.review.app import create_app
    from pipeline.review.config import review_config

    settings, review = _settings(args), load_review_settings()
    if review.secret_key is None:
        print(
            "patrol review: PATROL_SECRET_KEY is not set; using a random key (everyone signs in again "
            "after a restart)",
            file=sys.stderr,
        )
    app = create_app(settings, review_config(settings, review))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=args.behind_proxy)
    return 0


def cmd_export_training(args: argparse.Namespace) -> int:
    from pipeline.cases.db import open_db
    from pipeline.review.training import export_training

    settings = _settings(args)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    with open_db(settings.db_url)() as session:
        result = export_training(session, settings.data_root, Path(args.out_dir), classes)
    record: dict[str, Any] = {"out_dir": args.out_dir, **dataclasses.asdict(result)}
    if args.json:
        print(json.dumps(record, ensure_ascii=False), flush=True)
    else:
        print(
            f"wrote {result.images} images ({result.positives} with {result.boxes} boxes, "
            f"{result.hard_negatives} hard negatives) to {args.out_dir}; skipped {result.skipped_unreviewed} "
            f"frames with unreviewed cases and {result.skipped_missing} missing files"
        )
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output, one JSON object per line")
    p.add_argument(
        "--db", default=None, help="case database URL (default PATROL_DB_URL, else SQLite under var/)"
    )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("review", help="the review web app for enforcement staff (and the Open311 API)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--behind-proxy",
        action="store_true",
        help="trust X-Forwarded-For from the proxy (for the rate limit)",
    )
    _common(p)
    p.set_defaults(func=cmd_review)

    p = subparsers.add_parser("export-training", help="reviewed cases as a YOLO dataset for `patrol train`")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument(
        "--classes",
        default=",".join(DEFAULT_CLASSES),
        help="class names in the model's index order (default: %(default)s)",
    )
    _common(p)
    p.set_defaults(func=cmd_export_training)
