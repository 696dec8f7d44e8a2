"""Metadata readers: photo EXIF/XMP, DJI video telemetry (.SRT), camera intrinsics; and the writer (write.py)
that puts a pose back into a JPEG the same readers read.

The public entry points the CLI and the ingest stage call; the modules behind them are small and pure,
with file I/O only in `read_image_meta`, `read_many` and `read_srt`.
"""

from __future__ import annotations

from pipeline.metadata.cameras import CAMERAS, Camera, camera_for, intrinsics_for
from pipeline.metadata.reader import MetaResult, image_meta_from_bytes, read_image_meta, read_many
from pipeline.metadata.srt import parse_srt, read_srt

__all__ = [
    "CAMERAS",
    "Camera",
    "MetaResult",
    "camera_for",
    "image_meta_from_bytes",
    "intrinsics_for",
    "parse_srt",
    "read_image_meta",
    "read_many",
    "read_srt",
]
