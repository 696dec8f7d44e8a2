"""`create_app(settings)`: the review web app, its middleware, error pages, routers and static files."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.signins import SigninLimits
from pipeline.config import Settings
from pipeline.review import api, pages, uploads, users_pages, zones_pages
from pipeline.review.auth import PilotViewer
from pipeline.review.config import ReviewConfig, review_config
from pipeline.review.i18n import COOKIE as LANG_COOKIE
from pipeline.review.i18n import LANGS, pick_lang, translator
from pipeline.review.security import COOKIE, new_session, sign, unsign
from pipeline.review.web import make_templates, render
from pipeline.review.wording import detail_text
from pipeline.upload import UploadLimits, clean_stale_staging

STATIC = Path(__file__).with_name("static")
_MACHINE_PREFIXES = ("/api/", "/open311/", "/openapi.json")


def _csp(config: ReviewConfig) -> str:
    tiles = f" {config.tile_origin}" if config.tile_origin else ""
    return (
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        f"form-action 'self'; img-src 'self' data: blob:{tiles}; style-src 'self' 'unsafe-inline'"
    )


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(_MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def _install_middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def session_and_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        config: ReviewConfig = request.app.state.config
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > config.max_upload_bytes:
            return PlainTextResponse("request too large", status_code=413)
        raw = request.cookies.get(COOKIE)
        current = unsign(raw, config.secret_key) if raw else None
        request.state.session = current or new_session(None, config.session_hours)
        request.state.session_changed = current is None
        asked = request.query_params.get("lang")
        request.state.lang = pick_lang(asked, request.cookies.get(LANG_COOKIE))
        response = await call_next(request)
        if request.state.session_changed:
            response.set_cookie(
                COOKIE,
                sign(request.state.session, config.secret_key),
                max_age=int(config.session_hours * 3600),
                httponly=True,
                samesite="lax",
                secure=config.cookie_secure,
                path="/",
            )
        if asked in LANGS:
            response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax", path="/")
        response.headers.setdefault("Content-Security-Policy", _csp(config))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if "cache-control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


def _install_errors(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        t = translator(getattr(request.state, "lang", "zh-CN"))
        detail = exc.detail if isinstance(exc.detail, str) else "err.generic"
        lang = getattr(request.state, "lang", "zh-CN")
        if not _wants_html(request):
            message = t(detail) if detail.startswith("err.") else detail
            return JSONResponse({"detail": message}, exc.status_code, headers=exc.headers)
        message = t(detail) if detail.startswith("err.") else detail_text(detail, lang)
        if exc.status_code == 401:
            next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return render(request, "login.html", {"next": next_url, "error": message}, 401)
        return render(request, "error.html", {"status": exc.status_code, "message": message}, exc.status_code)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _wants_html(request):
            return JSONResponse({"detail": exc.errors()}, 422)
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body", "path"))
        t = translator(getattr(request.state, "lang", "zh-CN"))
        return render(request, "error.html", {"status": 422, "message": t("err.422", f=field)}, 422)

    async def crashed(request: Request, exc: Exception) -> Response:
        # The traceback goes to the log; the page says only that it happened (no paths, no internals).
        logging.getLogger("patrol.review").error("unhandled error on %s", request.url.path, exc_info=exc)
        if not _wants_html(request):
            return JSONResponse({"detail": "internal error"}, 500)
        t = translator(getattr(request.state, "lang", "zh-CN"))
        return render(request, "error.html", {"status": 500, "message": t("err.500")}, 500)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, crashed)


def _install_docs(app: FastAPI) -> None:

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(viewer: PilotViewer) -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False)
    def docs(viewer: PilotViewer) -> HTMLResponse:
        # Swagger UI from the vendored copy, started by a script file: no CDN, no inline script.
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>patrol API</title>"
            "<link rel='stylesheet' href='/static/vendor/swagger-ui/swagger-ui.css'></head>"
            "<body><div id='swagger-ui'></div>"
            "<script src='/static/vendor/swagger-ui/swagger-ui-bundle.js'></script>"
            "<script src='/static/docs.js'></script></body></html>"
        )


def create_app(
    settings: Settings,
    config: ReviewConfig | None = None,
    *,
    sessions: sessionmaker[Session] | None = None,
) -> FastAPI:
    """The app over `settings`' database and data root; `config` defaults to the PATROL_* environment."""
    from pipeline.cases.categories import load_categories
    from pipeline.cases.db import open_db
    from pipeline.cases.open311 import open311_router

    config = config or review_config(settings)
    sessions = sessions or open_db(settings.db_url)
    categories = load_categories(settings.categories_path)
    app = FastAPI(
        title="patrol review API",
        description="无人机巡查案件审核 — the case queue for enforcement staff, and the Open311 read API.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.config = config
    app.state.sessions = sessions
    app.state.templates = make_templates()
    app.state.signin_limits = SigninLimits.from_failures(config.login_max_failures, config.login_window_s)
    clean_stale_staging(config.inbox, UploadLimits().stale_staging_s)  # uploads a killed app left behind
    _install_middleware(app)
    _install_errors(app)
    max_files = config.max_upload_files
    app.include_router(pages.router(max_files))
    app.include_router(uploads.router(max_files))
    app.include_router(users_pages.router(max_files))
    app.include_router(zones_pages.router(max_files))
    app.include_router(api.router(max_files))
    # The city's read API is public by design: it shows only cases staff have confirmed.
    app.include_router(
        open311_router(
            sessions, categories, media_base_url=settings.media_base_url, data_root=settings.data_root
        ),
        prefix="/open311/v2",
    )
    _install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
