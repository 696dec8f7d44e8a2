"""A frame in, pixel detections out: scale plan -> tiles -> model -> merge. Then placing, its own step.

`detect_frame` is what every caller runs per frame (pixels and camera view already in hand): a FrameSearch,
boxes in pixels and the camera the pixels were searched with (posed, or saying why not). `place_frame` puts
them on the ground (pipeline.placement) as the FrameDetections callers report. `detect_image` reads a photo
and its metadata first, which is what tests and scripts use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import geo, placement
from pipeline.config import DEFAULT_SEARCH_RANGE_M
from pipeline.detect.merge import FrameBoxes, merge, to_frame
from pipeline.detect.model import Detector
from pipeline.detect.scale import (
    ScaleLimits,
    ScalePlan,
    decode_reduction,
    fallback_plans,
    plan_scales,
    snap_to_reduction,
)
from pipeline.detect.stages import StageClock
from pipeline.detect.tiling import TileWindow, batches, block_mean, plan_tiles
from pipeline.errors import GeoreferenceError, MetadataError, ModelError, PipelineError
from pipeline.types import Camera, CameraView, Detection, ImageMeta, Intrinsics, PixelDetection, Unposed

# The minimum score where neither the settings nor the model card say otherwise.
DEFAULT_CONF = 0.25


@dataclass(frozen=True)
class DetectSettings:
    # Minimum score reported, for every class; None: the model card's per-class minimums (`patrol calibrate`),
    # else DEFAULT_CONF.
    conf: float | None = None
    iou: float = 0.5  # NMS within a tile and across tiles
    ios: float = 0.6  # a piece inside another box of its class by this share of its area is the same object
    overlap: float = 0.2  # between neighbouring tiles, as a share of the tile
    batch: int = 8  # tiles per forward pass
    edge_px: float = 4.0  # a box this close (tile pixels) to an interior tile edge is a cut piece
    max_ground_distance_m: float = DEFAULT_SEARCH_RANGE_M
    # Nor ground coarser than this many times the model's GSD. 3.0 searched 15 % more tiles at -45 degrees
    # from 130 m and found nothing more on the held-out flights: the far rows gave only false detections.
    max_gsd_ratio: float = 2.0
    # Rows coarser than the model's GSD are enlarged at most this much. Training tiles were always shrunk from
    # finer renders and include coarser ones (up to 1.7x the GSD) at their native size, never enlarged ones;
    # enlarging far rows to the model's GSD showed it blurred pixels it never saw. On the calibration
    # flights (seeds 3103-3104, -45 degrees, and the sample oblique and video flights) 1.0 instead of 2.0
    # gave equal or better recall, fewer false detections and 28-57 % fewer tiles.
    max_upscale: float = 1.0
    # Frames without a usable pose are searched as if seen straight down from each of these heights
    # (pipeline.detect.scale), with a typical drone lens where the intrinsics are unknown too.
    fallback_heights_m: tuple[float, ...] = (30.0, 60.0, 120.0)
    fallback_hfov_deg: float = 84.0
    # Ground extent (largest side, metres) a box may imply for its class when searched at an assumed
    # resolution; outside it the assumption, not the object, explains the box.
    class_size_m: tuple[tuple[str, float, float], ...] = (
        ("illegal_construction", 1.5, 60.0),
        ("garbage_pile", 0.4, 25.0),
    )

    def check(self) -> None:
        problems = []
        if self.conf is not None and not 0.0 < self.conf < 1.0:
            problems.append(f"conf must be in (0, 1), not {self.conf:g}")
        if not 0.0 < self.iou <= 1.0 or not 0.0 < self.ios <= 1.0:
            problems.append("iou and ios must be in (0, 1]")
        if not 0.0 <= self.overlap <= 0.5:
            problems.append(f"overlap must be 0..0.5 of a tile, not {self.overlap:g}")
        if self.batch < 1:
            problems.append("batch must be at least 1")
        if self.max_ground_distance_m <= 0 or self.max_gsd_ratio <= 0 or self.max_upscale <= 0:
            problems.append("distance, GSD ratio and upscale limits must be positive")
        if not self.fallback_heights_m or min(self.fallback_heights_m) <= 0:
            problems.append("fallback heights must be positive (at least one)")
        if not 1.0 <= self.fallback_hfov_deg <= 170.0:
            problems.append(f"fallback field of view must be 1..170 degrees, not {self.fallback_hfov_deg:g}")
        if problems:
            raise ModelError("; ".join(problems))

    def thresholds(self, classes: Sequence[str], card_min_score: Sequence[float] = ()) -> np.ndarray:
        """The minimum score of each class under these settings, given the model card's (maybe none)."""
        if self.conf is not None:
            return np.full(len(classes), self.conf)
        if len(card_min_score) == len(classes):
            return np.array(card_min_score, dtype=float)
        return np.full(len(classes), DEFAULT_CONF)

    def limits(self) -> ScaleLimits:
        return ScaleLimits(
            self.max_ground_distance_m,
            self.max_gsd_ratio,
            self.max_upscale,
            self.fallback_heights_m,
            self.fallback_hfov_deg,
        )

    def plausible_size(self, class_name: str, size_m: float) -> bool:
        for name, lo, hi in self.class_size_m:
            if name == class_name:
                return lo <= size_m <= hi
        return True


