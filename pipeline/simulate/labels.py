"""Ground truth: target footprints projected into each frame (YOLO boxes) and listed on the map (GeoJSON)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline import geo
from pipeline.simulate.world import CLASSES, WorldObject, polygon_area, polygon_centroid

# A box is labelled when at least this share of the footprint's projected area is inside the frame (a sliver
# at the edge is not a fair thing to ask a detector to find) and it is at least this many pixels across.
MIN_VISIBLE_SHARE = 0.25
MIN_BOX_PX = 4.0
_EPS_W = 1e-6
# Look-alike scenery that only some blocks have, listed per frame (never labelled) so that training can show
# the model more of it as hard negatives: courts, pools, canopies, tarps, stacks, factory roofs and cars drew
# many of the first model's false detections, groups of people a later one's on real frames. (Buildings and
# walls drew as many, but nearly every tile shows them anyway.)
DISTRACTOR_KINDS = frozenset(
    {"factory", "car", "tarp_truck", "sports_court", "pool", "market_stalls", "stacked_materials", "people"}
)


@dataclass(frozen=True)
class Box:
    object_id: str
    cls: str
    xyxy_px: tuple[float, float, float, float]
    visible_share: float

    def yolo_line(self, width: int, height: int) -> str:
        x0, y0, x1, y1 = self.xyxy_px
        return (
            f"{CLASSES.index(self.cls)} {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
            f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}"
        )


def _clip(poly: np.ndarray, inside: Any, cross: Any) -> np.ndarray:
    """Sutherland-Hodgman against one half-plane: `inside(p)` tests, `cross(a, b)` intersects an edge."""
    if len(poly) == 0:
        return poly
    out: list[np.ndarray] = []
    for k in range(len(poly)):
        a, b = poly[k - 1], poly[k]
        ina, inb = inside(a), inside(b)
        if inb:
            if not ina:
                out.append(cross(a, b))
            out.append(b)
        elif ina:
            out.append(cross(a, b))
    return np.array(out).reshape(-1, poly.shape[1])


def project_polygon(h: np.ndarray, poly_en: np.ndarray) -> np.ndarray:
    """World polygon -> pixel polygon, keeping only the part in front of the camera."""
    hom = np.column_stack([poly_en, np.ones(len(poly_en))]) @ h.T

    def inside(p: np.ndarray) -> bool:
        return bool(p[2] > _EPS_W)

    def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        t = (_EPS_W - a[2]) / (b[2] - a[2])
        out: np.ndarray = a + (b - a) * t
        return out

    ahead = _clip(hom, inside, cross)
    if len(ahead) < 3:
        return np.zeros((0, 2))
    out: np.ndarray = ahead[:, :2] / ahead[:, 2:3]
    return out


def clip_to_image(poly_px: np.ndarray, width: int, height: int) -> np.ndarray:
    poly = poly_px
    for axis, limit, keep_below in (
        (0, 0.0, False),
        (0, float(width), True),
        (1, 0.0, False),
        (1, float(height), True),
    ):

        def inside(p: np.ndarray, axis: int = axis, limit: float = limit, below: bool = keep_below) -> bool:
            return bool(p[axis] <= limit) if below else bool(p[axis] >= limit)

        def cross(a: np.ndarray, b: np.ndarray, axis: int = axis, limit: float = limit) -> np.ndarray:
            t = (limit - a[axis]) / (b[axis] - a[axis])
            out: np.ndarray = a + (b - a) * t
            return out

        poly = _clip(poly, inside, cross)
    return poly


def frame_boxes(
    h: np.ndarray, width: int, height: int, targets: Sequence[WorldObject]
) -> tuple[list[Box], list[str]]:
    """YOLO-worthy boxes of the targets a frame with world->pixel homography `h` sees, and the ids of every
    target with any part in the frame (labelled or not)."""
    boxes, seen_ids = [], []
    for obj in targets:
        assert obj.cls is not None
        full = project_polygon(h, obj.footprint)
        if len(full) < 3:
            continue
        seen = clip_to_image(full, width, height)
        if len(seen) < 3 or polygon_area(seen) <= 0.0:
            continue
        seen_ids.append(obj.id)
        share = polygon_area(seen) / max(polygon_area(full), 1e-9)
        x0, y0 = seen.min(axis=0)
        x1, y1 = seen.max(axis=0)
        if share < MIN_VISIBLE_SHARE or x1 - x0 < MIN_BOX_PX or y1 - y0 < MIN_BOX_PX:
            continue
        boxes.append(Box(obj.id, obj.cls, (float(x0), float(y0), float(x1), float(y1)), round(share, 4)))
    return boxes, seen_ids


@dataclass(frozen=True)
class SceneryBox:
    object_id: str
    kind: str
    xyxy_px: tuple[float, float, float, float]


def distractor_boxes(
    h: np.ndarray, width: int, height: int, objects: Sequence[WorldObject]
) -> list[SceneryBox]:
    """Pixel boxes of the distractors (DISTRACTOR_KINDS) a frame shows, clipped to the frame."""
    out = []
    for obj in objects:
        if obj.cls is not None or obj.kind not in DISTRACTOR_KINDS:
            continue
        seen = clip_to_image(project_polygon(h, obj.footprint), width, height)
        if len(seen) < 3 or polygon_area(seen) <= 0.0:
            continue
        x0, y0 = seen.min(axis=0)
        x1, y1 = seen.max(axis=0)
        if x1 - x0 >= MIN_BOX_PX and y1 - y0 >= MIN_BOX_PX:
            out.append(SceneryBox(obj.id, obj.kind, (float(x0), float(y0), float(x1), float(y1))))
    return out


def truth_feature(
    obj: WorldObject, origin: tuple[float, float], night: int, frames: Sequence[str]
) -> dict[str, Any]:
    """A GeoJSON Feature: footprint polygon in WGS84 [lon, lat], closed; centroid and life in properties."""
    assert obj.cls is not None
    latlon = geo.offsets_latlon(origin[0], origin[1], obj.footprint)
    ring = [[round(float(lon), 9), round(float(lat), 9)] for lat, lon in latlon]
    ring.append(ring[0])
    ce, cn = polygon_centroid(obj.footprint)
    c_lat, c_lon = geo.offset_latlon(origin[0], origin[1], ce, cn)
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "id": obj.id,
            "class": obj.cls,
            "kind": obj.kind,
            "centroid_lat": round(c_lat, 9),
            "centroid_lon": round(c_lon, 9),
            "area_m2": round(polygon_area(obj.footprint), 2),
            "night": night,
            "born_night": obj.born_night,
            "frames": list(frames),
        },
    }
