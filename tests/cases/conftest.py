"""Databases for the case tests: every test runs on SQLite (a file in tmp) and on PostgreSQL.

PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth) must be running: CI starts it, and a missing server
fails these tests loudly rather than skipping them. Each pytest process creates its own uniquely named
database, migrates it once, empties its tables between tests, and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from pipeline import geo
from pipeline.cases.categories import CategoryConfig, load_categories
from pipeline.cases.db import make_engine, migrate
from pipeline.types import FrameCoverage, Sighting

PG_ADMIN = os.environ.get("PATROL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BASE = (23.0205, 113.7518)  # Dongguan
TABLES = (
    "outbox",
    "case_events",
    "case_views",
    "coverage_cells",
    "sightings",
    "cases",
    "zones",
    "frames",
    "flights",
    "login_sessions",
    "signin_attempts",
    "users",
)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"patrol_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(f"PostgreSQL is required for the case tests ({PG_ADMIN}): {err}", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield url


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture(scope="session")
def categories() -> CategoryConfig:
    return load_categories()


def _at(east_m: float, north_m: float) -> tuple[float, float]:
    return geo.offset_latlon(BASE[0], BASE[1], east_m, north_m)


def _sighting(
    east_m: float,
    north_m: float,
    *,
    flight: str = "F1",
    frame: str = "DJI_0001.JPG",
    cls: str = "illegal_construction",
    score: float = 0.8,
    seen_at: str = "2026-10-05T10:00:00+08:00",
    box: tuple[float, float, float, float] | None = None,
    **extra: Any,
) -> Sighting:
    lat, lon = _at(east_m, north_m)
    box = box or (100.0 + east_m, 200.0 + north_m, 180.0 + east_m, 260.0 + north_m)
    return Sighting(flight, frame, cls, score, box, lat, lon, seen_at, **extra)


def _square(
    east_m: float, north_m: float, half_m: float, flight: str = "F1", frame: str = "cover"
) -> FrameCoverage:
    corners = [(-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m)]
    footprint = tuple(_at(east_m + e, north_m + n) for e, n in corners)
    return FrameCoverage(flight, frame, "2026-10-06T10:00:00+08:00", footprint)


@pytest.fixture(scope="session")
def at() -> Callable[[float, float], tuple[float, float]]:
    """(lat, lon) of a point east/north metres from the test area's origin."""
    return _at


@pytest.fixture(scope="session")
def sighting() -> Callable[..., Sighting]:
    return _sighting


@pytest.fixture(scope="session")
def square() -> Callable[..., FrameCoverage]:
    """A square frame footprint centred east/north metres from the origin."""
    return _square
