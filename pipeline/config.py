"""Settings from the environment (PATROL_*) and command-line flags, built once in an entry point.

This is the one module that touches the process environment. Nothing here runs at import time:
`load_settings()` (the pipeline's settings) and `load_review_settings()` (the review app's) read it when
called and check every value, so a bad one is a one-line error before any frame is touched; flags override
what they return through `dataclasses.replace`. Third-party libraries (ultralytics, matplotlib, Prefect) and
child processes take their settings from the environment too: `export_env` is the one place that writes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from pipeline.errors import PipelineError

DEFAULT_VAR_DIR = Path("var")
# Frames declaring more pixels than this are refused by their header, before decoding (a 674-byte JPEG can
# declare 20000 x 20000). The largest drone cameras make about 100-150 MP frames (Phase One iXM-100/-GS120);
# 200 MP decodes to 600 MB of BGR pixels, which a worker can hold.
DEFAULT_MAX_PIXELS = 200_000_000
# Nothing farther than this from the point below the camera is searched, nor counted as a frame's ground:
# beyond it an oblique frame's pixels cover metres each and its georeferencing error grows with the distance.
DEFAULT_SEARCH_RANGE_M = 300.0
# The bureau's zone: capture times without an offset, the nightly schedule and the night's summary.
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_CRON = "0 2 * * *"
CLOSED_POLICIES = ("new_linked", "reopen")
# A temporary Prefect server (a flow run without PREFECT_API_URL, and the tests' harness) can take far longer
# than Prefect's default 20 s to start on a busy 2-core machine.
PREFECT_STARTUP_TIMEOUT_S = 180
TIANDITU_URL = "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk="
DATUMS = ("wgs84", "gcj02")  # what the map tiles can be drawn in
_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


def default_db_url(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    """The embedded default: a SQLite file under var/ (relative to the working directory)."""
    return f"sqlite:///{var_dir / 'patrol.sqlite3'}"


def safe_url(url: str) -> str:
    """A database URL fit for logs, run parameters and artifacts: its password masked and its query
    (which may carry one too) left out; something that does not parse is shown as its scheme only."""
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url.split(":", 1)[0] + "://..." if ":" in url else "(not a database URL)"
    return parsed.set(query={}).render_as_string(hide_password=True)


class DatabaseUrl(SecretStr):
    """A case database URL that shows itself only as `safe_url` gives it: in reprs, logs and the JSON
    Prefect stores as run parameters (its encoder writes str() of a SecretStr). `get_secret_value()` is the
    URL itself, for the engine."""

    def __str__(self) -> str:
        return safe_url(self.get_secret_value())

    def __repr__(self) -> str:
        return f"DatabaseUrl({str(self)!r})"


@dataclass(frozen=True)
class Settings:
    db_url: str
    data_root: Path  # evidence crops and other files the database refers to by path
    push_url: str | None = None  # Open311 / webhook endpoint that confirmed cases are pushed to
    push_token: str | None = None  # sent as a bearer token when set
    categories_path: Path | None = None  # None: the defaults shipped in pipeline/cases/categories.toml
    media_base_url: str | None = None  # public base URL of the review app, for Open311 media_url
    local_tz: str = DEFAULT_TZ  # the bureau's zone: capture times that carry no offset, night summaries
    closed_seen_again: str = "new_linked"  # or "reopen": what a sighting of a closed case does
    lease_s: int = 900  # how long a reviewer's claim on a case lasts
    max_pixels: int = DEFAULT_MAX_PIXELS  # frames declaring more are refused unread (PATROL_MAX_PIXELS)
    model: Path | None = None  # the model card (PATROL_MODEL); None: the shipped one
    inbox: Path | None = None  # where uploads land (PATROL_INBOX); None: data_root/inbox
    dask_address: str | None = None  # fan frames out over this Dask scheduler (PATROL_DASK_ADDRESS)
    nightly_cron: str = DEFAULT_CRON  # `patrol serve`'s schedule (PATROL_NIGHTLY_CRON)
    nightly_tz: str = DEFAULT_TZ  # ... in this zone (PATROL_NIGHTLY_TZ)

    @property
    def inbox_dir(self) -> Path:
        return self.inbox if self.inbox is not None else self.data_root / "inbox"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings in `env` (default: the process environment), each checked; PipelineError naming the
    variable and the reason for the first bad one."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("PATROL_VAR_DIR", str(DEFAULT_VAR_DIR)))
    categories = env.get("PATROL_CATEGORIES")
    model = env.get("PATROL_MODEL")
    inbox = env.get("PATROL_INBOX")
    return Settings(
        db_url=env.get("PATROL_DB_URL") or default_db_url(var_dir),
        data_root=Path(env.get("PATROL_DATA_ROOT", str(var_dir / "data"))),
        push_url=env.get("PATROL_PUSH_URL") or None,
        push_token=env.get("PATROL_PUSH_TOKEN") or None,
        categories_path=Path(categories) if categories else None,
        media_base_url=env.get("PATROL_MEDIA_BASE_URL") or None,
        local_tz=_zone(env, "PATROL_LOCAL_TZ"),
        closed_seen_again=_choice(env, "PATROL_CLOSED_SEEN_AGAIN", CLOSED_POLICIES),
        lease_s=_positive_int(env, "PATROL_LEASE_S", 900),
        max_pixels=_positive_int(env, "PATROL_MAX_PIXELS", DEFAULT_MAX_PIXELS),
        model=Path(model) if model else None,
        inbox=Path(inbox) if inbox else None,
        dask_address=env.get("PATROL_DASK_ADDRESS") or None,
        nightly_cron=_cron(env, "PATROL_NIGHTLY_CRON"),
        nightly_tz=_zone(env, "PATROL_NIGHTLY_TZ"),
    )


@dataclass(frozen=True)
class ReviewSettings:
    """The review app's part of the environment (PATROL_SECRET_KEY, PATROL_MAP_*, ...), checked."""

    secret_key: str | None = None  # signs session cookies; None: a random one per start
    tile_url: str | None = None  # a Leaflet URL template; None: cases on a plain coordinate grid
    tile_datum: str = "wgs84"  # the datum the tiles are drawn in: gcj02 for AMap-style tiles
    tile_attribution: str = ""
    tile_subdomains: str = "abc"
    cookie_secure: bool = False  # set when served over HTTPS (behind the bureau's proxy)
    presets_path: Path | None = None  # PATROL_REVIEW_SETTINGS; None: the shipped review.toml


