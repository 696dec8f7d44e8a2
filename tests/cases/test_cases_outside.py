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
# A reviewer's note: internal, and full of what XML 1.0 cannot carry (PostgreSQL refuses only NUL in text).
INTERNAL_NOTE = "户主张三，电话 138xxxx \x01\x08\x1b[31m </status_notes> \ufffe"
# A real 16 x 12 JPEG, as the pipeline writes evidence crops.
CROP = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c19"
    "12130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b08"
    "000c001001011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b51000"
    "02010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f0"
    "2433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768"
    "696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3"
    "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00f9"
    "fe8a28a00fffd9"
)


@pytest.fixture
def queue(
    sessions: Sessions, categories: CategoryConfig, tmp_path: Path, sighting: Callable[..., Sighting]
) -> Sessions:
    """Four cases: 1 confirmed shed, 2 closed garbage pile, 3 new shed (internal), 4 rejected (internal)."""
    batch = [
        sighting(0, 0, frame="a", evidence_jpeg=CROP),
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
        lifecycle.confirm(s, 1, "wang", note=INTERNAL_NOTE, now=now)
        lifecycle.claim_next(s, "wang", now=now)
        lifecycle.confirm(s, 2, "wang", now=now)
        lifecycle.dispatch(s, 2, "li", now=now)
        lifecycle.resolve(s, 2, "li", now=now)
        lifecycle.close(s, 2, "li", note="已清理", now=now)
        lifecycle.reject(s, 4, "wang", "误报")
    return sessions


@pytest.fixture
def client(queue: Sessions, categories: CategoryConfig, tmp_path: Path) -> TestClient:
    app = FastAPI()
    app.include_router(
        open311_router(queue, categories, media_base_url="https://patrol.example/", data_root=tmp_path),
        prefix="/open311/v2",
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
    assert one["media_url"] == "https://patrol.example/open311/v2/requests/1/media.jpg"
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


# Issue 11's bad requests to the public API: one row each, the answer named (a 4xx naming the parameter,
# never a 500), on SQLite and PostgreSQL. (row, URL, status, words of the description or None)
OPEN311_ROWS = [
    ("NUL byte in service_code", "/requests.json?service_code=01%0001", 400, "service_code holds control"),
    ("NUL byte in status", "/requests.json?status=open%00", 400, "status holds control characters"),
    ("NUL byte in the request id", "/requests/1%00.json", 400, "request id holds control characters"),
    ("NUL byte in a service code path", "/services/01%0001.json", 400, "service_code holds control"),
    ("page=10^17", "/requests.json?page=100000000000000000", 400, "page must be a whole number from 1"),
    ("page=0", "/requests.json?page=0", 400, "page must be a whole number from 1"),
    ("page=-1", "/requests.json?page=-1", 400, "page must be a whole number"),
    ("page_size=10^9", "/requests.json?page_size=1000000000", 400, "page_size must be a whole number"),
    ("page far past the last", "/requests.json?page=999999", 200, None),
    ("id = 2^31", "/requests/2147483648.json", 404, "no service request"),
    ("id = 2^63", "/requests/9223372036854775808.json", 404, "no service request"),
    ("id of 40 digits", f"/requests/{'9' * 40}.json", 400, "ASCII digits"),
    ("ids >= 2^31 in a list", "/requests.json?service_request_id=1,2147483648", 200, None),
    ("id 0", "/requests/0.json", 404, "no service request"),
    ("Arabic-Indic digits as the id", "/requests/%D9%A1.json", 400, "ASCII digits"),
    ("superscript two as the id", "/requests/%C2%B2.json", 400, "ASCII digits"),
    ("fullwidth digits in a list", "/requests.json?service_request_id=%EF%BC%91", 400, "ASCII digits"),
    ("101 ids in a list", "/requests.json?service_request_id=" + ",".join(["1"] * 101), 400, "more than 100"),
    ("start_date=0001-01-01", "/requests.json?start_date=0001-01-01", 400, "between 1970 and 9998"),
    ("end_date=9999-12-31", "/requests.json?end_date=9999-12-31", 400, "between 1970 and 9998"),
    (
        "end_date=9999-12-31T23:59:59-14:00 (past datetime's range in UTC)",
        "/requests.json?end_date=9999-12-31T23:59:59-14:00",
        400,
        "between 1970 and 9998",
    ),
    ("start_date=0001-01-01T00:00+14:00", "/requests.json?start_date=0001-01-01T00:00%2B14:00", 400, "1970"),
    ("time zone +23:59", "/requests.json?start_date=2024-01-01T00:00%2B23:59", 400, "no zone is more than"),
    ("time zone -99:00", "/requests.json?start_date=2024-01-01T00:00-99:00", 400, "not a W3C date-time"),
    ("date that is not a date", "/requests.json?start_date=2024-13-45", 400, "not a W3C date-time"),
    ("a 3000-character filter", "/requests.json?service_code=" + "x" * 3000, 400, "longer than 2000"),
    ("unknown status", "/requests.json?status=maybe", 400, "status must be open or closed"),
    ("unknown format", "/requests.yaml", 404, "unknown response format"),
]


@pytest.mark.parametrize(("row", "url", "status", "says"), OPEN311_ROWS, ids=[r[0] for r in OPEN311_ROWS])
def test_open311_bad_requests_are_4xx(
    client: TestClient, row: str, url: str, status: int, says: str | None
) -> None:
    reply = client.get("/open311/v2" + url)
    assert reply.status_code == status, (row, reply.text)
    if says is not None:
        [error] = reply.json()
        assert error["code"] == status and says in error["description"], (row, error)
        assert len(error["description"]) < 200  # a caller's text is cut short, never echoed whole
    if ".json" in url:
        xml = client.get("/open311/v2" + url.replace(".json", ".xml"))
        assert xml.status_code == status and ET.fromstring(xml.content) is not None


def test_pages_split_the_list(client: TestClient) -> None:
    first = client.get("/open311/v2/requests.json?page_size=1").json()
    second = client.get("/open311/v2/requests.json?page_size=1&page=2").json()
    both = client.get("/open311/v2/requests.json").json()
    assert [i["service_request_id"] for i in first + second] == [i["service_request_id"] for i in both]
    assert len(both) == 2


def test_xml_stays_well_formed_and_notes_are_not_published(client: TestClient) -> None:
    reply = client.get("/open311/v2/requests/1.xml")
    root = ET.fromstring(reply.content)  # the stored note holds \x01, \x08, ESC and U+FFFE
    assert root.findtext("request/status_notes") == "已核实，待派遣处置"
    for body in (reply.text, client.get("/open311/v2/requests.json").text):
        assert "张三" not in body and "138" not in body


def test_xml_text_replaces_what_xml_cannot_carry() -> None:
    from pipeline.cases.open311 import xml_text

    text = "a\x00b\x01c\td\ne\x7ff\ufffeg\ud800h"
    cleaned = xml_text(text)
    assert cleaned == "a\ufffdb\ufffdc\td\ne\x7ff\ufffdg\ufffdh"
    ET.fromstring(f"<x>{cleaned}</x>".encode("utf-8", "surrogatepass"))


def test_media_url_resolves_to_the_evidence_jpeg(client: TestClient, tmp_path: Path) -> None:
    [one] = client.get("/open311/v2/requests/1.json").json()
    path = one["media_url"].removeprefix("https://patrol.example")
    picture = client.get(path)
    assert picture.status_code == 200 and picture.content == CROP
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["x-content-type-options"] == "nosniff"
    assert picture.headers["content-security-policy"].startswith("sandbox")
    [two] = client.get("/open311/v2/requests/2.json").json()
    assert two["media_url"] == ""  # no crop: no URL
    assert client.get("/open311/v2/requests/2/media.jpg").status_code == 404
    # internal cases (3 new, 4 rejected) show no picture either
    assert client.get("/open311/v2/requests/3/media.jpg").status_code == 404
    assert client.get("/open311/v2/requests/%D9%A1/media.jpg").status_code == 400


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
