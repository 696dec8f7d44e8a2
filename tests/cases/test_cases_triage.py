"""Triage on both databases: claim-next in a queue's own filter and order, atomically; undo and reopen with
the outbox corrected; dispatch with department and deadline; race losers get CaseChanged, never a raw
StaleDataError."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases import lifecycle
from pipeline.cases.models import Case, CaseEvent, OutboxMessage

Sessions = sessionmaker[Session]
T0 = datetime(2026, 10, 6, 1, 0, tzinfo=UTC)


def _insert(sessions: Sessions, specs: list[tuple[str, float]]) -> None:
    """Cases of (class, score), ids in the order given."""
    rows = [
        {
            "class_name": cls,
            "service_code": "0102" if cls == "garbage_pile" else "0101",
            "service_name": "",
            "category": "市容环境",
            "status": "new",
            "lat": 23.0 + i * 1e-4,
            "lon": 113.7,
            "grid_key": i,
            "score": score,
            "first_seen": T0,
            "last_seen": T0,
            "sightings_count": 1,
            "flights_count": 1,
            "created_at": T0,
            "updated_at": T0,
            "version": 1,
        }
        for i, (cls, score) in enumerate(specs)
    ]
    with sessions.begin() as s:
        s.execute(insert(Case), rows)


def test_claim_next_takes_the_first_case_of_the_filtered_sorted_queue(sessions: Sessions) -> None:
    _insert(sessions, [("illegal_construction", 0.99), ("garbage_pile", 0.6), ("garbage_pile", 0.9)])
    only_garbage = [Case.class_name == "garbage_pile"]
    by_score = (Case.score.desc(), Case.id)
    with sessions.begin() as s:
        got = lifecycle.claim_next(s, "wang", where=only_garbage, order_by=by_score, now=T0)
        assert got is not None and got.id == 3  # the 0.9 pile, not case 1 (another class), not case 2
        got = lifecycle.claim_next(s, "wang", where=only_garbage, order_by=by_score, now=T0)
        assert got is not None and got.id == 2
        assert lifecycle.claim_next(s, "wang", where=only_garbage, order_by=by_score, now=T0) is None


@pytest.mark.slow
def test_concurrent_filtered_claims_hand_out_each_case_once(sessions: Sessions) -> None:
    specs = [("garbage_pile" if i % 2 else "illegal_construction", (i * 37 % 100) / 100) for i in range(400)]
    _insert(sessions, specs)
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(6)}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while True:
                with sessions.begin() as s:
                    case = lifecycle.claim_next(
                        s,
                        name,
                        where=[Case.class_name == "garbage_pile"],
                        order_by=(Case.score.desc(), Case.id),
                    )
                    if case is None:
                        return
                    claimed[name].append(case.id)
        except lifecycle.CaseChanged:
            work(name)
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    got = [cid for ids in claimed.values() for cid in ids]
    garbage = {i + 1 for i, (cls, _) in enumerate(specs) if cls == "garbage_pile"}
    assert len(got) == len(garbage) and set(got) == garbage  # each pile once, no other class
    # each worker took its cases in the queue's order (highest score first)
    score = {i + 1: sc for i, (_, sc) in enumerate(specs)}
    for ids in claimed.values():
        assert [score[i] for i in ids] == sorted((score[i] for i in ids), reverse=True)


def _confirmed(sessions: Sessions, who: str = "wang", at: datetime = T0) -> None:
    _insert(sessions, [("garbage_pile", 0.8)])
    with sessions.begin() as s:
        lifecycle.claim(s, 1, who, now=at)
        lifecycle.confirm(s, 1, who, now=at)


def _outbox(sessions: Sessions) -> list[tuple[str, str]]:
    with sessions() as s:
        rows = s.execute(select(OutboxMessage.state, OutboxMessage.payload).order_by(OutboxMessage.id)).all()
        return [(state, payload["event"]["action"]) for state, payload in rows]


def test_undo_within_the_window_withdraws_the_unsent_confirm(sessions: Sessions) -> None:
    _confirmed(sessions)
    with sessions.begin() as s, pytest.raises(lifecycle.UndoRefused, match="wang's"):
        lifecycle.undo(s, 1, "li", window_s=300, now=T0 + timedelta(minutes=1))
    with sessions.begin() as s:
        case = lifecycle.undo(s, 1, "wang", window_s=300, lease_s=600, now=T0 + timedelta(minutes=4))
        assert (case.status, case.claimed_by) == ("in_review", "wang")
        assert case.lease_expires_at == T0 + timedelta(minutes=14)
    assert _outbox(sessions) == [("cancelled", "confirm")]  # the city never hears of it


def test_undo_is_refused_after_the_window(sessions: Sessions) -> None:
    _confirmed(sessions)
    with sessions.begin() as s, pytest.raises(lifecycle.UndoRefused, match="more than 5 minutes"):
        lifecycle.undo(s, 1, "wang", window_s=300, now=T0 + timedelta(minutes=6))


def test_undo_of_a_sent_confirm_sends_a_correcting_event(sessions: Sessions) -> None:
    _confirmed(sessions)
    with sessions.begin() as s:
        for msg in s.scalars(select(OutboxMessage)):
            msg.state, msg.sent_at = "sent", T0
    with sessions.begin() as s:
        lifecycle.undo(s, 1, "wang", window_s=300, now=T0 + timedelta(minutes=1))
    assert _outbox(sessions) == [("sent", "confirm"), ("pending", "undo")]
    with sessions() as s:
        payload = s.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id.desc())).first()
        assert payload is not None
        assert payload["event"]["to_status"] == "in_review" and payload["request"]["status"] == "open"


def test_a_supervisor_reopens_a_verdict_into_the_queue(sessions: Sessions) -> None:
    _insert(sessions, [("garbage_pile", 0.8), ("garbage_pile", 0.7)])
    with sessions.begin() as s:
        lifecycle.reject(s, 1, "wang", "误报-植被", now=T0)
        with pytest.raises(lifecycle.NotFrom):
            lifecycle.reopen_verdict(s, 2, "zhao", now=T0)  # new: nothing to reopen
    with sessions.begin() as s:
        case = lifecycle.reopen_verdict(s, 1, "zhao", note="复核为违建", now=T0 + timedelta(days=2))
        assert (case.status, case.claimed_by, case.reason) == ("new", None, None)
    with sessions() as s:
        last = s.scalars(
            select(CaseEvent).where(CaseEvent.case_id == 1).order_by(CaseEvent.id.desc())
        ).first()
        assert last is not None and (last.action, last.from_status, last.to_status) == (
            "reopen_review",
            "rejected",
            "new",
        )
    assert _outbox(sessions) == []  # a rejection was never sent, so there is nothing to correct


def test_dispatch_carries_department_and_deadline(sessions: Sessions) -> None:
    _confirmed(sessions)
    with sessions.begin() as s:
        lifecycle.dispatch(s, 1, "zhao", department="环卫所", due=date(2026, 10, 9), note="尽快", now=T0)
    with sessions() as s:
        msg = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert msg is not None
        assert msg.payload["request"]["agency_responsible"] == "环卫所"
        assert msg.payload["request"]["expected_datetime"] == "2026-10-09"
        assert msg.payload["event"]["note"] == "派往：环卫所；期限：2026-10-09；尽快"


def test_the_loser_of_a_confirm_race_gets_case_changed(sessions: Sessions) -> None:
    _insert(sessions, [("garbage_pile", 0.8)])
    with sessions.begin() as s:
        lifecycle.claim(s, 1, "wang", now=T0)
    a, b = sessions(), sessions()
    try:
        seen = (lifecycle.get_case(a, 1), lifecycle.get_case(b, 1))  # both read the case under review
        assert seen[1].status == "in_review"
        lifecycle.confirm(a, 1, "wang")
        a.commit()
        with pytest.raises(lifecycle.CaseChanged):  # the confirm's outbox flush meets the new version
            lifecycle.confirm(b, 1, "wang")
    finally:
        a.close()
        b.close()