def load_review_settings(env: Mapping[str, str] | None = None) -> ReviewSettings:
    """The review app's settings in `env` (default: the process environment); PipelineError naming the
    variable and the reason for the first bad one."""
    env = os.environ if env is None else env
    tile_url = env.get("PATROL_MAP_TILES") or None
    datum = env.get("PATROL_MAP_DATUM", "").strip()
    subdomains = env.get("PATROL_MAP_SUBDOMAINS", "abc")
    attribution = env.get("PATROL_MAP_ATTRIBUTION", "")
    key = env.get("PATROL_TIANDITU_KEY")
    if not tile_url and key:
        # Tianditu draws in CGCS2000, within centimetres of WGS84.
        tile_url, datum, subdomains = TIANDITU_URL + key, datum or "wgs84", "01234567"
        attribution = attribution or "天地图"
    datum = datum or "wgs84"
    if datum not in DATUMS:
        raise PipelineError(f"PATROL_MAP_DATUM must be one of {', '.join(DATUMS)}, not {datum!r}")
    presets = env.get("PATROL_REVIEW_SETTINGS")
    return ReviewSettings(
        secret_key=env.get("PATROL_SECRET_KEY") or None,
        tile_url=tile_url,
        tile_datum=datum,
        tile_attribution=attribution,
        tile_subdomains=subdomains,
        cookie_secure=_flag(env, "PATROL_COOKIE_SECURE"),
        presets_path=Path(presets) if presets else None,
    )


def export_env(
    defaults: Mapping[str, str] | None = None, *, forced: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Put settings where third-party libraries and child processes read them: the process environment.
    `defaults` only where the variable is not set (an operator's own setting wins), `forced` always.
    Returns the value now in effect for each variable named."""
    for name, value in (defaults or {}).items():
        os.environ.setdefault(name, value)
    for name, value in (forced or {}).items():
        os.environ[name] = value
    return {name: os.environ[name] for name in {**(defaults or {}), **(forced or {})}}


def check_zone(name: str, what: str) -> str:
    """`name` when it is an IANA time zone (Asia/Shanghai); PipelineError saying `what` it was for."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PipelineError(f"{what} must be a time zone such as {DEFAULT_TZ}, not {name!r}") from None
    return name


def check_cron(expr: str, what: str) -> str:
    """`expr` when it is a five-field cron expression whose fields hold only cron's characters."""
    fields = expr.split()
    allowed = set("0123456789*/,-?LW#abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if len(fields) != 5 or any(set(f) - allowed for f in fields):
        raise PipelineError(f"{what} must be a cron expression such as '{DEFAULT_CRON}', not {expr!r}")
    return expr


def _zone(env: Mapping[str, str], name: str) -> str:
    raw = (env.get(name) or "").strip()
    return check_zone(raw, name) if raw else DEFAULT_TZ


def _cron(env: Mapping[str, str], name: str) -> str:
    raw = (env.get(name) or "").strip()
    return check_cron(raw, name) if raw else DEFAULT_CRON


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise PipelineError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in _YES + _NO:
        raise PipelineError(f"{name} must be true or false (1, yes, on / 0, no, off), not {env[name]!r}")
    return raw in _YES


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise PipelineError(f"{name} must be a positive whole number, not {raw!r}")
    return value
