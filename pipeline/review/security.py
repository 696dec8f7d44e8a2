"""Signed session cookies, CSRF tokens and the sign-in rate limit.

The cookie holds only the user's id, a CSRF token and an expiry, signed with HMAC-SHA256; the user's role
is read from the database on every request, so a changed role or a removed user takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
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


def new_session(user_id: int | None, hours: float) -> dict[str, Any]:
    # A fresh CSRF token at every sign-in and sign-out: a token seen before signing in is worth nothing after.
    return {"uid": user_id, "csrf": secrets.token_urlsafe(24), "exp": int(time.time() + hours * 3600)}


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))


@dataclass
class LoginLimiter:
    """Failed sign-ins per user name and per address in a sliding window; in memory (one process)."""

    max_failures: int = 5
    window_s: float = 900.0
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _limits(self, keys: list[str]) -> list[tuple[str, int]]:
        # An address may fail more often than one name (an office behind one NAT), but not without bound.
        return [(k, self.max_failures * (4 if k.startswith("ip:") else 1)) for k in keys]

    def retry_after(self, keys: list[str], now: float | None = None) -> int:
        """Seconds until a sign-in may be tried again for these keys; 0 when it may now."""
        now = now or time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in self._limits(keys):
                q = self._fails.get(key)
                while q and q[0] <= now - self.window_s:
                    q.popleft()
                if q and len(q) >= limit:
                    wait = max(wait, q[0] + self.window_s - now)
        return int(wait) + 1 if wait else 0

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = now or time.monotonic()
        with self._lock:
            for key in keys:
                self._fails.setdefault(key, deque()).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                if key.startswith("user:"):
                    self._fails.pop(key, None)
