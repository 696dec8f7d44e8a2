"""Users of the review app: name, role, and an optional argon2id password hash.

Hashes written before argon2 (scrypt, stdlib) still verify, and `authenticate` rewrites them as argon2id on
the user's next successful sign-in.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.cases.lifecycle import utcnow
from pipeline.cases.models import User
from pipeline.cases.signins import end_user_sessions
from pipeline.errors import CaseError

# Least to most trusted; each role may do everything the roles before it may (see pipeline.review.auth).
ROLES = ("pilot", "reviewer", "supervisor", "admin")
_N, _R, _P = 2**14, 8, 1  # the legacy scrypt cost


def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4), built per call so that
    # nothing is set up at import time.
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got, base64.b64decode(digest))


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return stored.startswith("scrypt$") or _hasher().check_needs_rehash(stored)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong password."""
    return hash_password("no such user")


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user if `password` is theirs; None for an unknown name, no password, disabled, a wrong password."""
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None or not user.password_hash or user.disabled:
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, user.password_hash):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        raise CaseError(f"no user {name!r}")
    return user


def set_password(session: Session, name: str, password: str) -> User:
    """A new password; every session the user had ends (whoever knew the old one is signed out)."""
    user = get_user(session, name)
    if len(password) < 8:
        raise CaseError("a password needs at least 8 characters")
    user.password_hash = hash_password(password)
    end_user_sessions(session, user.id)
    return user


def set_disabled(session: Session, name: str, disabled: bool) -> User:
    """Disable (no sign-in, every session ends) or enable a user; their cases and history stay."""
    user = get_user(session, name)
    user.disabled = disabled
    if disabled:
        end_user_sessions(session, user.id)
    return user


def remove_user(session: Session, name: str) -> User:
    """Delete a user and end their sessions. Case history keeps their name as it was written."""
    user = get_user(session, name)
    end_user_sessions(session, user.id)
    session.delete(user)
    session.flush()
    return user


def add_user(
    session: Session,
    name: str,
    role: str = "reviewer",
    *,
    display_name: str = "",
    password: str | None = None,
    now: datetime | None = None,
) -> User:
    name = name.strip()
    if not name or len(name) > 64:
        raise CaseError(f"user name must be 1 to 64 characters, not {name!r}")
    if role not in ROLES:
        raise CaseError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise CaseError(f"user {name!r} already exists")
    user = User(
        name=name,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password) if password else None,
        created_at=now or utcnow(),
    )
    session.add(user)
    session.flush()
    return user
