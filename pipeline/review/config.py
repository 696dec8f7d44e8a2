"""The review app's configuration: its settings from the environment (`pipeline.config.ReviewSettings`)
composed with the pipeline's, built once by the entry point."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.config import ReviewSettings, Settings, load_review_settings
from pipeline.review.presets import Presets, load_presets


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


def review_config(settings: Settings, review: ReviewSettings | None = None) -> ReviewConfig:
    """The app's configuration: `review` (default: the environment's, checked) over `settings`' inbox."""
    review = load_review_settings() if review is None else review
    return ReviewConfig(
        # No default secret: an unset key means a fresh one per start (everyone signs in again).
        secret_key=review.secret_key or secrets.token_urlsafe(32),
        inbox=settings.inbox_dir,
        tile_url=review.tile_url,
        tile_datum=review.tile_datum,
        tile_attribution=review.tile_attribution,
        tile_subdomains=review.tile_subdomains,
        cookie_secure=review.cookie_secure,
        presets=load_presets(review.presets_path),
    )
