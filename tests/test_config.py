"""Settings come from the environment in one place and are checked when loaded: a bad value is one line
naming the variable, before any frame is touched; one default for the bureau's zone."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.config import DEFAULT_TZ, load_settings
from pipeline.errors import PipelineError


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("PATROL_LOCAL_TZ", "Asia/Shanghia", "PATROL_LOCAL_TZ must be a time zone"),
        ("PATROL_NIGHTLY_TZ", "+08:00", "PATROL_NIGHTLY_TZ must be a time zone"),
        ("PATROL_NIGHTLY_CRON", "2am", "PATROL_NIGHTLY_CRON must be a cron expression"),
        (
            "PATROL_CLOSED_SEEN_AGAIN",
            "reopened",
            "PATROL_CLOSED_SEEN_AGAIN must be one of new_linked, reopen",
        ),
        ("PATROL_LEASE_S", "15m", "PATROL_LEASE_S must be a positive whole number"),
        ("PATROL_MAX_PIXELS", "-1", "PATROL_MAX_PIXELS must be a positive whole number"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(name: str, value: str, reason: str) -> None:
    with pytest.raises(PipelineError, match=reason):
        load_settings({name: value})


def test_defaults_and_values_that_are_fine() -> None:
    settings = load_settings({})
    assert settings.local_tz == settings.nightly_tz == DEFAULT_TZ == "Asia/Shanghai"
    assert settings.nightly_cron == "0 2 * * *" and settings.closed_seen_again == "new_linked"
    assert settings.inbox_dir == settings.data_root / "inbox"
    custom = load_settings(
        {"PATROL_LOCAL_TZ": "Asia/Urumqi", "PATROL_LEASE_S": "1_800", "PATROL_INBOX": "/in"}
    )
    assert (custom.local_tz, custom.lease_s, str(custom.inbox_dir)) == ("Asia/Urumqi", 1800, "/in")


def test_a_bad_setting_stops_a_command_before_it_reads_a_frame(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROL_LOCAL_TZ", "Mars/Olympus")
    assert main(["process", "sample_flights/nadir_mapping", "--db", "sqlite:///:memory:"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "patrol: error: PATROL_LOCAL_TZ must be a time zone such as Asia/Shanghai, not 'Mars/Olympus'"
    )


def test_a_model_cannot_name_code_to_import(capsys: pytest.CaptureFixture[str]) -> None:
    """`--model package.module:factory` once imported and called whatever it named; now it is a card path."""
    argv = ["process", "sample_flights/nadir_mapping", "--model", "os:getcwd", "--db", "sqlite:///:memory:"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "model card not found" in err and "os:getcwd" in err
