"""`patrol cases claim` hands out the first claimable case of the review queue, in the review app's order
and filters, through the real entry point on both databases; the expected order is read from the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.categories import CategoryConfig
from pipeline.cases.ingest import push_sightings
from pipeline.cases.models import Case
from pipeline.cli import main
from pipeline.types import Sighting

# (class, score, confidence, flights, status, low evidence): ties on confidence broken by flights, then by
# score; a case without a confidence last; a low-evidence case held back from the default queue.
CASES = [
    ("illegal_construction", 0.60, 0.70, 1, "new", False),
    ("garbage_pile", 0.90, 0.50, 1, "new", False),
    ("garbage_pile", 0.70, 0.80, 1, "new", False),
    ("illegal_construction", 0.95, None, 3, "new", False),
    ("garbage_pile", 0.65, 0.70, 2, "new", False),
    ("illegal_construction", 0.85, 0.70, 2, "new", False),
    ("garbage_pile", 0.99, 0.95, 1, "new", True),
    ("illegal_construction", 0.97, 0.99, 4, "confirmed", False),
    ("garbage_pile", 0.75, 0.60, 1, "in_review", False),  # its claim ran out: claimable
    ("illegal_construction", 0.98, 0.90, 1, "in_review", False),  # claimed, lease still running
]


@pytest.fixture
def queue(
    db_url: str,
    sessions: sessionmaker[Session],
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Callable[..., Sighting],
) -> str:
    now = datetime.now(UTC)
    for k, (cls, score, *_) in enumerate(CASES):  # one flight each, so that ids follow this table
        with sessions.begin() as s:
            one = sighting(300.0 * k, 0, flight=f"F{k}", frame=f"DJI_{k:04d}.JPG", cls=cls, score=score)
            push_sightings(s, [one], categories=categories, data_root=tmp_path)
    with sessions.begin() as s:
        by_score = {round(c.score, 2): c for c in s.scalars(select(Case))}  # each score is one case's
        assert sorted(by_score) == sorted(row[1] for row in CASES)
        for cls, score, confidence, flights, status, low in CASES:
            case = by_score[score]
            assert case.class_name == cls
            case.confidence, case.flights_count, case.low_evidence = confidence, flights, low
            case.status = status
            if status == "in_review":
                case.claimed_by = "li"
                case.lease_expires_at = now + timedelta(minutes=10 if score > 0.9 else -10)
    return db_url


def _expected(sessions: sessionmaker[Session], *where: Any, order: tuple[Any, ...]) -> list[int]:
    claimable = or_(
        Case.status == "new", and_(Case.status == "in_review", Case.lease_expires_at < datetime.now(UTC))
    )
    with sessions() as s:
        return list(s.scalars(select(Case.id).where(claimable, *where).order_by(*order)))


PRIORITY = (
    Case.confidence.is_(None),
    Case.confidence.desc(),
    Case.flights_count.desc(),
    Case.score.desc(),
    Case.first_seen,
    Case.id,
)


def _claim_all(url: str, extra: list[str], capsys: pytest.CaptureFixture[str]) -> list[int]:
    got: list[int] = []
    for _ in range(len(CASES) + 1):
        assert main(["cases", "claim", "--user", "wang", "--db", url, "--json", *extra]) == 0
        claimed = json.loads(capsys.readouterr().out)
        if claimed["id"] is None:
            return got
        assert claimed["status"] == "in_review"
        got.append(claimed["id"])
    raise AssertionError(f"claims never ran out: {got}")


def test_claims_follow_the_default_queue_open_strong_by_priority(
    queue: str, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    want = _expected(sessions, Case.low_evidence.is_(false()), order=PRIORITY)
    assert len(want) == 7 and want != sorted(want)  # not the order of ids
    assert _claim_all(queue, [], capsys) == want
    with sessions() as s:
        held = {c.id: c for c in s.scalars(select(Case).where(Case.id.in_(want)))}
    assert all(c.status == "in_review" and c.claimed_by == "wang" for c in held.values())


def test_claims_take_a_class_and_a_sort(
    queue: str, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    want = _expected(
        sessions,
        Case.low_evidence.is_(false()),
        Case.class_name == "garbage_pile",
        order=(Case.score.desc(), Case.id),
    )
    assert len(want) == 4 and want != sorted(want)
    assert _claim_all(queue, ["--class", "garbage_pile", "--sort", "score"], capsys) == want
    rest = _expected(sessions, Case.low_evidence.is_(false()), order=PRIORITY)
    assert _claim_all(queue, [], capsys) == rest  # the other class, still in priority order


def test_the_held_back_cases_have_their_own_queue(
    queue: str, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    want = _expected(sessions, Case.low_evidence.is_(true()), order=PRIORITY)
    assert len(want) == 1
    assert _claim_all(queue, ["--evidence", "low"], capsys) == want


def test_the_text_output_and_a_bad_sort(
    queue: str, sessions: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cases", "claim", "--user", "wang", "--db", queue, "--class", "no_such_class"]) == 0
    assert capsys.readouterr().out.strip() == "no claimable case in this queue"
    assert main(["cases", "claim", "--user", "wang", "--db", queue, "--sort", "oldest"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown sort 'oldest'" in err
    first = _expected(sessions, Case.low_evidence.is_(false()), order=PRIORITY)[0]
    assert main(["cases", "claim", "--user", "wang", "--db", queue]) == 0
    assert capsys.readouterr().out.strip() == f"claimed case #{first} for wang"
