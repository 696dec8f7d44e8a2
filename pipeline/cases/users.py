"""Users of the review app: name, role, and an optional scrypt password hash (stdlib, no extra package)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.cases.lifecycle import utcnow
from pipeline.cases.models import User
from pipeline.errors import CaseError

ROLES = ("reviewer", "supervisor", "admin")
_N, _R, _P = 2**14, 8, 1  # scrypt cost: about 50 ms and 16 MiB per check


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got, base64.b64decode(digest))


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
