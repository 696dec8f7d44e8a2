"""Open311 GeoReport v2 read handlers (services, requests, one request, its picture), in JSON and XML.

`open311_router(...)` returns a FastAPI APIRouter; the review app mounts it (e.g. under /open311/v2). Only
cases staff have confirmed are public: new, in-review, rejected and duplicate cases stay inside.

The API is public, so every parameter is checked here, at the edge, and a bad one is a 400 naming it, never
a database error: no control characters (PostgreSQL refuses NUL bytes in text), ids in ASCII digits and
within the database's 32-bit integers, dates between 1970 and 9998 with a real time zone (at most 14 hours
from UTC, as the world's zones are), `page` and `page_size` bounded. XML answers stay well-formed whatever
a stored text holds: characters XML 1.0 cannot carry become U+FFFD. `media_url` points at this router's
`/requests/{id}/media.jpg`, which serves a public case's evidence crop (a JPEG by its bytes, nothing else).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.categories import CategoryConfig
from pipeline.cases.lifecycle import CLOSED, CONFIRMED, DISPATCHED, RESOLVED
from pipeline.cases.models import Case
from pipeline.cases.payloads import request_record

PUBLIC_STATES = (CONFIRMED, DISPATCHED, RESOLVED, CLOSED)
# GeoReport v2 status -> our states behind it
_STATUS_FILTER = {"open": (CONFIRMED, DISPATCHED, RESOLVED), "closed": (CLOSED,)}
_SPEC_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
MAX_ID = 2**31 - 1  # case ids are 32-bit integers in the database
MAX_IDS = 100  # ids in one service_request_id list
MAX_PARAM_CHARS = 2000
MAX_PAGE = 1_000_000
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
MAX_OFFSET = timedelta(hours=14)  # Kiribati's +14:00 is the world's farthest zone
_ID = re.compile(r"[0-9]{1,20}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What XML 1.0 cannot hold: C0 controls but tab/newline/return, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
MEDIA_CSP = "sandbox; default-src 'none'; img-src 'self'"


class Open311Error(Exception):
    def __init__(self, http_status: int, description: str) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.description = description


def xml_text(value: object) -> str:
    """`value` as text XML 1.0 can carry (what it cannot becomes U+FFFD)."""
    return _NOT_XML.sub("\ufffd", str(value))


def _xml(root_tag: str, item_tag: str, items: Sequence[dict[str, Any]]) -> bytes:
    root = ET.Element(root_tag)
    for item in items:
        el = ET.SubElement(root, item_tag)
        for key, value in item.items():
            child = ET.SubElement(el, key)
            if isinstance(value, list | tuple):
                for v in value:
                    ET.SubElement(child, key.rstrip("s") or "item").text = xml_text(v)
            elif isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = xml_text(value)
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


def _respond(
    fmt: str, root_tag: str, item_tag: str, items: list[dict[str, Any]], status: int = 200
) -> Response:
    if fmt == "xml":
        return Response(_xml(root_tag, item_tag, items), status, media_type="text/xml; charset=utf-8")
    return JSONResponse(items, status)


def _error(fmt: str, err: Open311Error) -> Response:
    body = [{"code": err.http_status, "description": err.description}]
    return _respond("xml" if fmt == "xml" else "json", "errors", "error", body, err.http_status)


def _check_format(fmt: str) -> None:
    if fmt not in ("json", "xml"):
        raise Open311Error(404, f"unknown response format {_shown(fmt)}: use .json or .xml")


def _shown(text: str, limit: int = 40) -> str:
    """A caller's text quoted for an error message: escaped, and cut short."""
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def check_text(text: str | None, name: str) -> str | None:
    """A parameter as given, or Open311Error 400 when it is too long or holds control characters."""
    if text is None:
        return None
    if len(text) > MAX_PARAM_CHARS:
        raise Open311Error(400, f"{name} is longer than {MAX_PARAM_CHARS} characters")
    if _CONTROL.search(text):
        raise Open311Error(400, f"{name} holds control characters")
    return text


