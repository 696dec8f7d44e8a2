"""A case's lifecycle: one function per transition, each recording a case event.

    new -> in_review -> confirmed -> dispatched -> resolved -> closed
    new | in_review -> rejected | duplicate;  in_review -> new (released, or the lease ran out)
    resolved -> dispatched (seen again: the verification failed);  closed -> new (revived by a setting)
    confirmed | rejected -> in_review (undone by its reviewer within minutes) | new (reopened by a supervisor)

Functions take a Session and leave committing to the caller (one unit of work per request or push). Every
case UPDATE is guarded by the row's version, so two people acting on one case cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pipeline.cases.models import Case, CaseEvent, OutboxMessage, QueueLock, SightingRow
from pipeline.cases.payloads import outbox_payload
from pipeline.errors import CaseError, TransitionError


class CaseChanged(CaseError):
    """Someone else changed the case between our read and our write: the loser of a race (HTTP 409)."""

    def __init__(self, case_id: int | None) -> None:
        which = f"case {case_id}" if case_id is not None else "the case"
        super().__init__(f"{which} was changed by someone else meanwhile; reload it and retry")
        self.case_id = case_id


class HeldByOther(TransitionError):
    """The case is under another reviewer's live claim."""

    def __init__(self, case_id: int, holder: str, until: datetime) -> None:
        super().__init__(f"case {case_id}: claimed by {holder} until {until.isoformat(timespec='seconds')}")
        self.case_id, self.holder, self.until = case_id, holder, until


class NotFrom(TransitionError):
    """The action is not allowed from the case's current state."""

    def __init__(self, case_id: int, action: str, status: str, allowed: frozenset[str]) -> None:
        super().__init__(
            f"case {case_id}: cannot {action} a case that is {status} "
            f"(allowed from: {', '.join(sorted(allowed))})"
        )
        self.case_id, self.action, self.status = case_id, action, status


class UndoRefused(TransitionError):
    """Nothing this reviewer may take back: not their verdict, too late, or the case has moved on."""

    def __init__(self, case_id: int, why: str) -> None:
        super().__init__(f"case {case_id}: cannot undo: {why}")
        self.case_id, self.why = case_id, why


NEW = "new"
IN_REVIEW = "in_review"
CONFIRMED = "confirmed"
DISPATCHED = "dispatched"
RESOLVED = "resolved"
CLOSED = "closed"
REJECTED = "rejected"
DUPLICATE = "duplicate"
# Seen inside an exclusion zone (pipeline.cases.zones): kept as evidence, in no reviewer's queue.
EXCLUDED = "excluded"
STATES = (NEW, IN_REVIEW, CONFIRMED, DISPATCHED, RESOLVED, CLOSED, REJECTED, DUPLICATE, EXCLUDED)

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
# Verdicts a reviewer may take back (a duplicate merge moved sightings, and is not undone here).
UNDOABLE = frozenset({"confirm", "reject"})
# What a supervisor may reopen into the queue.
REOPENABLE = frozenset({CONFIRMED, REJECTED})
CANCELLED = "cancelled"  # an outbox message withdrawn before it was sent


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
    push: bool | None = None,
) -> CaseEvent:
    """Add the event; an action the city hears about (or `push=True`) also gets its outbox message."""
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
    if action in PUSHED_ACTIONS if push is None else push:
        flush(session, case.id)  # the event's id is the idempotency key
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


def flush(session: Session, case_id: int) -> None:
    """Flush, turning a version conflict (another hand changed the case since we read it) into CaseChanged."""
    try:
        session.flush()
    except StaleDataError as err:
        raise CaseChanged(case_id) from err


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
        raise NotFrom(case.id, action, case.status, allowed)
    now = now or utcnow()
    if (
        case.status == IN_REVIEW
        and case.claimed_by not in (None, actor)
        and case.lease_expires_at is not None
        and case.lease_expires_at > now
    ):
        raise HeldByOther(case.id, case.claimed_by or "", case.lease_expires_at)
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
    flush(session, case.id)
    return case


# --- the review queue ------------------------------------------------------------------------------


def claimable(now: datetime) -> ColumnElement[bool]:
    """Cases a reviewer may take: new ones, and ones whose claim ran out."""
    return or_(Case.status == NEW, and_(Case.status == IN_REVIEW, Case.lease_expires_at < now))


