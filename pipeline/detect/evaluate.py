"""Object-level precision, recall and AP of detections against a simulated flight's truth.geojson.

A detection finds a truth object of its class when its ground position lies inside the object's footprint
or within `tolerance_m` of it. Counting:
- recall: truth objects found at least once / truth objects asked for. An object is asked for when some
  frame labels it and, in one such frame, its centre lies in the rows that were searched: not beyond the
  search range (`max_ground_distance_m` from the point below the camera) nor where the ground is imaged
  coarser than `max_gsd_ratio` x the model's GSD; nothing there is reported, by design. Objects in
  truth.geojson that no frame labels (a sliver at a frame edge, a few pixels across) or that were only ever
  seen outside the searched rows are not asked for: a detection that finds one is ignored, neither right nor
  wrong, and the count of those outside is reported (`beyond_range`) so that the limits' cost in recall
  stays visible.
- precision: detections that find a labelled object of their class / all detections that are not ignored.
  A frame without a pose gives detections with no ground position: they cannot be checked, so they count
  as false. Seeing the same object in several frames is right every time (dedupe merges sightings later).
- false_per_frame: false detections / frames.
- AP: detections ranked by score over the whole flight; the first to find an object is a true positive,
  later sightings of an object already found are skipped, false ones are false positives; the area under
  the precision envelope over recall (all-point interpolation, as VOC 2010+ and COCO do per class).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.types import CameraView, Detection

if TYPE_CHECKING:
    from pipeline.detect.detector import DetectSettings
    from pipeline.detect.model import Detector
    from pipeline.ingest import IngestSettings

_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.69437999014e-3


@dataclass(frozen=True)
class TruthObject:
    key: str  # unique over everything scored together (flight-qualified id)
    class_name: str
    ring: tuple[tuple[float, float], ...]  # (lat, lon) footprint, first point not repeated
    labelled: bool  # some frame labels it: a detector is asked to find it
    frames: tuple[str, ...] = ()  # the frames that label it (file names, "VIDEO#k" for video frames)
    in_range: bool = True  # seen within the search range in one of those frames
    kind: str = ""  # what it is within its class (the simulator's truth `kind`: blue_shed, wall_shack, ...)


@dataclass(frozen=True)
class ClassScore:
    class_name: str
    truth: int
    found: int
    detections: int
    true_positives: int
    false_positives: int
    ignored: int
    ap: float | None  # None when there is nothing to find
    beyond_range: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.truth if self.truth else None

    @property
    def precision(self) -> float | None:
        judged = self.true_positives + self.false_positives
        return self.true_positives / judged if judged else None

    def as_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "class": self.class_name,
            "truth": self.truth,
            "found": self.found,
            "recall": r(self.recall),
            "detections": self.detections,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "ignored": self.ignored,
            "beyond_range": self.beyond_range,
            "precision": r(self.precision),
            "ap": r(self.ap),
        }


def load_truth(path: Path, prefix: str = "") -> list[TruthObject]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for f in doc["features"]:
            props = f["properties"]
            ring = [(float(lat), float(lon)) for lon, lat in f["geometry"]["coordinates"][0]]
            if len(ring) > 1 and ring[0] == ring[-1]:
                ring = ring[:-1]
            frames = tuple(str(x) for x in props.get("frames") or ())
            key, cls, kind = f"{prefix}{props['id']}", str(props["class"]), str(props.get("kind") or "")
            out.append(TruthObject(key, cls, tuple(ring), bool(frames), frames, kind=kind))
    except FileNotFoundError:
        raise PipelineError("no truth.geojson (not a simulated flight?)", str(path)) from None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as err:
        raise PipelineError(f"truth unreadable: {err}", str(path)) from None
    return out


def distance_to_polygon_m(lat: float, lon: float, ring: Sequence[tuple[float, float]]) -> float:
    """0 inside the polygon, else metres to its outline (local flat projection around the point)."""
    # Metres per radian east and north at this latitude on the WGS84 ellipsoid (prime-vertical and meridional
    # radii): exact to millimetres over a footprint's few tens of metres.
    sin2 = math.sin(math.radians(lat)) ** 2
    east = _WGS84_A / math.sqrt(1.0 - _WGS84_E2 * sin2) * math.cos(math.radians(lat))
    north = _WGS84_A * (1.0 - _WGS84_E2) / (1.0 - _WGS84_E2 * sin2) ** 1.5
    pts = np.array([((b - lon) * east, (a - lat) * north) for a, b in ring]) * math.radians(1.0)
    nxt = np.roll(pts, -1, axis=0)
    # Ray casting from the origin (the point itself) towards +x.
    y0, y1 = pts[:, 1], nxt[:, 1]
    crosses = (y0 > 0) != (y1 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = pts[:, 0] + (0.0 - y0) * (nxt[:, 0] - pts[:, 0]) / (y1 - y0)
    if int(np.count_nonzero(crosses & (x_at > 0))) % 2 == 1:
        return 0.0
    seg = nxt - pts
    t = np.clip(-(pts * seg).sum(axis=1) / np.maximum((seg * seg).sum(axis=1), 1e-12), 0.0, 1.0)
    closest = pts + seg * t[:, None]
    return float(np.hypot(closest[:, 0], closest[:, 1]).min())


def match(det: Detection, truth: Sequence[TruthObject], tolerance_m: float) -> TruthObject | None:
    """The truth object of the detection's class that it finds (the nearest, when several qualify)."""
    if det.lat is None or det.lon is None:
        return None
    best: tuple[float, TruthObject] | None = None
    for obj in truth:
        if obj.class_name != det.class_name:
            continue
        d = distance_to_polygon_m(det.lat, det.lon, obj.ring)
        if d <= tolerance_m and (best is None or d < best[0]):
            best = (d, obj)
    return best[1] if best else None