def parse_id(text: str, name: str = "service_request_id") -> int | None:
    """A request id: ASCII digits only (not '١٢' or '²'); None for a well-formed id no case can have."""
    if not _ID.fullmatch(text):
        raise Open311Error(400, f"{name} must be a number of at most 20 ASCII digits, not {_shown(text)}")
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def parse_date(text: str | None, name: str) -> datetime | None:
    """A W3C date-time (a date alone is midnight UTC) within 1970-9998 and with a real zone offset."""
    if not check_text(text, name):
        return None
    assert text is not None
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a W3C date-time: {_shown(text)}") from None
    offset = dt.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise Open311Error(400, f"{name} has a time zone {offset} from UTC: no zone is more than 14 hours")
    try:
        when = dt.replace(tzinfo=UTC) if offset is None else dt.astimezone(UTC)
    except OverflowError:
        when = None
    if when is None or not EARLIEST <= when < LATEST:
        raise Open311Error(400, f"{name} must lie between 1970 and 9998, not {_shown(text)}")
    return when


def parse_bounded(text: str | None, name: str, default: int, high: int) -> int:
    if not check_text(text, name):
        return default
    assert text is not None
    if not _ID.fullmatch(text) or not 1 <= int(text) <= high:
        raise Open311Error(400, f"{name} must be a whole number from 1 to {high}, not {_shown(text)}")
    return int(text)


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else []


