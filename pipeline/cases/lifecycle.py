"""A case's lifecycle: one function per transition, each recording a case event.

    new -> in_review -> confirmed -> dispatched -> resolved -> closed
    new | in_review -> rejected | duplicate;  in_review -> new (released, or the lease ran out)
    resolved -> dispatched (seen again: the verification failed);  closed -> new (revived by a setting)

Functions take a Session and leave committing to the caller (one unit of work per request or push). Every
case UPDATE is guarded by the row's version, so two people acting on one case cannot both succeed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pipeline.cases.models import Case, CaseEvent, OutboxMessage, QueueLock, SightingRow
from pipeline.cases.payloads import outbox_payload
from pipeline.errors import CaseError, TransitionError

NEW = "new"
IN_REVIEW = "in_review"
CONFIRMED = "confirmed"
DISPATCHED = "dispatched"
RESOLVED = "resolved"
CLOSED = "closed"
REJECTED = "rejected"
DUPLICATE = "duplicate"
STATES = (NEW, IN_REVIEW, CONFIRMED, DISPATCHED, RESOLVED, CLOSED, REJECTED, DUPLICATE)

# Cases a new sighting of the same object lands on (a closed case is handled by a setting).
MATCHABLE = (NEW, IN_REVIEW, CONFIRMED, DISPATCHED, RESOLVED, REJECTED)
# Cases a flight that looks at them and does not see them records "not seen" on (核查).
VERIFIABLE = (NEW, IN_REVIEW, CONFIRMED, DISPATCHED, RESOLVED)

# action -> (states it may start from, state it ends in)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "claim": (frozenset({NEW}), IN_REVIEW),
    "release": (frozenset({IN_REVIEW}), NEW),
    "confirm": (frozenset({IN_REVIEW}), CONFIRMED),
    "reject": (frozenset({NEW, IN_REVIEW}), REJECTED),
    "mark_duplicate": (frozenset({NEW, IN_REVIEW}), DUPLICATE),
    "dispatch": (frozenset({CONFIRMED}), DISPATCHED),
    "resolve": (frozenset({DISPATCHED}), RESOLVED),
    "close": (frozenset({RESOLVED}), CLOSED),
    "reopen": (frozenset({RESOLVED}), DISPATCHED),
    "revive": (frozenset({CLOSED}), NEW),
}
# Transitions the city's system hears about through the outbox.
PUSHED_ACTIONS = frozenset({"confirm", "dispatch", "resolve", "close", "reopen"})
SYSTEM_ACTOR = "patrol"


def utcnow() -> datetime:
    return datetime.now(UTC)


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseError(f"no case {case_id}")
    return case


def record_event(
    session: Session,
    case: Case,
    action: str,
    actor: str,
    now: datetime,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    flight_id: str | None = None,
    note: str | None = None,
) -> CaseEvent:
    ev = CaseEvent(
        case_id=case.id,
        at=now,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        flight_id=flight_id,
        note=note,
    )
    session.add(ev)
    if action in PUSHED_ACTIONS:
        session.flush()  # the event's id is the idempotency key
        key = f"patrol-case-{case.id}-event-{ev.id}"
        session.add(
            OutboxMessage(
                event_id=ev.id,
                case_id=case.id,
                idempotency_key=key,
                payload=outbox_payload(case, ev, key),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return ev


def _transition(
    session: Session,
    case: Case,
    action: str,
    actor: str,
    now: datetime | None,
    note: str | None = None,
    flight_id: str | None = None,
) -> Case:
    allowed, target = TRANSITIONS[action]
    if case.status not in allowed:
        raise TransitionError(
            f"case {case.id}: cannot {action} a case that is {case.status} "
            f"(allowed from: {', '.join(sorted(allowed))})"
        )
    now = now or utcnow()
    if (
        case.status == IN_REVIEW
        and case.claimed_by not in (None, actor)
        and case.lease_expires_at is not None
        and case.lease_expires_at > now
    ):
        raise TransitionError(f"case {case.id}: claimed by {case.claimed_by} until {case.lease_expires_at}")
    before = case.status
    case.status = target
    case.updated_at = now
    if target != IN_REVIEW:
        case.claimed_by = None
        case.lease_expires_at = None
    if note:
        case.reason = note
    record_event(
        session,
        case,
        action,
        actor,
        now,
        from_status=before,
        to_status=target,
        note=note,
        flight_id=flight_id,
    )
    try:
        session.flush()
    except StaleDataError as err:
        raise CaseError(f"case {case.id} was changed by someone else meanwhile; reload it and retry") from err
    return case


# --- the review queue ------------------------------------------------------------------------------


def claim_next(
    session: Session, reviewer: str, *, lease_s: int = 900, now: datetime | None = None
) -> Case | None:
    """Hand the oldest unclaimed case (or one whose lease ran out) to `reviewer`; None if the queue is empty.

    Call it at the start of a transaction and commit right after. On PostgreSQL concurrent claimers skip each
    other's locked rows (FOR UPDATE SKIP LOCKED); SQLite has a single writer, so there the claim first takes
    the write lock (by touching a lock row) so that its read sees every earlier claim.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(QueueLock).where(QueueLock.name == "claim").values(touched_at=now))
    claimable = or_(Case.status == NEW, and_(Case.status == IN_REVIEW, Case.lease_expires_at < now))
    row = session.execute(
        select(Case.id, Case.status, Case.claimed_by, Case.version)
        .where(claimable)
        .order_by(Case.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    case_id, before, previous, version = row
    done = session.execute(
        update(Case)
        .where(Case.id == case_id, Case.version == version)
        .values(
            status=IN_REVIEW,
            claimed_by=reviewer,
            lease_expires_at=now + timedelta(seconds=lease_s),
            updated_at=now,
            version=Case.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 1) != 1:
        raise CaseError(f"case {case_id} was claimed by someone else meanwhile; claim again")
    case = session.get(Case, case_id, populate_existing=True)
    assert case is not None
    note = f"lease of {previous} ran out" if before == IN_REVIEW else None
    record_event(session, case, "claim", reviewer, now, from_status=before, to_status=IN_REVIEW, note=note)
    session.flush()
    return case


def release(session: Session, case_id: int, actor: str, *, now: datetime | None = None) -> Case:
    return _transition(session, get_case(session, case_id), "release", actor, now)


def confirm(
    session: Session, case_id: int, actor: str, *, note: str | None = None, now: datetime | None = None
) -> Case:
    return _transition(session, get_case(session, case_id), "confirm", actor, now, note)


def reject(session: Session, case_id: int, actor: str, reason: str, *, now: datetime | None = None) -> Case:
    if not reason.strip():
        raise TransitionError(f"case {case_id}: a rejection needs a reason")
    return _transition(session, get_case(session, case_id), "reject", actor, now, reason)


def dispatch(
    session: Session, case_id: int, actor: str, *, note: str | None = None, now: datetime | None = None
) -> Case:
    return _transition(session, get_case(session, case_id), "dispatch", actor, now, note)


def resolve(
    session: Session, case_id: int, actor: str, *, note: str | None = None, now: datetime | None = None
) -> Case:
    return _transition(session, get_case(session, case_id), "resolve", actor, now, note)


def close(
    session: Session, case_id: int, actor: str, *, note: str | None = None, now: datetime | None = None
) -> Case:
    return _transition(session, get_case(session, case_id), "close", actor, now, note)


def reopen(
    session: Session,
    case: Case,
    actor: str,
    *,
    note: str | None = None,
    flight_id: str | None = None,
    now: datetime | None = None,
) -> Case:
    return _transition(session, case, "reopen", actor, now, note, flight_id)


def revive(
    session: Session,
    case: Case,
    actor: str,
    *,
    note: str | None = None,
    flight_id: str | None = None,
    now: datetime | None = None,
) -> Case:
    return _transition(session, case, "revive", actor, now, note, flight_id)


def mark_duplicate(
    session: Session, case_id: int, of_case_id: int, actor: str, *, now: datetime | None = None
) -> Case:
    """Merge a case into another: its sightings move over, and it ends as `duplicate` pointing there."""
    case = get_case(session, case_id)
    target = get_case(session, of_case_id)
    while target.duplicate_of_id is not None:  # merge into the surviving case, not into another duplicate
        target = get_case(session, target.duplicate_of_id)
    if target.id == case.id:
        raise TransitionError(f"case {case_id}: cannot be a duplicate of itself")
    now = now or utcnow()
    _transition(session, case, "mark_duplicate", actor, now, f"duplicate of case {target.id}")
    case.duplicate_of_id = target.id
    session.execute(
        update(SightingRow)
        .where(SightingRow.case_id == case.id)
        .values(case_id=target.id)
        .execution_options(synchronize_session=False)
    )
    counts = session.execute(
        select(
            func.count(SightingRow.id),
            func.count(func.distinct(SightingRow.flight_id)),
            func.min(SightingRow.seen_at),
            func.max(SightingRow.seen_at),
        ).where(SightingRow.case_id == target.id)
    ).one()
    target.sightings_count, target.flights_count = int(counts[0]), int(counts[1])
    target.first_seen = min(target.first_seen, case.first_seen)
    target.last_seen = max(target.last_seen, case.last_seen)
    if case.score > target.score:
        target.score = case.score
        target.best_sighting_id = case.best_sighting_id
        target.evidence_path, target.evidence_sha256 = case.evidence_path, case.evidence_sha256
        target.frame_path = case.frame_path
    target.updated_at = now
    record_event(session, target, "merge", actor, now, note=f"case {case.id} merged in")
    session.flush()
    return case


def reassign(
    session: Session,
    case_id: int,
    actor: str,
    to_user: str,
    *,
    lease_s: int = 900,
    now: datetime | None = None,
) -> Case:
    """A supervisor hands a case under review (or a new one) to `to_user`, whoever held it before."""
    case = get_case(session, case_id)
    if case.status not in (NEW, IN_REVIEW):
        raise TransitionError(f"case {case_id}: cannot reassign a case that is {case.status}")
    now = now or utcnow()
    before, previous = case.status, case.claimed_by
    case.status = IN_REVIEW
    case.claimed_by = to_user
    case.lease_expires_at = now + timedelta(seconds=lease_s)
    case.updated_at = now
    note = f"from {previous} to {to_user}" if previous else f"to {to_user}"
    record_event(session, case, "reassign", actor, now, from_status=before, to_status=IN_REVIEW, note=note)
    try:
        session.flush()
    except StaleDataError as err:
        raise CaseError(f"case {case.id} was changed by someone else meanwhile; reload it and retry") from err
    return case


def add_note(session: Session, case_id: int, actor: str, note: str, *, now: datetime | None = None) -> Case:
    """A note on the case's history that changes nothing else."""
    if not note.strip():
        raise CaseError(f"case {case_id}: an empty note")
    case = get_case(session, case_id)
    record_event(session, case, "note", actor, now or utcnow(), note=note.strip())
    session.flush()
    return case


def claim(
    session: Session, case_id: int, reviewer: str, *, lease_s: int = 900, now: datetime | None = None
) -> Case:
    """Claim one chosen case (from a filtered queue): a new one, or one whose lease ran out or is ours."""
    case = get_case(session, case_id)
    now = now or utcnow()
    lapsed = case.lease_expires_at is None or case.lease_expires_at <= now
    if case.status == IN_REVIEW and (case.claimed_by == reviewer or lapsed):
        before = case.claimed_by
        note = None if before == reviewer else f"lease of {before} ran out"
        record_event(
            session, case, "claim", reviewer, now, from_status=IN_REVIEW, to_status=IN_REVIEW, note=note
        )
    else:
        _transition(session, case, "claim", reviewer, now)
    case.claimed_by = reviewer
    case.lease_expires_at = now + timedelta(seconds=lease_s)
    try:
        session.flush()
    except StaleDataError as err:
        raise CaseError(f"case {case.id} was claimed by someone else meanwhile; reload it") from err
    return case
