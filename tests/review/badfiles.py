"""Bytes of good and bad files, built in code: the rows of the classifier, upload and /files/ tables.

The polyglots are the ones of issue 11: text a browser would run (HTML, JavaScript) whose bytes 4-8 read
`ftyp`, which a 4-byte sniff took for a video.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
JPEG = (ROOT / "sample_flights" / "nadir_mapping" / "DJI_0001.JPG").read_bytes()
MP4 = (ROOT / "sample_flights" / "video_patrol" / "DJI_0001.MP4").read_bytes()
SRT = (ROOT / "sample_flights" / "video_patrol" / "DJI_0001.SRT").read_bytes()

# An admin who opens this creates a new admin user (the attack of issue 11), if the browser runs it.
SCRIPT = (
    b"fetch('/api/session').then(r=>r.json()).then(s=>fetch('/api/users',{method:'POST',"
    b"headers:{'content-type':'application/json','x-csrf-token':s.csrf_token},"
    b"body:JSON.stringify({name:'mallory',role:'admin',password:'pwned-by-xss'})}));"
    b"document.title='pwned';"
)
HTML_POLYGLOT = (
    b"<!--ftypisom--><html><body><script src='report.js'></script><script>"
    + SCRIPT
    + b"</script></body></html>"
)
JS_POLYGLOT = b"//\n\nftypisom\n" + SCRIPT


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + b"\0\0\2\0" + b"".join(compatible))


# A real ftyp box, then HTML where the next box should be.
FTYP_THEN_HTML = ftyp(b"isom", b"isom", b"mp41") + b"<html><script>" + SCRIPT + b"</script></html>"
HEIC = ftyp(b"heic", b"mif1", b"heic") + box(b"meta", b"\0" * 64) + box(b"mdat", b"\0" * 256)
AVIF = ftyp(b"avif", b"mif1", b"avif", b"miaf") + box(b"meta", b"\0" * 64) + box(b"mdat", b"\0" * 256)
MP4_NO_MOOV = ftyp(b"isom", b"isom", b"mp41") + box(b"mdat", b"\0" * 4096)
MP4_CUT = MP4[: len(MP4) // 2]
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\0" * 200
JPEG_CUT = JPEG[: len(JPEG) // 2]
# SOI and an APP0 segment, then HTML where the next marker should be.
JPEG_THEN_HTML = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00<html><script>x</script>"
)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()