def open311_router(
    sessions: sessionmaker[Session],
    categories: CategoryConfig,
    *,
    media_base_url: str | None = None,
    data_root: Path | None = None,
    max_results: int = 1000,
    default_days: int = 90,
) -> APIRouter:
    """`data_root` is where evidence crops lie: without it `media.jpg` answers 404 (and so does any case
    whose crop is not a JPEG inside it)."""
    router = APIRouter(tags=["open311"])

    def services() -> list[dict[str, Any]]:
        return [
            {
                "service_code": c.service_code,
                "service_name": c.service_name,
                "description": c.description,
                "metadata": False,
                "type": "realtime",
                "keywords": ",".join(c.keywords),
                "group": c.category,
            }
            for c in categories.categories
        ]

    @router.get("/services.{fmt}")
    def list_services(fmt: str) -> Response:
        try:
            _check_format(fmt)
        except Open311Error as err:
            return _error(fmt, err)
        return _respond(fmt, "services", "service", services())

    @router.get("/services/{service_code}.{fmt}")
    def service_definition(service_code: str, fmt: str) -> Response:
        try:
            _check_format(fmt)
            check_text(service_code, "service_code")
            if categories.by_service_code(service_code) is None:
                raise Open311Error(404, f"no service {_shown(service_code)}")
        except Open311Error as err:
            return _error(fmt, err)
        return _respond(
            fmt,
            "service_definitions",
            "service_definition",
            [{"service_code": service_code, "attributes": []}],
        )

    @router.get("/requests.{fmt}")
    def list_requests(
        fmt: str,
        service_request_id: str | None = Query(None),
        service_code: str | None = Query(None),
        start_date: str | None = Query(None),
        end_date: str | None = Query(None),
        status: str | None = Query(None),
        jurisdiction_id: str | None = Query(None),  # one jurisdiction: accepted and ignored
        page: str | None = Query(None, description=f"1-based, at most {MAX_PAGE}"),
        page_size: str | None = Query(None, description=f"1 to {max_results} (default {max_results})"),
    ) -> Response:
        try:
            _check_format(fmt)
            for name, value in (
                ("service_request_id", service_request_id),
                ("service_code", service_code),
                ("status", status),
                ("jurisdiction_id", jurisdiction_id),
            ):
                check_text(value, name)
            number = parse_bounded(page, "page", 1, MAX_PAGE)
            size = parse_bounded(page_size, "page_size", max_results, max_results)
            query = (
                select(Case).where(Case.status.in_(PUBLIC_STATES)).order_by(Case.created_at.desc(), Case.id)
            )
            ids = _split(service_request_id)
            if ids:
                # The spec: with service_request_id, every other parameter is ignored.
                if len(ids) > MAX_IDS:
                    raise Open311Error(400, f"service_request_id lists more than {MAX_IDS} ids")
                wanted = [i for i in (parse_id(text) for text in ids) if i is not None]
                query = query.where(Case.id.in_(wanted))
            else:
                codes = _split(service_code)
                if codes:
                    query = query.where(Case.service_code.in_(codes))
                states: list[str] = []
                for s in _split(status):
                    if s not in _STATUS_FILTER:
                        raise Open311Error(400, f"status must be open or closed, not {_shown(s)}")
                    states.extend(_STATUS_FILTER[s])
                if states:
                    query = query.where(Case.status.in_(states))
                start = parse_date(start_date, "start_date")
                end = parse_date(end_date, "end_date")
                if start is None and end is None:
                    start = datetime.now(UTC) - timedelta(days=default_days)
                if start is not None:
                    query = query.where(Case.created_at >= start)
                if end is not None:
                    query = query.where(Case.created_at <= end)
            with sessions() as session:
                rows = session.scalars(query.offset((number - 1) * size).limit(size)).all()
                items = [_spec_only(request_record(c, media_base_url)) for c in rows]
        except Open311Error as err:
            return _error(fmt, err)
        return _respond(fmt, "service_requests", "request", items)

    def public_case(session: Session, request_id: str) -> Case:
        check_text(request_id, "request id")
        number = parse_id(request_id, "request id")
        case = session.get(Case, number) if number is not None else None
        if case is None or case.status not in PUBLIC_STATES:
            raise Open311Error(404, f"no service request {_shown(request_id)}")
        return case

    @router.get("/requests/{request_id}.{fmt}")
    def one_request(request_id: str, fmt: str) -> Response:
        try:
            _check_format(fmt)
            with sessions() as session:
                items = [_spec_only(request_record(public_case(session, request_id), media_base_url))]
        except Open311Error as err:
            return _error(fmt, err)
        return _respond(fmt, "service_requests", "request", items)

    @router.get("/requests/{request_id}/media.jpg")
    def media(request_id: str) -> Response:
        """The evidence crop of a public case: what `media_url` points at."""
        try:
            with sessions() as session:
                stored = public_case(session, request_id).evidence_path
            target = evidence_jpeg(data_root, stored)
            if target is None:
                raise Open311Error(404, f"service request {_shown(request_id)} has no picture")
        except Open311Error as err:
            return _error("json", err)
        headers = {
            "Cache-Control": "public, max-age=3600",
            "Content-Security-Policy": MEDIA_CSP,
            "X-Content-Type-Options": "nosniff",
        }
        return FileResponse(target, media_type="image/jpeg", headers=headers)

    return router


def evidence_jpeg(data_root: Path | None, stored: str | None) -> Path | None:
    """The crop `stored` names if it is a JPEG (by its bytes) inside the data root, after links; else None."""
    from pipeline.filekinds import JPEG, classify_file

    if data_root is None or not stored or "\x00" in stored:
        return None
    root = data_root.resolve()
    path = Path(stored)
    try:
        target = (path if path.is_absolute() else root / path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or not target.is_file() or classify_file(target).kind != JPEG:
        return None
    return target


def _spec_only(record: dict[str, Any]) -> dict[str, Any]:
    """The spec's fields first, in its order, then ours; None becomes empty as the spec's examples show."""
    ordered = {k: ("" if record[k] is None else record[k]) for k in _SPEC_FIELDS}
    ordered.update({k: v for k, v in record.items() if k not in ordered})
    return ordered
