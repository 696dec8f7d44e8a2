"""A photo flight searched each ground cell once (issue 15), in three steps a caller runs in order:

    plan_search(refs, ...)          metadata only: every frame's camera -> pipeline.detect.cell_plan
    first_pass(ref, assignment ...) per frame: its rectangle searched (all of it when it has no pose)
    plan_second_pass(...)           what the first pass found -> re-check crops per frame
                                    (pipeline.detect.rechecks)
    second_pass(ref, first, crops)  per frame with crops: those searched, combined with its first pass

Each frame's result is a FrameDetections whose `searched_px` lists every rectangle it searched (its own and
its re-check crops): coverage_pieces turns them into the ground it is recorded as having searched, so the
case evidence never counts a frame as having looked where it did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.config import DEFAULT_MAX_PIXELS
from pipeline.detect.cell_plan import CellPlan, FrameAssignment, FrameToPlan, plan_cells
from pipeline.detect.detector import (
    DetectSettings,
    FrameDetections,
    FrameSearch,
    camera_for,
    combine_searches,
    detect_frame,
    detect_regions,
    reduction_rule,
    search_plan,
)
from pipeline.detect.rechecks import Candidate, candidates, plan_rechecks, region_rects
from pipeline.errors import PipelineError
from pipeline.types import FrameCoverage

if TYPE_CHECKING:
    from pipeline.detect.cell_plan import SearchPlan
    from pipeline.detect.model import Detector
    from pipeline.detect.scale import ScalePlan
    from pipeline.ingest import FrameRef, LoadedFrame
    from pipeline.types import CameraView

CELL_M = 5.0
# First-pass boxes down to this score are looked for again in the other frames (None: only those at the
# class minimums): a cell's one view may score an object just under its minimum where others would not.
CANDIDATE_SCORE: float | None = None
MARGIN_M = 5.0
PAD_M = 2.0


@dataclass(frozen=True)
class SearchCells:
    """The plan of a flight's first pass: the frames as planned (metadata only) and their assignments."""

    frames: tuple[FrameToPlan, ...]
    cells: CellPlan


def searcher(detector: Detector, settings: DetectSettings) -> SearchPlan:
    def search(view: CameraView | None, width: int, height: int) -> ScalePlan:
        return search_plan(view, width, height, detector, settings)

    return search


def plan_search(
    refs: Sequence[FrameRef],
    detector: Detector,
    settings: DetectSettings,
    ground_elevation_m: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    cell_m: float = CELL_M,
) -> SearchCells:
    """Each frame's camera from its metadata (no pixels), then each cell of ground to its best view."""
    from pipeline.ingest import frame_meta

    frames = []
    for ref in refs:
        try:
            meta, why = frame_meta(ref, max_pixels)
        except PipelineError:  # a pixel bomb, an unreadable file: its first pass says so, frame by frame
            frames.append(FrameToPlan(ref.name, None, 0, 0))
            continue
        view, _, _ = camera_for(meta, ground_elevation_m, why)
        width = (meta.width or 0) if meta is not None else 0
        height = (meta.height or 0) if meta is not None else 0
        frames.append(FrameToPlan(ref.name, view if width and height else None, width, height))
    tile = detector.imgsz
    overlap = round(settings.overlap * tile)
    plan = plan_cells(
        frames, searcher(detector, settings), tile, overlap, cell_m=cell_m, margin_m=MARGIN_M, pad_m=PAD_M
    )
    return SearchCells(tuple(frames), plan)


def _load(
    ref: FrameRef,
    detector: Detector,
    settings: DetectSettings,
    ground_elevation_m: float | None,
    max_pixels: int,
) -> LoadedFrame:
    from pipeline.ingest import load_frame

    return load_frame(ref, ground_elevation_m, max_pixels, reduction_rule(detector, settings))


def search_pieces(
    frame: LoadedFrame,
    rects: Sequence[tuple[int, int, int, int]],
    detector: Detector,
    settings: DetectSettings,
    whole: bool = False,
) -> FrameSearch:
    """A loaded frame's rectangles searched (all of it, as detect_frame, when `whole` or it has no pose)."""
    if whole or frame.view is None:
        return detect_frame(
            frame.image, frame.view, detector, settings, path=frame.ref.name, intrinsics=frame.intrinsics,
            why_no_pose=frame.why_no_pose, reduction=frame.reduction,
        )  # fmt: skip
    return detect_regions(
        frame.image, frame.view, detector, rects, settings, path=frame.ref.name,
        intrinsics=frame.intrinsics, why_no_pose=frame.why_no_pose, reduction=frame.reduction,
    )  # fmt: skip