def claim_next(
    session: Session,
    reviewer: str,
    *,
    lease_s: int = 900,
    now: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    order_by: Sequence[Any] = (),
) -> Case | None:
    """Hand the first claimable case (new, or one whose lease ran out) to `reviewer`; None if there is none.

    `where` and `order_by` are the queue's own filters and sort (the review app passes what the reviewer is
    looking at); by default the oldest case by id. Call it at the start of a transaction and commit right
    after. On PostgreSQL concurrent claimers skip each other's locked rows (FOR UPDATE SKIP LOCKED); SQLite
    has a single writer, so there the claim first takes the write lock (by touching a lock row) so that its
    read sees every earlier claim.
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(QueueLock).where(QueueLock.name == "claim").values(touched_at=now))
    row = session.execute(
        select(Case.id, Case.status, Case.claimed_by, Case.version)
        .where(claimable(now), *where)
        .order_by(*(order_by or (Case.id,)))
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
        raise CaseChanged(case_id)
    case = session.get(Case, case_id, populate_existing=True)
    assert case is not None
    note = f"lease of {previous} ran out" if before == IN_REVIEW else None
    record_event(session, case, "claim", reviewer, now, from_status=before, to_status=IN_REVIEW, note=note)
    flush(session, case_id)
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
    session: Session,
    case_id: int,
    actor: str,
    *,
    note: str | None = None,
    department: str | None = None,
    due: date | None = None,
    now: datetime | None = None,
) -> Case:
    """Send a confirmed case to a department, with a deadline (a local day); both reach the city's system as
    GeoReport's `agency_responsible` and `expected_datetime`, and the history's note says them."""
    parts = [
        f"派往：{department}" if department else "",
        f"期限：{due.isoformat()}" if due else "",
        note or "",
    ]
    text = "；".join(p for p in parts if p) or None
    case = _transition(session, get_case(session, case_id), "dispatch", actor, now, text)
    if department or due:
        msg = session.scalar(
            select(OutboxMessage).where(OutboxMessage.case_id == case.id).order_by(OutboxMessage.id.desc())
        )
        if msg is not None:
            request = {**msg.payload.get("request", {})}
            request["agency_responsible"] = department or ""
            request["expected_datetime"] = due.isoformat() if due else None
            msg.payload = {**msg.payload, "request": request}
            flush(session, case.id)
    return case


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
    flush(session, target.id)
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
    flush(session, case.id)
    return case


def add_note(session: Session, case_id: int, actor: str, note: str, *, now: datetime | None = None) -> Case:
    """A note on the case's history that changes nothing else."""
    if not note.strip():
        raise CaseError(f"case {case_id}: an empty note")
    case = get_case(session, case_id)
    record_event(session, case, "note", actor, now or utcnow(), note=note.strip())
    flush(session, case_id)
    return case


def claim(
    session: Session, case_id: int, reviewer: str, *, lease_s: int = 900, now: datetime | None = None
) -> Case:
    """Claim one chosen case (from a filtered queue): a new one, or one whose lease ran out or is ours."""
    case = get_case(session, case_id)
    now = now or utcnow()
    lapsed = case.lease_expires_at is None or case.lease_expires_at <= now
    if case.status == IN_REVIEW and not lapsed and case.claimed_by not in (None, reviewer):
        assert case.lease_expires_at is not None
        raise HeldByOther(case.id, case.claimed_by or "", case.lease_expires_at)
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
    flush(session, case.id)
    return case


# --- taking a verdict back -----------------------------------------------------------------------------


def last_verdict(session: Session, case_id: int) -> CaseEvent | None:
    """The case's latest event that changed its state (sightings and notes change none)."""
    return session.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.to_status.is_not(None))
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


def undoable(session: Session, case: Case, actor: str, window_s: int, now: datetime) -> CaseEvent | None:
    """The verdict `actor` may still take back on `case`, if any."""
    ev = last_verdict(session, case.id)
    if ev is None or ev.action not in UNDOABLE or ev.actor != actor or ev.to_status != case.status:
        return None
    return ev if now - ev.at <= timedelta(seconds=window_s) else None


def undo(
    session: Session,
    case_id: int,
    actor: str,
    *,
    window_s: int = 300,
    lease_s: int = 900,
    now: datetime | None = None,
) -> Case:
    """The reviewer takes back their own confirm or reject within `window_s`: the case is theirs to review
    again (in_review, a fresh lease)."""
    now = now or utcnow()
    case = get_case(session, case_id)
    ev = last_verdict(session, case_id)
    if ev is None or ev.action not in UNDOABLE or ev.to_status != case.status:
        raise UndoRefused(case_id, "its last step is not a confirm or reject")
    if ev.actor != actor:
        raise UndoRefused(case_id, f"the verdict is {ev.actor}'s")
    if now - ev.at > timedelta(seconds=window_s):
        raise UndoRefused(
            case_id, f"more than {window_s // 60} minutes have passed: a supervisor can reopen it"
        )
    return _take_back(session, case, actor, "undo", IN_REVIEW, ev.action, now, lease_s=lease_s)


def reopen_verdict(
    session: Session, case_id: int, actor: str, *, note: str | None = None, now: datetime | None = None
) -> Case:
    """A supervisor puts a confirmed or rejected case back in the queue (new, unclaimed)."""
    now = now or utcnow()
    case = get_case(session, case_id)
    if case.status not in REOPENABLE:
        raise NotFrom(case_id, "reopen_review", case.status, REOPENABLE)
    ev = last_verdict(session, case_id)
    return _take_back(session, case, actor, "reopen_review", NEW, ev.action if ev else "", now, note=note)


def _take_back(
    session: Session,
    case: Case,
    actor: str,
    action: str,
    target: str,
    verdict: str,
    now: datetime,
    *,
    lease_s: int = 900,
    note: str | None = None,
) -> Case:
    before = case.status
    case.status = target
    case.updated_at = now
    case.claimed_by = actor if target == IN_REVIEW else None
    case.lease_expires_at = now + timedelta(seconds=lease_s) if target == IN_REVIEW else None
    if before == REJECTED:
        case.reason = None
    # What the city has not been sent yet is withdrawn; what it has been sent gets a correcting event.
    unsent = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.case_id == case.id, OutboxMessage.state.in_(("pending", "rejected"))
        )
    ).all()
    for msg in unsent:
        msg.state = CANCELLED
        msg.last_error = f"withdrawn: {action} by {actor}"
    sent = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.case_id == case.id, OutboxMessage.state == "sent")
    )
    text = "；".join(x for x in (f"taken back: {verdict}" if verdict else "", note or "") if x)
    record_event(
        session, case, action, actor, now, from_status=before, to_status=target, note=text, push=bool(sent)
    )
    flush(session, case.id)
    return case
