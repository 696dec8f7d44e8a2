"""Sessions end on the server, and the sign-in limit holds under concurrency, restarts and many addresses.

All over HTTP against the real app and its database; the CLI commands run as `patrol users ...` would.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from pipeline.cli import main
from pipeline.review.app import create_app
from tests.review.conftest import PASSWORD, USERS, World, csrf_of, sign_in


def _client(world: World, address: str = "198.51.100.1", app: object = None) -> TestClient:
    return TestClient(app or world.app, client=(address, 40000))  # type: ignore[arg-type]


def _try(client: TestClient, name: str, password: str = "wrong password") -> int:
    data = {"name": name, "password": password, "csrf_token": csrf_of(client)}
    return client.post("/login", data=data, follow_redirects=False).status_code


def _copy_cookie(client: TestClient) -> TestClient:
    """A second client holding the same cookie: what an attacker who captured it has."""
    thief = TestClient(client.app)  # type: ignore[arg-type]
    thief.cookies.set("patrol_session", client.cookies["patrol_session"])
    thief.headers["X-CSRF-Token"] = client.headers["X-CSRF-Token"]
    return thief


def test_a_cookie_captured_before_sign_out_no_longer_works(world: World) -> None:
    client = sign_in(_client(world), USERS["reviewer"])
    thief = _copy_cookie(client)
    assert thief.get("/api/cases").status_code == 200
    note = {"action": "note", "note": "before sign-out", "csrf_token": client.headers["X-CSRF-Token"]}
    assert thief.post("/cases/3/act", data=note, follow_redirects=False).status_code == 303
    assert client.post("/logout", follow_redirects=False).status_code == 303
    assert thief.get("/api/cases").status_code == 401  # read
    note["note"] = "after sign-out"
    assert thief.post("/cases/3/act", data=note, follow_redirects=False).status_code == 401  # write
    assert client.get("/api/cases").status_code == 401
    # signing in again gives a new session; the old cookie stays dead
    client.headers.pop("X-CSRF-Token")
    sign_in(client, USERS["reviewer"])
    assert client.get("/api/cases").status_code == 200 and thief.get("/api/cases").status_code == 401


def test_signing_out_one_browser_leaves_the_others_signed_in(world: World) -> None:
    a = sign_in(_client(world), USERS["reviewer"])
    b = sign_in(_client(world), USERS["reviewer"])
    a.post("/logout")
    assert a.get("/api/cases").status_code == 401 and b.get("/api/cases").status_code == 200


# (command, stdin, can the user sign in afterwards with the old password)
USER_COMMANDS = [
    (["users", "disable", "rev1"], "", False),
    (["users", "passwd", "rev1", "--password-stdin"], "a brand new passphrase\n", False),
    (["users", "remove", "rev1"], "", False),
]


@pytest.mark.parametrize(("argv", "stdin", "old_password_works"), USER_COMMANDS, ids=lambda v: str(v))
def test_user_commands_end_that_users_sessions(
    world: World,
    argv: list[str],
    stdin: str,
    old_password_works: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rev = sign_in(_client(world), "rev1")
    sup = sign_in(_client(world), USERS["supervisor"])
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main([*argv, "--db", world.settings.db_url, "--json"]) == 0
    out = capsys.readouterr().out
    assert '"sessions_ended": 1' in out
    assert rev.get("/api/cases").status_code == 401
    assert sup.get("/api/cases").status_code == 200  # nobody else is signed out
    assert (_try(_client(world), "rev1", PASSWORD) == 303) is old_password_works
    if argv[1] == "passwd":
        assert _try(_client(world), "rev1", "a brand new passphrase") == 303


def test_disable_then_enable(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "disable", "rev1", "--db", world.settings.db_url]) == 0
    assert _try(_client(world), "rev1", PASSWORD) == 401
    assert main(["users", "enable", "rev1", "--db", world.settings.db_url]) == 0
    assert _try(_client(world), "rev1", PASSWORD) == 303
    assert main(["users", "remove", "nobody", "--db", world.settings.db_url]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    assert main(["users", "passwd", "rev1", "--db", world.settings.db_url]) == 2
    assert "--password-stdin" in capsys.readouterr().err


# --- the sign-in limit -----------------------------------------------------------------------------


def test_simultaneous_attempts_are_checked_at_most_the_limit(world: World) -> None:
    limit = world.config.login_max_failures
    clients = [_client(world) for _ in range(31)]
    tokens = [csrf_of(c) for c in clients]
    start = threading.Barrier(len(clients))
    codes: list[int] = []

    def attempt(client: TestClient, token: str) -> None:
        start.wait()
        data = {"name": "rev1", "password": "wrong password", "csrf_token": token}
        codes.append(client.post("/login", data=data, follow_redirects=False).status_code)

    threads = [threading.Thread(target=attempt, args=ct) for ct in zip(clients, tokens, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    counted = Counter(codes)
    assert counted[401] == limit and counted[429] == len(clients) - limit, counted


def test_counts_survive_a_restart_and_a_second_process(world: World) -> None:
    for _ in range(world.config.login_max_failures):
        assert _try(_client(world), "rev1") == 401
    # a second app on the same database: a restart, or a second worker process behind the proxy
    other = create_app(world.settings, world.config)
    try:
        client = _client(world, app=other)
        assert _try(client, "rev1", PASSWORD) == 429
    finally:
        other.state.sessions.kw["bind"].dispose()


def test_a_flood_from_one_address_does_not_lock_the_name_elsewhere(world: World) -> None:
    limit = world.config.login_max_failures
    for _ in range(10 * limit):
        assert _try(_client(world, "203.0.113.66"), "rev1") in (401, 429)
    assert _try(_client(world, "203.0.113.66"), "rev1", PASSWORD) == 429  # that name, from that address
    assert _try(_client(world, "192.0.2.10"), "rev1", PASSWORD) == 303  # the name, from another address
    assert (
        _try(_client(world, "203.0.113.66"), USERS["supervisor"], PASSWORD) == 303
    )  # that address, other name


def test_the_address_limit_blocks_that_address_only(world: World) -> None:
    limit = world.config.login_max_failures
    names = [f"guess{i}" for i in range(4 * limit)]
    for name in names:
        assert _try(_client(world, "203.0.113.7"), name) == 401
    assert _try(_client(world, "203.0.113.7"), USERS["supervisor"], PASSWORD) == 429
    assert _try(_client(world, "192.0.2.11"), USERS["supervisor"], PASSWORD) == 303


def test_the_name_limit_blocks_a_guess_spread_over_addresses(world: World) -> None:
    limit = world.config.login_max_failures
    for k in range(4):
        for _ in range(limit):
            assert _try(_client(world, f"203.0.113.{100 + k}"), "rev1") == 401
    assert _try(_client(world, "192.0.2.12"), "rev1", PASSWORD) == 429
    assert _try(_client(world, "192.0.2.12"), USERS["supervisor"], PASSWORD) == 303


def test_success_clears_that_addresss_failures(
    client_as: Callable[[str | None], TestClient], world: World
) -> None:
    limit = world.config.login_max_failures
    client = _client(world, "192.0.2.13")
    for _ in range(limit - 1):
        assert _try(client, "rev1") == 401
    assert _try(client, "rev1", PASSWORD) == 303
    for _ in range(limit - 1):
        assert _try(_client(world, "192.0.2.13"), "rev1") == 401  # counted from zero again


def test_the_users_page_shows_who_is_disabled(
    world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    assert main(["users", "disable", "rev1", "--db", world.settings.db_url]) == 0
    admin = client_as("admin")
    listed = {u["name"]: u["disabled"] for u in admin.get("/api/users").json()}
    assert listed["rev1"] is True and listed["sup1"] is False
    assert "已停用" in admin.get("/users").text and "disabled" in admin.get("/users?lang=en").text
