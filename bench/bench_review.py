"""Review app timings at 2,000 and 20,000 cases, and keys per triaged case in the real browser.

    PYTHONPATH=. .venv/bin/python bench/bench_review.py [--cases 2000 20000] [--repeat 15] [--pg URL]

Server side: each page is requested through the ASGI app (FastAPI's TestClient: no network, no browser), the
median wall time of `--repeat` requests after one warm-up, signed in as a reviewer. The database is a SQLite
file (and PostgreSQL with `--pg`), migrated, holding N cases spread over Dongguan in every state, one
sighting and frame per case, 40 flights. Keys: Playwright drives Debian's chromium through a filtered queue
(one class, sorted by score), pressing `n` once and then one verdict key per case (`c` or a number key for a
preset reason); it counts the keys pressed and the cases decided, and checks each case was the next one of
the view.
The map is timed as the page, its points from the cache, its points rebuilt after a case changed (the
version bumped outside the timing), and the page plus its points after a change (what a first visit costs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from pipeline.cases.db import make_engine, migrate, open_db
from pipeline.cases.models import Case, Flight, Frame, SightingRow
from pipeline.cases.users import add_user
from pipeline.config import Settings
from pipeline.review.app import create_app
from pipeline.review.config import ReviewConfig

PASSWORD = "correct horse 7"
T0 = datetime(2026, 10, 6, 2, 0, tzinfo=UTC)
STATES = ("new", "new", "new", "in_review", "confirmed", "dispatched", "resolved", "rejected")


def seed(url: str, n: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE sightings, case_events, outbox, cases, frames, flights, login_sessions, users"
                    " RESTART IDENTITY CASCADE"
                )
            )
    engine.dispose()
    sessions = open_db(url)
    with sessions.begin() as s:
        if s.scalar(select(Case.id).limit(1)) is None:
            s.execute(
                insert(Flight),
                [{"id": f"F{k}", "first_pushed_at": T0, "last_pushed_at": T0} for k in range(40)],
            )
            s.execute(
                insert(Frame),
                [
                    {"id": i + 1, "flight_id": f"F{i % 40}", "path": f"flights/F{i % 40}/DJI_{i:05d}.JPG"}
                    for i in range(n)
                ],
            )
            cases = []
            for i in range(n):
                lat = 22.95 + (i * 7919 % 10007) / 10007 * 0.15
                lon = 113.60 + (i * 104729 % 10009) / 10009 * 0.20
                cases.append(
                    {
                        "class_name": "garbage_pile" if i % 3 else "illegal_construction",
                        "service_code": "0102" if i % 3 else "0101",
                        "service_name": "暴露垃圾" if i % 3 else "私搭乱建",
                        "category": "市容环境",
                        "status": STATES[i % len(STATES)],
                        "lat": lat,
                        "lon": lon,
                        "grid_key": i,
                        "score": 0.3 + (i * 37 % 70) / 100,
                        "first_seen": T0,
                        "last_seen": T0,
                        "sightings_count": 1,
                        "flights_count": 1 + i % 3,
                        "best_sighting_id": i + 1,
                        "created_at": T0,
                        "updated_at": T0,
                        "version": 1,
                    }
                )
            s.execute(insert(Case), cases)
            s.execute(
                insert(SightingRow),
                [
                    {
                        "key": f"k{i}",
                        "case_id": i + 1,
                        "frame_id": i + 1,
                        "flight_id": f"F{i % 40}",
                        "class_name": cases[i]["class_name"],
                        "score": cases[i]["score"],
                        "x0_px": 100.0,
                        "y0_px": 100.0,
                        "x1_px": 180.0,
                        "y1_px": 170.0,
                        "lat": cases[i]["lat"],
                        "lon": cases[i]["lon"],
                        "seen_at": T0,
                    }
                    for i in range(n)
                ],
            )
            add_user(s, "rev1", "reviewer", display_name="审核员", password=PASSWORD)
    sessions.kw["bind"].dispose()


def time_pages(url: str, repeat: int, tmp: Path, n: int) -> dict[str, float]:
    settings = Settings(db_url=url, data_root=tmp / "data")
    app = create_app(settings, ReviewConfig(secret_key="bench", inbox=tmp / "inbox"))
    pages = {
        "queue": "/queue",
        "queue, one class by score": "/queue?class=garbage_pile&sort=score",
        "queue, all states, page 50": "/queue?status=all&page=50",
        "case": f"/cases/{n // 2 + 1}",
        "map page (every open case)": "/map",
        "map points, cached": "/map/points",
        # A case changes before each request (outside the timing): the points are built again from the rows.
        "map points, a case changed": "/map/points",
        "map page + points, a case changed": "/map",
    }
    out: dict[str, float] = {}
    engine = make_engine(url)
    with TestClient(app) as c:
        token = c.get("/api/session").json()["csrf_token"]
        c.post("/login", data={"name": "rev1", "password": PASSWORD, "csrf_token": token})
        for name, path in pages.items():
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:200])
            times = []
            for _ in range(repeat):
                if "changed" in name:
                    with engine.begin() as conn:  # as a verdict does: the case's version moves on
                        conn.execute(text("UPDATE cases SET version = version + 1 WHERE id = 1"))
                t = time.perf_counter()
                r = c.get(path)
                if name.startswith("map page +"):
                    points = c.get("/map/points")
                    assert points.status_code == 200
                times.append(time.perf_counter() - t)
            out[name] = statistics.median(times) * 1000
            if name.startswith("map page ("):
                out["map page bytes"] = len(r.content)
            if name == "map points, cached":
                out["map points bytes"] = len(r.content)
                out["map points gzip bytes"] = r.num_bytes_downloaded
                out["map points count"] = r.json()["n"]
    engine.dispose()
    app.state.sessions.kw["bind"].dispose()
    return out


def keys_per_case(url: str, tmp: Path, cases: int = 12) -> tuple[int, int, bool]:
    """(keys pressed, cases decided, each was the next of the view) through a filtered, sorted queue."""
    import re
    import shutil
    import socket
    import threading

    import uvicorn
    from playwright.sync_api import sync_playwright

    settings = Settings(db_url=url, data_root=tmp / "data")
    app = create_app(settings, ReviewConfig(secret_key="bench", inbox=tmp / "inbox"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with app.state.sessions() as s:
        want = list(
            s.scalars(
                select(Case.id)
                .where(Case.class_name == "garbage_pile", Case.status == "new")
                .order_by(Case.score.desc(), Case.id)
                .limit(cases)
            )
        )
    keys = 0
    got: list[int] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = browser.new_page(base_url=f"http://127.0.0.1:{port}")
        page.goto("/login")
        page.fill("#name", "rev1")
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_url(re.compile(r"/queue"))
        page.goto("/queue?class=garbage_pile&sort=score")
        page.keyboard.press("n")
        keys += 1
        page.wait_for_url(re.compile(r"/cases/\d+"))
        for k in range(cases):
            got.append(int(re.search(r"/cases/(\d+)", page.url).group(1)))  # type: ignore[union-attr]
            before = page.url
            page.keyboard.press("c" if k % 3 else "1")  # confirm, or reject with the first preset reason
            keys += 1
            page.wait_for_url(lambda u, b=before: u != b)
        browser.close()
    server.should_exit = True
    app.state.sessions.kw["bind"].dispose()
    return keys, len(got), got == want


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--pg", default=None, help="also time on this (empty) PostgreSQL database")
    args = ap.parse_args()
    rows: list[tuple[str, int, str, float]] = []
    extra: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n in args.cases:
            urls = [("sqlite", f"sqlite:///{tmp / f'bench-{n}.sqlite3'}")]
            if args.pg:
                urls.append(("postgresql", args.pg))
            for kind, url in urls:
                seed(url, n)
                timed = time_pages(url, args.repeat, tmp, n)
                extra.append(
                    f"map at {n} cases ({kind}): page {timed.pop('map page bytes') / 1e3:.1f} kB of HTML; "
                    f"points {timed.pop('map points count'):.0f} cases in "
                    f"{timed.pop('map points bytes') / 1e3:.0f} kB of JSON, "
                    f"{timed.pop('map points gzip bytes') / 1e3:.0f} kB gzipped"
                )
                rows.extend((kind, n, page, ms) for page, ms in timed.items())
        keys, decided, in_order = keys_per_case(f"sqlite:///{tmp / f'bench-{args.cases[0]}.sqlite3'}", tmp)
    print("| database | cases | page | median ms (server) |")
    print("|---|---|---|---|")
    for kind, n, page, ms in rows:
        print(f"| {kind} | {n} | {page} | {ms:.1f} |")
    for line in extra:
        print(f"\n{line}")
    print(
        f"\nkeys: {keys} for {decided} cases ({keys / decided:.2f} a case, the first `n` included); "
        f"each the next case of the view: {in_order}"
    )


if __name__ == "__main__":
    main()
