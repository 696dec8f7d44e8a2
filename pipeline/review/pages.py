"""The pages staff use: sign in, queue, case, map, files. Uploads and users are in their own modules."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import geo
from pipeline.cases import lifecycle, signins, zones
from pipeline.cases.lifecycle import get_case
from pipeline.cases.models import Case, User
from pipeline.cases.payloads import iso
from pipeline.cases.users import authenticate
from pipeline.cases.views import case_detail, case_view
from pipeline.errors import CaseError
from pipeline.review import queries, wording
from pipeline.review.actions import ACTION_ROLES, VERDICTS, ActionForbidden, ActionRequest, act, unit_of_work
from pipeline.review.api import MAX_CASE_ID
from pipeline.review.auth import (
    RANK,
    PilotViewer,
    ReviewerViewer,
    Viewer,
    csrf_protect,
    db,
    require,
    session_state,
)
from pipeline.review.evidence_view import evidence_summary
from pipeline.review.files import file_url, serve_file, under_root
from pipeline.review.filters import QueueView, queue_view, status_param
from pipeline.review.i18n import translator
from pipeline.review.map_data import MapCache
from pipeline.review.security import new_session
from pipeline.review.timefmt import local_text
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
    map_cache = MapCache()  # one per app: the router is built by create_app

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

    def view_of(request: Request, viewer: Viewer) -> QueueView:
        try:
            return queue_view(request.query_params.multi_items(), _tz(request), viewer.name)
        except CaseError as err:
            raise HTTPException(400, err.reason) from err

    @r.get("/queue")
    def queue_page(request: Request, viewer: ReviewerViewer) -> Response:
        view = view_of(request, viewer)
        with db(request)() as s:
            rows, total = queries.queue(s, view.filter)
            counts = queries.status_counts(s, view.filter)
            classes = queries.classes(s)
            left = queries.claimable_left(s, view.filter)
            mine = queries.held_by(s, viewer.name)
            names = queries.display_names(s)
            low_count = queries.low_evidence_count(s, view.filter)
        root = request.app.state.settings.data_root
        presets = request.app.state.config.presets
        ctx = {
            "rows": rows,
            "total": total,
            "counts": counts,
            "classes": classes,
            "thumbs": {v.id: file_url(root, v.evidence_path) for v in rows},
            "f": view.filter,
            "view": view,
            "status_value": status_param(view.filter),
            "q": {k: view.values.get(k, "") for k in ("class", "flight", "since", "until")},
            "page_size": queries.PAGE,
            "left": left,
            "mine_count": mine,
            "low_count": low_count,
            "names": names,
            "now_iso": iso(lifecycle.utcnow()),
            "departments": presets.departments,
            "default_due": _default_due(request),
        }
        return render(request, "queue.html", ctx)

    @r.post("/queue/next", dependencies=csrf)
    def claim_next(request: Request, viewer: ReviewerViewer) -> Response:
        view = view_of(request, viewer)
        t = translator(request.state.lang)
        case_id = _claim_next(request, view, viewer)
        if case_id is None:
            flash(request, t("queue.empty"), "info")
            return _see_other(f"/queue{view.suffix()}")
        return _see_other(f"/cases/{case_id}{view.suffix()}")

    @r.post("/queue/dispatch", dependencies=csrf)
    def bulk_dispatch(
        request: Request,
        viewer: ReviewerViewer,
        ids: Annotated[list[int], Form()] = [],  # noqa: B006
        department: Annotated[str, Form(max_length=64)] = "",
        due: Annotated[str, Form(max_length=10)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        """A supervisor dispatches every ticked confirmed case to one department with one deadline."""
        view = view_of(request, viewer)
        t = translator(request.state.lang)
        if not viewer.can("supervisor"):
            raise HTTPException(403, "err.403")
        back = _see_other(f"/queue{view.suffix()}")
        if not ids:
            flash(request, t("queue.bulk_none"), "error")
            return back
        when = _due(due)
        if not department.strip() or when is False:
            flash(
                request, t("err.dispatch_department" if not department.strip() else "err.bad_date"), "error"
            )
            return back
        done, failed = 0, []
        req = ActionRequest("dispatch", note, None, None, department, when or None)
        for case_id in ids[:500]:
            try:
                with unit_of_work(db(request)) as s:
                    act(s, case_id, viewer, req, lease_s=request.app.state.settings.lease_s)
                done += 1
            except CaseError as err:
                failed.append(f"#{case_id} {_error_text(request, err)}")
        if failed:
            flash(request, t("queue.bulk_failed", n=len(failed), why="；".join(failed[:5])), "error")
        else:
            flash(request, t("queue.bulk_done", n=done))
        return back

    @r.get("/cases/{case_id}")
    def case_page(request: Request, case_id: int, viewer: ReviewerViewer) -> Response:
        _known_id(case_id)
        return _case_page(request, case_id, viewer, view_of(request, viewer))

    @r.post("/cases/{case_id}/act", dependencies=csrf)
    def case_act(
        request: Request,
        case_id: int,
        viewer: ReviewerViewer,
        action: Annotated[str, Form(max_length=32)],
        note: Annotated[str, Form(max_length=2000)] = "",
        preset: Annotated[str, Form(max_length=2)] = "",
        of: Annotated[str, Form(max_length=12)] = "",
        to_user: Annotated[str, Form(max_length=64)] = "",
        department: Annotated[str, Form(max_length=64)] = "",
        due: Annotated[str, Form(max_length=10)] = "",
        current: Annotated[str, Form(max_length=12)] = "",
        remember: Annotated[str, Form(max_length=1)] = "",
    ) -> Response:
        _known_id(case_id)
        view = view_of(request, viewer)
        t = translator(request.state.lang)
        config = request.app.state.config
        settings = request.app.state.settings
        here = f"/cases/{case_id}{view.suffix()}"
        least = ACTION_ROLES.get(action)
        if least is not None and not viewer.can(least):
            raise HTTPException(403, "err.403")
        if action == "reject":
            reasons = config.presets.reject_reasons
            chosen = reasons[int(preset) - 1] if preset.isdigit() and 0 < int(preset) <= len(reasons) else ""
            note = "：".join(x for x in (chosen, note.strip()) if x)
            if not note:
                flash(request, t("act.reason_needed"), "error")
                return _see_other(here + ("&" if view.query else "?") + "focus=reason")
        when = _due(due)
        if action == "dispatch" and (
            when is False or (config.presets.departments and not department.strip())
        ):
            flash(request, t("err.bad_date" if when is False else "err.dispatch_department"), "error")
            return _see_other(here)
        req = ActionRequest(
            action,
            note,
            _case_number(of),
            to_user,
            department,
            when or None,
        )
        try:
            with unit_of_work(db(request)) as s:
                case = act(s, case_id, viewer, req, lease_s=settings.lease_s, undo_s=config.presets.undo_s)
                status = case.status
        except ActionForbidden as err:
            raise HTTPException(403, "err.403") from err
        except (lifecycle.CaseChanged, lifecycle.HeldByOther) as err:
            # the loser of a race: the case as it is now, with why, under 409
            return _case_page(request, case_id, viewer, view, status=409, error=_error_text(request, err))
        except CaseError as err:
            flash(request, t("act.failed", why=_error_text(request, err)), "error")
            return _see_other(here)
        also = (
            _remember_legal(request, case_id, viewer, note) if action == "reject" and remember == "1" else ""
        )
        if action in VERDICTS:
            session_state(request)["undo"] = {"id": case_id, "at": lifecycle.utcnow().isoformat()}
            request.state.session_changed = True
            shown = t("status." + status)
            next_id = _claim_next(request, view, viewer)
            if next_id is None:
                flash(request, t("verdict.last", id=case_id, s=shown) + also)
                return _see_other(f"/queue{view.suffix()}")
            with db(request)() as s:
                left = queries.claimable_left(s, view.filter)
            flash(request, t("verdict.done", id=case_id, s=shown, n=left) + also)
            return _see_other(f"/cases/{next_id}{view.suffix()}")
        if action == "undo":
            session_state(request).pop("undo", None)
            request.state.session_changed = True
            if current.isdigit() and int(current) != case_id:
                _release_if_mine(request, int(current), viewer)
            flash(request, t("undo.done", id=case_id))
            return _see_other(here)
        if action == "reopen_review":
            flash(request, t("reopen.done", id=case_id))
            return _see_other(here)
        flash(request, t("act.done", id=case_id, s=t("status." + status)))
        return _see_other(here)

    def map_filter(request: Request, view: QueueView) -> queries.QueueFilter:
        shown = view.filter
        if not request.query_params.get("status"):
            shown = dataclasses.replace(shown, statuses=queries.MAP_DEFAULT)
        if not request.query_params.get("evidence"):
            shown = dataclasses.replace(shown, evidence="all")  # the map shows weak cases too, unless asked
        return dataclasses.replace(shown, sort="priority", page=0)  # neither changes which points

    # The points come from /map/points, not inside the page: built once per state of the cases table and
    # cached (with its gzip), so neither the page nor a repeat visit pays for 20,000 rows.
    @r.get("/map")
    def map_page(request: Request, viewer: ReviewerViewer) -> Response:
        config = request.app.state.config
        view = view_of(request, viewer)
        shown = map_filter(request, view)
        with db(request)() as s:
            n_points = queries.count(s, shown)
            footprints, flights = queries.flight_footprints(s, view.filter.flight_id, config.tile_datum)
            classes = queries.classes(s)
        t = translator(request.state.lang)
        words = {
            "states": {st: t("status." + st) for st in lifecycle.STATES},
            "classes": {c: t("class." + c) for c in classes},
            "cluster": t("map.cluster"),
            "footprints": t("map.footprints"),
            "cases": t("map.cases"),
            "count": t("map.count", n="{n}"),
            "failed": t("map.failed"),
        }
        ctx = {
            "map_json": _script_json(_map_config(config, None)),
            "points_url": f"/map/points{view.suffix()}",
            "footprints_json": _script_json(footprints),
            "words_json": _script_json(words),
            "n_points": n_points,
            "footprint_flights": flights,
            "n_footprints": len(footprints),
            "view": view,
            "f": view.filter,
            "status_value": status_param(view.filter),
            "q": {k: view.values.get(k, "") for k in ("class", "flight", "since", "until")},
            "classes": classes,
            "request_status": "status" in request.query_params,
        }
        return render(request, "map.html", ctx)

    @r.get("/map/points")
    def map_points(request: Request, viewer: ReviewerViewer) -> Response:
        shown = map_filter(request, view_of(request, viewer))
        with db(request)() as s:
            body = map_cache.body(s, shown, request.app.state.config.tile_datum)
        zipped = "gzip" in request.headers.get("accept-encoding", "")
        etag = body.etag[:-1] + ('-gz"' if zipped else '"')
        # Private (it needs a signed-in reviewer) and revalidated each time: a 304 while no case changed.
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding, Cookie"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if zipped:
            headers["Content-Encoding"] = "gzip"
        content = body.gzipped if zipped else body.plain
        return Response(content, media_type="application/json", headers=headers)

    @r.get("/files/{rel:path}", dependencies=[reviewer])
    def data_file(request: Request, rel: str) -> Response:
        target = under_root(request.app.state.settings.data_root, rel)
        if target is None or rel.startswith("/"):
            raise HTTPException(404, "err.404")
        return serve_file(target)

    return r


def _tz(request: Request) -> str:
    tz: str = request.app.state.settings.local_tz
    return tz


def _default_due(request: Request) -> str:
    days = request.app.state.config.presets.deadline_days
    return (datetime.now(ZoneInfo(_tz(request))).date() + timedelta(days=days)).isoformat()


def _due(text: str) -> date | Literal[False] | None:
    """A deadline day from a form: None when empty, False when not a date."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return False


