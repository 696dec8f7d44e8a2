"""Every route x every role (and nobody signed in): allowed, or 401 / 403. A new route fails the coverage
test until it is added here with the least role it needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.review.conftest import ROLES, World

RANK = {None: -1, **{r: i for i, r in enumerate(ROLES)}}
PUBLIC = "public"

# (method, path as routed, a concrete URL, least role; PUBLIC for the sign-in page, static files, Open311)
ROUTES: list[tuple[str, str, str, str]] = [
    ("GET", "/login", "/login", PUBLIC),
    ("POST", "/login", "/login", PUBLIC),
    ("POST", "/logout", "/logout", PUBLIC),
    ("GET", "/", "/", "pilot"),
    ("GET", "/queue", "/queue", "reviewer"),
    ("POST", "/queue/next", "/queue/next", "reviewer"),
    ("POST", "/queue/dispatch", "/queue/dispatch", "supervisor"),
    ("GET", "/cases/{case_id}", "/cases/3", "reviewer"),
    ("POST", "/cases/{case_id}/act", "/cases/3/act", "reviewer"),
    ("GET", "/map", "/map", "reviewer"),
    ("GET", "/map/points", "/map/points", "reviewer"),
    ("GET", "/files/{rel:path}", "/files/flights/F1/DJI_0001.JPG", "reviewer"),
    ("GET", "/flights", "/flights", "pilot"),
    ("GET", "/upload", "/upload", "pilot"),
    ("POST", "/upload", "/upload", "pilot"),
    ("POST", "/api/uploads", "/api/uploads", "pilot"),
    ("GET", "/api/flights", "/api/flights", "pilot"),
    ("GET", "/zones", "/zones", "supervisor"),
    ("POST", "/zones/{zone_id}/remove", "/zones/1/remove", "supervisor"),
    ("GET", "/users", "/users", "admin"),
    ("POST", "/users", "/users", "admin"),
    ("GET", "/api/users", "/api/users", "admin"),
    ("POST", "/api/users", "/api/users", "admin"),
    ("GET", "/api/session", "/api/session", PUBLIC),
    ("GET", "/api/cases", "/api/cases", "reviewer"),
    ("GET", "/api/cases/{case_id}", "/api/cases/3", "reviewer"),
    ("POST", "/api/cases/claim", "/api/cases/claim", "reviewer"),
    ("POST", "/api/cases/{case_id}/actions/{action}", "/api/cases/3/actions/note", "reviewer"),
    ("GET", "/api/map", "/api/map", "reviewer"),
    ("GET", "/openapi.json", "/openapi.json", "pilot"),
    ("GET", "/docs", "/docs", "pilot"),
    ("GET", "/open311/v2/services.{fmt}", "/open311/v2/services.json", PUBLIC),
    ("GET", "/open311/v2/services/{service_code}.{fmt}", "/open311/v2/services/0101.json", PUBLIC),
    ("GET", "/open311/v2/requests.{fmt}", "/open311/v2/requests.json", PUBLIC),
    ("GET", "/open311/v2/requests/{request_id}.{fmt}", "/open311/v2/requests/1.json", PUBLIC),
    ("GET", "/open311/v2/requests/{request_id}/media.jpg", "/open311/v2/requests/1/media.jpg", PUBLIC),
]

# action -> least role, through both the page form and the API
ACTIONS = {
    "note": "reviewer",
    "claim": "reviewer",
    "confirm": "reviewer",
    "reject": "reviewer",
    "dispatch": "supervisor",
    "resolve": "supervisor",
    "close": "supervisor",
    "reassign": "supervisor",
    "reopen_review": "supervisor",
}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    # FastAPI 0.150 keeps included routers as nodes (with their prefix) rather than copying their routes.
    for r in routes:
        if isinstance(r, APIRoute):
            yield from ((m, prefix + r.path) for m in r.methods if m != "HEAD")
        elif hasattr(r, "original_router"):
            yield from _routes(r.original_router.routes, prefix + r.include_context.prefix)


def test_every_route_is_in_the_matrix(world: World) -> None:
    routed = set(_routes(world.app.routes))
    listed = {(m, p) for m, p, _, _ in ROUTES}
    assert routed - listed == set(), "routes missing from the auth matrix"
    assert listed - routed == set(), "the matrix lists routes the app no longer has"


def _expect(status: int, least: str, role: str | None) -> None:
    if least == PUBLIC or RANK[role] >= RANK[least]:
        assert status not in (401, 403), status
    elif role is None:
        assert status == 401
    else:
        assert status == 403


@pytest.mark.parametrize("role", [None, *ROLES])
def test_route_matrix(client_as: Callable[[str | None], TestClient], role: str | None) -> None:
    client = client_as(role)
    for method, _, url, least in ROUTES:
        if url in ("/login", "/logout") and method == "POST":
            continue  # covered by the sign-in tests; signing out here would change the client
        body = {"note": "矩阵测试", "csrf_token": client.headers["X-CSRF-Token"]}
        if method == "GET":
            r = client.get(url, follow_redirects=False)
        elif url.startswith("/api/") and url != "/api/uploads":
            r = client.post(url, json={"note": "矩阵测试"}, follow_redirects=False)
        else:
            r = client.post(url, data={**body, "action": "note"}, follow_redirects=False)
        try:
            _expect(r.status_code, least, role)
        except AssertionError as err:
            raise AssertionError(f"{method} {url} as {role}: {r.status_code} {r.text[:200]}") from err


@pytest.mark.parametrize("role", ["reviewer", "supervisor"])
def test_action_matrix(client_as: Callable[[str | None], TestClient], role: str) -> None:
    client = client_as(role)
    for action, least in ACTIONS.items():
        body = {"note": "原因", "to_user": "rev1"}
        r = client.post(f"/api/cases/4/actions/{action}", json=body)
        if RANK[role] >= RANK[least]:
            assert r.status_code not in (401, 403), (action, r.status_code, r.text)
        else:
            assert r.status_code == 403, (action, r.status_code)
        form = {
            "action": action,
            "note": "原因",
            "to_user": "rev1",
            "csrf_token": client.headers["X-CSRF-Token"],
        }
        r = client.post("/cases/5/act", data=form, follow_redirects=False)
        assert r.status_code == (303 if RANK[role] >= RANK[least] else 403), (action, r.status_code)


def test_a_user_without_a_password_cannot_sign_in(client_as: Callable[[str | None], TestClient]) -> None:
    client = client_as(None)
    r = client.post(
        "/login", data={"name": "nopass", "password": "", "csrf_token": client.headers["X-CSRF-Token"]}
    )
    assert r.status_code in (401, 422)
    assert client.get("/api/cases").status_code == 401
