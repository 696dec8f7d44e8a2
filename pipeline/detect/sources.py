"""The frames of a flight folder with their cameras, for `patrol evaluate` and the bench: photos (EXIF/XMP)
and videos with their DJI .SRT (one telemetry entry per frame, in order).

This is the small slice of ingest that detection needs to run on a folder by itself; a frame whose metadata
is missing or unusable still comes out, with the reason, and is searched at the fallback scale.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import PipelineError
from pipeline.types import CameraView, Intrinsics

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
VIDEO_SUFFIXES = {".mp4", ".mov"}


@dataclass(frozen=True)
class SourceFrame:
    name: str  # the file name, with "#k" (the SRT entry index) for a video frame: as manifest.json names it
    image: np.ndarray
    view: CameraView | None
    intrinsics: Intrinsics | None
    why_no_pose: str = ""


def _telemetry_for(video: Path) -> Path | None:
    for p in video.parent.iterdir():
        if p.stem == video.stem and p.suffix.lower() == ".srt":
            return p
    return None


def photo_frame(path: Path, name: str | None = None) -> SourceFrame:
    from pipeline.detect.detector import camera_for, read_image
    from pipeline.errors import MetadataError
    from pipeline.metadata import read_image_meta

    image = read_image(path)
    try:
        meta = read_image_meta(path)
        view, intr, why = camera_for(meta)
    except MetadataError as err:
        view, intr, why = None, None, err.reason
    return SourceFrame(name or path.name, image, view, intr, why)


def video_frames(path: Path) -> Iterator[SourceFrame]:
    """Each frame of a video paired with its SRT entry; frames past the telemetry have no pose."""
    import cv2

    from pipeline.detect.detector import camera_for
    from pipeline.frames import meta_from_srt_entry
    from pipeline.metadata import read_srt

    srt = _telemetry_for(path)
    entries = read_srt(srt) if srt is not None else []
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise PipelineError("cannot open video", str(path))
    try:
        k = 0
        while True:
            ok, image = cap.read()
            if not ok:
                break
            height, width = image.shape[:2]
            if k < len(entries):
                entry = entries[k]
                meta = meta_from_srt_entry(entry, path.name, width, height)
                view, intr, why = camera_for(meta)
                yield SourceFrame(f"{path.name}#{entry.index}", image, view, intr, why)
            else:
                yield SourceFrame(
                    f"{path.name}#{k + 1}", image, None, None, "no telemetry entry for this frame"
                )
            k += 1
    finally:
        cap.release()


def flight_frames(folder: Path) -> Iterator[SourceFrame | PipelineError]:
    """Every photo, then every video frame, of a flight folder, in name order; a file that cannot be read
    comes out as its error, so one bad file never stops the rest."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for p in files:
        if p.suffix.lower() in PHOTO_SUFFIXES:
            try:
                yield photo_frame(p)
            except PipelineError as err:
                yield err
    for p in files:
        if p.suffix.lower() in VIDEO_SUFFIXES:
            try:
                yield from video_frames(p)
            except PipelineError as err:
                yield err
