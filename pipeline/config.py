"""Settings from the environment (PATROL_*) and command-line flags, built once in an entry point.

Nothing here runs at import time: `load_settings()` reads the environment when called, and flags override
what it returns through `dataclasses.replace`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VAR_DIR = Path("var")
# Frames declaring more pixels than this are refused by their header, before decoding (a 674-byte JPEG can
# declare 20000 x 20000). The largest drone cameras make about 100-150 MP frames (Phase One iXM-100/-GS120);
# 200 MP decodes to 600 MB of BGR pixels, which a worker can hold.
DEFAULT_MAX_PIXELS = 200_000_000


def default_db_url(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    """The embedded default: a SQLite file under var/ (relative to the working directory)."""
    return f"sqlite:///{var_dir / 'patrol.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    db_url: str
    data_root: Path  # evidence crops and other files the database refers to by path
    push_url: str | None = None  # Open311 / webhook endpoint that confirmed cases are pushed to
    push_token: str | None = None  # sent as a bearer token when set
    categories_path: Path | None = None  # None: the defaults shipped in pipeline/cases/categories.toml
    media_base_url: str | None = None  # public base URL of the review app, for Open311 media_url
    local_tz: str = "Asia/Shanghai"  # the zone of capture times that carry no offset
    closed_seen_again: str = "new_linked"  # or "reopen": what a sighting of a closed case does
    lease_s: int = 900  # how long a reviewer's claim on a case lasts
    max_pixels: int = DEFAULT_MAX_PIXELS  # frames declaring more are refused unread (PATROL_MAX_PIXELS)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    var_dir = Path(env.get("PATROL_VAR_DIR", str(DEFAULT_VAR_DIR)))
    categories = env.get("PATROL_CATEGORIES")
    return Settings(
        db_url=env.get("PATROL_DB_URL") or default_db_url(var_dir),
        data_root=Path(env.get("PATROL_DATA_ROOT", str(var_dir / "data"))),
        push_url=env.get("PATROL_PUSH_URL") or None,
        push_token=env.get("PATROL_PUSH_TOKEN") or None,
        categories_path=Path(categories) if categories else None,
        media_base_url=env.get("PATROL_MEDIA_BASE_URL") or None,
        local_tz=env.get("PATROL_LOCAL_TZ", "Asia/Shanghai"),
        closed_seen_again=env.get("PATROL_CLOSED_SEEN_AGAIN", "new_linked"),
        lease_s=int(env.get("PATROL_LEASE_S", "900")),
        max_pixels=_positive_int(env, "PATROL_MAX_PIXELS", DEFAULT_MAX_PIXELS),
    )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        from pipeline.errors import PipelineError

        raise PipelineError(f"{name} must be a positive whole number, not {raw!r}")
    return value
