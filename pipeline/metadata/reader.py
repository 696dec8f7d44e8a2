"""One photo's metadata: the file read at the edge, everything after it pure.

`read_image_meta` raises MetadataError only where the file is not an image at all (empty, unreadable, not a
JPEG/TIFF/PNG ...); everything odd inside an image becomes a short string in `ImageMeta.problems`.
`read_many` never raises: one bad file must not stop the others.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.config import DEFAULT_MAX_PIXELS
from pipeline.errors import MetadataError, PixelLimitError
from pipeline.metadata import jpeg
from pipeline.metadata.exif import ExifFields, exif_fields, read_tags
from pipeline.metadata.pixels import check_size, declared_size
from pipeline.metadata.xmp import XmpFields, parse_xmp
from pipeline.types import ImageMeta, flat_fields

MAX_READ_BYTES = 64 * 1024 * 1024  # metadata sits at the front; a bigger file is read only this far
# Which position a photo has, when EXIF GPS and XMP both give one (the same rule for every vendor: DJI,
# Autel and Skydio write both from the same fix, Parrot writes position to EXIF only):
# - they agree within POSITION_DISAGREEMENT_M (a consumer GNSS fix's error): EXIF wins, the standard tag
#   every map and tool reads;
# - EXIF lacks a hemisphere ref and the signed XMP value has the same magnitude: XMP gives the sign;
# - EXIF has none: XMP's;
# - they disagree beyond it (EXIF refs S/W against positive XMP: 25 806 km): neither can be trusted, the
#   photo has no position and `POSITION_CONFLICT` among its problems, and ingest refuses the frame (a
#   failed frame in the flight summary), so no case opens on the wrong side of the Earth.
POSITION_DISAGREEMENT_M = 50.0
POSITION_CONFLICT = "EXIF and XMP positions differ by"


@dataclass(frozen=True)
class MetaResult:
    """One file's outcome in `read_many`: the metadata, or the one-line reason it has none."""

    path: str
    meta: ImageMeta | None
    error: str | None = None


