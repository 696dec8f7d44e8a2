"""Files the pages show (evidence crops, full frames) come only from under the data root, and only as
pictures or videos.

What a file is served as is decided by its bytes (`pipeline.filekinds`), never by its name or a 4-byte sniff:
a JPEG, PNG, MP4 or MOV is shown inline as that type; anything else (a text side file, an HTML or script
polyglot a pilot uploaded) only as an `application/octet-stream` download. Every answer also carries
`nosniff` and a sandboxing Content-Security-Policy, so even a file opened directly runs no script with the
app's origin.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi.responses import FileResponse

from pipeline.filekinds import OCTET, classify_file

# No script, no plugin, no form, no same-origin access, even for a document opened directly from /files/;
# pictures and videos still show (they are the document itself).
FILES_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"


def under_root(data_root: Path, stored: str | None) -> Path | None:
    """The file `stored` names if it is a regular file inside the data root (after links); else None.

    Stored paths are relative to the root, or absolute; either way the resolved file must lie inside it, so
    `..`, absolute paths elsewhere and links out of the root are all refused.
    """
    if not stored or "\x00" in stored:
        return None
    root = data_root.resolve()
    path = Path(stored)
    try:
        target = (path if path.is_absolute() else root / path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    return target


def file_url(data_root: Path, stored: str | None) -> str | None:
    """The app's URL for a stored path, or None when it would not be served."""
    target = under_root(data_root, stored)
    if target is None:
        return None
    return "/files/" + quote(target.relative_to(data_root.resolve()).as_posix())


def serve_file(target: Path) -> FileResponse:
    """The answer for a file under the data root: inline only when its content is a picture or video."""
    found = classify_file(target)
    headers = {
        "Cache-Control": "private, max-age=3600",
        "Content-Security-Policy": FILES_CSP,
        "X-Content-Type-Options": "nosniff",
    }
    if found.inline:
        return FileResponse(target, media_type=found.media_type, headers=headers)
    return FileResponse(target, media_type=OCTET, headers=headers, filename=target.name)
