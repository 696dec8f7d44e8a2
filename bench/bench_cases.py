"""Time the case queue at scale: 100,000 cases in the queue, then 10,000 sightings pushed into it.

Run: PYTHONPATH=. .venv/bin/python bench/bench_cases.py [sqlite|postgresql ...]; prints one JSON line per
database. PostgreSQL is used at 127.0.0.1:5432 (user postgres) in a throw-away database. Results go in
bench/cases_results.md by hand, with the machine they came from.

The queue is seeded with core bulk inserts (the seeding is not what is measured). The 10,000 sightings come
as 10 flights of 1,000: about 330 objects a flight, each seen in 3 frames, half of them near an existing case
(a sighting on it) and half on new ground (a new case); every flight also brings 200 frame footprints for the
"looked at, not seen" check, scattered over a 3 km patch.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import insert, select

from pipeline import dedupe, geo
from pipeline.cases.categories import load_categories
from pipeline.cases.db import make_engine, migrate
from pipeline.cases.ingest import push_sightings
from pipeline.cases.lifecycle import claim_next
from pipeline.cases.models import Case
from pipeline.types import FrameCoverage, Sighting

BASE = (23.02, 113.75)
CITY_M = 30_000.0  # cases spread over a 30 km square
T0 = datetime(2026, 10, 1, tzinfo=UTC)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def seed(sessions_engine, n: int, rng: random.Random) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    points = []
    rows = []
    for i in range(n):
        lat, lon = geo.offset_latlon(BASE[0], BASE[1], rng.uniform(0, CITY_M), rng.uniform(0, CITY_M))
        points.append((lat, lon))
        cls = "illegal_construction" if i % 2 else "garbage_pile"
        rows.append(
            {
                "class_name": cls,
                "service_code": "0101" if i % 2 else "0102",
                "service_name": "",
                "category": "市容环境",
                "status": "dispatched" if i % 7 == 0 else "new",
                "lat": lat,
                "lon": lon,
                "grid_key": dedupe.grid_key(lat, lon),
                "score": 0.5,
                "first_seen": T0,
                "last_seen": T0,
                "sightings_count": 1,
                "flights_count": 1,
                "created_at": T0,
                "updated_at": T0,
                "version": 1,
            }
        )
    with sessions_engine.begin() as conn:
        for i in range(0, n, 5000):
            conn.execute(insert(Case), rows[i : i + 5000])
    return points


def flight(
    k: int, existing: list[tuple[float, float]], rng: random.Random
) -> tuple[list[Sighting], list[FrameCoverage]]:
    sightings: list[Sighting] = []
    for obj in range(334):
        if obj % 2 and existing:
            lat, lon = rng.choice(existing)
        else:
            lat, lon = geo.offset_latlon(BASE[0], BASE[1], rng.uniform(0, CITY_M), rng.uniform(0, CITY_M))
        cls = rng.choice(("illegal_construction", "garbage_pile"))
        for f in range(3):
            if len(sightings) == 1000:
                break
            s_lat, s_lon = geo.offset_latlon(lat, lon, rng.gauss(0, 2), rng.gauss(0, 2))
            box = (float(obj), float(f), obj + 50.0, f + 50.0)
            sightings.append(
                Sighting(
                    f"F{k}",
                    f"F{k}_{obj:04d}_{f}.JPG",
                    cls,
                    rng.uniform(0.3, 0.95),
                    box,
                    s_lat,
                    s_lon,
                    "2026-10-05T21:00:00+08:00",
                )
            )
    cover = []
    # A flight covers a patch of a few km: its footprints lie within 3 km of its start.
    e0, n0 = rng.uniform(0, CITY_M - 3000), rng.uniform(0, CITY_M - 3000)
    for i in range(200):
        c_lat, c_lon = geo.offset_latlon(
            BASE[0], BASE[1], e0 + rng.uniform(0, 3000), n0 + rng.uniform(0, 3000)
        )
        corners = [
            geo.offset_latlon(c_lat, c_lon, e, n) for e, n in ((-60, -45), (60, -45), (60, 45), (-60, 45))
        ]
        cover.append(
            FrameCoverage(f"F{k}", f"F{k}_cover_{i}.JPG", "2026-10-05T21:00:00+08:00", tuple(corners))
        )
    return sightings, cover


def run(kind: str, url: str) -> dict[str, object]:
    from sqlalchemy.orm import sessionmaker

    rng = random.Random(7)
    engine = make_engine(url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    t = time.perf_counter()
    existing = seed(engine, 100_000, rng)
    seed_s = time.perf_counter() - t

    # One nearby-case query: what matching does per object.
    probes = [rng.choice(existing) for _ in range(500)]
    t = time.perf_counter()
    with sessions() as s:
        for lat, lon in probes:
            keys = dedupe.neighbour_keys(lat, lon, 20.0)
            s.scalars(select(Case.id).where(Case.grid_key.in_(keys), Case.class_name == "garbage_pile")).all()
    query_ms = (time.perf_counter() - t) / len(probes) * 1000

    cats = load_categories()
    root = Path(tempfile.mkdtemp(prefix="bench_cases_"))
    flights = [flight(k, existing, rng) for k in range(10)]
    totals = {"cases_new": 0, "cases_updated": 0, "not_seen": 0}
    t = time.perf_counter()
    for sightings, cover in flights:
        with sessions.begin() as s:
            r = push_sightings(s, sightings, frames=cover, categories=cats, data_root=root)
        for key in totals:
            totals[key] += getattr(r, key)
    push_s = time.perf_counter() - t

    t = time.perf_counter()
    for _ in range(200):
        with sessions.begin() as s:
            claim_next(s, "bench")
    claim_ms = (time.perf_counter() - t) / 200 * 1000
    engine.dispose()
    return {
        "db": kind,
        "cases_seeded": 100_000,
        "seed_s": round(seed_s, 1),
        "nearby_query_ms": round(query_ms, 2),
        "sightings_pushed": 10_000,
        "push_s": round(push_s, 1),
        "sightings_per_s": round(10_000 / push_s),
        **totals,
        "claim_ms": round(claim_ms, 2),
    }


def main() -> None:
    kinds = sys.argv[1:] or ["sqlite", "postgresql"]
    for kind in kinds:
        if kind == "sqlite":
            url = f"sqlite:///{tempfile.mkdtemp(prefix='bench_cases_')}/cases.sqlite3"
            print(json.dumps(run(kind, url)), flush=True)
            continue
        name = f"patrol_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            print(json.dumps(run(kind, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")), flush=True)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
