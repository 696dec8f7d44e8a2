"""A flight folder into the inbox: check what arrived, copy it atomically, and write a manifest.

Both the review app's upload page and `patrol upload` go through `receive_flight`. Files are judged by their
content (`pipeline.filekinds`, the classifier ingest shares), not their names: JPEG photos, MP4/MOV videos,
DJI `.SRT` telemetry, and small text sidecars (`.json .geojson .txt .yaml .csv`). Anything else — HEIC and
DNG/TIFF photos included, which the pipeline does not process — is left out and listed with the reason, so
the drone team learns which files were unusable. The whole upload is refused when it is not a flight (no
photo or video), when it breaks a limit, or when it looks like an attack (a name that climbs out of the
folder, a link inside a zip, a zip that expands far beyond its size: per entry, and over the whole archive).

Everything is written into `INBOX/.staging-<host>-<pid>-*` first and renamed into place at the end: the
nightly run, which skips dot-folders, never sees half an upload, and a failure leaves nothing behind. A
staging folder whose upload was killed is removed (and logged) when the next upload or the review app starts.

A photo or video an earlier upload already brought (the same SHA-256) is not received again: it would become
a second flight whose sightings count twice. It is refused with the flight and file that hold it, and an
upload that brings nothing new is refused as a whole. A zip's names keep the maker's code page (GBK from
Chinese Windows); only a `.zip` is expanded, so a Word document is one unsupported file, not its XML parts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from pipeline import filekinds, filenames
from pipeline.config import DEFAULT_MAX_PIXELS
from pipeline.errors import PipelineError

MANIFEST_NAME = "upload-manifest.json"
STAGING_PREFIX = ".staging-"
_CHUNK = 1 << 20
_MAX_DEPTH = 4


class UploadError(PipelineError):
    """An upload is refused as a whole: not a flight, over a limit, or unsafe."""


@dataclass(frozen=True)
class UploadLimits:
    max_files: int = 5000
    max_file_bytes: int = 8 << 30  # a 4K video of a long flight
    max_total_bytes: int = 40 << 30
    max_zip_ratio: float = 200.0  # uncompressed / compressed, per zip entry; JPEGs barely compress at all
    # uncompressed / archive size over a whole zip, every entry counted, however small: a flight's photos and
    # videos barely compress, so a zip that expands 20 times holds no flight (300 entries of 1 MiB of zeros)
    max_archive_ratio: float = 20.0
    # a `.staging-*` folder left by an upload that died (killed, power cut) is removed after this long, or at
    # once when the process that made it on this machine is gone
    stale_staging_s: float = 24 * 3600.0
    # a photo whose header declares more is left out unread, as ingest refuses it (PATROL_MAX_PIXELS: the
    # entry points pass the setting)
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class IncomingFile:
    """One file as the sender named it (`folder/DJI_0001.JPG`) and a way to read its bytes."""

    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]


@dataclass(frozen=True)
class StoredFile:
    name: str  # relative to the flight folder, with `/`
    kind: str  # image, video, telemetry, sidecar
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class RefusedFile:
    name: str
    reason: str


@dataclass(frozen=True)
class UploadReport:
    flight_id: str
    path: str
    label: str
    uploaded_by: str
    uploaded_at: str
    files: tuple[StoredFile, ...] = field(default=())
    refused: tuple[RefusedFile, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["files"] = [asdict(f) for f in self.files]
        out["refused"] = [asdict(f) for f in self.refused]
        return out


def default_limits() -> UploadLimits:
    """The limits, with the pixel limit the environment sets (PATROL_MAX_PIXELS) as ingest reads it."""
    from pipeline.config import load_settings

    return UploadLimits(max_pixels=load_settings().max_pixels)


def folder_files(folder: Path) -> list[IncomingFile]:
    """The files under a local flight folder, for `patrol upload` (links are not followed)."""
    if not folder.is_dir():
        raise UploadError("not a folder", str(folder))
    found: list[IncomingFile] = []
    top = filenames.shown(folder.resolve().name)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(folder).as_posix()
            found.append(IncomingFile(f"{top}/{rel}", _opener(path)))
    return found


def _opener(path: Path) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    return lambda: path.open("rb")


# --- names ----------------------------------------------------------------------------------------


def safe_name(name: str) -> str:
    """`name` as a relative path inside the flight folder; UploadError if it could point anywhere else."""
    text = unicodedata.normalize("NFC", name).replace("\\", "/")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UploadError("a file name holds control characters", repr(name))
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise UploadError("an absolute file name", name)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise UploadError("a file name that leaves the flight folder", name)
    if len(parts) > _MAX_DEPTH + 1 or any(len(p.encode()) > 200 for p in parts):
        raise UploadError("a file name too long or too deeply nested", name)
    return "/".join(parts)


def _strip_common_top(names: list[str]) -> str | None:
    """The single top folder every name shares (a browser sends `flight/DJI_0001.JPG`), if any."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop()
    return None


