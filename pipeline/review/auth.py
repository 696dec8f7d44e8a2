"""Who is asking, and may they: the signed-in user as a `Viewer`, role checks and CSRF as dependencies.

Roles are ranked; each may do everything the ones below it may:
pilot (upload, own flights) < reviewer (queue, verdicts) < supervisor (dispatch, close, reassign) < admin
(users). Routes declare the least role they need with `Depends(require("reviewer"))`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.signins import session_user
from pipeline.cases.users import ROLES
from pipeline.review.security import CSRF_FIELD, CSRF_HEADER, csrf_ok

RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Viewer:
    id: int
    name: str
    display_name: str
    role: str

    def can(self, role: str) -> bool:
        return RANK.get(self.role, -1) >= RANK[role]


def db(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


def session_state(request: Request) -> dict[str, Any]:
    state: dict[str, Any] = request.state.session
    return state


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in user, looked up once per request in the session table (signing out, a removed or disabled
    user, a new password or role apply at once)."""
    if hasattr(request.state, "viewer"):
        cached: Viewer | None = request.state.viewer
        return cached
    viewer = None
    state = session_state(request)
    uid, sid = state.get("uid"), state.get("sid")
    if isinstance(uid, int) and isinstance(sid, str):
        with db(request)() as s:
            user = session_user(s, sid, uid)  # a signed-out, removed or disabled user's cookie is dead
            if user is not None:
                viewer = Viewer(user.id, user.name, user.display_name or user.name, user.role)
    request.state.viewer = viewer
    return viewer


def require(role: str) -> Callable[[Request], Viewer]:
    """A dependency: the viewer if signed in with at least `role`; else 401 (not signed in) or 403."""

    def dependency(request: Request) -> Viewer:
        viewer = current_viewer(request)
        if viewer is None:
            raise HTTPException(401, "err.401")
        if not viewer.can(role):
            raise HTTPException(403, "err.403")
        return viewer

    return dependency


def csrf_protect(max_files: int) -> Callable[[Request], Awaitable[None]]:
    """A dependency for every state-changing route: the session's token in a header or a form field."""

    async def dependency(request: Request) -> None:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form(max_files=max_files, max_fields=200)
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not csrf_ok(session_state(request).get("csrf"), given):
            raise HTTPException(403, "err.csrf")

    return dependency


# Parameter types for routes; module-level so that FastAPI can resolve them from postponed annotations.
PilotViewer = Annotated[Viewer, Depends(require("pilot"))]
ReviewerViewer = Annotated[Viewer, Depends(require("reviewer"))]
