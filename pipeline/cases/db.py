"""Engines, sessions and schema migration for the case database (SQLite embedded, PostgreSQL by URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.errors import CaseError

MIGRATIONS = Path(__file__).with_name("migrations")

Sessions = sessionmaker[Session]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets reviewers read while a push writes; NORMAL sync is durable across application crashes in WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, and the connection set up for a queue."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise CaseError(f"not a database URL: {err}", url) from err
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Writers queue on SQLite's lock instead of failing at once when a reviewer claims during a push.
        kwargs["connect_args"] = {"timeout": 30.0}
    elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as err:
        reason = " ".join(str(err.orig).split())  # drivers answer in several lines; users get one
        raise CaseError(f"cannot open the case database: {reason}", _safe_url(engine)) from err


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def open_db(url: str, *, upgrade: bool = True) -> Sessions:
    """Sessions on a migrated database: what entry points (CLI, flows, the review app) start from."""
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
