"""Evidence crops on disk: stored once by content under the data root, referenced by path and SHA-256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pipeline.errors import CaseError
from pipeline.types import Sighting


def store_evidence(data_root: Path, sighting: Sighting) -> tuple[str | None, str | None]:
    """(path, sha256) of a sighting's crop; bytes are written to `evidence/ab/abcdef....jpg` under the root.

    Content addressing makes a rerun write nothing new, and a file left by a rolled-back push harmless.
    The returned path is relative to the data root when the file lies under it.
    """
    if sighting.evidence_jpeg is not None:
        digest = hashlib.sha256(sighting.evidence_jpeg).hexdigest()
        rel = Path("evidence") / digest[:2] / f"{digest}.jpg"
        target = data_root / rel
        if not target.exists():
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(sighting.evidence_jpeg)
                tmp.replace(target)  # atomic: a reader never sees half a crop
            except OSError as err:
                raise CaseError(f"cannot store evidence crop: {err.strerror or err}", str(target)) from err
        return rel.as_posix(), digest
    if sighting.evidence_path:
        path = Path(sighting.evidence_path)
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise CaseError(f"cannot read evidence crop: {err.strerror or err}", str(path)) from err
        try:
            return path.resolve().relative_to(data_root.resolve()).as_posix(), digest
        except ValueError:
            return str(path), digest
    return None, None


def evidence_file(data_root: Path, stored_path: str) -> Path:
    """The file a stored evidence path names (relative paths are under the data root)."""
    path = Path(stored_path)
    return path if path.is_absolute() else data_root / path
