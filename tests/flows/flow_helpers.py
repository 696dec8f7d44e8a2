"""Helpers for the flow tests: the fake detector, copies of sample flights, case comparison."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from flow_fakes import dark_blobs

from pipeline.config import DatabaseUrl
from pipeline.process import ProcessJob

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLES = ROOT / "sample_flights"
# Subprocesses run `patrol` through this launcher: the same command with the fake detector put in place of
# the model first (production has no way to name code as a model).
FAKE_PATROL = HERE / "patrol_with_fake.py"


def copy_flight(name: str, dest: Path, photos: int | None = None, skip: int = 0) -> Path:
    """A copy of a sample flight (media only), optionally cut to `photos` photos after the first `skip`."""
    src = SAMPLES / name
    dest.mkdir(parents=True, exist_ok=True)
    media = sorted(p for p in src.iterdir() if p.suffix.upper() in (".JPG", ".MP4", ".SRT"))
    jpgs = [p for p in media if p.suffix.upper() == ".JPG"]
    keep = set(jpgs[skip : skip + photos]) if photos is not None else set(jpgs[skip:])
    for p in media:
        if p.suffix.upper() != ".JPG" or p in keep:
            shutil.copy2(p, dest / p.name)
    return dest


def make_job(tmp: Path, db_url: str | None = None, **kw: object) -> ProcessJob:
    base: dict[str, object] = {
        "db": DatabaseUrl(db_url or f"sqlite:///{tmp / 'cases.sqlite3'}"),
        "data_root": str(tmp / "data"),
        "detector": dark_blobs,
    }
    base.update(kw)
    return ProcessJob(**base)  # type: ignore[arg-type]


def use_fake_model(monkeypatch: Any, factory: Any = dark_blobs) -> None:
    """In this process, whatever model a command is given, the fake detector stands in for it."""
    import pipeline.process as process

    detector = factory()
    monkeypatch.setattr(process, "detector_for", lambda *args, **kw: (detector, detector.version))


def case_rows(db_url: str) -> list[tuple[object, ...]]:
    """Every case and its sightings, comparable between two databases (ids and positions rounded)."""
    from sqlalchemy import select

    from pipeline.cases.db import make_engine
    from pipeline.cases.models import Case

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Case.class_name, Case.lat, Case.lon, Case.sightings_count, Case.score).order_by(
                    Case.id
                )
            ).all()
    finally:
        engine.dispose()
    return [(c, round(lat, 7), round(lon, 7), n, round(s, 4)) for c, lat, lon, n, s in rows]


def env_with_fakes(api_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p)
    return env