def _read_prefix(path: Path) -> tuple[bytes, bool]:
    """(bytes, whole_file_read)."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            # read(n) allocates n bytes up front: ask for no more than the file holds
            data = fh.read(min(size, MAX_READ_BYTES))
    except OSError as exc:
        raise MetadataError(f"cannot read: {exc.strerror or exc}", str(path)) from exc
    return data, size <= MAX_READ_BYTES


def _other_image_size(data: bytes, path: str) -> tuple[int, int]:
    """Size of a non-JPEG image from its header via Pillow (lazy: no pixel decoding)."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: we never decode
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError:
        raise PixelLimitError("image header declares a decompression-bomb size: not decoded", path) from None
    # ImportError too: an imported ultralytics patches Image.open to import pi_heif on unknown files (see
    # pipeline.detect.offline); whatever Pillow's opener raises, the answer is the same.
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, ImportError) as exc:
        head = data[:8]
        raise MetadataError(f"not an image (starts with {head!r})", path) from exc


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: plenty for telling 1 m from 50 m."""
    k = math.pi / 180.0 * 6_371_000.0
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2.0)) * k
    dy = (lat2 - lat1) * k
    return math.hypot(dx, dy)


def _merge_position(ex: ExifFields, xm: XmpFields, problems: list[str]) -> tuple[float | None, float | None]:
    lat, lon = ex.lat, ex.lon
    # A missing EXIF hemisphere ref leaves the sign a guess; a signed XMP value answers it.
    if ex.lat_ref_missing and xm.lat is not None and lat is not None and abs(abs(xm.lat) - lat) < 1e-4:
        lat = xm.lat
    if ex.lon_ref_missing and xm.lon is not None and lon is not None and abs(abs(xm.lon) - lon) < 1e-4:
        lon = xm.lon
    if lat is None or lon is None:
        if xm.lat is not None and xm.lon is not None:
            lat, lon = xm.lat, xm.lon
        else:
            lat = lon = None
    elif xm.lat is not None and xm.lon is not None and not (xm.lat == 0.0 and xm.lon == 0.0):
        gap = _distance_m(lat, lon, xm.lat, xm.lon)
        if gap > POSITION_DISAGREEMENT_M:
            problems.append(
                f"{POSITION_CONFLICT} {gap:.0f} m (EXIF {lat:.6f}, {lon:.6f}; "
                f"XMP {xm.lat:.6f}, {xm.lon:.6f}), more than the {POSITION_DISAGREEMENT_M:g} m "
                "a GPS fix may be off: no position trusted"
            )
            return None, None
    if lat is not None and lon is not None and lat == 0.0 and lon == 0.0:
        problems.append("GPS position is (0, 0): no fix")
        return None, None
    return lat, lon


def image_meta_from_bytes(
    data: bytes, path: str, whole_file: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageMeta:
    """Pure: the metadata of an image given its bytes (or its first MAX_READ_BYTES). PixelLimitError (a
    MetadataError) when its header declares more than `max_pixels`: such a file is refused, not described."""
    if not data:
        raise MetadataError("empty file (0 bytes)", path)
    problems: list[str] = []
    xmp_packet: bytes | None
    if jpeg.is_jpeg(data):
        header = jpeg.read_header(data)
        width, height = header.width, header.height
        if width is None or height is None or width == 0 or height == 0:
            problems.append("truncated or damaged JPEG: no frame header")
            width = height = None
        elif not header.complete:
            problems.append("truncated JPEG: no image data")
        elif whole_file and not jpeg.ends_cleanly(data):
            problems.append("truncated JPEG: no end-of-image marker")
        xmp_packet = header.xmp or jpeg.find_xmp_anywhere(data)
    else:
        declared = declared_size(data)  # before Pillow, whose own bomb limit is lower than ours
        if declared is not None:
            check_size(declared[0], declared[1], path, max_pixels)
        width, height = _other_image_size(data, path)
        xmp_packet = jpeg.find_xmp_anywhere(data)
    if width and height:
        check_size(width, height, path, max_pixels)

    try:
        ex = exif_fields(read_tags(data))
    except (
        Exception
    ) as exc:  # exifread on hostile bytes can raise almost anything; a file must not sink a run
        ex = ExifFields(problems=(f"EXIF unreadable ({type(exc).__name__})",))
    problems += ex.problems
    xm = parse_xmp(xmp_packet) if xmp_packet is not None else XmpFields()
    problems += xm.problems

    lat, lon = _merge_position(ex, xm, problems)
    if lat is None and not any("GPS" in p for p in problems):
        problems.append("no GPS position")
    abs_alt = ex.alt_m if ex.alt_m is not None else xm.abs_alt_m
    meta = ImageMeta(
        path=path,
        width=width,
        height=height,
        make=ex.make or xm.make,
        model=ex.model or xm.model,
        captured_at=ex.captured_at,
        lat=lat,
        lon=lon,
        abs_alt_m=abs_alt,
        rel_alt_m=xm.rel_alt_m,
        gimbal=xm.gimbal,
        flight=xm.flight,
        focal_mm=ex.focal_mm,
        focal_35mm=ex.focal_35mm,
        focal_plane_px_per_mm=ex.focal_plane_px_per_mm,
        calibrated_focal_px=xm.calibrated_focal_px,
        calibrated_cx_px=xm.calibrated_cx_px,
        calibrated_cy_px=xm.calibrated_cy_px,
        exif_width=ex.width,
        exif_height=ex.height,
        rtk_flag=None if xm.rtk_flag is None else int(xm.rtk_flag),
        rtk_std_lat_m=xm.rtk_std_lat_m,
        rtk_std_lon_m=xm.rtk_std_lon_m,
        rtk_std_hgt_m=xm.rtk_std_hgt_m,
        problems=tuple(dict.fromkeys(problems)),
    )
    # What XMP stated and could not be read, where no other source gave the field a value.
    values = flat_fields(meta)
    bad = tuple((name, what) for name, what in xm.unreadable if values.get(name, 0) is None)
    return replace(meta, unreadable=bad) if bad else meta


def position_conflict(meta: ImageMeta) -> str | None:
    """The problem that says the photo's EXIF and XMP positions contradict each other, if one does."""
    return next((p for p in meta.problems if p.startswith(POSITION_CONFLICT)), None)


def read_image_meta(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageMeta:
    """Metadata of one photo. Raises MetadataError (naming the file) only for a file that is not an image,
    or one whose header declares more than `max_pixels` (PixelLimitError)."""
    p = Path(path)
    if p.is_dir():
        raise MetadataError("is a directory", str(p))
    if p.exists() and not p.is_file():  # a FIFO or device named .JPG: opening it could block forever
        raise MetadataError("not a regular file", str(p))
    data, whole = _read_prefix(p)
    return image_meta_from_bytes(data, str(p), whole_file=whole, max_pixels=max_pixels)


def read_many(paths: Iterable[str | Path], max_pixels: int = DEFAULT_MAX_PIXELS) -> list[MetaResult]:
    """Per-file results, in order; a file that cannot be read gives an error line, not an exception."""
    results: list[MetaResult] = []
    for path in paths:
        try:
            results.append(MetaResult(str(path), read_image_meta(path, max_pixels)))
        except MetadataError as exc:
            results.append(MetaResult(str(path), None, str(exc)))
    return results