# --- content --------------------------------------------------------------------------------------

# The classifier's kinds as the manifest names them.
_UPLOAD_KINDS = {
    filekinds.JPEG: "image",
    filekinds.VIDEO: "video",
    filekinds.TELEMETRY: "telemetry",
    filekinds.TEXT: "sidecar",
}


def sniff(name: str, path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str | None, str]:
    """(kind, reason): what the staged file at `path` is for a flight (image, video, telemetry, sidecar or
    zip), by the shared classifier in `pipeline.filekinds`; or None and why it is not usable."""
    found = filekinds.classify_file(path, name)
    if found.kind == filekinds.JPEG and found.width_px and found.height_px:
        from pipeline.errors import PixelLimitError
        from pipeline.metadata.pixels import check_size

        try:  # a pixel bomb, refused by its header as ingest refuses it
            check_size(found.width_px, found.height_px, name, max_pixels)
        except PixelLimitError as err:
            return None, err.reason
    if found.kind == filekinds.ZIP:
        return "zip", ""
    if found.kind == filekinds.PNG:
        return None, "PNG pictures are not drone photos this pipeline reads: upload the camera's JPEGs"
    if found.kind in _UPLOAD_KINDS:
        return _UPLOAD_KINDS[found.kind], ""
    if name.rsplit("/", 1)[-1].startswith("."):
        return None, "hidden file"
    return None, found.reason


