"""The map's points endpoint: every case of the view, as in the database, never stale after a change.

The payload is decoded here from its documented format (pipeline/review/map_data.py's docstring), and
compared with the cases read straight from the database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline import geo
from pipeline.cases.models import Case
from pipeline.review.app import create_app
from tests.review.conftest import World, sign_in

SHOWN = ("new", "in_review", "confirmed", "dispatched", "resolved")  # the map's states when none are asked


def _decode(p: dict[str, Any]) -> dict[int, tuple[float, float, str, str]]:
    out, last = {}, 0
    assert len(p["id"]) == len(p["lat"]) == len(p["lon"]) == len(p["status"]) == len(p["class"]) == p["n"]
    for k in range(p["n"]):
        last += p["id"][k]
        lat = (p["origin"][0] + p["lat"][k]) / 1e6
        lon = (p["origin"][1] + p["lon"][k]) / 1e6
        out[last] = (lat, lon, p["states"][p["status"][k]], p["classes"][p["class"][k]])
    return out


def _from_db(world: World, *where: Any) -> dict[int, tuple[float, float, str, str]]:
    with world.app.state.sessions() as s:
        rows = s.execute(select(Case.id, Case.lat, Case.lon, Case.status, Case.class_name).where(*where))
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def _same(got: dict[int, Any], want: dict[int, Any]) -> None:
    assert sorted(got) == sorted(want)
    for case_id, (lat, lon, status, cls) in want.items():
        g = got[case_id]
        assert (g[2], g[3]) == (status, cls), case_id
        assert g[0] == pytest.approx(lat, abs=6e-7) and g[1] == pytest.approx(lon, abs=6e-7), case_id


def test_the_points_are_every_case_of_the_view(client_as: Callable[[str | None], TestClient], world: World):
    c = client_as("reviewer")
    want = _from_db(world, Case.status.in_(SHOWN))
    assert len(want) >= 10
    r = c.get("/map/points")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    _same(_decode(r.json()), want)
    page = c.get("/map")
    assert f"共 {len(want)} 件，全部显示" in page.text
    assert 'data-points="/map/points"' in page.text

    r = c.get("/map/points?status=all&class=garbage_pile")
    _same(_decode(r.json()), _from_db(world, Case.class_name == "garbage_pile"))
    assert (
        'data-points="/map/points?status=all&amp;class=garbage_pile"'
        in c.get("/map?status=all&class=garbage_pile").text
    )


def test_a_changed_case_is_never_served_from_the_cache(
    client_as: Callable[[str | None], TestClient], world: World
):
    c = client_as("reviewer")
    first = c.get("/map/points")
    etag = first.headers["etag"]
    assert c.get("/map/points", headers={"If-None-Match": etag}).status_code == 304  # nothing changed
    with world.app.state.sessions.begin() as s:
        case = s.scalars(select(Case).where(Case.status == "new").order_by(Case.id)).first()
        assert case is not None
        gone, case.status = case.id, "rejected"
    r = c.get("/map/points", headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.headers["etag"] != etag
    got = _decode(r.json())
    assert gone not in got and gone in _decode(first.json())
    _same(got, _from_db(world, Case.status.in_(SHOWN)))


def test_the_points_are_gzipped_when_the_browser_accepts_it(client_as: Callable[[str | None], TestClient]):
    c = client_as("reviewer")
    zipped = c.get("/map/points", headers={"Accept-Encoding": "gzip"})
    plain = c.get("/map/points", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.num_bytes_downloaded < plain.num_bytes_downloaded
    assert zipped.json() == plain.json()
    assert zipped.headers["etag"] != plain.headers["etag"]  # one body per encoding
    assert "private" in plain.headers["cache-control"]


def test_points_for_gcj02_tiles_are_shifted_as_each_point_would_be(world: World):
    app = create_app(world.settings, dataclasses.replace(world.config, tile_datum="gcj02"))
    with TestClient(app) as c:
        got = _decode(sign_in(c, "rev1").get("/map/points").json())
    app.state.sessions.kw["bind"].dispose()
    want = {
        k: (*geo.wgs84_to_gcj02(lat, lon), st, cls)
        for k, (lat, lon, st, cls) in _from_db(world, Case.status.in_(SHOWN)).items()
    }
    _same(got, want)
