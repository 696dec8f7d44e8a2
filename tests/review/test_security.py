"""CSRF, the sign-in rate limit, cookies, redirects and file serving over HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi.testclient import TestClient

from pipeline.cases.models import Case
from tests.review.conftest import PASSWORD, USERS, World, csrf_of, sign_in
from tests.review.test_auth_matrix import ROUTES


def test_every_state_changing_route_wants_the_csrf_token(
    client_as: Callable[[str | None], TestClient],
) -> None:
    client = client_as("admin")
    token = client.headers.pop("X-CSRF-Token")
    posts = [url for method, _, url, _ in ROUTES if method != "GET"]
    assert len(posts) >= 10
    for url in posts:
        assert client.post(url, data={"action": "note", "note": "x"}).status_code == 403, url
        assert client.post(url, headers={"X-CSRF-Token": "forged"}, json={}).status_code == 403, url
    # the right token passes, and the page form's hidden field works as well as the header
    r = client.post(
        "/cases/3/act", data={"action": "note", "note": "ok", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303


def test_login_is_rate_limited_even_with_the_right_password(world: World) -> None:
    client = TestClient(world.app)
    for _ in range(world.config.login_max_failures):
        r = client.post("/login", data={"name": "rev1", "password": "wrong", "csrf_token": csrf_of(client)})
        assert r.status_code == 401
    r = client.post("/login", data={"name": "rev1", "password": PASSWORD, "csrf_token": csrf_of(client)})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # another user is not locked out by rev1's failures
    sign_in(TestClient(world.app), USERS["supervisor"])


def test_session_cookie_flags_and_rotation(world: World) -> None:
    client = TestClient(world.app)
    before = csrf_of(client)
    r = client.post(
        "/login", data={"name": "rev1", "password": PASSWORD, "csrf_token": before}, follow_redirects=False
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert csrf_of(client) != before  # a token seen before signing in is worth nothing after
    # a tampered cookie is a stranger
    value = client.cookies["patrol_session"]
    client.cookies.set("patrol_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/api/cases").status_code == 401


def test_no_open_redirect_after_sign_in(world: World) -> None:
    client = TestClient(world.app)
    data = {"name": "rev1", "password": PASSWORD, "csrf_token": csrf_of(client), "next": "//evil.example/x"}
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_security_headers(client_as: Callable[[str | None], TestClient]) -> None:
    r = client_as("reviewer").get("/queue")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_files_are_served_only_from_the_data_root(
    world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    client = client_as("reviewer")
    assert client.get("/files/flights/F1/DJI_0001.JPG").headers["content-type"] == "image/jpeg"
    outside = world.data_root.parent / "secret.txt"
    outside.write_text("secret")
    link = world.data_root / "link-out.txt"
    if not link.exists():
        os.symlink(outside, link)
    for url in (
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/..%2fsecret.txt",
        "/files/flights/../../secret.txt",
        "/files//etc/passwd",
        "/files/%2Fetc%2Fpasswd",
        "/files/link-out.txt",
        "/files/flights",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
    ):
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert b"secret" not in r.content and b"root:" not in r.content


def test_a_stored_path_outside_the_root_is_not_shown(
    world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    with world.app.state.sessions.begin() as s:
        case = s.get(Case, 2)
        assert case is not None
        case.evidence_path, case.frame_path = "../../etc/passwd", "/etc/passwd"
    client = client_as("reviewer")
    detail = client.get("/api/cases/2").json()
    assert detail["evidence_url"] is None and detail["frame_url"] is None
    assert "/etc/passwd" not in client.get("/cases/2").text.replace('"/etc/passwd"', "")


def test_sql_metacharacters_are_only_data(client_as: Callable[[str | None], TestClient]) -> None:
    client = client_as("reviewer")
    r = client.get("/api/cases", params={"flight": "F1' OR '1'='1", "class": 'x"; DROP TABLE cases; --'})
    assert r.status_code == 200 and r.json()["total"] == 0
    assert client.get("/api/cases", params={"status": "all"}).json()["total"] > 0
    assert client.get("/api/cases", params={"status": "bogus"}).status_code == 400


def test_english_on_request_chinese_by_default(client_as: Callable[[str | None], TestClient]) -> None:
    client = client_as("reviewer")
    assert "待办队列" in client.get("/queue").text
    assert "Case queue" in client.get("/queue?lang=en").text
    assert "Case queue" in client.get("/queue").text  # remembered in a cookie


def test_escaping(world: World, client_as: Callable[[str | None], TestClient]) -> None:
    client = client_as("reviewer")
    form = {
        "action": "note",
        "note": "<script>alert(1)</script>",
        "csrf_token": client.headers["X-CSRF-Token"],
    }
    client.post("/cases/3/act", data=form)
    page = client.get("/cases/3").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
