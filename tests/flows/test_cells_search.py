"""`patrol process --search cells` under Prefect (issue 15): a mapping flight searched each ground cell once,
with re-checks, gives the cases full search gives, from fewer tiles, and records only what it searched.

The flight: the sample nadir mapping survey's eight cameras (their real EXIF/XMP), each frame's pixels
replaced by plain ground with known objects painted where each camera sees them (pure colours, one per
class), found by a detector that reports pure-colour blobs: the expected cases are the painted objects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from flow_helpers import make_job
from sqlalchemy import select

from flows.process_flight import run_process
from pipeline import geo
from pipeline.detect.detector import camera_for
from pipeline.metadata import read_image_meta

SAMPLE = Path(__file__).resolve().parents[2] / "sample_flights" / "nadir_mapping"
COLOURS = ((255, 0, 255), (255, 255, 0))  # BGR magenta, cyan: the two classes
# (class, east, north, side metres) from the first frame's camera: spread over the survey, some under one
# frame only, some where several overlap.
OBJECTS = (
    (0, 0.0, 0.0, 8.0),
    (1, 25.0, 10.0, 4.0),
    (0, -40.0, 60.0, 10.0),
    (1, 60.0, 45.0, 3.0),
    (0, 20.0, 95.0, 6.0),
    (1, -20.0, -25.0, 5.0),
)


@dataclass
class ColourBlobs:
    classes: tuple[str, ...] = ("illegal_construction", "garbage_pile")
    imgsz: int = 320
    gsd_m: float = 0.1
    min_score: tuple[float, ...] = ()
    version: str = "colour-blobs-1"
    tiles: int = 0

    def __call__(self, tiles: np.ndarray, conf: float, iou: float) -> list[np.ndarray]:
        self.tiles += len(tiles)
        out = []
        for tile in tiles:
            rows = []
            for k, colour in enumerate(COLOURS):
                near = np.abs(tile.astype(np.int16) - np.array(colour, dtype=np.int16)).max(axis=2) < 60
                _, _, stats, _ = cv2.connectedComponentsWithStats(near.astype(np.uint8), connectivity=4)
                rows += [[x, y, x + w, y + h, 0.9, k] for x, y, w, h, area in stats[1:] if area >= 4]
            out.append(np.array(rows, dtype=np.float32).reshape(-1, 6))
        return out


EVERY_DET, CELLS_DET = ColourBlobs(), ColourBlobs()


def every_detector() -> ColourBlobs:
    return EVERY_DET


def cells_detector() -> ColourBlobs:
    return CELLS_DET


def painted_flight(dest: Path) -> tuple[tuple[float, float], list[Path]]:
    """The sample survey's frames, plain ground with OBJECTS painted; (origin lat/lon, the files)."""
    dest.mkdir(parents=True)
    files = sorted(SAMPLE.glob("DJI_*.JPG"))
    origin = None
    out = []
    for src in files:
        view, _, why = camera_for(read_image_meta(src))
        assert view is not None, why
        if origin is None:
            origin = (view.pose.lat, view.pose.lon)
        w, h = view.intrinsics.width_px, view.intrinsics.height_px
        img = np.full((h, w, 3), (90, 120, 100), dtype=np.uint8)
        ce, cn = geo.latlon_offset(*origin, view.pose.lat, view.pose.lon)
        for cls, e, n, side in OBJECTS:
            corners = [(e + dx * side / 2 - ce, n + dy * side / 2 - cn, 0.0) for dx, dy in _SQUARE]
            px = geo.project_enu_to_pixels(view.intrinsics, view.pose, np.array(corners))
            cv2.fillConvexPoly(img, np.round(px).astype(np.int32), COLOURS[cls])
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        target = dest / src.name
        target.write_bytes(_with_apps_of(src.read_bytes(), buf.tobytes()))
        out.append(target)
    assert origin is not None
    return origin, out


_SQUARE = ((-1, -1), (1, -1), (1, 1), (-1, 1))


def _with_apps_of(original: bytes, pixels: bytes) -> bytes:
    """`pixels` (a JPEG) with `original`'s APP segments (its EXIF and XMP) in place of its own."""

    def split(jpeg: bytes) -> tuple[bytes, bytes]:
        pos = 2
        while jpeg[pos] == 0xFF and 0xE0 <= jpeg[pos + 1] <= 0xEF:
            pos += 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        return jpeg[2:pos], jpeg[pos:]

    apps, _ = split(original)
    _, rest = split(pixels)
    return b"\xff\xd8" + apps + rest


def cases(db_url: str) -> list[tuple[str, float, float]]:
    from pipeline.cases.db import make_engine
    from pipeline.cases.models import Case

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [
                (c, lat, lon) for c, lat, lon in conn.execute(select(Case.class_name, Case.lat, Case.lon))
            ]
    finally:
        engine.dispose()


def footprints(db_url: str) -> dict[str, list[tuple[float, float]]]:
    from pipeline.cases.db import make_engine
    from pipeline.cases.models import Frame

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Frame.path, Frame.footprint))
            return {p: [(a, b) for a, b in fp] for p, fp in rows if fp}
    finally:
        engine.dispose()


def test_a_mapping_flight_searched_each_cell_once_gives_the_same_cases_from_fewer_tiles(
    tmp_path: Path,
) -> None:
    origin, _ = painted_flight(tmp_path / "flight")
    every = make_job(tmp_path / "every", detector=every_detector)
    cells = make_job(tmp_path / "cells", detector=cells_detector, search="cells")
    a = run_process([str(tmp_path / "flight")], every)
    b = run_process([str(tmp_path / "flight")], cells)
    assert a["errors"] == [] and b["errors"] == [] and b["frames_failed"] == 0
    assert b["flights"][0]["complete"] and b["frames_not_searched"] == 0
    assert 0 < CELLS_DET.tiles < EVERY_DET.tiles
    names = ColourBlobs().classes
    for db in (every.db_url, cells.db_url):
        found = sorted(cases(db))
        assert len(found) == len(OBJECTS), found
        for cls, e, n, _ in OBJECTS:  # each painted object is one case, where it was painted
            lat, lon = geo.offset_latlon(*origin, e, n)
            near = [
                d for c, a_, o_ in found if c == names[cls] and (d := geo.distance_m(lat, lon, a_, o_)) < 1.5
            ]
            assert len(near) == 1, (cls, e, n, found)
    # What a frame is recorded as having searched is what it searched (its own rectangle first), not its
    # whole footprint.
    whole, part = footprints(every.db_url), footprints(cells.db_url)
    assert part and all(
        geo.polygon_area_m2(fp) <= 1.0001 * geo.polygon_area_m2(whole[p]) for p, fp in part.items()
    )
    share = math.fsum(geo.polygon_area_m2(fp) for fp in part.values()) / math.fsum(
        geo.polygon_area_m2(fp) for fp in whole.values()
    )
    assert share < 0.7, share
    # Run again: every frame's record is reused, nothing is added.
    again = run_process([str(tmp_path / "flight")], cells)
    assert (again["cases_new"], again["cases_updated"]) == (0, 0)
    assert all(f["frames_reused"] == f["frames"] for f in again["flights"])
