"""A whole simulated flight: settings in, a folder of photos (or a video) with metadata and truth out.

The only module here that touches files. Everything it writes is a function of the settings: no clocks, no
absolute paths, no unordered iteration, so the same settings give the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline import geo
from pipeline.errors import SimulationError
from pipeline.metadata.cameras import Camera, camera_for, intrinsics_for, takes_frames
from pipeline.metadata.write import PhotoMeta, with_metadata
from pipeline.simulate.labels import Box, SceneryBox, distractor_boxes, frame_boxes, truth_feature
from pipeline.simulate.plans import Shot, corridor_plan, mapping_plan
from pipeline.simulate.render import ground_bbox, local_frame, render_frame, world_homography
from pipeline.simulate.texture import TextureSource, make_lighting
from pipeline.simulate.video import SrtRecord, srt_text, write_mp4
from pipeline.simulate.world import CLASSES, WorldObject, make_world
from pipeline.types import ImageMeta, Intrinsics, Pose

DONGGUAN = (22.98, 113.74)
LOCAL_TZ = timezone(timedelta(hours=8))
PHOTO_SIZE = (4000, 3000)
VIDEO_SIZE = (1280, 720)
NADIR_PLAN_BELOW_DEG = -80.0  # steeper than this, the default plan is a mapping survey


@dataclass(frozen=True)
class FlightSettings:
    """Everything a simulated flight depends on. `None` means "the default for this mode" where noted."""

    seed: int = 0
    world_seed: int | None = None  # None: the flight seed
    night: int = 0
    frames: int = 12  # photos, or video frames with `video`
    altitude_m: float = 100.0  # above the take-off point (= the ground plane)
    pitch_deg: float = -90.0
    heading_deg: float = 0.0
    width_px: int | None = None  # None: 4000 x 3000 photos, 1280 x 720 video
    height_px: int | None = None
    gps_noise_m: float = 0.0  # sigma per horizontal axis of the error added to the written position
    lat: float = DONGGUAN[0]
    lon: float = DONGGUAN[1]
    video: bool = False
    plan: str | None = None  # "mapping" | "corridor"; None: mapping below -80 degrees pitch, else corridor
    speed_m_s: float = 8.0
    overlap: tuple[float, float] = (0.7, 0.6)  # a mapping plan's forward and side overlap between footprints
    camera_model: str = "M3E"
    video_fps: float = 5.0
    jpeg_quality: int = 90
    ground_elevation_m: float = 18.0  # the take-off point above sea level

    @property
    def resolved_world_seed(self) -> int:
        return self.seed if self.world_seed is None else self.world_seed

    @property
    def size(self) -> tuple[int, int]:
        w, h = VIDEO_SIZE if self.video else PHOTO_SIZE
        return (self.width_px or w, self.height_px or h)

    @property
    def resolved_plan(self) -> str:
        if self.plan is not None:
            return self.plan
        return "mapping" if self.pitch_deg < NADIR_PLAN_BELOW_DEG and not self.video else "corridor"


def check_settings(s: FlightSettings) -> Camera:
    """The camera the settings name; SimulationError for anything a flight cannot be built from."""
    problems = []
    if not 1 <= s.frames <= 5000:
        problems.append(f"frames must be 1..5000, not {s.frames}")
    if not 5.0 <= s.altitude_m <= 1500.0:
        problems.append(f"altitude must be 5..1500 m, not {s.altitude_m:g}")
    if not -90.0 <= s.pitch_deg <= -5.0:
        problems.append(
            f"pitch must be -90..-5 degrees (the camera must see the ground), not {s.pitch_deg:g}"
        )
    w, h = s.size
    if not (64 <= w <= 12000 and 64 <= h <= 12000):
        problems.append(f"image size must be 64..12000 px a side, not {w}x{h}")
    if s.night < 0:
        problems.append(f"night must be 0 or more, not {s.night}")
    if s.gps_noise_m < 0:
        problems.append(f"GPS noise must be 0 or more, not {s.gps_noise_m:g}")
    if not (-85.0 <= s.lat <= 85.0 and -180.0 <= s.lon <= 180.0):
        problems.append(f"position {s.lat:g}, {s.lon:g} is not a usable latitude/longitude")
    if s.resolved_plan not in ("mapping", "corridor"):
        problems.append(f"plan must be 'mapping' or 'corridor', not {s.plan!r}")
    if s.speed_m_s <= 0 or s.video_fps <= 0:
        problems.append("speed and frame rate must be positive")
    if not all(0.0 <= o <= 0.95 for o in s.overlap):
        problems.append(f"overlap must be 0..0.95 forward and side, not {s.overlap[0]:g}, {s.overlap[1]:g}")
    camera = camera_for(s.camera_model)
    if camera is None:
        problems.append(f"camera model {s.camera_model!r} is not in the sensor table")
    if problems or camera is None:
        raise SimulationError("; ".join(problems))
    return camera


def intrinsics_of(camera: Camera, size: tuple[int, int]) -> Intrinsics:
    """The ideal pinhole of `camera` at this image size (its full sensor width spans the image width)."""
    w, h = size
    return Intrinsics(
        w,
        h,
        camera.focal_mm * w / camera.sensor_width_mm,
        w / 2.0,
        h / 2.0,
        "sensor_table",
        camera.sensor_width_mm,
    )


def video_intrinsics(camera: Camera, size: tuple[int, int]) -> Intrinsics:
    """The pinhole a reader derives from what the SRT says (only the 35 mm equivalent): render with that,
    so that the telemetry describes the video exactly."""
    w, h = size
    return intrinsics_for(ImageMeta(path="<video>", width=w, height=h, focal_35mm=focal_35mm(camera)))


def focal_35mm(camera: Camera) -> int:
    """35 mm equivalent by diagonals, truncated as DJI writes it (M3E: 24.57 -> 24)."""
    return int(camera.focal_mm * 43.27 / math.hypot(camera.sensor_width_mm, camera.sensor_height_mm))


def _shots(s: FlightSettings, intr: Intrinsics) -> list[Shot]:
    rng = np.random.default_rng([s.seed, 31])
    # Flights over one world start near its origin, so flights with different seeds still overlap.
    centre = (float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50)))
    gsd = s.altitude_m / intr.focal_px
    if s.video:
        step = s.speed_m_s / s.video_fps
        return corridor_plan(
            s.frames, centre, s.altitude_m, s.heading_deg, s.pitch_deg, step, s.speed_m_s, s.seed
        )
    if s.resolved_plan == "mapping":
        footprint = (intr.width_px * gsd, intr.height_px * gsd)
        return mapping_plan(
            s.frames, centre, s.altitude_m, s.heading_deg, footprint, s.speed_m_s, s.seed, s.overlap
        )
    spacing = max(0.25 * s.altitude_m, 5.0)
    return corridor_plan(
        s.frames, centre, s.altitude_m, s.heading_deg, s.pitch_deg, spacing, s.speed_m_s, s.seed
    )


@dataclass(frozen=True)
class _Frame:
    shot: Shot
    pose: Pose  # true
    homography: np.ndarray  # world east/north -> pixel
    image: np.ndarray
    boxes: list[Box]
    seen: list[str]
    distractors: list[SceneryBox]


class _Flight:
    """The state one flight shares across its frames: world, texture cache, camera, noise."""

    def __init__(self, s: FlightSettings) -> None:
        self.s = s
        self.camera = check_settings(s)
        self.intr = video_intrinsics(self.camera, s.size) if s.video else intrinsics_of(self.camera, s.size)
        self.world = make_world(s.resolved_world_seed, s.lat, s.lon)
        self.lighting = make_lighting(s.seed)
        base_res = max(s.altitude_m / self.intr.focal_px, 0.005)
        self.src = TextureSource(self.world, s.night, self.lighting, base_res)
        self.shots = _shots(s, self.intr)
        rng = np.random.default_rng([s.seed, 41])
        self.baro_bias_m = float(
            rng.uniform(-12.0, 30.0)
        )  # DJI absolute altitude is often tens of metres off
        self.start = datetime(2024, 3, 1, 9, 0, tzinfo=LOCAL_TZ) + timedelta(
            days=(s.seed % 200) + s.night, minutes=int(rng.integers(0, 420))
        )
        self.targets: dict[str, WorldObject] = {}

    def frame(self, k: int) -> _Frame:
        shot = self.shots[k]
        reach = max(300.0, 6.0 * shot.height_m)
        lat, lon, w2l = local_frame(self.s.lat, self.s.lon, shot.east_m, shot.north_m, reach)
        pose = Pose(lat, lon, shot.height_m, *shot.gimbal.angles())
        image = render_frame(self.src, self.intr, pose, w2l)
        h = world_homography(self.intr, pose, w2l)
        bbox, _ = ground_bbox(h, self.intr, pose, w2l, (0, self.intr.height_px), 1.0)
        objects = self.src.objects(bbox)
        targets = [o for o in objects if o.cls is not None]
        boxes, seen = frame_boxes(h, self.intr.width_px, self.intr.height_px, targets)
        for obj in targets:
            if obj.id in seen:
                self.targets[obj.id] = obj
        distractors = distractor_boxes(h, self.intr.width_px, self.intr.height_px, objects)
        return _Frame(shot, pose, h, image, boxes, seen, distractors)

    def written_position(self, k: int, pose: Pose) -> tuple[float, float]:
        if self.s.gps_noise_m <= 0:
            return pose.lat, pose.lon
        rng = np.random.default_rng([self.s.seed, 42, k])
        de, dn = rng.normal(0.0, self.s.gps_noise_m, 2)
        return geo.offset_latlon(pose.lat, pose.lon, float(de), float(dn))

    def photo_meta(self, k: int, f: _Frame) -> PhotoMeta:
        lat, lon = self.written_position(k, f.pose)
        cam = self.camera
        w, h = self.intr.width_px, self.intr.height_px
        # The optical centre in the pixel grid a reader measures it in: the native sensor's for a frame this
        # camera takes, else (a size it never takes: 5472 x 3648 from a 4:3 M3E) the frame's own, as EXIF's
        # original size says. The native centre there put the rendered centre 154 px off in a 20 MP frame.
        native = takes_frames(cam, w, h)
        centre = (cam.native_width_px / 2.0, cam.native_height_px / 2.0) if native else (w / 2.0, h / 2.0)
        return PhotoMeta(
            make="DJI",
            model=self.s.camera_model,
            width_px=self.intr.width_px,
            height_px=self.intr.height_px,
            captured_at=self.start + timedelta(seconds=math.floor(f.shot.time_s)),
            lat=lat,
            lon=lon,
            abs_alt_m=round(self.s.ground_elevation_m + f.shot.height_m + self.baro_bias_m, 3),
            rel_alt_m=f.shot.height_m,
            gimbal=f.shot.gimbal,
            flight=f.shot.flight,
            focal_mm=cam.focal_mm,
            focal_35mm=focal_35mm(cam),
            # DJI writes this in pixels of the native sensor resolution; the reader rescales it.
            calibrated_focal_px=cam.focal_mm * cam.native_width_px / cam.sensor_width_mm,
            calibrated_cx_px=centre[0],
            calibrated_cy_px=centre[1],
        )


def _frame_record(
    name: str, label: str, f: _Frame, written: tuple[float, float], time_s: float
) -> dict[str, Any]:
    p, sh = f.pose, f.shot
    return {
        "file": name,
        "labels": label,
        "time_s": time_s,
        "true_pose": {
            "lat": round(p.lat, 10),
            "lon": round(p.lon, 10),
            "height_m": p.height_m,
            "yaw_deg": p.yaw_deg,
            "pitch_deg": p.pitch_deg,
            "roll_deg": p.roll_deg,
            "east_m": round(sh.east_m, 4),
            "north_m": round(sh.north_m, 4),
        },
        "flight_attitude": asdict(sh.flight),
        "written_position": {"lat": round(written[0], 10), "lon": round(written[1], 10)},
        "boxes": [
            {"id": b.object_id, "class": b.cls, "xyxy_px": [round(v, 2) for v in b.xyxy_px]} for b in f.boxes
        ],
        # Not targets: look-alikes (pipeline.simulate.labels.DISTRACTOR_KINDS) for hard-negative training.
        "distractors": [
            {"id": d.object_id, "kind": d.kind, "xyxy_px": [round(v, 2) for v in d.xyxy_px]}
            for d in f.distractors
        ],
    }


def _write_labels(path: Path, boxes: list[Box], size: tuple[int, int]) -> None:
    path.write_text("".join(b.yolo_line(*size) + "\n" for b in boxes))


def _photos(fl: _Flight, out: Path) -> list[dict[str, Any]]:
    records = []
    for k in range(len(fl.shots)):
        f = fl.frame(k)
        name, label = f"DJI_{k + 1:04d}.JPG", f"labels/DJI_{k + 1:04d}.txt"
        ok, buf = cv2.imencode(".jpg", f.image, [cv2.IMWRITE_JPEG_QUALITY, fl.s.jpeg_quality])
        if not ok:
            raise SimulationError("JPEG encoding failed", str(out / name))
        meta = fl.photo_meta(k, f)
        (out / name).write_bytes(with_metadata(buf.tobytes(), meta))
        assert meta.lat is not None and meta.lon is not None  # a simulated photo always has its position
        _write_labels(out / label, f.boxes, fl.s.size)
        records.append(_frame_record(name, label, f, (meta.lat, meta.lon), f.shot.time_s))
    return records


def _video(fl: _Flight, out: Path) -> tuple[list[dict[str, Any]], list[str]]:
    records: list[dict[str, Any]] = []
    srt: list[SrtRecord] = []
    frame_ms = 1000.0 / fl.s.video_fps

    def frames() -> Iterator[np.ndarray]:
        for k in range(len(fl.shots)):
            f = fl.frame(k)
            label = f"labels/DJI_0001_{k + 1:06d}.txt"
            _write_labels(out / label, f.boxes, fl.s.size)
            lat, lon = fl.written_position(k, f.pose)
            t0, t1 = round(k * frame_ms), round((k + 1) * frame_ms)
            sh = f.shot
            srt.append(
                SrtRecord(
                    k + 1,
                    t0,
                    t1,
                    fl.start + timedelta(milliseconds=t0),
                    lat,
                    lon,
                    sh.height_m,
                    round(fl.s.ground_elevation_m + sh.height_m + fl.baro_bias_m, 3),
                    sh.gimbal,
                    focal_35mm(fl.camera),
                )
            )
            records.append(_frame_record(f"DJI_0001.MP4#{k + 1}", label, f, (lat, lon), t0 / 1000.0))
            yield f.image

    write_mp4(out / "DJI_0001.MP4", frames(), fl.s.video_fps, fl.s.size)
    (out / "DJI_0001.SRT").write_text(srt_text(srt))
    return records, ["DJI_0001.MP4", "DJI_0001.SRT"]


def simulate_flight(out_dir: str | Path, settings: FlightSettings) -> dict[str, Any]:
    """Simulate one flight into `out_dir` (created; existing files of the same names are overwritten).

    Returns the manifest it also writes as manifest.json.
    """
    fl = _Flight(settings)
    out = Path(out_dir)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    if settings.video:
        records, media = _video(fl, out)
    else:
        records = _photos(fl, out)
        media = [r["file"] for r in records]
    labelled: dict[str, list[str]] = {}
    for r in records:
        for b in r["boxes"]:
            labelled.setdefault(b["id"], []).append(r["file"])
    origin = (settings.lat, settings.lon)
    features = [
        truth_feature(fl.targets[i], origin, settings.night, labelled.get(i, [])) for i in sorted(fl.targets)
    ]
    (out / "truth.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, indent=1)
    )
    (out / "classes.txt").write_text("".join(c + "\n" for c in CLASSES))
    names = "".join(f"  {k}: {c}\n" for k, c in enumerate(CLASSES))
    (out / "data.yaml").write_text(f"path: .\ntrain: .\nval: .\nnames:\n{names}")
    cam = fl.camera
    manifest: dict[str, Any] = {
        "generator": "patrol simulate",
        "settings": asdict(settings),
        "resolved": {
            "world_seed": settings.resolved_world_seed,
            "plan": settings.resolved_plan,
            "width_px": fl.intr.width_px,
            "height_px": fl.intr.height_px,
        },
        "camera": {
            "model": settings.camera_model,
            "name": cam.name,
            "sensor_width_mm": cam.sensor_width_mm,
            "sensor_height_mm": cam.sensor_height_mm,
            "focal_mm": cam.focal_mm,
            "focal_px": fl.intr.focal_px,
            "cx_px": fl.intr.cx_px,
            "cy_px": fl.intr.cy_px,
        },
        "lighting": asdict(fl.lighting),
        "baro_bias_m": round(fl.baro_bias_m, 3),
        "classes": list(CLASSES),
        "media": media,
        "frames": records,
        "truth": "truth.geojson",
        "targets": len(features),
    }
    text = json.dumps(manifest, indent=1)
    (out / "manifest.json").write_text(text)
    # Handed back as JSON would read it (lists, not tuples), so callers see exactly what the file says.
    loaded: dict[str, Any] = json.loads(text)
    return loaded