def average_precision(ranked_hits: Sequence[bool | None], n_truth: int) -> float:
    """AP from outcomes in score order: True (finds a new object), False (false), None (skipped)."""
    if n_truth == 0:
        return 0.0
    tp = fp = 0
    recalls, precisions = [0.0], [1.0]
    for hit in ranked_hits:
        if hit is None:
            continue
        tp, fp = tp + bool(hit), fp + (not hit)
        recalls.append(tp / n_truth)
        precisions.append(tp / (tp + fp))
    r = np.array([*recalls, recalls[-1]])
    p = np.array([*precisions, 0.0])
    envelope = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * envelope[1:]))


# Detections and the truth they are scored against: one flight. Several flights are scored together by
# pooling their detections' ranks, but a detection only ever finds an object of its own flight (flights over
# one world share objects, under different keys).
Group = tuple[Sequence[Detection], Sequence[TruthObject]]


def score_class(class_name: str, groups: Sequence[Group], tolerance_m: float) -> ClassScore:
    """Scores for one class; truth may hold every class (a detection only finds objects of its own)."""
    outcomes: list[tuple[float, TruthObject | None]] = []
    wanted = beyond = 0
    for detections, truth in groups:
        wanted += sum(1 for o in truth if o.class_name == class_name and o.labelled and o.in_range)
        beyond += sum(1 for o in truth if o.class_name == class_name and o.labelled and not o.in_range)
        for det in detections:
            if det.class_name == class_name:
                outcomes.append((det.score, match(det, truth, tolerance_m)))
    outcomes.sort(key=lambda o: -o[0])
    found: set[str] = set()
    tp = fp = ignored = 0
    ranked: list[bool | None] = []
    for _, obj in outcomes:
        if obj is None:
            fp += 1
            ranked.append(False)
        elif not (obj.labelled and obj.in_range):
            ignored += 1
            ranked.append(None)
        else:
            tp += 1
            ranked.append(None if obj.key in found else True)
            found.add(obj.key)
    return ClassScore(
        class_name,
        wanted,
        len(found),
        len(outcomes),
        tp,
        fp,
        ignored,
        average_precision(ranked, wanted) if wanted else None,
        beyond,
    )


@dataclass(frozen=True)
class KindRecall:
    class_name: str
    kind: str
    truth: int  # labelled objects of this kind in searched rows
    found: int

    @property
    def recall(self) -> float | None:
        return self.found / self.truth if self.truth else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "class": self.class_name,
            "kind": self.kind,
            "truth": self.truth,
            "found": self.found,
            "recall": None if self.recall is None else round(self.recall, 4),
        }


def recall_by_kind(groups: Sequence[Group], tolerance_m: float) -> list[KindRecall]:
    """Recall per class and kind of object, the same matching as score_class: which targets a model
    misses (the wall shacks, the pale rooftop add-ons), not only how many. Objects without a kind are
    counted under ""."""
    wanted: dict[tuple[str, str], set[str]] = {}
    found: dict[tuple[str, str], set[str]] = {}
    for detections, truth in groups:
        for o in truth:
            if o.labelled and o.in_range:
                wanted.setdefault((o.class_name, o.kind), set()).add(o.key)
        for det in detections:
            obj = match(det, truth, tolerance_m)
            if obj is not None and obj.labelled and obj.in_range:
                found.setdefault((obj.class_name, obj.kind), set()).add(obj.key)
    return [
        KindRecall(c, k, len(keys), len(found.get((c, k), ()))) for (c, k), keys in sorted(wanted.items())
    ]