_OFFICE = (".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".odt", ".ods", ".odp")


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A zip entry's name as its maker wrote it. Without the UTF-8 flag the bytes are in the maker's code
    page, which `zipfile` reads as cp437: on Chinese Windows they are GBK (`µùáΣ║║µ£║` for `无人机`); some
    tools write UTF-8 without setting the flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


@dataclass
class _Stager:
    root: Path
    limits: UploadLimits
    # sha256 -> (flight, file) of every photo and video already in the inbox: the same frame is never
    # received twice (it would count twice as a sighting and push its case up the queue)
    known: dict[str, tuple[str, str]] = field(default_factory=dict)
    stored: dict[str, StoredFile] = field(default_factory=dict)
    refused: list[RefusedFile] = field(default_factory=list)
    total_bytes: int = 0
    count: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)  # earlier flight -> files it already holds

    def add(self, rel: str, src: IO[bytes], *, in_zip: bool, declared: int | None = None) -> None:
        self.count += 1
        if self.count > self.limits.max_files:
            raise UploadError(f"more than {self.limits.max_files} files in one upload")
        if rel.rsplit("/", 1)[-1].startswith("."):
            self.refused.append(RefusedFile(rel, "hidden file"))
            return
        if rel in self.stored or rel.lower() in {n.lower() for n in self.stored}:
            self.refused.append(RefusedFile(rel, "another file has the same name"))
            return
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        size, digest = self._copy(rel, src, target, declared)
        kind, reason = sniff(rel, target, self.limits.max_pixels)
        if kind == "zip" and not in_zip and not rel.lower().endswith(".zip"):
            # a Word document or another zip-based file is one unsupported file, not an archive of its parts
            suffix = Path(rel).suffix.lower() or "no extension"
            kind, reason = (
                None,
                (
                    f"an Office document ({suffix}), not a photo or video"
                    if suffix in _OFFICE
                    else f"a zip-based file ({suffix}) that is not a .zip archive"
                ),
            )
        if kind in ("image", "video") and self._seen_before(rel, digest):
            target.unlink()
            self.total_bytes -= size
            return
        if kind == "zip" and not in_zip:
            try:
                self.expand(rel, target)
            finally:
                target.unlink(missing_ok=True)
                self.total_bytes -= size  # only what it expands to counts
            return
        if kind is None or kind == "zip":
            target.unlink()
            self.total_bytes -= size
            self.refused.append(RefusedFile(rel, reason or "an archive inside an archive"))
            return
        self.stored[rel] = StoredFile(rel, kind, size, digest)

    def _seen_before(self, rel: str, digest: str) -> bool:
        """Whether an earlier upload already brought this photo or video (then refused, saying where)."""
        earlier = self.known.get(digest)
        if earlier is None:
            return False
        self.duplicates[earlier[0]] = self.duplicates.get(earlier[0], 0) + 1
        self.refused.append(RefusedFile(rel, f"the same content as {earlier[1]} in flight {earlier[0]}"))
        return True

    def _copy(self, rel: str, src: IO[bytes], target: Path, declared: int | None) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        # O_EXCL: a name that lands on an existing file (case-folding file systems) never overwrites it.
        with target.open("xb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                self.total_bytes += len(chunk)
                if size > self.limits.max_file_bytes:
                    raise UploadError(f"larger than {self.limits.max_file_bytes} bytes", rel)
                if self.total_bytes > self.limits.max_total_bytes:
                    raise UploadError(f"the upload is larger than {self.limits.max_total_bytes} bytes")
                if declared is not None and size > declared:
                    raise UploadError("a zip entry expands beyond its declared size", rel)
                digest.update(chunk)
                out.write(chunk)
        return size, digest.hexdigest()

    def expand(self, rel: str, archive: Path) -> None:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as err:
            raise UploadError(f"not a readable zip: {err}", rel) from err
        with zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            self._check_zip(rel, members, archive.stat().st_size)
            names = [safe_name(zip_member_name(i)) for i in members]
            top = _strip_common_top(names)
            for info, name in zip(members, names, strict=True):
                if top is not None:
                    name = name.split("/", 1)[1]
                try:
                    with zf.open(info) as src:
                        self.add(name, src, in_zip=True, declared=info.file_size)
                except (zipfile.BadZipFile, RuntimeError, EOFError) as err:  # corrupt or encrypted entry
                    (self.root / name).unlink(missing_ok=True)
                    self.refused.append(RefusedFile(name, f"unreadable zip entry: {err}"))

    def _check_zip(self, rel: str, members: list[zipfile.ZipInfo], archive_bytes: int) -> None:
        if len(members) + self.count > self.limits.max_files:
            raise UploadError(f"more than {self.limits.max_files} files in one upload", rel)
        declared = sum(i.file_size for i in members)
        if declared + self.total_bytes > self.limits.max_total_bytes:
            raise UploadError(f"expands to {declared} bytes, over the upload limit", rel)
        if declared > self.limits.max_archive_ratio * max(archive_bytes, 1):
            raise UploadError(
                f"expands to {declared} bytes, {declared / max(archive_bytes, 1):.0f} times its size: "
                "refused as a decompression bomb",
                rel,
            )
        for info in members:
            safe_name(zip_member_name(info))  # zip-slip: raises before anything is extracted
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UploadError(f"holds a link ({info.filename}), refused", rel)
            if info.file_size > self.limits.max_file_bytes:
                raise UploadError(f"{info.filename} expands beyond the file size limit", rel)
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _CHUNK and ratio > self.limits.max_zip_ratio:
                raise UploadError(
                    f"{info.filename} expands {ratio:.0f} times: refused as a decompression bomb", rel
                )


def _flight_id(label: str, now: datetime) -> str:
    slug = re.sub(r"[^0-9A-Za-z_\-\u4e00-\u9fff]+", "-", unicodedata.normalize("NFC", label)).strip("-")
    return f"{now.strftime('%Y%m%d-%H%M%S')}-{slug[:60] or 'flight'}"


def _place(staging: Path, inbox: Path, report: UploadReport) -> UploadReport:
    """Rename the staging folder to a free name, with the manifest naming it written just before."""
    for n in range(100):
        name = report.flight_id if n == 0 else f"{report.flight_id}-{n + 1}"
        final = inbox / name
        if final.exists():
            continue
        placed = dataclasses.replace(report, flight_id=name, path=str(final))
        record = {k: v for k, v in placed.as_dict().items() if k != "path"}
        text = json.dumps(record, ensure_ascii=False, indent=1)
        (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")
        try:
            os.rename(staging, final)  # refuses a non-empty target: two uploads in one second never merge
        except OSError:
            if final.exists():
                continue
            raise
        return placed
    raise UploadError("cannot find a free folder name in the inbox", str(inbox))


def receive_flight(
    items: Iterable[IncomingFile],
    inbox: Path,
    *,
    label: str,
    uploaded_by: str,
    limits: UploadLimits | None = None,
    now: datetime | None = None,
) -> UploadReport:
    """Check and copy one flight into `inbox/<time>-<label>/` with its manifest; see the module doc."""
    limits = limits or default_limits()
    now = now or datetime.now(UTC)
    items = list(items)
    if not items:
        raise UploadError("no files in the upload")
    # A name that is not UTF-8 text (raw bytes from a disk) cannot be stored or shown: that file is left out,
    # named with its bytes escaped; the others go on.
    unnamed = [
        RefusedFile(filenames.shown(i.name), filenames.NOT_UTF8)
        for i in items
        if not filenames.is_text(i.name)
    ]
    items = [i for i in items if filenames.is_text(i.name)]
    if not items:
        raise UploadError(f"no file with a usable name: {filenames.NOT_UTF8}")
    names = [safe_name(i.name) for i in items]  # before anything is written
    top = _strip_common_top(names + [r.name for r in unnamed])
    if top is not None and len(items) + len(unnamed) > 1:
        names = [n.split("/", 1)[1] for n in names]
        unnamed = [dataclasses.replace(r, name=r.name.split("/", 1)[1]) for r in unnamed]
    label = label.strip() or (top or "flight")
    inbox.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(inbox, limits.stale_staging_s)
    staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(), dir=inbox))
    try:
        stager = _Stager(staging, limits, refused=unnamed, known=received_media(inbox))
        for item, name in zip(items, names, strict=True):
            with _reading(item) as src:
                stager.add(name, src, in_zip=False)
        if not any(f.kind in ("image", "video") for f in stager.stored.values()):
            if stager.duplicates:
                flights = ", ".join(sorted(stager.duplicates))
                raise UploadError(f"every photo and video was already received as flight {flights}", label)
            raise UploadError("no readable photo or video: this is not a flight", label)
        with _inbox_lock(inbox):
            # another upload of the same frames may have been placed while this one was staged
            _drop_known(stager, received_media(inbox), label)
            return _place(staging, inbox, _report(stager, label, uploaded_by, now))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _report(stager: _Stager, label: str, uploaded_by: str, now: datetime) -> UploadReport:
    return UploadReport(
        flight_id=_flight_id(label, now),
        path="",
        label=label,
        uploaded_by=uploaded_by,
        uploaded_at=now.isoformat(timespec="seconds"),
        files=tuple(sorted(stager.stored.values(), key=lambda f: f.name)),
        refused=tuple(stager.refused),
    )


