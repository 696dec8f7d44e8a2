"""Processing state of the flight flow: frames done (keyed by file hash, frame and model) and flights done.

Additive only: two new tables, nothing existing changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_frames",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("flight_id", sa.String(128), nullable=False),
        sa.Column("frame_path", sa.String(1024), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_processed_frames"),
        sa.UniqueConstraint("key", name="uq_processed_frames_key"),
    )
    op.create_index("ix_processed_frames_flight_id", "processed_frames", ["flight_id"])
    op.create_table(
        "flight_runs",
        sa.Column("flight_id", sa.String(128), nullable=False),
        sa.Column("folder", sa.String(1024), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("frames_failed", sa.Integer(), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("flight_id", name="pk_flight_runs"),
    )


def downgrade() -> None:
    op.drop_index("ix_processed_frames_flight_id", table_name="processed_frames")
    op.drop_table("processed_frames")
    op.drop_table("flight_runs")
