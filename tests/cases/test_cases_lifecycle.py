"""The lifecycle on both databases: legal paths, refusals, leases, duplicates, concurrent claims."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases import lifecycle
from pipeline.cases.categories import CategoryConfig
from pipeline.cases.ingest import push_sightings
from pipeline.cases.models import Case, CaseEvent, OutboxMessage, SightingRow
from pipeline.errors import CaseError, TransitionError
from pipeline.types import Sighting

Sessions = sessionmaker[Session]
T0 = datetime(2026, 10, 6, 1, 0, tzinfo=UTC)


@pytest.fixture
def three_cases(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> Sessions:
    with sessions.begin() as s:
        batch = [sighting(i * 100.0, 0, frame=f"{i}") for i in range(3)]
        push_sightings(s, batch, categories=categories, data_root=tmp_path, now=T0)
    return sessions


def test_full_path_records_every_step(three_cases: Sessions) -> None:
    with three_cases.begin() as s:
        case = lifecycle.claim_next(s, "wang", now=T0)
        assert case is not None and case.id == 1 and case.claimed_by == "wang"
        lifecycle.confirm(s, 1, "wang", now=T0)
        lifecycle.dispatch(s, 1, "li", note="城管执法中队 3", now=T0)
        lifecycle.resolve(s, 1, "li", now=T0)
        lifecycle.close(s, 1, "zhao", note="核查无误", now=T0)
    with three_cases() as s:
        rows = s.execute(
            select(CaseEvent.action, CaseEvent.actor, CaseEvent.from_status, CaseEvent.to_status)
            .where(CaseEvent.case_id == 1)
            .order_by(CaseEvent.id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("open", "patrol", None, "new"),
            ("claim", "wang", "new", "in_review"),
            ("confirm", "wang", "in_review", "confirmed"),
            ("dispatch", "li", "confirmed", "dispatched"),
            ("resolve", "li", "dispatched", "resolved"),
            ("close", "zhao", "resolved", "closed"),
        ]
        # Each step the city hears about has one outbox message, keyed by its event.
        keys = s.scalars(select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)).all()
        assert len(keys) == 4 and len(set(keys)) == 4


@pytest.mark.parametrize(
    ("steps", "action", "message"),
    [
        ([], lifecycle.confirm, "cannot confirm a case that is new"),
        ([], lifecycle.dispatch, "cannot dispatch a case that is new"),
        (["claim"], lifecycle.close, "cannot close a case that is in_review"),
        (["claim", "confirm"], lifecycle.resolve, "cannot resolve a case that is confirmed"),
        (["claim", "confirm"], lifecycle.confirm, "cannot confirm a case that is confirmed"),
    ],
)
def test_illegal_transitions_are_refused(
    three_cases: Sessions, steps: list[str], action: Callable[..., Case], message: str
) -> None:
    with three_cases.begin() as s:
        for step in steps:
            if step == "claim":
                lifecycle.claim_next(s, "wang")
            else:
                getattr(lifecycle, step)(s, 1, "wang")
    with three_cases.begin() as s, pytest.raises(TransitionError, match=message):
        action(s, 1, "wang")


def test_reject_needs_a_reason_and_keeps_it(three_cases: Sessions) -> None:
    with three_cases.begin() as s, pytest.raises(TransitionError, match="reason"):
        lifecycle.reject(s, 2, "wang", " ")
    with three_cases.begin() as s:
        lifecycle.reject(s, 2, "wang", "蓝色篷布，非违建")
    with three_cases() as s:
        case = s.get(Case, 2)
        assert case is not None and (case.status, case.reason) == ("rejected", "蓝色篷布，非违建")


def test_someone_elses_claim_blocks_until_the_lease_runs_out(three_cases: Sessions) -> None:
    with three_cases.begin() as s:
        lifecycle.claim_next(s, "wang", lease_s=600, now=T0)
    with three_cases.begin() as s, pytest.raises(TransitionError, match="claimed by wang"):
        lifecycle.confirm(s, 1, "li", now=T0 + timedelta(minutes=5))
    with three_cases.begin() as s:
        # Within the lease the next claim passes case 1 by; after it, case 1 is handed out again.
        assert lifecycle.claim_next(s, "li", now=T0 + timedelta(minutes=5)).id == 2  # type: ignore[union-attr]
        again = lifecycle.claim_next(s, "zhao", now=T0 + timedelta(minutes=11))
        assert again is not None and again.id == 1 and again.claimed_by == "zhao"
    with three_cases() as s:
        note = s.scalars(select(CaseEvent.note).where(CaseEvent.actor == "zhao")).one()
        assert note == "lease of wang ran out"


def test_release_puts_a_case_back(three_cases: Sessions) -> None:
    with three_cases.begin() as s:
        lifecycle.claim_next(s, "wang")
        lifecycle.release(s, 1, "wang")
    with three_cases.begin() as s:
        assert lifecycle.claim_next(s, "li").id == 1  # type: ignore[union-attr]


def test_duplicate_moves_sightings_to_the_surviving_case(three_cases: Sessions) -> None:
    with three_cases.begin() as s:
        lifecycle.mark_duplicate(s, 3, 2, "wang")
        lifecycle.mark_duplicate(s, 1, 3, "wang")  # of a duplicate: lands on the case that survived
    with three_cases() as s:
        survivor = s.get(Case, 2)
        assert survivor is not None and survivor.sightings_count == 3
        assert s.scalar(select(func.count()).select_from(SightingRow).where(SightingRow.case_id == 2)) == 3
        assert [s.get(Case, i).duplicate_of_id for i in (1, 3)] == [2, 2]  # type: ignore[union-attr]
    with three_cases.begin() as s, pytest.raises(TransitionError, match="itself"):
        lifecycle.mark_duplicate(s, 2, 1, "wang")


def test_two_hands_on_one_case_cannot_both_win(three_cases: Sessions) -> None:
    with three_cases.begin() as s:
        lifecycle.claim_next(s, "wang")
    a, b = three_cases(), three_cases()
    try:
        lifecycle.confirm(a, 1, "wang")
        lifecycle.get_case(b, 1)  # b read the case before a committed
        a.commit()
        with pytest.raises(CaseError, match=r"changed by someone else|cannot reject"):
            lifecycle.reject(b, 1, "wang", "no")
    finally:
        a.close()
        b.close()


def test_unknown_case_is_an_error(three_cases: Sessions) -> None:
    with three_cases.begin() as s, pytest.raises(CaseError, match="no case 99"):
        lifecycle.confirm(s, 99, "wang")


@pytest.mark.slow
def test_eight_workers_claim_a_thousand_cases_once_each(sessions: Sessions) -> None:
    rows = [
        {
            "class_name": "garbage_pile",
            "service_code": "0102",
            "service_name": "暴露垃圾",
            "category": "市容环境",
            "status": "new",
            "lat": 23.0 + i * 1e-4,
            "lon": 113.7,
            "grid_key": i,
            "score": 0.5,
            "first_seen": T0,
            "last_seen": T0,
            "sightings_count": 1,
            "flights_count": 1,
            "created_at": T0,
            "updated_at": T0,
            "version": 1,
        }
        for i in range(1000)
    ]
    with sessions.begin() as s:
        s.execute(insert(Case), rows)
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(8)}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while True:
                with sessions.begin() as s:
                    case = lifecycle.claim_next(s, name)
                    if case is None:
                        return
                    claimed[name].append(case.id)
        except BaseException as err:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    got = [cid for ids in claimed.values() for cid in ids]
    assert len(got) == 1000 and len(set(got)) == 1000  # none twice, none lost
    assert sum(1 for ids in claimed.values() if ids) >= 2  # the work really was shared
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.status == "in_review")) == 1000
        assert (
            s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.action == "claim")) == 1000
        )
