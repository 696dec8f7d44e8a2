"""Pixel bombs: an image's declared size, read from its header before any decoding, against a stated limit.

A 674-byte JPEG can declare 20000 x 20000 pixels (1.2 GB once decoded); a 65000 x 65000 one makes OpenCV
refuse with a raw error. Every reader of pixels (`meta`, `detect`, `process` through `ingest.load_frame`,
upload) asks `check_image_file` first: it reads only the header and raises PixelLimitError naming the file.

`declared_size` is pure over the file's first bytes: the JPEG frame header (our own marker walk), the PNG
IHDR chunk, or Pillow's lazy open for other formats (which parses the header only).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import DEFAULT_MAX_PIXELS
from pipeline.errors import MetadataError, PixelLimitError
from pipeline.metadata import jpeg

HEAD_BYTES = 1 << 20  # the frame header follows EXIF/XMP segments: within the first MiB of a camera JPEG
MAX_HEAD_BYTES = 16 << 20  # a JPEG whose header is not found in 1 MiB is read this far before giving up
_PNG = b"\x89PNG\r\n\x1a\n"


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) the header declares; None when these bytes do not say (not an image, cut short)."""
    if jpeg.is_jpeg(data):
        header = jpeg.read_header(data)
        if header.width and header.height:
            return header.width, header.height
        return None
    if data.startswith(_PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return _pillow_size(data)


def _pillow_size(data: bytes) -> tuple[int, int] | None:
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: nothing is decoded here
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                return int(width), int(height)
    except Image.DecompressionBombError as err:
        # Pillow refuses to open what declares over twice its own limit; its message holds the count.
        return _size_from_bomb_message(str(err))
    except Exception:  # whatever Pillow's openers raise on hostile bytes: the header does not say
        return None


def _size_from_bomb_message(message: str) -> tuple[int, int] | None:
    import re

    m = re.search(r"\((\d+) pixels\)", message)
    return (int(m.group(1)), 1) if m else (1 << 31, 1)


def check_size(width: int, height: int, path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """PixelLimitError when width x height exceeds `max_pixels`."""
    if width * height > max_pixels:
        shown = f"{width}x{height}" if height > 1 else f"{width} pixels"
        raise PixelLimitError(
            f"image declares {shown} ({width * height / 1e6:.0f} MP), over the "
            f"{max_pixels / 1e6:g} MP limit (PATROL_MAX_PIXELS): not decoded",
            path,
        )


def _head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(min(size, os.fstat(fh.fileno()).st_size))
    except OSError as err:
        raise MetadataError(f"cannot read: {err.strerror or err}", str(path)) from None


def check_image_file(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int] | None:
    """The declared (width, height) of an image file, read from its header only; PixelLimitError naming the
    file when it is over `max_pixels`. None when the header does not say (the decoder then decides)."""
    data = _head(path, HEAD_BYTES)
    found = declared_size(data)
    if found is None and jpeg.is_jpeg(data) and len(data) == HEAD_BYTES:
        found = declared_size(_head(path, MAX_HEAD_BYTES))
    if found is not None:
        check_size(found[0], found[1], str(path), max_pixels)
    return found
