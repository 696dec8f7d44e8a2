"""Server-side sessions, disabled users and the sign-in rate limit's attempts.

Additive: two new tables, a `signin` lock row and a `disabled` flag on users (false for every existing
user). Cookies signed before this revision carry no session token and so no longer sign anyone in: everyone
signs in again once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_login_sessions_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_login_sessions"),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_index("ix_login_sessions_expires_at", "login_sessions", ["expires_at"])
    op.create_table(
        "signin_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signin_attempts"),
    )
    op.create_index("ix_signin_attempts_address", "signin_attempts", ["address"])
    op.create_index("ix_signin_attempts_name", "signin_attempts", ["name"])
    op.create_index("ix_signin_attempts_at", "signin_attempts", ["at"])
    # the row every sign-in attempt locks to check and count in one step (see pipeline.cases.signins)
    op.bulk_insert(sa.table("queue_locks", sa.column("name", sa.String)), [{"name": "signin"}])


def downgrade() -> None:
    op.execute("DELETE FROM queue_locks WHERE name = 'signin'")
    op.drop_table("signin_attempts")
    op.drop_table("login_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