@dataclass(frozen=True, kw_only=True)
class SearchFacts:
    """How one frame was searched: what FrameSearch (in pixels) and FrameDetections (placed) both report."""

    path: str
    width_px: int
    height_px: int
    fallback_scale: bool  # searched at a fallback scale (no usable pose); see notes
    strips: int
    tiles: int
    seconds: float
    notes: tuple[str, ...] = field(default=())
    searched_rows: tuple[int, int] = (0, 0)  # [top, bottom) of the frame; the rest is beyond the limits
    # (stage, seconds): plan, rescale, tile, network, merge, then place (pipeline.detect.stages).
    stage_seconds: tuple[tuple[str, float], ...] = field(default=())
    reduction: int = 1  # the pixels searched were decoded at 1/reduction of the frame's size
    # Searched in pieces (detect_regions): each rectangle searched, (x0, y0, x1, y1) in the frame's pixels,
    # within its rows in range. Empty: the whole width of `searched_rows`.
    searched_px: tuple[tuple[float, float, float, float], ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class FrameSearch(SearchFacts):
    """What detection made of one frame, in pixels: its boxes, how it was searched, and the camera the pixels
    were searched with (fitted to their size), posed or saying why not: what placing takes."""

    detections: tuple[PixelDetection, ...]
    camera: Camera


@dataclass(frozen=True, kw_only=True)
class FrameDetections(SearchFacts):
    """One frame searched and its detections placed (place_frame): what the callers report."""

    detections: tuple[Detection, ...]
    georeferenced: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "detections": len(self.detections),
            "georeferenced": self.georeferenced,
            "fallback_scale": self.fallback_scale,
            "strips": self.strips,
            "tiles": self.tiles,
            "seconds": round(self.seconds, 3),
            "searched_rows": list(self.searched_rows),
            "notes": list(self.notes),
            "reduction": self.reduction,
        }


def _fit_view(view: CameraView, width: int, height: int) -> CameraView | None:
    """The view for the pixels at hand: metadata written for another size (a resized copy) is scaled when
    the aspect agrees; otherwise None (the pose cannot be trusted for these pixels)."""
    intr = view.intrinsics
    if (intr.width_px, intr.height_px) == (width, height):
        return view
    sx, sy = width / intr.width_px, height / intr.height_px
    if abs(sx - sy) > 0.01 * sx:
        return None
    scaled = replace(intr, width_px=width, height_px=height, focal_px=intr.focal_px * sx)
    scaled = replace(scaled, cx_px=intr.cx_px * sx, cy_px=intr.cy_px * sy)
    return replace(
        view, intrinsics=scaled, notes=(*view.notes, f"metadata scaled to the {width}x{height} pixels")
    )


