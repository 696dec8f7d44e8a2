"""The review JSON API's numbers at the edge: a page or case id no database column can hold is a 4xx with
the reason, never a 500 (issue 11: `page=10^17`, ids >= 2^31 overflowed PostgreSQL's integer)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.review.conftest import World, csrf_of

# (row, request path, expected status)
ROWS = [
    ("page 10^17", "/api/cases?page=100000000000000000", 422),
    ("page -1", "/api/cases?page=-1", 422),
    ("page not a number", "/api/cases?page=%EF%BC%91", 422),  # a full-width digit
    ("page at the limit: an empty page", "/api/cases?page=1000000", 200),
    ("case id 2^31", "/api/cases/2147483648", 422),
    ("case id 10^30", "/api/cases/1000000000000000000000000000000", 422),
    ("case id 0", "/api/cases/0", 422),
    ("case id 2^31 - 1: no such case", "/api/cases/2147483647", 404),
]


@pytest.mark.parametrize(("row", "path", "status"), ROWS, ids=[r[0] for r in ROWS])
def test_reads(
    row: str, path: str, status: int, world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    r = client_as("reviewer").get(path)
    assert r.status_code == status, (row, r.text)
    if status == 200:
        assert r.json()["cases"] == []


@pytest.mark.parametrize(
    ("row", "case_id", "body", "status"),
    [
        ("case id 2^31", "2147483648", {}, 422),
        ("duplicate of 2^31", "1", {"of": 2**31}, 422),
        ("duplicate of 10^20", "1", {"of": 10**20}, 422),
    ],
)
def test_actions(
    row: str,
    case_id: str,
    body: dict[str, int],
    status: int,
    world: World,
    client_as: Callable[[str | None], TestClient],
) -> None:
    client = client_as("reviewer")
    r = client.post(
        f"/api/cases/{case_id}/actions/duplicate", json=body, headers={"X-CSRF-Token": csrf_of(client)}
    )
    assert r.status_code == status, (row, r.text)
