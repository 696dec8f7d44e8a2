"""Signed session cookies and CSRF tokens.

The cookie holds the user's id, their session's token, a CSRF token and an expiry, signed with HMAC-SHA256.
The session token must name a live session in the database (`pipeline.cases.signins`) and the user's role is
read from there on every request, so signing out, a removed or disabled user, a changed password or role take
effect at once. The sign-in rate limit lives in the database too (`pipeline.cases.signins`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

COOKIE = "patrol_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(payload: dict[str, Any], key: str) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(token: str, key: str, now: float | None = None) -> dict[str, Any] | None:
    """The payload of a cookie this app signed and that has not expired; None for anything else."""
    try:
        body, mac = token.split(".", 1)
        want = hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(want, _unb64(mac)):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or float(payload.get("exp", 0)) < (now or time.time()):
        return None
    return payload


def new_session(user_id: int | None, hours: float, sid: str | None = None) -> dict[str, Any]:
    """Cookie state: signed in (`user_id` with the database session token `sid`) or anonymous (None)."""
    # A fresh CSRF token at every sign-in and sign-out: a token seen before signing in is worth nothing after.
    state: dict[str, Any] = {
        "uid": user_id,
        "csrf": secrets.token_urlsafe(24),
        "exp": int(time.time() + hours * 3600),
    }
    if sid is not None:
        state["sid"] = sid
    return state


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))
