"""Engines, sessions and schema migration for the case database (SQLite embedded, PostgreSQL by URL)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from pipeline.config import safe_url
from pipeline.errors import CaseError

MIGRATIONS = Path(__file__).with_name("migrations")

Sessions = sessionmaker[Session]
CONNECT_TIMEOUT_S = 10


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
        raise CaseError(f"not a database URL: {err}", safe_url(url)) from err
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Writers queue on SQLite's lock instead of failing at once when a reviewer claims during a push.
        kwargs["connect_args"] = {"timeout": 30.0}
    elif parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if "connect_timeout" not in parsed.query:
            # An unreachable host answers nothing: without a limit each try waits for the kernel's TCP
            # timeout (minutes) instead of failing and being retried.
            kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# Any 64-bit number every patrol process agrees on: the PostgreSQL advisory lock that serialises migrations.
MIGRATION_LOCK = 0x7061_7472_6F6C  # "patrol"
MIGRATION_TRIES = 3
_MIGRATING = threading.Lock()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (creating it on an empty database).

    Safe when several processes open one fresh database at once (Dask workers, a worker and the review
    app): on PostgreSQL each takes a transaction-level advisory lock first, so one migrates and the others
    then find the schema at head; should two still collide (a process of an older version without the
    lock), the loser's unique-key or duplicate-table error is retried after the winner has finished."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    for attempt in range(MIGRATION_TRIES):
        try:
            # Alembic's command context is process-global: threads of one process migrate one at a time.
            with _MIGRATING, engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return
        except (OperationalError, IntegrityError, ProgrammingError) as err:
            if attempt + 1 < MIGRATION_TRIES and _migration_race(err):
                time.sleep(0.2 * (attempt + 1))
                continue
            if not isinstance(err, OperationalError):
                raise
            reason = " ".join(str(err.orig).split())  # drivers answer in several lines; users get one
            raise CaseError(f"cannot open the case database: {reason}", _safe_url(engine)) from err


def _migration_race(err: DBAPIError) -> bool:
    """Another process created the same table or version row a moment earlier."""
    text_ = str(err.orig).lower()
    return "alembic_version" in text_ or "already exists" in text_ or "duplicate" in text_


def _safe_url(engine: Engine) -> str:
    return safe_url(engine.url.render_as_string(hide_password=False))


def open_db(url: str, *, upgrade: bool = True) -> Sessions:
    """Sessions on a migrated database: what entry points (CLI, flows, the review app) start from."""
    engine = make_engine(url)
    if upgrade:
        migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
