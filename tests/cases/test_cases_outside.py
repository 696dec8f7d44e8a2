"""Out to the city: Open311 over HTTP (JSON and XML), the outbox against a real flaky server, GIS exports."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from pipeline import geo
from pipeline.cases import lifecycle
from pipeline.cases.categories import CategoryConfig
from pipeline.cases.exports import to_csv, to_geojson, to_kml
from pipeline.cases.ingest import push_sightings
from pipeline.cases.open311 import open311_router
from pipeline.cases.outbox import push_outbox
from pipeline.cases.views import list_cases
from pipeline.types import Sighting

Sessions = sessionmaker[Session]
T0 = datetime(2026, 10, 6, 1, 0, tzinfo=UTC)


@pytest.fixture
def queue(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> Sessions:
    """Four cases: 1 confirmed shed, 2 closed garbage pile, 3 new shed (internal), 4 rejected (internal)."""
    batch = [
        sighting(0, 0, frame="a", evidence_jpeg=b"crop-1"),
        sighting(100, 0, frame="b", cls="garbage_pile"),
        sighting(200, 0, frame="c"),
        sighting(300, 0, frame="d"),
    ]
    now = datetime.now(UTC)
    with sessions.begin() as s:
        # The shed first: within one push cases are numbered class by class.
        push_sightings(s, batch[:1], categories=categories, data_root=tmp_path, now=now)
        push_sightings(s, batch[1:], categories=categories, data_root=tmp_path, now=now)
        lifecycle.claim_next(s, "wang", now=now)
        lifecycle.confirm(s, 1, "wang", now=now)
        lifecycle.claim_next(s, "wang", now=now)
        lifecycle.confirm(s, 2, "wang", now=now)
        lifecycle.dispatch(s, 2, "li", now=now)
        lifecycle.resolve(s, 2, "li", now=now)
        lifecycle.close(s, 2, "li", note="已清理", now=now)
        lifecycle.reject(s, 4, "wang", "误报")
    return sessions


@pytest.fixture
def client(queue: Sessions, categories: CategoryConfig) -> TestClient:
    app = FastAPI()
    app.include_router(
        open311_router(queue, categories, media_base_url="https://patrol.example/"), prefix="/open311/v2"
    )
    return TestClient(app)


def test_services_json_and_xml(client: TestClient) -> None:
    services = client.get("/open311/v2/services.json").json()
    assert {s["service_code"]: s["service_name"] for s in services} == {
        "0101": "私搭乱建",
        "0102": "暴露垃圾",
    }
    assert all(s["group"] == "市容环境" and s["metadata"] is False for s in services)
    reply = client.get("/open311/v2/services.xml")
    assert reply.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(reply.content)
    assert root.tag == "services"
    assert sorted(el.findtext("service_code") or "" for el in root.iter("service")) == ["0101", "0102"]


def test_requests_show_only_public_cases_with_spec_fields(client: TestClient) -> None:
    items = client.get("/open311/v2/requests.json").json()
    assert sorted(i["service_request_id"] for i in items) == ["1", "2"]
    one = next(i for i in items if i["service_request_id"] == "1")
    for field in (
        "status",
        "service_code",
        "service_name",
        "lat",
        "long",
        "requested_datetime",
        "updated_datetime",
        "media_url",
        "description",
        "status_notes",
        "address",
    ):
        assert field in one
    assert one["status"] == "open" and one["service_code"] == "0101"
    assert one["media_url"] == "https://patrol.example/cases/1/evidence"
    assert one["requested_datetime"].endswith("Z")
    g_lat, g_lon = geo.wgs84_to_gcj02(one["lat"], one["long"])
    assert (one["gcj02_lat"], one["gcj02_lon"]) == pytest.approx((g_lat, g_lon))


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("status=open", ["1"]),
        ("status=closed", ["2"]),
        ("status=open,closed", ["1", "2"]),
        ("service_code=0102", ["2"]),
        ("service_request_id=2,3", ["2"]),  # 3 is not public
        ("start_date=2000-01-01T00:00:00Z&end_date=2000-02-01T00:00:00Z", []),
        ("start_date=2000-01-01T00:00:00Z", ["1", "2"]),
    ],
)
def test_request_filters(client: TestClient, query: str, ids: list[str]) -> None:
    items = client.get(f"/open311/v2/requests.json?{query}").json()
    assert sorted(i["service_request_id"] for i in items) == ids


def test_one_request_json_xml_and_errors(client: TestClient) -> None:
    assert [i["status"] for i in client.get("/open311/v2/requests/2.json").json()] == ["closed"]
    root = ET.fromstring(client.get("/open311/v2/requests/1.xml").content)
    assert root.tag == "service_requests"
    req = root.find("request")
    assert req is not None and req.findtext("service_request_id") == "1" and req.findtext("long")
    missing = client.get("/open311/v2/requests/3.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    bad = client.get("/open311/v2/requests.xml?status=maybe")
    assert bad.status_code == 400 and ET.fromstring(bad.content).tag == "errors"
    assert client.get("/open311/v2/requests.yaml").status_code == 404


# --- the outbox ------------------------------------------------------------------------------------


class Receiver:
    """A city endpoint on 127.0.0.1: fails the first `fail_first` requests, then accepts (once per key)."""

    def __init__(self, fail_first: int, refuse_case: str | None = None) -> None:
        self.fail_first = fail_first
        self.refuse_case = refuse_case  # answer 400 to this case's events, as to a malformed request
        self.requests = 0
        self.accepted: list[dict[str, Any]] = []
        self.keys_accepted: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                if receiver.requests <= receiver.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"down for maintenance")
                    return
                if json.loads(body)["request"]["service_request_id"] == receiver.refuse_case:
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(b"invalid service_code")
                    return
                key = self.headers["Idempotency-Key"]
                if key not in receiver.keys_accepted:
                    receiver.keys_accepted.append(key)
                    receiver.accepted.append(json.loads(body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/requests.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_outbox_survives_an_outage_and_sends_each_event_once(queue: Sessions, receiver: Receiver) -> None:
    clock = [datetime.now(UTC)]
    push = lambda: push_outbox(queue, receiver.url, now_fn=lambda: clock[0], base_backoff_s=30)  # noqa: E731
    # confirm(1), confirm(2), dispatch(2), resolve(2), close(2): five events for the city.
    first = push()
    assert (first.sent, first.failed, first.pending) == (0, 1, 5)
    assert "503" in (first.last_error or "")
    assert push().sent == 0  # backing off: nothing is due yet, the endpoint is not hammered
    clock[0] += timedelta(seconds=31)
    second = push()
    assert (second.sent, second.failed, second.pending) == (0, 1, 5)  # down once more
    clock[0] += timedelta(seconds=61)  # the second backoff doubled
    third = push()
    assert (third.sent, third.failed, third.pending) == (5, 0, 0)
    clock[0] += timedelta(hours=2)
    assert push().sent == 0  # nothing twice once it is back
    assert len(receiver.keys_accepted) == 5 == len(set(receiver.keys_accepted))
    # Per case, events arrive in the order they happened.
    case2 = [m["event"]["action"] for m in receiver.accepted if m["request"]["service_request_id"] == "2"]
    assert case2 == ["confirm", "dispatch", "resolve", "close"]
    assert receiver.accepted[0]["request"]["service_code"] == "0101"


def test_a_refused_message_holds_its_own_case_only(queue: Sessions) -> None:
    from pipeline.cases.outbox import outbox_counts, requeue_rejected

    r = Receiver(fail_first=0, refuse_case="2")
    r.thread.start()
    try:
        # Case 2's confirm is refused: case 1 still goes out, case 2's later events wait behind it.
        report = push_outbox(queue, r.url)
        assert (report.sent, report.failed, report.rejected, report.pending) == (1, 0, 1, 3)
        assert report.last_error is not None and "invalid service_code" in report.last_error
        assert push_outbox(queue, r.url).sent == 0  # not retried on its own, nothing jumps the queue
        with queue() as s:
            assert outbox_counts(s) == {"sent": 1, "rejected": 1, "pending": 3}
        # Fixed on the receiving side: put back in line, case 2 goes out whole and in order.
        r.refuse_case = None
        with queue.begin() as s:
            assert requeue_rejected(s, datetime.now(UTC)) == 1
        again = push_outbox(queue, r.url)
        assert (again.sent, again.rejected, again.pending) == (4, 0, 0)
        case2 = [m["event"]["action"] for m in r.accepted if m["request"]["service_request_id"] == "2"]
        assert case2 == ["confirm", "dispatch", "resolve", "close"]
    finally:
        r.server.shutdown()
        r.server.server_close()


def test_outbox_with_the_endpoint_unreachable_keeps_everything(queue: Sessions) -> None:
    report = push_outbox(queue, "http://127.0.0.1:9/nowhere", timeout_s=1.0)
    assert (report.sent, report.failed, report.pending) == (0, 1, 5)
    assert report.last_error is not None and "Error" in report.last_error


# --- exports ---------------------------------------------------------------------------------------


def test_geojson_csv_kml(queue: Sessions) -> None:
    with queue() as s:
        views = list_cases(s)
    data = json.loads(to_geojson(views))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 4
    f = data["features"][0]
    lon, lat = f["geometry"]["coordinates"]
    props = f["properties"]
    for key in (
        "id",
        "class",
        "category",
        "status",
        "score",
        "first_seen",
        "last_seen",
        "sightings",
        "gcj02_lat",
        "gcj02_lon",
        "amap_url",
    ):
        assert key in props
    assert (props["class"], props["category"], props["status"]) == (
        "illegal_construction",
        "私搭乱建",
        "confirmed",
    )
    assert (props["gcj02_lat"], props["gcj02_lon"]) == pytest.approx(geo.wgs84_to_gcj02(lat, lon))
    assert props["amap_url"].startswith("https://uri.amap.com/marker?position=")
    # GCJ-02 is hundreds of metres off WGS84 around Dongguan: the two must not be confused.
    assert 300 < geo.distance_m(lat, lon, props["gcj02_lat"], props["gcj02_lon"]) < 800

    raw = to_csv(views)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[1]["category"] == "暴露垃圾" and rows[0]["id"] == "1"

    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.fromstring(to_kml(views))
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == 4
    coords = marks[0].findtext("k:Point/k:coordinates", namespaces=ns) or ""
    k_lon, k_lat, _ = (float(v) for v in coords.split(","))
    assert (k_lat, k_lon) == pytest.approx((lat, lon))
    names = {d.get("name") for d in marks[0].findall(".//k:Data", ns)}
    assert {"amap_url", "gcj02_lat", "status"} <= names
