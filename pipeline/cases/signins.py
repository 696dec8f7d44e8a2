"""Who is signed in, and how often signing in may fail: both kept in the case database, so that a restart or a
second process of the review app sees the same sessions and the same counts.

Sessions: the cookie carries a random token; the database keeps its SHA-256 with the user and an expiry.
Signing out deletes the row; removing or disabling a user or changing their password deletes all of theirs.
A cookie whose row is gone signs nobody in, however valid its signature.

The sign-in limit counts failed attempts in a sliding window under three keys, like a real login limiter:
- one name from one address (`per_name_address`): blocks that name from that address only;
- one address, all names (`per_address`): blocks that address (someone trying many names);
- one name, all addresses (`per_name`): blocks that name everywhere (a spread-out guess at one account).
An address stops being counted for a name once it is blocked for it, so one address can add at most
`per_name_address` to the name's count: a flood from one address never locks the name for the others.
Checking and counting are one step: each attempt takes the `signin` lock row, counts, and records itself as
`pending` before its password is checked, so N simultaneous attempts can never all slip under the limit.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.lifecycle import utcnow
from pipeline.cases.models import LoginSession, QueueLock, SigninAttempt, User

LOCK = "signin"


# --- sessions --------------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user_id: int, hours: float, *, now: datetime | None = None) -> str:
    """A new session for the user; returns the token the cookie carries (only its hash is stored)."""
    now = now or utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            id=_digest(token), user_id=user_id, created_at=now, expires_at=now + timedelta(hours=hours)
        )
    )
    session.flush()
    return token


def session_user(session: Session, token: str, user_id: int, *, now: datetime | None = None) -> User | None:
    """The user whose live session `token` is, if it is `user_id`'s and they may still sign in; else None."""
    row = session.get(LoginSession, _digest(token))
    if row is None or row.user_id != user_id or row.expires_at <= (now or utcnow()):
        return None
    user = session.get(User, user_id)
    if user is None or user.disabled or not user.password_hash:
        return None
    return user


def end_session(session: Session, token: str) -> None:
    session.execute(delete(LoginSession).where(LoginSession.id == _digest(token)))


def end_user_sessions(session: Session, user_id: int) -> int:
    """Sign the user out everywhere; returns how many sessions ended."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


# --- the sign-in limit -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigninLimits:
    per_name_address: int = 5
    per_address: int = 20  # an office behind one NAT signs in from one address
    per_name: int = 20
    window_s: float = 900.0

    @classmethod
    def from_failures(cls, failures: int, window_s: float) -> SigninLimits:
        """The review app's one setting: `failures` per name and address, four times that per key beyond."""
        return cls(failures, 4 * failures, 4 * failures, window_s)


@dataclass(frozen=True)
class Attempt:
    """An attempt that may check its password; call `failed` or `succeeded` with it afterwards."""

    id: int
    address: str
    name: str


@dataclass(frozen=True)
class Refused:
    retry_after_s: int
    key: str  # which limit: "name+address", "address" or "name"


def _key(address: str, name: str) -> tuple[str, str]:
    return address[:64], name.strip().lower()[:64]


def begin_attempt(
    sessions: sessionmaker[Session],
    address: str,
    name: str,
    limits: SigninLimits,
    *,
    now: datetime | None = None,
) -> Attempt | Refused:
    """Count this attempt in, or refuse it (counting nothing) when a limit is reached; see the module doc."""
    now = now or utcnow()
    address, name = _key(address, name)
    window = timedelta(seconds=limits.window_s)
    with sessions.begin() as s:
        # The lock first: attempts check and count one at a time, on SQLite and PostgreSQL alike.
        s.execute(update(QueueLock).where(QueueLock.name == LOCK).values(touched_at=now))
        s.execute(delete(SigninAttempt).where(SigninAttempt.at <= now - window))
        checks: list[tuple[str, ColumnElement[bool], int]] = [
            (
                "name+address",
                and_(SigninAttempt.address == address, SigninAttempt.name == name),
                limits.per_name_address,
            ),
            ("address", SigninAttempt.address == address, limits.per_address),
            ("name", SigninAttempt.name == name, limits.per_name),
        ]
        for key, where, limit in checks:
            count, oldest = s.execute(select(func.count(), func.min(SigninAttempt.at)).where(where)).one()
            if count >= limit:
                wait = (oldest + window - now).total_seconds() if oldest is not None else limits.window_s
                return Refused(max(1, math.ceil(wait)), key)
        row = SigninAttempt(address=address, name=name, state="pending", at=now)
        s.add(row)
        s.flush()
        return Attempt(row.id, address, name)


def failed(sessions: sessionmaker[Session], attempt: Attempt) -> None:
    with sessions.begin() as s:
        s.execute(update(SigninAttempt).where(SigninAttempt.id == attempt.id).values(state="failed"))


def succeeded(sessions: sessionmaker[Session], attempt: Attempt) -> None:
    """The right password: this attempt and the name's earlier failures from this address no longer count."""
    with sessions.begin() as s:
        s.execute(
            delete(SigninAttempt).where(
                SigninAttempt.address == attempt.address, SigninAttempt.name == attempt.name
            )
        )
