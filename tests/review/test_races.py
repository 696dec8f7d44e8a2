"""Issue 11's race losers, over HTTP on PostgreSQL and SQLite: reviewers who lose a claim or confirm race get
a 409 with the reason, never a 500 (StaleDataError, "Can't operate on closed transaction")."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import insert

from pipeline.cases.db import make_engine, migrate, open_db
from pipeline.cases.models import Case
from pipeline.cases.users import add_user
from pipeline.config import Settings
from pipeline.review.app import create_app
from pipeline.review.config import ReviewConfig

PG_ADMIN = os.environ.get("PATROL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse 7"
HANDS = 8
T0 = datetime(2026, 10, 6, 1, 0, tzinfo=UTC)
pytestmark = pytest.mark.slow


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    name = f"patrol_race_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(f"PostgreSQL is required ({PG_ADMIN}): {err}", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    sessions = open_db(db_url)
    with sessions.begin() as s:
        for i in range(HANDS):
            add_user(s, f"rev{i}", "reviewer", password=PASSWORD)
        s.execute(
            insert(Case),
            [
                {
                    "class_name": "garbage_pile",
                    "service_code": "0102",
                    "service_name": "暴露垃圾",
                    "category": "市容环境",
                    "status": "new",
                    "lat": 23.0 + i * 1e-3,
                    "lon": 113.7,
                    "grid_key": i,
                    "score": 0.5,
                    "first_seen": T0,
                    "last_seen": T0,
                    "sightings_count": 1,
                    "flights_count": 1,
                    "created_at": T0,
                    "updated_at": T0,
                    "version": 1,
                }
                for i in range(HANDS * 3)
            ],
        )
    settings = Settings(db_url=db_url, data_root=tmp_path / "data")
    config = ReviewConfig(secret_key="race-secret", inbox=tmp_path / "inbox", login_max_failures=50)
    app = create_app(settings, config, sessions=sessions)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    sessions.kw["bind"].dispose()


def _client(base: str, name: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=30)
    token = c.get("/api/session").json()["csrf_token"]
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token})
    assert r.status_code in (200, 303), r.text[:200]
    c.headers["X-CSRF-Token"] = c.get("/api/session").json()["csrf_token"]
    return c


def _all_at_once(clients: list[httpx.Client], method: str, url: str) -> list[httpx.Response]:
    gate = threading.Barrier(len(clients))
    out: list[httpx.Response | None] = [None] * len(clients)

    def go(k: int) -> None:
        gate.wait()
        out[k] = clients[k].request(method, url, json={})

    threads = [threading.Thread(target=go, args=(k,)) for k in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_claim_and_confirm_race_losers_get_409(server: str) -> None:
    clients = [_client(server, f"rev{i}") for i in range(HANDS)]
    try:
        for case_id in (1, 2, 3):  # a few rounds: a race is won by chance
            answers = _all_at_once(clients, "POST", f"/api/cases/{case_id}/actions/claim")
            codes = sorted(r.status_code for r in answers)
            assert codes == [200] + [409] * (HANDS - 1), [(r.status_code, r.text[:120]) for r in answers]
            winner = next(r for r in answers if r.status_code == 200).json()["claimed_by"]
            loser = next(r for r in answers if r.status_code == 409).json()["detail"]
            assert "claimed by" in loser or "changed by someone else" in loser or "cannot claim" in loser
            # the winner confirms from several browsers at once: one confirm, the rest 409
            twins = [_client(server, winner) for _ in range(HANDS - 1)]
            k = int(winner.removeprefix("rev"))
            answers = _all_at_once([clients[k], *twins], "POST", f"/api/cases/{case_id}/actions/confirm")
            codes = sorted(r.status_code for r in answers)
            assert codes == [200] + [409] * (HANDS - 1), [(r.status_code, r.text[:120]) for r in answers]
            for twin in twins:
                twin.close()
        # claim-next under contention: distinct cases, no errors
        answers = _all_at_once(clients, "POST", "/api/cases/claim")
        assert {r.status_code for r in answers} == {200}, [r.text[:120] for r in answers]
        got = [r.json()["case"]["id"] for r in answers]
        assert len(set(got)) == HANDS
    finally:
        for c in clients:
            c.close()
