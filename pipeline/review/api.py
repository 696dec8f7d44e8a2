"""The JSON API: the same reads and moves as the pages, for scripts and the city's integrators.

Sign in through `POST /login` (a form, as the page does); every POST then carries the session's CSRF token
in the `X-CSRF-Token` header, which `GET /api/session` returns.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from pipeline.cases.lifecycle import CaseChanged
from pipeline.cases.views import case_detail, case_view
from pipeline.errors import CaseError, TransitionError
from pipeline.review import queries
from pipeline.review.actions import ACTION_ROLES, ActionForbidden, ActionRequest, act, unit_of_work
from pipeline.review.auth import (
    ReviewerViewer,
    csrf_protect,
    current_viewer,
    db,
    require,
    session_state,
)
from pipeline.review.files import file_url
from pipeline.review.filters import queue_filter

# Numbers at the edge: a case id is a 32-bit integer in the database, and no queue has a million pages of
# 100; anything beyond is a 422 naming the parameter, never an overflow in the database driver (a 500).
MAX_CASE_ID = 2**31 - 1
MAX_PAGE = 1_000_000
CaseId = Annotated[int, Path(ge=1, le=MAX_CASE_ID)]


class ActionBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)
    of: int | None = Field(default=None, ge=1, le=MAX_CASE_ID)
    to_user: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    due: date | None = None


def _case_error(err: CaseError) -> HTTPException:
    # 409: the case is not in a state for this (or another hand just changed it); 404: no such case
    code = 409 if isinstance(err, TransitionError | CaseChanged) else 404
    if err.reason.startswith(("unknown", "not a date")):
        code = 400
    return HTTPException(code, err.reason)


def router(max_files: int) -> APIRouter:
    r = APIRouter(prefix="/api")
    csrf = [Depends(csrf_protect(max_files))]
    reviewer = Depends(require("reviewer"))

    @r.get("/session", tags=["session"])
    def session(request: Request) -> dict[str, Any]:
        """Who is signed in (null if nobody) and the CSRF token every POST must carry."""
        viewer = current_viewer(request)
        user = None if viewer is None else {"name": viewer.name, "role": viewer.role}
        return {"user": user, "csrf_token": session_state(request).get("csrf")}

    @r.get("/cases", dependencies=[reviewer], tags=["cases"])
    def cases(
        request: Request,
        status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
        class_name: Annotated[str | None, Query(alias="class", max_length=64)] = None,
        flight: Annotated[str | None, Query(max_length=128)] = None,
        since: Annotated[str | None, Query(max_length=10)] = None,
        until: Annotated[str | None, Query(max_length=10)] = None,
        sort: str = "priority",
        page: Annotated[int, Query(ge=0, le=MAX_PAGE)] = 0,
        evidence: Annotated[str, Query(max_length=8)] = "strong",
    ) -> dict[str, Any]:
        """The queue: `status` (repeatable; `open` by default, or `all`), `class`, `flight`, `since`/`until`
        (local dates, last seen), `sort` (priority, score, last_seen), `evidence` (`strong`, the morning
        queue, by default; `low`: only the cases the evidence rule holds back; `all`), `page` (100 a page)."""
        tz = request.app.state.settings.local_tz
        try:
            f = queue_filter(status, class_name, flight, since, until, sort, page, tz, evidence=evidence)
            with db(request)() as s:
                rows, total = queries.queue(s, f)
                counts = queries.status_counts(s, f)
        except CaseError as err:
            raise _case_error(err) from err
        return {"total": total, "counts": counts, "cases": [v.as_dict() for v in rows]}

    @r.get("/cases/{case_id}", dependencies=[reviewer], tags=["cases"])
    def case(request: Request, case_id: CaseId) -> dict[str, Any]:
        """One case with its history, sightings, and URLs of its evidence crop and full frame."""
        root = request.app.state.settings.data_root
        try:
            with db(request)() as s:
                detail = case_detail(s, case_id)
        except CaseError as err:
            raise _case_error(err) from err
        detail["evidence_url"] = file_url(root, detail["evidence_path"])
        detail["frame_url"] = file_url(root, detail["frame_path"])
        return detail

    @r.post("/cases/claim", dependencies=csrf, tags=["cases"])
    def claim(
        request: Request,
        viewer: ReviewerViewer,
        status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
        class_name: Annotated[str | None, Query(alias="class", max_length=64)] = None,
        flight: Annotated[str | None, Query(max_length=128)] = None,
        since: Annotated[str | None, Query(max_length=10)] = None,
        until: Annotated[str | None, Query(max_length=10)] = None,
        sort: str = "priority",
        evidence: Annotated[str, Query(max_length=8)] = "strong",
    ) -> dict[str, Any]:
        """Take the first claimable case of the queue as `GET /api/cases` with the same filters and sort lists
        it (null when none is left); 409 if another reviewer took it at the same moment."""
        tz = request.app.state.settings.local_tz
        try:
            f = queue_filter(status, class_name, flight, since, until, sort, 0, tz, evidence=evidence)
            with unit_of_work(db(request)) as s:
                got = queries.claim_next(s, f, viewer.name, lease_s=request.app.state.settings.lease_s)
                left = queries.claimable_left(s, f)
                return {"case": case_view(got).as_dict() if got else None, "left": left}
        except CaseError as err:
            raise _case_error(err) from err

    @r.post("/cases/{case_id}/actions/{action}", dependencies=csrf, tags=["cases"])
    def action(
        request: Request,
        case_id: CaseId,
        action: str,
        viewer: ReviewerViewer,
        body: ActionBody | None = None,
    ) -> dict[str, Any]:
        """claim, release, confirm, reject (`note` is the reason), duplicate (`of`), note, undo (the caller's
        own confirm or reject, within minutes); and for supervisors dispatch (`department`, `due`
        YYYY-MM-DD, `note`), resolve, close, reassign (`to_user`), reopen_review (a confirmed or rejected
        case back to the queue). 409 when the case cannot move so now, or another reviewer changed it."""
        if action not in ACTION_ROLES:
            raise HTTPException(404, f"unknown action {action!r}")
        body = body or ActionBody()
        try:
            with unit_of_work(db(request)) as s:
                done = act(
                    s,
                    case_id,
                    viewer,
                    ActionRequest(action, body.note, body.of, body.to_user, body.department, body.due),
                    lease_s=request.app.state.settings.lease_s,
                    undo_s=request.app.state.config.presets.undo_s,
                )
                return case_view(done).as_dict()
        except ActionForbidden as err:
            raise HTTPException(403, f"your role may not {action}") from err
        except CaseError as err:
            raise _case_error(err) from err

    @r.get("/map", dependencies=[reviewer], tags=["cases"])
    def map_cases(request: Request) -> dict[str, Any]:
        """Open cases as GeoJSON, in the datum of the configured map tiles (`datum`)."""
        with db(request)() as s:
            return queries.map_features(s, request.app.state.config.tile_datum)

    return r