def place_frame(found: FrameSearch, max_distance_m: float) -> FrameDetections:
    """A searched frame's detections placed on the ground (pipeline.placement) through the camera it was
    searched with; boxes beyond `max_distance_m` are dropped, and a note says how many."""
    started = time.perf_counter()
    placed = placement.place(found.detections, found.camera, max_distance_m)
    notes = found.notes
    if placed.dropped:
        notes = (*notes, f"{placed.dropped} detection(s) beyond {max_distance_m:g} m not reported")
    spent = time.perf_counter() - started
    stages = found.stage_seconds
    if isinstance(found.camera, CameraView):
        stages = (*stages, ("place", spent))
    facts = {f.name: getattr(found, f.name) for f in fields(SearchFacts)}
    facts.update(seconds=found.seconds + spent, notes=notes, stage_seconds=stages)
    return FrameDetections(
        **facts, detections=placed.detections, georeferenced=isinstance(found.camera, CameraView)
    )


def pixel_detections(boxes: FrameBoxes, classes: tuple[str, ...], path: str) -> tuple[PixelDetection, ...]:
    """Merged boxes as the records placing takes, classes by name."""
    return tuple(
        PixelDetection(path, _class_name(classes, int(c)), float(sc), _box(b))
        for b, sc, c in zip(boxes.xyxy, boxes.score, boxes.cls, strict=True)
    )


def _class_name(classes: tuple[str, ...], k: int) -> str:
    return classes[k] if 0 <= k < len(classes) else f"class_{k}"


def _box(xyxy: np.ndarray) -> tuple[float, float, float, float]:
    return float(xyxy[0]), float(xyxy[1]), float(xyxy[2]), float(xyxy[3])


def _search(
    image: np.ndarray,
    plan: ScalePlan,
    windows: list[TileWindow],
    detector: Detector,
    settings: DetectSettings,
    reduction: int = 1,
    clock: StageClock | None = None,
) -> FrameBoxes:
    """Every tile through the detector, batch by batch; one box per object in frame pixels, best first.
    `image` is the frame at 1/`reduction` of the plan's size."""
    clock = clock or StageClock()
    tile, width = detector.imgsz, plan.width_px
    minimum = settings.thresholds(detector.classes, detector.min_score)
    parts = []
    for pixels, chunk in batches(image, plan, windows, tile, settings.batch, reduction, clock):
        with clock("network"):
            found = detector(pixels, float(minimum.min()), settings.iou)
        with clock("merge"):
            for dets, win in zip(found, chunk, strict=True):
                parts.append(to_frame(dets, win, plan.strips[win.strip], width, tile, settings.edge_px))
    with clock("merge"):
        merged = merge(FrameBoxes.concat(parts), settings.iou, settings.ios)
        # Each class at its own minimum (the network was asked for the lowest of them).
        order = np.flatnonzero(merged.score >= minimum[merged.cls.astype(int)])
        order = order[np.argsort(-merged.score[order], kind="stable")]
        return FrameBoxes(merged.xyxy[order], merged.score[order], merged.cls[order], merged.cut[order])


def search_plan(
    view: CameraView | None,
    width: int,
    height: int,
    detector: Detector,
    settings: DetectSettings = DetectSettings(),
    intrinsics: Intrinsics | None = None,
    why_no_pose: str = "",
) -> ScalePlan:
    """Every strip a width x height frame with this camera is searched in (all fallback passes together when
    there is no usable pose): what detect_frame plans, before any pixel is decoded."""
    tile = detector.imgsz
    overlap = round(settings.overlap * tile)
    return plan_scales(
        view, width, height, detector.gsd_m, tile, overlap, settings.limits(), intrinsics, why_no_pose
    )


