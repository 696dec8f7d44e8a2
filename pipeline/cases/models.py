"""The case database: flights, frames, sightings, cases, case events, users, and the outbox.

The schema is created and changed only by the Alembic migrations in `migrations/` (a test checks that they
and these models agree). Positions are WGS84; times are stored as UTC and come back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to a UTC column")
        out = value.astimezone(UTC)
        # SQLite stores text; dropping the zone keeps its string comparisons in one format.
        return out.replace(tzinfo=None) if dialect.name == "sqlite" else out

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))  # reviewer, supervisor, admin
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LoginSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored. Signing out,
    removing or disabling the user, or changing their password deletes the rows, and the cookie is dead."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class SigninAttempt(Base):
    """One sign-in attempt in the rate limit's window: `pending` while its password is checked, then
    `failed` (kept until the window passes) or deleted (success). See `pipeline.cases.signins`."""

    __tablename__ = "signin_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class Flight(Base):
    __tablename__ = "flights"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_pushed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_pushed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Frame(Base):
    __tablename__ = "frames"
    __table_args__ = (UniqueConstraint("flight_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flight_id: Mapped[str] = mapped_column(ForeignKey("flights.id"))
    path: Mapped[str] = mapped_column(String(1024))
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    footprint: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # [[lat, lon], ...]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_name: Mapped[str] = mapped_column(String(64))
    # The category as configured when the case was opened: a later change of codes leaves filed cases alone.
    service_code: Mapped[str] = mapped_column(String(32), default="")
    service_name: Mapped[str] = mapped_column(String(64), default="")
    category: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    grid_key: Mapped[int] = mapped_column(BigInteger, index=True)
    size_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float)  # of the best sighting
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    sightings_count: Mapped[int] = mapped_column(Integer, default=0)
    flights_count: Mapped[int] = mapped_column(Integer, default=0)
    best_sighting_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    evidence_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    frame_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)  # of the best sighting
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # why rejected, or the last note
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    previous_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    last_not_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Evidence (pipeline.cases.evidence_rule): of the frames of the latest flight over it that covered it
    # adequately, how many saw it; the confidence that combines this with the scores; weak cases stay out of
    # the morning queue.
    evidence_seen: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    evidence_covered: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    low_evidence: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    position_error_m: Mapped[float | None] = mapped_column(Float, nullable=True)  # 90 % radius
    # Change across flights: the last adequate coverage without it before it was first seen (新增), or
    # "existing when first surveyed"; the first adequate coverage that no longer saw it; a resolved case
    # covered and not seen (核查通过); seen again after it was resolved or closed (复发); grown in area.
    new_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    first_surveyed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    absent_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    verified_cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    recurrence: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    area_first_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    area_last_m2: Mapped[float | None] = mapped_column(Float, nullable=True)
    grown: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    before_frame_id: Mapped[int | None] = mapped_column(ForeignKey("frames.id"), nullable=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"), nullable=True)
    # Optimistic locking: every UPDATE checks and bumps it, so two hands on one case cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads a plain dict)


class SightingRow(Base):
    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A digest of flight, frame, class and box: the same detection pushed twice is stored once.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id"), index=True)
    flight_id: Mapped[str] = mapped_column(String(128), index=True)
    class_name: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    x0_px: Mapped[float] = mapped_column(Float)
    y0_px: Mapped[float] = mapped_column(Float)
    x1_px: Mapped[float] = mapped_column(Float)
    y1_px: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    footprint: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    size_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    evidence_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    position_error_m: Mapped[float | None] = mapped_column(Float, nullable=True)  # 90 % radius


class CaseViewRow(Base):
    """A frame that covered a case's ground adequately, and whether it saw the case: its evidence."""

    __tablename__ = "case_views"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id"), primary_key=True, index=True)
    flight_id: Mapped[str] = mapped_column(String(128))
    seen: Mapped[bool] = mapped_column(Boolean)


class CoverageCell(Base):
    """A coarse grid cell (pipeline.dedupe.coverage_cell) a frame's adequate footprint touches: how a new
    object finds the earlier frames that looked at its ground."""

    __tablename__ = "coverage_cells"

    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("frames.id"), primary_key=True, index=True)


class Zone(Base):
    """Ground that raises no case (a legal stacking yard, a permitted structure): sightings inside are kept
    on an `excluded` case as evidence. `class_name` None: every class. Removed zones are kept, marked."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    class_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    polygon: Mapped[list[Any]] = mapped_column(JSON)  # [[lat, lon], ...], first point not repeated
    min_lat: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    # No foreign key: cases already point at zones, and a cycle would leave no order to empty tables in.
    source_case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    flight_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # pending, sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class QueueLock(Base):
    """One row per lock name. Updating it first thing in a transaction serialises writers that must see each
    other's results (two pushes of overlapping flights), with the same statement on SQLite and PostgreSQL."""

    __tablename__ = "queue_locks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    touched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class ProcessedFrame(Base):
    """A frame the flight flow has finished with: what it found (or why it failed), keyed by the frame's file
    hash, its index in a video, and the model version. It is what makes a rerun or a resumed crash skip
    frames already done; the sightings themselves reach the queue in one push per flight."""

    __tablename__ = "processed_frames"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    flight_id: Mapped[str] = mapped_column(String(128), index=True)
    frame_path: Mapped[str] = mapped_column(String(1024))
    model_version: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # done, failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    detections: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # sightings + coverage
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FlightRun(Base):
    """A flight whose frames were all processed and whose sightings were pushed: the nightly run's record of
    what it need not look at again."""

    __tablename__ = "flight_runs"

    flight_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    folder: Mapped[str] = mapped_column(String(1024))
    model_version: Mapped[str] = mapped_column(String(128))
    frames: Mapped[int] = mapped_column(Integer, default=0)
    frames_failed: Mapped[int] = mapped_column(Integer, default=0)
    detections: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
