"""The review pages' case ids at the edge (issue 11): an id no 32-bit column can hold names no case (404),
and a "duplicate of" typed in the form that is not a usable id is a message, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.review.conftest import World, csrf_of


@pytest.mark.parametrize("case_id", ["2147483648", "1000000000000000000000000000000", "0"])
def test_case_page_beyond_the_column_is_not_found(
    case_id: str, world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    c = client_as("reviewer")
    assert c.get(f"/cases/{case_id}").status_code == 404
    r = c.post(
        f"/cases/{case_id}/act",
        data={"action": "note", "note": "x", "csrf_token": csrf_of(c)},
        follow_redirects=False,
    )
    assert r.status_code == 404


@pytest.mark.parametrize("of", ["99999999999", "2147483648", "²", "１２"])
def test_duplicate_of_an_impossible_id_is_refused_with_a_message(
    of: str, world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    c = client_as("reviewer")
    r = c.post(
        "/cases/1/act",
        data={"action": "duplicate", "of": of, "csrf_token": csrf_of(c)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    assert r.headers["location"].startswith("/cases/1")
