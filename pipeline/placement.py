"""Pixel detections placed on the ground: the step after detection. Pure.

Detection (pipeline.detect) finds boxes in pixels; this step gives each a ground position through the
frame's camera (pipeline.geo), and keeps what placing knows: the distance from the point below the camera,
the ground one pixel covers there, the box's ground size and footprint, and the position error
(pipeline.position_error). A frame whose camera is not posed (`Unposed`, which says why) keeps its boxes in
pixels only: counted as detections, never placed.

Where a detection is on the ground: the box's ground anchor, `anchor_px`. Seen straight down, the box centre
is the object's centre. Seen obliquely, a standing object (a shed, a wall-side shack) leans away from the
camera in the image: the box runs from its base nearest the camera (the bottom edge) to the far edge of its
roof (the top edge), and the roof is displaced beyond the base by its height. Then the centre lands behind
the object, while the bottom edge lands on its near edge. The anchor slides from the centre at nadir to a
quarter of the box height above the bottom at 45 degrees of tilt and beyond: inside the footprint of a flat
object (its near half) and cancelling most of the relief displacement of a standing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline import geo, position_error
from pipeline.errors import GeoreferenceError
from pipeline.types import Camera, CameraView, Detection, PixelDetection


@dataclass(frozen=True)
class Placement:
    """Detections after placing: those kept, and how many boxes were dropped as beyond range or above the
    horizon (a posed camera only; an unposed one keeps every box, unplaced)."""

    detections: tuple[Detection, ...]
    dropped: int = 0


def anchor_px(xyxy: Sequence[float], pitch_deg: float) -> tuple[float, float]:
    """The pixel of a box that stands for the object's ground position (module docstring)."""
    x0, y0, x1, y1 = xyxy
    tilt = min(max(90.0 + pitch_deg, 0.0), 45.0)  # degrees away from straight down
    below_centre = 0.25 * tilt / 45.0
    return (x0 + x1) / 2.0, y0 + (y1 - y0) * (0.5 + below_centre)


def place(found: Sequence[PixelDetection], camera: Camera, max_distance_m: float) -> Placement:
    """Each pixel detection on the ground through `camera`; boxes whose anchor lands beyond `max_distance_m`
    from the point below the camera, or never (at or above the horizon), are dropped and counted."""
    if not isinstance(camera, CameraView):
        return Placement(tuple(_unplaced(d) for d in found))
    view = camera
    anchors = np.array([anchor_px(d.xyxy_px, view.pose.pitch_deg) for d in found]).reshape(-1, 2)
    en = geo.ground_offsets(view.intrinsics, view.pose, anchors)
    dist = np.hypot(en[:, 0], en[:, 1])
    latlon = geo.offsets_latlon(view.pose.lat, view.pose.lon, en)
    gsd = geo.local_gsd_m(view.intrinsics, view.pose, anchors)
    gnss = position_error.gnss_sigma_m(view.pose.gnss_sigma_m)
    out, dropped = [], 0
    for k, d in enumerate(found):
        if not np.isfinite(dist[k]) or dist[k] > max_distance_m:
            dropped += 1
            continue
        size = _ground_size_m(view, d.xyxy_px)
        try:
            footprint = tuple(geo.ground_polygon(view, d.xyxy_px, max_distance_m=max_distance_m, per_side=1))
        except GeoreferenceError:
            footprint = ()
        out.append(
            Detection(
                path=d.path,
                class_name=d.class_name,
                score=d.score,
                xyxy_px=d.xyxy_px,
                lat=float(latlon[k, 0]),
                lon=float(latlon[k, 1]),
                ground_distance_m=float(dist[k]),
                size_m=size,
                footprint=footprint,
                position_error_m=position_error.sighting_error_m(
                    view.pose.height_m, float(dist[k]), gnss, size
                ),
                local_gsd_m=float(gsd[k]) if np.isfinite(gsd[k]) else None,
            )
        )
    return Placement(tuple(out), dropped)


def _ground_size_m(view: CameraView, xyxy_px: tuple[float, float, float, float]) -> float | None:
    """The largest distance between the box corners on the ground; None when one has no ground point."""
    x0, y0, x1, y1 = xyxy_px
    corners = geo.ground_offsets(
        view.intrinsics, view.pose, np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    )
    if not np.isfinite(corners).all():
        return None
    return float(np.max(np.hypot(*(corners[:, None, :] - corners[None, :, :]).transpose(2, 0, 1))))


def _unplaced(d: PixelDetection) -> Detection:
    return Detection(d.path, d.class_name, d.score, d.xyxy_px, size_m=d.size_m, assumed_gsd_m=d.assumed_gsd_m)