def _drop_known(stager: _Stager, known: dict[str, tuple[str, str]], label: str) -> None:
    for name, f in list(stager.stored.items()):
        if f.kind in ("image", "video") and f.sha256 in known:
            flight, other = known[f.sha256]
            (stager.root / name).unlink(missing_ok=True)
            del stager.stored[name]
            stager.refused.append(RefusedFile(name, f"the same content as {other} in flight {flight}"))
            stager.duplicates[flight] = stager.duplicates.get(flight, 0) + 1
    if not any(f.kind in ("image", "video") for f in stager.stored.values()):
        flights = ", ".join(sorted(stager.duplicates))
        raise UploadError(f"every photo and video was already received as flight {flights}", label)


@contextlib.contextmanager
def _inbox_lock(inbox: Path) -> Iterator[None]:
    """One upload at a time checks the inbox for its frames and moves in (processes and threads alike)."""
    import fcntl

    fd = os.open(inbox, os.O_RDONLY)  # the folder itself: no lock file among the flights
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _reading(item: IncomingFile) -> Iterator[IO[bytes]]:
    try:
        with item.open() as src:
            yield src
    except OSError as err:
        raise UploadError(f"cannot read: {err.strerror or err}", item.name) from err


# --- staging left behind ----------------------------------------------------------------------------


