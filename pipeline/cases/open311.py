"""Open311 GeoReport v2 read handlers (services, requests, one request), in JSON and XML.

`open311_router(...)` returns a FastAPI APIRouter; the review app mounts it (e.g. under /open311/v2). Only
cases staff have confirmed are public: new, in-review, rejected and duplicate cases stay inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
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


class Open311Error(Exception):
    def __init__(self, http_status: int, description: str) -> None:
        super().__init__(description)
        self.http_status = http_status
        self.description = description


def _xml(root_tag: str, item_tag: str, items: Sequence[dict[str, Any]]) -> bytes:
    root = ET.Element(root_tag)
    for item in items:
        el = ET.SubElement(root, item_tag)
        for key, value in item.items():
            child = ET.SubElement(el, key)
            if isinstance(value, list | tuple):
                for v in value:
                    ET.SubElement(child, key.rstrip("s") or "item").text = str(v)
            elif isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = str(value)
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
        raise Open311Error(404, f"unknown response format {fmt!r}: use .json or .xml")


def _parse_date(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as err:
        raise Open311Error(400, f"{name} is not a W3C date-time: {text!r}") from err
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else []


def open311_router(
    sessions: sessionmaker[Session],
    categories: CategoryConfig,
    *,
    media_base_url: str | None = None,
    max_results: int = 1000,
    default_days: int = 90,
) -> APIRouter:
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
            if categories.by_service_code(service_code) is None:
                raise Open311Error(404, f"no service {service_code!r}")
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
    ) -> Response:
        try:
            _check_format(fmt)
            query = (
                select(Case).where(Case.status.in_(PUBLIC_STATES)).order_by(Case.created_at.desc(), Case.id)
            )
            ids = _split(service_request_id)
            if ids:
                # The spec: with service_request_id, every other parameter is ignored.
                if not all(i.isdigit() for i in ids):
                    raise Open311Error(400, "service_request_id must be numbers separated by commas")
                query = query.where(Case.id.in_([int(i) for i in ids]))
            else:
                codes = _split(service_code)
                if codes:
                    query = query.where(Case.service_code.in_(codes))
                states: list[str] = []
                for s in _split(status):
                    if s not in _STATUS_FILTER:
                        raise Open311Error(400, f"status must be open or closed, not {s!r}")
                    states.extend(_STATUS_FILTER[s])
                if states:
                    query = query.where(Case.status.in_(states))
                start = _parse_date(start_date, "start_date")
                end = _parse_date(end_date, "end_date")
                if start is None and end is None:
                    start = datetime.now(UTC) - timedelta(days=default_days)
                if start is not None:
                    query = query.where(Case.created_at >= start)
                if end is not None:
                    query = query.where(Case.created_at <= end)
            with sessions() as session:
                rows = session.scalars(query.limit(max_results)).all()
                items = [_spec_only(request_record(c, media_base_url)) for c in rows]
        except Open311Error as err:
            return _error(fmt, err)
        return _respond(fmt, "service_requests", "request", items)

    @router.get("/requests/{request_id}.{fmt}")
    def one_request(request_id: str, fmt: str) -> Response:
        try:
            _check_format(fmt)
            with sessions() as session:
                case = session.get(Case, int(request_id)) if request_id.isdigit() else None
                if case is None or case.status not in PUBLIC_STATES:
                    raise Open311Error(404, f"no service request {request_id!r}")
                items = [_spec_only(request_record(case, media_base_url))]
        except Open311Error as err:
            return _error(fmt, err)
        return _respond(fmt, "service_requests", "request", items)

    return router


def _spec_only(record: dict[str, Any]) -> dict[str, Any]:
    """The spec's fields first, in its order, then ours; None becomes empty as the spec's examples show."""
    ordered = {k: ("" if record[k] is None else record[k]) for k in _SPEC_FIELDS}
    ordered.update({k: v for k, v in record.items() if k not in ordered})
    return ordered
