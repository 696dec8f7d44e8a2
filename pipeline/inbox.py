"""The inbox as the nightly run sees it: which flight folders are complete and unchanged since their upload.

`patrol upload` (pipeline.upload) renames a finished upload into place with `upload-manifest.json` naming
every file with its size and SHA-256. A folder is ready when its manifest is there and every file still
matches it; a folder without a manifest (still being copied by hand, or an upload in progress, which lives
under a dot-name) or whose files differ from the manifest is reported and left for the next night.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pipeline.upload import MANIFEST_NAME


class InboxStatus(StrEnum):
    READY = "ready"
    WAITING = "waiting"  # no manifest yet
    CHANGED = "changed"  # files differ from the manifest
    DONE = "done"  # processed on an earlier night: not checksummed again


READY, WAITING, CHANGED, DONE = InboxStatus.READY, InboxStatus.WAITING, InboxStatus.CHANGED, InboxStatus.DONE
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InboxFlight:
    folder: str
    flight_id: str
    status: InboxStatus
    reason: str = ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_manifest(folder: Path) -> tuple[InboxStatus, str, str]:
    """(status, flight id, reason) for one inbox folder (module docstring)."""
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return WAITING, folder.name, "no upload manifest yet: still being written, or not uploaded"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = {str(f["name"]): (int(f["size_bytes"]), str(f["sha256"])) for f in data["files"]}
        flight_id = str(data.get("flight_id") or folder.name)
    except (OSError, ValueError, KeyError, TypeError) as err:
        return CHANGED, folder.name, f"unreadable upload manifest: {err}"
    for name, (size, digest) in sorted(files.items()):
        path = folder / name
        try:
            if path.stat().st_size != size:
                return CHANGED, flight_id, f"{name} changed size since the upload"
            if _sha256(path) != digest:
                return CHANGED, flight_id, f"{name} changed since the upload (checksum differs)"
        except OSError:
            return CHANGED, flight_id, f"{name} is missing since the upload"
    extra = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME and p.relative_to(folder).as_posix() not in files
    )
    if extra:
        return CHANGED, flight_id, f"files added since the upload: {', '.join(extra[:5])}"
    return READY, flight_id, ""


def manifest_flight_id(folder: Path) -> str:
    """The flight id an upload's manifest gives (the folder's name without one)."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        return str(data.get("flight_id") or folder.name) if isinstance(data, dict) else folder.name
    except (OSError, ValueError):
        return folder.name


def scan_inbox(inbox: Path, done: Callable[[list[str]], set[str]] | None = None) -> list[InboxFlight]:
    """Every flight folder in the inbox (dot-folders are uploads in progress: not even listed), by name.
    `done` answers which of the given flight ids were processed already: those are not checksummed."""
    if not inbox.is_dir():
        from pipeline.errors import PipelineError

        raise PipelineError("inbox is not a folder", str(inbox))
    folders = sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith("."))
    ids = {f: manifest_flight_id(f) for f in folders}
    finished = done(list(ids.values())) if done is not None else set()
    out = []
    for folder in folders:
        if ids[folder] in finished:
            out.append(InboxFlight(str(folder), ids[folder], DONE))
            continue
        status, flight_id, reason = verify_manifest(folder)
        out.append(InboxFlight(str(folder), flight_id, status, reason))
    return out
