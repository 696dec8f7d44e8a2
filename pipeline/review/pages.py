"""The pages staff use: sign in, queue, case, map, files. Uploads and users are in their own modules."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from pipeline import geo
from pipeline.cases import signins
from pipeline.cases.lifecycle import get_case
from pipeline.cases.models import User
from pipeline.cases.users import authenticate
from pipeline.cases.views import case_detail, case_view
from pipeline.errors import CaseError
from pipeline.review import queries
from pipeline.review.actions import ActionForbidden, ActionRequest, act
from pipeline.review.auth import RANK, PilotViewer, ReviewerViewer, csrf_protect, db, require, session_state
from pipeline.review.files import file_url, serve_file, under_root
from pipeline.review.filters import queue_filter, status_param
from pipeline.review.i18n import translator
from pipeline.review.security import new_session
from pipeline.review.web import flash, render


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never `//host` or `https://...` (no open redirect after signing in).
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def router(max_files: int) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    csrf = [Depends(csrf_protect(max_files))]
    reviewer = Depends(require("reviewer"))

    @r.get("/login")
    def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", {"next": _safe_next(next), "error": None})

    @r.post("/login", dependencies=csrf)
    def login(
        request: Request,
        name: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        app = request.app.state
        t = translator(request.state.lang)
        sessions = db(request)
        address = request.client.host if request.client else "-"
        attempt = signins.begin_attempt(sessions, address, name, app.signin_limits)
        if isinstance(attempt, signins.Refused):
            wait = attempt.retry_after_s
            ctx = {"next": _safe_next(next), "error": t("login.limited", s=wait), "name": name}
            response = render(request, "login.html", ctx, status=429)
            response.headers["Retry-After"] = str(wait)
            return response
        with sessions.begin() as s:
            user = authenticate(s, name, password)
            uid = user.id if user else None
            sid = signins.open_session(s, user.id, app.config.session_hours) if user else None
        if uid is None:
            signins.failed(sessions, attempt)
            ctx = {"next": _safe_next(next), "error": t("login.failed"), "name": name}
            return render(request, "login.html", ctx, status=401)
        signins.succeeded(sessions, attempt)
        request.state.session = new_session(uid, app.config.session_hours, sid)
        request.state.session_changed = True
        return _see_other(_safe_next(next))

    @r.post("/logout", dependencies=csrf)
    def logout(request: Request) -> Response:
        sid = session_state(request).get("sid")
        if isinstance(sid, str):
            with db(request).begin() as s:
                signins.end_session(s, sid)  # the cookie, even a copy taken before, signs nobody in now
        request.state.session = new_session(None, request.app.state.config.session_hours)
        request.state.session_changed = True
        return _see_other("/login")

    @r.get("/")
    def home(viewer: PilotViewer) -> Response:
        return _see_other("/queue" if viewer.can("reviewer") else "/flights")

    @r.get("/queue", dependencies=[reviewer])
    def queue_page(
        request: Request,
        status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
        class_name: Annotated[str | None, Query(alias="class", max_length=64)] = None,
        flight: Annotated[str | None, Query(max_length=128)] = None,
        since: Annotated[str | None, Query(max_length=10)] = None,
        until: Annotated[str | None, Query(max_length=10)] = None,
        sort: str = "priority",
        page: int = 0,
    ) -> Response:
        tz = request.app.state.settings.local_tz
        try:
            f = queue_filter(status, class_name, flight, since, until, sort, page, tz)
        except CaseError as err:
            raise HTTPException(400, str(err)) from err
        with db(request)() as s:
            rows, total = queries.queue(s, f)
            counts = queries.status_counts(s, f)
            classes = queries.classes(s)
        root = request.app.state.settings.data_root
        thumbs = {v.id: file_url(root, v.evidence_path) for v in rows}
        ctx = {
            "rows": rows,
            "total": total,
            "counts": counts,
            "classes": classes,
            "thumbs": thumbs,
            "f": f,
            "status_value": status_param(f),
            "q": {
                "class": class_name or "",
                "flight": flight or "",
                "since": since or "",
                "until": until or "",
            },
            "page_size": queries.PAGE,
        }
        return render(request, "queue.html", ctx)

    @r.post("/queue/next", dependencies=csrf)
    def claim_next(request: Request, viewer: ReviewerViewer) -> Response:
        from pipeline.cases.lifecycle import claim_next as take

        t = translator(request.state.lang)
        with db(request).begin() as s:
            case = take(s, viewer.name, lease_s=request.app.state.settings.lease_s)
            case_id = case.id if case else None
        if case_id is None:
            flash(request, t("queue.empty"), "info")
            return _see_other("/queue")
        return _see_other(f"/cases/{case_id}")

    @r.get("/cases/{case_id}")
    def case_page(request: Request, case_id: int, viewer: ReviewerViewer) -> Response:
        settings = request.app.state.settings
        config = request.app.state.config
        root = settings.data_root
        with db(request)() as s:
            try:
                case = get_case(s, case_id)
            except CaseError as err:
                raise HTTPException(404, "err.404") from err
            detail = case_detail(s, case_id)
            view = case_view(case)
            box = queries.best_box(s, case)
            near = queries.nearby(s, case)
            reviewers = [
                u.name
                for u in s.scalars(select(User).order_by(User.name))
                if RANK.get(u.role, 0) >= RANK["reviewer"]
            ]
        for row in detail["sighting_list"]:
            row["evidence_url"] = file_url(root, row["evidence_path"])
        shown = (
            geo.wgs84_to_gcj02(view.lat, view.lon) if config.tile_datum == "gcj02" else (view.lat, view.lon)
        )
        ctx = {
            "c": view,
            "d": detail,
            "box": box,
            "evidence_url": file_url(root, view.evidence_path),
            "frame_url": file_url(root, view.frame_path),
            "nearby": near,
            "reviewers": reviewers,
            "not_seen": [e for e in detail["events"] if e["action"] == "not_seen"],
            "mine": view.claimed_by == viewer.name,
            "map_json": _script_json(_map_config(config, [shown[0], shown[1]])),
        }
        return render(request, "case.html", ctx)

    @r.post("/cases/{case_id}/act", dependencies=csrf)
    def case_act(
        request: Request,
        case_id: int,
        viewer: ReviewerViewer,
        action: Annotated[str, Form(max_length=32)],
        note: Annotated[str, Form(max_length=2000)] = "",
        of: Annotated[str, Form(max_length=12)] = "",
        to_user: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        t = translator(request.state.lang)
        req = ActionRequest(action, note, int(of) if of.strip().isdigit() else None, to_user)
        if action == "reject" and not note.strip():
            flash(request, t("act.reason_needed"), "error")
            return _see_other(f"/cases/{case_id}")
        try:
            with db(request).begin() as s:
                case = act(s, case_id, viewer, req, lease_s=request.app.state.settings.lease_s)
                status = case.status
        except ActionForbidden as err:
            raise HTTPException(403, "err.403") from err
        except CaseError as err:
            flash(request, t("act.failed", why=err.reason), "error")
            return _see_other(f"/cases/{case_id}")
        flash(request, t("act.done", id=case_id, s=t("status." + status)))
        return _see_other(f"/cases/{case_id}")

    @r.get("/map", dependencies=[reviewer])
    def map_page(request: Request) -> Response:
        config = request.app.state.config
        with db(request)() as s:
            features = queries.map_features(s, config.tile_datum)
        ctx = {"map_json": _script_json(_map_config(config, None)), "cases_json": _script_json(features)}
        return render(request, "map.html", ctx)

    @r.get("/files/{rel:path}", dependencies=[reviewer])
    def data_file(request: Request, rel: str) -> Response:
        target = under_root(request.app.state.settings.data_root, rel)
        if target is None or rel.startswith("/"):
            raise HTTPException(404, "err.404")
        return serve_file(target)

    return r


def _map_config(config: object, centre: list[float] | None) -> dict[str, object]:
    from pipeline.review.config import ReviewConfig

    assert isinstance(config, ReviewConfig)
    return {
        "tiles": config.tile_url,
        "subdomains": config.tile_subdomains,
        "attribution": config.tile_attribution,
        "datum": config.tile_datum,
        "centre": centre,
    }


def _script_json(value: object) -> str:
    """JSON for a <script type="application/json"> block: no `<` so that no text can close the tag."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
