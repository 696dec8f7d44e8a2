"""Files the pages show (evidence crops, full frames) come only from under the data root."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote


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
