"""`patrol check`: the drone team's quick look at an upload, without the model, the database or Prefect.

Every frame `patrol process` would look at is planned by the same ingest and loaded (decoded, its camera
posed) by the same `load_frame`; what could not be used is listed with the reason. A 4-frame flight takes
about a second, where `patrol process` without a Prefect server first waits for Prefect's temporary one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.config import DEFAULT_MAX_PIXELS
from pipeline.errors import PipelineError


@dataclass(frozen=True)
class FlightCheck:
    folder: str
    flight_id: str | None
    frames: int  # planned, as `patrol process` plans them
    photos: int
    video_frames: int
    readable: int  # decoded
    posed: int  # with a camera pose: their detections get a place on the map
    problems: tuple[str, ...]  # one line each: file and reason
    seconds: float

    @property
    def usable(self) -> bool:
        return self.frames > 0 and self.readable == self.frames

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems": list(self.problems), "usable": self.usable}


def check_flight(folder: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> FlightCheck:
    from pipeline.ingest import close_readers, load_frame, plan_flight

    started = time.perf_counter()
    try:
        plan = plan_flight(folder)
    except PipelineError as err:
        return FlightCheck(str(folder), None, 0, 0, 0, 0, 0, (str(err),), 0.0)
    problems = [f"{path}: {reason}" for path, reason in plan.skipped]
    readable = posed = 0
    try:
        for ref in plan.frames:
            try:
                frame = load_frame(ref, None, max_pixels)
            except PipelineError as err:
                problems.append(str(err) if err.path else f"{ref.name}: {err.reason}")
                continue
            readable += 1
            if frame.view is not None:
                posed += 1
            elif frame.why_no_pose:
                problems.append(f"{ref.name}: no pose ({frame.why_no_pose}): detections get no position")
    finally:
        close_readers()
    if not plan.frames:
        problems.append(f"{folder}: no photo or video frame to process")
    videos = sum(1 for ref in plan.frames if ref.is_video)
    return FlightCheck(
        str(folder),
        plan.flight_id,
        len(plan.frames),
        len(plan.frames) - videos,
        videos,
        readable,
        posed,
        tuple(problems),
        round(time.perf_counter() - started, 2),
    )
