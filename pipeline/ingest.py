"""A flight folder -> the frames to look at: small descriptors first, pixels only when a frame is processed.

The one ingest: `patrol process`, `evaluate`, `calibrate`, `detect`, the benches and the demo all get their
frames from `plan_flight` and their pixels and cameras from `load_frame`; they differ only in the sampling.

`plan_flight` lists a folder's photos and, for each video with its DJI `.SRT`, the frames to look at: every
frame (`SAMPLE_EVERY`, for evaluation against truth), or (`SAMPLE_DISTANCE`, production) frames sampled by
the ground distance travelled (from the telemetry), such that consecutive samples overlap by a set share of
their along-track footprint: a video holds 25-60 frames a second and consecutive frames see almost the same
ground. A video frame's pose always comes from the telemetry *by time*: interpolated between the SRT entries
around the frame's timestamp (index / fps), never "entry k for frame k" (real DJI aircraft write 1 Hz SRTs
beside 30 fps video). Frames outside the telemetry's time span (beyond half a block of its first and last
entries) get no pose from it and are not planned; the plan says so. `load_frame` turns one descriptor into
pixels + camera, refusing a picture whose header declares more than `max_pixels` before decoding it;
video frames come from the process's open readers (pipeline.video_readers, their one owner), each read
forward from where it stopped, so a flight is streamed, never held in memory.

Descriptors are frozen and small (paths, hashes, metadata): they cross process boundaries (Prefect tasks,
Dask workers) cheaply, and the file hash in them is what the processed-frame record is keyed by.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import filekinds, filenames, geo
from pipeline.config import DEFAULT_MAX_PIXELS, DEFAULT_SEARCH_RANGE_M
from pipeline.errors import FrameError, GeoreferenceError, MetadataError, PipelineError, PixelLimitError
from pipeline.types import CameraView, ImageMeta, Intrinsics, SrtEntry, flat_fields
from pipeline.video_readers import VideoReader as VideoReader  # re-exported: where callers import it from
from pipeline.video_readers import close_videos, open_videos

if TYPE_CHECKING:
    import numpy as np

# Names a photo goes by: a damaged file so named is a failed frame, not a stray file (see media_kind).
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg"})
_HASH_CHUNK = 1 << 20
SAMPLE_DISTANCE = "distance"  # video frames sampled by ground distance (production)
SAMPLE_EVERY = "every"  # every video frame (evaluation, calibration, benches)
# Part of every processed-frame key: bumped when what a record means changes, so old records are not reused.
# 2: the telemetry's hash is in the key; only a frame's own faults are ever recorded as failures.
KEY_SCHEMA = 2
MAX_HOLD_MS = 500.0  # a pose is held at most this far before the first / after the last telemetry block


@dataclass(frozen=True)
class IngestSettings:
    overlap: float = 0.8  # share of the along-track footprint consecutive video samples have in common
    max_gap_s: float = 10.0  # a sample at least this often, even hovering (the gimbal may turn meanwhile)
    max_distance_m: float = DEFAULT_SEARCH_RANGE_M  # oblique footprints are cut off where detection stops
    sampling: str = SAMPLE_DISTANCE  # or SAMPLE_EVERY
    max_pixels: int = DEFAULT_MAX_PIXELS  # a frame declaring more is refused before decoding

    def check(self) -> None:
        if not 0.0 <= self.overlap < 1.0:
            raise PipelineError(f"video overlap must be in [0, 1), not {self.overlap:g}")
        if self.max_gap_s <= 0 or self.max_distance_m <= 0:
            raise PipelineError("max_gap_s and max_distance_m must be positive")
        if self.sampling not in (SAMPLE_DISTANCE, SAMPLE_EVERY):
            raise PipelineError(
                f"sampling must be {SAMPLE_DISTANCE!r} or {SAMPLE_EVERY!r}, not {self.sampling!r}"
            )
        if self.max_pixels <= 0:
            raise PipelineError("max_pixels must be positive")


@dataclass(frozen=True)
class FrameRef:
    """One frame to process. `name` is what the case queue records as the frame's path for a video frame
    (`DJI_0001.MP4#37`, 1-based like the SRT's FrameCnt); photos are recorded by their file path."""

    flight_id: str
    source: str  # the photo or video file
    name: str
    file_sha256: str
    frame_index: int | None = None  # 0-based frame of a video; None for a photo
    time_ms: float | None = None  # position in the video
    meta: ImageMeta | None = None  # a video frame's interpolated telemetry; photos read theirs when loaded
    why_no_meta: str = ""
    telemetry_sha256: str | None = None  # the .SRT a video frame's pose came from

    @property
    def label(self) -> str:
        """Short, for logs and task names: the file name, with `#k` for a video frame."""
        return Path(self.name).name

    @property
    def is_video(self) -> bool:
        return self.frame_index is not None

    def key(self, model_version: str) -> str:
        """The processed-frame key: same bytes, same frame, same telemetry, same model and settings -> same
        key. A corrected .SRT gives new keys, so its poses take effect on the next run."""
        text = (
            f"{KEY_SCHEMA}\0{self.file_sha256}#{self.frame_index}\0{self.telemetry_sha256 or ''}"
            f"\0{model_version}"
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class FlightPlan:
    flight_id: str
    folder: str
    frames: tuple[FrameRef, ...]
    # (file, reason): a file nothing of which is processed, or a video some of whose frames are not
    skipped: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True)
class LoadedFrame:
    """A frame's pixels (H x W x 3 BGR) and camera, ready for detection.

    `image` is the frame decoded at 1/`reduction` of its size (libjpeg's scaled decoding, when the detector
    shrinks the frame at least that much anyway: see load_frame); `full_image()` gives the full pixels
    (decoded again when reduced), which is what evidence crops and stills are cut from."""

    ref: FrameRef
    image: np.ndarray
    view: CameraView | None
    intrinsics: Intrinsics | None
    why_no_pose: str
    seen_at: str  # ISO 8601; empty when the file gives no time
    reduction: int = 1
    max_pixels: int = DEFAULT_MAX_PIXELS

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the full frame, whatever `image` was decoded at."""
        return self.image.shape[1] * self.reduction, self.image.shape[0] * self.reduction

    @functools.cached_property
    def _full(self) -> np.ndarray:
        return decode_photo(Path(self.ref.source), self.max_pixels)

    def full_image(self) -> np.ndarray:
        """The frame at its full size (decoded once more, and kept, when `image` is reduced)."""
        return self.image if self.reduction == 1 else self._full


# --- planning ---------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    if path.exists() and not path.is_file():  # a FIFO or device: reading it could block forever
        raise FrameError("not a regular file", str(path))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
    except OSError as err:
        raise PipelineError(f"cannot read: {err.strerror or err}", str(path)) from None
    return digest.hexdigest()


def photo_ref(path: Path, flight_id: str = "") -> FrameRef:
    """The descriptor of one photo (`patrol detect` on loose files; plan_flight for a folder's)."""
    return FrameRef(flight_id, str(path), str(path), file_sha256(path))


def plan_flight(
    folder: Path, flight_id: str | None = None, settings: IngestSettings = IngestSettings()
) -> FlightPlan:
    """Every photo and every video's frames (sampled as `settings.sampling` says) of one flight folder, in
    path order. A file that cannot be used at all is listed in `skipped` with the reason (so are a video's
    frames outside its telemetry); PipelineError only when `folder` is no folder."""
    settings.check()
    if not folder.is_dir():
        raise PipelineError("not a folder", filenames.shown(str(folder)))
    if not filenames.is_text(str(folder.resolve())):
        raise PipelineError(filenames.NOT_UTF8_FOLDER, filenames.shown(str(folder)))
    files = media_files(folder)
    fid = flight_id or flight_id_for(folder, files)
    frames: list[FrameRef] = []
    skipped: list[tuple[str, str]] = []
    inside = folder.resolve()
    for path in files:
        if not filenames.is_text(str(path)):
            skipped.append((filenames.shown(str(path)), filenames.NOT_UTF8))
            continue
        if path.is_symlink() and not _resolves_inside(path, inside):
            skipped.append((str(path), "a link to outside the flight folder (or to nothing): not followed"))
            continue
        if not path.is_file():
            continue  # a link to a folder inside the flight: its files are listed where they lie
        kind, why_not = media_kind(path)
        try:
            if kind == filekinds.JPEG:
                frames.append(photo_ref(path, fid))
            elif kind == filekinds.VIDEO:
                video_frames, notes = plan_video(path, fid, settings)
                frames.extend(video_frames)
                skipped.extend((str(path), note) for note in notes)
            elif kind not in (filekinds.TELEMETRY, filekinds.TEXT):
                skipped.append((str(path), why_not))
        except PipelineError as err:
            skipped.append((str(path), err.reason))
    return FlightPlan(fid, str(folder), tuple(frames), tuple(skipped))


def media_kind(path: Path) -> tuple[str, str]:
    """(kind, why not usable) of a file in a flight folder, by its content (`pipeline.filekinds`, shared with
    upload). A damaged file named as a photo still counts as a photo: loading it records the frame as failed
    with the reason, as for any photo that cannot be decoded."""
    found = filekinds.classify_file(path)
    if not found.kind and path.suffix.lower() in filekinds.SIDECAR_SUFFIXES:
        # A side file (an empty YOLO label of a frame without targets, notes) is nothing to process and
        # nothing wrong with the flight.
        return filekinds.TEXT, ""
    if found.kind == filekinds.PNG:
        return "", "PNG pictures are not drone photos this pipeline reads"
    if found.kind == filekinds.ZIP:
        return "", "an archive: upload it (patrol upload, or the web page) to unpack it"
    if found.kind or path.suffix.lower() not in PHOTO_SUFFIXES:
        return found.kind, found.reason
    return filekinds.JPEG, ""


def media_files(folder: Path) -> list[Path]:
    """Files under a flight folder, sub-folders included (an SD card's DCIM/100MEDIA/ arrives as it was),
    in path order, and links (plan_flight refuses those that point out of the folder; links to folders
    are never descended); hidden files and folders left out."""
    found = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder).parts
        if (p.is_file() or p.is_symlink()) and not any(part.startswith(".") for part in rel):
            found.append(p)
    return sorted(found, key=lambda p: os.fsencode(p.relative_to(folder).as_posix()))


def _resolves_inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve(strict=True).is_relative_to(folder)
    except (OSError, RuntimeError):  # dangling, or a loop
        return False


# Folder names cameras give (DCF: three digits and five characters, `100MEDIA`, `101_PANO`; DJI's newer
# `DJI_001`; `DCIM` itself): every card has them, so they say nothing about which flight a folder holds.
# A letter among the five keeps dates (`20240501`) as names people gave.
_CAMERA_FOLDER = re.compile(r"^(?:[1-9]\d{2}(?=[0-9A-Z_]*[A-Z_])[0-9A-Z_]{5}|DJI_\d{3}|DCIM)$", re.IGNORECASE)


def flight_id_for(folder: Path, files: Sequence[Path] | None = None) -> str:
    """The flight id of a folder given without one: its name; for a camera's own folder name (`100MEDIA`,
    on every card) the name and a fingerprint of what it holds (each file's path and size), so two cards'
    `100MEDIA` are two flights and the same card processed again is the same flight wherever it lies."""
    name = folder.resolve().name
    if not _CAMERA_FOLDER.match(name):
        return name
    digest = hashlib.sha256()
    for path in files if files is not None else media_files(folder):
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        digest.update(os.fsencode(path.relative_to(folder).as_posix()) + b"\0" + str(size).encode() + b"\n")
    return f"{name}-{digest.hexdigest()[:8]}"


def telemetry_for(video: Path) -> Path | None:
    """The DJI .SRT beside a video (same stem, any case of the suffix)."""
    for p in sorted(video.parent.iterdir()):
        if p.stem == video.stem and p.suffix.lower() == ".srt":
            return p
    return None


def video_info(path: Path) -> tuple[float, int, int, int]:
    """(fps, frame count, width, height) as the container states them."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise PipelineError("cannot open video", str(path))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        cap.release()
    if fps <= 0 or count <= 0 or width <= 0 or height <= 0:
        raise PipelineError("video states no frame rate, frame count or size", str(path))
    return fps, count, width, height


def telemetry_span_ms(entries: Sequence[SrtEntry]) -> tuple[float, float]:
    """The video times the telemetry speaks for: from its first entry's start to its last entry's end,
    widened by half a block (at most MAX_HOLD_MS): a 1 Hz SRT whose first block starts at 1 s does not
    place the video's first half second, and a one-block SRT does not place every later frame."""
    durations = sorted(e.end_ms - e.start_ms for e in entries if e.end_ms > e.start_ms)
    hold = min(durations[len(durations) // 2] / 2.0, MAX_HOLD_MS) if durations else 0.0
    first, last = entries[0], entries[-1]
    return first.start_ms - hold, max(last.end_ms, last.start_ms) + hold


def plan_video(
    path: Path, flight_id: str, settings: IngestSettings = IngestSettings()
) -> tuple[list[FrameRef], list[str]]:
    """(frames, notes) of one video: its frames within the telemetry's time span, every one or sampled by
    ground distance, each with its pose from the telemetry at its time (module docstring); the notes say
    what was left out. MetadataError when none of it can be placed."""
    from pipeline.metadata import read_srt
    from pipeline.metadata.pixels import check_size

    srt = telemetry_for(path)
    if srt is None:
        raise MetadataError("no .SRT telemetry beside the video: its frames cannot be placed", str(path))
    every = read_srt(srt)
    entries = [e for e in every if e.lat is not None and e.lon is not None]
    if not entries:
        raise MetadataError("the telemetry holds no position", str(srt))
    unplaced = [e.index for e in every if e.lat is None and {"lat", "lon"} & set(dict(e.unreadable))]
    fps, count, width, height = video_info(path)
    check_size(width, height, str(path), settings.max_pixels)
    digest, telemetry = file_sha256(path), file_sha256(srt)
    lo, hi = telemetry_span_ms(entries)
    inside = [i for i in range(count) if lo <= i * 1000.0 / fps <= hi]
    span = f"{max(lo, 0.0) / 1000:.1f}-{hi / 1000:.1f} s"
    if not inside:
        raise MetadataError(f"no frame lies within its telemetry's time span ({span})", str(path))
    notes = []
    if unplaced:
        shown = ", ".join(map(str, unplaced[:5])) + (" ..." if len(unplaced) > 5 else "")
        notes.append(
            f"{len(unplaced)} telemetry block(s) with an unreadable position (nan, inf or out of range: "
            f"block {shown}) left out; frames there take their pose from the blocks around them"
        )
    if len(inside) < count:
        notes.append(
            f"{count - len(inside)} of {count} frames lie outside the telemetry's time span ({span}): "
            f"no pose, not processed"
        )
    times = [i * 1000.0 / fps for i in inside]
    if settings.sampling == SAMPLE_EVERY:
        picked = list(range(len(inside)))
    else:
        picked = sample_frames(entries, times, width, height, path.name, settings)
    refs = []
    for k in picked:
        i = inside[k]
        name = f"{path.name}#{i + 1}"
        meta = interpolate_entry(entries, times[k], width, height, name)
        refs.append(
            FrameRef(
                flight_id,
                str(path),
                name,
                digest,
                frame_index=i,
                time_ms=times[k],
                meta=meta,
                telemetry_sha256=telemetry,
            )
        )
    return refs, notes


# --- telemetry interpolation and distance sampling ---------------------------------------------------


def _lerp(a: float | None, b: float | None, t: float) -> float | None:
    if a is None or b is None:
        return a if t < 0.5 else b
    return a + (b - a) * t


def interpolate_entry(
    entries: Sequence[SrtEntry], time_ms: float, width: int, height: int, path: str
) -> ImageMeta:
    """The telemetry at `time_ms`: linear between the entries around it (held at either end)."""
    starts = [e.start_ms for e in entries]
    k = bisect.bisect_right(starts, time_ms)
    if k == 0 or k == len(entries):
        a = b = entries[0 if k == 0 else -1]
        t = 0.0
    else:
        a, b = entries[k - 1], entries[k]
        span = b.start_ms - a.start_ms
        t = (time_ms - a.start_ms) / span if span > 0 else 0.0
    near = a if t < 0.5 else b
    when = _time_at(dict(near.extra).get("datetime"), time_ms - near.start_ms)
    meta = ImageMeta(
        path=path,
        width=width,
        height=height,
        captured_at=when,
        lat=_lerp(a.lat, b.lat, t),
        lon=_lerp(a.lon, b.lon, t),
        abs_alt_m=_lerp(a.abs_alt_m, b.abs_alt_m, t),
        rel_alt_m=_lerp(a.rel_alt_m, b.rel_alt_m, t),
        gimbal=a.gimbal.toward(b.gimbal, t),
        flight=a.flight.toward(b.flight, t),
        focal_mm=near.focal_mm,
        focal_35mm=near.focal_35mm,
    )
    return _with_unreadable(meta, near, a, b)


def _with_unreadable(meta: ImageMeta, near: SrtEntry, a: SrtEntry, b: SrtEntry) -> ImageMeta:
    """The interpolated meta, naming the fields it lacks because a block around it could not be read (so
    that no default stands in for them: pipeline.geo.pose_from_meta)."""
    said = {**dict(a.unreadable), **dict(b.unreadable), **dict(near.unreadable)}
    values = flat_fields(meta)
    bad = tuple((name, what) for name, what in said.items() if values.get(name, 0) is None)
    if not bad:
        return meta
    blocks = sorted({a.index, b.index})
    problems = tuple(
        f"telemetry {name} unreadable ({what}) in block {'/'.join(map(str, blocks))}" for name, what in bad
    )
    return replace(meta, unreadable=bad, problems=problems)


def _time_at(entry_time: str | None, offset_ms: float) -> str | None:
    """The entry's wall-clock time moved by `offset_ms` (kept as written when it cannot be parsed)."""
    if not entry_time:
        return None
    try:
        moved = datetime.fromisoformat(entry_time) + timedelta(milliseconds=offset_ms)
    except ValueError:
        return entry_time
    return moved.isoformat(timespec="milliseconds")


def along_track_extent_m(meta: ImageMeta, heading_deg: float, max_distance_m: float) -> float | None:
    """How far the frame's footprint reaches along the direction of travel; None when it has no footprint."""
    from pipeline.frames import view_for_meta

    try:
        view = view_for_meta(meta)
        corners = geo.frame_footprint(view, max_distance_m)
    except (GeoreferenceError, MetadataError):
        return None
    east, north = math.sin(math.radians(heading_deg)), math.cos(math.radians(heading_deg))
    along = []
    for lat, lon in corners:
        e, n = geo.latlon_offset(view.pose.lat, view.pose.lon, lat, lon)
        along.append(e * east + n * north)
    return max(along) - min(along) if along else None


def _heading_deg(a: ImageMeta, b: ImageMeta) -> float | None:
    if None in (a.lat, a.lon, b.lat, b.lon):
        return None
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    e, n = geo.latlon_offset(a.lat, a.lon, b.lat, b.lon)
    if math.hypot(e, n) < 1e-3:
        return None
    return math.degrees(math.atan2(e, n)) % 360.0


def sample_frames(
    entries: Sequence[SrtEntry],
    times_ms: Sequence[float],
    width: int,
    height: int,
    name: str,
    settings: IngestSettings = IngestSettings(),
) -> list[int]:
    """Indices of the frames to keep: the first, then each frame once the drone has moved (1 - overlap) of
    the last kept frame's along-track footprint, or `max_gap_s` has passed; always the last frame too."""
    if not times_ms:
        return []
    kept = [0]
    last = interpolate_entry(entries, times_ms[0], width, height, name)
    prev = last
    travelled = 0.0
    step = _step_m(last, None, settings)
    for i in range(1, len(times_ms)):
        meta = interpolate_entry(entries, times_ms[i], width, height, name)
        if None not in (prev.lat, prev.lon, meta.lat, meta.lon):
            assert prev.lat is not None and prev.lon is not None
            assert meta.lat is not None and meta.lon is not None
            travelled += geo.distance_m(prev.lat, prev.lon, meta.lat, meta.lon)
        prev = meta
        gap_s = (times_ms[i] - times_ms[kept[-1]]) / 1000.0
        if (step is not None and travelled >= step) or gap_s >= settings.max_gap_s:
            kept.append(i)
            step = _step_m(meta, _heading_deg(last, meta), settings)
            last, travelled = meta, 0.0
    if kept[-1] != len(times_ms) - 1:
        kept.append(len(times_ms) - 1)  # the end of the clip: ground the last sample has not reached
    return kept


def _step_m(meta: ImageMeta, heading: float | None, settings: IngestSettings) -> float | None:
    """Distance to the next sample; the camera's own yaw stands in for the heading until it is known."""
    direction = heading if heading is not None else meta.gimbal.yaw_deg or meta.flight.yaw_deg or 0.0
    extent = along_track_extent_m(meta, direction, settings.max_distance_m)
    return None if extent is None else max(extent * (1.0 - settings.overlap), 0.5)


# --- loading pixels ---------------------------------------------------------------------------------


def close_readers() -> None:
    """Close this process's open videos (pipeline.video_readers owns them)."""
    close_videos()


# OpenCV's flags for libjpeg's scaled decoding (the DCT computes only the reduced pixels).
_REDUCED_FLAGS = {
    1: "IMREAD_COLOR",
    2: "IMREAD_REDUCED_COLOR_2",
    4: "IMREAD_REDUCED_COLOR_4",
    8: "IMREAD_REDUCED_COLOR_8",
}


def decode_photo(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, reduction: int = 1) -> np.ndarray:
    """A photo's pixels as H x W x 3 BGR, at 1/`reduction` of its size (1, 2, 4 or 8: each pixel the
    decoder's average of a reduction x reduction block; the size must divide by it for that to be exact).
    FrameError naming the file when the file itself is at fault (its header declares more than
    `max_pixels`, checked before decoding; or it does not decode); a plain PipelineError when it cannot be
    read (the machine's trouble, not the frame's)."""
    import cv2
    import numpy as np

    from pipeline.metadata.pixels import check_image_file

    if path.exists() and not path.is_file():  # a FIFO or device: reading it could block forever
        raise FrameError("not a regular file", str(path))
    try:
        check_image_file(path, max_pixels)
        data = np.fromfile(str(path), dtype=np.uint8)
    except PixelLimitError:
        raise
    except MetadataError as err:
        raise PipelineError(err.reason, str(path)) from None
    except OSError as err:
        raise PipelineError(f"cannot read: {err.strerror or err}", str(path)) from None
    if reduction not in _REDUCED_FLAGS:
        raise PipelineError(f"decode reduction must be 1, 2, 4 or 8, not {reduction}", str(path))
    flag = getattr(cv2, _REDUCED_FLAGS[reduction])
    image = cv2.imdecode(data, flag) if data.size else None
    if image is None:
        raise FrameError("not a decodable image" if data.size else "empty file (0 bytes)", str(path))
    out: np.ndarray = image
    return out


def frame_meta(ref: FrameRef, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[ImageMeta | None, str]:
    """(metadata, why there is none) of one frame, without its pixels: a video frame's interpolated
    telemetry, a photo's EXIF/XMP (PixelLimitError for a pixel bomb; other unreadable metadata is a reason,
    not an error: the frame is then searched without a pose)."""
    if ref.is_video:
        meta, why = ref.meta, ref.why_no_meta
    else:
        from pipeline.metadata import read_image_meta

        try:
            meta, why = read_image_meta(Path(ref.source), max_pixels), ""
        except PixelLimitError:
            raise
        except MetadataError as err:
            meta, why = None, err.reason
    if meta is not None and meta.path != ref.name:
        meta = replace(meta, path=ref.name)
    return meta, why


def refuse_contradictions(ref: FrameRef, meta: ImageMeta | None) -> None:
    """FrameError when the frame's own metadata contradicts itself where a case's place depends on it (EXIF
    and XMP positions apart by more than GPS error: pipeline.metadata.reader's rule)."""
    from pipeline.metadata.reader import position_conflict

    conflict = position_conflict(meta) if meta is not None else None
    if conflict is not None:
        raise FrameError(conflict, ref.name)


# How much smaller a frame may be decoded: (view, intrinsics, why no view, width, height) -> 1, 2, 4 or 8.
# The detector's answer (pipeline.detect.detector.reduction_for, bound to a model and its settings).
Reduction = Callable[[CameraView | None, Intrinsics | None, str, int, int], int]


def load_frame(
    ref: FrameRef,
    ground_elevation_m: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduction: Reduction | None = None,
) -> LoadedFrame:
    """Pixels and camera of one frame. FrameError naming the file when the frame's own bytes cannot be used
    (too many pixels declared, undecodable); PipelineError when the file cannot be read now. Missing or
    unusable metadata is not an error (the frame is then searched without a pose, the reason recorded).

    With `reduction`, a photo is decoded as much smaller as it says the frame's camera allows (the
    metadata, read first, gives the size and pose); video frames are always decoded whole."""
    from pipeline.detect.detector import camera_for

    if ref.is_video or reduction is None:
        if ref.is_video:
            assert ref.frame_index is not None
            image = open_videos().read(ref.source, ref.frame_index)
        else:
            image = decode_photo(Path(ref.source), max_pixels)
        meta, why = frame_meta(ref, max_pixels)
        refuse_contradictions(ref, meta)
        view, intr, why = camera_for(meta, ground_elevation_m, why)
        factor = 1
    else:
        meta, why = frame_meta(ref, max_pixels)
        view, intr, why = camera_for(meta, ground_elevation_m, why)
        factor = 1
        if meta is not None and meta.width and meta.height:
            factor = reduction(view, intr, why, meta.width, meta.height)
        image = decode_photo(Path(ref.source), max_pixels, factor)
        refuse_contradictions(ref, meta)
        expected = (meta.width, meta.height) if meta is not None else None
        if factor > 1 and (image.shape[1] * factor, image.shape[0] * factor) != expected:
            # The decoder turned the picture (EXIF orientation) or the header lied: search it whole.
            image, factor = decode_photo(Path(ref.source), max_pixels), 1
    seen_at = (meta.captured_at if meta is not None else None) or ""
    return LoadedFrame(ref, image, view, intr, why, seen_at, factor, max_pixels)