def _staging_prefix() -> str:
    """`.staging-<host>-<pid>-`: whoever finds the folder later can tell whether its maker still runs."""
    host = re.sub(r"[^0-9A-Za-z]+", "", socket.gethostname())[:32] or "host"
    return f"{STAGING_PREFIX}{host}-{os.getpid()}-"


def _maker_gone(name: str) -> bool:
    """Whether the folder was made by a process of this machine that no longer runs."""
    host = re.sub(r"[^0-9A-Za-z]+", "", socket.gethostname())[:32] or "host"
    found = re.match(rf"^{re.escape(STAGING_PREFIX)}{re.escape(host)}-(\d+)-", name)
    if found is None:
        return False  # another machine's (a shared inbox), or the older unnamed form: judged by age only
    try:
        os.kill(int(found.group(1)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def _last_written(folder: Path) -> float:
    newest = folder.lstat().st_mtime
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            newest = max(newest, path.lstat().st_mtime)
    return newest


def clean_stale_staging(inbox: Path, max_age_s: float, *, now: float | None = None) -> list[str]:
    """Remove the `.staging-*` folders of uploads that died: made by a process of this machine that is gone,
    or untouched for `max_age_s`. Each removal is logged; returns the folder names removed."""
    removed: list[str] = []
    if not inbox.is_dir():
        return removed
    now = time.time() if now is None else now
    for folder in sorted(inbox.iterdir()):
        if not folder.name.startswith(STAGING_PREFIX) or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            age = now - _last_written(folder)
        except OSError:
            continue  # removed meanwhile by another cleaner
        gone = _maker_gone(folder.name)
        if not gone and age < max_age_s:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        why = "its upload process is gone" if gone else f"untouched for {age / 3600:.1f} h"
        _log().warning("removed stale upload staging folder %s (%s)", folder, why)
        removed.append(folder.name)
    return removed


def _log() -> logging.Logger:
    return logging.getLogger("patrol.upload")


def received_media(inbox: Path) -> dict[str, tuple[str, str]]:
    """sha256 -> (flight, file) of every photo and video the inbox's uploads hold (by their manifests)."""
    out: dict[str, tuple[str, str]] = {}
    for manifest in read_manifests(inbox):
        files = manifest.get("files")
        flight = str(manifest.get("flight_id", ""))
        for f in files if isinstance(files, list) else []:
            if (
                isinstance(f, dict)
                and f.get("kind") in ("image", "video")
                and isinstance(f.get("sha256"), str)
            ):
                out.setdefault(f["sha256"], (flight, str(f.get("name", ""))))
    return out


def read_manifests(inbox: Path) -> list[dict[str, object]]:
    """Every finished upload's manifest in the inbox, newest first (staging folders are skipped)."""
    out: list[dict[str, object]] = []
    if not inbox.is_dir():
        return out
    for folder in inbox.iterdir():
        if folder.name.startswith(".") or not (folder / MANIFEST_NAME).is_file():
            continue
        try:
            data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append(data)
    out.sort(key=lambda d: str(d.get("uploaded_at", "")), reverse=True)
    return out
