"""Settings come from the environment in one place and are checked when loaded: a bad value is one line
naming the variable, before any frame is touched; one default for the bureau's zone."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.config import DEFAULT_TZ, ReviewSettings, export_env, load_review_settings, load_settings
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


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("PATROL_MAP_DATUM", "bd09", "PATROL_MAP_DATUM must be one of wgs84, gcj02, not 'bd09'"),
        ("PATROL_COOKIE_SECURE", "si", "PATROL_COOKIE_SECURE must be true or false"),
    ],
)
def test_a_bad_review_setting_is_one_line_naming_it(name: str, value: str, reason: str) -> None:
    with pytest.raises(PipelineError, match=reason):
        load_review_settings({name: value})


def test_review_defaults_and_the_tianditu_key() -> None:
    assert load_review_settings({}) == ReviewSettings()
    for word, secure in (("1", True), ("TRUE", True), (" yes ", True), ("0", False), ("", False)):
        assert load_review_settings({"PATROL_COOKIE_SECURE": word}).cookie_secure is secure
    # A Tianditu key alone gives its tiles (CGCS2000, drawn as WGS84) on its eight subdomains.
    tdt = load_review_settings({"PATROL_TIANDITU_KEY": "k3y"})
    assert tdt.tile_url is not None and tdt.tile_url.startswith("https://t{s}.tianditu.gov.cn/")
    assert tdt.tile_url.endswith("&tk=k3y")
    assert (tdt.tile_datum, tdt.tile_subdomains, tdt.tile_attribution) == ("wgs84", "01234567", "天地图")
    # Tiles named outright win over the key.
    own = load_review_settings({"PATROL_TIANDITU_KEY": "k3y", "PATROL_MAP_TILES": "https://a/{z}/{x}/{y}"})
    assert (own.tile_url, own.tile_subdomains) == ("https://a/{z}/{x}/{y}", "abc")


def test_the_review_app_takes_the_pipelines_inbox(tmp_path: Path) -> None:
    from pipeline.review.config import review_config

    settings = load_settings({"PATROL_DATA_ROOT": str(tmp_path), "PATROL_INBOX": str(tmp_path / "up")})
    config = review_config(settings, load_review_settings({"PATROL_SECRET_KEY": "s"}))
    assert (config.inbox, config.secret_key) == (tmp_path / "up", "s")
    assert len(review_config(settings, ReviewSettings()).secret_key) >= 32  # random when not set


def test_a_bad_review_setting_stops_the_app_before_it_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATROL_MAP_DATUM", "GCJ02 ")
    assert main(["review", "--db", "sqlite:///:memory:"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "patrol: error: PATROL_MAP_DATUM must be one of wgs84, gcj02, not 'GCJ02'"


def test_export_env_lets_an_operators_setting_win_unless_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATROL_TEST_A", "operator")
    monkeypatch.delenv("PATROL_TEST_B", raising=False)
    monkeypatch.setenv("PATROL_TEST_C", "operator")
    got = export_env({"PATROL_TEST_A": "ours", "PATROL_TEST_B": "ours"}, forced={"PATROL_TEST_C": "ours"})
    assert got == {"PATROL_TEST_A": "operator", "PATROL_TEST_B": "ours", "PATROL_TEST_C": "ours"}
    assert os.environ["PATROL_TEST_B"] == "ours" and os.environ["PATROL_TEST_C"] == "ours"


def test_only_config_touches_the_environment() -> None:
    """Every read and write of the process environment in pipeline/ and flows/ is in pipeline/config.py."""
    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"\bos\.environ\b|\bgetenv\b|\bputenv\b|\bfrom os import\b.*\benviron\b")
    found = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("pipeline", "flows")
        for path in sorted((root / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found and all(place.startswith("pipeline/config.py:") for place in found), found


def test_patrol_review_warns_of_a_random_key_and_serves_the_configured_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    monkeypatch.setenv("PATROL_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("PATROL_INBOX", str(tmp_path / "up"))
    monkeypatch.delenv("PATROL_SECRET_KEY", raising=False)
    db = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
    assert main(["review", "--db", db]) == 0
    assert "PATROL_SECRET_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("PATROL_SECRET_KEY", "configured")
    assert main(["review", "--db", db]) == 0
    assert "PATROL_SECRET_KEY" not in capsys.readouterr().err
    config = served[-1].state.config  # type: ignore[attr-defined]
    assert (config.secret_key, config.inbox) == ("configured", tmp_path / "up")
