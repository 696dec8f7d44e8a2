"""Flights: the drone team's uploads (page and API) and the list of uploaded and processed flights."""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import IO, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from pipeline.review import queries
from pipeline.review.auth import PilotViewer, Viewer, csrf_protect, db
from pipeline.review.i18n import translator
from pipeline.review.web import render
from pipeline.review.wording import file_name, reason_text
from pipeline.upload import (
    IncomingFile,
    UploadError,
    UploadLimits,
    UploadReport,
    read_manifests,
    receive_flight,
)


def _opener(upload: UploadFile) -> Any:
    def open_it() -> AbstractContextManager[IO[bytes]]:
        upload.file.seek(0)
        return contextlib.nullcontext(upload.file)

    return open_it


async def _receive(request: Request, viewer: Viewer) -> UploadReport:
    config = request.app.state.config
    form = await request.form(max_files=config.max_upload_files, max_fields=50)
    files = [v for v in form.getlist("files") if isinstance(v, UploadFile)]
    label = form.get("label")
    items = [IncomingFile(f.filename or "unnamed", _opener(f)) for f in files if f.filename or f.size]
    limits = UploadLimits(
        max_files=config.max_upload_files,
        max_total_bytes=config.max_upload_bytes,
        max_pixels=request.app.state.settings.max_pixels,
    )
    # Hashing and copying gigabytes is blocking work: off the event loop.
    return await run_in_threadpool(
        receive_flight,
        items,
        config.inbox,
        label=label if isinstance(label, str) else "",
        uploaded_by=viewer.name,
        limits=limits,
    )


def _visible(request: Request, viewer: Viewer) -> list[dict[str, Any]]:
    manifests = read_manifests(request.app.state.config.inbox)
    if not viewer.can("reviewer"):  # a pilot sees the flights they uploaded
        manifests = [m for m in manifests if m.get("uploaded_by") == viewer.name]
    return manifests


def _refusal(err: UploadError, lang: str) -> str:
    """Why an upload was refused, in the page's language, naming the file (never a server path)."""
    why = reason_text(err.reason, lang)
    return f"{file_name(err.path)}: {why}" if err.path else why


def router(max_files: int) -> APIRouter:
    r = APIRouter()
    csrf = [Depends(csrf_protect(max_files))]

    @r.get("/flights", include_in_schema=False)
    def flights_page(request: Request, viewer: PilotViewer) -> Response:
        processed: list[dict[str, Any]] = []
        uploads = _visible(request, viewer)
        with db(request)() as s:
            if viewer.can("reviewer"):
                processed = queries.processed_flights(s)
            outcomes = queries.flight_outcomes(s, [str(u.get("flight_id", "")) for u in uploads])
        for u in uploads:
            u["outcome"] = outcomes.get(str(u.get("flight_id", "")))
        ctx = {"uploads": uploads, "processed": processed}
        return render(request, "flights.html", ctx)

    @r.get("/upload", include_in_schema=False)
    def upload_page(request: Request, viewer: PilotViewer) -> Response:
        return render(request, "upload.html", {"report": None, "error": None})

    @r.post("/upload", dependencies=csrf, include_in_schema=False)
    async def upload_form(request: Request, viewer: PilotViewer) -> Response:
        try:
            report = await _receive(request, viewer)
        except UploadError as err:
            t = translator(request.state.lang)
            why = _refusal(err, request.state.lang)
            return render(
                request, "upload.html", {"report": None, "error": f"{t('upload.refused')}: {why}"}, 400
            )
        return render(request, "upload.html", {"report": report.as_dict(), "error": None})

    @r.post("/api/uploads", dependencies=csrf, tags=["flights"])
    async def upload_api(request: Request, viewer: PilotViewer) -> Response:
        """Upload one flight: multipart `files` (photos, videos, .SRT, or one zip) and `label`."""
        try:
            report = await _receive(request, viewer)
        except UploadError as err:
            # `detail` as the API always said it; `message` in the page's language, for the upload page
            return JSONResponse({"detail": str(err), "message": _refusal(err, request.state.lang)}, 400)
        body = report.as_dict()
        for r in body["refused"]:  # type: ignore[attr-defined]
            r["reason_shown"] = reason_text(r["reason"], request.state.lang)
        return JSONResponse(body, status_code=201)

    @r.get("/api/flights", tags=["flights"])
    def flights_api(request: Request, viewer: PilotViewer) -> dict[str, Any]:
        processed: list[dict[str, Any]] = []
        if viewer.can("reviewer"):
            with db(request)() as s:
                processed = [
                    {
                        **f,
                        "first_pushed_at": f["first_pushed_at"].isoformat(),
                        "last_pushed_at": f["last_pushed_at"].isoformat(),
                    }
                    for f in queries.processed_flights(s)
                ]
        return {"uploads": _visible(request, viewer), "processed": processed}

    return r
