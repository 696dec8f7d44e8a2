"""The review app's own settings (PATROL_REVIEW_*, PATROL_MAP_*), read once by the entry point."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import PipelineError
from pipeline.review.presets import Presets, load_presets

TIANDITU_URL = "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk="
DATUMS = ("wgs84", "gcj02")


@dataclass(frozen=True)
class ReviewConfig:
    secret_key: str  # signs session cookies; random per process when not configured
    inbox: Path  # where uploads land (the nightly run's inbox)
    tile_url: str | None = None  # a Leaflet URL template; None: cases on a plain coordinate grid
    tile_datum: str = "wgs84"  # the datum the tiles are drawn in: gcj02 for AMap-style tiles
    tile_attribution: str = ""
    tile_subdomains: str = "abc"
    cookie_secure: bool = False  # set when served over HTTPS (behind the bureau's proxy)
    session_hours: float = 12.0
    login_max_failures: int = 5  # per name from one address; 4x that per address and per name (all addresses)
    login_window_s: int = 900
    max_upload_files: int = 5000
    max_upload_bytes: int = 40 << 30
    presets: Presets = field(default_factory=load_presets)  # PATROL_REVIEW_SETTINGS, else review.toml

    @property
    def tile_origin(self) -> str | None:
        """scheme://host of the tile server, for the Content-Security-Policy."""
        if not self.tile_url:
            return None
        parts = urlsplit(self.tile_url.replace("{s}", "*"))
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


def load_review_config(env: Mapping[str, str] | None = None, *, data_root: Path) -> ReviewConfig:
    env = os.environ if env is None else env
    tile_url = env.get("PATROL_MAP_TILES") or None
    datum = env.get("PATROL_MAP_DATUM", "")
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
    return ReviewConfig(
        # No default secret: an unset key means a fresh one per start (everyone signs in again).
        secret_key=env.get("PATROL_SECRET_KEY") or secrets.token_urlsafe(32),
        inbox=Path(env.get("PATROL_INBOX", str(data_root / "inbox"))),
        tile_url=tile_url,
        tile_datum=datum,
        tile_attribution=attribution,
        tile_subdomains=subdomains,
        cookie_secure=env.get("PATROL_COOKIE_SECURE", "") in ("1", "true", "yes"),
        presets=load_presets(
            Path(env["PATROL_REVIEW_SETTINGS"]) if env.get("PATROL_REVIEW_SETTINGS") else None
        ),
    )
