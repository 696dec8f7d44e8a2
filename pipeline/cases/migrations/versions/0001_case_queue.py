"""The case queue: flights, frames, sightings, cases, events, users, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "flights",
        sa.Column("id", sa.String(128), nullable=False),
        _ts("first_pushed_at"),
        _ts("last_pushed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_flights"),
    )
    op.create_table(
        "frames",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.String(128), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        _ts("seen_at", nullable=True),
        sa.Column("footprint", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_frames"),
        sa.ForeignKeyConstraint(["flight_id"], ["flights.id"], name="fk_frames_flight_id_flights"),
        sa.UniqueConstraint("flight_id", "path", name="uq_frames_flight_id"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("class_name", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(32), nullable=False),
        sa.Column("service_name", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("grid_key", sa.BigInteger(), nullable=False),
        sa.Column("size_m", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("sightings_count", sa.Integer(), nullable=False),
        sa.Column("flights_count", sa.Integer(), nullable=False),
        sa.Column("best_sighting_id", sa.Integer(), nullable=True),
        sa.Column("evidence_path", sa.String(1024), nullable=True),
        sa.Column("evidence_sha256", sa.String(64), nullable=True),
        sa.Column("frame_path", sa.String(1024), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        _ts("lease_expires_at", nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("previous_case_id", sa.Integer(), nullable=True),
        _ts("last_not_seen_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.ForeignKeyConstraint(["duplicate_of_id"], ["cases.id"], name="fk_cases_duplicate_of_id_cases"),
        sa.ForeignKeyConstraint(["previous_case_id"], ["cases.id"], name="fk_cases_previous_case_id_cases"),
    )
    op.create_index("ix_cases_grid_key", "cases", ["grid_key"])
    op.create_index("ix_cases_status_id", "cases", ["status", "id"])
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("frame_id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.String(128), nullable=False),
        sa.Column("class_name", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("x0_px", sa.Float(), nullable=False),
        sa.Column("y0_px", sa.Float(), nullable=False),
        sa.Column("x1_px", sa.Float(), nullable=False),
        sa.Column("y1_px", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("footprint", sa.JSON(), nullable=True),
        sa.Column("size_m", sa.Float(), nullable=True),
        _ts("seen_at"),
        sa.Column("evidence_path", sa.String(1024), nullable=True),
        sa.Column("evidence_sha256", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sightings"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_sightings_case_id_cases"),
        sa.ForeignKeyConstraint(["frame_id"], ["frames.id"], name="fk_sightings_frame_id_frames"),
        sa.UniqueConstraint("key", name="uq_sightings_key"),
    )
    op.create_index("ix_sightings_case_id", "sightings", ["case_id"])
    op.create_index("ix_sightings_frame_id", "sightings", ["frame_id"])
    op.create_index("ix_sightings_flight_id", "sightings", ["flight_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("flight_id", sa.String(128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_events_case_id_cases"),
    )
    op.create_index("ix_case_events_case_id", "case_events", ["case_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["event_id"], ["case_events.id"], name="fk_outbox_event_id_case_events"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_outbox_case_id_cases"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index("ix_outbox_case_id", "outbox", ["case_id"])
    op.create_index("ix_outbox_state_next", "outbox", ["state", "next_attempt_at"])
    op.create_table(
        "queue_locks",
        sa.Column("name", sa.String(32), nullable=False),
        _ts("touched_at", nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_queue_locks"),
    )
    op.bulk_insert(
        sa.table("queue_locks", sa.column("name", sa.String)),
        [{"name": "push"}, {"name": "claim"}, {"name": "outbox"}],
    )


def downgrade() -> None:
    for table in ("queue_locks", "outbox", "case_events", "sightings", "cases", "frames", "flights", "users"):
        op.drop_table(table)
