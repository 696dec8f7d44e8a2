"""Flow tests: all of them on the session's one Prefect test server (`prefect_api_url`, tests/conftest.py: it
costs seconds to start). Helpers live in flow_helpers.py (a uniquely named module: every test folder here has
its own conftest)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_helpers import HERE


@pytest.fixture(scope="session", autouse=True)
def prefect_harness(prefect_api_url: str) -> None:
    """Every flow test runs against the session's one Prefect server (tests/conftest.py)."""
    if str(HERE) not in sys.path:  # Dask workers unpickle the fake detector's factory from this folder
        sys.path.insert(0, str(HERE))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh case database on SQLite, and on PostgreSQL (127.0.0.1:5432, as tests/cases uses)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.sqlite3'}"
        return
    yield from _fresh_pg()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A throwaway, empty PostgreSQL database, dropped afterwards."""
    yield from _fresh_pg()


def _fresh_pg() -> Iterator[str]:
    import psycopg

    admin_url = os.environ.get("PATROL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"patrol_flows_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    from pipeline.process import forget_sessions

    forget_sessions()  # the flow's cached engine holds connections to it
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
