"""Sightings into the queue on SQLite and PostgreSQL: one case per object, across nights, rerun-safe."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases import lifecycle
from pipeline.cases.categories import CategoryConfig
from pipeline.cases.ingest import PushResult, push_sightings
from pipeline.cases.models import Base, Case, CaseEvent, SightingRow
from pipeline.errors import CaseError
from pipeline.types import FrameCoverage, Sighting

Sessions = sessionmaker[Session]
MONDAY = "2026-10-05T21:00:00+08:00"
TUESDAY = "2026-10-06T21:00:00+08:00"


def push(
    sessions: Sessions, cats: CategoryConfig, root: Path, sightings: list[Sighting], **kw: object
) -> PushResult:
    with sessions.begin() as s:
        return push_sightings(s, sightings, categories=cats, data_root=root, **kw)  # type: ignore[arg-type]


def shed(sighting: Callable[..., Sighting], flight: str, seen_at: str, frames: int = 9) -> list[Sighting]:
    scatter = [(0, 0), (3, 1), (-2, 4), (4, -3), (-4, -2), (1, 5), (5, 2), (-3, 3), (2, -5)]
    return [
        sighting(e, n, flight=flight, frame=f"{flight}_{i:04d}.JPG", seen_at=seen_at, score=0.6 + i / 50)
        for i, (e, n) in enumerate(scatter[:frames])
    ]


def test_models_match_migrations(sessions: Sessions) -> None:
    with sessions() as s:
        diffs = compare_metadata(MigrationContext.configure(s.connection()), Base.metadata)
    assert diffs == []


def test_one_shed_two_nights_is_one_case(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    first = push(sessions, categories, tmp_path, shed(sighting, "F-mon", MONDAY))
    assert (first.cases_new, first.cases_updated, first.sightings_added) == (1, 0, 9)
    second = push(sessions, categories, tmp_path, shed(sighting, "F-tue", TUESDAY))
    assert (second.cases_new, second.cases_updated, second.sightings_added) == (0, 1, 9)
    with sessions() as s:
        case = s.scalars(select(Case)).one()
        assert (case.sightings_count, case.flights_count, case.status) == (18, 2, "new")
        assert case.first_seen.isoformat() == "2026-10-05T13:00:00+00:00"
        assert case.last_seen.isoformat() == "2026-10-06T13:00:00+00:00"
        assert (case.service_code, case.service_name, case.category) == ("0101", "私搭乱建", "市容环境")
        actions = s.scalars(select(CaseEvent.action).order_by(CaseEvent.id)).all()
        assert actions == ["open", "sighted"]


def test_rerun_adds_nothing(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    batch = [*shed(sighting, "F1", MONDAY), sighting(200, 0, cls="garbage_pile", frame="F1_0100.JPG")]
    cover = [FrameCoverage("F1", "F1_0100.JPG", MONDAY, ())]
    first = push(sessions, categories, tmp_path, batch, frames=cover)
    again = push(sessions, categories, tmp_path, batch, frames=cover)
    assert first.cases_new == 2
    assert (again.cases_new, again.cases_updated, again.sightings_added, again.sightings_skipped) == (
        0,
        0,
        0,
        10,
    )
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SightingRow)) == 10
        assert s.scalar(select(func.count()).select_from(Case)) == 2


def test_classes_and_distance_split_cases(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    batch = [
        sighting(0, 0, frame="a"),
        sighting(1, 1, frame="b", cls="garbage_pile"),
        sighting(60, 0, frame="c"),
    ]
    assert push(sessions, categories, tmp_path, batch).cases_new == 3


def test_evidence_is_stored_by_hash(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    crop = b"\xff\xd8fake jpeg\xff\xd9"
    digest = hashlib.sha256(crop).hexdigest()
    push(sessions, categories, tmp_path, [sighting(0, 0, evidence_jpeg=crop, score=0.9)])
    with sessions() as s:
        case = s.scalars(select(Case)).one()
    assert case.evidence_sha256 == digest
    assert case.evidence_path == f"evidence/{digest[:2]}/{digest}.jpg"
    assert (tmp_path / case.evidence_path).read_bytes() == crop


def test_better_evidence_replaces_the_case_crop(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    push(sessions, categories, tmp_path, [sighting(0, 0, flight="A", score=0.5, evidence_jpeg=b"low")])
    push(sessions, categories, tmp_path, [sighting(1, 0, flight="B", score=0.95, evidence_jpeg=b"high")])
    with sessions() as s:
        case = s.scalars(select(Case)).one()
    assert case.score == pytest.approx(0.95)
    assert case.evidence_sha256 == hashlib.sha256(b"high").hexdigest()


def test_covered_and_not_seen_is_recorded_once(
    sessions: Sessions,
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Callable[..., Sighting],
    square: Callable[..., FrameCoverage],
) -> None:
    push(sessions, categories, tmp_path, [sighting(0, 0, cls="garbage_pile", flight="F1")])
    with sessions.begin() as s:
        case_id = s.scalars(select(Case.id)).one()
        lifecycle.claim_next(s, "wang")
        lifecycle.confirm(s, case_id, "wang")
        lifecycle.dispatch(s, case_id, "li")
    cover = [square(0, 0, 60, flight="F2", frame="F2_0001.JPG"), square(500, 0, 60, flight="F2", frame="x")]
    result = push(sessions, categories, tmp_path, [], frames=cover)
    assert result.not_seen == 1
    again = push(sessions, categories, tmp_path, [], frames=cover)
    assert again.not_seen == 0
    with sessions() as s:
        events = s.scalars(select(CaseEvent).where(CaseEvent.action == "not_seen")).all()
        assert [(e.flight_id, e.note) for e in events] == [("F2", "covered by F2_0001.JPG and not seen")]
        assert s.get(Case, case_id).last_not_seen_at is not None  # type: ignore[union-attr]


def test_resolved_case_seen_again_goes_back_to_dispatched(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    push(sessions, categories, tmp_path, [sighting(0, 0, flight="F1")])
    with sessions.begin() as s:
        lifecycle.claim_next(s, "wang")
        for step in (lifecycle.confirm, lifecycle.dispatch, lifecycle.resolve):
            step(s, 1, "wang")
    result = push(sessions, categories, tmp_path, [sighting(2, 0, flight="F2", seen_at=TUESDAY)])
    assert (result.cases_new, result.reopened) == (0, 1)
    with sessions() as s:
        assert s.get(Case, 1).status == "dispatched"  # type: ignore[union-attr]


@pytest.mark.parametrize(("policy", "cases", "status"), [("new_linked", 2, "new"), ("reopen", 1, "new")])
def test_closed_case_seen_again_follows_the_setting(
    sessions: Sessions,
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Callable[..., Sighting],
    policy: str,
    cases: int,
    status: str,
) -> None:
    push(sessions, categories, tmp_path, [sighting(0, 0, flight="F1")])
    with sessions.begin() as s:
        lifecycle.claim_next(s, "wang")
        for step in (lifecycle.confirm, lifecycle.dispatch, lifecycle.resolve, lifecycle.close):
            step(s, 1, "wang")
    push(
        sessions,
        categories,
        tmp_path,
        [sighting(1, 0, flight="F2", seen_at=TUESDAY)],
        closed_seen_again=policy,
    )
    with sessions() as s:
        rows = s.scalars(select(Case).order_by(Case.id)).all()
        assert len(rows) == cases
        assert rows[-1].status == status
        if policy == "new_linked":
            assert rows[0].status == "closed"
            assert rows[1].previous_case_id == rows[0].id


def test_rejected_case_absorbs_its_false_positive(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    push(sessions, categories, tmp_path, [sighting(0, 0, flight="F1")])
    with sessions.begin() as s:
        lifecycle.reject(s, 1, "wang", "a blue tarp, not a shed")
    result = push(sessions, categories, tmp_path, [sighting(1, 0, flight="F2")])
    assert (result.cases_new, result.cases_updated) == (0, 1)


def test_bad_policy_and_bad_time_are_errors(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    with pytest.raises(CaseError, match="closed_seen_again"):
        push(sessions, categories, tmp_path, [], closed_seen_again="forget")
    with pytest.raises(CaseError, match="ISO 8601"):
        push(sessions, categories, tmp_path, [sighting(0, 0, seen_at="yesterday")])


def test_naive_capture_times_are_local(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> None:
    push(sessions, categories, tmp_path, [sighting(0, 0, seen_at="2026-10-05T21:00:00")])
    with sessions() as s:
        assert s.scalars(select(Case)).one().first_seen.isoformat() == "2026-10-05T13:00:00+00:00"
