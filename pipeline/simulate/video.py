"""Video output: an MP4 through cv2.VideoWriter (no ffmpeg binary needed) and its DJI-style telemetry .SRT."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import SimulationError
from pipeline.types import Attitude


@dataclass(frozen=True)
class SrtRecord:
    """Telemetry of one video frame as the newer DJI bracket layout writes it (positions with any noise)."""

    frame: int  # 1-based
    start_ms: int
    end_ms: int
    at: datetime
    lat: float
    lon: float
    rel_alt_m: float
    abs_alt_m: float
    gimbal: Attitude
    focal_35mm: float


def _clock(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, milli = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{milli:03d}"


def srt_text(records: Iterable[SrtRecord]) -> str:
    blocks = []
    for r in records:
        stamp = r.at.strftime("%Y-%m-%d %H:%M:%S") + f".{r.at.microsecond // 1000:03d}"
        blocks.append(
            f"{r.frame}\n{_clock(r.start_ms)} --> {_clock(r.end_ms)}\n"
            f'<font size="28">FrameCnt: {r.frame}, DiffTime: {r.end_ms - r.start_ms}ms\n'
            f"{stamp}\n"
            f"[iso : 100] [shutter : 1/1000.0] [fnum : 280] [ev : 0] [ct : 5500] [color_md : default] "
            f"[focal_len : {round(r.focal_35mm * 10)}] [latitude: {r.lat:.6f}] [longitude: {r.lon:.6f}] "
            f"[rel_alt: {r.rel_alt_m:.3f} abs_alt: {r.abs_alt_m:.3f}] "
            # Two decimals, as the plan rounds poses, so the written angles are the rendered ones.
            f"[gb_yaw: {r.gimbal.yaw_deg:.2f} gb_pitch: {r.gimbal.pitch_deg:.2f} "
            f"gb_roll: {r.gimbal.roll_deg:.2f}] "
            "</font>\n"
        )
    return "\n".join(blocks)


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Write BGR frames of `size` (width, height) as MPEG-4 Part 2 ('mp4v'); returns the frame count."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise SimulationError("this OpenCV build cannot write MP4 ('mp4v')", str(path))
    n = 0
    try:
        for frame in frames:
            writer.write(frame)
            n += 1
    finally:
        writer.release()
    return n
