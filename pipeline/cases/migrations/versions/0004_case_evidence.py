"""Case evidence: what covered each object and what saw it, change across flights, exclusion zones.

Additive: new nullable or defaulted columns on cases and sightings, and three new tables (the frames that
adequately covered each case, a coarse spatial index of frame footprints, exclusion zones). Existing cases
keep zero evidence counts and no change tags until a flight covers them again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CASE_COLUMNS = (
    ("evidence_seen", sa.Integer(), sa.text("0")),
    ("evidence_covered", sa.Integer(), sa.text("0")),
    ("confidence", sa.Float(), None),
    ("low_evidence", sa.Boolean(), sa.false()),
    ("position_error_m", sa.Float(), None),
    ("new_since", sa.DateTime(timezone=True), None),
    ("first_surveyed", sa.Boolean(), sa.false()),
    ("absent_since", sa.DateTime(timezone=True), None),
    ("verified_cleared_at", sa.DateTime(timezone=True), None),
    ("recurrence", sa.Boolean(), sa.false()),
    ("area_first_m2", sa.Float(), None),
    ("area_last_m2", sa.Float(), None),
    ("grown", sa.Boolean(), sa.false()),
    ("before_frame_id", sa.Integer(), None),
    ("zone_id", sa.Integer(), None),
)


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("class_name", sa.String(64), nullable=True),
        sa.Column("polygon", sa.JSON(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("source_case_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(64), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_zones"),
    )
    with op.batch_alter_table("cases") as batch:
        for name, kind, default in _CASE_COLUMNS:
            nullable = default is None
            batch.add_column(sa.Column(name, kind, nullable=nullable, server_default=default))
        batch.create_foreign_key("fk_cases_before_frame_id_frames", "frames", ["before_frame_id"], ["id"])
        batch.create_foreign_key("fk_cases_zone_id_zones", "zones", ["zone_id"], ["id"])
    op.create_index("ix_cases_confidence", "cases", ["confidence"])
    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("position_error_m", sa.Float(), nullable=True))
    op.create_table(
        "case_views",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("frame_id", sa.Integer(), nullable=False),
        sa.Column("flight_id", sa.String(128), nullable=False),
        sa.Column("seen", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_views_case_id_cases"),
        sa.ForeignKeyConstraint(["frame_id"], ["frames.id"], name="fk_case_views_frame_id_frames"),
        sa.PrimaryKeyConstraint("case_id", "frame_id", name="pk_case_views"),
    )
    op.create_index("ix_case_views_frame_id", "case_views", ["frame_id"])
    op.create_table(
        "coverage_cells",
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("frame_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["frame_id"], ["frames.id"], name="fk_coverage_cells_frame_id_frames"),
        sa.PrimaryKeyConstraint("cell", "frame_id", name="pk_coverage_cells"),
    )
    op.create_index("ix_coverage_cells_frame_id", "coverage_cells", ["frame_id"])


def downgrade() -> None:
    op.drop_index("ix_coverage_cells_frame_id", table_name="coverage_cells")
    op.drop_table("coverage_cells")
    op.drop_index("ix_case_views_frame_id", table_name="case_views")
    op.drop_table("case_views")
    with op.batch_alter_table("sightings") as batch:
        batch.drop_column("position_error_m")
    op.drop_index("ix_cases_confidence", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_constraint("fk_cases_zone_id_zones", type_="foreignkey")
        batch.drop_constraint("fk_cases_before_frame_id_frames", type_="foreignkey")
        for name, _, _ in reversed(_CASE_COLUMNS):
            batch.drop_column(name)
    op.drop_table("zones")