def score_all(classes: Sequence[str], groups: Sequence[Group], tolerance_m: float) -> list[ClassScore]:
    """One score per class, then "all": counts summed, AP the mean over the classes with something to find
    (mAP)."""
    per = [score_class(c, groups, tolerance_m) for c in classes]
    aps = [s.ap for s in per if s.ap is not None]
    total = ClassScore(
        "all",
        sum(s.truth for s in per),
        sum(s.found for s in per),
        sum(s.detections for s in per),
        sum(s.true_positives for s in per),
        sum(s.false_positives for s in per),
        sum(s.ignored for s in per),
        float(np.mean(aps)) if aps else None,
        sum(s.beyond_range for s in per),
    )
    return [*per, total]


@dataclass(frozen=True)
class Searched:
    """How one frame was searched: its camera and the rows of it that were searched (FrameDetections)."""

    view: CameraView
    rows: tuple[int, int]


def mark_range(truth: Sequence[TruthObject], searched: dict[str, Searched]) -> list[TruthObject]:
    """Truth with `in_range` set: in some frame that labels it, the object's centre lies in the searched
    rows (not beyond the search range, nor where the ground is too coarse to search). Frames without a
    known camera give the object the benefit of the doubt."""
    from pipeline import geo

    out = []
    for obj in truth:
        lat = sum(p[0] for p in obj.ring) / len(obj.ring)
        lon = sum(p[1] for p in obj.ring) / len(obj.ring)
        near = not obj.frames
        for name in obj.frames:
            frame = searched.get(name)
            if frame is None:
                near = True
                break
            pose = frame.view.pose
            east, north = geo.latlon_offset(pose.lat, pose.lon, lat, lon)
            y = geo.project_enu_to_pixels(frame.view.intrinsics, pose, np.array([[east, north, 0.0]]))[0, 1]
            if frame.rows[0] <= y < frame.rows[1]:
                near = True
                break
        out.append(replace(obj, in_range=near))
    return out


@dataclass(frozen=True)
class FlightRun:
    """Every detection of one flight folder, with its truth, and what went wrong on the way."""

    folder: str
    frames: int
    errors: tuple[str, ...]  # one line per frame or file that could not be searched
    detections: tuple[Detection, ...]
    truth: tuple[TruthObject, ...]
    seconds: float
    fallback_frames: int
    tiles: int


def run_flight(
    folder: Path,
    detector: Detector,
    settings: DetectSettings,
    prefix: str | None = None,
    ingest: IngestSettings | None = None,
    decode_reduced: bool = True,
) -> FlightRun:
    """Detect in every frame of a simulated flight folder (photos, or a video with its SRT), read through the
    one ingest `patrol process` uses (pipeline.ingest), every video frame by default: the same frames,
    poses (from the telemetry by time) and pixels production sees, only sampled more densely.
    `decode_reduced` False: every photo decoded whole (the bench's before/after of scaled decoding)."""
    from pipeline.detect.detector import detect_frame, place_frame, reduction_rule
    from pipeline.ingest import SAMPLE_EVERY, IngestSettings, close_readers, load_frame, plan_flight

    truth = load_truth(folder / "truth.geojson", f"{folder.name}/" if prefix is None else prefix)
    started = time.perf_counter()
    ingest = ingest or IngestSettings(sampling=SAMPLE_EVERY)
    plan = plan_flight(folder, settings=ingest)
    dets: list[Detection] = []
    errors = [f"{path}: {reason}" for path, reason in plan.skipped]
    searched: dict[str, Searched] = {}
    frames = fallback = tiles = 0
    try:
        for ref in plan.frames:
            path = ref.name if ref.frame_index is None else f"{ref.source}#{ref.frame_index + 1}"
            try:
                rule = reduction_rule(detector, settings) if decode_reduced else None
                frame = load_frame(ref, max_pixels=ingest.max_pixels, reduction=rule)
                in_pixels = detect_frame(
                    frame.image,
                    frame.view,
                    detector,
                    settings,
                    path=path,
                    intrinsics=frame.intrinsics,
                    why_no_pose=frame.why_no_pose,
                    reduction=frame.reduction,
                )
                result = place_frame(in_pixels, settings.max_ground_distance_m)
            except PipelineError as err:
                errors.append(str(err) if err.path else f"{path}: {err.reason}")
                continue
            if frame.view is not None and not result.fallback_scale:
                searched[ref.label] = Searched(frame.view, result.searched_rows)
            frames += 1
            fallback += result.fallback_scale
            tiles += result.tiles
            dets.extend(result.detections)
    finally:
        close_readers()
    return FlightRun(
        str(folder),
        frames,
        tuple(errors),
        tuple(dets),
        tuple(mark_range(truth, searched)),
        time.perf_counter() - started,
        fallback,
        tiles,
    )
