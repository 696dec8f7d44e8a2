"""Rendering pages: the template set, the context every page gets, flash messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from pipeline.cases.lifecycle import STATES
from pipeline.review.auth import current_viewer, session_state
from pipeline.review.i18n import translator
from pipeline.review.timefmt import local_text, zone_label
from pipeline.review.wording import file_name, reason_text

TEMPLATES = Path(__file__).with_name("templates")


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.autoescape = True  # every template, whatever its name
    return templates


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A one-off message for the next page (kept in the session cookie, so it survives the redirect)."""
    session_state(request)["flash"] = [kind, message]
    request.state.session_changed = True


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    sess = session_state(request)
    shown = sess.pop("flash", None)
    if shown is not None:
        request.state.session_changed = True
    lang: str = request.state.lang
    templates: Jinja2Templates = request.app.state.templates
    tz: str = request.app.state.settings.local_tz
    base = {
        "lt": lambda value, seconds=False: local_text(value, tz, seconds=seconds),
        "zone": zone_label(tz, lang),
        "reason": lambda text: reason_text(text or "", lang),
        "file_name": file_name,
        "t": translator(lang),
        "lang": lang,
        "viewer": current_viewer(request),
        "csrf": sess.get("csrf", ""),
        "flash": shown,
        "states": STATES,
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