def first_pass(
    ref: FrameRef,
    assignment: FrameAssignment,
    detector: Detector,
    settings: DetectSettings,
    ground_elevation_m: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    candidate_score: float | None = CANDIDATE_SCORE,
) -> tuple[FrameSearch, LoadedFrame | None]:
    """The frame's first-pass search, and the frame as loaded (None: it had nothing to search, and was
    not decoded). With `candidate_score`, boxes down to that score are kept as candidates for the
    re-checks (second_pass reports only those at the settings' own minimums)."""
    if candidate_score is not None:
        settings = replace(settings, conf=candidate_score)
    rects = region_rects(assignment)
    if not rects and not assignment.whole:
        from pipeline.ingest import frame_meta

        meta, why = frame_meta(ref, max_pixels)
        view, _, why = camera_for(meta, ground_elevation_m, why)
        if view is not None:
            w, h = view.intrinsics.width_px, view.intrinsics.height_px
            # A frame none of whose own ground is in range says why, as in full search; one whose ground
            # went to other frames says nothing here (process_cells notes it).
            own = search_plan(view, w, h, detector, settings) if assignment.tiles_whole == 0 else None
            empty = FrameSearch(
                path=ref.name,
                width_px=w,
                height_px=h,
                detections=(),
                camera=view,
                fallback_scale=False,
                strips=0,
                tiles=0,
                seconds=0.0,
                notes=tuple(own.notes) if own is not None else (),
            )
            return empty, None
    frame = _load(ref, detector, settings, ground_elevation_m, max_pixels)
    return search_pieces(frame, rects, detector, settings, whole=assignment.whole), frame


def plan_second_pass(
    plan: SearchCells,
    first: Sequence[FrameDetections],
    detector: Detector,
    settings: DetectSettings,
    max_views: int | None = None,
) -> tuple[tuple[Candidate, ...], tuple[tuple[tuple[int, int, int, int], ...], ...]]:
    """(candidates, re-check crops per frame) from the first pass's placed detections."""
    found = candidates([(f.path, f.detections) for f in first])
    crops = plan_rechecks(
        plan.frames,
        plan.cells.frames,
        found,
        searcher(detector, settings),
        detector.imgsz,
        detector.gsd_m,
        settings.max_upscale,
        margin_m=MARGIN_M,
        max_views=max_views,
    )
    return tuple(found), crops


def second_pass(
    ref: FrameRef,
    first: FrameSearch,
    crops: Sequence[tuple[int, int, int, int]],
    detector: Detector,
    settings: DetectSettings,
    ground_elevation_m: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    frame: LoadedFrame | None = None,
) -> FrameSearch:
    """The frame's re-check crops searched (the frame decoded again unless given) and combined with its
    first pass; only boxes at the settings' minimum scores are kept (the first pass may have kept weaker
    ones as candidates)."""
    if crops:
        frame = frame or _load(ref, detector, settings, ground_elevation_m, max_pixels)
        again = search_pieces(frame, crops, detector, settings)
        parts = [p for p in (first, again) if p.searched_px]
        if parts:
            first = combine_searches(parts, detector, settings)
    minimum = settings.thresholds(detector.classes, detector.min_score)
    index = {name: k for k, name in enumerate(detector.classes)}
    kept = tuple(
        d for d in first.detections if d.class_name not in index or d.score >= minimum[index[d.class_name]]
    )
    return first if len(kept) == len(first.detections) else replace(first, detections=kept)


def coverage_pieces(
    found: FrameDetections,
    view: CameraView,
    flight_id: str,
    frame_path: str,
    seen_at: str,
    max_distance_m: float,
) -> list[FrameCoverage]:
    """The ground each searched rectangle of a frame covers, one record per rectangle, in the order
    searched (its own rectangle first): what the case evidence counts as this frame having looked at."""
    from pipeline import geo
    from pipeline.errors import GeoreferenceError

    intr = view.intrinsics
    # Rectangles are in the searched pixels; the view may describe the same picture at another size.
    scale = intr.width_px / found.width_px
    out = []
    for x0, y0, x1, y1 in found.searched_px:
        box = (x0 * scale, y0 * scale, x1 * scale, y1 * scale)
        try:
            footprint = tuple(geo.ground_polygon(view, box, max_distance_m=max_distance_m))
        except GeoreferenceError:
            continue
        out.append(FrameCoverage(flight_id, frame_path, seen_at, footprint))
    return out