def _error_text(request: Request, err: CaseError) -> str:
    with db(request)() as s:
        names = queries.display_names(s)
    tz = _tz(request)
    return wording.case_error(err, request.state.lang, names, lambda v: local_text(v, tz))  # type: ignore[arg-type]


def _claim_next(request: Request, view: QueueView, viewer: Viewer) -> int | None:
    """Claim the first case of the view; a race lost to another claimer is simply tried again."""
    lease_s = request.app.state.settings.lease_s
    for _ in range(3):
        try:
            with unit_of_work(db(request)) as s:
                case = queries.claim_next(s, view.filter, viewer.name, lease_s=lease_s)
                return case.id if case else None
        except lifecycle.CaseChanged:
            continue
    return None


def _release_if_mine(request: Request, case_id: int, viewer: Viewer) -> None:
    with contextlib.suppress(CaseError), unit_of_work(db(request)) as s:
        case = s.get(Case, case_id)
        if case is not None and case.status == lifecycle.IN_REVIEW and case.claimed_by == viewer.name:
            lifecycle.release(s, case_id, viewer.name)


def _holder(case: Case, viewer: Viewer, now: datetime) -> str:
    """Whose the case is now: mine, other (a live claim of someone else), lapsed, or free."""
    if case.status != lifecycle.IN_REVIEW or not case.claimed_by:
        return "free"
    if case.lease_expires_at is not None and case.lease_expires_at <= now:
        return "lapsed"
    return "mine" if case.claimed_by == viewer.name else "other"