def reduction_for(
    view: CameraView | None,
    width: int,
    height: int,
    detector: Detector,
    settings: DetectSettings = DetectSettings(),
    intrinsics: Intrinsics | None = None,
    why_no_pose: str = "",
) -> int:
    """How much smaller (1, 2, 4 or 8) a width x height frame may be decoded for detect_frame to search it
    as it would the full pixels: every strip it searches is shrunk at least that much anyway."""
    if view is not None:
        view = _fit_view(view, width, height)
        if view is None:
            intrinsics = None
    return decode_reduction(search_plan(view, width, height, detector, settings, intrinsics, why_no_pose))


def detect_frame(
    image: np.ndarray,
    view: CameraView | None,
    detector: Detector,
    settings: DetectSettings = DetectSettings(),
    *,
    path: str = "",
    intrinsics: Intrinsics | None = None,
    why_no_pose: str = "",
    reduction: int = 1,
) -> FrameSearch:
    """Detect in one frame (H x W x 3 uint8 BGR), in pixels; place_frame puts the boxes on the ground.
    `view` None: no usable pose (`why_no_pose` says why); the frame is then searched at the fallback scale
    (from `intrinsics` when known) and its camera is Unposed.

    `reduction` > 1: `image` is the frame decoded at 1/reduction of its size (reduction_for says how far
    that may go); the frame is planned, and its boxes reported, in the full frame's pixels all the same."""
    started = time.perf_counter()
    settings.check()
    if image.ndim != 3 or image.shape[2] != 3:
        raise ModelError(f"expected an H x W x 3 colour image, got shape {image.shape}", path or None)
    if reduction not in (1, 2, 4, 8):
        raise ModelError(f"decode reduction must be 1, 2, 4 or 8, not {reduction}", path or None)
    clock = StageClock()
    height, width = image.shape[0] * reduction, image.shape[1] * reduction
    notes: list[str] = []
    if view is not None:
        notes.extend(view.notes)
        fitted = _fit_view(view, width, height)
        if fitted is None:
            why_no_pose = "its metadata describes an image of another shape"
            intrinsics = None
        view = fitted
    tile = detector.imgsz
    overlap = round(settings.overlap * tile)
    if view is None:
        return _detect_unposed(
            image, detector, settings, path, intrinsics, why_no_pose, notes, started, reduction, clock
        )
    with clock("plan"):
        plan = plan_scales(
            view, width, height, detector.gsd_m, tile, overlap, settings.limits(), intrinsics, why_no_pose
        )
        _check_reduction(plan, reduction, path)
    image, inner = _reduce_first(image, plan, reduction, clock)
    with clock("plan"):
        plan = snap_to_reduction(plan, inner)
        notes.extend(plan.notes)
        windows = plan_tiles(plan, tile, overlap)
    merged = _search(image, plan, windows, detector, settings, inner, clock)
    return FrameSearch(
        path=path,
        width_px=width,
        height_px=height,
        detections=pixel_detections(merged, detector.classes, path),
        camera=view,
        fallback_scale=plan.fallback,
        strips=len(plan.strips),
        tiles=len(windows),
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
        searched_rows=plan.searched_rows,
        stage_seconds=clock.items(),
        reduction=reduction,
    )


