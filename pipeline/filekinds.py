"""What a file is, judged by its bytes: the one classifier upload, ingest, the demo and the review app share.

Names and the first four bytes decide nothing on their own. A JPEG is a start-of-image marker followed by a
chain of well-formed segments up to a frame header and the scan; an MP4/MOV is an ISO base-media `ftyp` box
naming a video brand followed by a chain of top-level boxes that holds the movie index (`moov`); DJI `.SRT`
telemetry and text side files are UTF-8 text. HEIC/HEIF/AVIF photos share MP4's container and are refused by
their brands, as are DNG/TIFF raw photos (the pipeline reads neither).

`classify(name, read_at, size)` is pure over a reader of byte ranges; `classify_file(path)` is the I/O edge,
and refuses anything that is not a regular file (a FIFO named `.JPG` is never opened).
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

JPEG = "jpeg"
PNG = "png"
VIDEO = "video"
TELEMETRY = "telemetry"
TEXT = "text"
ZIP = "zip"

SIDECAR_SUFFIXES = frozenset({".json", ".geojson", ".txt", ".yaml", ".yml", ".csv"})
SIDECAR_MAX_BYTES = 16 << 20
TELEMETRY_MAX_BYTES = 256 << 20
# The media types /files/ may show inline: pictures and videos only, never anything a browser runs.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4", "video/quicktime"})
OCTET = "application/octet-stream"

# ISO BMFF brands of video files (ISO/IEC 14496-12/-14/-15, QuickTime, 3GPP, Apple M4V, Sony XAVC).
VIDEO_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso3",
        b"iso4",
        b"iso5",
        b"iso6",
        b"iso7",
        b"iso8",
        b"iso9",
        b"mp41",
        b"mp42",
        b"avc1",
        b"hvc1",
        b"qt  ",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"mmp4",
        b"3gp4",
        b"3gp5",
        b"3gp6",
        b"3g2a",
        b"XAVC",
        b"MSNV",
        b"dash",
    }
)
# Still-image brands of the same container (HEIF, HEIC, AVIF): photos this pipeline does not process.
IMAGE_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"mif2", b"msf1", b"avif", b"avis"}
)
_TOP_BOXES = frozenset(
    {
        b"ftyp",
        b"moov",
        b"mdat",
        b"free",
        b"skip",
        b"wide",
        b"uuid",
        b"meta",
        b"pdin",
        b"moof",
        b"mfra",
        b"sidx",
        b"styp",
        b"udta",
        b"junk",
        b"pnot",
        b"PICT",
        b"prfl",
        b"ssix",
        b"prft",
        b"emsg",
    }
)
# JPEG markers that may precede the scan: frame headers, tables, restart interval, application, comment.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_TABLES = frozenset({0xC4, 0xCC, 0xDB, 0xDD, 0xDC, 0xDE, 0xDF, 0xFE}) | frozenset(range(0xE0, 0xF0))
_MAX_SEGMENTS = 512
_MAX_BOXES = 4096
_TAIL = 1024
_TEXT_HEAD = 64 * 1024

ReadAt = Callable[[int, int], bytes]  # (offset, length) -> at most length bytes


@dataclass(frozen=True)
class FileKind:
    """What a file is: `kind` (JPEG, PNG, VIDEO, TELEMETRY, TEXT, ZIP) or "" with the reason it is unusable.

    `media_type` is what the review app may serve it as; `width_px`/`height_px` are a picture's declared size
    (from its header, before any decoding), where the kind has one.
    """

    kind: str
    media_type: str = OCTET
    reason: str = ""
    width_px: int | None = None
    height_px: int | None = None

    @property
    def inline(self) -> bool:
        """Whether a browser may show it in place (a picture or a video; nothing that runs)."""
        return self.media_type in INLINE_TYPES


def _refuse(reason: str) -> FileKind:
    return FileKind("", OCTET, reason)


def classify(name: str, read_at: ReadAt, size: int) -> FileKind:
    """What the `size` bytes behind `read_at` are; `name` matters only for text (`.SRT` or a side file)."""
    if size == 0:
        return _refuse("empty file")
    head = read_at(0, 64)
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg(read_at, size)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(head)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _refuse("DNG/TIFF raw photos are not processed: upload the camera's JPEGs")
    if head[4:8] == b"ftyp":
        return _bmff(read_at, size)
    if head.startswith(b"PK\x03\x04"):
        return FileKind(ZIP, OCTET)
    return _text(name, read_at, size)


def classify_file(path: Path, name: str | None = None) -> FileKind:
    """`classify` over a file on disk (links followed); anything but a regular file is refused unopened."""
    try:
        st = os.stat(path)
    except OSError as err:
        return _refuse(f"cannot read: {err.strerror or err}")
    if not stat.S_ISREG(st.st_mode):
        return _refuse("not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        return _refuse(f"cannot read: {err.strerror or err}")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the stat
            return _refuse("not a regular file")
        return classify(name or path.name, lambda offset, length: os.pread(fd, length, offset), st.st_size)
    except OSError as err:
        return _refuse(f"cannot read: {err.strerror or err}")
    finally:
        os.close(fd)


# --- pictures --------------------------------------------------------------------------------------


def _jpeg(read_at: ReadAt, size: int) -> FileKind:
    """SOI, then segments (each `FF xx` with a length that stays inside the file) up to a frame header and
    the start of scan; and the end-of-image marker near the end (else the file was cut short)."""
    pos, width, height = 2, None, None
    for _ in range(_MAX_SEGMENTS):
        marker = read_at(pos, 4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return _refuse("not a JPEG: its segments are broken")
        code = marker[1]
        if code == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        length = int.from_bytes(marker[2:4], "big")
        if length < 2 or pos + 2 + length > size:
            return _refuse("not a JPEG: a segment runs past the end of the file")
        if code in _SOF:
            frame = read_at(pos + 4, 5)
            if len(frame) < 5:
                return _refuse("not a JPEG: its frame header is cut short")
            height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
            if width == 0:
                return _refuse("JPEG with a frame width of 0")
        elif code == 0xDA:
            if width is None:
                return _refuse("not a JPEG: image data before any frame header")
            if b"\xff\xd9" not in read_at(max(0, size - _TAIL), _TAIL):
                return _refuse("JPEG without its end marker: the file is truncated")
            return FileKind(JPEG, "image/jpeg", "", width, height)
        elif code not in _TABLES:
            return _refuse(f"not a JPEG: unexpected marker FF{code:02X}")
        pos += 2 + length
    return _refuse("not a JPEG: too many segments before the image data")


def _png(head: bytes) -> FileKind:
    if len(head) < 24 or head[12:16] != b"IHDR" or int.from_bytes(head[8:12], "big") != 13:
        return _refuse("not a PNG: no image header")
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return FileKind(PNG, "image/png", "", width, height)


# --- video -----------------------------------------------------------------------------------------


def _bmff(read_at: ReadAt, size: int) -> FileKind:
    """An ISO base-media file: the `ftyp` brands say what it holds; the top-level boxes must chain exactly to
    the end of the file (or to a last box that runs to it) and include the movie index `moov`."""
    box = read_at(0, 8)
    ftyp_size = int.from_bytes(box[:4], "big")
    if ftyp_size < 16 or ftyp_size > 4096 or ftyp_size > size or (ftyp_size - 16) % 4:
        return _refuse("not a video: a broken ftyp box")
    body = read_at(8, ftyp_size - 8)
    brands = {body[:4]} | {body[i : i + 4] for i in range(8, len(body), 4)}
    if body[:4] in IMAGE_BRANDS or (brands & IMAGE_BRANDS and not brands & VIDEO_BRANDS):
        which = "AVIF" if body[:4] in (b"avif", b"avis") else "HEIC"
        return _refuse(f"{which} photos are not processed: convert them to JPEG")
    if not brands & VIDEO_BRANDS:
        shown = body[:4].decode("latin-1").strip() or "?"
        return _refuse(f"not a video this pipeline reads (ftyp brand {shown!r})")
    pos, seen = ftyp_size, set()
    for _ in range(_MAX_BOXES):
        if pos == size:
            break
        header = read_at(pos, 16)
        if len(header) < 8:
            return _refuse("video cut short inside a box header: the file is truncated")
        length, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if length == 1:
            if len(header) < 16:
                return _refuse("video cut short inside a box header: the file is truncated")
            length = int.from_bytes(header[8:16], "big")
        elif length == 0:
            length = size - pos  # the last box runs to the end of the file
        if kind not in _TOP_BOXES or length < 8:
            return _refuse("not a video: its boxes are broken")
        if pos + length > size:
            return _refuse("video cut short: a box runs past the end of the file")
        seen.add(kind)
        pos += length
    else:
        return _refuse("not a video: too many boxes")
    if b"moov" not in seen:
        return _refuse("video without its index (moov box): the recording was cut off")
    media = "video/quicktime" if body[:4] == b"qt  " else "video/mp4"
    return FileKind(VIDEO, media)


# --- text ------------------------------------------------------------------------------------------


def _text(name: str, read_at: ReadAt, size: int) -> FileKind:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix != ".srt" and suffix not in SIDECAR_SUFFIXES:
        return _refuse("not a photo, video or telemetry file")
    limit = TELEMETRY_MAX_BYTES if suffix == ".srt" else SIDECAR_MAX_BYTES
    if size > limit:
        return _refuse(f"{suffix} file larger than {limit >> 20} MiB")
    head = read_at(0, _TEXT_HEAD)
    if b"\x00" in head:
        return _refuse(f"{suffix} file that is not text")
    try:
        # A character cut in half at the edge of the sample is not an error; one inside it is.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=size <= _TEXT_HEAD)
    except UnicodeDecodeError:
        return _refuse(f"{suffix} file that is not UTF-8 text")
    if suffix == ".srt":
        return FileKind(TELEMETRY) if "-->" in text else _refuse("not DJI .SRT telemetry")
    return FileKind(TEXT)
