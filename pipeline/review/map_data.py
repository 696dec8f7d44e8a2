"""The map's points: every case a view matches, as one compact columnar JSON, built once per state of the
cases table and kept (plain and gzipped) until a case changes.

The format (decoded by static/map.js):
    {"datum": "wgs84", "n": 3, "states": [...], "classes": [...],
     "origin": [lat_e6, lon_e6], "id": [5, 2, 9], "lat": [0, 120, 33], "lon": [...], "status": [0, 2, 0],
     "class": [1, 0, 1]}
`id` holds the ascending ids as differences from the previous one (the first from 0); `lat` and `lon` are
micro-degrees (0.1 m) above `origin`, in the datum of the map's tiles; `status` and `class` index `states`
and `classes`. Small integers are about half the bytes of the plain arrays and serialise faster than floats.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline import geo
from pipeline.cases.lifecycle import STATES
from pipeline.cases.models import Case
from pipeline.review.queries import QueueFilter, criteria

_KEEP = 16  # views kept per state of the table (a morning's few filters, ~0.3 MB each)


def data_version(session: Session) -> str:
    """Changes whenever any case does: every UPDATE of a case bumps its optimistic-lock `version`, and an
    insert changes the count and the largest id. One indexed aggregate, a few milliseconds at 20,000."""
    count, top, total = session.execute(
        select(func.count(Case.id), func.max(Case.id), func.sum(Case.version))
    ).one()
    return f"{count}.{top or 0}.{total or 0}"


def columns(rows: list[Any], datum: str) -> dict[str, Any]:
    """The payload from (id, lat, lon, status, class) rows in ascending id; coordinates WGS84 in the rows."""
    state_index = {s: k for k, s in enumerate(STATES)}
    class_names = sorted({r[4] for r in rows})
    class_index = {c: k for k, c in enumerate(class_names)}
    out: dict[str, Any] = {"datum": datum, "n": len(rows), "states": list(STATES), "classes": class_names}
    if not rows:
        return {**out, "origin": [0, 0], "id": [], "lat": [], "lon": [], "status": [], "class": []}
    ids, lats, lons, statuses, names = zip(*rows, strict=True)
    lat = np.fromiter(lats, dtype=np.float64, count=len(rows))
    lon = np.fromiter(lons, dtype=np.float64, count=len(rows))
    if datum == "gcj02":
        lat, lon = geo.wgs84_to_gcj02_arrays(lat, lon)
    lat_e6 = np.rint(lat * 1e6).astype(np.int64)
    lon_e6 = np.rint(lon * 1e6).astype(np.int64)
    origin = [int(lat_e6.min()), int(lon_e6.min())]
    id_arr = np.fromiter(ids, dtype=np.int64, count=len(rows))
    return {
        **out,
        "origin": origin,
        "id": np.diff(id_arr, prepend=0).tolist(),
        "lat": (lat_e6 - origin[0]).tolist(),
        "lon": (lon_e6 - origin[1]).tolist(),
        "status": [state_index.get(s, 0) for s in statuses],
        "class": [class_index[c] for c in names],
    }


def point_rows(session: Session, f: QueueFilter) -> list[Any]:
    """Only the five columns the map draws, as plain rows (no ORM objects), in ascending id."""
    f.check()
    query = select(Case.id, Case.lat, Case.lon, Case.status, Case.class_name).where(*criteria(f))
    return list(session.execute(query.order_by(Case.id)).all())


@contextlib.contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Building the points allocates some 35,000 short-lived row objects at once; in the review app's large
    heap that set off full cyclic collections costing ~120 ms of a ~200 ms build (measured at 20,000 cases).
    Nothing built here forms a cycle, and the rows are freed before collection resumes."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class MapBody:
    etag: str
    count: int
    plain: bytes
    gzipped: bytes


def encode(payload: dict[str, Any], etag: str) -> MapBody:
    plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    # Level 1: a third of the time of level 6 for ~10 % more bytes (110 kB instead of 100 kB at 17,500 cases).
    return MapBody(etag, int(payload["n"]), plain, gzip.compress(plain, compresslevel=1, mtime=0))


class MapCache:
    """Bodies by (view, datum) for the table's current version: a cache hit costs the version query only.

    A new version drops every older body, so no stale point outlives a change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = ""
        self._bodies: dict[tuple[QueueFilter, str], MapBody] = {}

    def body(self, session: Session, f: QueueFilter, datum: str) -> MapBody:
        version = data_version(session)
        key = (f, datum)
        with self._lock:
            if version != self._version:
                self._version, self._bodies = version, {}
            found = self._bodies.get(key)
        if found is not None:
            return found
        view = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        with _cycle_collection_paused():
            payload = columns(point_rows(session, f), datum)
        made = encode(payload, f'"{version}-{view}"')
        with self._lock:
            if version == self._version:
                if len(self._bodies) >= _KEEP:
                    self._bodies.pop(next(iter(self._bodies)))
                self._bodies[key] = made
        return made