def detect_regions(
    image: np.ndarray,
    view: CameraView | None,
    detector: Detector,
    regions: Sequence[tuple[int, int, int, int]],
    settings: DetectSettings = DetectSettings(),
    *,
    path: str = "",
    intrinsics: Intrinsics | None = None,
    why_no_pose: str = "",
    reduction: int = 1,
) -> FrameSearch:
    """Detect in some pixel rectangles of a frame only (x0, y0, x1, y1 in the full frame's pixels, edges
    on multiples of `reduction`): each searched as a frame of its own (pipeline.detect.cell_plan.crop_view:
    the same pose, tiled afresh at its own rows' scale), boxes back in the frame's pixels, one box per
    object across the rectangles. `searched_px` says what was searched: only these rectangles, within their
    rows in range. A frame without a usable pose cannot be cut so: it is searched whole (detect_frame)."""
    from pipeline.detect.cell_plan import crop_view

    started = time.perf_counter()
    height, width = image.shape[0] * reduction, image.shape[1] * reduction
    fitted = _fit_view(view, width, height) if view is not None else None
    if fitted is None:
        return detect_frame(
            image, view, detector, settings, path=path, intrinsics=intrinsics, why_no_pose=why_no_pose,
            reduction=reduction,
        )  # fmt: skip
    parts: list[FrameSearch] = []
    for x0, y0, x1, y1 in regions:
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height) or any(
            v % reduction for v in (x0, y0, x1, y1)
        ):
            raise ModelError(
                f"region {x0},{y0},{x1},{y1} is not inside the {width}x{height} frame on multiples of "
                f"{reduction}",
                path or None,
            )
        r = reduction
        crop = image[y0 // r : y1 // r, x0 // r : x1 // r]
        part = detect_frame(
            crop, crop_view(fitted, (x0, y0, x1, y1)), detector, settings, path=path, reduction=r
        )
        top, bottom = part.searched_rows
        moved = tuple(
            replace(d, xyxy_px=(d.xyxy_px[0] + x0, d.xyxy_px[1] + y0, d.xyxy_px[2] + x0, d.xyxy_px[3] + y0))
            for d in part.detections
        )
        searched = ((float(x0), float(y0 + top), float(x1), float(y0 + bottom)),) if bottom > top else ()
        parts.append(replace(part, detections=moved, searched_px=searched))
    return _combine(parts, fitted, width, height, detector, settings, path, reduction, started)


def combine_searches(
    parts: Sequence[FrameSearch], detector: Detector, settings: DetectSettings = DetectSettings()
) -> FrameSearch:
    """Searches of pieces of one posed frame (detect_regions, at one time or several) as one: boxes
    suppressed across pieces (rectangles may overlap), tiles and times summed, every piece listed."""
    started = time.perf_counter()
    first = parts[0]
    assert isinstance(first.camera, CameraView)
    return _combine(
        parts, first.camera, first.width_px, first.height_px, detector, settings, first.path,
        first.reduction, started - sum(p.seconds for p in parts),
    )  # fmt: skip


def _combine(
    parts: Sequence[FrameSearch],
    view: CameraView,
    width: int,
    height: int,
    detector: Detector,
    settings: DetectSettings,
    path: str,
    reduction: int,
    started: float,
) -> FrameSearch:
    """Searches of pieces of one frame as one (combine_searches)."""
    from pipeline.detect.merge import suppress

    clock = StageClock()
    for p in parts:
        for stage, seconds in p.stage_seconds:
            clock.add(stage, seconds)
    found = [d for p in parts for d in p.detections]
    with clock("merge"):
        index = {name: k for k, name in enumerate(detector.classes)}
        # A box at an edge of its rectangle inside the frame may be a cut piece of what another rectangle
        # holds whole: such boxes are suppressed by the intersection over the smaller, as across tiles.
        cut = [_at_inner_edge(d.xyxy_px, p.searched_px, width, height) for p in parts for d in p.detections]
        boxes = FrameBoxes(
            np.array([d.xyxy_px for d in found], dtype=float).reshape(-1, 4),
            np.array([d.score for d in found], dtype=float),
            np.array([index.get(d.class_name, -1) for d in found], dtype=np.int64),
            np.array(cut, dtype=np.int8),
        )
        kept = suppress(boxes, settings.iou, settings.ios)
        order = np.argsort(-kept.score, kind="stable")
        kept = FrameBoxes(kept.xyxy[order], kept.score[order], kept.cls[order], kept.cut[order])
    searched = tuple(r for p in parts for r in p.searched_px)
    notes = tuple(dict.fromkeys([*view.notes, *(n for p in parts for n in p.notes)]))
    rows = (min(int(r[1]) for r in searched), max(int(r[3]) for r in searched)) if searched else (0, 0)
    return FrameSearch(
        path=path,
        width_px=width,
        height_px=height,
        detections=pixel_detections(kept, detector.classes, path),
        camera=view,
        fallback_scale=False,
        strips=sum(p.strips for p in parts),
        tiles=sum(p.tiles for p in parts),
        seconds=time.perf_counter() - started,
        notes=notes,
        searched_rows=rows,
        stage_seconds=clock.items(),
        reduction=reduction,
        searched_px=searched,
    )


def _at_inner_edge(
    xyxy: tuple[float, float, float, float],
    rects: Sequence[tuple[float, float, float, float]],
    width: int,
    height: int,
    edge_px: float = 8.0,
) -> int:
    """PIECE when the box comes within `edge_px` of an edge of the rectangle holding its centre that is not
    the frame's own edge."""
    from pipeline.detect.merge import PIECE, WHOLE

    cx, cy = (xyxy[0] + xyxy[2]) / 2.0, (xyxy[1] + xyxy[3]) / 2.0
    holding = [r for r in rects if r[0] <= cx <= r[2] and r[1] <= cy <= r[3]]
    if not holding:
        return WHOLE
    x0, y0, x1, y1 = holding[0]
    near = (
        (x0 > 0 and xyxy[0] <= x0 + edge_px)
        or (y0 > 0 and xyxy[1] <= y0 + edge_px)
        or (x1 < width and xyxy[2] >= x1 - edge_px)
        or (y1 < height and xyxy[3] >= y1 - edge_px)
    )
    return PIECE if near else WHOLE


def reduction_rule(
    detector: Detector, settings: DetectSettings = DetectSettings()
) -> Callable[[CameraView | None, Intrinsics | None, str, int, int], int]:
    """reduction_for bound to a detector and its settings, in the shape pipeline.ingest.load_frame takes."""

    def rule(
        view: CameraView | None, intrinsics: Intrinsics | None, why: str, width: int, height: int
    ) -> int:
        return reduction_for(view, width, height, detector, settings, intrinsics, why)

    return rule


def _check_reduction(plan: ScalePlan, reduction: int, path: str) -> None:
    """Pixels decoded smaller than the plan allows would be searched coarser than the model was trained at:
    a caller's mistake, refused rather than silently losing small objects."""
    if reduction > decode_reduction(plan):
        raise ModelError(
            f"pixels decoded at 1/{reduction} but the frame's search plan allows at most "
            f"1/{decode_reduction(plan)}",
            path or None,
        )


def _reduce_first(
    image: np.ndarray, plan: ScalePlan, reduction: int, clock: StageClock
) -> tuple[np.ndarray, int]:
    """Pixels (at 1/`reduction`) of a frame whose every strip shrinks further anyway are first reduced to
    block means, once, as far as a smaller decode could have gone (scale.decode_reduction): (image, its
    reduction). Video frames and PNGs come whole; rescaling each strip from full rows read the overlapping
    rows again and again through a slow area step, most of the time beyond the network on a nadir 20 MP
    frame (bench/RESULTS.md)."""
    allowed = decode_reduction(plan)
    if allowed <= reduction:
        return image, reduction
    with clock("rescale"):
        return block_mean(image, allowed // reduction), allowed


def _detect_unposed(
    image: np.ndarray,
    detector: Detector,
    settings: DetectSettings,
    path: str,
    intrinsics: Intrinsics | None,
    why_no_pose: str,
    notes: list[str],
    started: float,
    reduction: int = 1,
    clock: StageClock | None = None,
) -> FrameSearch:
    """A frame with no usable pose: one search per assumed ground resolution, boxes whose implied ground size
    is implausible for their class dropped, then one box per object across the passes (the best score
    wins; it says which resolution found it)."""
    import cv2

    clock = clock or StageClock()
    height, width = image.shape[0] * reduction, image.shape[1] * reduction
    tile = detector.imgsz
    overlap = round(settings.overlap * tile)
    with clock("plan"):
        plans = fallback_plans(
            width, height, detector.gsd_m, tile, overlap, settings.limits(), intrinsics, why_no_pose
        )
        whole = ScalePlan(width, height, tuple(st for p in plans for st in p.strips), True)
        _check_reduction(whole, reduction, path)
    image, inner = _reduce_first(image, whole, reduction, clock)
    found: list[PixelDetection] = []
    strips = tiles = implausible = 0
    for plan in plans:
        plan = snap_to_reduction(plan, inner)
        notes.extend(plan.notes)
        windows = plan_tiles(plan, tile, overlap)
        strips, tiles = strips + len(plan.strips), tiles + len(windows)
        assumed = plan.strips[0].gsd_m if plan.strips else None
        boxes = _search(image, plan, windows, detector, settings, inner, clock)
        for b, sc, c in zip(boxes.xyxy, boxes.score, boxes.cls, strict=True):
            name = _class_name(detector.classes, int(c))
            size = None if assumed is None else float(max(b[2] - b[0], b[3] - b[1])) * assumed
            if size is not None and not settings.plausible_size(name, size):
                implausible += 1
                continue
            found.append(PixelDetection(path, name, float(sc), _box(b), size_m=size, assumed_gsd_m=assumed))
    if implausible:
        notes.append(
            f"{implausible} box(es) dropped: ground size implausible for the class at that resolution"
        )
    kept: list[PixelDetection] = []
    if found:
        xywh = [
            [d.xyxy_px[0], d.xyxy_px[1], d.xyxy_px[2] - d.xyxy_px[0], d.xyxy_px[3] - d.xyxy_px[1]]
            for d in found
        ]
        labels = [
            detector.classes.index(d.class_name) if d.class_name in detector.classes else -1 for d in found
        ]
        keep = cv2.dnn.NMSBoxesBatched(xywh, [d.score for d in found], labels, 0.0, settings.iou)
        kept = sorted((found[int(i)] for i in np.asarray(keep).reshape(-1)), key=lambda d: -d.score)
    return FrameSearch(
        path=path,
        width_px=width,
        height_px=height,
        detections=tuple(kept),
        camera=Unposed(why_no_pose),
        fallback_scale=True,
        strips=strips,
        tiles=tiles,
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
        searched_rows=(0, height) if plans else (0, 0),
        stage_seconds=clock.items(),
        reduction=reduction,
    )


def camera_for(
    meta: ImageMeta | None, ground_elevation_m: float | None = None, why: str = ""
) -> tuple[CameraView | None, Intrinsics | None, str]:
    """(view, intrinsics, why there is no view) from a frame's metadata; never raises for missing tags."""
    from pipeline.metadata import intrinsics_for

    if meta is None:
        return None, None, why or "no metadata"
    try:
        intr = intrinsics_for(meta)
    except MetadataError as err:
        return None, None, err.reason
    try:
        return geo.view_from_meta(meta, intr, ground_elevation_m), intr, ""
    except GeoreferenceError as err:
        return None, intr, err.reason


def read_image(path: Path) -> np.ndarray:
    """A photo's pixels as H x W x 3 BGR; PipelineError naming the file when it cannot be decoded."""
    import cv2

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise PipelineError(f"cannot read: {err.strerror or err}", str(path)) from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise PipelineError("not a decodable image", str(path))
    out: np.ndarray = image
    return out


def detect_image(
    path: str | Path,
    detector: Detector,
    settings: DetectSettings = DetectSettings(),
    ground_elevation_m: float | None = None,
) -> FrameDetections:
    """Read a photo and its metadata, detect in it and place what it finds (a frame whose tags are missing is
    still searched)."""
    from pipeline.metadata import read_image_meta

    p = Path(path)
    image = read_image(p)
    meta: ImageMeta | None
    why = ""
    try:
        meta = read_image_meta(p)
    except MetadataError as err:
        meta, why = None, err.reason
    view, intr, why = camera_for(meta, ground_elevation_m, why)
    found = detect_frame(image, view, detector, settings, path=str(p), intrinsics=intr, why_no_pose=why)
    return place_frame(found, settings.max_ground_distance_m)
