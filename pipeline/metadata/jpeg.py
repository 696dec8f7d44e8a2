"""JPEG marker walking: image size from the frame header and the XMP packet, without decoding pixels.

Reading the SOF header ourselves means a 30000 x 30000 "decompression bomb" costs a few bytes of parsing and
no allocation, and the size we report is the size of the pixels actually stored (EXIF dimensions are often
left unchanged by tools that resize).
"""

from __future__ import annotations

from dataclasses import dataclass

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"

# Start-of-frame markers (baseline, progressive, lossless, arithmetic ...). C4 (DHT), C8 (JPG) and CC (DAC)
# share the range but are not frame headers.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_SOS = 0xDA


@dataclass(frozen=True)
class JpegHeader:
    """What the marker segments before the first scan say."""

    width: int | None
    height: int | None
    xmp: bytes | None  # the first standard XMP packet in an APP1 segment
    complete: bool  # False where the segments end (truncated) before the frame header / first scan


def is_jpeg(data: bytes) -> bool:
    return data[:2] == SOI


def read_header(data: bytes) -> JpegHeader:
    """Walk the marker segments up to the first scan. Never raises on malformed input."""
    width: int | None = None
    height: int | None = None
    xmp: bytes | None = None
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            # Garbage between segments: some writers pad; resynchronise on the next 0xFF.
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                break
            pos = nxt
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:  # EOI before any scan
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            break
        seg_start = pos + 4
        seg_end = pos + 2 + length
        if seg_end > n:
            break
        segment = data[seg_start:seg_end]
        if marker in _SOF_MARKERS and len(segment) >= 5 and width is None:
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
        elif marker == 0xE1 and xmp is None and segment.startswith(XMP_HEADER):
            xmp = segment[len(XMP_HEADER) :]
        if marker == _SOS:
            return JpegHeader(width, height, xmp, complete=width is not None)
        pos = seg_end
    return JpegHeader(width, height, xmp, complete=False)


def find_xmp_anywhere(data: bytes) -> bytes | None:
    """The first `<x:xmpmeta>` (or bare `<rdf:RDF>`) packet anywhere in the bytes.

    A fallback for files whose XMP is not in a standard APP1 segment (other containers, odd writers).
    """
    # `x:xapmeta` is the wrapper of XMP's first years, which some cameras' firmware still writes.
    wrappers = (
        (b"<x:xmpmeta", b"</x:xmpmeta>"),
        (b"<x:xapmeta", b"</x:xapmeta>"),
        (b"<rdf:RDF", b"</rdf:RDF>"),
    )
    for start_tag, end_tag in wrappers:
        start = data.find(start_tag)
        if start < 0:
            continue
        end = data.find(end_tag, start)
        if end < 0:
            return data[start:]  # truncated packet: let the parser report it
        return data[start : end + len(end_tag)]
    return None


def ends_cleanly(data: bytes) -> bool:
    """Whether the data ends with an EOI marker (trailing zero padding, which some cameras add, ignored)."""
    return data.rstrip(b"\x00").endswith(EOI)
