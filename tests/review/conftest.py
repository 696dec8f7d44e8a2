"""A seeded review app for the tests: one user per role, cases from a sample flight's real frames.

The database (SQLite) and data root are built once per session and copied for each test, so the slow parts
(argon2 hashing, migrations, cropping evidence) run once.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from pipeline import geo
from pipeline.cases.categories import load_categories
from pipeline.cases.db import open_db
from pipeline.cases.ingest import push_sightings
from pipeline.cases.users import add_user
from pipeline.config import Settings
from pipeline.review.app import create_app
from pipeline.review.config import ReviewConfig
from pipeline.types import Sighting

ROOT = Path(__file__).resolve().parents[2]
FLIGHT = ROOT / "sample_flights" / "nadir_mapping"
PASSWORD = "correct horse 7"
USERS = {"pilot": "pilot1", "reviewer": "rev1", "supervisor": "sup1", "admin": "adm1"}
ROLES = ("pilot", "reviewer", "supervisor", "admin")
CLASSES = ("illegal_construction", "garbage_pile")
BASE = (23.0205, 113.7518)  # Dongguan


def _sightings(data_root: Path) -> list[Sighting]:
    """Every labelled object of three frames, as sightings with real crops; two flights over the area."""
    out: list[Sighting] = []
    for k, frame_no in enumerate((1, 2, 3)):
        src = FLIGHT / f"DJI_000{frame_no}.JPG"
        rel = f"flights/F{k % 2 + 1}/{src.name}"
        (data_root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, data_root / rel)
        with Image.open(src) as im:
            w, h = im.size
            lines = (FLIGHT / "labels" / f"DJI_000{frame_no}.txt").read_text().split("\n")
            for n, line in enumerate(x for x in lines if x.strip()):
                cls, cx, cy, bw, bh = line.split()
                x0, y0 = (float(cx) - float(bw) / 2) * w, (float(cy) - float(bh) / 2) * h
                x1, y1 = (float(cx) + float(bw) / 2) * w, (float(cy) + float(bh) / 2) * h
                buf = io.BytesIO()
                im.crop((int(x0) - 20, int(y0) - 20, int(x1) + 20, int(y1) + 20)).convert("RGB").save(
                    buf, "JPEG"
                )
                lat, lon = geo.offset_latlon(BASE[0], BASE[1], 300.0 * k + 40.0 * n, 25.0 * n)
                out.append(
                    Sighting(
                        flight_id=f"F{k % 2 + 1}",
                        frame_path=rel,
                        class_name=CLASSES[int(cls)],
                        score=round(0.55 + 0.05 * n, 2),
                        xyxy_px=(x0, y0, x1, y1),
                        lat=lat,
                        lon=lon,
                        seen_at=f"2026-10-0{5 + k % 2}T10:0{n % 10}:00+08:00",
                        evidence_jpeg=buf.getvalue(),
                    )
                )
    return out


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(database file, data root) of the seeded world, built once."""
    base = tmp_path_factory.mktemp("review-seed")
    db_file, data_root = base / "review.sqlite3", base / "data"
    data_root.mkdir()
    sessions = open_db(f"sqlite:///{db_file}")
    with sessions.begin() as s:
        push_sightings(s, _sightings(data_root), categories=load_categories(), data_root=data_root)
        for role, name in USERS.items():
            add_user(s, name, role, display_name=f"{role} 王", password=PASSWORD)
        add_user(s, "nopass", "reviewer")  # no password: may never sign in
    sessions.kw["bind"].dispose()
    return db_file, data_root


@dataclass
class World:
    app: FastAPI
    settings: Settings
    config: ReviewConfig
    data_root: Path
    inbox: Path


@pytest.fixture
def world(seeded: tuple[Path, Path], tmp_path: Path) -> Iterator[World]:
    db_file, data_root = seeded
    copy = tmp_path / "review.sqlite3"
    shutil.copyfile(db_file, copy)
    settings = Settings(db_url=f"sqlite:///{copy}", data_root=data_root)
    config = ReviewConfig(secret_key="test-secret", inbox=tmp_path / "inbox", login_max_failures=3)
    app = create_app(settings, config)
    yield World(app, settings, config, data_root, config.inbox)
    app.state.sessions.kw["bind"].dispose()


def csrf_of(client: TestClient) -> str:
    token: str = client.get("/api/session").json()["csrf_token"]
    return token


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    r = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    client.headers["X-CSRF-Token"] = csrf_of(client)
    return client


@pytest.fixture
def client_as(world: World) -> Iterator[Callable[[str | None], TestClient]]:
    """A client signed in with a role (None: nobody), sending its CSRF token on every request."""
    clients: list[TestClient] = []

    def make(role: str | None) -> TestClient:
        c = TestClient(world.app)
        clients.append(c)
        if role is None:
            c.headers["X-CSRF-Token"] = csrf_of(c)
            return c
        return sign_in(c, USERS[role])

    yield make
    for c in clients:
        c.close()


# --- the real browser (Debian's chromium through Playwright) and the app served to it ---

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _chromium() -> str:
    found = os.environ.get("PATROL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if os.environ.get("PATROL_SKIP_BROWSER_TESTS") == "1":
        pytest.skip("PATROL_SKIP_BROWSER_TESTS=1")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        except Error as err:
            pytest.fail(f"no browser could be started ({_chromium()}): {err}", pytrace=False)
        yield b
        b.close()


@pytest.fixture
def base_url(world: World) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