def _case_page(
    request: Request,
    case_id: int,
    viewer: Viewer,
    view: QueueView,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    settings = request.app.state.settings
    config = request.app.state.config
    root = settings.data_root
    tz = _tz(request)
    now = lifecycle.utcnow()
    with db(request)() as s:
        try:
            case = get_case(s, case_id)
        except CaseError as err:
            raise HTTPException(404, "err.404") from err
        detail = case_detail(s, case_id)
        c = case_view(case)
        box = queries.best_box(s, case)
        near = queries.nearby(s, case)
        sightings = queries.case_sightings(s, case_id)
        names = queries.display_names(s)
        reviewers = [
            u.name
            for u in s.scalars(select(User).order_by(User.name))
            if RANK.get(u.role, 0) >= RANK["reviewer"] and not u.disabled
        ]
        holder = _holder(case, viewer, now)
        left = queries.claimable_left(s, view.filter)
        undo_ev = lifecycle.undoable(s, case, viewer.name, config.presets.undo_s, now)
        pending_undo = _pending_undo(request, s, viewer, config.presets.undo_s, now, case_id)
        dispatch_note = queries.last_dispatch(s, case_id)
        ev = evidence_summary(s, case, root)
        lease = case.lease_expires_at
    lang = request.state.lang
    t = translator(lang)
    for row in sightings:
        row["evidence_url"] = file_url(root, row["evidence_path"])
        row["frame_url"] = file_url(root, row["frame_path"])
        row["file"] = wording.file_name(row["frame_path"])
        row["when"] = local_text(row["seen_at"], tz)
    best = next((x for x in sightings if x["box"] == box), sightings[0] if sightings else None)
    events = [
        {
            **e,
            "when": local_text(e["at"], tz),
            "who": wording.actor_text(e["actor"], names, t),
            "what": t("action." + e["action"]),
            "note_shown": wording.note_text(e["note"], lang),
        }
        for e in detail["events"]
    ]
    shown = geo.wgs84_to_gcj02(c.lat, c.lon) if config.tile_datum == "gcj02" else (c.lat, c.lon)
    near_points = [
        {"id": v.id, "lat": lat, "lon": lon, "d": round(d)}
        for v, d in near
        for lat, lon in [geo.wgs84_to_gcj02(v.lat, v.lon) if config.tile_datum == "gcj02" else (v.lat, v.lon)]
    ]
    ctx = {
        "c": c,
        "d": detail,
        "box": box,
        "best": best,
        "sightings": sightings,
        "evidence_url": file_url(root, c.evidence_path),
        "frame_url": file_url(root, c.frame_path),
        "frame_file": wording.file_name(c.frame_path),
        "nearby": [(v, d, file_url(root, v.evidence_path)) for v, d in near],
        "reviewers": reviewers,
        "events": events,
        "not_seen": [e for e in events if e["action"] == "not_seen"],
        "holder": holder,
        "holder_name": names.get(case.claimed_by or "", case.claimed_by or ""),
        "lease_text": local_text(lease, tz),
        "lease_iso": lease.isoformat() if lease else "",
        "lease_min": max(0, int(((lease - now).total_seconds() + 59) // 60)) if lease else 0,
        "mine": holder == "mine",
        "can_decide": holder != "other" and c.status in (lifecycle.NEW, lifecycle.IN_REVIEW),
        "view": view,
        "left": left,
        "presets": config.presets.reject_reasons,
        "departments": config.presets.departments,
        "default_due": _default_due(request),
        "undo_here": undo_ev is not None,
        "pending_undo": pending_undo,
        "dispatch_note": dispatch_note,
        "focus": request.query_params.get("focus") == "reason",
        "error": error,
        "first_seen": local_text(c.first_seen, tz),
        "last_seen": local_text(c.last_seen, tz),
        "map_json": _script_json(_map_config(config, [shown[0], shown[1]], near_points)),
        "ev": ev,
        "ev_area_first": "" if case.area_first_m2 is None else f"{case.area_first_m2:.0f}",
    }
    return render(request, "case.html", ctx, status)


def _case_number(text: str) -> int | None:
    """A case id typed in a form (ASCII digits within the database's range), else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_CASE_ID else None


def _known_id(case_id: int) -> None:
    """A case id beyond the database's 32-bit column names no case: a 404, not an overflow (a 500)."""
    if not 1 <= case_id <= MAX_CASE_ID:
        raise HTTPException(404, "err.404")


def _remember_legal(request: Request, case_id: int, viewer: Viewer, reason: str) -> str:
    """A rejection as legal, remembered: the case's ground becomes an exclusion zone for its class. The
    words to add to the verdict's message."""
    t = translator(request.state.lang)
    try:
        with unit_of_work(db(request)) as s:
            zone = zones.remember_case(s, get_case(s, case_id), viewer.name, reason, lifecycle.utcnow())
            zone_id = zone.id
    except CaseError as err:
        return " · " + t("act.failed", why=_error_text(request, err))
    return " · " + t("case.remembered", id=zone_id)


def _pending_undo(
    request: Request, s: Session, viewer: Viewer, window_s: int, now: datetime, here: int
) -> int | None:
    """The case of this reviewer's last verdict (kept in the session) if it may still be undone."""
    last = session_state(request).get("undo")
    if not isinstance(last, dict) or not isinstance(last.get("id"), int) or last["id"] == here:
        return None
    case = s.get(Case, last["id"])
    if case is None or lifecycle.undoable(s, case, viewer.name, window_s, now) is None:
        return None
    return case.id


def _map_config(
    config: object, centre: list[float] | None, nearby: list[dict[str, Any]] | None = None
) -> dict[str, object]:
    from pipeline.review.config import ReviewConfig

    assert isinstance(config, ReviewConfig)
    return {
        "tiles": config.tile_url,
        "subdomains": config.tile_subdomains,
        "attribution": config.tile_attribution,
        "datum": config.tile_datum,
        "centre": centre,
        "nearby": nearby or [],
    }


def _script_json(value: object) -> str:
    """JSON for a <script type="application/json"> block: no `<` so that no text can close the tag."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
