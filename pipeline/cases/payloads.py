"""What a case looks like to the outside: Open311 GeoReport v2 request records and outbox payloads.

Field names follow GeoReport v2 (`service_request_id`, `status`, `service_code`, `lat`, `long`,
`requested_datetime`, `updated_datetime`, `media_url`, ...); fields the spec does not have carry a `patrol_`
prefix or are the display coordinates every export carries (`gcj02_lat`, `gcj02_lon`, `amap_url`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline import geo
from pipeline.cases.models import Case, CaseEvent

# GeoReport v2 knows only "open" and "closed"; the finer state travels as `patrol_status`.
_CLOSED_STATES = frozenset({"closed", "rejected", "duplicate"})
# What the public reads as `status_notes`: a fixed line per state. Reviewers' notes are internal (they name
# people, addresses, suspicions) and are never published; the outbox event carries them to the city system.
PUBLIC_NOTES = {
    "confirmed": "已核实，待派遣处置",
    "dispatched": "已派遣处置",
    "resolved": "已处置，待结案",
    "closed": "已结案",
}


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the zone, as GeoReport v2 requires (UTC, `Z`)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def open311_status(status: str) -> str:
    return "closed" if status in _CLOSED_STATES else "open"


def media_url(case: Case, media_base_url: str | None) -> str | None:
    """The public evidence crop (pipeline.cases.open311 serves it; the review app mounts that router under
    /open311/v2)."""
    if not media_base_url or not case.evidence_path:
        return None
    return f"{media_base_url.rstrip('/')}/open311/v2/requests/{case.id}/media.jpg"


def describe(case: Case) -> str:
    name = case.service_name or case.class_name
    return (
        f"无人机巡查发现{name}：{case.sightings_count} 次目击（{case.flights_count} 次飞行），"
        f"置信度 {case.score:.2f}"
    )


def request_record(case: Case, media_base_url: str | None = None) -> dict[str, Any]:
    g_lat, g_lon = geo.wgs84_to_gcj02(case.lat, case.lon)
    return {
        "service_request_id": str(case.id),
        "status": open311_status(case.status),
        "status_notes": PUBLIC_NOTES.get(case.status, ""),
        "service_name": case.service_name or case.class_name,
        "service_code": case.service_code,
        "description": describe(case),
        "agency_responsible": "",
        "service_notice": "",
        "requested_datetime": iso(case.created_at),
        "updated_datetime": iso(case.updated_at),
        "expected_datetime": None,
        "address": "",
        "address_id": "",
        "zipcode": "",
        "lat": case.lat,
        "long": case.lon,
        "media_url": media_url(case, media_base_url),
        "patrol_status": case.status,
        "patrol_category": case.category,
        "patrol_class": case.class_name,
        "gcj02_lat": g_lat,
        "gcj02_lon": g_lon,
        "amap_url": geo.amap_url(case.lat, case.lon, f"案件 {case.id}"),
    }


def outbox_payload(case: Case, event: CaseEvent, key: str) -> dict[str, Any]:
    """A snapshot taken in the transaction that changed the case: what the receiver gets, exactly once."""
    return {
        "idempotency_key": key,
        "event": {
            "action": event.action,
            "from_status": event.from_status,
            "to_status": event.to_status,
            "actor": event.actor,
            "at": iso(event.at),
            "note": event.note,
        },
        "request": request_record(case),
    }
