"""Alembic environment: migrations run on the connection `pipeline.cases.db.migrate` hands over.

For `alembic revision --autogenerate` by hand, set `sqlalchemy.url` with `-x url=...`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pipeline.cases.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=URL ...")
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
