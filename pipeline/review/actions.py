"""Verdicts and case moves, shared by the pages and the JSON API, each with the least role it needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from pipeline.cases import lifecycle
from pipeline.cases.models import Case, User
from pipeline.errors import CaseError
from pipeline.review.auth import Viewer

# action -> the least role that may do it
ACTION_ROLES: dict[str, str] = {
    "claim": "reviewer",
    "release": "reviewer",
    "confirm": "reviewer",
    "reject": "reviewer",
    "duplicate": "reviewer",
    "note": "reviewer",
    "undo": "reviewer",
    "reopen_review": "supervisor",
    "dispatch": "supervisor",
    "resolve": "supervisor",
    "close": "supervisor",
    "reassign": "supervisor",
}


@dataclass(frozen=True)
class ActionRequest:
    action: str
    note: str | None = None
    of: int | None = None  # duplicate: the case this one repeats
    to_user: str | None = None  # reassign: the reviewer who takes it
    department: str | None = None  # dispatch: where it goes
    due: date | None = None  # dispatch: the local day it is due


class ActionForbidden(Exception):
    """The viewer's role may not do this action."""


# Verdicts: after one, the reviewer goes straight on to the next case of the view.
VERDICTS = frozenset({"confirm", "reject", "duplicate"})


@contextmanager
def unit_of_work(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction; a version conflict found when it commits is the same CaseChanged as one found
    earlier (the loser of a race gets a 409, never a 500)."""
    try:
        with sessions.begin() as s:
            yield s
    except StaleDataError as err:
        raise lifecycle.CaseChanged(None) from err


def act(
    session: Session, case_id: int, viewer: Viewer, req: ActionRequest, *, lease_s: int, undo_s: int = 300
) -> Case:
    """Do `req` on a case as `viewer`; CaseError (or TransitionError) when the case cannot move so."""
    role = ACTION_ROLES.get(req.action)
    if role is None:
        raise CaseError(f"unknown action {req.action!r}")
    if not viewer.can(role):
        raise ActionForbidden(req.action)
    note = (req.note or "").strip() or None
    who = viewer.name
    if req.action == "claim":
        return lifecycle.claim(session, case_id, who, lease_s=lease_s)
    if req.action == "release":
        return lifecycle.release(session, case_id, who)
    if req.action == "confirm":
        case = lifecycle.get_case(session, case_id)
        if case.status == lifecycle.NEW:  # triage straight from the queue: claim and confirm in one go
            lifecycle.claim(session, case_id, who, lease_s=lease_s)
        return lifecycle.confirm(session, case_id, who, note=note)
    if req.action == "reject":
        return lifecycle.reject(session, case_id, who, note or "")
    if req.action == "duplicate":
        if req.of is None:
            raise CaseError(f"case {case_id}: say which case it duplicates")
        return lifecycle.mark_duplicate(session, case_id, req.of, who)
    if req.action == "note":
        return lifecycle.add_note(session, case_id, who, note or "")
    if req.action == "undo":
        return lifecycle.undo(session, case_id, who, window_s=undo_s, lease_s=lease_s)
    if req.action == "reopen_review":
        return lifecycle.reopen_verdict(session, case_id, who, note=note)
    if req.action == "dispatch":
        return lifecycle.dispatch(
            session, case_id, who, note=note, department=(req.department or "").strip() or None, due=req.due
        )
    if req.action == "reassign":
        target = (req.to_user or "").strip()
        user = session.scalar(select(User).where(User.name == target))
        if user is None or user.role not in ("reviewer", "supervisor", "admin"):
            raise CaseError(f"no reviewer named {target!r}")
        return lifecycle.reassign(session, case_id, who, target, lease_s=lease_s)
    move = {"resolve": lifecycle.resolve, "close": lifecycle.close}
    return move[req.action](session, case_id, who, note=note)
