"""Fixtures more than one test folder shares. Each test folder has its own conftest for the rest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """The session's one Prefect backend (a temporary SQLite-backed API server), started the first time a
    test asks for it; its URL, for `patrol` subprocesses to report there instead of starting their own.
    Telemetry is off before Prefect is imported. The start-up wait is the one `patrol train` gives its
    temporary server: Prefect's 30 s default was not enough beside another CPU-heavy job on 2 cores."""
    from pipeline.config import PREFECT_STARTUP_TIMEOUT_S
    from pipeline.process_commands import quiet_prefect

    quiet_prefect()
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=PREFECT_STARTUP_TIMEOUT_S):
        url = PREFECT_API_URL.value()
        assert url
        yield str(url)
